package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// Columns of customers. PostgreSQL reads NUMERIC back as text so that the
// decimal string round-trips exactly, never through a float.
const (
	customerColsSQLite = `id, display_name, currency_code, time_zone, hourly_amount, recapture_rate,
		lifetime_value, churn_probability, baseline, revision, create_time, update_time, labels`
	customerColsPostgres = `id, display_name, currency_code, time_zone, hourly_amount::text AS hourly_amount,
		recapture_rate::text AS recapture_rate, lifetime_value::text AS lifetime_value,
		churn_probability::text AS churn_probability, baseline, revision, create_time, update_time, labels`
)

func (d *DB) customerCols() string { return d.pick(customerColsSQLite, customerColsPostgres) }

// CreateCustomer implements impact.CustomerStore.
func (d *DB) CreateCustomer(ctx context.Context, c *impact.Customer, requestID string) (*impact.StoredCustomer, error) {
	if err := checkNewID("customer.customer_id", c.ID); err != nil {
		return nil, err
	}
	row, err := customerToRow(c)
	if err != nil {
		return nil, err
	}
	name := impact.CustomerName(c.ID)
	now := d.now()
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.claim(ctx, tx, "CreateCustomer", requestID, name, now, "", c); err != nil {
			return err
		}
		row.Revision = 1
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO customers (id, display_name, currency_code, time_zone, hourly_amount,
			recapture_rate, lifetime_value, churn_probability, baseline, revision, create_time, update_time, labels)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			row.ID, row.DisplayName, row.Currency, row.TimeZone, row.HourlyAmount, row.RecaptureRate,
			row.LifetimeValue, row.ChurnProbability, row.Baseline, row.Revision, d.ts(now), d.ts(now), row.Labels)
		if err != nil {
			return exists(err, name)
		}
		return d.audit(ctx, tx, now, "CreateCustomer", name, "", "", ref("customers", "id = ?", c.ID))
	})
	if first, ok := retried(err); ok {
		return d.GetCustomer(ctx, strings.TrimPrefix(first, "customers/"))
	}
	if err != nil {
		return nil, err
	}
	return d.GetCustomer(ctx, c.ID)
}

// GetCustomer implements impact.CustomerStore.
func (d *DB) GetCustomer(ctx context.Context, id string) (*impact.StoredCustomer, error) {
	if err := checkID("name", id); err != nil {
		return nil, err
	}
	var r customerRow
	err := d.db.GetContext(ctx, &r, d.q(`SELECT `+d.customerCols()+` FROM customers WHERE id = ?`), id)
	if err != nil {
		return nil, translate(noRows(err, impact.CustomerName(id)))
	}
	return r.toDomain()
}

// ListCustomers implements impact.CustomerStore.
func (d *DB) ListCustomers(ctx context.Context, p impact.PageRequest) (*impact.Page[impact.StoredCustomer], error) {
	pg, err := parsePage(p, 1, "ListCustomers")
	if err != nil {
		return nil, err
	}
	q, args := `SELECT `+d.customerCols()+` FROM customers`, []any{}
	if pg.after != nil {
		q, args = q+` WHERE id > ?`, append(args, pg.after[0])
	}
	var rows []customerRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY id LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *customerRow) []string { return []string{r.ID} })
	out := &impact.Page[impact.StoredCustomer]{Items: make([]impact.StoredCustomer, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		c, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *c)
	}
	return out, nil
}

// UpdateCustomer implements impact.CustomerStore.
func (d *DB) UpdateCustomer(ctx context.Context, c *impact.Customer, mask impact.FieldMask, tag string) (*impact.StoredCustomer, error) {
	if err := checkID("customer.name", c.ID); err != nil {
		return nil, err
	}
	name := impact.CustomerName(c.ID)
	now := d.now()
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var old customerRow
		if err := tx.GetContext(ctx, &old, d.q(`SELECT `+d.customerCols()+` FROM customers WHERE id = ?`), c.ID); err != nil {
			return noRows(err, name)
		}
		before, err := d.rowJSON(ctx, tx, ref("customers", "id = ?", c.ID))
		if err != nil {
			return err
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
		if err := impact.CustomerMask.Apply(&cur.Customer, c, mask); err != nil {
			return err
		}
		row, err := customerToRow(&cur.Customer)
		if err != nil {
			return err
		}
		prev, err := customerToRow(&orig.Customer)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE customers SET display_name = ?, currency_code = ?, time_zone = ?,
			hourly_amount = ?, recapture_rate = ?, lifetime_value = ?, churn_probability = ?, baseline = ?,
			revision = ?, update_time = ?, labels = ? WHERE id = ? AND revision = ?`),
			row.DisplayName, row.Currency, row.TimeZone, row.HourlyAmount, row.RecaptureRate, row.LifetimeValue,
			row.ChurnProbability, row.Baseline, old.Revision+1, d.ts(now), row.Labels, c.ID, old.Revision)
		if err := oneRow(res, err, name); err != nil {
			return err
		}
		if err := d.audit(ctx, tx, now, "UpdateCustomer", name, strings.Join(mask, ","), before, ref("customers", "id = ?", c.ID)); err != nil {
			return err
		}
		if sameRow(prev, row) {
			return nil
		}
		ch.customer(c.ID, name)
		return d.commitChanges(ctx, tx, ch)
	})
	if err != nil {
		return nil, err
	}
	return d.GetCustomer(ctx, c.ID)
}

// DeleteCustomer implements impact.CustomerStore. Contracts and statements
// go with the customer (ON DELETE CASCADE); windows do not: they belong to
// incidents, and deleting the customer under them would change incidents'
// estimates behind their owners' backs.
func (d *DB) DeleteCustomer(ctx context.Context, id, tag string) error {
	if err := checkID("name", id); err != nil {
		return err
	}
	name := impact.CustomerName(id)
	now := d.now()
	return d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := d.checkRevision(ctx, tx, `SELECT revision, create_time FROM customers WHERE id = ?`, tag, name, id); err != nil {
			return err
		}
		var has bool
		if err := tx.GetContext(ctx, &has, d.q(`SELECT EXISTS (SELECT 1 FROM windows WHERE customer_id = ?)`), id); err != nil {
			return err
		}
		if has {
			return impact.Errorf(impact.EFAILEDPRECOND, "%s still has outage windows; delete them first", name).
				WithReason(impact.ReasonCustomerHasWindows)
		}
		before, err := d.rowJSON(ctx, tx, ref("customers", "id = ?", id))
		if err != nil {
			return err
		}
		// A window inserted after the check fails this DELETE on its
		// foreign key, which translate reports as EFAILEDPRECOND too.
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM customers WHERE id = ?`), id); err != nil {
			return err
		}
		return d.audit(ctx, tx, now, "DeleteCustomer", name, "", before, nil)
	})
}

// Helpers shared by the resources.

// claim records a Create's request id; a retry ends the transaction with
// errRetried carrying the first result.
// parent and body are the request's, for its digest.
func (d *DB) claim(ctx context.Context, tx *sqlx.Tx, method, requestID, result string, now time.Time, parent string, body any) error {
	if requestID == "" {
		return nil
	}
	digest, err := requestDigest(ctx, method, parent, body)
	if err != nil {
		return err
	}
	first, err := d.claimRequest(ctx, tx, method, requestID, result, digest, now)
	if err != nil {
		return err
	}
	if first != "" {
		return &errRetried{first}
	}
	return nil
}

func retried(err error) (string, bool) {
	var re *errRetried
	if errors.As(err, &re) {
		return re.result, true
	}
	return "", false
}

// exists names the resource in an "already exists" conflict.
func exists(err error, name string) error {
	if te := translate(err); impact.ErrorCode(te) == impact.ECONFLICT {
		return impact.Errorf(impact.ECONFLICT, "%s already exists", name)
	}
	return err
}

// oneRow checks that a guarded UPDATE hit its row: zero rows means the
// revision moved since it was read (a concurrent update committed first).
func oneRow(res interface{ RowsAffected() (int64, error) }, err error, name string) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return impact.Errorf(impact.EABORTED, "%s was modified concurrently; retry", name).WithReason(impact.ReasonConcurrentUpdate)
	}
	return nil
}

// checkRevision reads a resource's revision (ENOTFOUND if absent) and
// compares it with the caller's etag.
// The query selects the revision and the create time.
func (d *DB) checkRevision(ctx context.Context, tx *sqlx.Tx, query, tag, name string, args ...any) error {
	var r struct {
		Revision   int64   `db:"revision"`
		CreateTime instant `db:"create_time"`
	}
	if err := tx.GetContext(ctx, &r, d.q(query), args...); err != nil {
		return noRows(err, name)
	}
	return checkEtag(tag, name, r.CreateTime.Time, r.Revision)
}
