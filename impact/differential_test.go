package impact_test

// Randomized differential tests: seeded scenario generators feed the same
// scenario to the engine (impact.EstimateScenario) and to the brute-force
// oracle of oracle_test.go, and every figure of the two results must agree.
// Scenarios cluster their windows, seasonal edges, overrides, maintenance
// windows and active dates around one "anchor" instant — a DST transition,
// a month or quarter start in some zone, or an ordinary instant — so that
// the rules meet at the edges where engines go wrong.
//
// Run more seeds with: go test ./impact -run Differential -long

import (
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

var diffLong = flag.Bool("long", false, "run many more randomized scenarios")

// Zones of the brief plus a few with rare genTransitions: St_Johns falls back
// across midnight of 2009-11-01 (wall 00:00 occurs twice), Asuncion and
// Havana skip midnight on the 1st, Monrovia had a sub-minute offset
// (−0:44:30) until 1972-01-07, Lord_Howe moved +10:00 → +10:30 at
// midnight of 1981-03-01.
var genZones = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe"}

var specialAnchors = []struct {
	zone string
	at   time.Time
}{
	{"America/St_Johns", time.Date(2009, 11, 1, 2, 31, 0, 0, time.UTC)},
	{"America/Asuncion", time.Date(2017, 10, 1, 4, 0, 0, 0, time.UTC)},
	{"America/Havana", time.Date(2001, 4, 1, 5, 0, 0, 0, time.UTC)},
	{"Africa/Monrovia", time.Date(1972, 1, 7, 0, 45, 0, 0, time.UTC)},
	{"Australia/Lord_Howe", time.Date(1981, 2, 28, 14, 0, 0, 0, time.UTC)},
	{"Africa/Monrovia", time.Date(1971, 4, 1, 0, 44, 30, 0, time.UTC)},
}

var genCurrencies = []string{"USD", "EUR", "JPY", "KWD", "CLF"}

var genCauses = []impact.Cause{impact.HardwareFailure, impact.SoftwareDefect, impact.Cyberattack,
	impact.NaturalDisaster, impact.PowerFailure, impact.NetworkFailure, impact.CustomerCaused, impact.UnknownCause}

// genTransitions lists the UTC offset changes of zone in [from, to): an
// hourly scan (offsets never change twice within an hour) refined to the
// second.
func genTransitions(zone string, from, to int64) []int64 {
	loc := oloc(zone)
	var out []int64
	_, prev := owall(from, loc)
	for t := from; t < to; t += 3600 {
		if _, off := owall(t, loc); off != prev {
			s := t - 3599
			for ; ; s++ {
				if _, o := owall(s, loc); o != prev {
					break
				}
			}
			out = append(out, s)
			prev = off
		}
	}
	return out
}

// genDSTAnchors are the DST transitions of 2023–2025 of the zones that have
// them, computed once on first use.
var genDSTAnchors = sync.OnceValue(func() [][2]any {
	var out [][2]any
	from := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, z := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"} {
		for _, t := range genTransitions(z, from, to) {
			out = append(out, [2]any{z, t})
		}
	}
	return out
})

type scenGen struct {
	r      *rand.Rand
	anchor int64
	zone   string // the anchor's zone; customers and contracts favour it
	zones  []string
}

func (g *scenGen) pick(n int) int        { return g.r.IntN(n) }
func (g *scenGen) chance(p float64) bool { return g.r.Float64() < p }

func genPick[T any](g *scenGen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// dec spells a random non-negative decimal with up to intDigits integer
// digits and up to fracDigits fractional digits (no trailing-zero cleanup:
// "1.50" is a valid input spelling too).
func (g *scenGen) dec(intDigits, fracDigits int) string {
	n := g.r.Int64N(genPow10(intDigits))
	s := fmt.Sprint(n)
	if fracDigits > 0 && g.chance(0.8) {
		f := 1 + g.pick(fracDigits)
		s += "." + fmt.Sprintf("%0*d", f, g.r.Int64N(genPow10(f)))
	}
	return s
}

func genPow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// huge returns a value at the edge of the input bounds of model.md §1 (up
// to 30 integer and 12 fractional digits), including 19-digit integers
// just past the int64 range.
func (g *scenGen) huge() string {
	switch g.pick(4) {
	case 0:
		return "9999999999999999999" // 19 digits, > MaxInt64
	case 1:
		return fmt.Sprintf("92233720368547758%02d", g.pick(100))
	case 2:
		return fmt.Sprintf("%d%015d.%012d", 100000000000000+g.r.Int64N(899999999999999), g.r.Int64N(1e15), g.r.Int64N(1e12))
	default:
		return fmt.Sprintf("%d.%d", g.r.Int64N(1e18), g.r.Int64N(10))
	}
}

// unit returns a decimal in (0, 1] for fractions and thresholds.
func (g *scenGen) unit() string {
	switch g.pick(8) {
	case 0:
		return "1"
	case 1:
		return "0.5"
	case 2:
		return "0.25"
	case 3:
		return "0.75"
	case 4:
		return "0.333333333333"
	case 5:
		return "0.1"
	default:
		k := 1 + g.pick(12)
		v := 1 + g.r.Int64N(genPow10(k)-1)
		return "0." + fmt.Sprintf("%0*d", k, v)
	}
}

func (g *scenGen) money(cur string) string {
	e := int(minorOf(cur))
	switch g.pick(8) {
	case 7:
		return g.huge()
	case 0:
		return g.dec(6, 12) // more digits than the currency has: rounding matters
	case 1:
		return fmt.Sprint(g.r.Int64N(100000))
	case 2:
		// An exact half at the minor unit (or, ×10 %, one digit further):
		// HALF_UP and HALF_EVEN part ways.
		if e == 0 {
			return fmt.Sprintf("%d.5", g.r.Int64N(100000))
		}
		return fmt.Sprintf("%d.%0*d5", g.r.Int64N(100000), e, g.r.Int64N(genPow10(e)))
	default:
		return g.dec(6, max(e+1, 1))
	}
}

// when returns an instant near the anchor, within ±spread seconds; some
// fall on whole minutes or hours, some carry sub-second digits (they are
// truncated by the rules).
func (g *scenGen) when(spread int64) int64 {
	t := g.anchor + g.r.Int64N(2*spread+1) - spread
	switch g.pick(4) {
	case 0:
		t -= ((t % 60) + 60) % 60
	case 1:
		t -= ((t % 3600) + 3600) % 3600
	}
	return t
}

func (g *scenGen) inst(t int64) time.Time {
	if g.chance(0.15) {
		return time.Unix(t, int64(g.r.IntN(1e9))).UTC()
	}
	if g.chance(0.1) && g.zone != "" {
		return time.Unix(t, 0).In(oloc(g.zone)) // same instant, another zone
	}
	return time.Unix(t, 0).UTC()
}

func (g *scenGen) windowLen() int64 {
	switch g.pick(10) {
	case 0:
		return 1 + g.r.Int64N(120)
	case 1, 2, 3:
		return 60 + g.r.Int64N(1800)
	case 4, 5:
		return 1800 + g.r.Int64N(5400)
	case 6:
		// multiples that give genTerminating uptimes in 28/30/31-day months
		// and 90-day quarters, so that exact tier bounds get hit
		return genPick(g, []int64{81, 162, 243, 837, 189, 2511, 2592, 3000, 2820, 180}) * (1 + g.r.Int64N(3))
	case 7:
		return 60 * (1 + g.r.Int64N(240))
	default:
		return 3600 * (1 + g.r.Int64N(3))
	}
}

// newScenGen picks the anchor of a scenario.
func newScenGen(seed uint64) *scenGen {
	g := &scenGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	switch g.pick(10) {
	case 0, 1, 2, 3:
		anchors := genDSTAnchors()
		a := anchors[g.pick(len(anchors))]
		g.zone, g.anchor = a[0].(string), a[1].(int64)
	case 4, 5, 6:
		g.zone = genPick(g, genZones)
		m := int64(2023*12 + g.pick(36))
		if g.chance(0.5) {
			m -= m % 3 // a quarter start
		}
		g.anchor = omonthStart(g.zone, m)
	case 7:
		a := specialAnchors[g.pick(len(specialAnchors))]
		g.zone, g.anchor = a.zone, a.at.Unix()
	default:
		g.zone = genPick(g, genZones)
		g.anchor = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + g.r.Int64N(366*86400)
	}
	g.zones = append([]string{g.zone, g.zone, ""}, genZones...)
	return g
}

var genServices = []string{"api", "db", "web", "cdn"} // cdn never has a contract

func (g *scenGen) scenario() *impact.Scenario {
	s := &impact.Scenario{}
	custIDs := []string{"c1", "c2", "c10", "C", "c1a"}
	g.r.Shuffle(len(custIDs), func(i, j int) { custIDs[i], custIDs[j] = custIDs[j], custIDs[i] })
	nc := 1 + g.pick(4)
	for _, id := range custIDs[:nc] {
		s.Customers = append(s.Customers, g.customer(id))
	}
	incIDs := []string{"i1", "i2", "i10", "I", "i1a"}
	g.r.Shuffle(len(incIDs), func(i, j int) { incIDs[i], incIDs[j] = incIDs[j], incIDs[i] })
	ni := 1 + g.pick(4)
	for _, id := range incIDs[:ni] {
		s.Incidents = append(s.Incidents, g.incident(id, s.Customers))
	}
	if g.chance(0.5) {
		s.ReportingCurrency = genPick(g, genCurrencies)
		for _, c := range genCurrencies {
			if c != s.ReportingCurrency {
				s.FXRates = append(s.FXRates, impact.FXRate{From: c, To: s.ReportingCurrency, Rate: g.fxRate()})
			}
		}
		// Rates the report does not need are ignored.
		if g.chance(0.5) {
			s.FXRates = append(s.FXRates, impact.FXRate{From: "USD", To: "GBP", Rate: g.fxRate()})
		}
		g.r.Shuffle(len(s.FXRates), func(i, j int) { s.FXRates[i], s.FXRates[j] = s.FXRates[j], s.FXRates[i] })
	}
	return s
}

func (g *scenGen) fxRate() string {
	if g.chance(0.03) {
		return g.huge()
	}
	for {
		r := g.dec(3, 12)
		if orat(r).Sign() > 0 {
			return r
		}
	}
}

func (g *scenGen) customer(id string) impact.Customer {
	c := impact.Customer{ID: id, DisplayName: "Customer " + id, Currency: genPick(g, genCurrencies), TimeZone: genPick(g, g.zones)}
	zone := c.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	b := &c.Baseline
	if g.chance(0.9) {
		b.HourlyAmount = g.dec(5, 4)
		if g.chance(0.05) {
			b.HourlyAmount = g.huge()
		}
	}
	if g.chance(0.4) {
		for range 168 {
			b.WeeklyProfile = append(b.WeeklyProfile, g.dec(5, 4))
		}
	}
	for range g.pick(3) {
		st := g.when(4 * 3600)
		b.SeasonalFactors = append(b.SeasonalFactors, impact.SeasonalFactor{
			Start: g.inst(st), End: g.inst(st + 1 + g.r.Int64N(6*3600)),
			Multiplier: genPick(g, []string{"1.5", "0.8", "2", "1.123456789012", "0", g.dec(1, 6)}),
		})
	}
	seen := map[int64]bool{}
	for range g.pick(4) {
		h := ohourStart(g.when(4*3600), zone)
		if !seen[h] {
			seen[h] = true
			b.Overrides = append(b.Overrides, impact.HourlyOverride{HourStart: time.Unix(h, 0).UTC(), Amount: g.dec(5, 3)})
		}
	}
	if g.chance(0.6) {
		b.RecaptureRate = genPick(g, []string{"0", "0.25", "1", "0.333333333333", g.unit()})
	}
	if g.chance(0.6) {
		c.LifetimeValue = g.money(c.Currency)
		c.ChurnProbability = genPick(g, []string{"0", "0.05", "1", g.unit()})
	} else if g.chance(0.3) {
		c.LifetimeValue = g.money(c.Currency) // probability unset: exposure 0
	}
	for _, svc := range []string{"api", "db", "web"} {
		if g.chance(0.6) {
			c.Contracts = append(c.Contracts, g.contract(svc, c.Currency))
		}
	}
	return c
}

var genTierBounds = []string{"99.99", "99.95", "99.9", "99.5", "99", "98", "95", "90", "50", "100"}
var genTierPercents = []string{"0", "5", "10", "12.5", "25", "30", "33.333333333333", "50", "100"}

func (g *scenGen) contract(svc, cur string) impact.Contract {
	k := impact.Contract{Service: svc}
	k.BillingPeriod = genPick(g, []impact.BillingPeriod{impact.BillingPeriodUnspecified, impact.Monthly, impact.Quarterly})
	k.TimeZone = genPick(g, g.zones)
	zone := k.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	if g.chance(0.85) {
		k.MonthlyFee = g.money(cur)
	}
	for range g.pick(3) {
		// Exactly at a period start near the anchor (used), or one second
		// off (never used).
		p := operiodAt(zone, k.BillingPeriod == impact.Quarterly, g.when(6*3600))
		at := p.start
		if g.chance(0.25) {
			at++
		}
		dup := false
		for _, pf := range k.PeriodFees {
			dup = dup || pf.PeriodStart.Unix() == at
		}
		if !dup {
			k.PeriodFees = append(k.PeriodFees, impact.PeriodFee{PeriodStart: time.Unix(at, 0).UTC(), Fee: g.money(cur)})
		}
	}
	// Tiers: distinct bounds; a lower bound never grants a lower percent.
	nt := g.pick(5)
	bounds := slices.Clone(genTierBounds)
	g.r.Shuffle(len(bounds), func(i, j int) { bounds[i], bounds[j] = bounds[j], bounds[i] })
	bounds = bounds[:nt]
	slices.SortFunc(bounds, func(a, b string) int { return orat(b).Cmp(orat(a)) }) // descending bound
	pcts := make([]string, nt)
	for i := range pcts {
		pcts[i] = genPick(g, genTierPercents)
	}
	slices.SortFunc(pcts, func(a, b string) int { return orat(a).Cmp(orat(b)) }) // ascending percent
	for i := range bounds {
		k.Tiers = append(k.Tiers, impact.CreditTier{UptimeBelow: bounds[i], CreditPercent: pcts[i], Inclusive: g.chance(0.4)})
	}
	g.r.Shuffle(len(k.Tiers), func(i, j int) { k.Tiers[i], k.Tiers[j] = k.Tiers[j], k.Tiers[i] })
	if g.chance(0.3) {
		k.CreditCapPercent = genPick(g, []string{"10", "25", "50", "100", "0", "12.345"})
	}
	if g.chance(0.3) {
		k.MinCreditAmount = genPick(g, []string{"0", "1", "50", g.money(cur)})
	}
	k.Degradation = genPick(g, []impact.Degradation{impact.DegradationUnspecified, impact.Threshold, impact.Proportional})
	if k.Degradation == impact.Proportional {
		k.Granularity = genPick(g, []impact.Granularity{impact.GranularityUnspecified, impact.Seconds})
	} else {
		k.Granularity = genPick(g, []impact.Granularity{impact.GranularityUnspecified, impact.Seconds, impact.MinutesTouched, impact.MinutesFull})
		if g.chance(0.5) {
			k.DowntimeThreshold = g.unit()
		}
		if g.chance(0.4) {
			k.MinDowntimeSeconds = genPick(g, []int64{0, 1, 30, 60, 120, 300, 600})
		}
	}
	k.ExcludeMaintenance = g.chance(0.5)
	for range g.pick(3) {
		st := g.when(3 * 3600)
		k.MaintenanceWindows = append(k.MaintenanceWindows, impact.TimeWindow{Start: g.inst(st), End: g.inst(st + 1 + g.r.Int64N(2*3600))})
	}
	for _, c := range genCauses {
		if g.chance(0.2) {
			k.ExcludedCauses = append(k.ExcludedCauses, c)
		}
	}
	k.Denominator = genPick(g, []impact.Denominator{impact.DenominatorUnspecified, impact.PeriodDenominator, impact.Deployed})
	if g.chance(0.6) {
		var from, until int64
		if g.chance(0.7) {
			from = g.when(6 * 3600)
			k.ActiveFrom = g.inst(from)
		}
		if g.chance(0.5) {
			until = g.when(6 * 3600)
			if k.ActiveFrom.IsZero() || until > k.ActiveFrom.Unix() {
				k.ActiveUntil = g.inst(until)
			}
		}
	}
	k.Rounding = genPick(g, []impact.Rounding{impact.RoundingUnspecified, impact.HalfEven, impact.HalfUp})
	return k
}

func (g *scenGen) incident(id string, custs []impact.Customer) impact.Incident {
	in := impact.Incident{ID: id, Title: "Incident " + id}
	if g.chance(0.85) {
		in.Cause = genPick(g, append([]impact.Cause{impact.CauseUnspecified}, genCauses...))
	}
	nw := g.pick(6)
	if g.chance(0.05) {
		nw = 0
	}
	affected := map[string]bool{}
	for range nw {
		c := genPick(g, custs)
		affected[c.ID] = true
		st := g.when(3 * 3600)
		w := impact.OutageWindow{CustomerID: c.ID, Service: genPick(g, genServices), Start: g.inst(st), End: g.inst(st + g.windowLen())}
		if g.chance(0.6) {
			w.ImpactFraction = g.unit()
		}
		in.Windows = append(in.Windows, w)
		// Sometimes the same outage from another source, another fraction,
		// or the same customer on a second service at once.
		if g.chance(0.25) {
			w2 := w
			d := g.r.Int64N(600) - 300
			w2.Start, w2.End = g.inst(st+d), g.inst(w.End.Unix()+d+g.r.Int64N(300))
			w2.ImpactFraction = g.unit()
			if g.chance(0.5) {
				w2.Service = genPick(g, genServices)
			}
			if w2.End.Unix() > w2.Start.Unix() {
				in.Windows = append(in.Windows, w2)
			}
		}
	}
	if g.chance(0.7) {
		in.RecoveryCurrency = genPick(g, genCurrencies)
		var ids []string
		for id := range affected {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for range g.pick(5) {
			var it impact.RecoveryItem
			if g.chance(0.5) {
				it.Labor = &impact.LaborItem{Role: "sre", Hours: g.dec(2, 2), HourlyRate: g.dec(3, 4)}
				if g.chance(0.05) {
					it.Labor.HourlyRate = g.huge()
				}
				if g.chance(0.5) {
					it.Labor.Engagement = g.unit()
				}
			} else {
				it.Expense = &impact.ExpenseItem{Description: "spare parts", UnitCost: g.dec(5, 4)}
				if g.chance(0.5) {
					it.Expense.Quantity = g.dec(2, 2)
				}
			}
			if len(ids) > 0 && g.chance(0.35) {
				it.CustomerID = genPick(g, ids)
			}
			if it.CustomerID == "" && len(in.Windows) == 0 {
				continue // shared items need someone to be allocated to
			}
			in.RecoveryItems = append(in.RecoveryItems, it)
		}
	}
	in.Allocation = genPick(g, []impact.Allocation{impact.AllocationUnspecified, impact.Even, impact.ByImpact})
	return in
}

// hitTierBounds adds, to contracts whose statements have an uptime that a
// tier bound can spell exactly, a tier at exactly that uptime, so that the
// strict/inclusive decision is exercised on real ties (model.md §1: 99.9 %
// exactly is not "below 99.9 %").
func (g *scenGen) hitTierBounds(s *impact.Scenario) {
	for _, st := range oracleStatements(s) {
		if !g.chance(0.6) {
			continue
		}
		up := ratQuo(ratMul(ratInt(100), ratSub(ratInt(st.PeriodSeconds), decRat(st.DowntimeSeconds))), ratInt(st.PeriodSeconds))
		if up.Sign() <= 0 {
			continue
		}
		d, ok := genTerminating(up, 12)
		if !ok {
			continue
		}
		for ci := range s.Customers {
			c := &s.Customers[ci]
			if c.ID != st.CustomerID {
				continue
			}
			for ki := range c.Contracts {
				k := &c.Contracts[ki]
				if k.Service != st.Service {
					continue
				}
				lowMin, highMax := orat("100"), orat("0") // percents of tiers below / above the bound
				dup := false
				for _, t := range k.Tiers {
					b := orat(t.UptimeBelow)
					switch b.Cmp(up) {
					case 0:
						dup = true
					case -1:
						if p := orat(t.CreditPercent); p.Cmp(lowMin) < 0 {
							lowMin = p
						}
					case 1:
						if p := orat(t.CreditPercent); p.Cmp(highMax) > 0 {
							highMax = p
						}
					}
				}
				if dup {
					continue
				}
				pct := ratQuo(ratAdd(lowMin, highMax), ratInt(2))
				ps, ok := genTerminating(pct, 12)
				if !ok {
					ps = oexact(highMax).String()
				}
				k.Tiers = append(k.Tiers, impact.CreditTier{UptimeBelow: d, CreditPercent: ps, Inclusive: g.chance(0.5)})
			}
		}
	}
}

// genTerminating spells r as a plain decimal with at most places fractional
// digits, if it can be spelled exactly.
func genTerminating(r *big.Rat, places int) (string, bool) {
	x := ratMul(r, ratInt(genPow10(places)))
	if !x.IsInt() {
		return "", false
	}
	s := impact.FormatDecimal(oexact(r))
	return s, true
}

func decimal0() decimal.Decimal { return decimal.Decimal{} }

// hitMinimumCredit sets, on some contracts with a credit, the minimum
// credit exactly at the computed credit (not owed: "not greater than") or
// one minor unit below it (owed), the boundary of model.md §5 step 10.
func (g *scenGen) hitMinimumCredit(s *impact.Scenario) {
	for _, st := range oracleStatements(s) {
		if st.ComputedCredit.Amount.Sign() <= 0 || !g.chance(0.5) {
			continue
		}
		m := st.ComputedCredit.Amount
		if g.chance(0.5) {
			m = m.Sub(decimal.New(1, -minorOf(st.ComputedCredit.Currency)))
		}
		for ci := range s.Customers {
			for ki := range s.Customers[ci].Contracts {
				k := &s.Customers[ci].Contracts[ki]
				if s.Customers[ci].ID == st.CustomerID && k.Service == st.Service {
					k.MinCreditAmount = impact.FormatDecimal(m)
				}
			}
		}
	}
}

// hitRoundingTies gives some statements with a credit percentage a period
// fee whose credit is exactly half a minor unit past a whole one, so that
// HALF_UP and HALF_EVEN part ways (model.md §1, §9 step 9).
func (g *scenGen) hitRoundingTies(s *impact.Scenario) {
	for _, st := range oracleStatements(s) {
		if st.CreditPercent.Sign() <= 0 || !g.chance(0.7) {
			continue
		}
		e := minorOf(st.Fee.Currency)
		var fee string
		for range 10 {
			// credit = (k + ½)·10^−e  ⇒  fee = credit · 100 / percent; k
			// even, where half-even rounds down and half-up up.
			k := 2 * g.r.Int64N(50000)
			credit := ratQuo(ratInt(2*k+1), ratMul(ratInt(2), ratInt(genPow10(int(e)))))
			f := ratQuo(ratMul(credit, ratInt(100)), decRat(st.CreditPercent))
			if d, ok := genTerminating(f, 12); ok {
				fee = d
				break
			}
		}
		if fee == "" {
			continue
		}
		for ci := range s.Customers {
			for ki := range s.Customers[ci].Contracts {
				k := &s.Customers[ci].Contracts[ki]
				if s.Customers[ci].ID != st.CustomerID || k.Service != st.Service {
					continue
				}
				k.PeriodFees = slices.DeleteFunc(k.PeriodFees, func(pf impact.PeriodFee) bool { return pf.PeriodStart.Unix() == st.PeriodStart.Unix() })
				k.PeriodFees = append(k.PeriodFees, impact.PeriodFee{PeriodStart: st.PeriodStart, Fee: fee})
			}
		}
	}
}

// genScenario is the scenario of one seed.
func genScenario(seed uint64) *impact.Scenario {
	g := newScenGen(seed)
	s := g.scenario()
	g.hitTierBounds(s)
	if g.chance(0.4) {
		g.hitRoundingTies(s)
	}
	if g.chance(0.3) {
		g.hitMinimumCredit(s)
	}
	return s
}

// genDescribe prints a scenario compactly for a failure report.
func genDescribe(s *impact.Scenario) string {
	var b strings.Builder
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	fmt.Fprintf(&b, "reporting=%q fx=%v\n", s.ReportingCurrency, s.FXRates)
	for _, c := range s.Customers {
		bl := c.Baseline
		fmt.Fprintf(&b, "customer %s cur=%s tz=%q hourly=%q profile=%d recapture=%q ltv=%q churn=%q\n",
			c.ID, c.Currency, c.TimeZone, bl.HourlyAmount, len(bl.WeeklyProfile), bl.RecaptureRate, c.LifetimeValue, c.ChurnProbability)
		if len(bl.WeeklyProfile) == 168 {
			fmt.Fprintf(&b, "  profile=%v\n", bl.WeeklyProfile)
		}
		for _, f := range bl.SeasonalFactors {
			fmt.Fprintf(&b, "  seasonal [%s, %s) x%s\n", ts(f.Start), ts(f.End), f.Multiplier)
		}
		for _, o := range bl.Overrides {
			fmt.Fprintf(&b, "  override %s = %s\n", ts(o.HourStart), o.Amount)
		}
		for _, k := range c.Contracts {
			fmt.Fprintf(&b, "  contract %s period=%d tz=%q fee=%q tiers=%v cap=%q min=%q deg=%d thr=%q gran=%d mindown=%d exclMaint=%v excl=%v denom=%d active=[%s,%s) round=%d\n",
				k.Service, k.BillingPeriod, k.TimeZone, k.MonthlyFee, k.Tiers, k.CreditCapPercent, k.MinCreditAmount, k.Degradation,
				k.DowntimeThreshold, k.Granularity, k.MinDowntimeSeconds, k.ExcludeMaintenance, k.ExcludedCauses, k.Denominator,
				ts(k.ActiveFrom), ts(k.ActiveUntil), k.Rounding)
			for _, pf := range k.PeriodFees {
				fmt.Fprintf(&b, "    period_fee %s = %s\n", ts(pf.PeriodStart), pf.Fee)
			}
			for _, m := range k.MaintenanceWindows {
				fmt.Fprintf(&b, "    maintenance [%s, %s)\n", ts(m.Start), ts(m.End))
			}
		}
	}
	for _, in := range s.Incidents {
		fmt.Fprintf(&b, "incident %s cause=%d recovery=%q alloc=%d\n", in.ID, in.Cause, in.RecoveryCurrency, in.Allocation)
		for _, w := range in.Windows {
			fmt.Fprintf(&b, "  window %s/%s [%s, %s) f=%q\n", w.CustomerID, w.Service, ts(w.Start), ts(w.End), w.ImpactFraction)
		}
		for _, it := range in.RecoveryItems {
			if it.Labor != nil {
				fmt.Fprintf(&b, "  labor cust=%q %+v\n", it.CustomerID, *it.Labor)
			} else {
				fmt.Fprintf(&b, "  expense cust=%q %+v\n", it.CustomerID, *it.Expense)
			}
		}
	}
	return b.String()
}

func diffSeeds(t *testing.T) int {
	switch {
	case *diffLong:
		return 5000
	case testing.Short():
		return 60
	}
	return 200
}

// diffCheck runs engine and oracle on s and reports every
// difference. It returns false when they differ.
func diffCheck(t *testing.T, name string, s *impact.Scenario) bool {
	t.Helper()
	ok, _ := diffCheckEst(t, name, s)
	return ok
}

// diffCheckEst is diffCheck that also returns the oracle's estimate.
func diffCheckEst(t *testing.T, name string, s *impact.Scenario) (bool, *impact.Estimate) {
	t.Helper()
	msg, _, want := diffRun(name, s)
	if msg != "" {
		t.Error(msg)
		return false, want
	}
	return true, want
}

// diffRun compares engine and oracle on s; it returns a failure report
// ("" when they agree), the classes of the fields that differ (keys with
// their ids blanked, e.g. "statement[].fee") and the oracle's estimate.
func diffRun(name string, s *impact.Scenario) (string, []string, *impact.Estimate) {
	got, err := impact.EstimateScenario(s, impact.DefaultLimits())
	if err != nil {
		return fmt.Sprintf("%s: engine rejected a valid scenario: %v\n%s", name, err, genDescribe(s)), []string{"engine error"}, nil
	}
	want := oracleEstimate(s)
	if !strings.HasPrefix(got.InputsDigest, "sha256:") || len(got.InputsDigest) != len("sha256:")+64 {
		return fmt.Sprintf("%s: inputs digest %q is not sha256:<64 hex>", name, got.InputsDigest), []string{"digest"}, want
	}
	d, keys := oDiffKeys(got, want, false)
	if d == "" {
		return "", nil, want
	}
	classes := map[string]bool{}
	for _, k := range keys {
		classes[genIDs.ReplaceAllString(k, "[]")] = true
	}
	var cl []string
	for c := range classes {
		cl = append(cl, c)
	}
	slices.Sort(cl)
	return fmt.Sprintf("%s: engine and oracle disagree:\n%s\nscenario:\n%s", name, d, genDescribe(s)), cl, want
}

var genIDs = regexp.MustCompile(`\[[^\]]*\]`)

// genCoverage counts the situations the random scenarios reach, so that a
// generator change that silently stops exercising a rule fails the test.
type genCoverage map[string]int

func (c genCoverage) observe(s *impact.Scenario, e *impact.Estimate) {
	contracts := map[[2]string]*impact.Contract{}
	for i := range s.Customers {
		for j := range s.Customers[i].Contracts {
			k := &s.Customers[i].Contracts[j]
			contracts[[2]string{s.Customers[i].ID, k.Service}] = k
		}
	}
	for _, st := range e.Statements {
		k := contracts[[2]string{st.CustomerID, st.Service}]
		if st.CreditAmount.Amount.Sign() > 0 {
			c["credit owed"]++
		}
		if st.BelowMinimum {
			c["below minimum"]++
			if k.MinCreditAmount != "" && orat(k.MinCreditAmount).Cmp(decRat(st.ComputedCredit.Amount)) == 0 {
				c["computed credit equal to the minimum"]++
			}
		}
		if k.BillingPeriod == impact.Quarterly {
			c["quarterly period"]++
		}
		if st.PeriodSeconds != st.PeriodEnd.Unix()-st.PeriodStart.Unix() {
			c["deployed part of a period"]++
		}
		if n := st.PeriodEnd.Unix() - st.PeriodStart.Unix(); n%86400 != 0 {
			c["period with a DST day"]++
		}
		if st.DowntimeSeconds.Sign() > 0 {
			switch k.Granularity {
			case impact.MinutesTouched:
				c["MINUTES_TOUCHED downtime"]++
			case impact.MinutesFull:
				c["MINUTES_FULL downtime"]++
			}
			if k.Degradation == impact.Proportional {
				c["PROPORTIONAL downtime"]++
			}
		}
		up := ratQuo(ratMul(ratInt(100), ratSub(ratInt(st.PeriodSeconds), decRat(st.DowntimeSeconds))), ratInt(st.PeriodSeconds))
		for _, tr := range k.Tiers {
			if orat(tr.UptimeBelow).Cmp(up) == 0 {
				if tr.Inclusive {
					c["uptime exactly on an inclusive bound"]++
				} else {
					c["uptime exactly on a strict bound"]++
				}
			}
		}
		exact := ratMul(ratQuo(decRat(st.CreditPercent), ratInt(100)), decRat(st.Fee.Amount))
		if k.Rounding == impact.HalfUp && !oround(exact, minorOf(st.Fee.Currency), true).Equal(oround(exact, minorOf(st.Fee.Currency), false)) {
			c["HALF_UP differs from HALF_EVEN"]++
		}
		own := decimal0()
		for _, sh := range st.Incidents {
			own = own.Add(sh.DowntimeSeconds)
		}
		if st.CreditAmount.Amount.Sign() > 0 && own.Sign() == 0 {
			c["attribution fallback"]++
		}
		if len(st.Incidents) > 1 {
			c["several incidents in a statement"]++
			n := 0
			for _, sh := range st.Incidents {
				if sh.Credit.Amount.Sign() > 0 {
					n++
				}
			}
			if n > 1 {
				c["credit split between incidents"]++
			}
		}
	}
	for _, ie := range e.Incidents {
		if ie.ReportingTotals != nil && len(ie.Totals) > 1 {
			c["reporting totals over several currencies"]++
		}
		shares := map[string]bool{}
		for _, ce := range ie.Customers {
			if ce.RecoveryCost != nil {
				shares[ce.RecoveryCost.Amount.String()] = true
			}
			if ce.LostRevenue.Gross.Amount.Sign() > 0 {
				c["lost revenue"]++
			}
		}
		if len(shares) > 1 {
			c["uneven recovery shares"]++
		}
	}
}

func (c genCoverage) require(t *testing.T, min int) {
	t.Helper()
	for _, k := range []string{"credit owed", "below minimum", "computed credit equal to the minimum", "quarterly period", "deployed part of a period",
		"period with a DST day", "MINUTES_TOUCHED downtime", "MINUTES_FULL downtime", "PROPORTIONAL downtime",
		"uptime exactly on an inclusive bound", "uptime exactly on a strict bound", "HALF_UP differs from HALF_EVEN",
		"attribution fallback", "several incidents in a statement", "credit split between incidents",
		"reporting totals over several currencies", "uneven recovery shares", "lost revenue"} {
		if c[k] < min {
			t.Errorf("generator coverage: %q reached %d times, want at least %d", k, c[k], min)
		}
	}
	t.Logf("coverage: %v", map[string]int(c))
}

func TestDifferentialRandomScenarios(t *testing.T) {
	n := diffSeeds(t)
	// Every seed runs; a failure is reported in full the first time its
	// class of differing fields is seen and counted afterwards, so one
	// frequent discrepancy does not hide another.
	cov := genCoverage{}
	seen := map[string][]uint64{}
	var order []string
	for seed := uint64(1); seed <= uint64(n); seed++ {
		s := genScenario(seed)
		msg, classes, want := diffRun(fmt.Sprintf("seed %d", seed), s)
		if want != nil {
			cov.observe(s, want)
		}
		if msg == "" {
			continue
		}
		class := strings.Join(classes, ", ")
		if seen[class] == nil {
			order = append(order, class)
			t.Error(msg)
		}
		seen[class] = append(seen[class], seed)
	}
	for _, c := range order {
		t.Errorf("%d of %d seeds disagree on {%s}; seeds %v", len(seen[c]), n, c, seen[c][:min(len(seen[c]), 20)])
	}
	cov.require(t, 1)
}

// TestDifferentialSingleCustomerShortWindows uses tiny scenarios (one
// customer, one contract, a few windows of seconds to minutes) where a
// disagreement is easy to read and the granularity and min-downtime rules
// dominate.
func TestDifferentialSingleCustomerShortWindows(t *testing.T) {
	n := diffSeeds(t)
	for seed := uint64(1); seed <= uint64(n); seed++ {
		g := newScenGen(seed + 1_000_000)
		c := g.customer("c1")
		c.Contracts = []impact.Contract{g.contract("api", c.Currency)}
		s := &impact.Scenario{Customers: []impact.Customer{c}}
		for i := range 1 + g.pick(3) {
			in := impact.Incident{ID: fmt.Sprintf("i%d", i+1), Cause: genPick(g, genCauses)}
			for range 1 + g.pick(3) {
				st := g.when(900)
				w := impact.OutageWindow{CustomerID: "c1", Service: "api", Start: g.inst(st), End: g.inst(st + 1 + g.r.Int64N(300))}
				if g.chance(0.4) {
					w.ImpactFraction = g.unit()
				}
				in.Windows = append(in.Windows, w)
			}
			s.Incidents = append(s.Incidents, in)
		}
		g.hitTierBounds(s)
		if !diffCheck(t, fmt.Sprintf("short seed %d", seed), s) {
			return
		}
	}
}

// ---------------------------------------------------------------------------
// The oracle checked against figures derived by hand, so that agreement
// with the engine means "both follow model.md", not "both share a slip".

func utcAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func exampleSLAScenario(fee string, tiers []impact.CreditTier, windows ...impact.OutageWindow) *impact.Scenario {
	return &impact.Scenario{
		Customers: []impact.Customer{{ID: "acme", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "0"},
			Contracts: []impact.Contract{{Service: "api", MonthlyFee: fee, Tiers: tiers}}}},
		Incidents: []impact.Incident{{ID: "inc-1", Windows: windows}},
	}
}

func minutesWindow(start string, minutes int) impact.OutageWindow {
	s := utcAt(start)
	return impact.OutageWindow{CustomerID: "acme", Service: "api", Start: s, End: s.Add(time.Duration(minutes) * time.Minute)}
}

// TestDifferentialPublicExamples: the worked examples of model.md, on the
// oracle (published figures) and on the engine (against the oracle).
func TestDifferentialPublicExamples(t *testing.T) {
	aws := []impact.CreditTier{{UptimeBelow: "99.99", CreditPercent: "10"}, {UptimeBelow: "99.0", CreditPercent: "30"}, {UptimeBelow: "95.0", CreditPercent: "100"}}
	inst := []impact.CreditTier{{UptimeBelow: "99.5", CreditPercent: "10"}, {UptimeBelow: "99.0", CreditPercent: "30"}, {UptimeBelow: "95.0", CreditPercent: "100"}}
	cases := []struct {
		name                     string
		s                        *impact.Scenario
		T                        int64
		D, uptime, credit, share string
	}{
		{"AWS-style 31-day month", exampleSLAScenario("12345.67", aws,
			minutesWindow("2025-07-03T10:00:00Z", 47), minutesWindow("2025-07-20T22:15:00Z", 3)),
			2678400, "3000", "99.887993", "1234.57", "1234.57"},
		{"216 minutes is exactly 99.5 %", exampleSLAScenario("730.00", inst, minutesWindow("2025-06-10T00:00:00Z", 216)),
			2592000, "12960", "99.5", "0.00", "0.00"},
		{"217 minutes", exampleSLAScenario("730.00", inst, minutesWindow("2025-06-10T00:00:00Z", 217)),
			2592000, "13020", "99.497685", "73.00", "73.00"},
		{"432 minutes is exactly 99.0 %", exampleSLAScenario("730.00", inst, minutesWindow("2025-06-10T00:00:00Z", 432)),
			2592000, "25920", "99", "73.00", "73.00"},
	}
	for _, c := range cases {
		o := oracleEstimate(c.s)
		if len(o.Statements) != 1 {
			t.Fatalf("%s: oracle made %d statements", c.name, len(o.Statements))
		}
		st := o.Statements[0]
		if st.PeriodSeconds != c.T || odec(st.DowntimeSeconds) != c.D || odec(st.UptimePercent) != c.uptime ||
			st.CreditAmount.String() != c.credit || st.Incidents[0].Credit.String() != c.share {
			t.Errorf("%s: oracle T=%d D=%s uptime=%s credit=%s share=%s; model.md says T=%d D=%s uptime=%s credit=%s",
				c.name, st.PeriodSeconds, odec(st.DowntimeSeconds), odec(st.UptimePercent), st.CreditAmount.String(),
				st.Incidents[0].Credit.String(), c.T, c.D, c.uptime, c.credit)
		}
		diffCheck(t, c.name, c.s)
	}

	// Lost revenue: 2,400 / 2,700 / 2,550 for three consecutive hours at
	// fraction 0.4, recapture 0.25 → 3,060.00 / 2,295.00 / 765.00. Once
	// with overrides, once with a weekly profile (2025-07-14 is a Monday).
	profile := make([]string, 168)
	for i := range profile {
		profile[i] = "999999"
	}
	profile[9], profile[10], profile[11] = "2400", "2700", "2550"
	for _, b := range []impact.Baseline{
		{HourlyAmount: "1", RecaptureRate: "0.25", Overrides: []impact.HourlyOverride{
			{HourStart: utcAt("2025-07-14T09:00:00Z"), Amount: "2400.00"},
			{HourStart: utcAt("2025-07-14T10:00:00Z"), Amount: "2700.00"},
			{HourStart: utcAt("2025-07-14T11:00:00Z"), Amount: "2550.00"}}},
		{WeeklyProfile: profile, RecaptureRate: "0.25"},
	} {
		s := &impact.Scenario{
			Customers: []impact.Customer{{ID: "shop", Currency: "USD", Baseline: b}},
			Incidents: []impact.Incident{{ID: "inc-1", Windows: []impact.OutageWindow{{CustomerID: "shop", Service: "checkout",
				Start: utcAt("2025-07-14T09:00:00Z"), End: utcAt("2025-07-14T12:00:00Z"), ImpactFraction: "0.4"}}}},
		}
		lr := oracleEstimate(s).Incidents[0].Customers[0].LostRevenue
		if lr.Gross.String() != "3060.00" || lr.Net.String() != "2295.00" || lr.Recaptured.String() != "765.00" {
			t.Errorf("oracle lost revenue %s / %s / %s, model.md says 3060.00 / 2295.00 / 765.00", lr.Gross, lr.Net, lr.Recaptured)
		}
		diffCheck(t, "lost revenue example", s)
	}
}

// TestDifferentialOracleTimeRules pins the oracle's local hours, clock
// minutes and period starts at the edges, against values read off the tz
// database by hand.
func TestDifferentialOracleTimeRules(t *testing.T) {
	hours := []struct {
		zone, at, start string
		secs            int64
	}{
		// Lord_Howe falls back 02:00 (+11) → 01:30 (+10:30) at 15:00Z: the
		// second 01:xx hour is 30 minutes long.
		{"Australia/Lord_Howe", "2024-04-06T14:59:59Z", "2024-04-06T14:00:00Z", 3600},
		{"Australia/Lord_Howe", "2024-04-06T15:10:00Z", "2024-04-06T15:00:00Z", 1800},
		{"Australia/Lord_Howe", "2024-04-06T15:30:00Z", "2024-04-06T15:30:00Z", 3600},
		// …and springs forward 02:00 (+10:30) → 02:30 (+11) at 15:30Z.
		{"Australia/Lord_Howe", "2024-10-05T15:29:59Z", "2024-10-05T14:30:00Z", 3600},
		{"Australia/Lord_Howe", "2024-10-05T15:45:00Z", "2024-10-05T15:30:00Z", 1800},
		// New York's repeated 01:xx hour is two hours of 3,600 s.
		{"America/New_York", "2024-11-03T05:30:00Z", "2024-11-03T05:00:00Z", 3600},
		{"America/New_York", "2024-11-03T06:30:00Z", "2024-11-03T06:00:00Z", 3600},
		// Kathmandu hours start at :15 UTC, Kolkata's at :30.
		{"Asia/Kathmandu", "2024-05-01T10:14:59Z", "2024-05-01T09:15:00Z", 3600},
		{"Asia/Kolkata", "2024-05-01T10:29:59Z", "2024-05-01T09:30:00Z", 3600},
	}
	for _, h := range hours {
		r := ounitOf(utcAt(h.at).Unix(), h.zone, 3600)
		if r.start != utcAt(h.start).Unix() || r.end-r.start != h.secs {
			t.Errorf("%s %s: local hour [%s, +%d s), want [%s, +%d s)", h.zone, h.at, otime(time.Unix(r.start, 0)), r.end-r.start, h.start, h.secs)
		}
	}
	// Monrovia went from −0:44:30 to UTC at 1972-01-07T00:45:00Z: its last
	// −0:44:30 clock minute lasts 30 s.
	if r := ounitOf(utcAt("1972-01-07T00:44:45Z").Unix(), "Africa/Monrovia", 60); r.start != utcAt("1972-01-07T00:44:30Z").Unix() || r.end-r.start != 30 {
		t.Errorf("Monrovia cut minute [%d, %d)", r.start, r.end)
	}
	periods := []struct {
		zone  string
		month int64 // year*12 + month-1
		start string
	}{
		{"UTC", 2025*12 + 6, "2025-07-01T00:00:00Z"},
		{"Asia/Kathmandu", 2025*12 + 6, "2025-06-30T18:15:00Z"},
		{"America/New_York", 2024*12 + 10, "2024-11-01T04:00:00Z"},
		// St_Johns fell back at 00:01 NDT on 2009-11-01, so wall 00:00
		// came twice; the period starts at the first.
		{"America/St_Johns", 2009*12 + 10, "2009-11-01T02:30:00Z"},
		// Asuncion skipped 00:00–01:00 on 2017-10-01: the first instant
		// reading ≥ 00:00 is the transition.
		{"America/Asuncion", 2017*12 + 9, "2017-10-01T04:00:00Z"},
		// Lord_Howe moved +10:00 → +10:30 at midnight of 1981-03-01.
		{"Australia/Lord_Howe", 1981*12 + 2, "1981-02-28T14:00:00Z"},
	}
	for _, p := range periods {
		if got := omonthStart(p.zone, p.month); got != utcAt(p.start).Unix() {
			t.Errorf("%s month %d: period starts %s, want %s", p.zone, p.month, otime(time.Unix(got, 0)), p.start)
		}
	}
	// An instant of the repeated 23:xx hour after St_Johns' fall-back
	// belongs to November although its wall clock reads October 31.
	if p := operiodAt("America/St_Johns", false, utcAt("2009-11-01T02:45:00Z").Unix()); p.start != utcAt("2009-11-01T02:30:00Z").Unix() {
		t.Errorf("St_Johns repeated hour in period starting %s", otime(time.Unix(p.start, 0)))
	}
}

// TestDifferentialStatementFeeRounding is the smallest scenario showing the
// statement fee rounding: the fee 100.005 USD of a HALF_UP contract is a
// money figure of that contract (model.md §1: rounded "with the rounding
// mode of the contract that produces it"; §9 lists the only figures that
// always round HALF_EVEN, and the fee is not one of them), so it shows as
// 100.01.
func TestDifferentialStatementFeeRounding(t *testing.T) {
	s := exampleSLAScenario("100.005", []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}, minutesWindow("2025-06-10T00:00:00Z", 60))
	s.Customers[0].Contracts[0].Rounding = impact.HalfUp
	st := oracleEstimate(s).Statements[0]
	if st.Fee.String() != "100.01" || st.ComputedCredit.String() != "10.00" {
		t.Fatalf("oracle fee %s computed %s, want 100.01 and 10.00 (10 %% of 100.005 = 10.0005)", st.Fee, st.ComputedCredit)
	}
	diffCheck(t, "HALF_UP fee 100.005", s)
}

// TestDifferentialNineteenDigitInputs: model.md §1 accepts up to 30 integer
// digits, so 9999999999999999999 (19 digits, above MaxInt64) is a valid fee,
// minimum credit, rate or FX rate and must keep its value.
func TestDifferentialNineteenDigitInputs(t *testing.T) {
	const big19 = "9999999999999999999"
	if d, err := impact.ParseDecimal(big19); err != nil || d.String() != big19 {
		t.Errorf("ParseDecimal(%s) = %s, %v", big19, d.String(), err)
	}
	if d, err := impact.ParseDecimal("9223372036854775808"); err != nil || d.String() != "9223372036854775808" {
		t.Errorf("ParseDecimal(MaxInt64+1) = %s, %v", d.String(), err)
	}
	// A fee of 9,999,999,999,999,999,999 USD with a 100 % tier.
	s := exampleSLAScenario(big19, []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "100"}}, minutesWindow("2025-06-10T00:00:00Z", 60))
	if st := oracleEstimate(s).Statements[0]; st.ComputedCredit.String() != big19+".00" {
		t.Fatalf("oracle credit %s", st.ComputedCredit)
	}
	diffCheck(t, "19-digit monthly fee", s)
	// As a minimum credit: a 10 USD credit is below it.
	s = exampleSLAScenario("100", []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}, minutesWindow("2025-06-10T00:00:00Z", 60))
	s.Customers[0].Contracts[0].MinCreditAmount = big19
	diffCheck(t, "19-digit minimum credit", s)
	// As an FX rate (valid: > 0) and an hourly amount.
	s = exampleSLAScenario("100", nil, minutesWindow("2025-06-10T00:00:00Z", 60))
	s.Customers[0].Baseline.HourlyAmount = big19
	s.ReportingCurrency = "EUR"
	s.FXRates = []impact.FXRate{{From: "USD", To: "EUR", Rate: big19}}
	diffCheck(t, "19-digit hourly amount and FX rate", s)
}

// TestDifferentialSubMinuteOffsetMinute: Africa/Monrovia left −0:44:30 for
// UTC at 1972-01-07T00:45:00Z, so its clock minute 00:00 (−0:44:30) lasted
// 30 s, [00:44:30Z, 00:45:00Z). doc.go counts "60 s for every clock minute
// entirely inside" the downtime under MINUTES_FULL; a window covering that
// whole minute therefore counts 60 s, as the same minute does under
// MINUTES_TOUCHED. (doc.go no longer spells out cut minutes, so this reading
// is flagged in the test report.)
func TestDifferentialSubMinuteOffsetMinute(t *testing.T) {
	for _, g := range []impact.Granularity{impact.MinutesTouched, impact.MinutesFull} {
		s := exampleSLAScenario("100", nil, impact.OutageWindow{CustomerID: "acme", Service: "api",
			Start: utcAt("1972-01-07T00:44:30Z"), End: utcAt("1972-01-07T00:45:00Z")})
		k := &s.Customers[0].Contracts[0]
		k.TimeZone, k.Granularity = "Africa/Monrovia", g
		if d := oracleEstimate(s).Statements[0].DowntimeSeconds; d.String() != "60" {
			t.Fatalf("oracle D=%s, want 60", d)
		}
		diffCheck(t, fmt.Sprintf("Monrovia cut minute, granularity %d", g), s)
	}
}

// TestDifferentialEdgeCases: hand-built scenarios at the edges of the SLA
// rules, with figures derived by hand for the oracle and compared in full
// with the engine.
func TestDifferentialEdgeCases(t *testing.T) {
	w := func(inc, start, end, f string) (string, impact.OutageWindow) {
		return inc, impact.OutageWindow{CustomerID: "acme", Service: "api", Start: utcAt(start), End: utcAt(end), ImpactFraction: f}
	}
	build := func(k impact.Contract, ws ...func() (string, impact.OutageWindow)) *impact.Scenario {
		k.Service = "api"
		s := &impact.Scenario{Customers: []impact.Customer{{ID: "acme", Currency: "USD", Contracts: []impact.Contract{k}}}}
		idx := map[string]int{}
		for _, f := range ws {
			id, win := f()
			if _, ok := idx[id]; !ok {
				idx[id] = len(s.Incidents)
				s.Incidents = append(s.Incidents, impact.Incident{ID: id})
			}
			s.Incidents[idx[id]].Windows = append(s.Incidents[idx[id]].Windows, win)
		}
		return s
	}
	W := func(inc, start, end, f string) func() (string, impact.OutageWindow) {
		return func() (string, impact.OutageWindow) { return w(inc, start, end, f) }
	}
	tier := func(b, p string, incl bool) []impact.CreditTier {
		return []impact.CreditTier{{UptimeBelow: b, CreditPercent: p, Inclusive: incl}}
	}
	type stmtWant struct {
		start  string
		T      int64
		D      string
		credit string
		shares string // "id=amount ..." in id order
	}
	cases := []struct {
		name string
		s    *impact.Scenario
		want []stmtWant
	}{
		{"DEPLOYED range of 30 s inside one minute, MINUTES_TOUCHED: D capped at T",
			build(impact.Contract{MonthlyFee: "1000", Tiers: tier("50", "100", false), Granularity: impact.MinutesTouched, Denominator: impact.Deployed,
				ActiveFrom: utcAt("2025-06-10T00:00:10Z"), ActiveUntil: utcAt("2025-06-10T00:00:40Z")},
				W("i1", "2025-06-10T00:00:00Z", "2025-06-10T01:00:00Z", "")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 30, "30", "1000.00", "i1=1000.00"}}},
		{"DEPLOYED range of 30 s inside one minute, MINUTES_FULL: no whole minute",
			build(impact.Contract{MonthlyFee: "1000", Tiers: tier("50", "100", false), Granularity: impact.MinutesFull, Denominator: impact.Deployed,
				ActiveFrom: utcAt("2025-06-10T00:00:10Z"), ActiveUntil: utcAt("2025-06-10T00:00:40Z")},
				W("i1", "2025-06-10T00:00:00Z", "2025-06-10T01:00:00Z", "")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 30, "0", "0.00", "i1=0.00"}}},
		{"a 10-minute outage across a month end passes min_downtime 600 as a whole; each month counts its part",
			build(impact.Contract{MonthlyFee: "1000", Tiers: tier("100", "10", false), MinDowntimeSeconds: 600},
				W("i1", "2025-06-30T23:55:00Z", "2025-07-01T00:05:00Z", "")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 2592000, "300", "100.00", "i1=100.00"}, {"2025-07-01T00:00:00Z", 2678400, "300", "100.00", "i1=100.00"}}},
		{"two incidents pass min_downtime only together: credit by overlap 420:300",
			build(impact.Contract{MonthlyFee: "1000", Tiers: tier("100", "10", false), MinDowntimeSeconds: 450},
				W("i1", "2025-06-10T00:00:00Z", "2025-06-10T00:07:00Z", ""), W("i2", "2025-06-10T00:07:00Z", "2025-06-10T00:12:00Z", "")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 2592000, "720", "100.00", "i1=58.33 i2=41.67"}}},
		{"overlapping incidents: own downtimes 600 and 300 share 20.00 as 13.33/6.67",
			build(impact.Contract{MonthlyFee: "200", Tiers: tier("100", "10", false)},
				W("i1", "2025-06-10T00:00:00Z", "2025-06-10T00:10:00Z", ""), W("i2", "2025-06-10T00:05:00Z", "2025-06-10T00:10:00Z", "")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 2592000, "600", "20.00", "i1=13.33 i2=6.67"}}},
		{"below the threshold nothing is down; an excluded cause counts nothing",
			build(impact.Contract{MonthlyFee: "200", Tiers: tier("100", "10", false), DowntimeThreshold: "0.5", ExcludedCauses: []impact.Cause{impact.UnknownCause}},
				W("i1", "2025-06-10T00:00:00Z", "2025-06-10T00:10:00Z", "0.4")),
			[]stmtWant{{"2025-06-01T00:00:00Z", 2592000, "0", "0.00", "i1=0.00"}}},
		{"St_Johns: the repeated hour after the 2009-11-01 fall-back is November",
			build(impact.Contract{MonthlyFee: "100", TimeZone: "America/St_Johns"},
				W("i1", "2009-11-01T02:20:00Z", "2009-11-01T02:40:00Z", "")),
			[]stmtWant{{"2009-10-01T02:30:00Z", 2678400, "600", "0.00", "i1=0.00"}, {"2009-11-01T02:30:00Z", 2595600, "600", "0.00", "i1=0.00"}}},
		{"Kathmandu quarter starts 18:15Z",
			build(impact.Contract{MonthlyFee: "100", TimeZone: "Asia/Kathmandu", BillingPeriod: impact.Quarterly},
				W("i1", "2024-09-30T18:00:00Z", "2024-09-30T18:30:00Z", "")),
			[]stmtWant{{"2024-06-30T18:15:00Z", 92 * 86400, "900", "0.00", "i1=0.00"}, {"2024-09-30T18:15:00Z", 92 * 86400, "900", "0.00", "i1=0.00"}}},
	}
	for _, c := range cases {
		o := oracleEstimate(c.s)
		var got []stmtWant
		for _, st := range o.Statements {
			var sh []string
			for _, x := range st.Incidents {
				sh = append(sh, x.IncidentID+"="+x.Credit.String())
			}
			got = append(got, stmtWant{otime(st.PeriodStart), st.PeriodSeconds, odec(st.DowntimeSeconds), st.CreditAmount.String(), strings.Join(sh, " ")})
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: oracle statements\n  %+v\nwant\n  %+v", c.name, got, c.want)
		}
		diffCheck(t, c.name, c.s)
	}
}

// TestDifferentialLongWindows: windows of days to months, too long for the
// per-second oracle, checked in closed form. One window [a, b) at fraction
// 1 on a flat rate: every period it overlaps has T = its length (DST
// included, from the oracle's period starts), D = the overlap for SECONDS,
// the touched or whole clock minutes of the overlap for MINUTES_* (zones
// with whole-minute offsets, so clock minutes are UTC minutes), and the
// lost revenue is rate × (b − a) / 3600.
func TestDifferentialLongWindows(t *testing.T) {
	n := 30
	if *diffLong {
		n = 300
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		zone := genZones[r.IntN(len(genZones))]
		a := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + r.Int64N(3*365*86400)
		b := a + 1 + r.Int64N(200*86400)
		gran := []impact.Granularity{impact.Seconds, impact.MinutesTouched, impact.MinutesFull}[r.IntN(3)]
		quarterly := r.IntN(2) == 0
		k := impact.Contract{Service: "api", TimeZone: zone, Granularity: gran, MonthlyFee: "100"}
		if quarterly {
			k.BillingPeriod = impact.Quarterly
		}
		rate := fmt.Sprintf("%d.%02d", r.IntN(100000), r.IntN(100))
		s := &impact.Scenario{
			Customers: []impact.Customer{{ID: "acme", Currency: "USD", TimeZone: zone, Baseline: impact.Baseline{HourlyAmount: rate},
				Contracts: []impact.Contract{k}}},
			Incidents: []impact.Incident{{ID: "i1", Windows: []impact.OutageWindow{{CustomerID: "acme", Service: "api",
				Start: time.Unix(a, 0).UTC(), End: time.Unix(b, 0).UTC()}}}},
		}
		e, err := impact.EstimateScenario(s, impact.DefaultLimits())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		name := fmt.Sprintf("long window seed %d: %s [%s, %s) gran=%d quarterly=%v", seed, zone, otime(time.Unix(a, 0)), otime(time.Unix(b, 0)), gran, quarterly)
		gross := oround(ratQuo(ratMul(orat(rate), ratInt(b-a)), ratInt(3600)), 2, false)
		if ce := e.Incidents[0].Customers[0]; !ce.LostRevenue.Gross.Amount.Equal(gross) || ce.ImpactSeconds.String() != fmt.Sprint(b-a) {
			t.Errorf("%s: gross %s impact %s, want %s and %d", name, ce.LostRevenue.Gross.Amount, ce.ImpactSeconds, gross, b-a)
		}
		var want []string
		for p := operiodAt(zone, quarterly, a); p.start < b; p = operiodAt(zone, quarterly, p.end) {
			lo, hi := max(a, p.start), min(b, p.end)
			var d int64
			switch gran {
			case impact.Seconds:
				d = hi - lo
			case impact.MinutesTouched:
				d = 60 * (ofloorDiv(hi+59, 60) - ofloorDiv(lo, 60))
				d = min(d, p.end-p.start)
			case impact.MinutesFull:
				d = 60 * max(0, ofloorDiv(hi, 60)-ofloorDiv(lo+59, 60))
			}
			want = append(want, fmt.Sprintf("%s-%s T=%d D=%d", otime(time.Unix(p.start, 0)), otime(time.Unix(p.end, 0)), p.end-p.start, d))
		}
		var got []string
		for _, st := range e.Statements {
			got = append(got, fmt.Sprintf("%s-%s T=%d D=%s", otime(st.PeriodStart), otime(st.PeriodEnd), st.PeriodSeconds, st.DowntimeSeconds))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n  engine %v\n  want   %v", name, got, want)
		}
	}
}
