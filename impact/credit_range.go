package impact

import (
	"sort"
	"time"
)

// What the figures of one incident's stored estimate depend on (§5, §10):
//
//   - lost revenue, recovery and churn: the incident, its windows and its
//     affected customers;
//   - SLA credits: every window of those customers, of any incident (with
//     that incident's cause), in each billing period the incident touches,
//     and — because an interval straddling a period edge is judged by its
//     whole length — every window chained to those by overlap or contact.
//
// CreditRange is the first part of that rule for one customer, CloseRange
// the second; IncidentStatements keeps the statements such a scenario
// computes completely.

// periodOrQuarter is the billing period containing t. Stored zones were
// validated; should one not load, a quarter and more either side still
// covers any period.
func periodOrQuarter(t time.Time, tz string, bp BillingPeriod) (start, end time.Time) {
	start, end, err := PeriodBounds(t, tz, bp)
	if err != nil {
		return t.AddDate(0, -3, -1), t.AddDate(0, 3, 1)
	}
	return start, end
}

// StatementBounds is the billing period of contract k containing t: the
// period of its statement (a zone that does not load gives a range wider
// than any period, see CreditRange).
func StatementBounds(t time.Time, k *Contract) (start, end time.Time) {
	return periodOrQuarter(t, k.TimeZone, k.BillingPeriod)
}

// CreditRange is the range of windows an affected customer's SLA credits
// need: every billing period of every one of its contracts that its
// windows in the incident touch, and no margin beyond (a window a day past
// the last period changes no figure, so it must not make an estimate
// STALE either; README "Fresh figures").
func CreditRange(c *AffectedCustomer) CustomerRange {
	from, to := c.FirstStart, c.LastEnd
	for _, k := range c.Contracts {
		s, _ := periodOrQuarter(c.FirstStart, k.TimeZone, k.BillingPeriod)
		_, e := periodOrQuarter(c.LastEnd, k.TimeZone, k.BillingPeriod)
		if s.Before(from) {
			from = s
		}
		if e.After(to) {
			to = e
		}
	}
	return CustomerRange{CustomerID: c.ID, From: from, To: to}
}

// Touches reports whether w overlaps or touches r.
func (r CustomerRange) Touches(w *StoredWindow) bool {
	return !w.End.Before(r.From) && !w.Start.After(r.To)
}

// ClosedRange widens r to the windows of ws (one customer's) that touch it
// until none reaches beyond: the right end grows through the windows in
// order of start, the left end through the windows in order of end (a
// window that widens one end cannot widen the other). O(n log n).
func ClosedRange(r CustomerRange, ws []StoredWindow) CustomerRange {
	if len(ws) == 0 {
		return r
	}
	order := make([]int, len(ws))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return ws[order[a]].Start.Before(ws[order[b]].Start) })
	for _, i := range order {
		w := &ws[i]
		if w.Start.After(r.To) {
			break
		}
		if !w.End.Before(r.From) && w.End.After(r.To) {
			r.To = w.End
		}
	}
	sort.Slice(order, func(a, b int) bool { return ws[order[a]].End.After(ws[order[b]].End) })
	for _, i := range order {
		w := &ws[i]
		if w.End.Before(r.From) {
			break
		}
		if !w.Start.After(r.To) && w.Start.Before(r.From) {
			r.From = w.Start
		}
	}
	return r
}

// CloseRange closes r under overlap within ws (one customer's windows): it
// returns the final range — what an estimate records as read — and the
// windows of ws touching it. Given every window touching the final range,
// the result is the same whatever else ws holds.
func CloseRange(r CustomerRange, ws []StoredWindow) (CustomerRange, []StoredWindow) {
	r = ClosedRange(r, ws)
	var out []StoredWindow
	for i := range ws {
		if r.Touches(&ws[i]) {
			out = append(out, ws[i])
		}
	}
	return r, out
}

// ActiveDuring reports whether [start, end) overlaps the contract's active
// range [ActiveFrom, ActiveUntil) (a zero bound is open).
func (k *Contract) ActiveDuring(start, end time.Time) bool {
	return (k.ActiveFrom.IsZero() || end.After(k.ActiveFrom)) && (k.ActiveUntil.IsZero() || start.Before(k.ActiveUntil))
}

// IncidentStatements keeps, of the statements all computed on scenario sc,
// those of the periods that incident id's own windows touch: those are
// complete. The scenario may hold windows of further periods (pulled in by
// a chain), whose statements are partial. Each kept statement carries its
// period's name.
func IncidentStatements(all []SLAStatement, sc *Scenario, id string) ([]StoredStatement, error) {
	type key struct{ customer, service string }
	var own []OutageWindow
	for i := range sc.Incidents {
		if sc.Incidents[i].ID == id {
			own = sc.Incidents[i].Windows
		}
	}
	contracts := map[key]*Contract{}
	for i := range sc.Customers {
		for j := range sc.Customers[i].Contracts {
			k := &sc.Customers[i].Contracts[j]
			contracts[key{sc.Customers[i].ID, k.Service}] = k
		}
	}
	// The incident's windows per contract, by start, with the latest end
	// so far: a period is touched if some window starting before its end
	// ends after its start. O((w + s) log w), not windows × statements.
	type ownWindows struct {
		starts, maxEnds []time.Time
	}
	byContract := map[key]*ownWindows{}
	sorted := append([]OutageWindow(nil), own...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Start.Before(sorted[j].Start) })
	for _, w := range sorted {
		o := byContract[key{w.CustomerID, w.Service}]
		if o == nil {
			o = &ownWindows{}
			byContract[key{w.CustomerID, w.Service}] = o
		}
		end := w.End
		if n := len(o.maxEnds); n > 0 && o.maxEnds[n-1].After(end) {
			end = o.maxEnds[n-1]
		}
		o.starts, o.maxEnds = append(o.starts, w.Start), append(o.maxEnds, end)
	}
	var out []StoredStatement
	for _, st := range all {
		touched := false
		if o := byContract[key{st.CustomerID, st.Service}]; o != nil {
			n := sort.Search(len(o.starts), func(i int) bool { return !o.starts[i].Before(st.PeriodEnd) })
			touched = n > 0 && o.maxEnds[n-1].After(st.PeriodStart)
		}
		k := contracts[key{st.CustomerID, st.Service}]
		if !touched || k == nil {
			continue
		}
		period, err := StatementPeriod(st.PeriodStart, k.TimeZone, k.BillingPeriod)
		if err != nil {
			return nil, err
		}
		out = append(out, StoredStatement{SLAStatement: st, Period: period})
	}
	return out, nil
}
