package server

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The stored estimate of an incident is computed by impact.EstimateScenario
// on a scenario assembled from stored data, so it equals the stateless
// estimate of the same data figure for figure. What the figures of one
// incident depend on (model.md):
//
//   - lost revenue, recovery and churn: the incident, its windows and its
//     affected customers;
//   - SLA credits: every window of those customers, of any incident (with
//     that incident's cause), in each billing period the incident touches,
//     and — because an interval straddling a period edge is judged by its
//     whole length — every window chained to those by overlap or contact.
//
// So the scenario holds the affected customers with all their contracts,
// the windows of those customers from the first to the last such period
// (extended while fetched windows reach beyond), and the incidents of those
// windows. The other incidents are there for their windows and causes only:
// their recovery items are dropped, since an item may name a customer that
// is not in this scenario and their recovery figures are not asked for.

// periodSlack widens every fetched range on each side. It is 0: the
// billing periods are computed here by the engine's own impact.PeriodBounds,
// and the windows read are what a stored estimate depends on (README "Fresh
// figures"): a window a day past the last period changes no figure, so it
// must not make the estimate STALE either.
const periodSlack = 0

// periodBounds is the engine's billing period containing t. Stored zones
// were validated; should one not load, a quarter and more either side still
// covers any period.
func periodBounds(t time.Time, tz string, bp impact.BillingPeriod) (start, end time.Time) {
	start, end, err := impact.PeriodBounds(t, tz, bp)
	if err != nil {
		return t.AddDate(0, -3, -1), t.AddDate(0, 3, 1)
	}
	return start, end
}

// spanRange is the range of windows an affected customer's credits need:
// every billing period of every contract its windows in the incident touch.
func spanRange(c *impact.AffectedCustomer) impact.CustomerRange {
	from, to := c.FirstStart, c.LastEnd
	for _, k := range c.Contracts {
		s, _ := periodBounds(c.FirstStart, k.TimeZone, k.BillingPeriod)
		_, e := periodBounds(c.LastEnd, k.TimeZone, k.BillingPeriod)
		if s.Before(from) {
			from = s
		}
		if e.After(to) {
			to = e
		}
	}
	return impact.CustomerRange{CustomerID: c.ID, From: from.Add(-periodSlack), To: to.Add(periodSlack)}
}

// windowsCovering returns every stored window of the ranges' customers
// overlapping or touching their range, widening a range to the windows
// found until none reaches beyond it: then every chain of windows that
// meets a needed period is complete. ranges is modified.
//
// Each fetch reaches further than the range by a margin that doubles from
// one round to the next, and the closure is taken in memory (closeRange):
// a chain of n touching windows costs O(log n) fetches, not n. The windows
// returned are exactly those touching each closed range, whatever was
// fetched beyond it.
func windowsCovering(ctx context.Context, st impact.EstimateStore, ranges []impact.CustomerRange) ([]impact.StoredWindow, error) {
	at := make(map[string]int, len(ranges))
	for i, r := range ranges {
		at[r.CustomerID] = i
	}
	fetch := append([]impact.CustomerRange(nil), ranges...)
	// The first widening reaches a day beyond the closed range (the ranges
	// themselves are exact: periodSlack is 0); it doubles from there.
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
			r := closedRange(ranges[i], byCustomer[ranges[i].CustomerID])
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
				if touches(&all[i], ranges[at[all[i].CustomerID]]) {
					out = append(out, all[i])
				}
			}
			return out, nil
		}
		margin *= 2
	}
}

// touches reports whether w overlaps or touches r.
func touches(w *impact.StoredWindow, r impact.CustomerRange) bool {
	return !w.End.Before(r.From) && !w.Start.After(r.To)
}

// closedRange widens r to the windows of ws (one customer's) that touch
// it until none reaches beyond: the right end grows through the windows in
// order of start, the left end through the windows in order of end (a
// window that widens one end cannot widen the other). O(n log n).
func closedRange(r impact.CustomerRange, ws []impact.StoredWindow) impact.CustomerRange {
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

// closeRange is windowsCovering on windows already in memory: it widens r
// to the windows of ws (one customer's) that touch it until none reaches
// beyond, and returns those that touch the final range. Given every window
// windowsCovering would fetch for r, it returns exactly what it returns.
func closeRange(r impact.CustomerRange, ws []impact.StoredWindow) []impact.StoredWindow {
	_, out := closedWindows(r, ws)
	return out
}

// incidentBatch is the stored data that the estimates of a few incidents
// need, fetched together: the same queries serve every incident of the
// batch, which matters to a recompute of a million estimates.
type incidentBatch struct {
	affected  map[string][]impact.AffectedCustomer // by incident id
	windows   map[string][]impact.StoredWindow     // by customer id
	incidents map[string]*impact.Incident          // every incident of those windows, and the batch's
}

// loadBatch fetches the batch's incidents, their affected customers, every
// window of those customers that the customers' credits need (the union of
// each incident's ranges, closed as windowsCovering does) and the incidents
// of those windows. An incident that does not exist is left out.
func loadBatch(ctx context.Context, st impact.Store, ids []string) (*incidentBatch, error) {
	b := &incidentBatch{affected: map[string][]impact.AffectedCustomer{}, windows: map[string][]impact.StoredWindow{},
		incidents: map[string]*impact.Incident{}}
	union := map[string]int{}
	var ranges []impact.CustomerRange
	var present []string
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
		present = append(present, id)
		for i := range affected {
			r := spanRange(&affected[i])
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
	ws, err := windowsCovering(ctx, st, ranges)
	if err != nil {
		return nil, err
	}
	need := present
	seen := map[string]bool{}
	for _, id := range present {
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
	for lo := 0; lo < len(need); lo += impact.MaxPageSize {
		part := need[lo:min(lo+impact.MaxPageSize, len(need))]
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
			b.incidents[incs[i].ID] = &incs[i].Incident
		}
	}
	return b, nil
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

// scenario is the scenario of incident id: its affected customers with all
// their contracts, their windows (of any incident) that the credits need,
// and the incidents of those windows. It returns false if the incident does
// not exist.
func (b *incidentBatch) scenario(id string) (*impact.Scenario, bool) {
	if _, ok := b.incidents[id]; !ok {
		return nil, false
	}
	affected := b.affected[id]
	g := newIncidentWindows(id)
	sc := &impact.Scenario{Customers: make([]impact.Customer, len(affected))}
	for i := range affected {
		a := &affected[i]
		sc.Customers[i] = a.Customer
		for _, w := range closeRange(spanRange(a), b.windows[a.ID]) {
			g.add(&w)
		}
	}
	sc.Incidents = g.incidents(b.incidents)
	return sc, true
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

// scenario assembles customers, the windows found and their incidents.
// target, when set, is the incident being estimated: it is included even
// without windows and keeps its recovery items.
func (s *Stored) scenario(ctx context.Context, target string, custs []impact.Customer, ws []impact.StoredWindow) (*impact.Scenario, error) {
	g := newIncidentWindows(target)
	for i := range ws {
		g.add(&ws[i])
	}
	known := make(map[string]*impact.Incident, len(g.ids))
	for lo := 0; lo < len(g.ids); lo += impact.MaxPageSize {
		incs, err := s.store.BatchGetIncidents(ctx, g.ids[lo:min(lo+impact.MaxPageSize, len(g.ids))])
		if err != nil {
			return nil, err
		}
		for i := range incs {
			known[incs[i].ID] = &incs[i].Incident
		}
	}
	return &impact.Scenario{Customers: custs, Incidents: g.incidents(known)}, nil
}

// scenarioPrefix finds the scenario entry a violation path starts with.
var scenarioPrefix = regexp.MustCompile(`^(customers|incidents)\[(\d+)\]`)

// estimateError sorts the engine's verdict on an assembled scenario:
// violations of the request's own fields (reporting currency, FX rates) are
// INVALID_ARGUMENT; any other means the stored data cannot be estimated
// together (a recovery item naming a customer without a window, say), which
// the caller must fix in the data: FAILED_PRECONDITION, naming the stored
// resources at fault.
func estimateError(sc *impact.Scenario, err error) error {
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID {
		return err
	}
	var req []impact.FieldViolation
	var data []string
	for _, v := range e.Violations {
		if strings.HasPrefix(v.Field, "reporting_currency") || strings.HasPrefix(v.Field, "fx_rates") {
			req = append(req, v)
			continue
		}
		if v.Field == "" { // about the whole scenario, e.g. its cost
			data = append(data, "the scenario "+v.Description)
			continue
		}
		field := scenarioPrefix.ReplaceAllStringFunc(v.Field, func(m string) string {
			sub := scenarioPrefix.FindStringSubmatch(m)
			i, _ := strconv.Atoi(sub[2])
			if sub[1] == "customers" && i < len(sc.Customers) {
				return impact.CustomerName(sc.Customers[i].ID)
			}
			if sub[1] == "incidents" && i < len(sc.Incidents) {
				return impact.IncidentName(sc.Incidents[i].ID)
			}
			return m
		})
		data = append(data, field+": "+v.Description)
	}
	if len(data) == 0 {
		out := &impact.Error{Code: impact.EINVALID, Message: e.Message, Violations: req}
		if len(req) == len(e.Violations) {
			out.Reason = e.Reason // FX_RATE_MISSING
		}
		return out
	}
	if len(data) > 5 {
		data = append(data[:5], fmt.Sprintf("and %d more", len(data)-5))
	}
	return impact.Errorf(impact.EFAILEDPRECOND, "the stored data cannot be estimated: %s", strings.Join(data, "; ")).
		WithReason(impact.ReasonStoredDataInvalid)
}

func (s *Stored) EstimateIncident(ctx context.Context, req *impactv1.EstimateIncidentRequest) (*impactv1.IncidentEstimate, error) {
	ids, err := parseName("name", req.GetName(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	id := ids[0]
	// The change sequence before any input is read (README "Fresh figures").
	seq, err := readSeq(ctx, s.store)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	b, err := loadBatch(ctx, s.store, ids)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var fx []impact.FXRate
	for _, r := range req.GetFxRates() {
		fx = append(fx, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	// Options given win for this revision; without any, the stored
	// reporting settings apply.
	opt := reporting{currency: req.GetReportingCurrency(), fx: fx}
	if opt.currency == "" && len(fx) == 0 {
		st, err := storedSettings(ctx, s.store)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		opt = settingsOptions(st)
	}
	e, sts, err := b.estimateWith(ctx, id, opt, seq, s.limits, s.now())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	saved, err := s.store.SaveEstimate(ctx, e, sts)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return storedEstimateToProto(saved), nil
}

// estimate computes the estimate of incident id with the reporting options
// given, and the statements to store with it. ENOTFOUND if the incident
// does not exist; the engine's verdict as estimateError sorts it.
func (b *incidentBatch) estimate(ctx context.Context, id, reporting string, fx []impact.FXRate, limits impact.Limits, now time.Time) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	sc, ok := b.scenario(id)
	if !ok {
		return nil, nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
	}
	sc.ReportingCurrency, sc.FXRates = reporting, fx
	est, err := timeEstimate(estimateIncident, func() (*impact.Estimate, error) { return impact.EstimateScenarioContext(ctx, sc, limits) })
	if err != nil {
		return nil, nil, estimateError(sc, err)
	}
	e := &impact.StoredEstimate{ModelVersion: est.ModelVersion, InputsDigest: est.InputsDigest, ComputeTime: now,
		ReportingCurrency: reporting, FXRates: fx}
	for _, ie := range est.Incidents {
		if ie.IncidentID == id {
			e.IncidentEstimate = ie
		}
	}
	sts, err := incidentStatements(est.Statements, sc, id)
	if err != nil {
		return nil, nil, err
	}
	return e, sts, nil
}

// incidentStatements keeps the statements of the periods the incident's own
// windows touch: those are complete. The scenario may hold windows of
// further periods (pulled in by a chain), whose statements are partial.
func incidentStatements(all []impact.SLAStatement, sc *impact.Scenario, id string) ([]impact.StoredStatement, error) {
	type key struct{ customer, service string }
	var own []impact.OutageWindow
	for i := range sc.Incidents {
		if sc.Incidents[i].ID == id {
			own = sc.Incidents[i].Windows
		}
	}
	contracts := map[key]*impact.Contract{}
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
	sorted := append([]impact.OutageWindow(nil), own...)
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
	var out []impact.StoredStatement
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
		period, err := impact.StatementPeriod(st.PeriodStart, k.TimeZone, k.BillingPeriod)
		if err != nil {
			return nil, err
		}
		out = append(out, impact.StoredStatement{SLAStatement: st, Period: period})
	}
	return out, nil
}

// GetIncidentEstimate returns the latest revision for
// "incidents/{incident}/estimate", or one revision for
// "incidents/{incident}/estimate@{revision}" (AIP-162).
func (s *Stored) GetIncidentEstimate(ctx context.Context, req *impactv1.GetIncidentEstimateRequest) (*impactv1.IncidentEstimate, error) {
	name, revText, hasRev := strings.Cut(req.GetName(), "@")
	id, err := estimateIncidentID(name)
	if err != nil {
		return nil, s.fail(ctx, invalidField("name", "must be incidents/{incident}/estimate or incidents/{incident}/estimate@{revision}, got %q", req.GetName()))
	}
	var rev int64
	if hasRev {
		// Digits only: strconv would take "+1", and "01" would name
		// revision 1 by a second name.
		rev, err = strconv.ParseInt(revText, 10, 64)
		if err != nil || rev < 1 || !revisionDigits.MatchString(revText) {
			return nil, s.fail(ctx, invalidField("name", "revision must be a positive integer, got %q", req.GetName()))
		}
	}
	e, err := s.store.GetEstimate(ctx, id, rev)
	if err != nil {
		if hasRev && impact.ErrorCode(err) == impact.ENOTFOUND {
			err = impact.Errorf(impact.ENOTFOUND, "%s not found", estimateRevisionName(impact.EstimateName(id), rev))
		}
		return nil, s.fail(ctx, err)
	}
	if hasRev {
		return estimateRevisionToProto(e), nil
	}
	return storedEstimateToProto(e), nil
}

// revisionDigits is a revision id as GetIncidentEstimate takes it.
var revisionDigits = regexp.MustCompile(`^[1-9][0-9]*$`)

// estimateIncidentID parses "incidents/{incident}/estimate".
func estimateIncidentID(name string) (string, error) {
	prefix, ok := strings.CutSuffix(name, "/estimate")
	ids, err := parseName("name", prefix, "incidents")
	if !ok || err != nil {
		return "", invalidField("name", "must be incidents/{incident}/estimate, got %q", name)
	}
	return ids[0], nil
}

// ListIncidentEstimateRevisions lists the estimate's revisions newest first
// (AIP-162), each named "incidents/{incident}/estimate@{revision}".
func (s *Stored) ListIncidentEstimateRevisions(ctx context.Context, req *impactv1.ListIncidentEstimateRevisionsRequest) (*impactv1.ListIncidentEstimateRevisionsResponse, error) {
	id, err := estimateIncidentID(req.GetName())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.ListEstimateRevisions(ctx, id, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListIncidentEstimateRevisionsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.Estimates = append(resp.Estimates, estimateRevisionToProto(&page.Items[i]))
	}
	return resp, nil
}

// statementPeriod matches "2025-07" and "2025-Q3".
var statementPeriod = regexp.MustCompile(`^([0-9]{4})-(?:([0-9]{2})|Q([1-4]))$`)

// GetContractStatement computes the statement live from the stored windows, so
// that it always reflects every window of the period, also those added
// after the last :estimate of their incident.
func (s *Stored) GetContractStatement(ctx context.Context, req *impactv1.GetContractStatementRequest) (*impactv1.ContractStatement, error) {
	ids, err := parseName("name", req.GetName(), "customers", "contracts", "statements")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	custID, service, period := ids[0], ids[1], ids[2]
	k, err := s.store.GetContract(ctx, custID, service)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	m := statementPeriod.FindStringSubmatch(period)
	month := 0
	if m != nil && m[2] != "" {
		month, _ = strconv.Atoi(m[2])
	} else if m != nil {
		q, _ := strconv.Atoi(m[3])
		month = 3*q - 2
	}
	quarterly := k.BillingPeriod == impact.Quarterly
	if m == nil || month < 1 || month > 12 || (m[3] != "") != quarterly {
		want := "YYYY-MM (the contract bills monthly)"
		if quarterly {
			want = "YYYY-Qn (the contract bills quarterly)"
		}
		return nil, s.fail(ctx, invalidField("name", "period %q must be %s", period, want))
	}
	year, _ := strconv.Atoi(m[1])
	// Noon of the period's first day is inside it in every zone.
	start, end := periodBounds(time.Date(year, time.Month(month), 1, 12, 0, 0, 0, time.UTC), k.TimeZone, k.BillingPeriod)
	cust, err := s.store.GetCustomer(ctx, custID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := s.statementOf(ctx, cust, k, period, start, end)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// statementOf computes the statement of contract k of cust for the period
// [start, end) named period from the stored windows. A period no window
// overlaps has the quiet statement (downtime 0, uptime 100) when it is
// inside the contract's active range, else none (ENOTFOUND).
func (s *Stored) statementOf(ctx context.Context, cust *impact.StoredCustomer, k *impact.StoredContract, period string, start, end time.Time) (*impactv1.ContractStatement, error) {
	custID, service := cust.ID, k.Service
	ranges := []impact.CustomerRange{{CustomerID: custID, From: start.Add(-periodSlack), To: end.Add(periodSlack)}}
	all, err := windowsCovering(ctx, s.store, ranges)
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
	sc, err := s.scenario(ctx, "", []impact.Customer{c}, ws)
	if err != nil {
		return nil, err
	}
	est, err := timeEstimate(estimateStatement, func() (*impact.Estimate, error) { return impact.EstimateScenarioContext(ctx, sc, s.limits) })
	if err != nil {
		return nil, estimateError(sc, err)
	}
	for i := range est.Statements {
		st := &est.Statements[i]
		p, err := impact.StatementPeriod(st.PeriodStart, k.TimeZone, k.BillingPeriod)
		if err != nil {
			return nil, err
		}
		if p == period {
			out := statementToProto(st)
			out.Name = proto.String(impact.StatementName(custID, service, period))
			return out, nil
		}
	}
	if activeDuring(&k.Contract, start, end) {
		st, ok, err := impact.QuietStatement(c, k.Contract, start, s.limits)
		if err != nil {
			return nil, estimateError(&impact.Scenario{Customers: []impact.Customer{c}}, err)
		}
		if ok {
			out := statementToProto(&st)
			out.Name = proto.String(impact.StatementName(custID, service, period))
			return out, nil
		}
	}
	return nil, impact.Errorf(impact.ENOTFOUND, "%s: the period is outside the contract's active range",
		impact.StatementName(custID, service, period))
}
