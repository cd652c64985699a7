-- Fresh stored figures (README "Fresh figures", impact/doc.go). Every write
-- that can move an estimate's inputs takes the next value of the one change
-- counter, marks the estimates that depended on what it changed (found
-- through the dependencies each estimate's latest computation recorded)
-- and records the value against the resources it changed, all in its own
-- transaction. An estimate is STALE while it has marks.
CREATE TABLE change_counter (
    id  INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_counter (id, seq) VALUES (1, 1);

-- The change counter value of the last write to each resource name
-- ("customers/c1", "incidents/i1", "reportingSettings").
CREATE TABLE change_seqs (
    name TEXT    NOT NULL PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per stored estimate. own_rec/own_cur: a hash of the incident's
-- row as the latest computation read it and as it is now; ownwin_rec/
-- ownwin_cur: the XOR of the hashes of its windows, likewise (own_reason:
-- the last change to either); settings_moved: the stored settings would
-- report it otherwise than it used them. read_seq: the counter read before the
-- latest computation read its inputs. stale_seq/last_mark: the newest mark
-- (last_mark NULL when CURRENT). failed_seq/failure: a refresh that could
-- not compute the estimate from the inputs up to failed_seq. uses_settings:
-- the latest revision took its reporting options from reporting_settings,
-- using settings_currency and the rates settings_rates (JSON) of them.
CREATE TABLE estimate_heads (
    incident_id       TEXT    NOT NULL PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
    read_seq          INTEGER NOT NULL,
    stale_seq         INTEGER NOT NULL DEFAULT 0,
    last_mark         INTEGER,
    failed_seq        INTEGER NOT NULL DEFAULT 0,
    failure           TEXT    NOT NULL DEFAULT '',
    uses_settings     INTEGER NOT NULL DEFAULT 0,
    settings_currency TEXT    NOT NULL DEFAULT '',
    settings_rates    TEXT    NOT NULL DEFAULT '[]',
    own_rec           INTEGER NOT NULL DEFAULT 0,
    own_cur           INTEGER NOT NULL DEFAULT 0,
    ownwin_rec        INTEGER NOT NULL DEFAULT 0,
    ownwin_cur        INTEGER NOT NULL DEFAULT 0,
    own_reason        TEXT    NOT NULL DEFAULT '',
    settings_moved    INTEGER NOT NULL DEFAULT 0,
    lease_token       TEXT    NOT NULL DEFAULT '',
    lease_expires     INTEGER
) WITHOUT ROWID;
-- The refresh takes the oldest marked estimates first.
CREATE INDEX estimate_heads_marked ON estimate_heads (last_mark) WHERE last_mark IS NOT NULL;

-- What an estimate's latest computation read: each affected customer with
-- the range of its windows read (closed under overlap), and the other
-- incidents whose windows it read. rec_* is a hash of what was read, cur_*
-- of the same now (win_*: the XOR of the hashes of the customer's windows
-- touching the range): the estimate is STALE while any differ, and CURRENT
-- again when a change is undone.
CREATE TABLE estimate_dep_customers (
    incident_id TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    customer_id TEXT    NOT NULL,
    range_from  INTEGER NOT NULL,
    range_to    INTEGER NOT NULL,
    rec_hash    INTEGER NOT NULL,
    cur_hash    INTEGER NOT NULL,
    win_rec     INTEGER NOT NULL,
    win_cur     INTEGER NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, customer_id)
) WITHOUT ROWID;
CREATE INDEX estimate_dep_customers_customer ON estimate_dep_customers (customer_id, range_from);
-- The rows whose customer (with its contracts) or windows in range moved.
CREATE INDEX estimate_dep_customers_moved ON estimate_dep_customers (incident_id)
    WHERE cur_hash <> rec_hash OR win_cur <> win_rec;

CREATE TABLE estimate_dep_incidents (
    incident_id     TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    dep_incident_id TEXT NOT NULL,
    rec_hash        INTEGER NOT NULL,
    cur_hash        INTEGER NOT NULL,
    PRIMARY KEY (incident_id, dep_incident_id)
) WITHOUT ROWID;
CREATE INDEX estimate_dep_incidents_dep ON estimate_dep_incidents (dep_incident_id);
CREATE INDEX estimate_dep_incidents_moved ON estimate_dep_incidents (incident_id) WHERE cur_hash <> rec_hash;

-- Marks that only a new computation clears: a write committed while the
-- estimate was computed (reason: the resource name), at which seq.
CREATE TABLE estimate_stale (
    incident_id TEXT    NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    reason      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (incident_id, reason)
) WITHOUT ROWID;

-- The singleton reportingSettings: fx_rates is a JSON list of {from, to, rate}.
CREATE TABLE reporting_settings (
    id                 INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    reporting_currency TEXT    NOT NULL,
    fx_rates           TEXT    NOT NULL,
    revision           INTEGER NOT NULL,
    update_time        INTEGER NOT NULL
);
INSERT INTO reporting_settings VALUES (1, '', '[]', 1, 0);

-- Estimates stored before this migration recorded no dependencies: they
-- read STALE until computed once more (the refresh does it).
INSERT INTO estimate_heads (incident_id, read_seq, stale_seq, last_mark)
    SELECT DISTINCT incident_id, 0, 1, 0 FROM incident_estimates;
INSERT INTO estimate_stale (incident_id, reason, seq)
    SELECT DISTINCT incident_id, 'incidents/' || incident_id, 1 FROM incident_estimates;
