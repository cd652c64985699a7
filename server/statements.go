package server

import (
	"context"
	"sort"
	"time"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// activeDuring reports whether [start, end) overlaps the contract's active
// range [ActiveFrom, ActiveUntil) (a zero bound is open).
func activeDuring(k *impact.Contract, start, end time.Time) bool {
	return (k.ActiveFrom.IsZero() || end.After(k.ActiveFrom)) && (k.ActiveUntil.IsZero() || start.Before(k.ActiveUntil))
}

// allTime is a range holding every stored window.
var allTime = struct{ from, to time.Time }{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}

// maxPeriodsPerWindow bounds the billing periods one window is walked
// through (a window of several years is valid; a century is not useful).
const maxPeriodsPerWindow = 1200

// ListContractStatements lists the statements of a contract, newest period
// first: every billing period a stored window of the customer and service
// overlaps, each computed as GetContractStatement computes it. The page token is
// the last period returned.
func (s *Stored) ListContractStatements(ctx context.Context, req *impactv1.ListContractStatementsRequest) (*impactv1.ListContractStatementsResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "customers", "contracts")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, s.fail(ctx, invalidField("page_size", "must not be negative"))
	case size == 0:
		size = impact.DefaultPageSize
	case size > impact.MaxPageSize:
		size = impact.MaxPageSize
	}
	k, err := s.store.GetContract(ctx, ids[0], ids[1])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	cust, err := s.store.GetCustomer(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	after := req.GetPageToken()
	if after != "" && !statementPeriod.MatchString(after) {
		return nil, s.fail(ctx, invalidField("page_token", "malformed page token"))
	}
	ws, err := s.store.WindowsInRanges(ctx, []impact.CustomerRange{{CustomerID: ids[0], From: allTime.from, To: allTime.to}})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	type span struct {
		name       string
		start, end time.Time
	}
	seen := map[string]span{}
	for _, w := range ws {
		if w.Service != k.Service {
			continue
		}
		for t, n := w.Start, 0; t.Before(w.End) && n < maxPeriodsPerWindow; n++ {
			ps, pe := periodBounds(t, k.TimeZone, k.BillingPeriod)
			name, err := impact.StatementPeriod(ps, k.TimeZone, k.BillingPeriod)
			if err != nil {
				return nil, s.fail(ctx, err)
			}
			seen[name] = span{name, ps, pe}
			t = pe
		}
	}
	periods := make([]span, 0, len(seen))
	for _, p := range seen {
		periods = append(periods, p)
	}
	// Newest first; "2025-07" and "2025-Q3" sort as their years and
	// months do.
	sort.Slice(periods, func(i, j int) bool { return periods[i].start.After(periods[j].start) })
	resp := &impactv1.ListContractStatementsResponse{}
	for _, p := range periods {
		if after != "" && p.name >= after {
			continue
		}
		if len(resp.SlaStatements) == size {
			resp.NextPageToken = periodOf(resp.SlaStatements[size-1].GetName())
			break
		}
		st, err := s.statementOf(ctx, cust, k, p.name, p.start, p.end)
		if impact.ErrorCode(err) == impact.ENOTFOUND {
			continue // no deployed part: no statement
		}
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		resp.SlaStatements = append(resp.SlaStatements, st)
	}
	return resp, nil
}

// periodOf is the period of a statement name.
func periodOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}
