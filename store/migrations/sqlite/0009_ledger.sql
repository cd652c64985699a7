-- The credit ledger (README "Credit ledger"). Amounts are INTEGER minor
-- units of the line's currency: every credit is already rounded to its
-- minor unit, and integer sums are exact in SQL (a TEXT decimal would be
-- summed as a float). States are not stored: they are derived from the
-- clock at read from the recorded transition times below.
CREATE TABLE credit_lines (
    customer_id       TEXT    NOT NULL,
    service           TEXT    NOT NULL,
    period            TEXT    NOT NULL,
    currency_code     TEXT    NOT NULL,
    amount_minor      INTEGER NOT NULL,
    period_start      INTEGER NOT NULL,
    period_end        INTEGER NOT NULL,
    time_zone         TEXT    NOT NULL,
    billing_period    INTEGER NOT NULL,
    claim_mode        INTEGER NOT NULL,
    deadline_days     INTEGER NOT NULL,
    deadline_periods  INTEGER NOT NULL,
    claim_deadline    INTEGER,
    incidents         TEXT    NOT NULL,
    claim_time        INTEGER,
    claim_reference   TEXT    NOT NULL DEFAULT '',
    claimed_by        TEXT    NOT NULL DEFAULT '',
    approve_time      INTEGER,
    approved_by       TEXT    NOT NULL DEFAULT '',
    reject_time       INTEGER,
    rejected_by       TEXT    NOT NULL DEFAULT '',
    reject_reason     TEXT    NOT NULL DEFAULT '',
    issue_time        INTEGER,
    issued_by         TEXT    NOT NULL DEFAULT '',
    issued_minor      INTEGER,
    billing_reference TEXT    NOT NULL DEFAULT '',
    booked_minor      INTEGER NOT NULL,
    accrued           INTEGER NOT NULL,
    revision          INTEGER NOT NULL,
    create_time       INTEGER NOT NULL,
    update_time       INTEGER NOT NULL,
    PRIMARY KEY (customer_id, service, period)
) WITHOUT ROWID;

-- Lines whose claim deadline passed with a booking still to release.
CREATE INDEX credit_lines_deadline ON credit_lines (claim_deadline);

CREATE TABLE ledger_entries (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    customer_id       TEXT    NOT NULL,
    service           TEXT    NOT NULL,
    period            TEXT    NOT NULL,
    accounting_period TEXT    NOT NULL,
    kind              INTEGER NOT NULL,
    currency_code     TEXT    NOT NULL,
    delta_minor       INTEGER NOT NULL,
    entry_time        INTEGER NOT NULL
);
CREATE INDEX ledger_entries_line ON ledger_entries (customer_id, service, period, id);
CREATE INDEX ledger_entries_period ON ledger_entries (accounting_period);

-- Closed accounting months; every month up to the latest is closed.
CREATE TABLE ledger_periods (
    period     TEXT    NOT NULL PRIMARY KEY,
    close_time INTEGER NOT NULL,
    closed_by  TEXT    NOT NULL
);
