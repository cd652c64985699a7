-- Recompute jobs (issue 5). An estimate keeps the reporting options it was
-- computed with, so that a recompute reports in the same currency at the
-- same rates (fx_rates: JSON list of {from, to, rate}).
ALTER TABLE incident_estimates ADD COLUMN reporting_currency TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_estimates ADD COLUMN fx_rates JSONB NOT NULL DEFAULT '[]';

-- state is impact.JobState: 1 QUEUED, 2 RUNNING, 3 SUCCEEDED, 4 FAILED,
-- 5 CANCELLED. filter_key hashes the canonical filter and dry_run: the
-- partial unique index keeps one open job per key, race-free.
CREATE TABLE recompute_jobs (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    filter            JSONB       NOT NULL,
    filter_key        TEXT        NOT NULL,
    dry_run           BOOLEAN     NOT NULL,
    state             INTEGER     NOT NULL,
    total             BIGINT      NOT NULL DEFAULT 0,
    done              BIGINT      NOT NULL DEFAULT 0,
    changed           BIGINT      NOT NULL DEFAULT 0,
    failed            BIGINT      NOT NULL DEFAULT 0,
    customers_total   BIGINT      NOT NULL DEFAULT 0,
    customers_done    BIGINT      NOT NULL DEFAULT 0,
    customers_changed BIGINT      NOT NULL DEFAULT 0,
    differences       JSONB       NOT NULL DEFAULT '[]',
    error             TEXT        NOT NULL DEFAULT '',
    model_version     TEXT        NOT NULL DEFAULT '',
    creator           TEXT        NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL,
    start_time        TIMESTAMPTZ,
    end_time          TIMESTAMPTZ,
    update_time       TIMESTAMPTZ NOT NULL,
    chunks_total      BIGINT      NOT NULL DEFAULT 0,
    chunks_done       BIGINT      NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX recompute_jobs_open_filter ON recompute_jobs (filter_key) WHERE state IN (1, 2);
CREATE INDEX recompute_jobs_create ON recompute_jobs (create_time, id);

CREATE TABLE recompute_chunks (
    job_id        TEXT COLLATE "C" NOT NULL REFERENCES recompute_jobs (id) ON DELETE CASCADE,
    seq           BIGINT      NOT NULL,
    incident_ids  JSONB       NOT NULL,
    customers     BIGINT      NOT NULL,
    done          BOOLEAN     NOT NULL DEFAULT FALSE,
    lease_token   TEXT        NOT NULL DEFAULT '',
    lease_worker  TEXT        NOT NULL DEFAULT '',
    lease_expires TIMESTAMPTZ,
    PRIMARY KEY (job_id, seq)
);

CREATE INDEX recompute_chunks_free ON recompute_chunks (job_id, done, seq);

CREATE TABLE recompute_changes (
    job_id            TEXT COLLATE "C" NOT NULL REFERENCES recompute_jobs (id) ON DELETE CASCADE,
    incident_id       TEXT COLLATE "C" NOT NULL,
    old_revision      BIGINT  NOT NULL,
    new_revision      BIGINT  NOT NULL,
    old_model_version TEXT    NOT NULL,
    old_inputs_digest TEXT    NOT NULL,
    new_inputs_digest TEXT    NOT NULL,
    customers_changed BIGINT  NOT NULL,
    differences       JSONB   NOT NULL,
    error             TEXT    NOT NULL,
    PRIMARY KEY (job_id, incident_id)
);
