package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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

// Recompute jobs (impact.JobStore): a job, its filter, and its chunks as
// planned by impact.ChunkPlan. Chunks are leased and completed in
// leases.go; what they found is in changes.go. A job's chunks are rows
// leased with a random token and an expiry: a worker that dies loses its
// chunk when the lease expires, and its late CompleteChunk finds another
// token and writes nothing. On PostgreSQL, SELECT … FOR UPDATE SKIP LOCKED hands a free
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
// by impact.ChunkPlan, written chunkRowsPerInsert at a time.
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
	var (
		plan    = impact.ChunkPlan{Size: chunkSize}
		pending []impact.PlannedChunk
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
			ids, _ := json.Marshal(c.IncidentIDs)
			chunks++
			args = append(args, id, chunks, ids, c.Customers)
		}
		pending = pending[:0]
		_, err := tx.ExecContext(ctx, d.q(b.String()), args...)
		return err
	}
	closeChunk := func(c impact.PlannedChunk) error {
		pending = append(pending, c)
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
			if c, ok := plan.Add(r.ID, r.Customers); ok {
				if err := closeChunk(c); err != nil {
					return 0, 0, 0, err
				}
			}
		}
		if len(rows) < planBatch {
			break
		}
		after = rows[len(rows)-1].ID
	}
	if c, ok := plan.End(); ok {
		if err := closeChunk(c); err != nil {
			return 0, 0, 0, err
		}
	}
	return plan.Incidents, plan.Customers, chunks, flush()
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
