package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

// The credit ledger (README "Credit ledger", impact/doc.go). Lines follow
// the stored statements: every statement write (SaveEstimate, a recompute
// chunk, anything else that goes through upsertStatements) calls
// followStatements in its own transaction. States are derived from the
// clock at read (impact.CreditLine.StateAt); the one thing time alone
// changes in the journal — the release of a line that expired unclaimed —
// is booked by settle, which every ledger call and every statement or
// contract write runs first, dated to the deadline.

// SetLedgerZone sets the zone of accounting periods (default UTC). It must
// be called before the store is used.
func (d *DB) SetLedgerZone(name string) error {
	loc, err := impact.LedgerZone(name)
	if err != nil {
		return err
	}
	d.ledgerLoc = loc
	return nil
}

func (d *DB) ledgerZone() *time.Location {
	if d.ledgerLoc == nil {
		return time.UTC
	}
	return d.ledgerLoc
}

var _ impact.LedgerStore = (*DB)(nil)

const lineCols = `customer_id, service, period, currency_code, amount_minor, period_start, period_end, time_zone,
	billing_period, claim_mode, deadline_days, deadline_periods, claim_deadline, incidents, claim_time, claim_reference,
	claimed_by, approve_time, approved_by, reject_time, rejected_by, reject_reason, issue_time, issued_by, issued_minor,
	billing_reference, booked_minor, accrued, revision, create_time, update_time`

func (d *DB) tsOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.ts(t)
}

// claimDoc is a contract's claim policy in its terms document.
type claimDoc struct {
	Mode            int32 `json:"mode,omitempty"`
	DeadlineDays    int32 `json:"deadline_days,omitempty"`
	DeadlinePeriods int32 `json:"deadline_billing_periods,omitempty"`
}

func claimPolicyDoc(p impact.ClaimPolicy) *claimDoc {
	if p == (impact.ClaimPolicy{}) {
		return nil
	}
	return &claimDoc{int32(p.Mode), p.DeadlineDays, p.DeadlineBillingPeriods}
}

func (c *claimDoc) get() impact.ClaimPolicy {
	if c == nil {
		return impact.ClaimPolicy{}
	}
	return impact.ClaimPolicy{Mode: impact.ClaimMode(c.Mode), DeadlineDays: c.DeadlineDays, DeadlineBillingPeriods: c.DeadlinePeriods}
}

type lineRow struct {
	CustomerID       string        `db:"customer_id"`
	Service          string        `db:"service"`
	Period           string        `db:"period"`
	Currency         string        `db:"currency_code"`
	Amount           int64         `db:"amount_minor"`
	PeriodStart      instant       `db:"period_start"`
	PeriodEnd        instant       `db:"period_end"`
	TimeZone         string        `db:"time_zone"`
	BillingPeriod    int32         `db:"billing_period"`
	ClaimMode        int32         `db:"claim_mode"`
	DeadlineDays     int32         `db:"deadline_days"`
	DeadlinePeriods  int32         `db:"deadline_periods"`
	ClaimDeadline    nullInstant   `db:"claim_deadline"`
	Incidents        string        `db:"incidents"`
	ClaimTime        nullInstant   `db:"claim_time"`
	ClaimReference   string        `db:"claim_reference"`
	ClaimedBy        string        `db:"claimed_by"`
	ApproveTime      nullInstant   `db:"approve_time"`
	ApprovedBy       string        `db:"approved_by"`
	RejectTime       nullInstant   `db:"reject_time"`
	RejectedBy       string        `db:"rejected_by"`
	RejectReason     string        `db:"reject_reason"`
	IssueTime        nullInstant   `db:"issue_time"`
	IssuedBy         string        `db:"issued_by"`
	IssuedMinor      sql.NullInt64 `db:"issued_minor"`
	BillingReference string        `db:"billing_reference"`
	Booked           int64         `db:"booked_minor"`
	Accrued          int64         `db:"accrued"`
	Revision         int64         `db:"revision"`
	CreateTime       instant       `db:"create_time"`
	UpdateTime       instant       `db:"update_time"`
}

// shareDoc is an incident's attributed share in a line's incidents document.
type shareDoc struct {
	IncidentID      string `json:"incident_id"`
	DowntimeSeconds string `json:"downtime_seconds"`
	Currency        string `json:"currency_code"`
	Credit          string `json:"credit"`
}

func encodeShares(shares []impact.IncidentShare) string {
	docs := make([]shareDoc, len(shares))
	for i, s := range shares {
		docs[i] = shareDoc{s.IncidentID, s.DowntimeSeconds.String(), s.Credit.Currency, s.Credit.String()}
	}
	b, _ := json.Marshal(docs) // strings only: cannot fail
	return string(b)
}

func decodeShares(s string) ([]impact.IncidentShare, error) {
	var docs []shareDoc
	if err := json.Unmarshal([]byte(s), &docs); err != nil {
		return nil, err
	}
	out := make([]impact.IncidentShare, len(docs))
	for i, x := range docs {
		dt, err1 := decimal.NewFromString(x.DowntimeSeconds)
		cr, err2 := decimal.NewFromString(x.Credit)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out[i] = impact.IncidentShare{IncidentID: x.IncidentID, DowntimeSeconds: dt, Credit: impact.Money{Currency: x.Currency, Amount: cr}}
	}
	return out, nil
}

func (r *lineRow) toDomain() (*impact.CreditLine, error) {
	shares, err := decodeShares(r.Incidents)
	if err != nil {
		return nil, err
	}
	return &impact.CreditLine{
		CustomerID: r.CustomerID, Service: r.Service, Period: r.Period,
		Name:     impact.CreditLineName(r.CustomerID, r.Service, r.Period),
		Currency: r.Currency, Amount: r.Amount,
		PeriodStart: r.PeriodStart.Time, PeriodEnd: r.PeriodEnd.Time,
		TimeZone: r.TimeZone, BillingPeriod: impact.BillingPeriod(r.BillingPeriod),
		Policy: impact.ClaimPolicy{Mode: impact.ClaimMode(r.ClaimMode), DeadlineDays: r.DeadlineDays,
			DeadlineBillingPeriods: r.DeadlinePeriods},
		ClaimDeadline: r.ClaimDeadline.Time, Incidents: shares,
		ClaimTime: r.ClaimTime.Time, ClaimReference: r.ClaimReference, ClaimedBy: r.ClaimedBy,
		ApproveTime: r.ApproveTime.Time, ApprovedBy: r.ApprovedBy,
		RejectTime: r.RejectTime.Time, RejectedBy: r.RejectedBy, RejectReason: r.RejectReason,
		IssueTime: r.IssueTime.Time, IssuedBy: r.IssuedBy, IssuedAmount: r.IssuedMinor.Int64,
		BillingReference: r.BillingReference,
		Booked:           r.Booked, Accrued: r.Accrued != 0,
		CreateTime: r.CreateTime.Time, UpdateTime: r.UpdateTime.Time, Revision: r.Revision,
		Etag: etag(impact.CreditLineName(r.CustomerID, r.Service, r.Period), r.CreateTime.Time, r.Revision),
	}, nil
}

// forUpdate locks the rows a PostgreSQL SELECT reads until the transaction
// ends; SQLite transactions hold the write lock from BEGIN IMMEDIATE.
func (d *DB) forUpdate() string {
	if d.engine == Postgres {
		return ` FOR UPDATE`
	}
	return ""
}

// closedThrough is the latest closed accounting month, "" when none is.
func (d *DB) closedThrough(ctx context.Context, q sqlx.QueryerContext) (string, error) {
	var p string
	err := sqlx.GetContext(ctx, q, &p, `SELECT COALESCE(MAX(period), '') FROM ledger_periods`)
	return p, err
}

// entryInsert is one journal entry, ready to insert.
type entryInsert struct {
	c, s, p, period string
	kind            impact.EntryKind
	currency        string
	delta           int64
	at              any
}

// booking computes the entry that brings l's booked amount to what its
// state st requires (impact.Booking), dated at and booked in the open
// accounting period of that instant, and applies it to l in memory; nil
// when nothing is to be booked.
func (d *DB) booking(l *impact.CreditLine, st impact.CreditState, at time.Time, closed string) *entryInsert {
	kind, delta, ok := impact.Booking(l.Booked, l.Accrued, st, l.Amount)
	if !ok {
		return nil
	}
	l.Booked += delta
	if kind == impact.Accrual {
		l.Accrued = true
	}
	return &entryInsert{l.CustomerID, l.Service, l.Period, impact.EntryPeriod(at, d.ledgerZone(), closed), kind,
		l.Currency, delta, d.ts(at)}
}

// entryChunk is the entries per multi-row INSERT (eight parameters each).
const entryChunk = 500

func (d *DB) insertEntries(ctx context.Context, tx *sqlx.Tx, es []*entryInsert) error {
	for lo := 0; lo < len(es); lo += entryChunk {
		part := es[lo:min(lo+entryChunk, len(es))]
		var b strings.Builder
		b.WriteString(`INSERT INTO ledger_entries (customer_id, service, period, accounting_period, kind, currency_code,
			delta_minor, entry_time) VALUES `)
		args := make([]any, 0, 8*len(part))
		for i, e := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, e.c, e.s, e.p, e.period, int32(e.kind), e.currency, e.delta, e.at)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// book writes the booking of l in state st (see booking) and its new
// booked amount.
func (d *DB) book(ctx context.Context, tx *sqlx.Tx, l *impact.CreditLine, st impact.CreditState, at time.Time, closed string) error {
	e := d.booking(l, st, at, closed)
	if e == nil {
		return nil
	}
	if err := d.insertEntries(ctx, tx, []*entryInsert{e}); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, d.q(`UPDATE credit_lines SET booked_minor = ?, accrued = ?
		WHERE customer_id = ? AND service = ? AND period = ?`), l.Booked, boolInt(l.Accrued), l.CustomerID, l.Service, l.Period)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// dueSQL selects the lines whose claim deadline has passed unclaimed while
// they still carry a booking: their release is due.
const dueSQL = `FROM credit_lines WHERE claim_mode = 2 AND claim_deadline <= ? AND claim_time IS NULL
	AND issue_time IS NULL AND booked_minor <> 0`

// settle books the releases that time alone has made due by now: each
// line that expired unclaimed is released at its deadline, in the
// accounting period of the deadline if still open, else in the first open
// one.
func (d *DB) settle(ctx context.Context, tx *sqlx.Tx, now time.Time) error {
	var rows []lineRow
	if err := tx.SelectContext(ctx, &rows, d.q(`SELECT `+lineCols+` `+dueSQL+` ORDER BY customer_id, service, period`+d.forUpdate()),
		d.ts(now)); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	closed, err := d.closedThrough(ctx, tx)
	if err != nil {
		return err
	}
	for i := range rows {
		l, err := rows[i].toDomain()
		if err != nil {
			return err
		}
		if err := d.book(ctx, tx, l, l.StateAt(now), l.ClaimDeadline, closed); err != nil {
			return err
		}
	}
	return nil
}

// settleIfDue runs settle in its own transaction when a release is due, so
// that reads see the journal as of now. The check is one indexed query.
func (d *DB) settleIfDue(ctx context.Context, now time.Time) error {
	var one int
	err := d.db.GetContext(ctx, &one, d.q(`SELECT 1 `+dueSQL+` LIMIT 1`), d.ts(now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return translate(err)
	}
	return d.inTx(ctx, func(tx *sqlx.Tx) error { return d.settle(ctx, tx, now) })
}

type lineKey struct{ c, s, p string }

// lineChunk is the keys per query: three parameters each.
const lineChunk = 300

// linesByKeys returns the stored lines among keys (at most lineChunk).
func (d *DB) linesByKeys(ctx context.Context, q sqlx.QueryerContext, keys []lineKey, lock bool) (map[lineKey]*impact.CreditLine, error) {
	out := map[lineKey]*impact.CreditLine{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, 0, 3*len(keys))
	for _, k := range keys {
		args = append(args, k.c, k.s, k.p)
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(keys)), ", ")
	query := `SELECT ` + lineCols + ` FROM credit_lines WHERE (customer_id, service, period) IN (VALUES ` + values + `)
		ORDER BY customer_id, service, period`
	if lock {
		query += d.forUpdate()
	}
	var rows []lineRow
	if err := sqlx.SelectContext(ctx, q, &rows, d.q(query), args...); err != nil {
		return nil, err
	}
	for i := range rows {
		l, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[lineKey{l.CustomerID, l.Service, l.Period}] = l
	}
	return out, nil
}

// contractsByKeys returns the stored contracts among keys (customer, service).
func (d *DB) contractsByKeys(ctx context.Context, q sqlx.QueryerContext, keys [][2]string) (map[[2]string]*impact.Contract, error) {
	out := map[[2]string]*impact.Contract{}
	if len(keys) == 0 {
		return out, nil
	}
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k[0], k[1])
	}
	values := strings.TrimSuffix(strings.Repeat("(?, ?), ", len(keys)), ", ")
	var rows []contractRow
	if err := sqlx.SelectContext(ctx, q, &rows, d.q(`SELECT `+d.contractCols()+` FROM contracts
		WHERE (customer_id, service) IN (VALUES `+values+`)`), args...); err != nil {
		return nil, err
	}
	for i := range rows {
		k, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[[2]string{k.CustomerID, k.Service}] = &k.Contract
	}
	return out, nil
}

// applyPolicy sets the line's claim policy and deadline from its contract.
func applyPolicy(l *impact.CreditLine, k *impact.Contract) error {
	l.Policy = k.ClaimPolicy
	l.TimeZone, l.BillingPeriod = k.TimeZone, k.BillingPeriod
	dl, ok, err := impact.ClaimDeadline(l.PeriodStart, l.PeriodEnd, l.TimeZone, l.BillingPeriod, l.Policy)
	if err != nil {
		return err
	}
	if !ok {
		dl = time.Time{}
	}
	l.ClaimDeadline = dl
	return nil
}

// followStatements keeps the credit lines of the statements ups in step
// with them, in the transaction that writes them: a line is created when a
// statement's credit_amount is first positive, and until it is issued its
// amount, incidents and claim policy follow the statement and its contract.
// Every change of what a line books is a journal entry at now.
func (d *DB) followStatements(ctx context.Context, tx *sqlx.Tx, ups []statementUpsert) error {
	if len(ups) == 0 {
		return nil
	}
	now := d.now()
	if err := d.settle(ctx, tx, now); err != nil {
		return err
	}
	closed, err := d.closedThrough(ctx, tx)
	if err != nil {
		return err
	}
	for lo := 0; lo < len(ups); lo += lineChunk {
		part := ups[lo:min(lo+lineChunk, len(ups))]
		keys := make([]lineKey, len(part))
		for i, u := range part {
			keys[i] = lineKey{u.s.CustomerID, u.s.Service, u.s.Period}
		}
		lines, err := d.linesByKeys(ctx, tx, keys, true)
		if err != nil {
			return err
		}
		var need [][2]string
		seen := map[[2]string]bool{}
		for i, u := range part {
			l := lines[keys[i]]
			if (l == nil && u.s.CreditAmount.Amount.IsPositive()) || (l != nil && l.IssueTime.IsZero()) {
				ck := [2]string{u.s.CustomerID, u.s.Service}
				if !seen[ck] {
					seen[ck] = true
					need = append(need, ck)
				}
			}
		}
		if len(need) == 0 {
			continue
		}
		contracts, err := d.contractsByKeys(ctx, tx, need)
		if err != nil {
			return err
		}
		var batch followBatch
		for i, u := range part {
			k := contracts[[2]string{u.s.CustomerID, u.s.Service}]
			if k == nil {
				continue // not needed, or the contract is gone
			}
			if err := d.followOne(ctx, tx, &batch, lines[keys[i]], u.s, k, now, closed); err != nil {
				return err
			}
		}
		if err := d.insertLines(ctx, tx, batch.lines, now); err != nil {
			return err
		}
		if err := d.insertEntries(ctx, tx, batch.entries); err != nil {
			return err
		}
	}
	return nil
}

// followBatch gathers the new lines and the entries of one chunk of
// statements, written with multi-row INSERTs: a recompute stores thousands
// of statements a chunk, and one round trip per line would dominate it.
type followBatch struct {
	lines   []*newLine
	entries []*entryInsert
}

type newLine struct {
	l      *impact.CreditLine
	shares string
}

// lineInsertChunk is the lines per multi-row INSERT (19 parameters each).
const lineInsertChunk = 200

func (d *DB) insertLines(ctx context.Context, tx *sqlx.Tx, ls []*newLine, now time.Time) error {
	for lo := 0; lo < len(ls); lo += lineInsertChunk {
		part := ls[lo:min(lo+lineInsertChunk, len(ls))]
		var b strings.Builder
		b.WriteString(`INSERT INTO credit_lines (customer_id, service, period, currency_code, amount_minor, period_start,
			period_end, time_zone, billing_period, claim_mode, deadline_days, deadline_periods, claim_deadline, incidents,
			booked_minor, accrued, revision, create_time, update_time) VALUES `)
		args := make([]any, 0, 19*len(part))
		for i, n := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)")
			l := n.l
			args = append(args, l.CustomerID, l.Service, l.Period, l.Currency, l.Amount, d.ts(l.PeriodStart),
				d.ts(l.PeriodEnd), l.TimeZone, int32(l.BillingPeriod), int32(l.Policy.Mode), l.Policy.DeadlineDays,
				l.Policy.DeadlineBillingPeriods, d.tsOrNil(l.ClaimDeadline), n.shares, l.Booked, boolInt(l.Accrued),
				d.ts(now), d.ts(now))
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// followOne creates (into batch) or updates the line of statement s (l
// nil: none yet), with the entries its booking needs.
func (d *DB) followOne(ctx context.Context, tx *sqlx.Tx, batch *followBatch, l *impact.CreditLine, s *impact.StoredStatement, k *impact.Contract, now time.Time, closed string) error {
	cr := s.CreditAmount
	amount, err := impact.ToMinor(cr.Currency, cr.Amount)
	if err != nil {
		return err
	}
	shares := encodeShares(s.Incidents)
	add := func(e *entryInsert) {
		if e != nil {
			batch.entries = append(batch.entries, e)
		}
	}
	if l == nil {
		if amount <= 0 {
			return nil
		}
		l = &impact.CreditLine{CustomerID: s.CustomerID, Service: s.Service, Period: s.Period,
			Currency: cr.Currency, Amount: amount, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd}
		if err := applyPolicy(l, k); err != nil {
			return err
		}
		add(d.booking(l, l.StateAt(now), now, closed))
		batch.lines = append(batch.lines, &newLine{l, shares})
		return nil
	}
	if !l.IssueTime.IsZero() {
		return nil // issued: frozen
	}
	next := *l
	next.Amount, next.Currency = amount, cr.Currency
	next.PeriodStart, next.PeriodEnd = s.PeriodStart, s.PeriodEnd
	if err := applyPolicy(&next, k); err != nil {
		return err
	}
	if next.Amount == l.Amount && next.Currency == l.Currency && shares == encodeShares(l.Incidents) &&
		samePolicy(&next, l) && next.PeriodStart.Equal(l.PeriodStart) && next.PeriodEnd.Equal(l.PeriodEnd) {
		return nil
	}
	if next.Currency != l.Currency {
		// A customer's currency changed: the old currency's booking goes
		// back to 0 before the new one is booked.
		old := *l
		old.Amount = 0
		add(d.booking(&old, l.StateAt(now), now, closed))
		next.Booked, next.Accrued = old.Booked, old.Accrued
	}
	add(d.booking(&next, next.StateAt(now), now, closed))
	return d.updateFollowed(ctx, tx, &next, shares, now)
}

func samePolicy(a, b *impact.CreditLine) bool {
	return a.Policy == b.Policy && a.ClaimDeadline.Equal(b.ClaimDeadline) && a.TimeZone == b.TimeZone &&
		a.BillingPeriod == b.BillingPeriod
}

// updateFollowed writes what a line takes from its statement and contract,
// and what it books.
func (d *DB) updateFollowed(ctx context.Context, tx *sqlx.Tx, l *impact.CreditLine, shares string, now time.Time) error {
	_, err := tx.ExecContext(ctx, d.q(`UPDATE credit_lines SET currency_code = ?, amount_minor = ?, period_start = ?,
		period_end = ?, time_zone = ?, billing_period = ?, claim_mode = ?, deadline_days = ?, deadline_periods = ?,
		claim_deadline = ?, incidents = ?, booked_minor = ?, accrued = ?, revision = revision + 1, update_time = ?
		WHERE customer_id = ? AND service = ? AND period = ?`),
		l.Currency, l.Amount, d.ts(l.PeriodStart), d.ts(l.PeriodEnd), l.TimeZone, int32(l.BillingPeriod),
		int32(l.Policy.Mode), l.Policy.DeadlineDays, l.Policy.DeadlineBillingPeriods, d.tsOrNil(l.ClaimDeadline),
		shares, l.Booked, boolInt(l.Accrued), d.ts(now), l.CustomerID, l.Service, l.Period)
	return err
}

// followContract applies a contract's updated claim policy to its lines
// that are not issued, in the update's transaction, and books what their
// new states require (a line that a longer deadline makes CLAIMABLE again
// is booked again as a TRUE_UP).
func (d *DB) followContract(ctx context.Context, tx *sqlx.Tx, customerID string, k *impact.Contract, now time.Time) error {
	if err := d.settle(ctx, tx, now); err != nil {
		return err
	}
	var rows []lineRow
	if err := tx.SelectContext(ctx, &rows, d.q(`SELECT `+lineCols+` FROM credit_lines
		WHERE customer_id = ? AND service = ? AND issue_time IS NULL ORDER BY period`+d.forUpdate()), customerID, k.Service); err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	closed, err := d.closedThrough(ctx, tx)
	if err != nil {
		return err
	}
	for i := range rows {
		l, err := rows[i].toDomain()
		if err != nil {
			return err
		}
		next := *l
		if err := applyPolicy(&next, k); err != nil {
			return err
		}
		if samePolicy(&next, l) {
			continue
		}
		if e := d.booking(&next, next.StateAt(now), now, closed); e != nil {
			if err := d.insertEntries(ctx, tx, []*entryInsert{e}); err != nil {
				return err
			}
		}
		if err := d.updateFollowed(ctx, tx, &next, rows[i].Incidents, now); err != nil {
			return err
		}
	}
	return nil
}

// Reads.

type entryRow struct {
	CustomerID       string  `db:"customer_id"`
	Service          string  `db:"service"`
	Period           string  `db:"period"`
	AccountingPeriod string  `db:"accounting_period"`
	Kind             int32   `db:"kind"`
	Currency         string  `db:"currency_code"`
	Delta            int64   `db:"delta_minor"`
	Time             instant `db:"entry_time"`
}

// withEntries fills the entries of lines, oldest first.
func (d *DB) withEntries(ctx context.Context, q sqlx.QueryerContext, lines []*impact.CreditLine) error {
	for lo := 0; lo < len(lines); lo += lineChunk {
		part := lines[lo:min(lo+lineChunk, len(lines))]
		args := make([]any, 0, 3*len(part))
		byKey := map[lineKey]*impact.CreditLine{}
		for _, l := range part {
			args = append(args, l.CustomerID, l.Service, l.Period)
			byKey[lineKey{l.CustomerID, l.Service, l.Period}] = l
		}
		values := strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(part)), ", ")
		var rows []entryRow
		if err := sqlx.SelectContext(ctx, q, &rows, d.q(`SELECT customer_id, service, period, accounting_period, kind,
			currency_code, delta_minor, entry_time FROM ledger_entries
			WHERE (customer_id, service, period) IN (VALUES `+values+`) ORDER BY id`), args...); err != nil {
			return err
		}
		for _, r := range rows {
			l := byKey[lineKey{r.CustomerID, r.Service, r.Period}]
			l.Entries = append(l.Entries, impact.LedgerEntry{AccountingPeriod: r.AccountingPeriod,
				Kind: impact.EntryKind(r.Kind), Delta: r.Delta, Currency: r.Currency, Time: r.Time.Time})
		}
	}
	return nil
}

// GetCreditLine implements impact.LedgerStore; State is set as of now.
func (d *DB) GetCreditLine(ctx context.Context, customerID, service, period string) (*impact.CreditLine, error) {
	for _, id := range []string{customerID, service, period} {
		if err := checkID("name", id); err != nil {
			return nil, err
		}
	}
	now := d.now()
	if err := d.settleIfDue(ctx, now); err != nil {
		return nil, err
	}
	return d.getLine(ctx, customerID, service, period, now)
}

func (d *DB) getLine(ctx context.Context, customerID, service, period string, now time.Time) (*impact.CreditLine, error) {
	var r lineRow
	err := d.db.GetContext(ctx, &r, d.q(`SELECT `+lineCols+` FROM credit_lines WHERE customer_id = ? AND service = ? AND period = ?`),
		customerID, service, period)
	if err != nil {
		return nil, translate(noRows(err, impact.CreditLineName(customerID, service, period)))
	}
	l, err := r.toDomain()
	if err != nil {
		return nil, err
	}
	if err := d.withEntries(ctx, d.db, []*impact.CreditLine{l}); err != nil {
		return nil, translate(err)
	}
	l.State = l.StateAt(now)
	return l, nil
}

// stateSQL is impact.CreditLine.StateAt in SQL, for filters: eight
// parameters, all now.
const stateSQL = `(CASE
	WHEN issue_time IS NOT NULL AND issue_time <= ? THEN 6
	WHEN reject_time IS NOT NULL AND reject_time <= ? THEN 5
	WHEN approve_time IS NOT NULL AND approve_time <= ? THEN 4
	WHEN claim_time IS NOT NULL AND claim_time <= ? THEN 3
	WHEN ? < period_end THEN 1
	WHEN claim_mode <> 2 THEN 4
	WHEN claim_deadline IS NOT NULL AND ? < claim_deadline THEN 2
	ELSE 7 END)`

// ListCreditLines implements impact.LedgerStore: by customer, service and
// period, keyset-paged; states filtered as of now.
func (d *DB) ListCreditLines(ctx context.Context, f impact.CreditLineFilter, p impact.PageRequest) (*impact.Page[impact.CreditLine], error) {
	scope := []string{"ListCreditLines", f.CustomerID, f.Service}
	for _, s := range f.States {
		scope = append(scope, s.String())
	}
	for _, t := range []time.Time{f.DeadlineBefore, f.DeadlineAfter, f.DeadlineAtMost, f.DeadlineAtLeast} {
		scope = append(scope, t.UTC().Format(time.RFC3339Nano))
	}
	pg, err := parsePage(p, 3, scope...)
	if err != nil {
		return nil, err
	}
	now := d.now()
	if err := d.settleIfDue(ctx, now); err != nil {
		return nil, err
	}
	var where []string
	var args []any
	if f.CustomerID != "" && f.CustomerID != "-" {
		where, args = append(where, "customer_id = ?"), append(args, f.CustomerID)
	}
	if f.Service != "" && f.Service != "-" {
		where, args = append(where, "service = ?"), append(args, f.Service)
	}
	if len(f.States) > 0 {
		in := strings.TrimSuffix(strings.Repeat("?, ", len(f.States)), ", ")
		where = append(where, stateSQL+" IN ("+in+")")
		for i := 0; i < 6; i++ {
			args = append(args, d.ts(now))
		}
		for _, s := range f.States {
			args = append(args, int32(s))
		}
	}
	for _, c := range []struct {
		t  time.Time
		op string
	}{{f.DeadlineBefore, "<"}, {f.DeadlineAfter, ">"}, {f.DeadlineAtMost, "<="}, {f.DeadlineAtLeast, ">="}} {
		if !c.t.IsZero() {
			where, args = append(where, "claim_deadline "+c.op+" ?"), append(args, d.ts(c.t))
		}
	}
	if pg.after != nil {
		where = append(where, "(customer_id, service, period) > (?, ?, ?)")
		args = append(args, pg.after[0], pg.after[1], pg.after[2])
	}
	q := `SELECT ` + lineCols + ` FROM credit_lines`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	var rows []lineRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY customer_id, service, period LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *lineRow) []string { return []string{r.CustomerID, r.Service, r.Period} })
	lines := make([]*impact.CreditLine, len(rows))
	for i := range rows {
		if lines[i], err = rows[i].toDomain(); err != nil {
			return nil, err
		}
		lines[i].State = lines[i].StateAt(now)
	}
	if err := d.withEntries(ctx, d.db, lines); err != nil {
		return nil, translate(err)
	}
	out := &impact.Page[impact.CreditLine]{Items: make([]impact.CreditLine, len(lines)), NextPageToken: next}
	for i, l := range lines {
		out.Items[i] = *l
	}
	return out, nil
}

// Transitions.

var transitionMethods = map[impact.Transition]string{
	impact.ClaimTransition:   "ClaimCredit",
	impact.ApproveTransition: "ApproveCredit",
	impact.RejectTransition:  "RejectCredit",
	impact.IssueTransition:   "IssueCredit",
}

// TransitionCreditLine implements impact.LedgerStore.
func (d *DB) TransitionCreditLine(ctx context.Context, customerID, service, period string, r impact.TransitionRequest) (*impact.CreditLine, error) {
	for _, id := range []string{customerID, service, period} {
		if err := checkID("name", id); err != nil {
			return nil, err
		}
	}
	method, ok := transitionMethods[r.Transition]
	if !ok {
		return nil, impact.Errorf(impact.EINVALID, "unknown transition %v", r.Transition)
	}
	var issued decimal.Decimal
	if r.Transition == impact.IssueTransition {
		var err error
		if issued, err = impact.ParseDecimal(r.IssuedAmount); err != nil || issued.IsNegative() {
			return nil, invalid("issued_amount.amount", "must be a plain decimal ≥ 0")
		}
	}
	name := impact.CreditLineName(customerID, service, period)
	now := d.now()
	actor := impact.ActorFrom(ctx)
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.claim(ctx, tx, method, r.RequestID, name, now, name, r); err != nil {
			return err
		}
		if err := d.settle(ctx, tx, now); err != nil {
			return err
		}
		lines, err := d.linesByKeys(ctx, tx, []lineKey{{customerID, service, period}}, true)
		if err != nil {
			return err
		}
		l := lines[lineKey{customerID, service, period}]
		if l == nil {
			return notFound(name)
		}
		if err := checkEtag(r.Etag, name, l.CreateTime, l.Revision); err != nil {
			return err
		}
		if err := impact.CheckTransition(l, r.Transition, now); err != nil {
			return err
		}
		var set string
		var args []any
		detail := ""
		switch r.Transition {
		case impact.ClaimTransition:
			l.ClaimTime, l.ClaimReference, l.ClaimedBy = now, r.Reference, actor
			set, args = `claim_time = ?, claim_reference = ?, claimed_by = ?`, []any{d.ts(now), r.Reference, actor}
			detail = r.Reference
		case impact.ApproveTransition:
			l.ApproveTime, l.ApprovedBy = now, actor
			set, args = `approve_time = ?, approved_by = ?`, []any{d.ts(now), actor}
		case impact.RejectTransition:
			l.RejectTime, l.RejectedBy, l.RejectReason = now, actor, r.Reason
			set, args = `reject_time = ?, rejected_by = ?, reject_reason = ?`, []any{d.ts(now), actor, r.Reason}
			detail = r.Reason
		case impact.IssueTransition:
			var errs []impact.FieldViolation
			if r.IssuedCurrency != l.Currency {
				errs = append(errs, impact.FieldViolation{Field: "issued_amount.currency_code",
					Description: fmt.Sprintf("must be the line's currency %s, not %q", l.Currency, r.IssuedCurrency)})
			}
			minor, err := impact.ToMinor(l.Currency, issued)
			if err != nil {
				errs = append(errs, impact.FieldViolation{Field: "issued_amount.amount", Description: err.Error()})
			}
			if err := violations(errs); err != nil {
				return err
			}
			l.IssueTime, l.IssuedBy, l.IssuedAmount, l.BillingReference = now, actor, minor, r.BillingReference
			set = `issue_time = ?, issued_by = ?, issued_minor = ?, billing_reference = ?`
			args = []any{d.ts(now), actor, minor, r.BillingReference}
			detail = impact.FormatMinor(l.Currency, minor) + " " + l.Currency + " " + r.BillingReference
		}
		args = append(args, d.ts(now), customerID, service, period, l.Revision)
		res, err := tx.ExecContext(ctx, d.q(`UPDATE credit_lines SET `+set+`, revision = revision + 1, update_time = ?
			WHERE customer_id = ? AND service = ? AND period = ? AND revision = ?`), args...)
		if err := oneRow(res, err, name); err != nil {
			return err
		}
		closed, err := d.closedThrough(ctx, tx)
		if err != nil {
			return err
		}
		if err := d.book(ctx, tx, l, l.StateAt(now), now, closed); err != nil {
			return err
		}
		// The line's state history is on the line itself (actor and time of
		// each transition) and its journal; the audit row keeps the line after.
		return d.audit(ctx, tx, now, method, name, detail, "",
			ref("credit_lines", "customer_id = ? AND service = ? AND period = ?", customerID, service, period))
	})
	if _, ok := retried(err); ok {
		return d.getLine(ctx, customerID, service, period, now)
	}
	if err != nil {
		return nil, err
	}
	return d.getLine(ctx, customerID, service, period, now)
}

// Accounting periods.

func (d *DB) ledgerPeriod(ctx context.Context, q sqlx.QueryerContext, id, closed string) (*impact.LedgerPeriod, error) {
	start, end, err := impact.AccountingPeriodBounds(id, d.ledgerZone())
	if err != nil {
		return nil, &impact.Error{Code: impact.EINVALID, Message: "invalid argument",
			Violations: []impact.FieldViolation{{Field: "name", Description: err.(*impact.Error).Message}}}
	}
	p := &impact.LedgerPeriod{ID: id, Name: impact.LedgerPeriodName(id), Start: start, End: end,
		Closed: closed != "" && id <= closed}
	var r struct {
		CloseTime instant `db:"close_time"`
		ClosedBy  string  `db:"closed_by"`
	}
	err = sqlx.GetContext(ctx, q, &r, d.q(`SELECT close_time, closed_by FROM ledger_periods WHERE period = ?`), id)
	switch {
	case err == nil:
		p.CloseTime, p.ClosedBy = r.CloseTime.Time, r.ClosedBy
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	return p, nil
}

// GetLedgerPeriod implements impact.LedgerStore.
func (d *DB) GetLedgerPeriod(ctx context.Context, id string) (*impact.LedgerPeriod, error) {
	if _, _, err := impact.AccountingPeriodBounds(id, d.ledgerZone()); err != nil {
		return nil, invalid("name", err.(*impact.Error).Message)
	}
	closed, err := d.closedThrough(ctx, d.db)
	if err != nil {
		return nil, translate(err)
	}
	p, err := d.ledgerPeriod(ctx, d.db, id, closed)
	return p, translate(err)
}

// CloseLedgerPeriod implements impact.LedgerStore. Accounting months close
// in calendar order: the first close names the first month with entries
// (or any ended month before it, when there are none: every month before
// it closes with it), each later one the month right after the last
// closed one. Releases due by now are booked
// first, so a month closes with every expiry that happened in it.
func (d *DB) CloseLedgerPeriod(ctx context.Context, id, requestID string) (*impact.LedgerPeriod, error) {
	_, end, err := impact.AccountingPeriodBounds(id, d.ledgerZone())
	if err != nil {
		return nil, invalid("name", err.(*impact.Error).Message)
	}
	name := impact.LedgerPeriodName(id)
	now := d.now()
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.claim(ctx, tx, "CloseLedgerPeriod", requestID, name, now, name, nil); err != nil {
			return err
		}
		if d.engine == Postgres {
			// Serialises closes: two cannot both see the same last month.
			if _, err := tx.ExecContext(ctx, `LOCK TABLE ledger_periods IN EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		if err := d.settle(ctx, tx, now); err != nil {
			return err
		}
		closed, err := d.closedThrough(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case closed != "" && id <= closed:
			return impact.Errorf(impact.EFAILEDPRECOND, "%s is already closed (every month through %s is)", name, closed)
		case now.Before(end):
			return impact.Errorf(impact.EFAILEDPRECOND, "%s has not ended: it ends at %s", name, end.UTC().Format(time.RFC3339))
		case closed != "" && id != impact.NextAccountingPeriod(closed):
			return impact.Errorf(impact.EFAILEDPRECOND, "%s cannot be closed before %s: months close in order, and %s is the last closed",
				name, impact.LedgerPeriodName(impact.NextAccountingPeriod(closed)), impact.LedgerPeriodName(closed))
		case closed == "":
			var first string
			if err := tx.GetContext(ctx, &first, `SELECT COALESCE(MIN(accounting_period), '') FROM ledger_entries`); err != nil {
				return err
			}
			if first != "" && first < id {
				return impact.Errorf(impact.EFAILEDPRECOND, "%s cannot be closed before %s: months close in order, from the first with entries",
					name, impact.LedgerPeriodName(first))
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO ledger_periods (period, close_time, closed_by) VALUES (?, ?, ?)`),
			id, d.ts(now), impact.ActorFrom(ctx)); err != nil {
			return err
		}
		return d.audit(ctx, tx, now, "CloseLedgerPeriod", name, "", "", nil)
	})
	if _, ok := retried(err); !ok && err != nil {
		return nil, err
	}
	return d.GetLedgerPeriod(ctx, id)
}

// AccrualReport implements impact.LedgerStore: the entries through the
// period summed in SQL per currency and kind, and every line whose booking
// through the period is not 0, in its state at the period's end (or now,
// if earlier).
func (d *DB) AccrualReport(ctx context.Context, id string, p decimal.Decimal) (*impact.LedgerPeriod, []impact.AccrualFigures, error) {
	if _, _, err := impact.AccountingPeriodBounds(id, d.ledgerZone()); err != nil {
		return nil, nil, invalid("name", err.(*impact.Error).Message)
	}
	now := d.now()
	if err := d.settleIfDue(ctx, now); err != nil {
		return nil, nil, err
	}
	var (
		per    *impact.LedgerPeriod
		totals []impact.EntryTotal
		lines  []impact.LineLiability
	)
	// One read transaction, so that the sums and the lines agree.
	tx, err := d.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: d.engine == Postgres})
	if err != nil {
		return nil, nil, translate(err)
	}
	defer tx.Rollback()
	closed, err := d.closedThrough(ctx, tx)
	if err != nil {
		return nil, nil, translate(err)
	}
	if per, err = d.ledgerPeriod(ctx, tx, id, closed); err != nil {
		return nil, nil, translate(err)
	}
	var sums []struct {
		Currency string `db:"currency_code"`
		Kind     int32  `db:"kind"`
		InPeriod int64  `db:"in_period"`
		Delta    int64  `db:"delta"`
	}
	if err := tx.SelectContext(ctx, &sums, d.q(`SELECT currency_code, kind, in_period, CAST(SUM(delta_minor) AS BIGINT) AS delta
		FROM (SELECT currency_code, kind, delta_minor, CASE WHEN accounting_period = ? THEN 1 ELSE 0 END AS in_period
			FROM ledger_entries WHERE accounting_period <= ?) e
		GROUP BY currency_code, kind, in_period`), id, id); err != nil {
		return nil, nil, translate(err)
	}
	for _, s := range sums {
		totals = append(totals, impact.EntryTotal{Currency: s.Currency, Kind: impact.EntryKind(s.Kind), InPeriod: s.InPeriod == 1, Delta: s.Delta})
	}
	asOf := now
	if per.End.Before(asOf) {
		asOf = per.End
	}
	per.AsOf = asOf
	var rows []struct {
		lineRow
		ThroughCurrency string `db:"through_currency"`
		Through         int64  `db:"through_minor"`
	}
	if err := tx.SelectContext(ctx, &rows, d.q(`SELECT `+prefixCols("l.", lineCols)+`, b.currency_code AS through_currency,
		b.booked AS through_minor FROM (
			SELECT customer_id, service, period, currency_code, CAST(SUM(delta_minor) AS BIGINT) AS booked
			FROM ledger_entries WHERE accounting_period <= ?
			GROUP BY customer_id, service, period, currency_code HAVING SUM(delta_minor) <> 0
		) b JOIN credit_lines l ON l.customer_id = b.customer_id AND l.service = b.service AND l.period = b.period`), id); err != nil {
		return nil, nil, translate(err)
	}
	for i := range rows {
		l, err := rows[i].lineRow.toDomain()
		if err != nil {
			return nil, nil, err
		}
		lines = append(lines, impact.LineLiability{Currency: rows[i].ThroughCurrency, State: l.StateAt(asOf),
			Mode: l.Policy.EffectiveMode(), Booked: rows[i].Through})
	}
	return per, impact.AccrualReport(totals, lines, p), nil
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}
