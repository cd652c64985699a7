package store

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// SelectCustomers implements impact.BookStore. Customer ids and services
// filter in SQL; labels are matched in Go (a contract's label overrides its
// customer's, which no index answers on both engines), so a call may scan
// several pages of customers to fill one: the cost is linear in the
// customers scanned and memory is one page.
func (d *DB) SelectCustomers(ctx context.Context, sel *impact.ContractSelector, after string, limit int) ([]impact.Customer, error) {
	if limit <= 0 || limit > impact.MaxPageSize {
		return nil, invalid("limit", "must be in [1, 1000]")
	}
	var out []impact.Customer
	for {
		q := `SELECT ` + d.customerCols() + ` FROM customers WHERE id > ?`
		args := []any{after}
		if len(sel.CustomerIDs) > 0 {
			q += ` AND id IN (?)`
			args = append(args, sel.CustomerIDs)
		}
		sub := `SELECT 1 FROM contracts WHERE contracts.customer_id = customers.id`
		if len(sel.Services) > 0 {
			sub += ` AND contracts.service IN (?)`
			args = append(args, sel.Services)
		}
		q += ` AND EXISTS (` + sub + `) ORDER BY id LIMIT ?`
		args = append(args, limit)
		q, args, err := sqlx.In(q, args...)
		if err != nil {
			return nil, err
		}
		var rows []customerRow
		if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, translate(err)
		}
		if len(rows) == 0 {
			return out, nil
		}
		ids := make([]string, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		byCustomer, err := d.contractsOf(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			c, err := rows[i].toDomain()
			if err != nil {
				return nil, err
			}
			var ks []impact.Contract
			for _, k := range byCustomer[c.ID] {
				if sel.Matches(c.ID, c.Labels, k.Service, k.Labels) {
					ks = append(ks, k)
				}
			}
			if len(ks) == 0 {
				continue
			}
			c.Contracts = ks
			out = append(out, c.Customer)
			if len(out) == limit {
				return out, nil
			}
		}
		if len(rows) < limit {
			return out, nil
		}
		after = rows[len(rows)-1].ID
	}
}
