package estimating

import (
	"context"
	"errors"
	"time"

	"github.com/impact-svc/impact/impact"
)

// The stored estimate of an incident is computed by impact.EstimateScenario
// on a scenario assembled from stored data, so it equals the stateless
// estimate of the same data figure for figure. What the figures of one
// incident depend on is impact.CreditRange and impact.CloseRange: the
// affected customers with all their contracts, the windows of those
// customers from the first to the last billing period the incident touches,
// closed under overlap, and the incidents of those windows. The other
// incidents are there for their windows and causes only: their recovery
// items are dropped, since an item may name a customer that is not in this
// scenario and their recovery figures are not asked for.

// WindowsCovering returns every stored window of the ranges' customers
// overlapping or touching their range, widening a range to the windows
// found until none reaches beyond it: then every chain of windows that
// meets a needed period is complete. ranges is modified: each ends closed
// (impact.ClosedRange).
//
// Each fetch reaches further than the range by a margin that doubles from
// one round to the next, and the closure is taken in memory: a chain of n
// touching windows costs O(log n) fetches, not n. The windows returned are
// exactly those touching each closed range, whatever was fetched beyond it.
func WindowsCovering(ctx context.Context, st impact.EstimateStore, ranges []impact.CustomerRange) ([]impact.StoredWindow, error) {
	at := make(map[string]int, len(ranges))
	for i, r := range ranges {
		at[r.CustomerID] = i
	}
	fetch := append([]impact.CustomerRange(nil), ranges...)
	// The first widening reaches a day beyond the closed range (the ranges
	// themselves are exact); it doubles from there.
	margin := 24 * time.Hour
	for {
		var all []impact.StoredWindow
		for lo := 0; lo < len(fetch); lo += impact.MaxPageSize {
			ws, err := st.WindowsInRanges(ctx, fetch[lo:min(lo+impact.MaxPageSize, len(fetch))])
			if err != nil {
				return nil, err
			}
			all = append(all, ws...)
		}
		byCustomer := make(map[string][]impact.StoredWindow, len(ranges))
		for i := range all {
			byCustomer[all[i].CustomerID] = append(byCustomer[all[i].CustomerID], all[i])
		}
		// A closed range inside what was fetched is final: every window
		// touching it touches the fetched range, so it was fetched.
		done := true
		for i := range ranges {
			r := impact.ClosedRange(ranges[i], byCustomer[ranges[i].CustomerID])
			ranges[i] = r
			f := &fetch[i]
			if r.From.Before(f.From) {
				f.From, done = r.From.Add(-margin), false
			}
			if r.To.After(f.To) {
				f.To, done = r.To.Add(margin), false
			}
		}
		if done {
			var out []impact.StoredWindow
			for i := range all {
				if ranges[at[all[i].CustomerID]].Touches(&all[i]) {
					out = append(out, all[i])
				}
			}
			return out, nil
		}
		margin *= 2
	}
}

// batch is the stored data that the estimates of a few incidents need,
// fetched together: the same queries serve every incident of the batch,
// which matters to a recompute of a million estimates.
type batch struct {
	affected  map[string][]impact.AffectedCustomer // by incident id
	windows   map[string][]impact.StoredWindow     // by customer id
	incidents map[string]*impact.Incident          // every incident of those windows, and the batch's
}

// loadBatch fetches the batch's incidents, their affected customers, every
// window of those customers that the customers' credits need (the union of
// each incident's credit ranges, closed as WindowsCovering does) and the
// incidents of those windows. An incident that does not exist is left out.
func loadBatch(ctx context.Context, st impact.Store, ids []string) (*batch, error) {
	b := &batch{affected: map[string][]impact.AffectedCustomer{}, windows: map[string][]impact.StoredWindow{}}
	union := map[string]int{}
	var ranges []impact.CustomerRange
	var byIncident map[string][]impact.AffectedCustomer
	if len(ids) > 1 {
		var err error
		if byIncident, err = st.AffectedCustomersOf(ctx, ids); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		affected, err := affectedOf(ctx, st, id, byIncident)
		if err != nil {
			return nil, err
		}
		b.affected[id] = affected
		for i := range affected {
			r := impact.CreditRange(&affected[i])
			j, ok := union[r.CustomerID]
			if !ok {
				union[r.CustomerID] = len(ranges)
				ranges = append(ranges, r)
				continue
			}
			if r.From.Before(ranges[j].From) {
				ranges[j].From = r.From
			}
			if r.To.After(ranges[j].To) {
				ranges[j].To = r.To
			}
		}
	}
	ws, err := WindowsCovering(ctx, st, ranges)
	if err != nil {
		return nil, err
	}
	need := append([]string(nil), ids...)
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	for i := range ws {
		w := &ws[i]
		b.windows[w.CustomerID] = append(b.windows[w.CustomerID], *w)
		if !seen[w.IncidentID] {
			seen[w.IncidentID] = true
			need = append(need, w.IncidentID)
		}
	}
	if b.incidents, err = Incidents(ctx, st, need); err != nil {
		return nil, err
	}
	return b, nil
}

// Incidents reads the incidents ids, by id. One that does not exist
// (deleted since its windows were read) is left out: every scenario
// assembled from stored data reads its incidents so.
func Incidents(ctx context.Context, st impact.IncidentStore, ids []string) (map[string]*impact.Incident, error) {
	known := make(map[string]*impact.Incident, len(ids))
	for lo := 0; lo < len(ids); lo += impact.MaxPageSize {
		part := ids[lo:min(lo+impact.MaxPageSize, len(ids))]
		incs, err := st.BatchGetIncidents(ctx, part)
		if e := (*impact.Error)(nil); errors.As(err, &e) && e.Code == impact.ENOTFOUND {
			// One was deleted meanwhile: fetch one by one and leave it out.
			incs = incs[:0]
			for _, id := range part {
				in, err := st.GetIncident(ctx, id)
				if errors.As(err, &e) && e.Code == impact.ENOTFOUND {
					continue
				} else if err != nil {
					return nil, err
				}
				incs = append(incs, *in)
			}
		} else if err != nil {
			return nil, err
		}
		for i := range incs {
			known[incs[i].ID] = &incs[i].Incident
		}
	}
	return known, nil
}

// affectedOf is the affected customers of incident id: from byIncident
// when the batch was read at once, else paged from the store (nil if the
// incident does not exist).
func affectedOf(ctx context.Context, st impact.Store, id string, byIncident map[string][]impact.AffectedCustomer) ([]impact.AffectedCustomer, error) {
	if byIncident != nil {
		return byIncident[id], nil
	}
	var affected []impact.AffectedCustomer
	for after := ""; ; {
		batch, err := st.AffectedCustomers(ctx, id, after, impact.MaxPageSize)
		if e := (*impact.Error)(nil); errors.As(err, &e) && e.Code == impact.ENOTFOUND {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		affected = append(affected, batch...)
		if len(batch) < impact.MaxPageSize {
			return affected, nil
		}
		after = batch[len(batch)-1].ID
	}
}

// Assembly is the scenario of one incident's stored estimate with what it
// read.
type Assembly struct {
	Scenario *impact.Scenario
	Incident *impact.Incident          // the incident estimated (without windows)
	Affected []impact.AffectedCustomer // its affected customers, by id
	Deps     *impact.EstimateDeps      // the affected customers' final ranges, the other incidents, every window read
}

// assemble is the scenario of incident id: its affected customers with all
// their contracts, their windows (of any incident) that the credits need,
// and the incidents of those windows. It returns false if the incident does
// not exist.
func (b *batch) assemble(id string) (*Assembly, bool) {
	inc, ok := b.incidents[id]
	if !ok {
		return nil, false
	}
	affected := b.affected[id]
	g := newIncidentWindows(id)
	sc := &impact.Scenario{Customers: make([]impact.Customer, len(affected))}
	deps := &impact.EstimateDeps{Customers: make([]impact.CustomerRange, len(affected))}
	for i := range affected {
		a := &affected[i]
		sc.Customers[i] = a.Customer
		r, ws := impact.CloseRange(impact.CreditRange(a), b.windows[a.ID])
		deps.Customers[i] = r
		deps.Windows = append(deps.Windows, ws...)
		for _, w := range ws {
			g.add(&w)
		}
	}
	sc.Incidents = g.incidents(b.incidents)
	for _, other := range g.ids {
		if other != id {
			deps.Incidents = append(deps.Incidents, other)
		}
	}
	return &Assembly{Scenario: sc, Incident: inc, Affected: affected, Deps: deps}, true
}

// Scenario assembles customers, the windows ws and their incidents (read
// as Incidents reads them): the one scenario builder of every stored
// computation that is not one incident's estimate (a statement, a
// simulation). target, when set, is an incident that is included even
// without windows and keeps its recovery items.
func Scenario(ctx context.Context, st impact.IncidentStore, target string, custs []impact.Customer, ws []impact.StoredWindow) (*impact.Scenario, error) {
	g := newIncidentWindows(target)
	for i := range ws {
		g.add(&ws[i])
	}
	known, err := Incidents(ctx, st, g.ids)
	if err != nil {
		return nil, err
	}
	return &impact.Scenario{Customers: custs, Incidents: g.incidents(known)}, nil
}

// IncidentsWithWindows is the incidents of a scenario holding the windows
// ws, as Scenario builds them from known (read by Incidents): each with its
// windows of ws, in order of first appearance, without recovery items; an
// incident missing from known is left out.
func IncidentsWithWindows(ws []impact.StoredWindow, known map[string]*impact.Incident) []impact.Incident {
	g := newIncidentWindows("")
	for i := range ws {
		g.add(&ws[i])
	}
	return g.incidents(known)
}

// incidentWindows groups a scenario's windows by incident, in order of
// first appearance. The target incident, when set, comes first even
// without windows.
type incidentWindows struct {
	target string
	ids    []string
	by     map[string][]impact.OutageWindow
}

func newIncidentWindows(target string) *incidentWindows {
	g := &incidentWindows{target: target, by: map[string][]impact.OutageWindow{}}
	if target != "" {
		g.ids, g.by[target] = []string{target}, nil
	}
	return g
}

func (g *incidentWindows) add(w *impact.StoredWindow) {
	if _, ok := g.by[w.IncidentID]; !ok {
		g.ids = append(g.ids, w.IncidentID)
	}
	g.by[w.IncidentID] = append(g.by[w.IncidentID], w.OutageWindow)
}

// incidents returns the scenario's incidents, each with its windows. The
// incidents other than the target are there for their windows and causes
// only: their recovery items are dropped, since an item may name a
// customer that is not in this scenario and their recovery figures are not
// asked for. An incident missing from known (deleted since its windows
// were read) is left out.
func (g *incidentWindows) incidents(known map[string]*impact.Incident) []impact.Incident {
	out := make([]impact.Incident, 0, len(g.ids))
	for _, id := range g.ids {
		in, ok := known[id]
		if !ok {
			continue
		}
		x := *in
		x.Windows = g.by[id]
		if id != g.target {
			x.RecoveryCurrency, x.RecoveryItems = "", nil
		}
		out = append(out, x)
	}
	return out
}
