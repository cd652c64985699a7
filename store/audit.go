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

// The audit log: one row per write (audit, in db.go), with the stored row
// of the resource before and after it.

// rowRef names one stored row, for the audit row's before and after.
type rowRef struct {
	table string
	where string // "id = ?"
	args  []any
}

func ref(table, where string, args ...any) *rowRef { return &rowRef{table, where, args} }

// windowsRef names the windows ids of an incident.
func windowsRef(incidentID string, ids []string) *rowRef {
	args := make([]any, 0, len(ids)+1)
	args = append(args, incidentID)
	marks := make([]string, len(ids))
	for i, id := range ids {
		marks[i] = "?"
		args = append(args, id)
	}
	return &rowRef{"windows", "incident_id = ? AND id IN (" + strings.Join(marks, ", ") + ") ORDER BY id", args}
}

// rowJSON is the row r names in tx as a JSON object, column by column
// (several rows: an array of them), or "" when there is none (r nil, or
// the row is gone).
func (d *DB) rowJSON(ctx context.Context, tx *sqlx.Tx, r *rowRef) (string, error) {
	if r == nil {
		return "", nil
	}
	rows, err := tx.QueryxContext(ctx, d.q(`SELECT * FROM `+r.table+` WHERE `+r.where), r.args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var all []map[string]any
	for rows.Next() {
		m := map[string]any{}
		if err := rows.MapScan(m); err != nil {
			return "", err
		}
		for k, v := range m {
			switch x := v.(type) {
			case []byte:
				m[k] = string(x)
			case time.Time:
				m[k] = x.UTC().Format(time.RFC3339Nano)
			}
		}
		all = append(all, m)
	}
	if err := rows.Err(); err != nil || len(all) == 0 {
		return "", err
	}
	var v any = all
	if len(all) == 1 {
		v = all[0]
	}
	b, err := json.Marshal(v) // keys sorted: the same row gives the same text
	return string(b), err
}

type auditRow struct {
	ID       int64   `db:"id"`
	Actor    string  `db:"actor"`
	Action   string  `db:"action"`
	Resource string  `db:"resource"`
	Detail   string  `db:"detail"`
	Time     instant `db:"time"`
	Before   string  `db:"before_value"`
	After    string  `db:"after_value"`
}

// ListAuditRecords implements impact.AuditStore: newest first, by id.
func (d *DB) ListAuditRecords(ctx context.Context, p impact.PageRequest) (*impact.Page[impact.AuditRecord], error) {
	pg, err := parsePage(p, 1, "ListAuditRecords")
	if err != nil {
		return nil, err
	}
	q, args := `SELECT id, actor, action, resource, detail, time, before_value, after_value FROM audit_log`, []any{}
	if pg.after != nil {
		last, err := strconv.ParseInt(pg.after[0], 10, 64)
		if err != nil {
			return nil, invalid("page_token", "malformed page token")
		}
		q, args = q+` WHERE id < ?`, append(args, last)
	}
	var rows []auditRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY id DESC LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *auditRow) []string { return []string{strconv.FormatInt(r.ID, 10)} })
	out := &impact.Page[impact.AuditRecord]{Items: make([]impact.AuditRecord, len(rows)), NextPageToken: next}
	for i, r := range rows {
		out.Items[i] = impact.AuditRecord{ID: r.ID, Actor: r.Actor, Action: r.Action, Resource: r.Resource,
			Detail: r.Detail, Time: r.Time.Time, Before: r.Before, After: r.After}
	}
	return out, nil
}
