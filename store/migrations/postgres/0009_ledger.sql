-- The credit ledger (README "Credit ledger"). Amounts are BIGINT minor
-- units of the line's currency: every credit is already rounded to its
-- minor unit, and the same integer sums are exact on both engines. States
-- are not stored: they are derived from the clock at read from the
-- recorded transition times below.
CREATE TABLE credit_lines (
    customer_id       TEXT COLLATE "C" NOT NULL,
    service           TEXT COLLATE "C" NOT NULL,
    period            TEXT COLLATE "C" NOT NULL,
    currency_code     TEXT        NOT NULL,
    amount_minor      BIGINT      NOT NULL,
    period_start      TIMESTAMPTZ NOT NULL,
    period_end        TIMESTAMPTZ NOT NULL,
    time_zone         TEXT        NOT NULL,
    billing_period    INTEGER     NOT NULL,
    claim_mode        INTEGER     NOT NULL,
    deadline_days     INTEGER     NOT NULL,
    deadline_periods  INTEGER     NOT NULL,
    claim_deadline    TIMESTAMPTZ,
    incidents         TEXT        NOT NULL,
    claim_time        TIMESTAMPTZ,
    claim_reference   TEXT        NOT NULL DEFAULT '',
    claimed_by        TEXT        NOT NULL DEFAULT '',
    approve_time      TIMESTAMPTZ,
    approved_by       TEXT        NOT NULL DEFAULT '',
    reject_time       TIMESTAMPTZ,
    rejected_by       TEXT        NOT NULL DEFAULT '',
    reject_reason     TEXT        NOT NULL DEFAULT '',
    issue_time        TIMESTAMPTZ,
    issued_by         TEXT        NOT NULL DEFAULT '',
    issued_minor      BIGINT,
    billing_reference TEXT        NOT NULL DEFAULT '',
    booked_minor      BIGINT      NOT NULL,
    accrued           INTEGER     NOT NULL,
    revision          BIGINT      NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    update_time       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (customer_id, service, period)
);

-- Lines whose claim deadline passed with a booking still to release.
CREATE INDEX credit_lines_deadline ON credit_lines (claim_deadline);

CREATE TABLE ledger_entries (
    id                BIGSERIAL   PRIMARY KEY,
    customer_id       TEXT COLLATE "C" NOT NULL,
    service           TEXT COLLATE "C" NOT NULL,
    period            TEXT COLLATE "C" NOT NULL,
    accounting_period TEXT COLLATE "C" NOT NULL,
    kind              INTEGER     NOT NULL,
    currency_code     TEXT        NOT NULL,
    delta_minor       BIGINT      NOT NULL,
    entry_time        TIMESTAMPTZ NOT NULL
);
CREATE INDEX ledger_entries_line ON ledger_entries (customer_id, service, period, id);
CREATE INDEX ledger_entries_period ON ledger_entries (accounting_period);

-- Closed accounting months; every month up to the latest is closed.
CREATE TABLE ledger_periods (
    period     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    close_time TIMESTAMPTZ NOT NULL,
    closed_by  TEXT        NOT NULL
);
