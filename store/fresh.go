package store

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
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
}

type changedIncident struct {
	id, reason string
	self       bool // the incident's own estimate depends on it (it still exists)
	others     bool // so do the estimates that read its windows: its title, cause or windows changed
}

func (c *changes) customer(id, reason string) {
	c.customers = append(c.customers, changedCustomer{id, reason})
}

func (c *changes) window(w *impact.StoredWindow, incidentID, id string) {
	c.windows = append(c.windows, changedWindow{incidentID, w.CustomerID, w.Start, w.End, impact.WindowName(incidentID, id)})
}

// incident records a change of incident id. The other estimates that read
// its windows see its title and cause only (its recovery items are the
// incident's own figures), so a change of those alone leaves them be.
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

// commitChanges is the last step of a write: see the top of this file.
func (d *DB) commitChanges(ctx context.Context, tx *sqlx.Tx, c *changes) error {
	if len(c.customers) == 0 && len(c.windows) == 0 && len(c.incidents) == 0 {
		return nil
	}
	g := c.g
	m := newMarks()
	var own []string // incidents whose own estimate is marked, if they have one
	ownReason := map[string][]string{}
	names := map[string]bool{}
	for _, x := range c.customers {
		names[impact.CustomerName(x.id)] = true
		var ids []string
		if err := tx.SelectContext(ctx, &ids, d.q(`SELECT incident_id FROM estimate_dep_customers WHERE customer_id = ?`), x.id); err != nil {
			return err
		}
		for _, id := range ids {
			m.add(id, x.reason)
		}
	}
	// Windows: one lookup per customer, then each window against the
	// ranges found. A window touching a recorded range (end ≥ from and
	// start ≤ to) would be read by that estimate's next computation, or
	// was read by its last one.
	byCustomer := map[string][]changedWindow{}
	var custs []string
	for _, w := range c.windows {
		if _, ok := byCustomer[w.customerID]; !ok {
			custs = append(custs, w.customerID)
		}
		byCustomer[w.customerID] = append(byCustomer[w.customerID], w)
		names[impact.CustomerName(w.customerID)] = true
		names[impact.IncidentName(w.incidentID)] = true
		if len(ownReason[w.incidentID]) == 0 {
			own = append(own, w.incidentID)
		}
		ownReason[w.incidentID] = append(ownReason[w.incidentID], w.reason)
	}
	for _, cid := range custs {
		var deps []struct {
			IncidentID string  `db:"incident_id"`
			From       instant `db:"range_from"`
			To         instant `db:"range_to"`
		}
		if err := tx.SelectContext(ctx, &deps, d.q(`SELECT incident_id, range_from, range_to FROM estimate_dep_customers
			WHERE customer_id = ?`), cid); err != nil {
			return err
		}
		for _, dep := range deps {
			for _, w := range byCustomer[cid] {
				if !w.end.Before(dep.From.Time) && !w.start.After(dep.To.Time) {
					m.add(dep.IncidentID, w.reason)
				}
			}
		}
	}
	for _, x := range c.incidents {
		names[impact.IncidentName(x.id)] = true
		if x.others {
			var ids []string
			if err := tx.SelectContext(ctx, &ids, d.q(`SELECT incident_id FROM estimate_dep_incidents WHERE dep_incident_id = ?`), x.id); err != nil {
				return err
			}
			for _, id := range ids {
				m.add(id, x.reason)
			}
		}
		if x.self {
			if len(ownReason[x.id]) == 0 {
				own = append(own, x.id)
			}
			ownReason[x.id] = append(ownReason[x.id], x.reason)
		}
	}
	if len(own) > 0 {
		have, err := d.headsAmong(ctx, tx, own)
		if err != nil {
			return err
		}
		for _, id := range own {
			if have[id] {
				for _, r := range ownReason[id] {
					m.add(id, r)
				}
			}
		}
	}
	if err := d.applyMarks(ctx, tx, m, g); err != nil {
		return err
	}
	return d.recordChanged(ctx, tx, names, g)
}

// headsAmong returns which of ids have a stored estimate.
func (d *DB) headsAmong(ctx context.Context, tx *sqlx.Tx, ids []string) (map[string]bool, error) {
	have := map[string]bool{}
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		part := ids[lo:min(lo+impact.MaxPageSize, len(ids))]
		q, args, err := sqlx.In(`SELECT incident_id FROM estimate_heads WHERE incident_id IN (?)`, part)
		if err != nil {
			return nil, err
		}
		var found []string
		if err := tx.SelectContext(ctx, &found, d.q(q), args...); err != nil {
			return nil, err
		}
		for _, id := range found {
			have[id] = true
		}
	}
	return have, nil
}

// markRows (3 parameters each) per multi-row upsert of marks.
const markRows = 500

// applyMarks stores the marks with sequence g and moves each marked
// estimate's newest mark to now.
func (d *DB) applyMarks(ctx context.Context, tx *sqlx.Tx, m *marks, g int64) error {
	if len(m.by) == 0 {
		return nil
	}
	ids := make([]string, 0, len(m.by))
	for id := range m.by {
		ids = append(ids, id)
	}
	sort.Strings(ids) // a stable lock order on PostgreSQL
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
	now := d.ts(d.now())
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		part := ids[lo:min(lo+impact.MaxPageSize, len(ids))]
		q, args, err := sqlx.In(`UPDATE estimate_heads SET stale_seq = ?, last_mark = ? WHERE incident_id IN (?)`, g, now, part)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(q), args...); err != nil {
			return err
		}
	}
	return nil
}

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

// depRows (4 parameters each) per multi-row INSERT of dependencies.
const depRows = 500

// recordHead is the freshness part of saving an estimate of incident id
// computed with deps (nil: from the data as it is now, depending on the
// incident alone): the final section of the save, in its transaction,
// after the caller took g from bumpChange.
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
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM estimate_stale WHERE incident_id = ? AND seq <= ?`), id, deps.ReadSeq); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM estimate_dep_customers WHERE incident_id = ?`), id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM estimate_dep_incidents WHERE incident_id = ?`), id); err != nil {
		return err
	}
	for lo := 0; lo < len(deps.Customers); lo += depRows {
		part := deps.Customers[lo:min(lo+depRows, len(deps.Customers))]
		var b strings.Builder
		b.WriteString(`INSERT INTO estimate_dep_customers (incident_id, customer_id, range_from, range_to) VALUES `)
		args := make([]any, 0, 4*len(part))
		for i, c := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?)")
			args = append(args, id, c.CustomerID, d.ts(c.From), d.ts(c.To))
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	for lo := 0; lo < len(deps.Incidents); lo += depRows {
		part := deps.Incidents[lo:min(lo+depRows, len(deps.Incidents))]
		var b strings.Builder
		b.WriteString(`INSERT INTO estimate_dep_incidents (incident_id, dep_incident_id) VALUES `)
		args := make([]any, 0, 2*len(part))
		for i, in := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?)")
			args = append(args, id, in)
		}
		b.WriteString(` ON CONFLICT DO NOTHING`)
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	rates, err := json.Marshal(fxDocs(deps.SettingsRates))
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO estimate_heads (incident_id, read_seq, uses_settings, settings_currency, settings_rates)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET read_seq = excluded.read_seq, stale_seq = 0,
		last_mark = NULL, failed_seq = 0, failure = '', uses_settings = excluded.uses_settings,
		settings_currency = excluded.settings_currency, settings_rates = excluded.settings_rates,
		lease_token = '', lease_expires = NULL`),
		id, deps.ReadSeq, deps.UsesSettings, deps.SettingsCurrency, rates); err != nil {
		return err
	}
	if err := d.applyMarks(ctx, tx, m, g); err != nil {
		return err
	}
	// Marks kept from writes after ReadSeq that no final-section check
	// above saw (their resource is not a dependency any more) still make
	// the estimate STALE: keep it honest rather than guess.
	var left struct {
		N   int64 `db:"n"`
		Max int64 `db:"mx"`
	}
	if err := tx.GetContext(ctx, &left, d.q(`SELECT COUNT(*) AS n, COALESCE(MAX(seq), 0) AS mx FROM estimate_stale WHERE incident_id = ?`), id); err != nil {
		return err
	}
	if left.N > 0 && len(m.by) == 0 {
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

// freshness fills in e's State, StaleReasons and RefreshError: one lookup
// of its head and one of its marks, both by primary key.
func (d *DB) freshness(ctx context.Context, q sqlx.QueryerContext, e *impact.StoredEstimate, incidentID string) error {
	var reasons []string
	if err := sqlx.SelectContext(ctx, q, &reasons, d.q(`SELECT reason FROM estimate_stale WHERE incident_id = ? ORDER BY reason`), incidentID); err != nil {
		return err
	}
	e.State, e.StaleReasons, e.RefreshError = impact.StateCurrent, nil, ""
	if len(reasons) == 0 {
		return nil
	}
	e.State, e.StaleReasons = impact.StateStale, reasons
	var failure []string
	if err := sqlx.SelectContext(ctx, q, &failure, d.q(`SELECT failure FROM estimate_heads WHERE incident_id = ?`), incidentID); err != nil {
		return err
	}
	if len(failure) == 1 {
		e.RefreshError = failure[0]
	}
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
