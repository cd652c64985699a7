package impact

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// ModelVersion names the rules of this package; it moves whenever a figure
// for the same inputs could change, and every stored estimate records it.
const ModelVersion = "impact-model/1"

// Limits bound the work of one estimate; anything beyond them is EINVALID,
// decided before any computation.
type Limits struct {
	MaxCustomers            int
	MaxIncidents            int
	MaxWindows              int // over all incidents
	MaxContractsPerCustomer int
	MaxOverrides            int // per customer
	MaxSeasonalFactors      int // per customer
	MaxTiers                int // per contract
	MaxMaintenanceWindows   int // per contract
	MaxPeriodFees           int // per contract
	MaxRecoveryItems        int // per incident
	MaxFXRates              int
	// MaxWindowHours bounds the sum over all windows of their length in
	// hours, rounded up: the engine's cost grows with hour buckets.
	MaxWindowHours int64
	MaxIDBytes     int // ids, services, display names, titles, roles, descriptions
	// MaxCost bounds Cost(scenario), the engine's total work in cost units,
	// checked before anything else is looked at.
	MaxCost int64
}

// DefaultLimits are the limits of the stateless Estimate API.
func DefaultLimits() Limits {
	return Limits{
		MaxCustomers:            10000,
		MaxIncidents:            1000,
		MaxWindows:              100000,
		MaxContractsPerCustomer: 100,
		MaxOverrides:            10000,
		MaxSeasonalFactors:      1000,
		MaxTiers:                100,
		MaxMaintenanceWindows:   10000,
		MaxPeriodFees:           1000,
		MaxRecoveryItems:        10000,
		MaxFXRates:              1000,
		MaxWindowHours:          2000000,
		MaxIDBytes:              256,
		MaxCost:                 4000000,
	}
}

// EstimateScenario validates s within lim and computes every figure of
// model.md. It returns an *Error with code EINVALID and one FieldViolation
// per problem when s is not valid; s is not modified.
func EstimateScenario(s *Scenario, lim Limits) (*Estimate, error) {
	return EstimateScenarioContext(context.Background(), s, lim)
}

// EstimateScenarioContext is EstimateScenario observing ctx: once ctx is
// done the computation stops within a few milliseconds and returns
// ctx.Err() (context.DeadlineExceeded or context.Canceled), unwrapped.
func EstimateScenarioContext(ctx context.Context, s *Scenario, lim Limits) (est *Estimate, err error) {
	stop := newStopper(ctx)
	defer recoverStopped(&err)
	stop.check()
	m, err := compile(s, lim, stop)
	if err != nil {
		return nil, err
	}
	m.stop = stop
	sla := m.statements()
	stop.check()
	est = &Estimate{
		ModelVersion: ModelVersion,
		InputsDigest: digestStop(s, stop),
		Incidents:    make([]IncidentEstimate, 0, len(m.incidents)),
		Statements:   sla.statements,
	}
	for _, inc := range m.incidents {
		stop.check()
		est.Incidents = append(est.Incidents, m.estimateIncident(inc, sla.credits))
	}
	return est, nil
}

func unixUTC(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func (m *model) estimateIncident(inc *cIncident, credits map[incCust][]AttributedCredit) IncidentEstimate {
	// The customer's spans over all services: revenue is the customer's, so
	// the fraction at an instant is the maximum over every window (§9).
	spans := map[*cCustomer][]fracSpan{}
	for i := range inc.windows {
		w := &inc.windows[i]
		spans[w.cust] = append(spans[w.cust], fracSpan{w.start, w.end, w.frac})
	}
	custs := make([]*cCustomer, 0, len(spans))
	for c := range spans {
		custs = append(custs, c)
	}
	slices.SortFunc(custs, func(a, b *cCustomer) int { return strings.Compare(a.id, b.id) })

	out := IncidentEstimate{IncidentID: inc.id, Customers: make([]CustomerEstimate, len(custs))}
	impacts := make([]decimal.Decimal, len(custs))
	for i, c := range custs {
		m.stop.tick()
		cover := maxCover(spans[c], m.stop)
		impacts[i] = integral(cover)
		out.Customers[i] = CustomerEstimate{
			CustomerID:    c.id,
			ImpactSeconds: impacts[i],
			LostRevenue:   c.lostRevenue(cover, m.stop),
			SLACredits:    credits[incCust{inc.id, c.id}],
			ChurnExposure: Money{c.currency, c.churnExposure()},
		}
	}
	if inc.recoveryCurrency != "" {
		m.allocateRecovery(inc, custs, impacts, out.Customers)
	}
	out.Totals = totals(inc, out.Customers)
	if m.reporting != "" {
		out.ReportingTotals = m.report(out.Totals)
	}
	return out
}

// allocateRecovery sets each customer's recovery cost: its own items, summed
// exactly and rounded once, plus its share of the shared items, summed
// exactly, rounded once and split by largest remainder (§4, §9).
func (m *model) allocateRecovery(inc *cIncident, custs []*cCustomer, impacts []decimal.Decimal, out []CustomerEstimate) {
	var shares []decimal.Decimal
	if inc.hasShared {
		weights := impacts
		if inc.allocation != ByImpact {
			weights = make([]decimal.Decimal, len(custs))
			for i := range weights {
				weights[i] = decOne
			}
		}
		shares = largestRemainder(roundDec(inc.shared, inc.recoveryExp, HalfEven), inc.recoveryExp, weights)
	}
	for i, c := range custs {
		own := inc.perCustomer[c.id]
		if f, ok := fixedOf(own); ok {
			if f, ok = f.roundTo(inc.recoveryExp, HalfEven); ok && shares != nil {
				var sh fixed
				if sh, ok = fixedOf(shares[i]); ok {
					f, ok = f.add(sh)
				}
			}
			if ok {
				out[i].RecoveryCost = &Money{inc.recoveryCurrency, f.dec()}
				continue
			}
		}
		cost := roundDec(own, inc.recoveryExp, HalfEven)
		if shares != nil {
			cost = cost.Add(shares[i])
		}
		out[i].RecoveryCost = &Money{inc.recoveryCurrency, cost}
	}
}

// churnExposure is churn_probability × lifetime_value, rounded once (§6); 0
// when either is unset.
func (c *cCustomer) churnExposure() decimal.Decimal {
	if c.ltv == "" || c.churn == "" {
		return decZero
	}
	if p, ok := fixedStr(c.churn, fixed{}); ok {
		if l, ok := fixedStr(c.ltv, fixed{}); ok {
			if e, ok := p.mul(l); ok {
				if e, ok = e.roundTo(c.exp, HalfEven); ok {
					return e.dec()
				}
			}
		}
	}
	return roundDec(parseChecked(c.churn).Mul(parseChecked(c.ltv)), c.exp, HalfEven)
}

// totals sums the rounded per-customer figures per currency (§7).
func totals(inc *cIncident, custs []CustomerEstimate) []CurrencyTotals {
	if out, ok := totalsFixed(inc, custs); ok {
		return out
	}
	by := map[string]*CurrencyTotals{}
	get := func(cur string) *CurrencyTotals {
		t := by[cur]
		if t == nil {
			t = &CurrencyTotals{Currency: cur}
			by[cur] = t
		}
		return t
	}
	if inc.recoveryCurrency != "" {
		get(inc.recoveryCurrency)
	}
	for i := range custs {
		ce := &custs[i]
		t := get(ce.LostRevenue.Gross.Currency)
		t.LostRevenueGross = t.LostRevenueGross.Add(ce.LostRevenue.Gross.Amount)
		t.LostRevenueNet = t.LostRevenueNet.Add(ce.LostRevenue.Net.Amount)
		t.ChurnExposure = t.ChurnExposure.Add(ce.ChurnExposure.Amount)
		for _, cr := range ce.SLACredits {
			t.SLACredits = t.SLACredits.Add(cr.Credit.Amount)
		}
		if ce.RecoveryCost != nil {
			r := get(ce.RecoveryCost.Currency)
			r.RecoveryCost = r.RecoveryCost.Add(ce.RecoveryCost.Amount)
		}
	}
	out := make([]CurrencyTotals, 0, len(by))
	for _, t := range by {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b CurrencyTotals) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}

// report converts totals into the reporting currency: per figure
// Σ total × rate, exact, rounded once half-even (§7).
func (m *model) report(ts []CurrencyTotals) *CurrencyTotals {
	exp, _ := MinorUnits(m.reporting)
	if t, ok := m.reportFixed(ts, exp); ok {
		return t
	}
	var sum [5]decimal.Decimal
	for _, t := range ts {
		rate := decOne
		if t.Currency != m.reporting {
			rate = m.fx[t.Currency]
		}
		for i, v := range [5]decimal.Decimal{t.LostRevenueGross, t.LostRevenueNet, t.RecoveryCost, t.SLACredits, t.ChurnExposure} {
			sum[i] = sum[i].Add(v.Mul(rate))
		}
	}
	return &CurrencyTotals{
		Currency:         m.reporting,
		LostRevenueGross: roundDec(sum[0], exp, HalfEven),
		LostRevenueNet:   roundDec(sum[1], exp, HalfEven),
		RecoveryCost:     roundDec(sum[2], exp, HalfEven),
		SLACredits:       roundDec(sum[3], exp, HalfEven),
		ChurnExposure:    roundDec(sum[4], exp, HalfEven),
	}
}

// currencySums are the five totals of one currency in fixed point.
type currencySums struct {
	currency string
	sum      [5]fixed // gross, net, recovery, credits, churn
}

// totalsFixed is totals in fixed point; false when any sum is out of range.
// Currencies are few (a customer has one), so they are found by a scan.
func totalsFixed(inc *cIncident, custs []CustomerEstimate) ([]CurrencyTotals, bool) {
	var buf [4]currencySums
	by := buf[:0]
	get := func(cur string) *currencySums {
		for i := range by {
			if by[i].currency == cur {
				return &by[i]
			}
		}
		by = append(by, currencySums{currency: cur})
		return &by[len(by)-1]
	}
	ok := true
	addTo := func(t *currencySums, i int, d decimal.Decimal) {
		f, ok1 := fixedOf(d)
		if !ok1 {
			ok = false
			return
		}
		if t.sum[i], ok1 = t.sum[i].add(f); !ok1 {
			ok = false
		}
	}
	if inc.recoveryCurrency != "" {
		get(inc.recoveryCurrency)
	}
	for i := range custs {
		ce := &custs[i]
		t := get(ce.LostRevenue.Gross.Currency)
		addTo(t, 0, ce.LostRevenue.Gross.Amount)
		addTo(t, 1, ce.LostRevenue.Net.Amount)
		addTo(t, 4, ce.ChurnExposure.Amount)
		for _, cr := range ce.SLACredits {
			addTo(t, 3, cr.Credit.Amount)
		}
		if ce.RecoveryCost != nil {
			addTo(get(ce.RecoveryCost.Currency), 2, ce.RecoveryCost.Amount)
		}
		if !ok {
			return nil, false
		}
	}
	slices.SortFunc(by, func(a, b currencySums) int { return strings.Compare(a.currency, b.currency) })
	out := make([]CurrencyTotals, len(by))
	for i := range by {
		s := &by[i].sum
		out[i] = CurrencyTotals{Currency: by[i].currency,
			LostRevenueGross: s[0].dec(), LostRevenueNet: s[1].dec(), RecoveryCost: s[2].dec(),
			SLACredits: s[3].dec(), ChurnExposure: s[4].dec()}
	}
	return out, true
}

// reportFixed is report in fixed point; false when out of range.
func (m *model) reportFixed(ts []CurrencyTotals, exp int32) (*CurrencyTotals, bool) {
	var sum [5]fixed
	for _, t := range ts {
		rate := fixedInt(1)
		if t.Currency != m.reporting {
			var ok bool
			if rate, ok = fixedOf(m.fx[t.Currency]); !ok {
				return nil, false
			}
		}
		for i, v := range [5]decimal.Decimal{t.LostRevenueGross, t.LostRevenueNet, t.RecoveryCost, t.SLACredits, t.ChurnExposure} {
			f, ok := fixedOf(v)
			if ok {
				f, ok = f.mul(rate)
			}
			if ok {
				sum[i], ok = sum[i].add(f)
			}
			if !ok {
				return nil, false
			}
		}
	}
	var r [5]decimal.Decimal
	for i := range sum {
		f, ok := sum[i].roundTo(exp, HalfEven)
		if !ok {
			return nil, false
		}
		r[i] = f.dec()
	}
	return &CurrencyTotals{Currency: m.reporting, LostRevenueGross: r[0], LostRevenueNet: r[1],
		RecoveryCost: r[2], SLACredits: r[3], ChurnExposure: r[4]}, true
}
