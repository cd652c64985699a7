package store

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// The read side of :estimate. Each call costs a fixed number of queries for
// up to MaxPageSize customers or ranges, so 50,000 affected customers take
// 50 batches of three queries, never a query per customer, and never the
// whole table in memory at once.

// affectedQuery pages the incident's affected customers through the index
// (incident_id, customer_id, id) and joins their rows.
const affectedQuery = `SELECT %s, s.first_start, s.last_end FROM (
		SELECT customer_id, MIN(start_time) AS first_start, MAX(end_time) AS last_end
		FROM windows WHERE incident_id = ? AND customer_id > ?
		GROUP BY customer_id ORDER BY customer_id LIMIT ?
	) s JOIN customers ON customers.id = s.customer_id ORDER BY customers.id`

type affectedRow struct {
	customerRow
	FirstStart instant `db:"first_start"`
	LastEnd    instant `db:"last_end"`
}

// AffectedCustomers implements impact.EstimateStore: one query for the
// customers and their spans, one for all their contracts.
func (d *DB) AffectedCustomers(ctx context.Context, incidentID, after string, limit int) ([]impact.AffectedCustomer, error) {
	if err := checkID("name", incidentID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > impact.MaxPageSize {
		return nil, invalid("limit", "must be in [1, 1000]")
	}
	var rows []affectedRow
	q := strings.Replace(affectedQuery, "%s", d.customerCols(), 1)
	if err := d.db.SelectContext(ctx, &rows, d.q(q), incidentID, after, limit); err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		return nil, translate(d.incidentExists(ctx, d.db, incidentID))
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	byCustomer, err := d.contractsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]impact.AffectedCustomer, len(rows))
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		c.Contracts = byCustomer[c.ID]
		out[i] = impact.AffectedCustomer{Customer: c.Customer, FirstStart: rows[i].FirstStart.Time, LastEnd: rows[i].LastEnd.Time}
	}
	return out, nil
}

// contractsOf returns the contracts of the customers ids (at most
// MaxPageSize), by customer id, each customer's sorted by service.
func (d *DB) contractsOf(ctx context.Context, ids []string) (map[string][]impact.Contract, error) {
	q, args, err := sqlx.In(`SELECT `+d.contractCols()+` FROM contracts WHERE customer_id IN (?) ORDER BY customer_id, service`, ids)
	if err != nil {
		return nil, err
	}
	var ks []contractRow
	if err := d.db.SelectContext(ctx, &ks, d.q(q), args...); err != nil {
		return nil, translate(err)
	}
	byCustomer := make(map[string][]impact.Contract, len(ids))
	for i := range ks {
		k, err := ks[i].toDomain()
		if err != nil {
			return nil, err
		}
		byCustomer[k.CustomerID] = append(byCustomer[k.CustomerID], k.Contract)
	}
	return byCustomer, nil
}

// The ranges travel as a VALUES list joined to windows, which the index
// (customer_id, start_time) answers per range. PostgreSQL needs the
// parameter types spelled out: an untyped VALUES column would be text and
// could not be compared with a TIMESTAMPTZ.
const (
	rangeRowSQLite   = `(?, ?, ?)`
	rangeRowPostgres = `(?::text, ?::timestamptz, ?::timestamptz)`
	rangesQuery      = `WITH r (rc, lo, hi) AS (VALUES %s)
		SELECT DISTINCT %s FROM windows JOIN r ON customer_id = rc AND end_time >= lo AND start_time <= hi
		ORDER BY customer_id, incident_id, id`
	// PostgreSQL estimates a join of 1,000 ranges to cost more through the
	// index than a hash join over a sequential scan of every window, and
	// picks the scan: 1,000,000 windows read per call. The LATERAL subquery
	// with OFFSET 0 (which the planner may not flatten) keeps one index
	// range per customer.
	rangesQueryPostgres = `SELECT DISTINCT %s FROM (VALUES %s) r (rc, lo, hi)
		CROSS JOIN LATERAL (SELECT * FROM windows WHERE customer_id = r.rc AND end_time >= r.lo AND start_time <= r.hi OFFSET 0) windows
		ORDER BY customer_id, incident_id, id`
)

// windowsInRangesSQL is the query of n ranges, each three parameters:
// customer, from, to.
func (d *DB) windowsInRangesSQL(n int) string {
	tmpl := rangeRowSQLite
	if d.engine == Postgres {
		tmpl = rangeRowPostgres
	}
	values := strings.TrimSuffix(strings.Repeat(tmpl+", ", n), ", ")
	if d.engine == Postgres {
		q := strings.Replace(rangesQueryPostgres, "%s", d.windowCols(), 1)
		return strings.Replace(q, "%s", values, 1)
	}
	q := strings.Replace(rangesQuery, "%s", values, 1)
	return strings.Replace(q, "%s", d.windowCols(), 1)
}

// WindowsInRanges implements impact.EstimateStore: one query.
func (d *DB) WindowsInRanges(ctx context.Context, ranges []impact.CustomerRange) ([]impact.StoredWindow, error) {
	if len(ranges) == 0 {
		return nil, nil
	}
	if len(ranges) > impact.MaxPageSize {
		return nil, invalid("ranges", "at most 1000 ranges per call")
	}
	args := make([]any, 0, 3*len(ranges))
	for _, r := range ranges {
		args = append(args, r.CustomerID, d.ts(r.From), d.ts(r.To))
	}
	q := d.windowsInRangesSQL(len(ranges))
	var rows []windowRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
		return nil, translate(err)
	}
	out := make([]impact.StoredWindow, len(rows))
	for i := range rows {
		out[i] = rows[i].toDomain()
	}
	return out, nil
}

// The write side. Estimates and statements are stored as JSON documents
// (estimate_doc.go): they are outputs, recomputable from the stored
// inputs, and the model version names the rules that produced them.

const (
	lockIncidentSQLite = `SELECT 1 FROM incidents WHERE id = ?`
	// FOR NO KEY UPDATE serialises concurrent saves of one incident, so
	// that two cannot both pick the same next revision; unlike FOR UPDATE
	// it lets a writer's marks (rows referencing the incident, which take
	// FOR KEY SHARE) through while the save waits for the change counter.
	lockIncidentPostgres = `SELECT 1 FROM incidents WHERE id = ? FOR NO KEY UPDATE`
)

// Rows per multi-row INSERT: 500 estimates (10 parameters each) or 500
// statements (6 each) stay far below SQLite's 32,766 and PostgreSQL's
// 65,535 parameters.
const (
	statementChunk = 500
	estimateChunk  = 500
)

// estimateInsert is one estimate revision, encoded, ready to insert.
type estimateInsert struct {
	incidentID        string
	rev               int64
	modelVersion      string
	inputsDigest      string
	computeTime       any
	body              []byte
	reportingCurrency string
	fxRates           []byte
	source, actor     string // what wrote the revision, and for whom
}

// statementUpsert is one statement, encoded, ready to upsert.
type statementUpsert struct {
	s           *impact.StoredStatement
	body        []byte
	computeTime any
}

// fxDoc is an FXRate in an estimate's fx_rates document.
type fxDoc struct {
	From string `json:"from"`
	To   string `json:"to"`
	Rate string `json:"rate"`
}

// encodeSave checks and encodes one save as SaveEstimate takes it; now is
// the compute time of an estimate that has none. The revision is left to
// the caller.
func (d *DB) encodeSave(e *impact.StoredEstimate, sts []impact.StoredStatement, now time.Time) (estimateInsert, []statementUpsert, error) {
	var ins estimateInsert
	if err := checkID("incident_id", e.IncidentID); err != nil {
		return ins, nil, err
	}
	body, err := encodeEstimateBody(&e.IncidentEstimate)
	if err != nil {
		return ins, nil, err
	}
	fx := make([]fxDoc, len(e.FXRates))
	for i, r := range e.FXRates {
		fx[i] = fxDoc{r.From, r.To, r.Rate}
	}
	fxb, err := json.Marshal(fx)
	if err != nil {
		return ins, nil, err
	}
	ct := e.ComputeTime
	if ct.IsZero() {
		ct = now
	}
	ins = estimateInsert{incidentID: e.IncidentID, modelVersion: e.ModelVersion, inputsDigest: e.InputsDigest,
		computeTime: d.ts(ct), body: body, reportingCurrency: e.ReportingCurrency, fxRates: fxb,
		source: e.Source, actor: e.Actor}
	type key struct{ c, s, p string }
	seen := map[key]bool{}
	ups := make([]statementUpsert, len(sts))
	for i := range sts {
		s := &sts[i]
		if checkID("x", s.CustomerID) != nil || checkID("x", s.Service) != nil || checkID("x", s.Period) != nil {
			return ins, nil, invalid(fieldf("statements", i, ""), "needs a customer, a service and a period")
		}
		k := key{s.CustomerID, s.Service, s.Period}
		if seen[k] {
			return ins, nil, invalid(fieldf("statements", i, ""), "duplicate statement "+impact.StatementName(k.c, k.s, k.p))
		}
		seen[k] = true
		b, err := encodeStatementBody(&s.SLAStatement)
		if err != nil {
			return ins, nil, err
		}
		ups[i] = statementUpsert{s: s, body: b, computeTime: ins.computeTime}
	}
	return ins, ups, nil
}

// SourceEstimateIncident is the source of a revision written by :estimate.
const SourceEstimateIncident = "EstimateIncident"

// SaveEstimate implements impact.EstimateStore. The revision's source is
// SourceEstimateIncident and its actor the caller (impact.ActorFrom), whatever
// e says.
func (d *DB) SaveEstimate(ctx context.Context, e *impact.StoredEstimate, sts []impact.StoredStatement) (*impact.StoredEstimate, error) {
	now := d.now()
	ins, ups, err := d.encodeSave(e, sts, now)
	if err != nil {
		return nil, err
	}
	ins.source, ins.actor = SourceEstimateIncident, impact.ActorFrom(ctx)
	id := e.IncidentID
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var one int
		if err := tx.GetContext(ctx, &one, d.pick(lockIncidentSQLite, lockIncidentPostgres), id); err != nil {
			return noRows(err, impact.IncidentName(id))
		}
		_, err = d.saveLocked(ctx, tx, &ins, ups, e.Deps, ch.g, now, "EstimateIncident")
		return err
	})
	if err != nil {
		return nil, err
	}
	return d.GetEstimate(ctx, id, ins.rev)
}

// saveLocked stores one computed estimate of an incident locked by the
// caller, in a transaction that took change sequence g: a new revision only when the model version or the inputs digest
// moved from the latest revision (equal ones give equal figures: the engine
// is deterministic), else ins.rev is set to the latest; then its statements
// (upsertStatements, the one place statements are written), its freshness
// (recordHead) and an audit row with action. It reports whether it wrote a
// revision.
func (d *DB) saveLocked(ctx context.Context, tx *sqlx.Tx, ins *estimateInsert, ups []statementUpsert, deps *impact.EstimateDeps, g int64, now time.Time, action string) (bool, error) {
	id := ins.incidentID
	var latest []struct {
		Revision     int64  `db:"revision"`
		ModelVersion string `db:"model_version"`
		InputsDigest string `db:"inputs_digest"`
	}
	if err := tx.SelectContext(ctx, &latest, d.q(`SELECT revision, model_version, inputs_digest FROM incident_estimates
		WHERE incident_id = ? ORDER BY revision DESC LIMIT 1`), id); err != nil {
		return false, err
	}
	wrote := true
	detail := ""
	if len(latest) == 1 && latest[0].ModelVersion == ins.modelVersion && latest[0].InputsDigest == ins.inputsDigest && ins.inputsDigest != "" {
		ins.rev, wrote = latest[0].Revision, false
		detail = "revision " + itoa(int(ins.rev)) + " unchanged"
	} else {
		ins.rev = 1
		if len(latest) == 1 {
			ins.rev = latest[0].Revision + 1
		}
		if err := d.insertEstimates(ctx, tx, []estimateInsert{*ins}); err != nil {
			return false, err
		}
		detail = "revision " + itoa(int(ins.rev))
	}
	// A statement whose body did not change keeps its revision.
	if err := d.upsertStatements(ctx, tx, ups, true); err != nil {
		return false, err
	}
	if err := d.recordHead(ctx, tx, id, deps, g); err != nil {
		return false, err
	}
	// No before/after: every revision of an estimate is kept in full,
	// named by the detail.
	return wrote, d.audit(ctx, tx, now, action, impact.EstimateName(id), detail, "", nil)
}

// insertEstimates inserts revisions with multi-row INSERTs.
func (d *DB) insertEstimates(ctx context.Context, tx *sqlx.Tx, rows []estimateInsert) error {
	for lo := 0; lo < len(rows); lo += estimateChunk {
		part := rows[lo:min(lo+estimateChunk, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO incident_estimates (incident_id, revision, model_version, inputs_digest, compute_time, body,
			reporting_currency, fx_rates, source, actor) VALUES `)
		args := make([]any, 0, 10*len(part))
		for i := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			r := &part[i]
			args = append(args, r.incidentID, r.rev, r.modelVersion, r.inputsDigest, r.computeTime, r.body,
				r.reportingCurrency, r.fxRates, r.source, r.actor)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// upsertStatements replaces statements, bumping their revision. With
// onlyChanged (recompute jobs) a statement whose body is unchanged is left
// as it is, so that several incidents writing one statement, or a chunk
// redone after an interruption, do not bump it again. Keys must be
// distinct: PostgreSQL cannot update one row twice in a statement.
func (d *DB) upsertStatements(ctx context.Context, tx *sqlx.Tx, ups []statementUpsert, onlyChanged bool) error {
	for lo := 0; lo < len(ups); lo += statementChunk {
		part := ups[lo:min(lo+statementChunk, len(ups))]
		var b strings.Builder
		b.WriteString(`INSERT INTO sla_statements (customer_id, service, period, period_start, revision, compute_time, body) VALUES `)
		args := make([]any, 0, 6*len(part))
		for i := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, 1, ?, ?)")
			s := part[i].s
			args = append(args, s.CustomerID, s.Service, s.Period, d.ts(s.PeriodStart), part[i].computeTime, part[i].body)
		}
		b.WriteString(` ON CONFLICT (customer_id, service, period) DO UPDATE SET period_start = excluded.period_start,
		revision = sla_statements.revision + 1, compute_time = excluded.compute_time, body = excluded.body`)
		if onlyChanged {
			// Both sides are TEXT in SQLite (the same marshalling of the
			// same statement is byte-identical) and JSONB in PostgreSQL
			// (compared as values).
			b.WriteString(` WHERE sla_statements.body <> excluded.body`)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	// Every stored statement passes here: the ledger follows it in the
	// same transaction (ledger.go).
	return d.followStatements(ctx, tx, ups)
}

const estimateCols = `incident_id, revision, model_version, inputs_digest, compute_time, body, reporting_currency, fx_rates,
	source, actor`

type estimateRow struct {
	IncidentID        string  `db:"incident_id"`
	Revision          int64   `db:"revision"`
	ModelVersion      string  `db:"model_version"`
	InputsDigest      string  `db:"inputs_digest"`
	ComputeTime       instant `db:"compute_time"`
	Body              []byte  `db:"body"`
	ReportingCurrency string  `db:"reporting_currency"`
	FXRates           []byte  `db:"fx_rates"`
	Source            string  `db:"source"`
	Actor             string  `db:"actor"`
}

func (r *estimateRow) toDomain() (*impact.StoredEstimate, error) {
	e := &impact.StoredEstimate{Name: impact.EstimateName(r.IncidentID), ModelVersion: r.ModelVersion,
		InputsDigest: r.InputsDigest, ComputeTime: r.ComputeTime.Time, Revision: r.Revision,
		ReportingCurrency: r.ReportingCurrency, Source: r.Source, Actor: r.Actor}
	var err error
	if e.IncidentEstimate, err = decodeEstimateBody(r.Body); err != nil {
		return nil, err
	}
	var fx []fxDoc
	if err := json.Unmarshal(r.FXRates, &fx); err != nil {
		return nil, err
	}
	for _, x := range fx {
		e.FXRates = append(e.FXRates, impact.FXRate{From: x.From, To: x.To, Rate: x.Rate})
	}
	return e, nil
}

// GetEstimate implements impact.EstimateStore.
func (d *DB) GetEstimate(ctx context.Context, incidentID string, rev int64) (*impact.StoredEstimate, error) {
	if err := checkID("name", incidentID); err != nil {
		return nil, err
	}
	const cols = `SELECT ` + estimateCols + ` FROM incident_estimates`
	var r estimateRow
	var err error
	if rev == 0 {
		err = d.db.GetContext(ctx, &r, d.q(cols+` WHERE incident_id = ? ORDER BY revision DESC LIMIT 1`), incidentID)
	} else {
		err = d.db.GetContext(ctx, &r, d.q(cols+` WHERE incident_id = ? AND revision = ?`), incidentID, rev)
	}
	if err != nil {
		return nil, translate(noRows(err, impact.EstimateName(incidentID)))
	}
	e, err := r.toDomain()
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		err = d.freshness(ctx, d.db, e, incidentID)
	} else {
		err = d.revisionFreshness(ctx, incidentID, []*impact.StoredEstimate{e})
	}
	if err != nil {
		return nil, translate(err)
	}
	return e, nil
}

// revisionFreshness fills in the freshness of revisions of one incident's
// estimate: the latest revision's state for the latest and for any
// revision computed by the same model version from the same inputs digest;
// STALE naming the estimate for any other (a newer revision superseded it).
func (d *DB) revisionFreshness(ctx context.Context, incidentID string, es []*impact.StoredEstimate) error {
	if len(es) == 0 {
		return nil
	}
	var latest struct {
		Revision     int64  `db:"revision"`
		ModelVersion string `db:"model_version"`
		InputsDigest string `db:"inputs_digest"`
	}
	if err := d.db.GetContext(ctx, &latest, d.q(`SELECT revision, model_version, inputs_digest FROM incident_estimates
		WHERE incident_id = ? ORDER BY revision DESC LIMIT 1`), incidentID); err != nil {
		return err
	}
	var head impact.StoredEstimate
	if err := d.freshness(ctx, d.db, &head, incidentID); err != nil {
		return err
	}
	for _, e := range es {
		if e.Revision == latest.Revision || (e.ModelVersion == latest.ModelVersion && e.InputsDigest == latest.InputsDigest && e.InputsDigest != "") {
			e.State, e.StaleReasons, e.RefreshError = head.State, head.StaleReasons, head.RefreshError
			continue
		}
		e.State, e.StaleReasons = impact.StateStale, []string{impact.EstimateName(incidentID)}
	}
	return nil
}

// ListEstimateRevisions implements impact.EstimateStore: newest revision
// first, keyset-paged by revision through the primary key.
func (d *DB) ListEstimateRevisions(ctx context.Context, incidentID string, p impact.PageRequest) (*impact.Page[impact.StoredEstimate], error) {
	if err := checkID("name", incidentID); err != nil {
		return nil, err
	}
	pg, err := parsePage(p, 1, "ListEstimateRevisions", incidentID)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT `+estimateCols+` FROM incident_estimates WHERE incident_id = ?`, []any{incidentID}
	if pg.after != nil {
		after, err := strconv.ParseInt(pg.after[0], 10, 64)
		if err != nil {
			return nil, invalid("page_token", "malformed page token")
		}
		q, args = q+` AND revision < ?`, append(args, after)
	}
	var rows []estimateRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY revision DESC LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		// Empty for an incident without estimates (or past its last
		// page); ENOTFOUND for no incident.
		if err := d.incidentExists(ctx, d.db, incidentID); err != nil {
			return nil, translate(err)
		}
	}
	rows, next := trim(pg, rows, func(r *estimateRow) []string { return []string{strconv.FormatInt(r.Revision, 10)} })
	out := &impact.Page[impact.StoredEstimate]{Items: make([]impact.StoredEstimate, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		e, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *e)
	}
	ptrs := make([]*impact.StoredEstimate, len(out.Items))
	for i := range out.Items {
		ptrs[i] = &out.Items[i]
	}
	if err := d.revisionFreshness(ctx, incidentID, ptrs); err != nil {
		return nil, translate(err)
	}
	return out, nil
}

type statementRow struct {
	Revision    int64   `db:"revision"`
	ComputeTime instant `db:"compute_time"`
	Body        []byte  `db:"body"`
}

// GetStatement implements impact.EstimateStore.
func (d *DB) GetStatement(ctx context.Context, customerID, service, period string) (*impact.StoredStatement, error) {
	for _, id := range []string{customerID, service, period} {
		if err := checkID("name", id); err != nil {
			return nil, err
		}
	}
	name := impact.StatementName(customerID, service, period)
	var r statementRow
	err := d.db.GetContext(ctx, &r, d.q(`SELECT revision, compute_time, body FROM sla_statements
		WHERE customer_id = ? AND service = ? AND period = ?`), customerID, service, period)
	if err != nil {
		return nil, translate(noRows(err, name))
	}
	s := &impact.StoredStatement{Period: period, Name: name, ComputeTime: r.ComputeTime.Time, Revision: r.Revision}
	if s.SLAStatement, err = decodeStatementBody(r.Body); err != nil {
		return nil, err
	}
	return s, nil
}
