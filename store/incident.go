package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

const incidentCols = `id, title, cause, recovery_currency, allocation, recovery_items, revision, create_time, update_time, ` + incidentSpan

// incidentSpan are the first start and last end of an incident's windows
// (NULL without windows), one probe each of the windows_incident_start and
// windows_incident_end indexes.
const incidentSpan = `(SELECT MIN(w.start_time) FROM windows w WHERE w.incident_id = incidents.id) AS start_time, ` +
	`(SELECT MAX(w.end_time) FROM windows w WHERE w.incident_id = incidents.id) AS end_time`

// incidentExists returns ENOTFOUND for a missing incident.
func (d *DB) incidentExists(ctx context.Context, q sqlx.QueryerContext, id string) error {
	var one int
	err := sqlx.GetContext(ctx, q, &one, d.q(`SELECT 1 FROM incidents WHERE id = ?`), id)
	return noRows(err, impact.IncidentName(id))
}

// CreateIncident implements impact.IncidentStore.
func (d *DB) CreateIncident(ctx context.Context, in *impact.Incident, requestID string) (*impact.StoredIncident, error) {
	if err := checkNewID("incident.incident_id", in.ID); err != nil {
		return nil, err
	}
	if len(in.Windows) > 0 {
		return nil, invalid("incident.windows", "windows are created with windows:batchCreate, not embedded")
	}
	row, err := incidentToRow(in)
	if err != nil {
		return nil, err
	}
	name := impact.IncidentName(in.ID)
	now := d.now()
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.claim(ctx, tx, "CreateIncident", requestID, name, now, "", in); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO incidents (id, title, cause, recovery_currency, allocation,
			recovery_items, revision, create_time, update_time) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)`),
			row.ID, row.Title, row.Cause, row.RecoveryCurrency, row.Allocation, row.RecoveryItems, d.ts(now), d.ts(now))
		if err != nil {
			return exists(err, name)
		}
		return d.audit(ctx, tx, now, "CreateIncident", name, "", "", ref("incidents", "id = ?", in.ID))
	})
	if first, ok := retried(err); ok {
		return d.GetIncident(ctx, strings.TrimPrefix(first, "incidents/"))
	}
	if err != nil {
		return nil, err
	}
	return d.GetIncident(ctx, in.ID)
}

// GetIncident implements impact.IncidentStore.
func (d *DB) GetIncident(ctx context.Context, id string) (*impact.StoredIncident, error) {
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	var r incidentRow
	if err := d.db.GetContext(ctx, &r, d.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), id); err != nil {
		return nil, translate(noRows(err, impact.IncidentName(id)))
	}
	return r.toDomain()
}

// BatchGetIncidents implements impact.IncidentStore: one query.
func (d *DB) BatchGetIncidents(ctx context.Context, ids []string) ([]impact.StoredIncident, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > impact.MaxPageSize {
		return nil, invalid("names", "at most 1000 names per call")
	}
	q, args, err := sqlx.In(`SELECT `+incidentCols+` FROM incidents WHERE id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	var rows []incidentRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
		return nil, translate(err)
	}
	byID := make(map[string]*incidentRow, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	out := make([]impact.StoredIncident, 0, len(ids))
	for _, id := range ids {
		r := byID[id]
		if r == nil {
			return nil, notFound(impact.IncidentName(id))
		}
		in, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	return out, nil
}

// ListIncidents implements impact.IncidentStore.
func (d *DB) ListIncidents(ctx context.Context, p impact.PageRequest) (*impact.Page[impact.StoredIncident], error) {
	pg, err := parsePage(p, 1, "ListIncidents")
	if err != nil {
		return nil, err
	}
	q, args := `SELECT `+incidentCols+` FROM incidents`, []any{}
	if pg.after != nil {
		q, args = q+` WHERE id > ?`, append(args, pg.after[0])
	}
	var rows []incidentRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY id LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *incidentRow) []string { return []string{r.ID} })
	out := &impact.Page[impact.StoredIncident]{Items: make([]impact.StoredIncident, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		in, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *in)
	}
	return out, nil
}

// noWindows is the sort key of an incident without windows: before every
// real start (last when newest first).
var noWindows = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// ListIncidentsBy implements impact.IncidentStore: keyset pages over the
// filtered incidents, by id or by (start, id).
func (d *DB) ListIncidentsBy(ctx context.Context, f impact.IncidentFilter, p impact.PageRequest) (*impact.Page[impact.StoredIncident], error) {
	byStart := f.Order != impact.IncidentsByID
	keyLen := 1
	if byStart {
		keyLen = 2
	}
	pg, err := parsePage(p, keyLen, "ListIncidentsBy", incidentFilterScope(f))
	if err != nil {
		return nil, err
	}
	var where []string
	args := []any{d.ts(noWindows)}
	if len(f.Causes) > 0 {
		var in []string
		for _, c := range f.Causes {
			in = append(in, "?")
			args = append(args, int32(c))
			if c == impact.UnknownCause {
				in = append(in, "?")
				args = append(args, int32(impact.CauseUnspecified))
			}
		}
		where = append(where, "cause IN ("+strings.Join(in, ", ")+")")
	}
	for _, b := range []struct {
		col    string
		bounds []impact.TimeBound
	}{{"start_time", f.Start}, {"end_time", f.End}} {
		for _, tb := range b.bounds {
			switch tb.Op {
			case "<", "<=", ">", ">=":
			default:
				return nil, invalid("filter", "unknown comparison "+tb.Op)
			}
			where = append(where, b.col+" "+tb.Op+" ?")
			args = append(args, d.ts(tb.At))
		}
	}
	order := "id"
	if pg.after != nil {
		if !byStart {
			where, args = append(where, "id > ?"), append(args, pg.after[0])
		} else {
			us, err := strconv.ParseInt(pg.after[0], 10, 64)
			if err != nil {
				return nil, invalid("page_token", "malformed page token")
			}
			at := d.ts(time.UnixMicro(us).UTC())
			cmp := "<"
			if f.Order == impact.IncidentsOldestFirst {
				cmp = ">"
			}
			where = append(where, "(start_key "+cmp+" ? OR (start_key = ? AND id > ?))")
			args = append(args, at, at, pg.after[1])
		}
	}
	switch f.Order {
	case impact.IncidentsNewestFirst:
		order = "start_key DESC, id"
	case impact.IncidentsOldestFirst:
		order = "start_key, id"
	}
	q := `SELECT * FROM (SELECT ` + incidentCols + `, COALESCE((SELECT MIN(w.start_time) FROM windows w WHERE w.incident_id = incidents.id), ?) AS start_key FROM incidents) i`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	var rows []incidentListRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY `+order+` LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *incidentListRow) []string {
		if !byStart {
			return []string{r.ID}
		}
		return []string{strconv.FormatInt(r.StartKey.UnixMicro(), 10), r.ID}
	})
	out := &impact.Page[impact.StoredIncident]{Items: make([]impact.StoredIncident, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		in, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *in)
	}
	return out, nil
}

type incidentListRow struct {
	incidentRow
	StartKey instant `db:"start_key"`
}

// incidentFilterScope ties a page token to its filter and order.
func incidentFilterScope(f impact.IncidentFilter) string {
	var b strings.Builder
	fmt.Fprintf(&b, "order=%d causes=%v", f.Order, f.Causes)
	for _, tb := range f.Start {
		fmt.Fprintf(&b, " start%s%d", tb.Op, tb.At.UnixMicro())
	}
	for _, tb := range f.End {
		fmt.Fprintf(&b, " end%s%d", tb.Op, tb.At.UnixMicro())
	}
	return b.String()
}

// UpdateIncident implements impact.IncidentStore.
func (d *DB) UpdateIncident(ctx context.Context, in *impact.Incident, mask impact.FieldMask, tag string) (*impact.StoredIncident, error) {
	if err := checkID("incident.name", in.ID); err != nil {
		return nil, err
	}
	name := impact.IncidentName(in.ID)
	now := d.now()
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var old incidentRow
		before, err := d.rowJSON(ctx, tx, ref("incidents", "id = ?", in.ID))
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &old, d.q(`SELECT `+incidentCols+` FROM incidents WHERE id = ?`), in.ID); err != nil {
			return noRows(err, name)
		}
		if err := checkEtag(tag, name, old.CreateTime.Time, old.Revision); err != nil {
			return err
		}
		cur, err := old.toDomain()
		if err != nil {
			return err
		}
		orig, err := old.toDomain()
		if err != nil {
			return err
		}
		if err := impact.IncidentMask.Apply(&cur.Incident, in, mask); err != nil {
			return err
		}
		row, err := incidentToRow(&cur.Incident)
		if err != nil {
			return err
		}
		prev, err := incidentToRow(&orig.Incident)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE incidents SET title = ?, cause = ?, recovery_currency = ?, allocation = ?,
			recovery_items = ?, revision = ?, update_time = ? WHERE id = ? AND revision = ?`),
			row.Title, row.Cause, row.RecoveryCurrency, row.Allocation, row.RecoveryItems, old.Revision+1, d.ts(now),
			in.ID, old.Revision)
		if err := oneRow(res, err, name); err != nil {
			return err
		}
		if err := d.audit(ctx, tx, now, "UpdateIncident", name, strings.Join(mask, ","), before, ref("incidents", "id = ?", in.ID)); err != nil {
			return err
		}
		if sameRow(prev, row) {
			return nil
		}
		ch.incident(in.ID, true, prev.Title != row.Title || prev.Cause != row.Cause || prev.Allocation != row.Allocation)
		return d.commitChanges(ctx, tx, ch)
	})
	if err != nil {
		return nil, err
	}
	return d.GetIncident(ctx, in.ID)
}

// DeleteIncident implements impact.IncidentStore.
func (d *DB) DeleteIncident(ctx context.Context, id, tag string, force bool) error {
	if err := checkID("name", id); err != nil {
		return err
	}
	name := impact.IncidentName(id)
	now := d.now()
	return d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		if err := d.checkRevision(ctx, tx, `SELECT revision, create_time FROM incidents WHERE id = ?`, tag, name, id); err != nil {
			return err
		}
		if !force {
			var has bool
			if err := tx.GetContext(ctx, &has, d.q(`SELECT EXISTS (SELECT 1 FROM windows WHERE incident_id = ?)`), id); err != nil {
				return err
			}
			if has {
				return impact.Errorf(impact.EFAILEDPRECOND, "%s has outage windows; delete them or set force", name).
					WithReason(impact.ReasonIncidentHasWindows)
			}
		}
		// Its windows leave the estimates that read them.
		var ws []windowRow
		if err := tx.SelectContext(ctx, &ws, d.q(`SELECT `+d.windowCols()+` FROM windows WHERE incident_id = ?`), id); err != nil {
			return err
		}
		for i := range ws {
			ch.window(&ws[i])
		}
		before, err := d.rowJSON(ctx, tx, ref("incidents", "id = ?", id))
		if err != nil {
			return err
		}
		// Windows and estimates go by ON DELETE CASCADE, in this statement.
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM incidents WHERE id = ?`), id); err != nil {
			return err
		}
		// The other estimates that read this incident's windows (their
		// dependency rows stay: they are the other estimates').
		ch.incident(id, false, true)
		if err := d.commitChanges(ctx, tx, ch); err != nil {
			return err
		}
		detail := ""
		if force {
			detail = "force"
		}
		return d.audit(ctx, tx, now, "DeleteIncident", name, detail, before, nil)
	})
}
