package impact

import (
	"container/heap"
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// What-if exposure (model.md §11, SimulateOutage): one hypothetical window
// [start, start + duration) for every selected (customer, service), priced
// by EstimateScenario like every other figure, so that a simulation equals
// the estimate of the same outage once stored. The caller streams the
// selected customers through SimulateChunk in chunks and folds each
// chunk's customers into a SimulationAccumulator, which keeps only the
// totals and the top N: memory does not grow with the book.

// Bounds of a simulation request.
const (
	MaxSimulationDurations = 10
	MaxSimulationDuration  = 31 * 24 * time.Hour
	DefaultSimulationTopN  = 100
	MaxSimulationTopN      = 10000
)

// Simulation is a what-if request.
type Simulation struct {
	Selector          ContractSelector
	Start             time.Time
	Durations         []time.Duration
	ImpactFraction    string // default 1
	Cause             Cause  // default UNKNOWN
	TopN              int    // default 100
	ReportingCurrency string // optional
	FXRates           []FXRate
}

// Validate checks the request and applies its defaults (start and
// durations truncated to whole seconds, top_n 100, cause UNKNOWN): EINVALID
// with one violation per problem, snake_case paths of the request.
func (s *Simulation) Validate() error {
	var vs []FieldViolation
	add := func(f, d string) { vs = append(vs, FieldViolation{Field: f, Description: d}) }
	vs = append(vs, s.Selector.Validate("selector")...)
	s.Start = s.Start.Truncate(time.Second)
	lo, hi := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	startOK := !s.Start.IsZero() && !s.Start.Before(lo) && s.Start.Before(hi)
	if !startOK {
		add("start_time", "is required, between 1970-01-01 and 2200-01-01")
	}
	switch {
	case len(s.Durations) == 0:
		add("durations", "at least one duration is required")
	case len(s.Durations) > MaxSimulationDurations:
		add("durations", fmt.Sprintf("at most %d durations", MaxSimulationDurations))
	default:
		for i, d := range s.Durations {
			d = d.Truncate(time.Second)
			s.Durations[i] = d
			p := rootElem("durations", i).String()
			switch {
			case d <= 0:
				add(p, "must be at least one second")
			case d > MaxSimulationDuration:
				add(p, "must be at most 31 days")
			case startOK && s.Start.Add(d).After(hi):
				add(p, "must end by 2200-01-01")
			}
		}
	}
	if s.ImpactFraction != "" {
		if msg := checkDec(s.ImpactFraction, false, fraction); msg != "" {
			add("impact_fraction", msg)
		}
	}
	if s.Cause < CauseUnspecified || s.Cause > UnknownCause {
		add("cause", "unknown cause")
	}
	if s.Cause == CauseUnspecified {
		s.Cause = UnknownCause
	}
	switch {
	case s.TopN < 0 || s.TopN > MaxSimulationTopN:
		add("top_n", fmt.Sprintf("must be in [0, %d] (0: %d)", MaxSimulationTopN, DefaultSimulationTopN))
	case s.TopN == 0:
		s.TopN = DefaultSimulationTopN
	}
	if s.ReportingCurrency != "" {
		if _, ok := MinorUnits(s.ReportingCurrency); !ok {
			add("reporting_currency", "is not an ISO 4217 currency code")
		}
	}
	if len(s.FXRates) > DefaultLimits().MaxFXRates {
		add("fx_rates", "too many rates")
	} else {
		seen := map[string]bool{}
		for i, r := range s.FXRates {
			p := rootElem("fx_rates", i)
			if _, ok := MinorUnits(r.From); !ok {
				add(p.at("from_currency").String(), "is not an ISO 4217 currency code")
			}
			if _, ok := MinorUnits(r.To); !ok {
				add(p.at("to_currency").String(), "is not an ISO 4217 currency code")
			}
			if msg := checkDec(r.Rate, true, positive); msg != "" {
				add(p.at("rate").String(), msg)
			}
			if seen[r.From+">"+r.To] {
				add(p.String(), "duplicates another rate")
			}
			seen[r.From+">"+r.To] = true
		}
	}
	if len(vs) > 0 {
		return &Error{Code: EINVALID, Message: "invalid simulation", Violations: vs}
	}
	return nil
}

// SimulatedCustomer is what one duration of the outage costs one customer.
type SimulatedCustomer struct {
	CustomerID      string
	LostRevenue     LostRevenue
	ChurnExposure   Money
	MarginalCredits []MarginalCredit // by service, then period start
	MarginalCredit  Money            // their sum
	Contracts       int              // selected contracts of the customer
}

// MarginalCredit is the change of one statement's credit_amount.
type MarginalCredit struct {
	Service     string
	PeriodStart time.Time
	Period      string // "2025-07", "2025-Q3" (StatementPeriod)
	Before      Money  // stored windows alone
	After       Money  // with the hypothetical window
	Marginal    Money  // After − Before
}

// chunkLimits bound nothing that the chunk's size does not bound already:
// the caller decides how many customers a chunk holds.
func chunkLimits(lim Limits) Limits {
	lim.MaxCustomers = math.MaxInt32
	lim.MaxIncidents = math.MaxInt32
	lim.MaxWindows = math.MaxInt32
	lim.MaxWindowHours = math.MaxInt64
	return lim
}

// SimulateChunk prices sim for customers, each carrying only its selected
// contracts, given the stored incidents whose windows count for their
// credits (recovery items are ignored). It returns, per duration of sim
// (already validated), one SimulatedCustomer per customer with a selected
// contract, by ascending id. EINVALID when the stored data cannot be
// estimated together.
func SimulateChunk(customers []Customer, stored []Incident, sim *Simulation, lim Limits) ([][]SimulatedCustomer, error) {
	lim = chunkLimits(lim)
	hypID := "what-if"
	for taken := true; taken; {
		taken = false
		for i := range stored {
			if stored[i].ID == hypID {
				hypID, taken = hypID+"-", true
			}
		}
	}
	base := &Scenario{Customers: customers, Incidents: make([]Incident, len(stored))}
	withWindows := map[string]bool{}
	for i := range stored {
		base.Incidents[i] = stored[i]
		base.Incidents[i].RecoveryCurrency, base.Incidents[i].RecoveryItems = "", nil
		for _, w := range stored[i].Windows {
			withWindows[w.CustomerID] = true
		}
	}
	// Only customers with stored windows have a statement before the
	// outage; the others start from no credit.
	before := &Scenario{Incidents: base.Incidents}
	for i := range customers {
		if withWindows[customers[i].ID] {
			before.Customers = append(before.Customers, customers[i])
		}
	}
	beforeStatements, _, err := evaluate(before, lim, "")
	if err != nil {
		return nil, err
	}
	type key struct {
		customer, service string
		start             int64
	}
	credits := make(map[key]Money, len(beforeStatements))
	for i := range beforeStatements {
		st := &beforeStatements[i]
		credits[key{st.CustomerID, st.Service, st.PeriodStart.Unix()}] = st.CreditAmount
	}
	contracts := make(map[custService]*Contract, len(customers))
	for i := range customers {
		for j := range customers[i].Contracts {
			contracts[custService{customers[i].ID, customers[i].Contracts[j].Service}] = &customers[i].Contracts[j]
		}
	}
	out := make([][]SimulatedCustomer, len(sim.Durations))
	for di, d := range sim.Durations {
		end := sim.Start.Add(d)
		hyp := Incident{ID: hypID, Cause: sim.Cause}
		for i := range customers {
			for _, k := range customers[i].Contracts {
				hyp.Windows = append(hyp.Windows, OutageWindow{CustomerID: customers[i].ID, Service: k.Service,
					Start: sim.Start, End: end, ImpactFraction: sim.ImpactFraction})
			}
		}
		sc := *base
		sc.Incidents = append(append(make([]Incident, 0, len(base.Incidents)+1), base.Incidents...), hyp)
		afterStatements, ie, err := evaluate(&sc, lim, hypID)
		if err != nil {
			return nil, err
		}
		res := make([]SimulatedCustomer, 0, len(ie.Customers))
		byID := make(map[string]int, len(ie.Customers))
		for _, ce := range ie.Customers {
			byID[ce.CustomerID] = len(res)
			res = append(res, SimulatedCustomer{CustomerID: ce.CustomerID, LostRevenue: ce.LostRevenue,
				ChurnExposure: ce.ChurnExposure, MarginalCredit: Money{ce.LostRevenue.Gross.Currency, decZero}})
		}
		for i := range customers {
			if j, ok := byID[customers[i].ID]; ok {
				res[j].Contracts = len(customers[i].Contracts)
			}
		}
		// Statements are sorted by customer, service and period start. A
		// statement counts when the hypothetical window touches its period,
		// or when its credit moved all the same (a stored interval that the
		// outage extends across a period edge).
		for i := range afterStatements {
			st := &afterStatements[i]
			j, ok := byID[st.CustomerID]
			if !ok {
				continue
			}
			old, had := credits[key{st.CustomerID, st.Service, st.PeriodStart.Unix()}]
			if !had {
				old = Money{st.CreditAmount.Currency, decZero}
			}
			touched := sim.Start.Before(st.PeriodEnd) && end.After(st.PeriodStart)
			diff := st.CreditAmount.Amount.Sub(old.Amount)
			if !touched && diff.Sign() == 0 {
				continue
			}
			c := &res[j]
			k := contracts[custService{st.CustomerID, st.Service}]                    // the statement's own contract
			period, _ := StatementPeriod(st.PeriodStart, k.TimeZone, k.BillingPeriod) // the zone compiled
			c.MarginalCredits = append(c.MarginalCredits, MarginalCredit{Service: st.Service, PeriodStart: st.PeriodStart,
				Period: period, Before: old, After: st.CreditAmount, Marginal: Money{old.Currency, diff}})
			c.MarginalCredit.Amount = c.MarginalCredit.Amount.Add(diff)
		}
		out[di] = res
	}
	return out, nil
}

// evaluate is EstimateScenario without what a simulation does not read:
// the inputs digest and the estimates of the stored incidents. It returns
// every statement and the estimate of incident (nil when "").
func evaluate(s *Scenario, lim Limits, incident string) ([]SLAStatement, *IncidentEstimate, error) {
	m, err := compile(s, lim, nil) // a chunk is bounded by chunkLimits; callers check their context between chunks
	if err != nil {
		return nil, nil, err
	}
	sla := m.statements()
	if incident == "" {
		return sla.statements, nil, nil
	}
	for _, inc := range m.incidents {
		if inc.id == incident {
			ie := m.estimateIncident(inc, sla.credits)
			return sla.statements, &ie, nil
		}
	}
	return sla.statements, &IncidentEstimate{IncidentID: incident}, nil
}

// SimulationTotals sums the rounded per-customer figures of one currency.
type SimulationTotals struct {
	Currency              string
	LostRevenueGross      decimal.Decimal
	LostRevenueNet        decimal.Decimal
	LostRevenueRecaptured decimal.Decimal
	ChurnExposure         decimal.Decimal
	MarginalCredit        decimal.Decimal
}

func (t *SimulationTotals) add(c *SimulatedCustomer) {
	t.LostRevenueGross = t.LostRevenueGross.Add(c.LostRevenue.Gross.Amount)
	t.LostRevenueNet = t.LostRevenueNet.Add(c.LostRevenue.Net.Amount)
	t.LostRevenueRecaptured = t.LostRevenueRecaptured.Add(c.LostRevenue.Recaptured.Amount)
	t.ChurnExposure = t.ChurnExposure.Add(c.ChurnExposure.Amount)
	t.MarginalCredit = t.MarginalCredit.Add(c.MarginalCredit.Amount)
}

// SimulationResult is what one duration of the outage costs the selection.
type SimulationResult struct {
	Duration          time.Duration
	SelectedContracts int64
	SelectedCustomers int64
	Totals            []SimulationTotals // by currency code
	ReportingTotals   *SimulationTotals  // with a reporting currency
	Top               []SimulatedCustomer
}

// SimulationAccumulator folds simulated customers into totals and the top
// N of each duration, in memory bounded by N.
type SimulationAccumulator struct {
	sim     *Simulation
	fx      map[string]decimal.Decimal
	results []SimulationResult
	totals  []map[string]*SimulationTotals
	tops    []*topHeap
}

// NewSimulationAccumulator starts the results of sim (validated).
func NewSimulationAccumulator(sim *Simulation) *SimulationAccumulator {
	a := &SimulationAccumulator{sim: sim, fx: map[string]decimal.Decimal{}}
	for _, r := range sim.FXRates {
		if r.To == sim.ReportingCurrency {
			a.fx[r.From] = parseChecked(r.Rate)
		}
	}
	for _, d := range sim.Durations {
		a.results = append(a.results, SimulationResult{Duration: d})
		a.totals = append(a.totals, map[string]*SimulationTotals{})
		a.tops = append(a.tops, &topHeap{})
	}
	return a
}

// rate converts cur into the reporting currency; 1 without one. EINVALID
// when a rate is missing: never a silent zero (§7).
func (a *SimulationAccumulator) rate(cur string) (decimal.Decimal, error) {
	if a.sim.ReportingCurrency == "" || cur == a.sim.ReportingCurrency {
		return decOne, nil
	}
	r, ok := a.fx[cur]
	if !ok {
		return decZero, &Error{Code: EINVALID, Message: "invalid simulation", Violations: []FieldViolation{{Field: "fx_rates",
			Description: fmt.Sprintf("no rate from %s to %s, which a selected customer's currency needs", cur, a.sim.ReportingCurrency)}}}
	}
	return r, nil
}

// Add folds the customers of one chunk for duration index i.
func (a *SimulationAccumulator) Add(i int, cs []SimulatedCustomer) error {
	r := &a.results[i]
	for j := range cs {
		c := &cs[j]
		rate, err := a.rate(c.LostRevenue.Gross.Currency)
		if err != nil {
			return err
		}
		r.SelectedCustomers++
		r.SelectedContracts += int64(c.Contracts)
		t := a.totals[i][c.LostRevenue.Gross.Currency]
		if t == nil {
			t = &SimulationTotals{Currency: c.LostRevenue.Gross.Currency}
			a.totals[i][t.Currency] = t
		}
		t.add(c)
		e := topEntry{credit: c.MarginalCredit.Amount.Mul(rate), net: c.LostRevenue.Net.Amount.Mul(rate), c: *c}
		h := a.tops[i]
		if h.Len() < a.sim.TopN {
			heap.Push(h, e)
		} else if h.Len() > 0 && better(&e, &(*h)[0]) {
			(*h)[0] = e
			heap.Fix(h, 0)
		}
	}
	return nil
}

// Results returns every duration's result, in request order.
func (a *SimulationAccumulator) Results() ([]SimulationResult, error) {
	out := make([]SimulationResult, len(a.results))
	for i := range a.results {
		r := a.results[i]
		r.Totals = make([]SimulationTotals, 0, len(a.totals[i]))
		for _, t := range a.totals[i] {
			r.Totals = append(r.Totals, *t)
		}
		sort.Slice(r.Totals, func(x, y int) bool { return r.Totals[x].Currency < r.Totals[y].Currency })
		if a.sim.ReportingCurrency != "" {
			rt, err := a.report(r.Totals)
			if err != nil {
				return nil, err
			}
			r.ReportingTotals = rt
		}
		entries := append(topHeap(nil), *a.tops[i]...)
		sort.Slice(entries, func(x, y int) bool { return better(&entries[x], &entries[y]) })
		for _, e := range entries {
			r.Top = append(r.Top, e.c)
		}
		out[i] = r
	}
	return out, nil
}

// report converts totals: per figure Σ total × rate, exact, rounded once
// half-even (§7).
func (a *SimulationAccumulator) report(ts []SimulationTotals) (*SimulationTotals, error) {
	exp, _ := MinorUnits(a.sim.ReportingCurrency)
	var sum [5]decimal.Decimal
	for _, t := range ts {
		rate, err := a.rate(t.Currency)
		if err != nil {
			return nil, err
		}
		for i, v := range [5]decimal.Decimal{t.LostRevenueGross, t.LostRevenueNet, t.LostRevenueRecaptured, t.ChurnExposure, t.MarginalCredit} {
			sum[i] = sum[i].Add(v.Mul(rate))
		}
	}
	return &SimulationTotals{Currency: a.sim.ReportingCurrency,
		LostRevenueGross:      roundDec(sum[0], exp, HalfEven),
		LostRevenueNet:        roundDec(sum[1], exp, HalfEven),
		LostRevenueRecaptured: roundDec(sum[2], exp, HalfEven),
		ChurnExposure:         roundDec(sum[3], exp, HalfEven),
		MarginalCredit:        roundDec(sum[4], exp, HalfEven),
	}, nil
}

// topEntry ranks a customer: reporting-currency marginal credit, then
// lost revenue net (converted the same way), then ascending id. Without a
// reporting currency amounts compare as numbers in their own currencies.
type topEntry struct {
	credit, net decimal.Decimal
	c           SimulatedCustomer
}

func better(a, b *topEntry) bool {
	if c := a.credit.Cmp(b.credit); c != 0 {
		return c > 0
	}
	if c := a.net.Cmp(b.net); c != 0 {
		return c > 0
	}
	return strings.Compare(a.c.CustomerID, b.c.CustomerID) < 0
}

// topHeap is a min-heap by rank: its root is the worst entry kept.
type topHeap []topEntry

func (h topHeap) Len() int           { return len(h) }
func (h topHeap) Less(i, j int) bool { return better(&h[j], &h[i]) }
func (h topHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *topHeap) Push(x any)        { *h = append(*h, x.(topEntry)) }
func (h *topHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// BookStore reads the part of the stored book a selector names; the store
// implements it next to impact.Store.
type BookStore interface {
	// SelectCustomers returns up to limit (at most MaxPageSize) customers
	// with id > after that have a contract sel selects, by ascending id,
	// each with Contracts holding exactly those contracts, by service.
	// EINVALID for a bad limit.
	SelectCustomers(ctx context.Context, sel *ContractSelector, after string, limit int) ([]Customer, error)
}
