package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// Bulk creates for impactctl import (README "Bulk data"): many rows in one
// transaction, written with COPY on PostgreSQL and multi-row INSERTs on
// SQLite, with what the one-row Creates keep: a request id per row (a row
// whose request id was recorded before is not written again), the
// freshness bookkeeping of fresh.go (a contract changes its customer's
// fingerprint exactly as CreateContract does), and the audit log (one
// record per batch naming every row written, with the stored rows after
// it: the customers written, or every contract of the customers whose
// contracts were written).
// The rows are checked by the caller (impactctl validates every row before
// it writes any); the database still refuses a duplicate id or a missing
// customer, and the batch is then written not at all.

// MaxBulkRows is the most rows one bulk call takes: its fingerprints and
// audit record read the rows back with one IN list each, under the bound
// parameters of both engines (32,766 on SQLite).
const MaxBulkRows = 5000

// sqliteInsertRows is the rows per multi-row INSERT on SQLite, under its
// 32,766 bound parameters at 13 columns.
const sqliteInsertRows = 500

// BulkCreateCustomers creates customers cs, cs[i] with request id
// requestIDs[i] (method CreateCustomer, as the one-row Create records it).
// It returns how many it wrote: a row whose request id was recorded before
// is left out.
func (d *DB) BulkCreateCustomers(ctx context.Context, cs []impact.Customer, requestIDs []string) (int, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	if len(cs) > MaxBulkRows || len(requestIDs) != len(cs) {
		return 0, invalid("customers", fmt.Sprintf("must hold between 1 and %d customers, each with a request id", MaxBulkRows))
	}
	rows := make([]*customerRow, len(cs))
	for i := range cs {
		if err := checkNewID("customer.customer_id", cs[i].ID); err != nil {
			return 0, err
		}
		r, err := customerToRow(&cs[i])
		if err != nil {
			return 0, err
		}
		rows[i] = r
	}
	now := d.now()
	written := 0
	err := d.inConnTx(ctx, func(conn *sqlx.Conn, tx *sqlx.Tx) error {
		keep, err := d.claimMany(ctx, tx, "CreateCustomer", requestIDs, func(i int) (string, string, any) {
			return impact.CustomerName(cs[i].ID), "", &cs[i]
		})
		if err != nil {
			return err
		}
		var ids, names []string
		values := make([][]any, 0, len(rows))
		for i, r := range rows {
			if !keep[i] {
				continue
			}
			ids = append(ids, r.ID)
			names = append(names, impact.CustomerName(r.ID))
			values = append(values, []any{r.ID, r.DisplayName, r.Currency, r.TimeZone, d.num(r.HourlyAmount), d.num(r.RecaptureRate),
				d.num(r.LifetimeValue), d.num(r.ChurnProbability), d.jsonb(r.Baseline), int64(1), d.ts(now), d.ts(now), r.Labels})
		}
		if len(values) == 0 {
			return nil
		}
		cols := []string{"id", "display_name", "currency_code", "time_zone", "hourly_amount", "recapture_rate",
			"lifetime_value", "churn_probability", "baseline", "revision", "create_time", "update_time", "labels"}
		if err := d.insertMany(ctx, conn, tx, "customers", cols, values); err != nil {
			return exists(err, "a customer of this batch")
		}
		written = len(values)
		return d.auditMany(ctx, tx, "ImportCustomers", "customers", names, ref("customers", inList("id", len(ids))+" ORDER BY id", anys(ids)...))
	})
	return written, err
}

// BulkCreateContracts creates contracts ks, ks[i] of customer
// customerIDs[i] with request id requestIDs[i] (method CreateContract).
// Every customer must exist. It returns how many it wrote.
func (d *DB) BulkCreateContracts(ctx context.Context, customerIDs []string, ks []impact.Contract, requestIDs []string) (int, error) {
	if len(ks) == 0 {
		return 0, nil
	}
	if len(ks) > MaxBulkRows || len(requestIDs) != len(ks) || len(customerIDs) != len(ks) {
		return 0, invalid("contracts", fmt.Sprintf("must hold between 1 and %d contracts, each with a customer and a request id", MaxBulkRows))
	}
	rows := make([]*contractRow, len(ks))
	for i := range ks {
		if err := checkID("parent", customerIDs[i]); err != nil {
			return 0, err
		}
		if err := checkNewID("contract.service", ks[i].Service); err != nil {
			return 0, err
		}
		r, err := contractToRow(customerIDs[i], &ks[i])
		if err != nil {
			return 0, err
		}
		rows[i] = r
	}
	now := d.now()
	written := 0
	err := d.inConnTx(ctx, func(conn *sqlx.Conn, tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx) // the first lock, as in CreateContract
		if err != nil {
			return err
		}
		keep, err := d.claimMany(ctx, tx, "CreateContract", requestIDs, func(i int) (string, string, any) {
			return impact.ContractName(customerIDs[i], ks[i].Service), impact.CustomerName(customerIDs[i]), &ks[i]
		})
		if err != nil {
			return err
		}
		var names []string
		values := make([][]any, 0, len(rows))
		for i, r := range rows {
			if !keep[i] {
				continue
			}
			name := impact.ContractName(r.CustomerID, r.Service)
			names = append(names, name)
			values = append(values, []any{r.CustomerID, r.Service, d.num(r.MonthlyFee), d.num(r.MinCreditAmount), r.BillingPeriod,
				r.TimeZone, d.jsonb(r.Terms), int64(1), d.ts(now), d.ts(now), r.Labels})
			ch.customer(r.CustomerID, name)
		}
		if len(values) == 0 {
			return nil
		}
		cols := []string{"customer_id", "service", "monthly_fee", "min_credit_amount", "billing_period", "time_zone",
			"terms", "revision", "create_time", "update_time", "labels"}
		if err := d.insertMany(ctx, conn, tx, "contracts", cols, values); err != nil {
			if te := translate(err); impact.ErrorCode(te) == impact.ENOTFOUND || strings.Contains(strings.ToLower(err.Error()), "foreign key") {
				return impact.Errorf(impact.ENOTFOUND, "a customer of this batch does not exist")
			}
			return exists(err, "a contract of this batch")
		}
		written = len(values)
		// The after value is every stored contract of the batch's customers
		// (read by the primary key's prefix; a list of (customer, service)
		// pairs is not an index lookup on either engine): the new ones and
		// any the customers had before.
		var custs []string
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.CustomerID] {
				seen[r.CustomerID] = true
				custs = append(custs, r.CustomerID)
			}
		}
		if err := d.auditMany(ctx, tx, "ImportContracts", "contracts", names,
			ref("contracts", inList("customer_id", len(custs))+" ORDER BY customer_id, service", anys(custs)...)); err != nil {
			return err
		}
		return d.commitChanges(ctx, tx, ch)
	})
	return written, err
}

// inConnTx is inTx on a connection the function sees too, for COPY.
func (d *DB) inConnTx(ctx context.Context, fn func(conn *sqlx.Conn, tx *sqlx.Tx) error) error {
	if d.writers != nil {
		select {
		case d.writers <- struct{}{}:
			defer func() { <-d.writers }()
		case <-ctx.Done():
			return impact.Errorf(impact.EUNAVAILABLE, "database busy, retry").WithReason(impact.ReasonDatabaseBusy)
		}
	}
	conn, err := d.db.conn(ctx)
	if err != nil {
		return translate(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(conn, tx); err != nil {
		return translate(err)
	}
	return translate(tx.Commit())
}

// claimMany records requestIDs[i] for row i, as claim does for one row,
// and reports the rows to write: those whose request id is new. A request
// id recorded before for another request of the same method is ECONFLICT,
// as in claimRequest.
// of(i) gives row i's result name, parent and body (for its digest).
func (d *DB) claimMany(ctx context.Context, tx *sqlx.Tx, method string, requestIDs []string, of func(i int) (result, parent string, body any)) ([]bool, error) {
	keep := make([]bool, len(requestIDs))
	now := d.ts(d.now())
	digests := make([]string, len(requestIDs))
	index := make(map[string]int, len(requestIDs))
	for i, id := range requestIDs {
		if id == "" {
			keep[i] = true
			continue
		}
		if msg := impact.CheckRequestID(id); msg != "" {
			return nil, invalid("request_id", msg)
		}
		if _, dup := index[id]; dup {
			return nil, invalid("request_id", fmt.Sprintf("request id %q is given twice in one batch", id))
		}
		index[id] = i
		_, parent, body := of(i)
		dg, err := requestDigest(ctx, method, parent, body)
		if err != nil {
			return nil, err
		}
		digests[i] = dg
	}
	// The ids recorded before: their rows are left out, unless recorded
	// for a different request.
	var ids []string
	for id := range index {
		ids = append(ids, id)
	}
	// SQLite: by the primary key (method, request_id), 500 ids a query.
	// PostgreSQL: the batch's ids as one array, each probing the primary key:
	// an IN list of many parameters is planned (generically, once pgx has
	// prepared it) as a scan of every row of the method filtered by the
	// list, whose time grows with the rows imported before (the whole
	// import quadratic); a lookup per id of the unnested array is one index
	// probe each whatever the table's statistics say (claimLookupSQL).
	// A bulk write looks up its method's ids only (impactctl's name their
	// method), where claimRequest also refuses an id another method used.
	per := sqliteInsertRows
	if d.engine == Postgres {
		per = max(1, len(ids))
	}
	for lo := 0; lo < len(ids); lo += per {
		part := ids[lo:min(lo+per, len(ids))]
		args := append([]any{method}, anys(part)...)
		if d.engine == Postgres {
			args = []any{part, method}
		}
		var seen []struct {
			Method    string `db:"method"`
			RequestID string `db:"request_id"`
			Digest    string `db:"digest"`
		}
		if err := tx.SelectContext(ctx, &seen, d.claimLookupSQL(len(part)), args...); err != nil {
			return nil, err
		}
		for _, s := range seen {
			i := index[s.RequestID]
			if s.Method != method || (s.Digest != "" && s.Digest != digests[i]) {
				return nil, impact.Errorf(impact.ECONFLICT, "request id %q was already used by a different request (another method, parent, body or caller); use a new request id", s.RequestID)
			}
			delete(index, s.RequestID)
		}
	}
	var values [][]any
	for id, i := range index {
		keep[i] = true
		result, _, _ := of(i)
		values = append(values, []any{method, id, result, now, digests[i]})
	}
	if len(values) > 0 {
		if err := d.insertValues(ctx, tx, "request_ids", []string{"method", "request_id", "result", "create_time", "digest"}, values); err != nil {
			return nil, err
		}
	}
	return keep, nil
}

// claimLookupSQL is claimMany's query of the recorded ids of a method,
// bound for the engine: on SQLite its arguments are the method and n ids,
// on PostgreSQL the ids as one array and the method.
func (d *DB) claimLookupSQL(n int) string {
	if d.engine == Postgres {
		// LIMIT 1 (the key is unique) keeps the lateral subquery from being
		// flattened into a join, which the planner may make a hash join
		// over every id of the method when its statistics are stale.
		return d.q(`SELECT r.method, r.request_id, r.digest FROM unnest(?::text[]) AS u(id),
			LATERAL (SELECT method, request_id, digest FROM request_ids WHERE method = ? AND request_id = u.id LIMIT 1) r`)
	}
	return `SELECT method, request_id, digest FROM request_ids WHERE method = ? AND ` + inList("request_id", n)
}

// insertMany writes values into table: COPY on PostgreSQL, within tx (the
// transaction of conn), multi-row INSERTs on SQLite.
func (d *DB) insertMany(ctx context.Context, conn *sqlx.Conn, tx *sqlx.Tx, table string, cols []string, values [][]any) error {
	if d.engine != Postgres {
		return d.insertValues(ctx, tx, table, cols, values)
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: COPY needs a pgx connection, got %T", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(values))
		return err
	})
}

// insertValues writes values with multi-row INSERTs.
func (d *DB) insertValues(ctx context.Context, tx *sqlx.Tx, table string, cols []string, values [][]any) error {
	per := max(1, min(sqliteInsertRows, 30000/len(cols)))
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for lo := 0; lo < len(values); lo += per {
		part := values[lo:min(lo+per, len(values))]
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, len(part)*len(cols))
		for i, v := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			args = append(args, v...)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// auditMany writes one audit record for a batch: the names written in
// detail, their stored rows as the after value.
func (d *DB) auditMany(ctx context.Context, tx *sqlx.Tx, action, resource string, names []string, after *rowRef) error {
	detail := fmt.Sprintf("%d %s: %s", len(names), resource, strings.Join(names, ", "))
	return d.audit(ctx, tx, d.now(), action, resource, detail, "", after)
}

// num is a decimal column's value for insertMany: COPY encodes NUMERIC
// from a pgtype.Numeric, not from text.
func (d *DB) num(v sql.NullString) any {
	if d.engine != Postgres {
		return v
	}
	if !v.Valid {
		return pgtype.Numeric{}
	}
	var n pgtype.Numeric
	if err := n.Scan(v.String); err != nil {
		return v // reported by the database
	}
	return n
}

// jsonb is a document column's value: COPY writes JSONB from a string.
func (d *DB) jsonb(b []byte) any {
	if d.engine != Postgres {
		return b
	}
	return string(b)
}

func inList(col string, n int) string {
	return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// BatchGetCustomers reads the customers ids that
// exist, by id; ids absent are absent from the map.
func (d *DB) BatchGetCustomers(ctx context.Context, ids []string) (map[string]*impact.StoredCustomer, error) {
	return selectIn(ctx, d, `SELECT `+d.customerCols()+` FROM customers WHERE id IN (?)`, ids,
		(*customerRow).toDomain, func(c *impact.StoredCustomer) string { return c.ID })
}

// BatchGetContracts reads every stored contract of the customers ids, by
// contract name.
func (d *DB) BatchGetContracts(ctx context.Context, customerIDs []string) (map[string]*impact.StoredContract, error) {
	return selectIn(ctx, d, `SELECT `+d.contractCols()+` FROM contracts WHERE customer_id IN (?)`, customerIDs,
		(*contractRow).toDomain, func(k *impact.StoredContract) string { return k.Name })
}

// selectIn runs query, whose one "IN (?)" takes ids, idChunk ids at a
// time, and maps the rows it reads by key.
func selectIn[R any, T any](ctx context.Context, d *DB, query string, ids []string,
	toDomain func(*R) (*T, error), key func(*T) string) (map[string]*T, error) {
	out := make(map[string]*T, len(ids))
	for lo := 0; lo < len(ids); lo += idChunk {
		q, args, err := sqlx.In(query, ids[lo:min(lo+idChunk, len(ids))])
		if err != nil {
			return nil, err
		}
		var rows []R
		if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, translate(err)
		}
		for i := range rows {
			v, err := toDomain(&rows[i])
			if err != nil {
				return nil, err
			}
			out[key(v)] = v
		}
	}
	return out, nil
}

// BatchGetWindows reads the windows ids of incident incidentID that exist,
// by id.
func (d *DB) BatchGetWindows(ctx context.Context, incidentID string, ids []string) (map[string]*impact.StoredWindow, error) {
	ws, err := d.getWindows(ctx, incidentID, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*impact.StoredWindow, len(ws))
	for i := range ws {
		out[ws[i].ID] = &ws[i]
	}
	return out, nil
}
