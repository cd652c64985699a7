package impact_test

// This file is an independent, deliberately naive reference implementation
// ("oracle") of shared/spec/model.md and the decisions of doc.go. It shares
// no code with the engine: every quantity is a math/big.Rat, time is walked
// second by second, and every rule is written the most literal way, so that
// a reader can check it against the spec line by line. It is only fast
// enough because the randomized scenarios keep windows short.

import (
	"fmt"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------------------
// Exact arithmetic helpers.

// orat parses an input decimal (plain notation, already valid) exactly.
func orat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("oracle: bad decimal " + s)
	}
	return r
}

// oratOr parses s, or def when s is empty (the "unset" spelling).
func oratOr(s, def string) *big.Rat {
	if s == "" {
		return orat(def)
	}
	return orat(s)
}

func ratMul(a, b *big.Rat) *big.Rat { return new(big.Rat).Mul(a, b) }
func ratAdd(a, b *big.Rat) *big.Rat { return new(big.Rat).Add(a, b) }
func ratSub(a, b *big.Rat) *big.Rat { return new(big.Rat).Sub(a, b) }
func ratQuo(a, b *big.Rat) *big.Rat { return new(big.Rat).Quo(a, b) }
func ratInt(n int64) *big.Rat       { return new(big.Rat).SetInt64(n) }

// oround rounds r to places fractional digits: half-even, or half-up (away
// from zero on an exact half) when halfUp. It is the only rounding the oracle
// does, and every figure passes through it exactly once.
func oround(r *big.Rat, places int32, halfUp bool) decimal.Decimal {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	num := new(big.Int).Mul(r.Num(), scale)
	den := r.Denom()
	neg := num.Sign() < 0
	num.Abs(num)
	q, rem := new(big.Int).QuoRem(num, den, new(big.Int))
	twice := new(big.Int).Lsh(rem, 1)
	switch c := twice.Cmp(den); {
	case c > 0:
		q.Add(q, big.NewInt(1))
	case c == 0:
		if halfUp || q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	if neg {
		q.Neg(q)
	}
	return decimal.NewFromBigInt(q, -places)
}

// oexact converts a rational whose decimal expansion terminates into a
// decimal without any rounding; it panics otherwise (a figure the spec says
// is exact, such as ∫ f dt, must terminate).
func oexact(r *big.Rat) decimal.Decimal {
	for k := int32(0); k <= 60; k++ {
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
		num := new(big.Int).Mul(r.Num(), scale)
		q, rem := new(big.Int).QuoRem(num, r.Denom(), new(big.Int))
		if rem.Sign() == 0 {
			return decimal.NewFromBigInt(q, -k)
		}
	}
	panic("oracle: non-genTerminating exact figure " + r.RatString())
}

// decRat converts a decimal into a rational exactly.
func decRat(d decimal.Decimal) *big.Rat {
	r := new(big.Rat).SetInt(d.Coefficient())
	e := d.Exponent()
	p := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(absInt32(e))), nil))
	if e >= 0 {
		return r.Mul(r, p)
	}
	return r.Quo(r, p)
}

func absInt32(e int32) int32 {
	if e < 0 {
		return -e
	}
	return e
}

func minorOf(cur string) int32 {
	e, ok := impact.MinorUnits(cur)
	if !ok {
		panic("oracle: unknown currency " + cur)
	}
	return e
}

// oLargestRemainder splits total minor units by weights: floors of the exact
// quotas, then one more unit to each of the largest remainders, ties broken
// by the order of keys (ascending byte order). The result adds up to total.
func oLargestRemainder(total *big.Int, weights []*big.Rat, keys []string) []*big.Int {
	n := len(weights)
	out := make([]*big.Int, n)
	sum := new(big.Rat)
	for _, w := range weights {
		sum.Add(sum, w)
	}
	if sum.Sign() == 0 {
		// Nothing to weigh by (credit owed with no downtime at all, e.g. an
		// inclusive tier at 100): split evenly. doc.go is silent; this is
		// the engine's choice, and any split must still add up.
		weights = make([]*big.Rat, n)
		for i := range weights {
			weights[i] = ratInt(1)
		}
		sum = ratInt(int64(n))
	}
	rems := make([]*big.Rat, n)
	given := new(big.Int)
	for i, w := range weights {
		quota := ratQuo(ratMul(new(big.Rat).SetInt(total), w), sum)
		fl := new(big.Int).Quo(quota.Num(), quota.Denom()) // quotas are ≥ 0: Quo floors
		out[i] = fl
		rems[i] = ratSub(quota, new(big.Rat).SetInt(fl))
		given.Add(given, fl)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		if c := rems[idx[a]].Cmp(rems[idx[b]]); c != 0 {
			return c > 0
		}
		return keys[idx[a]] < keys[idx[b]]
	})
	left := new(big.Int).Sub(total, given)
	for k := 0; left.Sign() > 0; k++ {
		out[idx[k]].Add(out[idx[k]], big.NewInt(1))
		left.Sub(left, big.NewInt(1))
	}
	return out
}

// oMinorInt returns an amount already rounded to places as an integer count
// of minor units.
func oMinorInt(d decimal.Decimal, places int32) *big.Int {
	r := ratMul(decRat(d), new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)))
	if !r.IsInt() {
		panic("oracle: not in minor units")
	}
	return new(big.Int).Set(r.Num())
}

func oFromMinor(n *big.Int, places int32) decimal.Decimal {
	return decimal.NewFromBigInt(n, -places)
}

// ---------------------------------------------------------------------------
// Time helpers. An instant is a Unix second (int64); inputs are truncated
// toward the past with Unix(), which floors.

func osec(t time.Time) int64 { return t.Unix() }

var (
	ozoneMu    sync.Mutex
	ozoneCache = map[string]*time.Location{}
)

func oloc(name string) *time.Location {
	if name == "" {
		name = "UTC"
	}
	ozoneMu.Lock()
	defer ozoneMu.Unlock()
	if l, ok := ozoneCache[name]; ok {
		return l
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		panic("oracle: zone " + name)
	}
	ozoneCache[name] = l
	return l
}

// owall is the local wall clock of instant t in loc, as seconds on a
// "wall-clock UTC" axis, together with the UTC offset in force at t.
func owall(t int64, loc *time.Location) (wall int64, off int) {
	_, off = time.Unix(t, 0).In(loc).Zone()
	return t + int64(off), off
}

func ofloorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// ounitKey identifies the local clock unit (hour: unit=3600, minute:
// unit=60) containing t: the same local wall-clock unit AND the same UTC
// offset (doc.go, "Local hours").
type ounitKey struct {
	unit, n int64
	off     int
}

func okey(t int64, loc *time.Location, unit int64) ounitKey {
	w, off := owall(t, loc)
	return ounitKey{unit, ofloorDiv(w, unit), off}
}

type ounitRange struct{ start, end int64 }

type ounitCacheKey struct {
	zone string
	k    ounitKey
}

var (
	ounitMu    sync.Mutex
	ounitCache = map[ounitCacheKey]ounitRange{}
)

// ounitOf returns [first, last+1) of the local clock unit containing t,
// found by stepping second by second in both directions: the most literal
// reading of "a maximal run of instants with the same local wall-clock
// hour (minute) and the same UTC offset".
func ounitOf(t int64, zone string, unit int64) ounitRange {
	loc := oloc(zone)
	k := okey(t, loc, unit)
	ck := ounitCacheKey{zone, k}
	ounitMu.Lock()
	r, ok := ounitCache[ck]
	ounitMu.Unlock()
	if ok {
		return r
	}
	s := t
	for okey(s-1, loc, unit) == k {
		s--
	}
	e := t + 1
	for okey(e, loc, unit) == k {
		e++
	}
	r = ounitRange{s, e}
	ounitMu.Lock()
	ounitCache[ck] = r
	ounitMu.Unlock()
	return r
}

// ohourStart is the first instant of the customer-zone local hour of t.
func ohourStart(t int64, zone string) int64 { return ounitOf(t, zone, 3600).start }

type operiodKey struct {
	zone string
	m    int64 // year*12 + month-1
}

var (
	operiodMu    sync.Mutex
	operiodCache = map[operiodKey]int64{}
)

// omonthStart is the first instant whose wall clock in zone reads at least
// 00:00 on the 1st of month m (year*12+month-1) — doc.go's period decision.
// It scans from far enough before that no offset can already read the 1st,
// a minute at a time, then refines to the second. (Two offset changes less
// than a minute apart do not occur in the tz database.)
func omonthStart(zone string, m int64) int64 {
	ck := operiodKey{zone, m}
	operiodMu.Lock()
	v, ok := operiodCache[ck]
	operiodMu.Unlock()
	if ok {
		return v
	}
	loc := oloc(zone)
	y, mo := int(ofloorDiv(m, 12)), time.Month(m-12*ofloorDiv(m, 12)+1)
	target := time.Date(y, mo, 1, 0, 0, 0, 0, time.UTC).Unix()
	reads := func(t int64) bool { w, _ := owall(t, loc); return w >= target }
	t := target - 16*3600 // offsets are at most +14h, so the wall reads < target here
	if reads(t) {
		panic("oracle: period scan started too late")
	}
	for !reads(t) {
		t += 60
	}
	for s := t - 59; s <= t; s++ {
		if reads(s) {
			t = s
			break
		}
	}
	operiodMu.Lock()
	operiodCache[ck] = t
	operiodMu.Unlock()
	return t
}

// operiod is one billing period [start, end) of a contract.
type operiod struct {
	m          int64 // month index of its first month
	start, end int64
}

func operiodAt(zone string, quarterly bool, t int64) operiod {
	step := int64(1)
	if quarterly {
		step = 3
	}
	w, _ := owall(t, oloc(zone))
	u := time.Unix(w, 0).UTC()
	m := int64(u.Year())*12 + int64(u.Month()) - 1
	m -= m - step*ofloorDiv(m, step) // first month of the quarter
	// The period of t is the last period start ≤ t (a fall-back over
	// midnight can leave t's wall clock in the previous month).
	for omonthStart(zone, m) > t {
		m -= step
	}
	for omonthStart(zone, m+step) <= t {
		m += step
	}
	return operiod{m, omonthStart(zone, m), omonthStart(zone, m+step)}
}

// ---------------------------------------------------------------------------
// The oracle proper.

type owin struct {
	incIdx     int
	incID      string
	cause      impact.Cause
	cust, svc  string
	start, end int64
	frac       *big.Rat
}

type ocust struct {
	in       *impact.Customer
	zone     string
	minor    int32
	override map[int64]*big.Rat
	profile  []*big.Rat // 168 entries, or nil
	hourly   *big.Rat
	seasonal []oseason
}

type oseason struct {
	start, end int64
	mult       *big.Rat
}

// oracleEstimate computes every figure of the Estimate for s (which must be
// valid). InputsDigest is left empty: its canonical encoding is the
// engine's own and is checked by the property tests instead.
func oracleEstimate(s *impact.Scenario) *impact.Estimate {
	custs, wins := oprepare(s)
	return oracleFrom(s, custs, wins, false)
}

// oracleStatements computes the SLA statements only.
func oracleStatements(s *impact.Scenario) []impact.SLAStatement {
	custs, wins := oprepare(s)
	return oracleFrom(s, custs, wins, true).Statements
}

func oprepare(s *impact.Scenario) (map[string]*ocust, []owin) {
	custs := map[string]*ocust{}
	for i := range s.Customers {
		c := &s.Customers[i]
		oc := &ocust{in: c, zone: c.TimeZone, minor: minorOf(c.Currency), override: map[int64]*big.Rat{}}
		if oc.zone == "" {
			oc.zone = "UTC"
		}
		for _, o := range c.Baseline.Overrides {
			oc.override[osec(o.HourStart)] = orat(o.Amount)
		}
		if len(c.Baseline.WeeklyProfile) == 168 {
			for _, e := range c.Baseline.WeeklyProfile {
				oc.profile = append(oc.profile, orat(e))
			}
		}
		oc.hourly = oratOr(c.Baseline.HourlyAmount, "0")
		for _, sf := range c.Baseline.SeasonalFactors {
			oc.seasonal = append(oc.seasonal, oseason{osec(sf.Start), osec(sf.End), orat(sf.Multiplier)})
		}
		custs[c.ID] = oc
	}
	var wins []owin
	for i := range s.Incidents {
		inc := &s.Incidents[i]
		cause := inc.Cause
		if cause == impact.CauseUnspecified {
			cause = impact.UnknownCause
		}
		for _, w := range inc.Windows {
			wins = append(wins, owin{i, inc.ID, cause, w.CustomerID, w.Service, osec(w.Start), osec(w.End), oratOr(w.ImpactFraction, "1")})
		}
	}
	return custs, wins
}

func oracleFrom(s *impact.Scenario, custs map[string]*ocust, wins []owin, statementsOnly bool) *impact.Estimate {
	est := &impact.Estimate{ModelVersion: impact.ModelVersion}

	// SLA statements first: customer estimates list their attributions.
	type attrKey struct{ inc, cust string }
	attributions := map[attrKey][]impact.AttributedCredit{}
	for ci := range s.Customers {
		c := &s.Customers[ci]
		for k := range c.Contracts {
			for _, st := range ostatements(custs[c.ID], &c.Contracts[k], wins, s) {
				for _, sh := range st.Incidents {
					key := attrKey{sh.IncidentID, c.ID}
					attributions[key] = append(attributions[key], impact.AttributedCredit{Service: st.Service, PeriodStart: st.PeriodStart, Credit: sh.Credit})
				}
				est.Statements = append(est.Statements, st)
			}
		}
	}
	sort.SliceStable(est.Statements, func(a, b int) bool {
		x, y := est.Statements[a], est.Statements[b]
		if x.CustomerID != y.CustomerID {
			return x.CustomerID < y.CustomerID
		}
		if x.Service != y.Service {
			return x.Service < y.Service
		}
		return x.PeriodStart.Before(y.PeriodStart)
	})
	if statementsOnly {
		return est
	}

	fx := map[string]*big.Rat{}
	for _, r := range s.FXRates {
		if r.To == s.ReportingCurrency {
			fx[r.From] = orat(r.Rate)
		}
	}

	for i := range s.Incidents {
		inc := &s.Incidents[i]
		ie := impact.IncidentEstimate{IncidentID: inc.ID}
		// Affected customers: those with at least one window in the incident.
		byCust := map[string][]owin{}
		for _, w := range wins {
			if w.incIdx == i {
				byCust[w.cust] = append(byCust[w.cust], w)
			}
		}
		ids := make([]string, 0, len(byCust))
		for id := range byCust {
			ids = append(ids, id)
		}
		sort.Strings(ids)

		impactSec := make([]*big.Rat, len(ids))
		for k, id := range ids {
			oc := custs[id]
			cur := oc.in.Currency
			f := omaxFraction(byCust[id])
			// Σ over seconds of f(t) and of rate(t)·f(t). Seconds are
			// classified one by one; the sums are then taken over classes of
			// seconds sharing the same rate and fraction (same terms, fewer
			// big.Rat additions).
			type class struct {
				rate orateKey
				f    *big.Rat
			}
			counts := map[class]int64{}
			for t, ft := range f {
				counts[class{orateKeyAt(oc, t), ft}]++
			}
			integral := new(big.Rat)
			revenue := new(big.Rat) // Σ rate × fraction, still to be divided by 3600
			for cl, n := range counts {
				integral.Add(integral, ratMul(cl.f, ratInt(n)))
				revenue.Add(revenue, ratMul(ratMul(orateOf(oc, cl.rate), cl.f), ratInt(n)))
			}
			impactSec[k] = integral
			gross := ratQuo(revenue, ratInt(3600))
			net := ratMul(gross, ratSub(ratInt(1), oratOr(oc.in.Baseline.RecaptureRate, "0")))
			g := oround(gross, oc.minor, false)
			n := oround(net, oc.minor, false)
			churn := decimal.Zero
			if oc.in.LifetimeValue != "" && oc.in.ChurnProbability != "" {
				churn = oround(ratMul(orat(oc.in.LifetimeValue), orat(oc.in.ChurnProbability)), oc.minor, false)
			}
			credits := attributions[attrKey{inc.ID, id}]
			sort.SliceStable(credits, func(a, b int) bool {
				if credits[a].Service != credits[b].Service {
					return credits[a].Service < credits[b].Service
				}
				return credits[a].PeriodStart.Before(credits[b].PeriodStart)
			})
			ie.Customers = append(ie.Customers, impact.CustomerEstimate{
				CustomerID:    id,
				ImpactSeconds: oexact(integral),
				LostRevenue: impact.LostRevenue{
					Gross:      impact.Money{Currency: cur, Amount: g},
					Net:        impact.Money{Currency: cur, Amount: n},
					Recaptured: impact.Money{Currency: cur, Amount: g.Sub(n)},
				},
				SLACredits:    credits,
				ChurnExposure: impact.Money{Currency: cur, Amount: churn},
			})
		}

		// Recovery cost (model.md §4, §9).
		if rc := inc.RecoveryCurrency; rc != "" {
			places := minorOf(rc)
			shared := new(big.Rat)
			own := map[string]*big.Rat{}
			for _, it := range inc.RecoveryItems {
				var cost *big.Rat
				if it.Labor != nil {
					cost = ratMul(ratMul(orat(it.Labor.Hours), orat(it.Labor.HourlyRate)), oratOr(it.Labor.Engagement, "1"))
				} else {
					cost = ratMul(oratOr(it.Expense.Quantity, "1"), orat(it.Expense.UnitCost))
				}
				if it.CustomerID == "" {
					shared.Add(shared, cost)
				} else {
					if own[it.CustomerID] == nil {
						own[it.CustomerID] = new(big.Rat)
					}
					own[it.CustomerID].Add(own[it.CustomerID], cost)
				}
			}
			total := oMinorInt(oround(shared, places, false), places)
			weights := make([]*big.Rat, len(ids))
			for k := range ids {
				if inc.Allocation == impact.ByImpact {
					weights[k] = impactSec[k]
				} else {
					weights[k] = ratInt(1)
				}
			}
			shares := oLargestRemainder(total, weights, ids)
			for k, id := range ids {
				amt := oFromMinor(shares[k], places)
				if o := own[id]; o != nil {
					amt = amt.Add(oround(o, places, false))
				}
				ie.Customers[k].RecoveryCost = &impact.Money{Currency: rc, Amount: amt}
			}
		}

		// Totals per currency: sums of the rounded per-customer figures.
		tot := map[string]*impact.CurrencyTotals{}
		get := func(cur string) *impact.CurrencyTotals {
			if tot[cur] == nil {
				tot[cur] = &impact.CurrencyTotals{Currency: cur}
			}
			return tot[cur]
		}
		if inc.RecoveryCurrency != "" {
			get(inc.RecoveryCurrency)
		}
		for _, ce := range ie.Customers {
			t := get(ce.LostRevenue.Gross.Currency)
			t.LostRevenueGross = t.LostRevenueGross.Add(ce.LostRevenue.Gross.Amount)
			t.LostRevenueNet = t.LostRevenueNet.Add(ce.LostRevenue.Net.Amount)
			t.ChurnExposure = t.ChurnExposure.Add(ce.ChurnExposure.Amount)
			for _, a := range ce.SLACredits {
				t.SLACredits = t.SLACredits.Add(a.Credit.Amount)
			}
			if ce.RecoveryCost != nil {
				r := get(ce.RecoveryCost.Currency)
				r.RecoveryCost = r.RecoveryCost.Add(ce.RecoveryCost.Amount)
			}
		}
		curs := make([]string, 0, len(tot))
		for c := range tot {
			curs = append(curs, c)
		}
		sort.Strings(curs)
		for _, c := range curs {
			ie.Totals = append(ie.Totals, *tot[c])
		}

		// Reporting totals: Σ currency total × direct rate, rounded once.
		if rep := s.ReportingCurrency; rep != "" {
			var g, n, r, sl, ch big.Rat
			for _, t := range ie.Totals {
				rate := ratInt(1)
				if t.Currency != rep {
					rate = fx[t.Currency]
					if rate == nil {
						panic("oracle: missing fx rate " + t.Currency)
					}
				}
				g.Add(&g, ratMul(decRat(t.LostRevenueGross), rate))
				n.Add(&n, ratMul(decRat(t.LostRevenueNet), rate))
				r.Add(&r, ratMul(decRat(t.RecoveryCost), rate))
				sl.Add(&sl, ratMul(decRat(t.SLACredits), rate))
				ch.Add(&ch, ratMul(decRat(t.ChurnExposure), rate))
			}
			p := minorOf(rep)
			ie.ReportingTotals = &impact.CurrencyTotals{
				Currency:         rep,
				LostRevenueGross: oround(&g, p, false),
				LostRevenueNet:   oround(&n, p, false),
				RecoveryCost:     oround(&r, p, false),
				SLACredits:       oround(&sl, p, false),
				ChurnExposure:    oround(&ch, p, false),
			}
		}
		est.Incidents = append(est.Incidents, ie)
	}
	sort.SliceStable(est.Incidents, func(a, b int) bool { return est.Incidents[a].IncidentID < est.Incidents[b].IncidentID })
	return est
}

// omaxFraction maps every covered second to the maximum fraction of the
// windows covering it (model.md §2: never double counted).
func omaxFraction(ws []owin) map[int64]*big.Rat {
	f := map[int64]*big.Rat{}
	for _, w := range ws {
		for t := w.start; t < w.end; t++ {
			if cur, ok := f[t]; !ok || w.frac.Cmp(cur) > 0 {
				f[t] = w.frac
			}
		}
	}
	return f
}

func oSortedKeys[V any](m map[int64]V) []int64 {
	out := make([]int64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// orateKey names the rate in force at a second: its customer-zone local
// hour and the set of seasonal factors containing the second.
type orateKey struct {
	hour int64 // first instant of the local hour
	mask uint64
}

func orateKeyAt(oc *ocust, t int64) orateKey {
	k := orateKey{hour: ohourStart(t, oc.zone)}
	if len(oc.seasonal) > 64 {
		panic("oracle: too many seasonal factors")
	}
	for i, sf := range oc.seasonal {
		if sf.start <= t && t < sf.end {
			k.mask |= 1 << i
		}
	}
	return k
}

// orateOf is the revenue rate per hour of a rate class (model.md §3).
func orateOf(oc *ocust, k orateKey) *big.Rat {
	if o, ok := oc.override[k.hour]; ok {
		return o // an override is the whole rate of its hour (doc.go)
	}
	rate := oc.hourly
	if oc.profile != nil {
		// Index 24·weekday + hour of the local wall clock, Monday = 0; every
		// instant of a local hour has the wall date and hour of its start.
		w, _ := owall(k.hour, oloc(oc.zone))
		u := time.Unix(w, 0).UTC()
		rate = oc.profile[24*((int(u.Weekday())+6)%7)+u.Hour()]
	}
	for i, sf := range oc.seasonal {
		if k.mask&(1<<i) != 0 {
			rate = ratMul(rate, sf.mult)
		}
	}
	return rate
}

// odown returns the counted down weight of each second for contract k over
// windows ws (all of one customer and service): steps 1–3 of model.md §5.
// THRESHOLD seconds weigh 1, PROPORTIONAL seconds weigh f(t).
func odown(k *impact.Contract, ws []owin) map[int64]*big.Rat {
	counted, _ := odownBoth(k, ws)
	return counted
}

// odownBoth also returns, for THRESHOLD, the down seconds before the
// min_downtime_seconds filter ("passing"), used by the attribution fallback.
func odownBoth(k *impact.Contract, ws []owin) (counted, passing map[int64]*big.Rat) {
	excluded := map[impact.Cause]bool{}
	for _, c := range k.ExcludedCauses {
		excluded[c] = true
	}
	var kept []owin
	for _, w := range ws {
		if !excluded[w.cause] {
			kept = append(kept, w)
		}
	}
	f := omaxFraction(kept)
	if k.ExcludeMaintenance {
		for t := range f {
			for _, m := range k.MaintenanceWindows {
				if osec(m.Start) <= t && t < osec(m.End) {
					delete(f, t)
					break
				}
			}
		}
	}
	if k.Degradation == impact.Proportional {
		return f, f
	}
	thr := oratOr(k.DowntimeThreshold, "1")
	var down []int64
	one := ratInt(1)
	passing = map[int64]*big.Rat{}
	for _, t := range oSortedKeys(f) {
		if f[t].Cmp(thr) >= 0 {
			down = append(down, t)
			passing[t] = one
		}
	}
	out := map[int64]*big.Rat{}
	// Maximal runs of consecutive down seconds; runs shorter than
	// min_downtime_seconds are dropped.
	for i := 0; i < len(down); {
		j := i + 1
		for j < len(down) && down[j] == down[j-1]+1 {
			j++
		}
		if int64(j-i) >= k.MinDowntimeSeconds {
			for _, t := range down[i:j] {
				out[t] = one
			}
		}
		i = j
	}
	return out, passing
}

// ocount is D over the measured range [rs, re) with the contract's
// granularity (steps 4–5), following doc.go: granularity applies to the
// downtime after clipping to the measured range; clock minutes are those of
// the contract zone; MINUTES_TOUCHED counts 60 s for every clock minute
// containing any clipped downtime, MINUTES_FULL 60 s for every clock minute
// entirely inside it; D is capped at T.
func ocount(k *impact.Contract, zone string, down map[int64]*big.Rat, rs, re int64) *big.Rat {
	d := new(big.Rat)
	inside := func(t int64) bool {
		_, ok := down[t]
		return ok && t >= rs && t < re
	}
	switch k.Granularity {
	case impact.MinutesTouched, impact.MinutesFull:
		seen := map[ounitRange]bool{}
		for t := range down {
			if !inside(t) {
				continue
			}
			m := ounitOf(t, zone, 60)
			if seen[m] {
				continue
			}
			seen[m] = true
			full := true
			for u := m.start; u < m.end && full; u++ {
				full = inside(u)
			}
			if k.Granularity == impact.MinutesTouched || full {
				d.Add(d, ratInt(60))
			}
		}
	default:
		counts := map[*big.Rat]int64{} // Σ weights, grouped by weight
		for t, w := range down {
			if inside(t) {
				counts[w]++
			}
		}
		for w, n := range counts {
			d.Add(d, ratMul(w, ratInt(n)))
		}
	}
	if T := ratInt(re - rs); d.Cmp(T) > 0 {
		d = T
	}
	return d
}

// ostatements computes the SLA statements of one contract (model.md §5).
func ostatements(oc *ocust, k *impact.Contract, all []owin, s *impact.Scenario) []impact.SLAStatement {
	c := oc.in
	zone := k.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	quarterly := k.BillingPeriod == impact.Quarterly
	halfUp := k.Rounding == impact.HalfUp
	var ws []owin
	for _, w := range all {
		if w.cust == c.ID && w.svc == k.Service {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	// Every period any window overlaps.
	periods := map[int64]operiod{}
	for _, w := range ws {
		for t := w.start; t < w.end; {
			p := operiodAt(zone, quarterly, t)
			periods[p.start] = p
			t = p.end
		}
	}
	down := odown(k, ws)
	byInc := map[string][]owin{}
	for _, w := range ws {
		byInc[w.incID] = append(byInc[w.incID], w)
	}
	ownDown := map[string]map[int64]*big.Rat{}
	ownPassing := map[string]map[int64]*big.Rat{}
	for id, iw := range byInc {
		ownDown[id], ownPassing[id] = odownBoth(k, iw)
	}

	var out []impact.SLAStatement
	for _, ps := range oSortedKeys(periods) {
		p := periods[ps]
		rs, re := p.start, p.end
		if k.Denominator == impact.Deployed {
			if !k.ActiveFrom.IsZero() {
				rs = max(rs, osec(k.ActiveFrom))
			}
			if !k.ActiveUntil.IsZero() {
				re = min(re, osec(k.ActiveUntil))
			}
			if re <= rs {
				continue // no deployed part: no statement
			}
		}
		T := re - rs
		D := ocount(k, zone, down, rs, re)
		uptime := ratQuo(ratMul(ratInt(100), ratSub(ratInt(T), D)), ratInt(T))

		// Tier: the lowest bound whose condition holds, exact comparison.
		pct := new(big.Rat)
		var best *big.Rat
		for _, tr := range k.Tiers {
			b := orat(tr.UptimeBelow)
			c := uptime.Cmp(b)
			if c < 0 || (tr.Inclusive && c == 0) {
				if best == nil || b.Cmp(best) < 0 {
					best, pct = b, orat(tr.CreditPercent)
				}
			}
		}
		if capPct := oratOr(k.CreditCapPercent, "100"); capPct.Cmp(pct) < 0 {
			pct = capPct
		}
		fee := oratOr(k.MonthlyFee, "0")
		if quarterly {
			fee = ratMul(fee, ratInt(3))
		}
		for _, pf := range k.PeriodFees {
			if osec(pf.PeriodStart) == p.start {
				fee = orat(pf.Fee)
			}
		}
		computed := oround(ratMul(ratQuo(pct, ratInt(100)), fee), oc.minor, halfUp)
		credit, below := computed, false
		if computed.Sign() > 0 && decRat(computed).Cmp(oratOr(k.MinCreditAmount, "0")) <= 0 {
			credit, below = decimal.Zero, true
		}

		// Incidents with a window of this customer and service overlapping
		// the period, each with its own counted downtime.
		var incIDs []string
		for id, iw := range byInc {
			for _, w := range iw {
				if w.start < p.end && w.end > p.start {
					incIDs = append(incIDs, id)
					break
				}
			}
		}
		sort.Strings(incIDs)
		own := make([]*big.Rat, len(incIDs))
		sumOwn := new(big.Rat)
		for j, id := range incIDs {
			own[j] = ocount(k, zone, ownDown[id], rs, re)
			sumOwn.Add(sumOwn, own[j])
		}
		weights := own
		if sumOwn.Sign() == 0 && credit.Sign() > 0 {
			// doc.go: no incident has downtime of its own (only together did
			// they pass min_downtime_seconds); attribute by each incident's
			// overlap with the counted down intervals. Reading (ambiguous in
			// doc.go, chosen as the engine's): the incident's own down
			// seconds before the min_downtime filter that are counted down
			// overall inside the measured range, in seconds.
			weights = make([]*big.Rat, len(incIDs))
			for j, id := range incIDs {
				n := int64(0)
				for t := range ownPassing[id] {
					if _, ok := down[t]; ok && t >= rs && t < re {
						n++
					}
				}
				weights[j] = ratInt(n)
			}
			if sumRats(weights).Sign() == 0 {
				// doc.go: credit owed with no downtime at all (an inclusive
				// tier at 100) goes evenly to the incidents whose cause the
				// contract does not exclude; to all when it excludes every one.
				for j, id := range incIDs {
					weights[j] = ratInt(0)
					if !oexcluded(k, byInc[id][0].cause) {
						weights[j] = ratInt(1)
					}
				}
			}
		}
		shares := oLargestRemainder(oMinorInt(credit, oc.minor), weights, incIDs)
		st := impact.SLAStatement{
			CustomerID:      c.ID,
			Service:         k.Service,
			PeriodStart:     time.Unix(p.start, 0).UTC(),
			PeriodEnd:       time.Unix(p.end, 0).UTC(),
			PeriodSeconds:   T,
			DowntimeSeconds: oexact(D),
			UptimePercent:   oround(uptime, 6, false),
			CreditPercent:   oexact(pct),
			Fee:             impact.Money{Currency: c.Currency, Amount: oround(fee, oc.minor, halfUp)},
			ComputedCredit:  impact.Money{Currency: c.Currency, Amount: computed},
			CreditAmount:    impact.Money{Currency: c.Currency, Amount: credit},
			BelowMinimum:    below,
		}
		for j, id := range incIDs {
			st.Incidents = append(st.Incidents, impact.IncidentShare{
				IncidentID:      id,
				DowntimeSeconds: oexact(own[j]),
				Credit:          impact.Money{Currency: c.Currency, Amount: oFromMinor(shares[j], oc.minor)},
			})
		}
		out = append(out, st)
	}
	_ = s
	return out
}

// ---------------------------------------------------------------------------
// A readable, keyed dump of an Estimate, used both to diff the engine
// against the oracle and to compare two engine runs. Lists are keyed by
// their ids (so one missing element does not shift every later line) and
// their order is a line of its own.

func omoney(m impact.Money) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%s %s (NOT IN MINOR UNITS)", m.Currency, m.Amount.String())
		}
	}()
	if _, ok := impact.MinorUnits(m.Currency); !ok {
		return fmt.Sprintf("%q %s (UNKNOWN CURRENCY)", m.Currency, m.Amount.String())
	}
	return m.Currency + " " + m.String()
}

func odec(d decimal.Decimal) string { return impact.FormatDecimal(d) }

func otime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

type oDumpLine struct{ key, val string }

func oDump(e *impact.Estimate, withDigest bool) []oDumpLine {
	var out []oDumpLine
	add := func(k, format string, args ...any) { out = append(out, oDumpLine{k, fmt.Sprintf(format, args...)}) }
	add("model_version", "%s", e.ModelVersion)
	if withDigest {
		add("inputs_digest", "%s", e.InputsDigest)
	}
	var incOrder []string
	for _, ie := range e.Incidents {
		incOrder = append(incOrder, ie.IncidentID)
	}
	add("incidents.order", "%v", incOrder)
	for _, ie := range e.Incidents {
		p := "incident[" + ie.IncidentID + "]"
		var co []string
		for _, ce := range ie.Customers {
			co = append(co, ce.CustomerID)
		}
		add(p+".customers.order", "%v", co)
		for _, ce := range ie.Customers {
			q := p + ".customer[" + ce.CustomerID + "]"
			add(q+".impact_seconds", "%s", odec(ce.ImpactSeconds))
			add(q+".lost_revenue.gross", "%s", omoney(ce.LostRevenue.Gross))
			add(q+".lost_revenue.net", "%s", omoney(ce.LostRevenue.Net))
			add(q+".lost_revenue.recaptured", "%s", omoney(ce.LostRevenue.Recaptured))
			if ce.RecoveryCost == nil {
				add(q+".recovery_cost", "<nil>")
			} else {
				add(q+".recovery_cost", "%s", omoney(*ce.RecoveryCost))
			}
			var cr []string
			for _, a := range ce.SLACredits {
				cr = append(cr, a.Service+"@"+otime(a.PeriodStart)+"="+omoney(a.Credit))
			}
			add(q+".sla_credits", "%v", cr)
			add(q+".churn_exposure", "%s", omoney(ce.ChurnExposure))
		}
		var to []string
		for _, t := range ie.Totals {
			to = append(to, t.Currency)
		}
		add(p+".totals.order", "%v", to)
		tot := func(q string, t impact.CurrencyTotals) {
			add(q+".lost_revenue_gross", "%s", odec(t.LostRevenueGross))
			add(q+".lost_revenue_net", "%s", odec(t.LostRevenueNet))
			add(q+".recovery_cost", "%s", odec(t.RecoveryCost))
			add(q+".sla_credits", "%s", odec(t.SLACredits))
			add(q+".churn_exposure", "%s", odec(t.ChurnExposure))
		}
		for _, t := range ie.Totals {
			tot(p+".totals["+t.Currency+"]", t)
		}
		if ie.ReportingTotals == nil {
			add(p+".reporting_totals", "<nil>")
		} else {
			add(p+".reporting_totals", "%s", ie.ReportingTotals.Currency)
			tot(p+".reporting_totals", *ie.ReportingTotals)
		}
	}
	var so []string
	for _, st := range e.Statements {
		so = append(so, st.CustomerID+"/"+st.Service+"/"+otime(st.PeriodStart))
	}
	add("statements.order", "%v", so)
	for _, st := range e.Statements {
		p := "statement[" + st.CustomerID + "/" + st.Service + "/" + otime(st.PeriodStart) + "]"
		add(p+".period_end", "%s", otime(st.PeriodEnd))
		add(p+".period_seconds", "%d", st.PeriodSeconds)
		add(p+".downtime_seconds", "%s", odec(st.DowntimeSeconds))
		up := odec(st.UptimePercent)
		if st.UptimePercent.Exponent() < -6 {
			up += " (MORE THAN 6 DECIMALS)"
		}
		add(p+".uptime_percent", "%s", up)
		add(p+".credit_percent", "%s", odec(st.CreditPercent))
		add(p+".fee", "%s", omoney(st.Fee))
		add(p+".computed_credit", "%s", omoney(st.ComputedCredit))
		add(p+".credit_amount", "%s", omoney(st.CreditAmount))
		add(p+".below_minimum", "%v", st.BelowMinimum)
		var io []string
		for _, sh := range st.Incidents {
			io = append(io, sh.IncidentID)
		}
		add(p+".incidents.order", "%v", io)
		for _, sh := range st.Incidents {
			add(p+".incident["+sh.IncidentID+"].downtime_seconds", "%s", odec(sh.DowntimeSeconds))
			add(p+".incident["+sh.IncidentID+"].credit", "%s", omoney(sh.Credit))
		}
	}
	return out
}

// oDiff returns a readable list of differences ("" when none).
func oDiff(got, want *impact.Estimate, withDigest bool) string {
	d, _ := oDiffKeys(got, want, withDigest)
	return d
}

// oDiffKeys is oDiff that also returns the keys that differ.
func oDiffKeys(got, want *impact.Estimate, withDigest bool) (string, []string) {
	g, w := oDump(got, withDigest), oDump(want, withDigest)
	gm, wm := map[string]string{}, map[string]string{}
	var keys []string
	seen := map[string]bool{}
	for _, l := range g {
		gm[l.key] = l.val
		if !seen[l.key] {
			seen[l.key] = true
			keys = append(keys, l.key)
		}
	}
	for _, l := range w {
		wm[l.key] = l.val
		if !seen[l.key] {
			seen[l.key] = true
			keys = append(keys, l.key)
		}
	}
	var b []byte
	var diffKeys []string
	n := 0
	for _, k := range keys {
		gv, gok := gm[k]
		wv, wok := wm[k]
		if gok && wok && gv == wv {
			continue
		}
		if !gok {
			gv = "<missing>"
		}
		if !wok {
			wv = "<missing>"
		}
		n++
		diffKeys = append(diffKeys, k)
		if n <= 40 {
			b = fmt.Appendf(b, "  %s:\n      engine: %s\n      oracle: %s\n", k, gv, wv)
		}
	}
	if n > 40 {
		b = fmt.Appendf(b, "  ... and %d more differences\n", n-40)
	}
	return string(b), diffKeys
}

func sumRats(rs []*big.Rat) *big.Rat {
	sum := new(big.Rat)
	for _, r := range rs {
		sum.Add(sum, r)
	}
	return sum
}

// oexcluded reports whether the contract excludes the cause (an unspecified
// cause is UNKNOWN, model.md §9).
func oexcluded(k *impact.Contract, c impact.Cause) bool {
	if c == impact.CauseUnspecified {
		c = impact.UnknownCause
	}
	for _, x := range k.ExcludedCauses {
		if x == c {
			return true
		}
	}
	return false
}
