-- SQLite schema. Money and every other decimal are TEXT: a NUMERIC column
-- would turn long decimals into floats. Instants are INTEGER unix
-- microseconds, UTC. Lists inside a resource are a JSON document (TEXT).

CREATE TABLE customers (
    id                TEXT    NOT NULL PRIMARY KEY,
    display_name      TEXT    NOT NULL,
    currency_code     TEXT    NOT NULL,
    time_zone         TEXT    NOT NULL,
    hourly_amount     TEXT,
    recapture_rate    TEXT,
    lifetime_value    TEXT,
    churn_probability TEXT,
    baseline          TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL
);

CREATE TABLE contracts (
    customer_id       TEXT    NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    service           TEXT    NOT NULL,
    monthly_fee       TEXT,
    min_credit_amount TEXT,
    billing_period    INTEGER NOT NULL,
    time_zone         TEXT    NOT NULL,
    terms             TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    PRIMARY KEY (customer_id, service)
);

CREATE TABLE incidents (
    id                TEXT    NOT NULL PRIMARY KEY,
    title             TEXT    NOT NULL,
    cause             INTEGER NOT NULL,
    recovery_currency TEXT    NOT NULL,
    allocation        INTEGER NOT NULL,
    recovery_items    TEXT    NOT NULL,
    revision          INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL
);

-- No FK to contracts: a window for a service without a contract is valid.
CREATE TABLE windows (
    incident_id     TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    id              TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL REFERENCES customers (id),
    service         TEXT    NOT NULL,
    start_time      INTEGER NOT NULL,
    end_time        INTEGER NOT NULL,
    impact_fraction TEXT,
    create_time     INTEGER NOT NULL,
    PRIMARY KEY (incident_id, id)
) WITHOUT ROWID;

-- ListWindows filtered by customer and AffectedCustomers.
CREATE INDEX windows_incident_customer ON windows (incident_id, customer_id, id);
-- WindowsInRanges and the "customer still has windows" check.
CREATE INDEX windows_customer_start ON windows (customer_id, start_time);

CREATE TABLE incident_estimates (
    incident_id   TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    revision      INTEGER NOT NULL,
    model_version TEXT    NOT NULL,
    inputs_digest TEXT    NOT NULL,
    compute_time  INTEGER NOT NULL,
    body          TEXT    NOT NULL,
    PRIMARY KEY (incident_id, revision)
);

CREATE TABLE sla_statements (
    customer_id  TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    period       TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    revision     INTEGER NOT NULL,
    compute_time INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    PRIMARY KEY (customer_id, service, period),
    FOREIGN KEY (customer_id, service) REFERENCES contracts (customer_id, service) ON DELETE CASCADE
);

-- request_id idempotency: the first result of a Create, by method.
CREATE TABLE request_ids (
    method      TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    result      TEXT    NOT NULL,
    create_time INTEGER NOT NULL,
    PRIMARY KEY (method, request_id)
);

CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    resource TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    time     INTEGER NOT NULL
);
