-- Recompute jobs (issue 5). An estimate keeps the reporting options it was
-- computed with, so that a recompute reports in the same currency at the
-- same rates (fx_rates: JSON list of {from, to, rate}).
ALTER TABLE incident_estimates ADD COLUMN reporting_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_estimates ADD COLUMN fx_rates TEXT NOT NULL DEFAULT '[]';

-- state is impact.JobState: 1 QUEUED, 2 RUNNING, 3 SUCCEEDED, 4 FAILED,
-- 5 CANCELLED. filter_key hashes the canonical filter and dry_run: the
-- partial unique index keeps one open job per key, race-free.
CREATE TABLE recompute_jobs (
    id                TEXT    NOT NULL PRIMARY KEY,
    filter            TEXT    NOT NULL,
    filter_key        TEXT    NOT NULL,
    dry_run           INTEGER NOT NULL,
    state             INTEGER NOT NULL,
    total             INTEGER NOT NULL DEFAULT 0,
    done              INTEGER NOT NULL DEFAULT 0,
    changed           INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    customers_total   INTEGER NOT NULL DEFAULT 0,
    customers_done    INTEGER NOT NULL DEFAULT 0,
    customers_changed INTEGER NOT NULL DEFAULT 0,
    differences       TEXT    NOT NULL DEFAULT '[]',
    error             TEXT    NOT NULL DEFAULT '',
    model_version     TEXT    NOT NULL DEFAULT '',
    creator           TEXT    NOT NULL,
    create_time       INTEGER NOT NULL,
    start_time        INTEGER,
    end_time          INTEGER,
    update_time       INTEGER NOT NULL,
    chunks_total      INTEGER NOT NULL DEFAULT 0,
    chunks_done       INTEGER NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX recompute_jobs_open_filter ON recompute_jobs (filter_key) WHERE state IN (1, 2);
-- ListJobs, newest first.
CREATE INDEX recompute_jobs_create ON recompute_jobs (create_time, id);

-- incident_ids: JSON list, ascending. An unleased chunk has lease_token ''
-- and lease_expires NULL.
CREATE TABLE recompute_chunks (
    job_id        TEXT    NOT NULL REFERENCES recompute_jobs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    incident_ids  TEXT    NOT NULL,
    customers     INTEGER NOT NULL,
    done          INTEGER NOT NULL DEFAULT 0,
    lease_token   TEXT    NOT NULL DEFAULT '',
    lease_worker  TEXT    NOT NULL DEFAULT '',
    lease_expires INTEGER,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;

-- LeaseChunk: the lowest free chunk of a job.
CREATE INDEX recompute_chunks_free ON recompute_chunks (job_id, done, seq);

-- No FK to incidents: the record of a change outlives the incident.
CREATE TABLE recompute_changes (
    job_id            TEXT    NOT NULL REFERENCES recompute_jobs (id) ON DELETE CASCADE,
    incident_id       TEXT    NOT NULL,
    old_revision      INTEGER NOT NULL,
    new_revision      INTEGER NOT NULL,
    old_model_version TEXT    NOT NULL,
    old_inputs_digest TEXT    NOT NULL,
    new_inputs_digest TEXT    NOT NULL,
    customers_changed INTEGER NOT NULL,
    differences       TEXT    NOT NULL,
    error             TEXT    NOT NULL,
    PRIMARY KEY (job_id, incident_id)
) WITHOUT ROWID;
