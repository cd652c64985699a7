package store

// Leases of recompute chunks (impact.JobStore): a chunk is leased with a
// random token and an expiry, renewed while it runs, and completed in one
// transaction that checks the token, writes the chunk's revisions,
// statements and changes, and applies the job-ending rule
// (impact.CompleteChunk).

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// errNoChunk rolls back a lease attempt that found nothing to lease.
var errNoChunk = errors.New("store: no chunk to lease")

// LeaseChunk implements impact.JobStore. An unknown jobID is ENOTFOUND.
func (d *DB) LeaseChunk(ctx context.Context, jobID, worker string, ttl time.Duration) (*impact.Chunk, error) {
	if jobID != "" {
		if err := checkID("name", jobID); err != nil {
			return nil, err
		}
		var one int
		if err := d.db.GetContext(ctx, &one, d.q(`SELECT 1 FROM recompute_jobs WHERE id = ?`), jobID); err != nil {
			return nil, translate(noRows(err, impact.JobName(jobID)))
		}
		return d.leaseFrom(ctx, jobID, worker, ttl)
	}
	// Oldest open job first; a job whose chunks are all taken is skipped.
	var open []string
	if err := d.db.SelectContext(ctx, &open, d.q(`SELECT id FROM recompute_jobs WHERE state IN (1, 2)
		ORDER BY create_time, id LIMIT 100`)); err != nil {
		return nil, translate(err)
	}
	for _, id := range open {
		c, err := d.leaseFrom(ctx, id, worker, ttl)
		if c != nil || err != nil {
			return c, err
		}
	}
	return nil, nil
}

const (
	freeChunkSQL = `SELECT c.seq, c.incident_ids, j.dry_run, j.state FROM recompute_chunks c JOIN recompute_jobs j ON j.id = c.job_id
		WHERE c.job_id = ? AND NOT c.done AND (c.lease_expires IS NULL OR c.lease_expires < ?) AND j.state IN (1, 2)
		ORDER BY c.seq LIMIT 1`
	// SKIP LOCKED: a chunk another transaction is leasing is passed over,
	// not waited for, and never handed out twice. The row is re-checked
	// against the WHERE once locked, so an expiry renewed meanwhile counts.
	freeChunkPostgres = freeChunkSQL + ` FOR UPDATE OF c SKIP LOCKED`
)

func (d *DB) leaseFrom(ctx context.Context, jobID, worker string, ttl time.Duration) (*impact.Chunk, error) {
	now := d.now()
	var c *impact.Chunk
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		var r struct {
			Seq         int64  `db:"seq"`
			IncidentIDs []byte `db:"incident_ids"`
			DryRun      bool   `db:"dry_run"`
			State       int    `db:"state"`
		}
		if err := tx.GetContext(ctx, &r, d.pick(freeChunkSQL, freeChunkPostgres), jobID, d.ts(now)); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return errNoChunk
			}
			return err
		}
		c = &impact.Chunk{JobID: jobID, Seq: r.Seq, DryRun: r.DryRun, Token: newToken(),
			Expires: now.Add(ttl).UTC().Truncate(time.Microsecond)}
		if err := json.Unmarshal(r.IncidentIDs, &c.IncidentIDs); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_chunks SET lease_token = ?, lease_worker = ?, lease_expires = ?
			WHERE job_id = ? AND seq = ?`), c.Token, worker, d.ts(c.Expires), jobID, r.Seq); err != nil {
			return err
		}
		if r.State == stQueued {
			// Only the first lease touches the job row, so that workers do
			// not queue on it for every chunk.
			_, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_jobs SET state = ?, start_time = ?, update_time = ?
				WHERE id = ? AND state = ?`), stRunning, d.ts(now), d.ts(now), jobID, stQueued)
			return err
		}
		return nil
	})
	if errors.Is(err, errNoChunk) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RenewLease implements impact.JobStore; c.Expires is updated.
func (d *DB) RenewLease(ctx context.Context, c *impact.Chunk, ttl time.Duration) error {
	exp := d.now().Add(ttl).UTC().Truncate(time.Microsecond)
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE recompute_chunks SET lease_expires = ?
		WHERE job_id = ? AND seq = ? AND lease_token = ? AND NOT done
		AND EXISTS (SELECT 1 FROM recompute_jobs j WHERE j.id = recompute_chunks.job_id AND j.state = ?)`),
		d.ts(exp), c.JobID, c.Seq, c.Token, stRunning)
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n != 1 {
		return lostLease(c)
	}
	c.Expires = exp
	return nil
}

func lostLease(c *impact.Chunk) error {
	return impact.Errorf(impact.EABORTED, "chunk %d of %s: the lease was lost or the job is no longer running",
		c.Seq, impact.JobName(c.JobID))
}

// CompleteChunk implements impact.JobStore. A save of an incident deleted
// since the chunk was planned is dropped (its change keeps NewRevision 0):
// failing the chunk would only make every retry fail the same way.
func (d *DB) CompleteChunk(ctx context.Context, c *impact.Chunk, r *impact.ChunkResult) (*impact.RecomputeJob, error) {
	now := d.now()
	ins := make([]estimateInsert, len(r.Saves))
	// Statements are keyed across saves: two incidents of a chunk write the
	// same statement of a shared customer; the last save's body is kept.
	type skey struct{ c, s, p string }
	stIdx := map[skey]int{}
	var sts []statementUpsert
	for i, s := range r.Saves {
		e, ups, err := d.encodeSave(s.Estimate, s.Statements, now)
		if err != nil {
			return nil, err
		}
		ins[i] = e
		for _, u := range ups {
			k := skey{u.s.CustomerID, u.s.Service, u.s.Period}
			if j, ok := stIdx[k]; ok {
				sts[j] = u
			} else {
				stIdx[k] = len(sts)
				sts = append(sts, u)
			}
		}
	}
	var job *impact.RecomputeJob
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		jr, err := d.lockJob(ctx, tx, c.JobID)
		if err != nil {
			if impact.ErrorCode(err) == impact.ENOTFOUND {
				return lostLease(c)
			}
			return err
		}
		var one int
		err = tx.GetContext(ctx, &one, d.pick(
			`SELECT 1 FROM recompute_chunks WHERE job_id = ? AND seq = ? AND lease_token = ? AND NOT done`,
			`SELECT 1 FROM recompute_chunks WHERE job_id = ? AND seq = ? AND lease_token = ? AND NOT done FOR UPDATE`),
			c.JobID, c.Seq, c.Token)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && jr.State != stRunning) {
			return lostLease(c)
		}
		if err != nil {
			return err
		}
		// The revisions record the job as their source and its creator
		// as their actor, not the worker that leased the chunk.
		for i := range ins {
			ins[i].source, ins[i].actor = impact.JobName(c.JobID), jr.Creator
		}
		newRev, err := d.insertRevisions(ctx, tx, ins)
		if err != nil {
			return err
		}
		// The saves' freshness: what each computation read, in one final
		// section (README "Fresh figures").
		for _, s := range r.Saves {
			if _, live := newRev[s.Estimate.IncidentID]; live {
				if err := d.recordHead(ctx, tx, s.Estimate.IncidentID, s.Estimate.Deps, ch.g); err != nil {
					return err
				}
			}
		}
		live, err := d.withContracts(ctx, tx, sts)
		if err != nil {
			return err
		}
		if err := d.upsertStatements(ctx, tx, live, true); err != nil {
			return err
		}
		for i := range r.Changes {
			r.Changes[i].NewRevision = newRev[r.Changes[i].IncidentID]
		}
		if err := d.insertChanges(ctx, tx, c.JobID, r.Changes); err != nil {
			return err
		}
		// The job's sums: read under the row lock above (PostgreSQL) or the
		// write lock (SQLite), so concurrent chunks add up.
		counts := impact.JobCounts{Done: jr.Done, Changed: jr.Changed, Failed: jr.Failed, CustomersDone: jr.CustomersDone,
			CustomersChanged: jr.CustomersChanged}
		add := r.Counts
		add.Total, add.CustomersTotal = 0, 0
		counts.Add(add)
		diffs, err := decodeDiffs(jr.Differences)
		if err != nil {
			return err
		}
		diffs = impact.AddDifferences(diffs, r.Differences)
		// The job-ending rule (impact.CompleteChunk); the first failure
		// is read only when the job ends FAILED.
		out, err := impact.CompleteChunk(jr.ChunksDone, jr.ChunksTotal, counts, jr.ModelVersion, r.ModelVersion,
			func() (*impact.FirstFailure, error) {
				var first struct {
					IncidentID string `db:"incident_id"`
					Error      string `db:"error"`
				}
				err := tx.GetContext(ctx, &first, d.q(`SELECT incident_id, error FROM recompute_changes
					WHERE job_id = ? AND error <> '' ORDER BY incident_id LIMIT 1`), c.JobID)
				switch {
				case errors.Is(err, sql.ErrNoRows):
					return nil, nil
				case err != nil:
					return nil, err
				}
				return &impact.FirstFailure{IncidentID: first.IncidentID, Error: first.Error}, nil
			})
		if err != nil {
			return err
		}
		state, end, msg, mv := int(out.State), any(nil), out.Message, out.ModelVersion
		if out.Ended {
			end = d.ts(now)
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_jobs SET done = ?, changed = ?, failed = ?, customers_done = ?,
			customers_changed = ?, differences = ?, model_version = ?, chunks_done = chunks_done + 1, state = ?, error = ?,
			end_time = COALESCE(end_time, ?), update_time = ? WHERE id = ?`),
			counts.Done, counts.Changed, counts.Failed, counts.CustomersDone, counts.CustomersChanged, encodeDiffs(diffs),
			mv, state, msg, end, d.ts(now), c.JobID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_chunks SET done = TRUE, lease_token = '', lease_worker = '',
			lease_expires = NULL WHERE job_id = ? AND seq = ?`), c.JobID, c.Seq); err != nil {
			return err
		}
		job, err = d.getJob(ctx, tx, c.JobID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// withContracts drops the statements whose contract was deleted after the
// chunk was computed: the statement went with its contract, and writing it
// would fail the chunk on every retry. (A deleted incident's save is
// dropped the same way, in insertRevisions.)
func (d *DB) withContracts(ctx context.Context, tx *sqlx.Tx, sts []statementUpsert) ([]statementUpsert, error) {
	if len(sts) == 0 {
		return sts, nil
	}
	type key struct{ c, s string }
	var ids []string
	seen := map[string]bool{}
	for _, u := range sts {
		if !seen[u.s.CustomerID] {
			seen[u.s.CustomerID] = true
			ids = append(ids, u.s.CustomerID)
		}
	}
	exists := map[key]bool{}
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		q, args, err := sqlx.In(`SELECT customer_id, service FROM contracts WHERE customer_id IN (?)`, ids[lo:min(lo+impact.MaxPageSize, len(ids))])
		if err != nil {
			return nil, err
		}
		var rows []struct {
			CustomerID string `db:"customer_id"`
			Service    string `db:"service"`
		}
		if err := tx.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			exists[key{r.CustomerID, r.Service}] = true
		}
	}
	live := sts[:0:0]
	for _, u := range sts {
		if exists[key{u.s.CustomerID, u.s.Service}] {
			live = append(live, u)
		}
	}
	return live, nil
}

// insertRevisions stores each estimate as its incident's next revision and
// returns the revision written by incident id. On PostgreSQL the incidents
// are locked in id order first, as SaveEstimate locks one, so that a
// concurrent :estimate cannot take the same revision, and two chunks
// locking overlapping incidents cannot deadlock.
func (d *DB) insertRevisions(ctx context.Context, tx *sqlx.Tx, ins []estimateInsert) (map[string]int64, error) {
	revs := map[string]int64{}
	if len(ins) == 0 {
		return revs, nil
	}
	var ids []string
	for _, e := range ins {
		if _, ok := revs[e.incidentID]; !ok {
			revs[e.incidentID] = 0
			ids = append(ids, e.incidentID)
		}
	}
	sort.Strings(ids)
	live := map[string]bool{}
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		part := ids[lo:min(lo+impact.MaxPageSize, len(ids))]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = id
		}
		var found []string
		if err := tx.SelectContext(ctx, &found, d.pick(
			`SELECT id FROM incidents WHERE id IN (`+placeholders(len(part))+`) ORDER BY id`,
			`SELECT id FROM incidents WHERE id IN (`+placeholders(len(part))+`) ORDER BY id FOR NO KEY UPDATE`), args...); err != nil {
			return nil, err
		}
		for _, id := range found {
			live[id] = true
		}
		var maxes []struct {
			ID  string `db:"incident_id"`
			Rev int64  `db:"rev"`
		}
		if err := tx.SelectContext(ctx, &maxes, d.q(`SELECT incident_id, MAX(revision) AS rev FROM incident_estimates
			WHERE incident_id IN (`+placeholders(len(part))+`) GROUP BY incident_id`), args...); err != nil {
			return nil, err
		}
		for _, m := range maxes {
			revs[m.ID] = m.Rev
		}
	}
	rows := make([]estimateInsert, 0, len(ins))
	for _, e := range ins {
		if !live[e.incidentID] {
			continue
		}
		revs[e.incidentID]++
		e.rev = revs[e.incidentID]
		rows = append(rows, e)
	}
	for id := range revs {
		if !live[id] {
			delete(revs, id)
		}
	}
	return revs, d.insertEstimates(ctx, tx, rows)
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
