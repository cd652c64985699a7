package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

const (
	windowColsSQLite   = `incident_id, id, customer_id, service, start_time, end_time, impact_fraction, create_time`
	windowColsPostgres = `incident_id, id, customer_id, service, start_time, end_time,
		impact_fraction::text AS impact_fraction, create_time`
)

func (d *DB) windowCols() string { return d.pick(windowColsSQLite, windowColsPostgres) }

// windowChunk is the rows per INSERT of a batch: 8 parameters a row keeps
// a chunk (4,000 parameters) under SQLite's 32,766 and PostgreSQL's 65,535,
// and 10,000 windows take 20 round trips instead of 10,000.
const windowChunk = 500

// idChunk bounds the ids of one IN list.
const idChunk = 500

// batchResult is the stored first result of a BatchCreateWindows request.
type batchResult struct {
	Incident string   `json:"incident"`
	IDs      []string `json:"ids"`
}

// BatchCreateWindows implements impact.WindowStore: one transaction,
// multi-row INSERTs of windowChunk rows, all or nothing.
func (d *DB) BatchCreateWindows(ctx context.Context, incidentID string, ws []impact.StoredWindow, requestID string) ([]impact.StoredWindow, error) {
	if err := checkID("parent", incidentID); err != nil {
		return nil, err
	}
	if len(ws) == 0 || len(ws) > impact.MaxBatchWindows {
		return nil, invalid("requests", "must hold between 1 and 10000 windows")
	}
	rows := make([]windowRow, len(ws))
	var errs []impact.FieldViolation
	bad := func(i int, suffix, desc string) {
		errs = append(errs, impact.FieldViolation{Field: fieldf("requests", i, ".outage_window."+suffix), Description: desc})
	}
	seen := make(map[string]int, len(ws))
	for i := range ws {
		w := &ws[i]
		id := w.ID
		if id == "" {
			id = newID()
		} else if msg := impact.CheckResourceID(id); msg != "" {
			bad(i, "name", "window id "+msg)
		} else if j, dup := seen[id]; dup {
			bad(i, "name", "same window id as requests["+itoa(j)+"]")
		}
		seen[id] = i
		if checkID("x", w.CustomerID) != nil {
			bad(i, "customer_id", "must name a customer")
		}
		if w.Service == "" {
			bad(i, "service", "must not be empty")
		} else if msg := impact.CheckText(w.Service, false); msg != "" {
			bad(i, "service", msg)
		}
		if w.Start.IsZero() || w.End.IsZero() || !w.End.After(w.Start) {
			bad(i, "end_time", "must be after start_time")
		}
		frac, err := dec("x", w.ImpactFraction)
		if err != nil {
			bad(i, "impact_fraction", "must be a plain decimal")
		}
		rows[i] = windowRow{IncidentID: incidentID, ID: id, CustomerID: w.CustomerID, Service: w.Service,
			ImpactFraction: frac}
		rows[i].Start.Time, rows[i].End.Time = w.Start, w.End
	}
	if err := violations(errs); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	result, err := json.Marshal(batchResult{incidentID, ids})
	if err != nil {
		return nil, err
	}
	name := impact.IncidentName(incidentID)
	now := d.now()
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		if err := d.claim(ctx, tx, "BatchCreateWindows", requestID, string(result), now, impact.IncidentName(incidentID), ws); err != nil {
			return err
		}
		if err := d.incidentExists(ctx, tx, incidentID); err != nil {
			return err
		}
		if err := d.checkCustomers(ctx, tx, ws); err != nil {
			return err
		}
		for lo := 0; lo < len(rows); lo += windowChunk {
			if err := d.insertWindows(ctx, tx, rows[lo:min(lo+windowChunk, len(rows))], d.ts(now)); err != nil {
				if impact.ErrorCode(translate(err)) == impact.ECONFLICT {
					return impact.Errorf(impact.ECONFLICT, "a window of this batch already exists in %s", name)
				}
				return err
			}
		}
		if err := d.audit(ctx, tx, now, "BatchCreateWindows", name, itoa(len(rows))+" windows", "", windowsRef(incidentID, ids)); err != nil {
			return err
		}
		for i := range rows {
			ch.window(&rows[i])
		}
		return d.commitChanges(ctx, tx, ch)
	})
	if first, ok := retried(err); ok {
		var br batchResult
		if err := json.Unmarshal([]byte(first), &br); err != nil {
			return nil, err
		}
		return d.getWindows(ctx, br.Incident, br.IDs)
	}
	if err != nil {
		return nil, err
	}
	// The result is what was written, without reading 10,000 rows back:
	// instants as stored (UTC, microseconds), decimals canonical.
	out := make([]impact.StoredWindow, len(rows))
	created := now.UTC().Truncate(time.Microsecond)
	for i := range rows {
		r := &rows[i]
		r.Start.Time = r.Start.Time.UTC().Truncate(time.Microsecond)
		r.End.Time = r.End.Time.UTC().Truncate(time.Microsecond)
		r.CreateTime.Time = created
		out[i] = r.toDomain()
	}
	return out, nil
}

// insertWindows writes rows with one multi-row INSERT.
func (d *DB) insertWindows(ctx context.Context, tx *sqlx.Tx, rows []windowRow, createTime any) error {
	var b strings.Builder
	b.WriteString(`INSERT INTO windows (incident_id, id, customer_id, service, start_time, end_time, impact_fraction, create_time) VALUES `)
	args := make([]any, 0, len(rows)*8)
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
		r := &rows[i]
		args = append(args, r.IncidentID, r.ID, r.CustomerID, r.Service, d.ts(r.Start.Time), d.ts(r.End.Time), r.ImpactFraction, createTime)
	}
	_, err := tx.ExecContext(ctx, d.q(b.String()), args...)
	return err
}

// checkCustomers reports every window naming a customer that does not
// exist, with idChunk ids per query; the foreign key would only say that
// one of 10,000 rows is wrong, not which.
func (d *DB) checkCustomers(ctx context.Context, tx *sqlx.Tx, ws []impact.StoredWindow) error {
	var ids []string
	seen := map[string]bool{}
	for i := range ws {
		if id := ws[i].CustomerID; !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	found := make(map[string]bool, len(ids))
	for lo := 0; lo < len(ids); lo += idChunk {
		q, args, err := sqlx.In(`SELECT id FROM customers WHERE id IN (?)`, ids[lo:min(lo+idChunk, len(ids))])
		if err != nil {
			return err
		}
		var got []string
		if err := tx.SelectContext(ctx, &got, d.q(q), args...); err != nil {
			return err
		}
		for _, id := range got {
			found[id] = true
		}
	}
	var errs []impact.FieldViolation
	for i := range ws {
		if !found[ws[i].CustomerID] && len(errs) < 100 {
			errs = append(errs, impact.FieldViolation{Field: fieldf("requests", i, ".outage_window.customer_id"),
				Description: "customer " + ws[i].CustomerID + " does not exist"})
		}
	}
	return violations(errs)
}

// getWindows reads windows by id, in the order of ids; windows deleted
// since are left out. Only a retried batch reads its windows back.
func (d *DB) getWindows(ctx context.Context, incidentID string, ids []string) ([]impact.StoredWindow, error) {
	byID := make(map[string]impact.StoredWindow, len(ids))
	// On PostgreSQL the ids are one array, each probing the primary key (an
	// IN list of many parameters is planned as a scan of all the incident's
	// windows: see claimMany and claimLookupSQL).
	per := idChunk
	if d.engine == Postgres {
		per = max(1, len(ids))
	}
	for lo := 0; lo < len(ids); lo += per {
		part := ids[lo:min(lo+per, len(ids))]
		q, args, err := sqlx.In(`SELECT `+d.windowCols()+` FROM windows WHERE incident_id = ? AND id IN (?)`, incidentID, part)
		if err != nil {
			return nil, err
		}
		if d.engine == Postgres {
			q, args = `SELECT w.* FROM unnest(?::text[]) AS u(want),
				LATERAL (SELECT `+d.windowCols()+` FROM windows WHERE incident_id = ? AND id = u.want LIMIT 1) w`, []any{part, incidentID}
		}
		var rows []windowRow
		if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, translate(err)
		}
		for i := range rows {
			byID[rows[i].ID] = rows[i].toDomain()
		}
	}
	out := make([]impact.StoredWindow, 0, len(ids))
	for _, id := range ids {
		if w, ok := byID[id]; ok {
			out = append(out, w)
		}
	}
	return out, nil
}

// GetWindow implements impact.WindowStore.
func (d *DB) GetWindow(ctx context.Context, incidentID, id string) (*impact.StoredWindow, error) {
	if err := checkID("name", incidentID); err != nil {
		return nil, err
	}
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	var r windowRow
	err := d.db.GetContext(ctx, &r, d.q(`SELECT `+d.windowCols()+` FROM windows WHERE incident_id = ? AND id = ?`), incidentID, id)
	if err != nil {
		return nil, translate(noRows(err, impact.WindowName(incidentID, id)))
	}
	w := r.toDomain()
	return &w, nil
}

// ListWindows implements impact.WindowStore. The key is the window id
// within the incident: the primary key (incident_id, id), or the index
// (incident_id, customer_id, id) when filtered by customer, serves both the
// WHERE and the ORDER BY, so a page reads size+1 index entries wherever it
// starts.
func (d *DB) ListWindows(ctx context.Context, incidentID string, f impact.WindowFilter, p impact.PageRequest) (*impact.Page[impact.StoredWindow], error) {
	if err := checkID("parent", incidentID); err != nil {
		return nil, err
	}
	pg, err := parsePage(p, 1, "ListWindows", incidentID, f.CustomerID)
	if err != nil {
		return nil, err
	}
	args := []any{incidentID}
	if f.CustomerID != "" {
		args = append(args, f.CustomerID)
	}
	if pg.after != nil {
		args = append(args, pg.after[0])
	}
	var rows []windowRow
	q := d.listWindowsSQL(f.CustomerID != "", pg.after != nil)
	if err := d.db.SelectContext(ctx, &rows, q, append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		if err := d.incidentExists(ctx, d.db, incidentID); err != nil {
			return nil, translate(err)
		}
	}
	rows, next := trim(pg, rows, func(r *windowRow) []string { return []string{r.ID} })
	out := &impact.Page[impact.StoredWindow]{Items: make([]impact.StoredWindow, len(rows)), NextPageToken: next}
	for i := range rows {
		out.Items[i] = rows[i].toDomain()
	}
	return out, nil
}

// Without statistics SQLite picks the primary key for "ORDER BY id" and
// filters a customer's windows out of all the incident's; this index has
// them contiguous, already in id order. PostgreSQL's planner finds it alone.
const byCustomerSQLite = `INDEXED BY windows_incident_customer`

// listWindowsSQL is the page query of ListWindows; its arguments are the
// incident id, the customer id when filtered, the last id when after, and
// the row limit.
func (d *DB) listWindowsSQL(filtered, after bool) string {
	q := `SELECT ` + d.windowCols() + ` FROM windows WHERE incident_id = ?`
	if filtered {
		q = `SELECT ` + d.windowCols() + ` FROM windows ` + d.pick(byCustomerSQLite, "") + ` WHERE incident_id = ? AND customer_id = ?`
	}
	if after {
		q += ` AND id > ?`
	}
	return d.q(q + ` ORDER BY id LIMIT ?`)
}

// DeleteWindow implements impact.WindowStore.
func (d *DB) DeleteWindow(ctx context.Context, incidentID, id string) error {
	if err := checkID("name", incidentID); err != nil {
		return err
	}
	if err := checkID("name", id); err != nil {
		return err
	}
	name := impact.WindowName(incidentID, id)
	now := d.now()
	return d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var w windowRow
		if err := tx.GetContext(ctx, &w, d.q(`SELECT `+d.windowCols()+` FROM windows WHERE incident_id = ? AND id = ?`), incidentID, id); err != nil {
			return noRows(err, name)
		}
		before, err := d.rowJSON(ctx, tx, ref("windows", "incident_id = ? AND id = ?", incidentID, id))
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`DELETE FROM windows WHERE incident_id = ? AND id = ?`), incidentID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil {
				err = notFound(name)
			}
			return err
		}
		if err := d.audit(ctx, tx, now, "DeleteWindow", name, "", before, nil); err != nil {
			return err
		}
		ch.window(&w)
		return d.commitChanges(ctx, tx, ch)
	})
}

// newID is a window id: 20 random hex digits. Random rather than
// sequential so that concurrent batches never collide without a counter row
// every writer would contend on.
func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
