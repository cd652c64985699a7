package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

// Recompute jobs (impact.JobStore). A job's chunks are rows leased with a
// random token and an expiry: a worker that dies loses its chunk when the
// lease expires, and its late CompleteChunk finds another token and writes
// nothing. On PostgreSQL, SELECT … FOR UPDATE SKIP LOCKED hands a free
// chunk to one transaction only; on SQLite the writer queue and BEGIN
// IMMEDIATE serialise leasing already.

var _ impact.JobStore = (*DB)(nil)

// Job states as stored (the impact.JobState values).
const (
	stQueued    = int(impact.JobQueued)
	stRunning   = int(impact.JobRunning)
	stSucceeded = int(impact.JobSucceeded)
	stFailed    = int(impact.JobFailed)
	stCancelled = int(impact.JobCancelled)
)

const (
	jobCols = `id, filter, dry_run, state, total, done, changed, failed, customers_total, customers_done,
		customers_changed, differences, error, model_version, creator, create_time, start_time, end_time, update_time,
		chunks_total, chunks_done`
	changeCols = `incident_id, old_revision, new_revision, old_model_version, old_inputs_digest, new_inputs_digest,
		customers_changed, differences, error`
	// planBatch incidents are read per query while planning chunks, so a
	// million-incident job never holds every id in memory at once.
	planBatch = 2000
	// chunkRowsPerInsert chunk rows (4 parameters each) and
	// changeRowsPerInsert change rows (11 each) per multi-row INSERT.
	chunkRowsPerInsert  = 500
	changeRowsPerInsert = 500
	maxChunkSize        = 1_000_000
)

type jobRow struct {
	ID               string      `db:"id"`
	Filter           []byte      `db:"filter"`
	DryRun           bool        `db:"dry_run"`
	State            int         `db:"state"`
	Total            int64       `db:"total"`
	Done             int64       `db:"done"`
	Changed          int64       `db:"changed"`
	Failed           int64       `db:"failed"`
	CustomersTotal   int64       `db:"customers_total"`
	CustomersDone    int64       `db:"customers_done"`
	CustomersChanged int64       `db:"customers_changed"`
	Differences      []byte      `db:"differences"`
	Error            string      `db:"error"`
	ModelVersion     string      `db:"model_version"`
	Creator          string      `db:"creator"`
	CreateTime       instant     `db:"create_time"`
	StartTime        nullInstant `db:"start_time"`
	EndTime          nullInstant `db:"end_time"`
	UpdateTime       instant     `db:"update_time"`
	ChunksTotal      int64       `db:"chunks_total"`
	ChunksDone       int64       `db:"chunks_done"`
}

// nullInstant scans a nullable instant column; NULL is the zero time.
type nullInstant struct{ time.Time }

func (t *nullInstant) Scan(v any) error {
	if v == nil {
		t.Time = time.Time{}
		return nil
	}
	var i instant
	err := i.Scan(v)
	t.Time = i.Time
	return err
}

// filterDoc is a RecomputeFilter as stored. Its marshalling with sorted id
// lists is also the canonical form that filter_key hashes.
type filterDoc struct {
	Since       *jsonTime `json:"since,omitempty"`
	Until       *jsonTime `json:"until,omitempty"`
	CustomerIDs []string  `json:"customer_ids,omitempty"`
	IncidentIDs []string  `json:"incident_ids,omitempty"`
}

func toFilterDoc(f *impact.RecomputeFilter) filterDoc {
	sorted := func(ids []string) []string {
		if len(ids) == 0 {
			return nil
		}
		s := append([]string(nil), ids...)
		sort.Strings(s)
		return s
	}
	return filterDoc{Since: jt(f.Since), Until: jt(f.Until), CustomerIDs: sorted(f.CustomerIDs), IncidentIDs: sorted(f.IncidentIDs)}
}

// filterKey identifies "the same filter and dry run" whatever the order of
// the ids: filters that select the same incidents the same way share a key.
func filterKey(doc []byte, dryRun bool) string {
	h := sha256.New()
	h.Write(doc)
	fmt.Fprintf(h, "\x00dry_run=%t", dryRun)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// diffDoc is a FigureDifferences as stored: decimals as exact strings.
type diffDoc struct {
	Currency         string `json:"currency"`
	LostRevenueGross string `json:"lost_revenue_gross"`
	LostRevenueNet   string `json:"lost_revenue_net"`
	RecoveryCost     string `json:"recovery_cost"`
	SLACredits       string `json:"sla_credits"`
	ChurnExposure    string `json:"churn_exposure"`
}

func encodeDiffs(ds []impact.FigureDifferences) []byte {
	docs := make([]diffDoc, len(ds))
	for i, d := range ds {
		docs[i] = diffDoc{d.Currency, d.LostRevenueGross.String(), d.LostRevenueNet.String(), d.RecoveryCost.String(),
			d.SLACredits.String(), d.ChurnExposure.String()}
	}
	b, _ := json.Marshal(docs) // strings only: cannot fail
	return b
}

func decodeDiffs(b []byte) ([]impact.FigureDifferences, error) {
	var docs []diffDoc
	if err := json.Unmarshal(b, &docs); err != nil {
		return nil, err
	}
	var out []impact.FigureDifferences
	for _, d := range docs {
		f := impact.FigureDifferences{Currency: d.Currency}
		for _, x := range []struct {
			dst *decimal.Decimal
			s   string
		}{{&f.LostRevenueGross, d.LostRevenueGross}, {&f.LostRevenueNet, d.LostRevenueNet}, {&f.RecoveryCost, d.RecoveryCost},
			{&f.SLACredits, d.SLACredits}, {&f.ChurnExposure, d.ChurnExposure}} {
			v, err := decimal.NewFromString(x.s)
			if err != nil {
				return nil, fmt.Errorf("store: stored difference %q: %w", x.s, err)
			}
			*x.dst = v
		}
		out = append(out, f)
	}
	return out, nil
}

func (r *jobRow) toDomain() (*impact.RecomputeJob, error) {
	j := &impact.RecomputeJob{ID: r.ID, Name: impact.JobName(r.ID), DryRun: r.DryRun, State: impact.JobState(r.State),
		Counts: impact.JobCounts{Total: r.Total, Done: r.Done, Changed: r.Changed, Failed: r.Failed,
			CustomersTotal: r.CustomersTotal, CustomersDone: r.CustomersDone, CustomersChanged: r.CustomersChanged},
		Error: r.Error, ModelVersion: r.ModelVersion, Creator: r.Creator, CreateTime: r.CreateTime.Time,
		StartTime: r.StartTime.Time, EndTime: r.EndTime.Time, UpdateTime: r.UpdateTime.Time}
	var f filterDoc
	if err := json.Unmarshal(r.Filter, &f); err != nil {
		return nil, err
	}
	j.Filter = impact.RecomputeFilter{Since: f.Since.get(), Until: f.Until.get(), CustomerIDs: f.CustomerIDs, IncidentIDs: f.IncidentIDs}
	var err error
	if j.Differences, err = decodeDiffs(r.Differences); err != nil {
		return nil, err
	}
	return j, nil
}

// newJobID is "rj-" and 16 random hex digits: random, as window ids, so
// that concurrent creators never contend on a counter.
func newJobID() string {
	var b [8]byte
	rand.Read(b[:])
	return "rj-" + hex.EncodeToString(b[:])
}

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errOpenJobRace: another creator inserted an open job with the same key
// between our check and our insert. PostgreSQL has aborted the transaction
// by then, so CreateJob starts over and finds that job.
var errOpenJobRace = errors.New("store: concurrent open job with the same filter")

// joinedSuffix marks, in request_ids, a CreateJob that joined an open job:
// a retry then reports created=false as the first call did.
const joinedSuffix = "#joined"

// CreateJob implements impact.JobStore.
func (d *DB) CreateJob(ctx context.Context, f impact.RecomputeFilter, dryRun bool, chunkSize int, requestID string, join bool) (*impact.RecomputeJob, bool, error) {
	if err := f.Validate(); err != nil {
		return nil, false, err
	}
	if chunkSize < 1 || chunkSize > maxChunkSize {
		return nil, false, invalid("chunk_size", "must be in [1, 1000000]")
	}
	fdoc, err := json.Marshal(toFilterDoc(&f))
	if err != nil {
		return nil, false, err
	}
	key := filterKey(fdoc, dryRun)
	for attempt := 0; ; attempt++ {
		job, created, err := d.createJob(ctx, &f, fdoc, key, dryRun, chunkSize, requestID, join)
		if errors.Is(err, errOpenJobRace) && attempt < 3 {
			continue
		}
		return job, created, err
	}
}

func (d *DB) createJob(ctx context.Context, f *impact.RecomputeFilter, fdoc []byte, key string, dryRun bool, chunkSize int, requestID string, join bool) (*impact.RecomputeJob, bool, error) {
	id := newJobID()
	name := impact.JobName(id)
	now := d.now()
	var joined string
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.claim(ctx, tx, "CreateRecomputeJob", requestID, name, now, "", struct {
			Filter json.RawMessage
			DryRun bool
		}{fdoc, dryRun}); err != nil {
			return err
		}
		if err := d.checkFilterIDs(ctx, tx, f); err != nil {
			return err
		}
		var open []string
		if err := tx.SelectContext(ctx, &open, d.q(`SELECT id FROM recompute_jobs WHERE filter_key = ? AND state IN (1, 2)`), key); err != nil {
			return err
		}
		if len(open) > 0 {
			if !join {
				return impact.Errorf(impact.ECONFLICT, "%s is still running with the same filter", impact.JobName(open[0])).
					WithReason(impact.ReasonJobRunning)
			}
			joined = open[0]
			if requestID != "" {
				_, err := tx.ExecContext(ctx, d.q(`UPDATE request_ids SET result = ? WHERE method = ? AND request_id = ?`),
					impact.JobName(joined)+joinedSuffix, "CreateRecomputeJob", requestID)
				return err
			}
			return nil
		}
		// The job row first: its chunks reference it. The partial unique
		// index makes a concurrent creator of the same open job fail here.
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO recompute_jobs (id, filter, filter_key, dry_run, state, creator,
			create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			id, fdoc, key, dryRun, stQueued, impact.ActorFrom(ctx), d.ts(now), d.ts(now))
		if err != nil {
			if impact.ErrorCode(translate(err)) == impact.ECONFLICT {
				return errOpenJobRace
			}
			return err
		}
		total, customers, chunks, err := d.planChunks(ctx, tx, id, f, chunkSize)
		if err != nil {
			return err
		}
		state, end := stQueued, any(nil)
		if total == 0 {
			state, end = stSucceeded, d.ts(now)
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_jobs SET total = ?, customers_total = ?, chunks_total = ?,
			state = ?, end_time = ? WHERE id = ?`), total, customers, chunks, state, end, id); err != nil {
			return err
		}
		detail := fmt.Sprintf("%d incidents, %d chunks", total, chunks)
		if dryRun {
			detail += ", dry run"
		}
		return d.audit(ctx, tx, now, "CreateRecomputeJob", name, detail, "", ref("recompute_jobs", "id = ?", id))
	})
	if first, ok := retried(err); ok {
		first, wasJoin := strings.CutSuffix(first, joinedSuffix)
		j, err := d.GetJob(ctx, strings.TrimPrefix(first, "recomputeJobs/"))
		return j, err == nil && !wasJoin, err
	}
	if err != nil {
		return nil, false, err
	}
	if joined != "" {
		j, err := d.GetJob(ctx, joined)
		return j, false, err
	}
	j, err := d.GetJob(ctx, id)
	return j, err == nil, err
}

// checkFilterIDs refuses a filter naming a customer or incident that is not
// stored (a typo would otherwise select nothing and "succeed"): one
// INVALID_ARGUMENT, not NOT_FOUND, since the request's target is the new
// job, with a field violation per unknown id. Read in the creating
// transaction, so a job is planned only over ids that exist then.
func (d *DB) checkFilterIDs(ctx context.Context, tx *sqlx.Tx, f *impact.RecomputeFilter) error {
	var vs []impact.FieldViolation
	for _, l := range []struct {
		table, field, what string
		ids                []string
	}{
		{"customers", "filter.customer_ids", "customer", f.CustomerIDs},
		{"incidents", "filter.incident_ids", "incident", f.IncidentIDs},
	} {
		if len(l.ids) == 0 {
			continue
		}
		q, args, err := sqlx.In(`SELECT id FROM `+l.table+` WHERE id IN (?)`, l.ids)
		if err != nil {
			return err
		}
		var found []string
		if err := tx.SelectContext(ctx, &found, d.q(q), args...); err != nil {
			return err
		}
		have := make(map[string]bool, len(found))
		for _, id := range found {
			have[id] = true
		}
		for i, id := range l.ids {
			if !have[id] {
				vs = append(vs, impact.FieldViolation{Field: fmt.Sprintf("%s[%d]", l.field, i),
					Description: fmt.Sprintf("no such %s %q", l.what, id)})
			}
		}
	}
	if len(vs) > 0 {
		return &impact.Error{Code: impact.EINVALID, Message: "the recompute filter names ids that are not stored", Violations: vs}
	}
	return nil
}

// planChunks writes the chunks of job id: the incidents f selects, by id,
// read planBatch at a time with their affected customers, cut into chunks
// as JobStore.CreateJob says, written chunkRowsPerInsert at a time.
func (d *DB) planChunks(ctx context.Context, tx *sqlx.Tx, id string, f *impact.RecomputeFilter, chunkSize int) (total, customers, chunks int64, err error) {
	var where []string
	var fargs []any
	if !f.Since.IsZero() || !f.Until.IsZero() {
		// Half-open [since, until): a window ending at since or starting at
		// until does not overlap it.
		c := `EXISTS (SELECT 1 FROM windows w WHERE w.incident_id = i.id`
		if !f.Since.IsZero() {
			c += ` AND w.end_time > ?`
			fargs = append(fargs, d.ts(f.Since))
		}
		if !f.Until.IsZero() {
			c += ` AND w.start_time < ?`
			fargs = append(fargs, d.ts(f.Until))
		}
		where = append(where, c+`)`)
	}
	if len(f.CustomerIDs) > 0 {
		where = append(where, `EXISTS (SELECT 1 FROM windows w WHERE w.incident_id = i.id AND w.customer_id IN (`+
			placeholders(len(f.CustomerIDs))+`))`)
		for _, c := range f.CustomerIDs {
			fargs = append(fargs, c)
		}
	}
	if len(f.IncidentIDs) > 0 {
		where = append(where, `i.id IN (`+placeholders(len(f.IncidentIDs))+`)`)
		for _, c := range f.IncidentIDs {
			fargs = append(fargs, c)
		}
	}
	q := `SELECT i.id, (SELECT COUNT(DISTINCT w.customer_id) FROM windows w WHERE w.incident_id = i.id) AS customers
		FROM incidents i WHERE i.id > ?`
	for _, w := range where {
		q += ` AND ` + w
	}
	q = d.q(q + ` ORDER BY i.id LIMIT ?`)

	type planned struct {
		ID        string `db:"id"`
		Customers int64  `db:"customers"`
	}
	type chunkRow struct {
		ids       []string
		customers int64
	}
	var (
		cur     chunkRow
		pending []chunkRow
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO recompute_chunks (job_id, seq, incident_ids, customers) VALUES `)
		args := make([]any, 0, 4*len(pending))
		for i, c := range pending {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			ids, _ := json.Marshal(c.ids)
			chunks++
			args = append(args, id, chunks, ids, c.customers)
		}
		pending = pending[:0]
		_, err := tx.ExecContext(ctx, d.q(b.String()), args...)
		return err
	}
	closeChunk := func() error {
		pending = append(pending, cur)
		cur = chunkRow{}
		if len(pending) == chunkRowsPerInsert {
			return flush()
		}
		return nil
	}
	after := ""
	for {
		var rows []planned
		if err := tx.SelectContext(ctx, &rows, q, append(append([]any{after}, fargs...), planBatch)...); err != nil {
			return 0, 0, 0, err
		}
		for _, r := range rows {
			total++
			customers += r.Customers
			cur.ids = append(cur.ids, r.ID)
			cur.customers += r.Customers
			if cur.customers >= int64(chunkSize) || len(cur.ids) == impact.MaxPageSize {
				if err := closeChunk(); err != nil {
					return 0, 0, 0, err
				}
			}
		}
		if len(rows) < planBatch {
			break
		}
		after = rows[len(rows)-1].ID
	}
	if len(cur.ids) > 0 {
		if err := closeChunk(); err != nil {
			return 0, 0, 0, err
		}
	}
	return total, customers, chunks, flush()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// GetJob implements impact.JobStore.
func (d *DB) GetJob(ctx context.Context, id string) (*impact.RecomputeJob, error) {
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	return d.getJob(ctx, d.db, id)
}

func (d *DB) getJob(ctx context.Context, q sqlx.QueryerContext, id string) (*impact.RecomputeJob, error) {
	var r jobRow
	if err := sqlx.GetContext(ctx, q, &r, d.q(`SELECT `+jobCols+` FROM recompute_jobs WHERE id = ?`), id); err != nil {
		return nil, translate(noRows(err, impact.JobName(id)))
	}
	return r.toDomain()
}

// ListJobs implements impact.JobStore: newest first, keyset on
// (create_time, id) descending.
func (d *DB) ListJobs(ctx context.Context, p impact.PageRequest) (*impact.Page[impact.RecomputeJob], error) {
	pg, err := parsePage(p, 2, "ListRecomputeJobs")
	if err != nil {
		return nil, err
	}
	q, args := `SELECT `+jobCols+` FROM recompute_jobs`, []any{}
	if pg.after != nil {
		micros, err := strconv.ParseInt(pg.after[0], 10, 64)
		if err != nil {
			return nil, invalid("page_token", "malformed page token")
		}
		at := d.ts(time.UnixMicro(micros))
		q, args = q+` WHERE create_time < ? OR (create_time = ? AND id < ?)`, append(args, at, at, pg.after[1])
	}
	var rows []jobRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY create_time DESC, id DESC LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *jobRow) []string {
		return []string{strconv.FormatInt(r.CreateTime.UnixMicro(), 10), r.ID}
	})
	out := &impact.Page[impact.RecomputeJob]{Items: make([]impact.RecomputeJob, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		j, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *j)
	}
	return out, nil
}

// lockJob reads a job's state in tx, locking its row on PostgreSQL so that
// a cancel and a chunk completion happen one after the other.
func (d *DB) lockJob(ctx context.Context, tx *sqlx.Tx, id string) (*jobRow, error) {
	var r jobRow
	err := tx.GetContext(ctx, &r, d.pick(`SELECT `+jobCols+` FROM recompute_jobs WHERE id = ?`,
		`SELECT `+jobCols+` FROM recompute_jobs WHERE id = ? FOR UPDATE`), id)
	if err != nil {
		return nil, noRows(err, impact.JobName(id))
	}
	return &r, nil
}

// CancelJob implements impact.JobStore. Chunks keep their leases: leasing
// and completing check the job's state.
func (d *DB) CancelJob(ctx context.Context, id string) (*impact.RecomputeJob, error) {
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	name := impact.JobName(id)
	now := d.now()
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		r, err := d.lockJob(ctx, tx, id)
		if err != nil {
			return err
		}
		switch r.State {
		case stCancelled:
			return nil
		case stSucceeded, stFailed:
			return impact.Errorf(impact.EFAILEDPRECOND, "%s has already ended (%s)", name, impact.JobState(r.State)).
				WithReason(impact.ReasonJobEnded)
		}
		before, err := d.rowJSON(ctx, tx, ref("recompute_jobs", "id = ?", id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE recompute_jobs SET state = ?, end_time = ?, update_time = ? WHERE id = ?`),
			stCancelled, d.ts(now), d.ts(now), id); err != nil {
			return err
		}
		return d.audit(ctx, tx, now, "CancelRecomputeJob", name, "", before, ref("recompute_jobs", "id = ?", id))
	})
	if err != nil {
		return nil, err
	}
	return d.GetJob(ctx, id)
}

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
		state, end, msg := stRunning, any(nil), ""
		if jr.ChunksDone+1 >= jr.ChunksTotal {
			state, end = stSucceeded, d.ts(now)
			if counts.Failed > 0 {
				state = stFailed
				var first struct {
					IncidentID string `db:"incident_id"`
					Error      string `db:"error"`
				}
				err := tx.GetContext(ctx, &first, d.q(`SELECT incident_id, error FROM recompute_changes
					WHERE job_id = ? AND error <> '' ORDER BY incident_id LIMIT 1`), c.JobID)
				switch {
				case err == nil:
					msg = fmt.Sprintf("%d estimates failed; first: %s: %s", counts.Failed, first.IncidentID, first.Error)
				case errors.Is(err, sql.ErrNoRows):
					msg = fmt.Sprintf("%d estimates failed", counts.Failed)
				default:
					return err
				}
			}
		}
		mv := jr.ModelVersion
		if r.ModelVersion != "" {
			mv = r.ModelVersion
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

func (d *DB) insertChanges(ctx context.Context, tx *sqlx.Tx, jobID string, chs []impact.RecomputeChange) error {
	for lo := 0; lo < len(chs); lo += changeRowsPerInsert {
		part := chs[lo:min(lo+changeRowsPerInsert, len(chs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO recompute_changes (job_id, ` + changeCols + `) VALUES `)
		args := make([]any, 0, 10*len(part))
		for i := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			ch := &part[i]
			args = append(args, jobID, ch.IncidentID, ch.OldRevision, ch.NewRevision, ch.OldModelVersion, ch.OldInputsDigest,
				ch.NewInputsDigest, ch.CustomersChanged, encodeDiffs(ch.Differences), ch.Error)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

type changeRow struct {
	IncidentID       string `db:"incident_id"`
	OldRevision      int64  `db:"old_revision"`
	NewRevision      int64  `db:"new_revision"`
	OldModelVersion  string `db:"old_model_version"`
	OldInputsDigest  string `db:"old_inputs_digest"`
	NewInputsDigest  string `db:"new_inputs_digest"`
	CustomersChanged int64  `db:"customers_changed"`
	Differences      []byte `db:"differences"`
	Error            string `db:"error"`
}

// ListChanges implements impact.JobStore.
func (d *DB) ListChanges(ctx context.Context, jobID string, p impact.PageRequest) (*impact.Page[impact.RecomputeChange], error) {
	if err := checkID("parent", jobID); err != nil {
		return nil, err
	}
	pg, err := parsePage(p, 1, "ListRecomputeChanges", jobID)
	if err != nil {
		return nil, err
	}
	var one int
	if err := d.db.GetContext(ctx, &one, d.q(`SELECT 1 FROM recompute_jobs WHERE id = ?`), jobID); err != nil {
		return nil, translate(noRows(err, impact.JobName(jobID)))
	}
	q, args := `SELECT `+changeCols+` FROM recompute_changes WHERE job_id = ?`, []any{jobID}
	if pg.after != nil {
		q, args = q+` AND incident_id > ?`, append(args, pg.after[0])
	}
	var rows []changeRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY incident_id LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *changeRow) []string { return []string{r.IncidentID} })
	out := &impact.Page[impact.RecomputeChange]{Items: make([]impact.RecomputeChange, 0, len(rows)), NextPageToken: next}
	for _, r := range rows {
		ds, err := decodeDiffs(r.Differences)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, impact.RecomputeChange{IncidentID: r.IncidentID, OldRevision: r.OldRevision,
			NewRevision: r.NewRevision, OldModelVersion: r.OldModelVersion, OldInputsDigest: r.OldInputsDigest,
			NewInputsDigest: r.NewInputsDigest, CustomersChanged: r.CustomersChanged, Differences: ds, Error: r.Error})
	}
	return out, nil
}

// LatestEstimates implements impact.JobStore: one query; each incident's
// latest revision is found through the primary key (incident_id, revision).
func (d *DB) LatestEstimates(ctx context.Context, incidentIDs []string) (map[string]*impact.StoredEstimate, error) {
	return d.latestEstimates(ctx, incidentIDs, estimateCols)
}

// estimateHeadCols are estimateCols with an empty body: the figures are
// most of a row, and decoding them is most of its cost.
const estimateHeadCols = `incident_id, revision, model_version, inputs_digest, compute_time, '{}' AS body,
	reporting_currency, fx_rates, source, actor`

// LatestEstimateHeads implements impact.JobStore.
func (d *DB) LatestEstimateHeads(ctx context.Context, incidentIDs []string) (map[string]*impact.StoredEstimate, error) {
	return d.latestEstimates(ctx, incidentIDs, estimateHeadCols)
}

func (d *DB) latestEstimates(ctx context.Context, incidentIDs []string, cols string) (map[string]*impact.StoredEstimate, error) {
	out := make(map[string]*impact.StoredEstimate, len(incidentIDs))
	if len(incidentIDs) == 0 {
		return out, nil
	}
	if len(incidentIDs) > impact.MaxPageSize {
		return nil, invalid("incident_ids", "at most 1000 ids per call")
	}
	args := make([]any, len(incidentIDs))
	for i, id := range incidentIDs {
		args[i] = id
	}
	var rows []estimateRow
	if err := d.db.SelectContext(ctx, &rows, d.q(`SELECT `+cols+` FROM incident_estimates e
		WHERE incident_id IN (`+placeholders(len(incidentIDs))+`)
		AND revision = (SELECT MAX(revision) FROM incident_estimates m WHERE m.incident_id = e.incident_id)`), args...); err != nil {
		return nil, translate(err)
	}
	for i := range rows {
		e, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[rows[i].IncidentID] = e
	}
	return out, nil
}
