package store

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

const (
	contractColsSQLite = `customer_id, service, monthly_fee, min_credit_amount, billing_period, time_zone,
		terms, revision, create_time, update_time, labels`
	contractColsPostgres = `customer_id, service, monthly_fee::text AS monthly_fee,
		min_credit_amount::text AS min_credit_amount, billing_period, time_zone, terms, revision,
		create_time, update_time, labels`
)

func (d *DB) contractCols() string { return d.pick(contractColsSQLite, contractColsPostgres) }

// customerExists returns ENOTFOUND for a missing parent customer.
func (d *DB) customerExists(ctx context.Context, q sqlx.QueryerContext, id string) error {
	var one int
	err := sqlx.GetContext(ctx, q, &one, d.q(`SELECT 1 FROM customers WHERE id = ?`), id)
	return noRows(err, impact.CustomerName(id))
}

// CreateContract implements impact.ContractStore.
func (d *DB) CreateContract(ctx context.Context, customerID string, k *impact.Contract, requestID string) (*impact.StoredContract, error) {
	if err := checkID("parent", customerID); err != nil {
		return nil, err
	}
	if err := checkNewID("contract.service", k.Service); err != nil {
		return nil, err
	}
	row, err := contractToRow(customerID, k)
	if err != nil {
		return nil, err
	}
	name := impact.ContractName(customerID, k.Service)
	now := d.now()
	err = d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		if err := d.claim(ctx, tx, "CreateContract", requestID, name, now, impact.CustomerName(customerID), k); err != nil {
			return err
		}
		if err := d.customerExists(ctx, tx, customerID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.q(`INSERT INTO contracts (customer_id, service, monthly_fee, min_credit_amount,
			billing_period, time_zone, terms, revision, create_time, update_time, labels)
			VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?)`),
			row.CustomerID, row.Service, row.MonthlyFee, row.MinCreditAmount, row.BillingPeriod, row.TimeZone,
			row.Terms, d.ts(now), d.ts(now), row.Labels)
		if err != nil {
			return exists(err, name)
		}
		if err := d.audit(ctx, tx, now, "CreateContract", name, "", "", ref("contracts", "customer_id = ? AND service = ?", customerID, k.Service)); err != nil {
			return err
		}
		ch.customer(customerID, name)
		return d.commitChanges(ctx, tx, ch)
	})
	if first, ok := retried(err); ok {
		c, s := splitContractName(first)
		return d.GetContract(ctx, c, s)
	}
	if err != nil {
		return nil, err
	}
	return d.GetContract(ctx, customerID, k.Service)
}

func splitContractName(name string) (customer, service string) {
	rest := strings.TrimPrefix(name, "customers/")
	customer, service, _ = strings.Cut(rest, "/contracts/")
	return customer, service
}

// GetContract implements impact.ContractStore.
func (d *DB) GetContract(ctx context.Context, customerID, service string) (*impact.StoredContract, error) {
	if err := checkID("name", customerID); err != nil {
		return nil, err
	}
	if err := checkID("name", service); err != nil {
		return nil, err
	}
	var r contractRow
	err := d.db.GetContext(ctx, &r, d.q(`SELECT `+d.contractCols()+` FROM contracts WHERE customer_id = ? AND service = ?`), customerID, service)
	if err != nil {
		return nil, translate(noRows(err, impact.ContractName(customerID, service)))
	}
	return r.toDomain()
}

// ListContracts implements impact.ContractStore.
func (d *DB) ListContracts(ctx context.Context, customerID string, p impact.PageRequest) (*impact.Page[impact.StoredContract], error) {
	if err := checkID("parent", customerID); err != nil {
		return nil, err
	}
	pg, err := parsePage(p, 1, "ListContracts", customerID)
	if err != nil {
		return nil, err
	}
	q, args := `SELECT `+d.contractCols()+` FROM contracts WHERE customer_id = ?`, []any{customerID}
	if pg.after != nil {
		q, args = q+` AND service > ?`, append(args, pg.after[0])
	}
	var rows []contractRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY service LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	if len(rows) == 0 {
		// Only an empty page pays for telling "no contracts" from "no customer".
		if err := d.customerExists(ctx, d.db, customerID); err != nil {
			return nil, translate(err)
		}
	}
	rows, next := trim(pg, rows, func(r *contractRow) []string { return []string{r.Service} })
	out := &impact.Page[impact.StoredContract]{Items: make([]impact.StoredContract, 0, len(rows)), NextPageToken: next}
	for i := range rows {
		k, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, *k)
	}
	return out, nil
}

// UpdateContract implements impact.ContractStore.
func (d *DB) UpdateContract(ctx context.Context, customerID string, k *impact.Contract, mask impact.FieldMask, tag string) (*impact.StoredContract, error) {
	if err := checkID("contract.name", customerID); err != nil {
		return nil, err
	}
	if err := checkID("contract.name", k.Service); err != nil {
		return nil, err
	}
	name := impact.ContractName(customerID, k.Service)
	now := d.now()
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var old contractRow
		before, err := d.rowJSON(ctx, tx, ref("contracts", "customer_id = ? AND service = ?", customerID, k.Service))
		if err != nil {
			return err
		}
		if err := tx.GetContext(ctx, &old, d.q(`SELECT `+d.contractCols()+` FROM contracts WHERE customer_id = ? AND service = ?`), customerID, k.Service); err != nil {
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
		if err := impact.ContractMask.Apply(&cur.Contract, k, mask); err != nil {
			return err
		}
		row, err := contractToRow(customerID, &cur.Contract)
		if err != nil {
			return err
		}
		prev, err := contractToRow(customerID, &orig.Contract)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, d.q(`UPDATE contracts SET monthly_fee = ?, min_credit_amount = ?, billing_period = ?,
			time_zone = ?, terms = ?, revision = ?, update_time = ?, labels = ?
			WHERE customer_id = ? AND service = ? AND revision = ?`),
			row.MonthlyFee, row.MinCreditAmount, row.BillingPeriod, row.TimeZone, row.Terms, old.Revision+1, d.ts(now),
			row.Labels, customerID, k.Service, old.Revision)
		if err := oneRow(res, err, name); err != nil {
			return err
		}
		if err := d.followContract(ctx, tx, customerID, &cur.Contract, now); err != nil {
			return err
		}
		if err := d.audit(ctx, tx, now, "UpdateContract", name, strings.Join(mask, ","), before,
			ref("contracts", "customer_id = ? AND service = ?", customerID, k.Service)); err != nil {
			return err
		}
		if sameRow(prev, row) {
			return nil
		}
		ch.customer(customerID, name)
		return d.commitChanges(ctx, tx, ch)
	})
	if err != nil {
		return nil, err
	}
	return d.GetContract(ctx, customerID, k.Service)
}

// DeleteContract implements impact.ContractStore.
func (d *DB) DeleteContract(ctx context.Context, customerID, service, tag string) error {
	if err := checkID("name", customerID); err != nil {
		return err
	}
	if err := checkID("name", service); err != nil {
		return err
	}
	name := impact.ContractName(customerID, service)
	now := d.now()
	return d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		if err := d.checkRevision(ctx, tx, `SELECT revision, create_time FROM contracts WHERE customer_id = ? AND service = ?`, tag, name, customerID, service); err != nil {
			return err
		}
		before, err := d.rowJSON(ctx, tx, ref("contracts", "customer_id = ? AND service = ?", customerID, service))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`DELETE FROM contracts WHERE customer_id = ? AND service = ?`), customerID, service); err != nil {
			return err
		}
		if err := d.audit(ctx, tx, now, "DeleteContract", name, "", before, nil); err != nil {
			return err
		}
		ch.customer(customerID, name)
		return d.commitChanges(ctx, tx, ch)
	})
}
