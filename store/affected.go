package store

import (
	"context"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// affectedSpansQuery is every (incident, customer) pair of the incidents
// asked with the span of its windows, through the index (incident_id,
// customer_id, id).
const affectedSpansQuery = `SELECT incident_id, customer_id, MIN(start_time) AS first_start, MAX(end_time) AS last_end
	FROM windows WHERE incident_id IN (?) GROUP BY incident_id, customer_id ORDER BY incident_id, customer_id`

type spanRow struct {
	IncidentID string  `db:"incident_id"`
	CustomerID string  `db:"customer_id"`
	FirstStart instant `db:"first_start"`
	LastEnd    instant `db:"last_end"`
}

// AffectedCustomersOf implements impact.EstimateStore: the affected
// customers of several incidents in a fixed number of queries per
// MaxPageSize customers, each customer read and decoded once however many
// of the incidents it is in.
func (d *DB) AffectedCustomersOf(ctx context.Context, incidentIDs []string) (map[string][]impact.AffectedCustomer, error) {
	if len(incidentIDs) > impact.MaxPageSize {
		return nil, invalid("incident_ids", "at most 1000 ids per call")
	}
	out := make(map[string][]impact.AffectedCustomer, len(incidentIDs))
	if len(incidentIDs) == 0 {
		return out, nil
	}
	q, args, err := sqlx.In(affectedSpansQuery, incidentIDs)
	if err != nil {
		return nil, err
	}
	var spans []spanRow
	if err := d.db.SelectContext(ctx, &spans, d.q(q), args...); err != nil {
		return nil, translate(err)
	}
	seen := map[string]bool{}
	var ids []string
	for i := range spans {
		if !seen[spans[i].CustomerID] {
			seen[spans[i].CustomerID] = true
			ids = append(ids, spans[i].CustomerID)
		}
	}
	custs := make(map[string]*impact.Customer, len(ids))
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		part := ids[lo:min(lo+impact.MaxPageSize, len(ids))]
		q, args, err := sqlx.In(`SELECT `+d.customerCols()+` FROM customers WHERE id IN (?)`, part)
		if err != nil {
			return nil, err
		}
		var rows []customerRow
		if err := d.db.SelectContext(ctx, &rows, d.q(q), args...); err != nil {
			return nil, translate(err)
		}
		for i := range rows {
			c, err := rows[i].toDomain()
			if err != nil {
				return nil, err
			}
			custs[c.ID] = &c.Customer
		}
		byCustomer, err := d.contractsOf(ctx, part)
		if err != nil {
			return nil, err
		}
		for id, ks := range byCustomer {
			if c := custs[id]; c != nil {
				c.Contracts = ks
			}
		}
	}
	for i := range spans {
		s := &spans[i]
		c := custs[s.CustomerID]
		if c == nil {
			continue // deleted between the two queries: it has no windows now
		}
		out[s.IncidentID] = append(out[s.IncidentID], impact.AffectedCustomer{Customer: *c, FirstStart: s.FirstStart.Time, LastEnd: s.LastEnd.Time})
	}
	return out, nil
}
