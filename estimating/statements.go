package estimating

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/impact-svc/impact/impact"
)

// SLA statements are computed live from the stored windows, so that they
// always reflect every window of the period, also those added after the
// last :estimate of their incident.

// PeriodError is Statement's verdict on a period name that is not one of
// the contract's billing periods.
type PeriodError struct {
	Period string
	Want   string // "YYYY-MM (the contract bills monthly)" or "YYYY-Qn (…)"
}

func (e *PeriodError) Error() string { return fmt.Sprintf("period %q must be %s", e.Period, e.Want) }

// periodOf is the billing period of contract k named period.
func periodOf(k *impact.Contract, period string) (start, end time.Time, err error) {
	year, month, q, ok := impact.ParsePeriodName(period)
	quarterly := k.BillingPeriod == impact.Quarterly
	if !ok || q != quarterly {
		want := "YYYY-MM (the contract bills monthly)"
		if quarterly {
			want = "YYYY-Qn (the contract bills quarterly)"
		}
		return time.Time{}, time.Time{}, &PeriodError{Period: period, Want: want}
	}
	// Noon of the period's first day is inside it in every zone.
	start, end = impact.StatementBounds(time.Date(year, time.Month(month), 1, 12, 0, 0, 0, time.UTC), k)
	return start, end, nil
}

// Statement computes the statement of contract service of customer custID
// for period ("2025-07", "2025-Q3") from the stored windows. ENOTFOUND if
// the contract or customer does not exist, or the period is outside the
// contract's active range and no window overlaps it; a *PeriodError if
// period is not one of the contract's billing periods.
func (s *Service) Statement(ctx context.Context, custID, service, period string) (*impact.StoredStatement, error) {
	k, err := s.store.GetContract(ctx, custID, service)
	if err != nil {
		return nil, err
	}
	start, end, err := periodOf(&k.Contract, period)
	if err != nil {
		return nil, err
	}
	cust, err := s.store.GetCustomer(ctx, custID)
	if err != nil {
		return nil, err
	}
	return s.statementOf(ctx, cust, k, period, start, end)
}

// allTime is a range holding every stored window.
var allTime = struct{ from, to time.Time }{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}

// maxPeriodsPerWindow bounds the billing periods one window is walked
// through (a window of several years is valid; a century is not useful).
const maxPeriodsPerWindow = 1200

// Statements lists up to size statements of a contract, newest period
// first, of the periods before after (a period name; "" for the first
// page): every billing period a stored window of the customer and service
// overlaps, each computed as Statement computes it. next is the period to
// pass as after for the next page, "" after the last.
func (s *Service) Statements(ctx context.Context, custID, service, after string, size int) (sts []impact.StoredStatement, next string, err error) {
	k, err := s.store.GetContract(ctx, custID, service)
	if err != nil {
		return nil, "", err
	}
	cust, err := s.store.GetCustomer(ctx, custID)
	if err != nil {
		return nil, "", err
	}
	if after != "" && !impact.IsPeriodName(after) {
		return nil, "", &impact.Error{Code: impact.EINVALID, Message: "invalid request",
			Violations: []impact.FieldViolation{{Field: "page_token", Description: "malformed page token"}}}
	}
	ws, err := s.store.WindowsInRanges(ctx, []impact.CustomerRange{{CustomerID: custID, From: allTime.from, To: allTime.to}})
	if err != nil {
		return nil, "", err
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
			ps, pe := impact.StatementBounds(t, &k.Contract)
			name, err := impact.StatementPeriod(ps, k.TimeZone, k.BillingPeriod)
			if err != nil {
				return nil, "", err
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
	for _, p := range periods {
		if after != "" && p.name >= after {
			continue
		}
		if len(sts) == size {
			return sts, sts[size-1].Period, nil
		}
		st, err := s.statementOf(ctx, cust, k, p.name, p.start, p.end)
		if impact.ErrorCode(err) == impact.ENOTFOUND {
			continue // no deployed part: no statement
		}
		if err != nil {
			return nil, "", err
		}
		sts = append(sts, *st)
	}
	return sts, "", nil
}

// statementOf computes the statement of contract k of cust for the period
// [start, end) named period from the stored windows. A period no window
// overlaps has the quiet statement (downtime 0, uptime 100) when it is
// inside the contract's active range, else none (ENOTFOUND).
func (s *Service) statementOf(ctx context.Context, cust *impact.StoredCustomer, k *impact.StoredContract, period string, start, end time.Time) (*impact.StoredStatement, error) {
	custID, service := cust.ID, k.Service
	name := impact.StatementName(custID, service, period)
	ranges := []impact.CustomerRange{{CustomerID: custID, From: start, To: end}}
	all, err := WindowsCovering(ctx, s.store, ranges)
	if err != nil {
		return nil, err
	}
	var ws []impact.StoredWindow
	for _, w := range all {
		if w.Service == service {
			ws = append(ws, w)
		}
	}
	c := cust.Customer
	c.Contracts = []impact.Contract{k.Contract}
	sc, err := Scenario(ctx, s.store, "", []impact.Customer{c}, ws)
	if err != nil {
		return nil, err
	}
	est, err := s.Run(ctx, CallStatement, sc)
	if err != nil {
		return nil, EstimateError(sc, err)
	}
	for i := range est.Statements {
		st := &est.Statements[i]
		p, err := impact.StatementPeriod(st.PeriodStart, k.TimeZone, k.BillingPeriod)
		if err != nil {
			return nil, err
		}
		if p == period {
			return &impact.StoredStatement{SLAStatement: *st, Period: period, Name: name}, nil
		}
	}
	if k.ActiveDuring(start, end) {
		st, ok, err := impact.QuietStatement(c, k.Contract, start, s.o.Limits)
		if err != nil {
			return nil, EstimateError(&impact.Scenario{Customers: []impact.Customer{c}}, err)
		}
		if ok {
			return &impact.StoredStatement{SLAStatement: st, Period: period, Name: name}, nil
		}
	}
	return nil, impact.Errorf(impact.ENOTFOUND, "%s: the period is outside the contract's active range", name)
}
