package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// Fresh stored figures (README "Fresh figures"). Each write first takes the
// next value g of the change counter (beginChanges: a row update, so on
// PostgreSQL it holds the row lock until commit and these writes commit one
// at a time, as on SQLite), collects what it changed, and as its last step
// calls d.commitChanges: that finds the estimates whose recorded
// dependencies the changes touch, marks them (estimate_stale,
// estimate_heads) with g, and records g against each changed resource
// (change_seqs).
//
// A save of an estimate computed from inputs read after the counter showed
// r (EstimateDeps.ReadSeq) drops the marks up to r — the inputs it read
// include those writes — and marks the estimate again for each dependency
// whose change_seqs entry is above r: a write that committed while the
// estimate was being computed. Saves take the counter too, so a write
// commits either before a save (and the save sees its change_seqs entry)
// or after it (and the write sees the dependencies the save recorded): no
// committed change is lost.
//
// Cost: a write adds one counter update, one indexed lookup per changed
// customer (or incident) in the dependency tables, and one row per
// estimate marked; a read adds one primary-key lookup of the marks.

// changes is what one write changed, for commitChanges, and its change
// sequence g.
type changes struct {
	g         int64
	customers []changedCustomer
	windows   []changedWindow
	incidents []changedIncident
}

type changedCustomer struct{ id, reason string }

type changedWindow struct {
	incidentID, customerID string
	start, end             time.Time
	reason                 string
	hash                   int64
}

type changedIncident struct {
	id, reason string
	self       bool // the incident's own estimate depends on it (it still exists)
	others     bool // so do the estimates that read its windows: its title, cause or windows changed
}

func (c *changes) customer(id, reason string) {
	c.customers = append(c.customers, changedCustomer{id, reason})
}

// window records a window created or deleted, as its row is stored.
func (c *changes) window(w *windowRow) {
	c.windows = append(c.windows, changedWindow{w.IncidentID, w.CustomerID, w.Start.Time, w.End.Time,
		impact.WindowName(w.IncidentID, w.ID), windowHash(w)})
}

// incident records a change of incident id. The other estimates that read
// its windows see its title, cause and allocation only (its recovery items
// are the incident's own figures), so a change of the others leaves them be.
func (c *changes) incident(id string, self, others bool) {
	c.incidents = append(c.incidents, changedIncident{id, impact.IncidentName(id), self, others})
}

// beginChanges takes the write's change sequence. It must be the first
// lock the write's transaction takes: every transaction that writes marks
// or saves an estimate holds the counter row from its start (on PostgreSQL;
// SQLite has one writer anyway), so that they cannot deadlock on the rows
// they then lock in different orders (incidents, estimate heads).
func (d *DB) beginChanges(ctx context.Context, tx *sqlx.Tx) (*changes, error) {
	g, err := d.bumpChange(ctx, tx)
	if err != nil {
		return nil, err
	}
	return &changes{g: g}, nil
}

// bumpChange takes the next change sequence.
func (d *DB) bumpChange(ctx context.Context, tx *sqlx.Tx) (int64, error) {
	var g int64
	err := tx.GetContext(ctx, &g, `UPDATE change_counter SET seq = seq + 1 WHERE id = 1 RETURNING seq`)
	return g, err
}

// ChangeSeq implements impact.FreshStore: the sequence of the last
// committed write (a read of one row).
func (d *DB) ChangeSeq(ctx context.Context) (int64, error) {
	var g int64
	if err := d.db.GetContext(ctx, &g, `SELECT seq FROM change_counter WHERE id = 1`); err != nil {
		return 0, translate(err)
	}
	return g, nil
}

// marks collects (incident, reason) pairs, each once.
type marks struct {
	by   map[string][]string
	seen map[[2]string]bool
}

func newMarks() *marks { return &marks{by: map[string][]string{}, seen: map[[2]string]bool{}} }

func (m *marks) add(incident, reason string) {
	k := [2]string{incident, reason}
	if m.seen[k] {
		return
	}
	m.seen[k] = true
	m.by[incident] = append(m.by[incident], reason)
}

// Fingerprints. Every hash is computed from the rows as stored (read back
// in the transaction), so that a save and a later write agree on them.

func hash64(parts ...string) int64 {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return int64(binary.BigEndian.Uint64(h.Sum(nil)[:8]))
}

func windowHash(w *windowRow) int64 {
	return hash64("w", w.IncidentID, w.ID, w.CustomerID, w.Service, strconv.FormatInt(w.Start.UnixMicro(), 10),
		strconv.FormatInt(w.End.UnixMicro(), 10), w.ImpactFraction.String)
}

func windowRowOf(w *impact.StoredWindow) *windowRow {
	r := &windowRow{IncidentID: w.IncidentID, ID: w.ID, CustomerID: w.CustomerID, Service: w.Service,
		ImpactFraction: sql.NullString{String: w.ImpactFraction, Valid: w.ImpactFraction != ""}}
	r.Start.Time, r.End.Time = w.Start, w.End
	return r
}

// figureTerms is a contract's terms document without what no figure
// depends on (the claim policy: the credit ledger's), so that editing it
// leaves estimates CURRENT. Terms that do not decode are fingerprinted as
// stored.
func figureTerms(terms []byte) string {
	var doc termsDoc
	if err := json.Unmarshal(terms, &doc); err != nil || doc.ClaimPolicy == nil {
		return string(terms)
	}
	doc.ClaimPolicy = nil
	b, err := json.Marshal(doc)
	if err != nil {
		return string(terms)
	}
	return string(b)
}

// deletedHash is the fingerprint of a resource that no longer exists.
var deletedHash = hash64("deleted")

// customerHashes fingerprints the customers ids (at most MaxPageSize) with
// their contracts, as stored now.
func (d *DB) customerHashes(ctx context.Context, q sqlx.QueryerContext, ids []string) (map[string]int64, error) {
	out := make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	qs, args, err := sqlx.In(`SELECT `+d.customerCols()+` FROM customers WHERE id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var cs []customerRow
	if err := sqlx.SelectContext(ctx, q, &cs, d.q(qs), args...); err != nil {
		return nil, err
	}
	qs, args, err = sqlx.In(`SELECT `+d.contractCols()+` FROM contracts WHERE customer_id IN (?) ORDER BY customer_id, service`, ids)
	if err != nil {
		return nil, err
	}
	var ks []contractRow
	if err := sqlx.SelectContext(ctx, q, &ks, d.q(qs), args...); err != nil {
		return nil, err
	}
	parts := map[string][]string{}
	for _, c := range cs {
		parts[c.ID] = []string{"c", c.ID, c.DisplayName, c.Currency, c.TimeZone, c.HourlyAmount.String, c.RecaptureRate.String,
			c.LifetimeValue.String, c.ChurnProbability.String, string(c.Baseline)}
	}
	for _, k := range ks {
		parts[k.CustomerID] = append(parts[k.CustomerID], "k", k.Service, k.MonthlyFee.String, k.MinCreditAmount.String,
			strconv.Itoa(int(k.BillingPeriod)), k.TimeZone, figureTerms(k.Terms))
	}
	for _, id := range ids {
		if p, ok := parts[id]; ok {
			out[id] = hash64(p...)
		} else {
			out[id] = deletedHash
		}
	}
	return out, nil
}

// incidentHashes fingerprints incidents ids (at most MaxPageSize) as
// stored now: as another estimate reads them (title, cause and allocation,
// which its inputs digest holds: dep) and
// as their own estimate does (every field: own).
func (d *DB) incidentHashes(ctx context.Context, q sqlx.QueryerContext, ids []string) (dep, own map[string]int64, err error) {
	dep, own = make(map[string]int64, len(ids)), make(map[string]int64, len(ids))
	if len(ids) == 0 {
		return dep, own, nil
	}
	qs, args, err := sqlx.In(`SELECT `+incidentCols+` FROM incidents WHERE id IN (?)`, ids)
	if err != nil {
		return nil, nil, err
	}
	var rows []incidentRow
	if err := sqlx.SelectContext(ctx, q, &rows, d.q(qs), args...); err != nil {
		return nil, nil, err
	}
	for _, id := range ids {
		dep[id], own[id] = deletedHash, deletedHash
	}
	for _, r := range rows {
		dep[r.ID], own[r.ID] = incidentHashesOf(&r)
	}
	return dep, own, nil
}

func incidentHashesOf(r *incidentRow) (dep, own int64) {
	cause := strconv.Itoa(int(r.Cause))
	return hash64("i", r.ID, r.Title, cause, strconv.Itoa(int(r.Allocation))),
		hash64("o", r.ID, r.Title, cause, r.RecoveryCurrency, strconv.Itoa(int(r.Allocation)), string(r.RecoveryItems))
}

// commitChanges is the last step of a write: see the top of this file. It
// brings the current fingerprints of every estimate depending on what
// changed up to date, and moves the newest mark of each estimate that is
// then STALE to now (or clears it, when the change undid an earlier one).
func (d *DB) commitChanges(ctx context.Context, tx *sqlx.Tx, c *changes) error {
	if len(c.customers) == 0 && len(c.windows) == 0 && len(c.incidents) == 0 {
		return nil
	}
	g := c.g
	touched := map[string]bool{}
	names := map[string]bool{}
	// Customers (and their contracts): the new fingerprint, on every
	// dependency row of the customer.
	var custs []string
	reason := map[string]string{}
	for _, x := range c.customers {
		if _, ok := reason[x.id]; !ok {
			custs = append(custs, x.id)
		}
		reason[x.id] = x.reason
		names[impact.CustomerName(x.id)] = true
	}
	if len(custs) > 0 {
		depsOf, err := d.depIncidents(ctx, tx, custs)
		if err != nil {
			return err
		}
		// Fingerprints of the customers some estimate depends on only: a
		// bulk import of new contracts reads none back.
		var dependedOn []string
		for _, id := range custs {
			if len(depsOf[id]) > 0 {
				dependedOn = append(dependedOn, id)
			}
		}
		hs := map[string]int64{}
		for lo := 0; lo < len(dependedOn); lo += markRows {
			part, err := d.customerHashes(ctx, tx, dependedOn[lo:min(lo+markRows, len(dependedOn))])
			if err != nil {
				return err
			}
			maps.Copy(hs, part)
		}
		for _, id := range custs {
			ids := depsOf[id]
			if len(ids) == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_dep_customers SET cur_hash = ?, reason = ? WHERE customer_id = ?`),
				hs[id], reason[id], id); err != nil {
				return err
			}
			for _, in := range ids {
				touched[in] = true
			}
		}
	}
	// Windows: XOR each into the fingerprint of every dependency row of
	// its customer whose range it touches (end ≥ from and start ≤ to: the
	// estimate read it, or would read it now), and of its own incident's
	// estimate. Adding and deleting the same window cancel out.
	byCustomer := map[string][]changedWindow{}
	var wcusts []string
	own := map[string]int64{}
	ownReason := map[string]string{}
	var owners []string
	for _, w := range c.windows {
		if _, ok := byCustomer[w.customerID]; !ok {
			wcusts = append(wcusts, w.customerID)
		}
		byCustomer[w.customerID] = append(byCustomer[w.customerID], w)
		names[impact.CustomerName(w.customerID)] = true
		names[impact.IncidentName(w.incidentID)] = true
		if _, ok := own[w.incidentID]; !ok {
			owners = append(owners, w.incidentID)
		}
		own[w.incidentID] ^= w.hash
		ownReason[w.incidentID] = w.reason
	}
	winDeps, err := d.depRanges(ctx, tx, wcusts)
	if err != nil {
		return err
	}
	for _, cid := range wcusts {
		for _, dep := range winDeps[cid] {
			cur, last := dep.WinCur, ""
			for _, w := range byCustomer[cid] {
				if !w.end.Before(dep.From.Time) && !w.start.After(dep.To.Time) {
					cur ^= w.hash
					last = w.reason
				}
			}
			if last == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_dep_customers SET win_cur = ?, reason = ? WHERE incident_id = ? AND customer_id = ?`),
				cur, last, dep.IncidentID, cid); err != nil {
				return err
			}
			touched[dep.IncidentID] = true
		}
	}
	for _, id := range owners {
		var cur []int64
		if err := tx.SelectContext(ctx, &cur, d.q(`SELECT ownwin_cur FROM estimate_heads WHERE incident_id = ?`), id); err != nil {
			return err
		}
		if len(cur) == 0 {
			continue // no stored estimate
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET ownwin_cur = ?, own_reason = ? WHERE incident_id = ?`),
			cur[0]^own[id], ownReason[id], id); err != nil {
			return err
		}
		touched[id] = true
	}
	// Incidents: as the other estimates read them, and as their own does.
	var incs []string
	for _, x := range c.incidents {
		incs = append(incs, x.id)
		names[impact.IncidentName(x.id)] = true
	}
	if len(incs) > 0 {
		dep, ownH, err := d.incidentHashes(ctx, tx, incs)
		if err != nil {
			return err
		}
		for _, x := range c.incidents {
			if x.others {
				var ids []string
				if err := tx.SelectContext(ctx, &ids, d.q(`SELECT incident_id FROM estimate_dep_incidents WHERE dep_incident_id = ?`), x.id); err != nil {
					return err
				}
				if len(ids) > 0 {
					if _, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_dep_incidents SET cur_hash = ? WHERE dep_incident_id = ?`), dep[x.id], x.id); err != nil {
						return err
					}
				}
				for _, in := range ids {
					touched[in] = true
				}
			}
			if x.self {
				res, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET own_cur = ?, own_reason = ? WHERE incident_id = ?`), ownH[x.id], x.reason, x.id)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n > 0 {
					touched[x.id] = true
				}
			}
		}
	}
	if err := d.settleHeads(ctx, tx, touched, g); err != nil {
		return err
	}
	return d.recordChanged(ctx, tx, names, g)
}

// depIncidents reads the incidents whose estimates depend on each of the
// customers ids: one query per markRows customers, not one per customer,
// so that a bulk write of thousands of contracts stays cheap.
func (d *DB) depIncidents(ctx context.Context, tx *sqlx.Tx, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	for lo := 0; lo < len(ids); lo += markRows {
		q, args, err := sqlx.In(`SELECT customer_id, incident_id FROM estimate_dep_customers WHERE customer_id IN (?)`, ids[lo:min(lo+markRows, len(ids))])
		if err != nil {
			return nil, err
		}
		var rows []struct {
			CustomerID string `db:"customer_id"`
			IncidentID string `db:"incident_id"`
		}
		if err := tx.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.CustomerID] = append(out[r.CustomerID], r.IncidentID)
		}
	}
	return out, nil
}

// depRange is one estimate's dependency on a customer's windows.
type depRange struct {
	CustomerID string  `db:"customer_id"`
	IncidentID string  `db:"incident_id"`
	From       instant `db:"range_from"`
	To         instant `db:"range_to"`
	WinCur     int64   `db:"win_cur"`
}

// depRanges reads the dependency rows of each of the customers ids, as
// depIncidents does.
func (d *DB) depRanges(ctx context.Context, tx *sqlx.Tx, ids []string) (map[string][]depRange, error) {
	out := map[string][]depRange{}
	for lo := 0; lo < len(ids); lo += markRows {
		q, args, err := sqlx.In(`SELECT customer_id, incident_id, range_from, range_to, win_cur FROM estimate_dep_customers
			WHERE customer_id IN (?)`, ids[lo:min(lo+markRows, len(ids))])
		if err != nil {
			return nil, err
		}
		var rows []depRange
		if err := tx.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, err
		}
		for _, r := range rows {
			out[r.CustomerID] = append(out[r.CustomerID], r)
		}
	}
	return out, nil
}

// settleHeads sets, for each estimate whose fingerprints a write changed,
// its newest mark: now and g when it is STALE, none when it is CURRENT.
// One query finds which are STALE, one update each way per 500 estimates.
func (d *DB) settleHeads(ctx context.Context, tx *sqlx.Tx, ids map[string]bool, g int64) error {
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list) // a stable lock order on PostgreSQL
	now := d.ts(d.now())
	for lo := 0; lo < len(list); lo += markRows {
		part := list[lo:min(lo+markRows, len(list))]
		q, args, err := sqlx.In(staleAmongSQL, part, part, part, part, part)
		if err != nil {
			return err
		}
		var staleIDs []string
		if err := tx.SelectContext(ctx, &staleIDs, d.q(q), args...); err != nil {
			return err
		}
		stale := map[string]bool{}
		for _, id := range staleIDs {
			stale[id] = true
		}
		var yes, no []string
		for _, id := range part {
			if stale[id] {
				yes = append(yes, id)
			} else {
				no = append(no, id)
			}
		}
		if len(yes) > 0 {
			q, args, err := sqlx.In(`UPDATE estimate_heads SET stale_seq = ?, last_mark = ? WHERE incident_id IN (?)`, g, now, yes)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q(q), args...); err != nil {
				return err
			}
		}
		if len(no) > 0 {
			q, args, err := sqlx.In(`UPDATE estimate_heads SET last_mark = NULL WHERE incident_id IN (?)`, no)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, d.q(q), args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// staleAmongSQL selects which of a list of estimates are STALE, as
// staleReasonsSQL tells it of one.
const staleAmongSQL = `SELECT incident_id FROM estimate_dep_customers WHERE incident_id IN (?) AND (cur_hash <> rec_hash OR win_cur <> win_rec)
	UNION SELECT incident_id FROM estimate_dep_incidents WHERE incident_id IN (?) AND cur_hash <> rec_hash
	UNION SELECT incident_id FROM estimate_stale WHERE incident_id IN (?)
	UNION SELECT incident_id FROM estimate_heads WHERE incident_id IN (?) AND (own_cur <> own_rec OR ownwin_cur <> ownwin_rec)
	UNION SELECT incident_id FROM estimate_heads WHERE incident_id IN (?) AND settings_moved`

// staleReasonsSQL lists why an estimate is STALE: each fingerprint that
// moved (through the partial indexes of moved rows) and each mark.
const staleReasonsSQL = `SELECT reason FROM estimate_dep_customers WHERE incident_id = ? AND (cur_hash <> rec_hash OR win_cur <> win_rec)
	UNION ALL SELECT 'incidents/' || dep_incident_id FROM estimate_dep_incidents WHERE incident_id = ? AND cur_hash <> rec_hash
	UNION ALL SELECT reason FROM estimate_stale WHERE incident_id = ?
	UNION ALL SELECT own_reason FROM estimate_heads WHERE incident_id = ? AND (own_cur <> own_rec OR ownwin_cur <> ownwin_rec)
	UNION ALL SELECT 'reportingSettings' FROM estimate_heads WHERE incident_id = ? AND settings_moved`

// staleReasons returns the sorted, distinct reasons incident id's estimate
// is STALE; none when it is CURRENT.
func (d *DB) staleReasons(ctx context.Context, q sqlx.QueryerContext, id string) ([]string, error) {
	var rs []string
	if err := sqlx.SelectContext(ctx, q, &rs, d.q(staleReasonsSQL), id, id, id, id, id); err != nil {
		return nil, err
	}
	sort.Strings(rs)
	return slices.Compact(rs), nil
}

// applyMarks stores marks with sequence g (a write committed while the
// estimate was computed): only a new computation clears them.
func (d *DB) applyMarks(ctx context.Context, tx *sqlx.Tx, m *marks, g int64) error {
	if len(m.by) == 0 {
		return nil
	}
	ids := make([]string, 0, len(m.by))
	for id := range m.by {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	type row struct{ id, reason string }
	var rows []row
	for _, id := range ids {
		for _, r := range m.by[id] {
			rows = append(rows, row{id, r})
		}
	}
	for lo := 0; lo < len(rows); lo += markRows {
		part := rows[lo:min(lo+markRows, len(rows))]
		var b strings.Builder
		b.WriteString(`INSERT INTO estimate_stale (incident_id, reason, seq) VALUES `)
		args := make([]any, 0, 3*len(part))
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, r.id, r.reason, g)
		}
		b.WriteString(` ON CONFLICT (incident_id, reason) DO UPDATE SET seq = excluded.seq`)
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// markRows (3 parameters each) per multi-row upsert of marks.
const markRows = 500

// recordChanged sets the change sequence of each changed resource to g.
func (d *DB) recordChanged(ctx context.Context, tx *sqlx.Tx, names map[string]bool, g int64) error {
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	for lo := 0; lo < len(list); lo += markRows {
		part := list[lo:min(lo+markRows, len(list))]
		var b strings.Builder
		b.WriteString(`INSERT INTO change_seqs (name, seq) VALUES `)
		args := make([]any, 0, 2*len(part))
		for i, n := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?)")
			args = append(args, n, g)
		}
		b.WriteString(` ON CONFLICT (name) DO UPDATE SET seq = excluded.seq`)
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// depRows (8 parameters each) per multi-row INSERT of dependencies.
const depRows = 500

// recordHead is the freshness part of saving an estimate of incident id
// computed with deps (nil: from the data as it is now, depending on the
// incident alone), in a transaction that took change sequence g: the
// fingerprints of what it read, as stored now, and a mark for each
// dependency a write changed after deps.ReadSeq.
func (d *DB) recordHead(ctx context.Context, tx *sqlx.Tx, id string, deps *impact.EstimateDeps, g int64) error {
	if deps == nil {
		deps = &impact.EstimateDeps{ReadSeq: g - 1}
	}
	// Writes committed since the inputs were read, to what they depend on.
	names := []string{impact.IncidentName(id)}
	for _, c := range deps.Customers {
		names = append(names, impact.CustomerName(c.CustomerID))
	}
	for _, in := range deps.Incidents {
		names = append(names, impact.IncidentName(in))
	}
	if deps.UsesSettings {
		names = append(names, impact.SettingsName)
	}
	m := newMarks()
	for lo := 0; lo < len(names); lo += impact.MaxPageSize {
		q, args, err := sqlx.In(`SELECT name FROM change_seqs WHERE name IN (?) AND seq > ?`, names[lo:min(lo+impact.MaxPageSize, len(names))], deps.ReadSeq)
		if err != nil {
			return err
		}
		var moved []string
		if err := tx.SelectContext(ctx, &moved, d.q(q), args...); err != nil {
			return err
		}
		for _, n := range moved {
			m.add(id, n)
		}
	}
	for _, q := range []string{`DELETE FROM estimate_stale WHERE incident_id = ? AND seq <= ?`} {
		if _, err := tx.ExecContext(ctx, d.q(q), id, deps.ReadSeq); err != nil {
			return err
		}
	}
	for _, q := range []string{`DELETE FROM estimate_dep_customers WHERE incident_id = ?`, `DELETE FROM estimate_dep_incidents WHERE incident_id = ?`} {
		if _, err := tx.ExecContext(ctx, d.q(q), id); err != nil {
			return err
		}
	}
	// The windows read, by customer, and the incident's own.
	winXor := map[string]int64{}
	var ownWin int64
	for i := range deps.Windows {
		h := windowHash(windowRowOf(&deps.Windows[i]))
		winXor[deps.Windows[i].CustomerID] ^= h
		if deps.Windows[i].IncidentID == id {
			ownWin ^= h
		}
	}
	for lo := 0; lo < len(deps.Customers); lo += depRows {
		part := deps.Customers[lo:min(lo+depRows, len(deps.Customers))]
		ids := make([]string, len(part))
		for i, c := range part {
			ids[i] = c.CustomerID
		}
		hs, err := d.customerHashes(ctx, tx, ids)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO estimate_dep_customers (incident_id, customer_id, range_from, range_to, rec_hash, cur_hash, win_rec, win_cur) VALUES `)
		args := make([]any, 0, 8*len(part))
		for i, c := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, id, c.CustomerID, d.ts(c.From), d.ts(c.To), hs[c.CustomerID], hs[c.CustomerID], winXor[c.CustomerID], winXor[c.CustomerID])
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	others := slices.Clone(deps.Incidents)
	sort.Strings(others)
	others = slices.Compact(others)
	for lo := 0; lo < len(others); lo += depRows {
		part := others[lo:min(lo+depRows, len(others))]
		dep, _, err := d.incidentHashes(ctx, tx, part)
		if err != nil {
			return err
		}
		var b strings.Builder
		b.WriteString(`INSERT INTO estimate_dep_incidents (incident_id, dep_incident_id, rec_hash, cur_hash) VALUES `)
		args := make([]any, 0, 4*len(part))
		for i, in := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			args = append(args, id, in, dep[in], dep[in])
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	_, ownH, err := d.incidentHashes(ctx, tx, []string{id})
	if err != nil {
		return err
	}
	rates, err := json.Marshal(fxDocs(deps.SettingsRates))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO estimate_heads (incident_id, read_seq, uses_settings, settings_currency, settings_rates,
		own_rec, own_cur, ownwin_rec, ownwin_cur)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET read_seq = excluded.read_seq, stale_seq = 0,
		last_mark = NULL, failed_seq = 0, failure = '', uses_settings = excluded.uses_settings,
		settings_currency = excluded.settings_currency, settings_rates = excluded.settings_rates,
		own_rec = excluded.own_rec, own_cur = excluded.own_cur, ownwin_rec = excluded.ownwin_rec, ownwin_cur = excluded.ownwin_cur,
		own_reason = '', settings_moved = FALSE, lease_token = '', lease_expires = NULL`),
		id, deps.ReadSeq, deps.UsesSettings, deps.SettingsCurrency, rates, ownH[id], ownH[id], ownWin, ownWin); err != nil {
		return err
	}
	if err := d.applyMarks(ctx, tx, m, g); err != nil {
		return err
	}
	// Marks kept from writes after ReadSeq keep the estimate STALE.
	var left struct {
		N   int64 `db:"n"`
		Max int64 `db:"mx"`
	}
	if err := tx.GetContext(ctx, &left, d.q(`SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS mx FROM estimate_stale WHERE incident_id = ?`), id); err != nil {
		return err
	}
	if left.N > 0 {
		_, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET stale_seq = ?, last_mark = ? WHERE incident_id = ?`), left.Max, d.ts(d.now()), id)
		return err
	}
	return nil
}

func fxDocs(fx []impact.FXRate) []fxDoc {
	out := make([]fxDoc, len(fx))
	for i, r := range fx {
		out[i] = fxDoc{r.From, r.To, r.Rate}
	}
	return out
}

func fromFxDocs(docs []fxDoc) []impact.FXRate {
	var out []impact.FXRate
	for _, x := range docs {
		out = append(out, impact.FXRate{From: x.From, To: x.To, Rate: x.Rate})
	}
	return out
}

// freshness fills in e's State, StaleReasons and RefreshError. A CURRENT
// estimate costs one primary-key lookup of its head: last_mark is set
// exactly while it is STALE (commitChanges, recordHead and the refresh
// keep it so); only then are the reasons read.
func (d *DB) freshness(ctx context.Context, q sqlx.QueryerContext, e *impact.StoredEstimate, incidentID string) error {
	e.State, e.StaleReasons, e.RefreshError = impact.StateCurrent, nil, ""
	var head []struct {
		Stale   bool   `db:"stale"`
		Failure string `db:"failure"`
	}
	if err := sqlx.SelectContext(ctx, q, &head, d.q(`SELECT last_mark IS NOT NULL AS stale, failure FROM estimate_heads WHERE incident_id = ?`), incidentID); err != nil {
		return err
	}
	if len(head) == 0 || !head[0].Stale {
		return nil
	}
	reasons, err := d.staleReasons(ctx, q, incidentID)
	if err != nil {
		return err
	}
	if len(reasons) == 0 {
		return nil
	}
	e.State, e.StaleReasons, e.RefreshError = impact.StateStale, reasons, head[0].Failure
	return nil
}

// sameRow reports whether an update leaves a resource's stored values as
// they were (its revision and times aside): such an update moves no
// estimate's inputs.
func sameRow[R customerRow | contractRow | incidentRow](a, b *R) bool {
	strip := func(r any) any {
		switch x := r.(type) {
		case customerRow:
			x.Revision, x.CreateTime, x.UpdateTime = 0, instant{}, instant{}
			return x
		case contractRow:
			x.Revision, x.CreateTime, x.UpdateTime = 0, instant{}, instant{}
			return x
		case incidentRow:
			x.Revision, x.CreateTime, x.UpdateTime = 0, instant{}, instant{}
			return x
		}
		return r
	}
	return reflect.DeepEqual(strip(*a), strip(*b))
}
