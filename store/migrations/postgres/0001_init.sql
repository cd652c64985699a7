-- PostgreSQL schema. Money and every other decimal are NUMERIC (read back
-- with ::text, which keeps the stored scale: "1234.50" stays "1234.50").
-- Instants are TIMESTAMPTZ (UTC, microseconds). Ids are COLLATE "C" so that
-- keyset order is byte order, as in SQLite and in the engine (model.md §9).

CREATE TABLE customers (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    display_name      TEXT        NOT NULL,
    currency_code     TEXT        NOT NULL,
    time_zone         TEXT        NOT NULL,
    hourly_amount     NUMERIC,
    recapture_rate    NUMERIC,
    lifetime_value    NUMERIC,
    churn_probability NUMERIC,
    baseline          JSONB       NOT NULL,
    revision          BIGINT      NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL
);

CREATE TABLE contracts (
    customer_id       TEXT COLLATE "C" NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    service           TEXT COLLATE "C" NOT NULL,
    monthly_fee       NUMERIC,
    min_credit_amount NUMERIC,
    billing_period    INTEGER     NOT NULL,
    time_zone         TEXT        NOT NULL,
    terms             JSONB       NOT NULL,
    revision          BIGINT      NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, service)
);

CREATE TABLE incidents (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    title             TEXT        NOT NULL,
    cause             INTEGER     NOT NULL,
    recovery_currency TEXT        NOT NULL,
    allocation        INTEGER     NOT NULL,
    recovery_items    JSONB       NOT NULL,
    revision          BIGINT      NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL
);

-- No FK to contracts: a window for a service without a contract is valid.
CREATE TABLE windows (
    incident_id     TEXT COLLATE "C" NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    id              TEXT COLLATE "C" NOT NULL,
    customer_id     TEXT COLLATE "C" NOT NULL REFERENCES customers (id),
    service         TEXT COLLATE "C" NOT NULL,
    start_time      TIMESTAMPTZ NOT NULL,
    end_time        TIMESTAMPTZ NOT NULL,
    impact_fraction NUMERIC,
    create_time     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (incident_id, id)
);

CREATE INDEX windows_incident_customer ON windows (incident_id, customer_id, id);
CREATE INDEX windows_customer_start ON windows (customer_id, start_time);

CREATE TABLE incident_estimates (
    incident_id   TEXT COLLATE "C" NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    revision      BIGINT      NOT NULL,
    model_version TEXT        NOT NULL,
    inputs_digest TEXT        NOT NULL,
    compute_time  TIMESTAMPTZ NOT NULL,
    body          JSONB       NOT NULL,
    PRIMARY KEY (incident_id, revision)
);

CREATE TABLE sla_statements (
    customer_id  TEXT COLLATE "C" NOT NULL,
    service      TEXT COLLATE "C" NOT NULL,
    period       TEXT COLLATE "C" NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    revision     BIGINT      NOT NULL,
    compute_time TIMESTAMPTZ NOT NULL,
    body         JSONB       NOT NULL,
    PRIMARY KEY (customer_id, service, period),
    FOREIGN KEY (customer_id, service) REFERENCES contracts (customer_id, service) ON DELETE CASCADE
);

CREATE TABLE request_ids (
    method      TEXT        NOT NULL,
    request_id  TEXT        NOT NULL,
    result      TEXT        NOT NULL,
    create_time TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (method, request_id)
);

CREATE TABLE audit_log (
    id       BIGSERIAL   PRIMARY KEY,
    actor    TEXT        NOT NULL,
    action   TEXT        NOT NULL,
    resource TEXT        NOT NULL,
    detail   TEXT        NOT NULL,
    time     TIMESTAMPTZ NOT NULL
);
