package impact_test

// Seeded property tests of the engine alone, on the scenarios of the
// differential generator: invariants that hold whatever the figures are
// (sums add up, bounds hold, order and window splitting do not matter), so
// they catch errors the oracle might share with the engine.

import (
	"encoding/json"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

func propSeeds() int {
	switch {
	case *diffLong:
		return 3000
	case testing.Short():
		return 40
	}
	return 100
}

func propEstimate(t *testing.T, seed uint64, s *impact.Scenario) *impact.Estimate {
	t.Helper()
	e, err := impact.EstimateScenario(s, impact.DefaultLimits())
	if err != nil {
		t.Fatalf("seed %d: engine rejected a valid scenario: %v\n%s", seed, err, genDescribe(s))
	}
	return e
}

// propJSON serializes an estimate; decimal.Decimal marshals as a string.
func propJSON(t *testing.T, e *impact.Estimate) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// cloneScenario deep-copies s, so that a test can mutate the copy (and
// check that the engine did not mutate its input).
func cloneScenario(s *impact.Scenario) *impact.Scenario {
	c := *s
	c.FXRates = slices.Clone(s.FXRates)
	c.Customers = slices.Clone(s.Customers)
	for i := range c.Customers {
		cu := &c.Customers[i]
		cu.Baseline.WeeklyProfile = slices.Clone(cu.Baseline.WeeklyProfile)
		cu.Baseline.SeasonalFactors = slices.Clone(cu.Baseline.SeasonalFactors)
		cu.Baseline.Overrides = slices.Clone(cu.Baseline.Overrides)
		cu.Contracts = slices.Clone(cu.Contracts)
		for j := range cu.Contracts {
			k := &cu.Contracts[j]
			k.PeriodFees = slices.Clone(k.PeriodFees)
			k.Tiers = slices.Clone(k.Tiers)
			k.MaintenanceWindows = slices.Clone(k.MaintenanceWindows)
			k.ExcludedCauses = slices.Clone(k.ExcludedCauses)
		}
	}
	c.Incidents = slices.Clone(s.Incidents)
	for i := range c.Incidents {
		in := &c.Incidents[i]
		in.Windows = slices.Clone(in.Windows)
		in.RecoveryItems = slices.Clone(in.RecoveryItems)
		for j := range in.RecoveryItems {
			it := &in.RecoveryItems[j]
			if it.Labor != nil {
				l := *it.Labor
				it.Labor = &l
			}
			if it.Expense != nil {
				x := *it.Expense
				it.Expense = &x
			}
		}
	}
	return &c
}

func shuffle[T any](r *rand.Rand, xs []T) {
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

// TestPropertyPermutationInvariance: the order of customers, incidents,
// windows, contracts, tiers, overrides, seasonal factors, maintenance
// windows, period fees, excluded causes, recovery items and FX rates is
// not an input (model.md §8, doc.go): the output is byte-identical, digest
// included. Running twice gives the same bytes, and the input is untouched.
func TestPropertyPermutationInvariance(t *testing.T) {
	for seed := uint64(1); seed <= uint64(propSeeds()); seed++ {
		s := genScenario(seed)
		orig := cloneScenario(s)
		base := propJSON(t, propEstimate(t, seed, s))
		if !reflect.DeepEqual(s, orig) {
			t.Fatalf("seed %d: EstimateScenario modified its input", seed)
		}
		if again := propJSON(t, propEstimate(t, seed, s)); string(again) != string(base) {
			t.Fatalf("seed %d: two runs on the same input differ", seed)
		}
		r := rand.New(rand.NewPCG(seed, 42))
		p := cloneScenario(s)
		shuffle(r, p.Customers)
		shuffle(r, p.Incidents)
		shuffle(r, p.FXRates)
		for i := range p.Customers {
			c := &p.Customers[i]
			shuffle(r, c.Contracts)
			shuffle(r, c.Baseline.SeasonalFactors)
			shuffle(r, c.Baseline.Overrides)
			for j := range c.Contracts {
				k := &c.Contracts[j]
				shuffle(r, k.Tiers)
				shuffle(r, k.PeriodFees)
				shuffle(r, k.MaintenanceWindows)
				shuffle(r, k.ExcludedCauses)
			}
		}
		for i := range p.Incidents {
			shuffle(r, p.Incidents[i].Windows)
			shuffle(r, p.Incidents[i].RecoveryItems)
		}
		got := propEstimate(t, seed, p)
		if b := propJSON(t, got); string(b) != string(base) {
			var want impact.Estimate
			if err := json.Unmarshal(base, &want); err != nil {
				t.Fatal(err)
			}
			t.Errorf("seed %d: permuting the input lists changed the output:\n%s", seed, oDiff(got, &want, true))
		}
	}
}

// TestPropertyWindowSplit: cutting a window in two at any second changes no
// figure — the timeline is the same (max fraction, merged intervals over
// the whole timeline, min_downtime judged on the merged interval).
func TestPropertyWindowSplit(t *testing.T) {
	for seed := uint64(1); seed <= uint64(propSeeds()); seed++ {
		s := genScenario(seed)
		base := propEstimate(t, seed, s)
		r := rand.New(rand.NewPCG(seed, 7))
		p := cloneScenario(s)
		var cands [][2]int
		for i, in := range p.Incidents {
			for j, w := range in.Windows {
				if w.End.Unix()-w.Start.Unix() >= 2 {
					cands = append(cands, [2]int{i, j})
				}
			}
		}
		if len(cands) == 0 {
			continue
		}
		// Split up to three windows, each at a random interior second.
		for range 1 + r.IntN(3) {
			c := cands[r.IntN(len(cands))]
			in := &p.Incidents[c[0]]
			w := in.Windows[c[1]]
			a, b := w.Start.Unix(), w.End.Unix()
			if b-a < 2 {
				continue
			}
			cut := time.Unix(a+1+r.Int64N(b-a-1), 0).UTC()
			first, second := w, w
			first.End, second.Start = cut, cut
			in.Windows[c[1]] = first
			in.Windows = append(in.Windows, second)
		}
		got := propEstimate(t, seed, p)
		if d := oDiff(got, base, false); d != "" {
			t.Errorf("seed %d: splitting windows changed figures:\n%s\nscenario before the split:\n%s", seed, d, genDescribe(s))
		}
	}
}

// TestPropertyExcludedCauseWindow: a window of an incident whose cause the
// contract excludes changes no credit (model.md §5 step 1): every existing
// statement keeps its figures and its incidents' shares; the new incident
// appears with no downtime and no credit; a statement it alone creates owes
// nothing. Contracts with an inclusive tier at 100 are skipped: there
// uptime 100 % itself is credited, and the statement a lone excluded window
// creates legitimately carries a credit.
func TestPropertyExcludedCauseWindow(t *testing.T) {
	tested := 0
	for seed := uint64(1); seed <= uint64(propSeeds()); seed++ {
		s := genScenario(seed)
		r := rand.New(rand.NewPCG(seed, 11))
		// Pick a contract and make sure it excludes NATURAL_DISASTER.
		type ref struct{ c, k int }
		var refs []ref
		for i, c := range s.Customers {
			for j, k := range c.Contracts {
				if !slices.ContainsFunc(k.Tiers, func(t impact.CreditTier) bool { return t.Inclusive && orat(t.UptimeBelow).Cmp(ratInt(100)) == 0 }) {
					refs = append(refs, ref{i, j})
				}
			}
		}
		if len(refs) == 0 {
			continue
		}
		rf := refs[r.IntN(len(refs))]
		k := &s.Customers[rf.c].Contracts[rf.k]
		if !slices.Contains(k.ExcludedCauses, impact.NaturalDisaster) {
			k.ExcludedCauses = append(k.ExcludedCauses, impact.NaturalDisaster)
		}
		cust, svc := s.Customers[rf.c].ID, k.Service
		base := propEstimate(t, seed, s)

		p := cloneScenario(s)
		in := impact.Incident{ID: "zz-excluded", Cause: impact.NaturalDisaster}
		// Windows over the existing ones of that contract (or anywhere near).
		var spots []impact.OutageWindow
		for _, inc := range s.Incidents {
			for _, w := range inc.Windows {
				if w.CustomerID == cust && w.Service == svc {
					spots = append(spots, w)
				}
			}
		}
		for range 1 + r.IntN(3) {
			var a int64
			if len(spots) > 0 {
				w := spots[r.IntN(len(spots))]
				a = w.Start.Unix() + r.Int64N(1200) - 600
			} else {
				a = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC).Unix() + r.Int64N(86400)
			}
			in.Windows = append(in.Windows, impact.OutageWindow{CustomerID: cust, Service: svc,
				Start: time.Unix(a, 0).UTC(), End: time.Unix(a+1+r.Int64N(7200), 0).UTC()})
		}
		p.Incidents = append(p.Incidents, in)
		got := propEstimate(t, seed, p)
		tested++

		baseStmt := map[string]impact.SLAStatement{}
		for _, st := range base.Statements {
			baseStmt[st.CustomerID+"/"+st.Service+"/"+otime(st.PeriodStart)] = st
		}
		for _, st := range got.Statements {
			key := st.CustomerID + "/" + st.Service + "/" + otime(st.PeriodStart)
			var rest []impact.IncidentShare
			for _, sh := range st.Incidents {
				if sh.IncidentID == in.ID {
					if sh.DowntimeSeconds.Sign() != 0 || sh.Credit.Amount.Sign() != 0 {
						t.Errorf("seed %d: statement %s: excluded incident has downtime %s and credit %s", seed, key, sh.DowntimeSeconds, omoney(sh.Credit))
					}
					continue
				}
				rest = append(rest, sh)
			}
			b, ok := baseStmt[key]
			if !ok {
				if st.CreditAmount.Amount.Sign() != 0 || st.DowntimeSeconds.Sign() != 0 {
					t.Errorf("seed %d: statement %s created by an excluded window has downtime %s, credit %s", seed, key, st.DowntimeSeconds, omoney(st.CreditAmount))
				}
				continue
			}
			st.Incidents = rest
			if d := oDiff(&impact.Estimate{Statements: []impact.SLAStatement{st}}, &impact.Estimate{Statements: []impact.SLAStatement{b}}, false); d != "" {
				t.Errorf("seed %d: an excluded-cause window changed statement %s:\n%s\nscenario:\n%s", seed, key, d, genDescribe(p))
			}
		}
		// Existing incidents keep every figure.
		gotInc := map[string]impact.IncidentEstimate{}
		for _, ie := range got.Incidents {
			gotInc[ie.IncidentID] = ie
		}
		for _, ie := range base.Incidents {
			if d := oDiff(&impact.Estimate{Incidents: []impact.IncidentEstimate{gotInc[ie.IncidentID]}}, &impact.Estimate{Incidents: []impact.IncidentEstimate{ie}}, false); d != "" {
				t.Errorf("seed %d: an excluded-cause window changed incident %s:\n%s", seed, ie.IncidentID, d)
			}
		}
	}
	if tested < propSeeds()/2 {
		t.Errorf("only %d of %d seeds had a contract to test", tested, propSeeds())
	}
}

// TestPropertyInvariants checks, per seed, the bounds and sums that every
// estimate must satisfy whatever its figures.
func TestPropertyInvariants(t *testing.T) {
	for seed := uint64(1); seed <= uint64(propSeeds()); seed++ {
		s := genScenario(seed)
		e := propEstimate(t, seed, s)
		errs := propCheck(s, e)
		if len(errs) > 0 {
			if len(errs) > 20 {
				errs = append(errs[:20], fmt.Sprintf("... %d more", len(errs)-20))
			}
			t.Errorf("seed %d:\n  %s\nscenario:\n%s", seed, strings.Join(errs, "\n  "), genDescribe(s))
		}
	}
}

func propCheck(s *impact.Scenario, e *impact.Estimate) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	custs := map[string]*impact.Customer{}
	contracts := map[[2]string]*impact.Contract{}
	for i := range s.Customers {
		c := &s.Customers[i]
		custs[c.ID] = c
		for j := range c.Contracts {
			contracts[[2]string{c.ID, c.Contracts[j].Service}] = &c.Contracts[j]
		}
	}
	incs := map[string]*impact.Incident{}
	for i := range s.Incidents {
		incs[s.Incidents[i].ID] = &s.Incidents[i]
	}
	inMinor := func(m impact.Money, cur, what string) {
		if m.Currency != cur {
			fail("%s: currency %s, want %s", what, m.Currency, cur)
			return
		}
		if m.Amount.Exponent() < -minorOf(cur) && !m.Amount.Equal(m.Amount.Round(minorOf(cur))) {
			fail("%s: %s is not in minor units of %s", what, m.Amount, cur)
		}
		if m.Amount.Sign() < 0 {
			fail("%s: negative amount %s", what, m.Amount)
		}
	}
	hundred := decimal.NewFromInt(100)

	// Statements.
	type attr struct{ inc, cust, svc string }
	credits := map[attr]map[int64]decimal.Decimal{}
	for _, st := range e.Statements {
		key := st.CustomerID + "/" + st.Service + "/" + otime(st.PeriodStart)
		k := contracts[[2]string{st.CustomerID, st.Service}]
		c := custs[st.CustomerID]
		if k == nil || c == nil {
			fail("statement %s: no such contract", key)
			continue
		}
		T := decimal.NewFromInt(st.PeriodSeconds)
		if st.PeriodSeconds <= 0 || st.PeriodSeconds > st.PeriodEnd.Unix()-st.PeriodStart.Unix() {
			fail("statement %s: period_seconds %d outside (0, %d]", key, st.PeriodSeconds, st.PeriodEnd.Unix()-st.PeriodStart.Unix())
		}
		if k.Denominator != impact.Deployed && st.PeriodSeconds != st.PeriodEnd.Unix()-st.PeriodStart.Unix() {
			fail("statement %s: PERIOD denominator %d is not the period length", key, st.PeriodSeconds)
		}
		if st.DowntimeSeconds.Sign() < 0 || st.DowntimeSeconds.GreaterThan(T) {
			fail("statement %s: downtime %s outside [0, T=%s]", key, st.DowntimeSeconds, T)
		}
		if st.UptimePercent.Sign() < 0 || st.UptimePercent.GreaterThan(hundred) {
			fail("statement %s: uptime %s outside [0, 100]", key, st.UptimePercent)
		}
		capPct := orat("100")
		if k.CreditCapPercent != "" {
			capPct = orat(k.CreditCapPercent)
		}
		if decRat(st.CreditPercent).Cmp(capPct) > 0 || st.CreditPercent.Sign() < 0 {
			fail("statement %s: credit percent %s outside [0, cap %s]", key, st.CreditPercent, capPct.RatString())
		}
		// The exact fee of the period, from the inputs.
		fee := oratOr(k.MonthlyFee, "0")
		if k.BillingPeriod == impact.Quarterly {
			fee = ratMul(fee, ratInt(3))
		}
		for _, pf := range k.PeriodFees {
			if pf.PeriodStart.Unix() == st.PeriodStart.Unix() {
				fee = orat(pf.Fee)
			}
		}
		// credit ≤ cap × fee, up to the half unit one rounding may add.
		half := ratQuo(ratInt(1), ratMul(ratInt(2), ratInt(genPow10(int(minorOf(c.Currency))))))
		if decRat(st.ComputedCredit.Amount).Cmp(ratAdd(ratMul(ratQuo(capPct, ratInt(100)), fee), half)) > 0 {
			fail("statement %s: computed credit %s exceeds cap %s%% of fee %s", key, st.ComputedCredit.Amount, capPct.RatString(), fee.RatString())
		}
		inMinor(st.Fee, c.Currency, key+" fee")
		inMinor(st.ComputedCredit, c.Currency, key+" computed_credit")
		inMinor(st.CreditAmount, c.Currency, key+" credit_amount")
		switch {
		case st.BelowMinimum:
			if st.CreditAmount.Amount.Sign() != 0 || st.ComputedCredit.Amount.Sign() <= 0 || decRat(st.ComputedCredit.Amount).Cmp(oratOr(k.MinCreditAmount, "0")) > 0 {
				fail("statement %s: below_minimum with computed %s, owed %s, minimum %q", key, st.ComputedCredit.Amount, st.CreditAmount.Amount, k.MinCreditAmount)
			}
		case !st.CreditAmount.Amount.Equal(st.ComputedCredit.Amount):
			fail("statement %s: credit_amount %s differs from computed_credit %s without below_minimum", key, st.CreditAmount.Amount, st.ComputedCredit.Amount)
		}
		if len(st.Incidents) == 0 {
			fail("statement %s: no incidents", key)
		}
		sum := decimal.Zero
		for i, sh := range st.Incidents {
			if i > 0 && st.Incidents[i-1].IncidentID >= sh.IncidentID {
				fail("statement %s: incidents not sorted by id", key)
			}
			if incs[sh.IncidentID] == nil {
				fail("statement %s: unknown incident %s", key, sh.IncidentID)
			}
			inMinor(sh.Credit, c.Currency, key+" share of "+sh.IncidentID)
			if sh.DowntimeSeconds.Sign() < 0 || sh.DowntimeSeconds.GreaterThan(T) {
				fail("statement %s: incident %s downtime %s outside [0, T]", key, sh.IncidentID, sh.DowntimeSeconds)
			}
			sum = sum.Add(sh.Credit.Amount)
			a := attr{sh.IncidentID, st.CustomerID, st.Service}
			if credits[a] == nil {
				credits[a] = map[int64]decimal.Decimal{}
			}
			credits[a][st.PeriodStart.Unix()] = sh.Credit.Amount
		}
		if !sum.Equal(st.CreditAmount.Amount) {
			fail("statement %s: attributions add up to %s, credit_amount is %s", key, sum, st.CreditAmount.Amount)
		}
	}

	// Incidents.
	for _, ie := range e.Incidents {
		in := incs[ie.IncidentID]
		if in == nil {
			fail("unknown incident %s", ie.IncidentID)
			continue
		}
		winSecs := map[string]int64{}
		for _, w := range in.Windows {
			winSecs[w.CustomerID] += w.End.Unix() - w.Start.Unix()
		}
		if len(ie.Customers) != len(winSecs) {
			fail("incident %s: %d customers, %d affected", ie.IncidentID, len(ie.Customers), len(winSecs))
		}
		sums := map[string]*impact.CurrencyTotals{}
		tot := func(cur string) *impact.CurrencyTotals {
			if sums[cur] == nil {
				sums[cur] = &impact.CurrencyTotals{Currency: cur}
			}
			return sums[cur]
		}
		if in.RecoveryCurrency != "" {
			tot(in.RecoveryCurrency)
		}
		recovery := decimal.Zero
		for i, ce := range ie.Customers {
			p := "incident " + ie.IncidentID + " customer " + ce.CustomerID
			if i > 0 && ie.Customers[i-1].CustomerID >= ce.CustomerID {
				fail("incident %s: customers not sorted by id", ie.IncidentID)
			}
			c := custs[ce.CustomerID]
			if c == nil {
				fail("%s: unknown customer", p)
				continue
			}
			if ce.ImpactSeconds.Sign() <= 0 || ce.ImpactSeconds.GreaterThan(decimal.NewFromInt(winSecs[ce.CustomerID])) {
				fail("%s: impact seconds %s outside (0, %d]", p, ce.ImpactSeconds, winSecs[ce.CustomerID])
			}
			lr := ce.LostRevenue
			inMinor(lr.Gross, c.Currency, p+" gross")
			inMinor(lr.Net, c.Currency, p+" net")
			inMinor(lr.Recaptured, c.Currency, p+" recaptured")
			inMinor(ce.ChurnExposure, c.Currency, p+" churn")
			if !lr.Gross.Amount.Equal(lr.Net.Amount.Add(lr.Recaptured.Amount)) {
				fail("%s: gross %s ≠ net %s + recaptured %s", p, lr.Gross.Amount, lr.Net.Amount, lr.Recaptured.Amount)
			}
			if lr.Net.Amount.GreaterThan(lr.Gross.Amount) {
				fail("%s: net %s above gross %s", p, lr.Net.Amount, lr.Gross.Amount)
			}
			if (ce.RecoveryCost == nil) != (in.RecoveryCurrency == "") {
				fail("%s: recovery cost %v with recovery currency %q", p, ce.RecoveryCost, in.RecoveryCurrency)
			}
			t := tot(c.Currency)
			t.LostRevenueGross = t.LostRevenueGross.Add(lr.Gross.Amount)
			t.LostRevenueNet = t.LostRevenueNet.Add(lr.Net.Amount)
			t.ChurnExposure = t.ChurnExposure.Add(ce.ChurnExposure.Amount)
			if ce.RecoveryCost != nil {
				inMinor(*ce.RecoveryCost, in.RecoveryCurrency, p+" recovery")
				r := tot(in.RecoveryCurrency)
				r.RecoveryCost = r.RecoveryCost.Add(ce.RecoveryCost.Amount)
				recovery = recovery.Add(ce.RecoveryCost.Amount)
			}
			// Its attributed credits are exactly its shares in statements.
			n := 0
			for j, a := range ce.SLACredits {
				if j > 0 {
					prev := ce.SLACredits[j-1]
					if prev.Service > a.Service || (prev.Service == a.Service && !prev.PeriodStart.Before(a.PeriodStart)) {
						fail("%s: sla credits not sorted by service and period", p)
					}
				}
				inMinor(a.Credit, c.Currency, p+" sla credit")
				want, ok := credits[attr{ie.IncidentID, ce.CustomerID, a.Service}][a.PeriodStart.Unix()]
				if !ok || !want.Equal(a.Credit.Amount) {
					fail("%s: credit %s@%s = %s, statement share %s (found %v)", p, a.Service, otime(a.PeriodStart), a.Credit.Amount, want, ok)
				}
				t.SLACredits = t.SLACredits.Add(a.Credit.Amount)
				n++
			}
			m := 0
			for key := range credits {
				if key.inc == ie.IncidentID && key.cust == ce.CustomerID {
					m += len(credits[key])
				}
			}
			if n != m {
				fail("%s: %d attributed credits, %d statement shares", p, n, m)
			}
		}
		// Recovery: the customers' costs add up to the shared items rounded
		// once plus each customer's own items rounded once (model.md §9).
		if rc := in.RecoveryCurrency; rc != "" && len(ie.Customers) > 0 {
			shared := new(big.Rat)
			own := map[string]*big.Rat{}
			for _, it := range in.RecoveryItems {
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
			want := oround(shared, minorOf(rc), false)
			for _, o := range own {
				want = want.Add(oround(o, minorOf(rc), false))
			}
			if !want.Equal(recovery) {
				fail("incident %s: recovery costs add up to %s, items give %s", ie.IncidentID, recovery, want)
			}
		}
		// Totals: one per currency, sorted, sums of the per-customer figures.
		var curs []string
		for c := range sums {
			curs = append(curs, c)
		}
		slices.Sort(curs)
		if len(ie.Totals) != len(curs) {
			fail("incident %s: totals for %d currencies, want %v", ie.IncidentID, len(ie.Totals), curs)
		} else {
			for i, tt := range ie.Totals {
				w := sums[curs[i]]
				if tt.Currency != w.Currency || !tt.LostRevenueGross.Equal(w.LostRevenueGross) || !tt.LostRevenueNet.Equal(w.LostRevenueNet) ||
					!tt.RecoveryCost.Equal(w.RecoveryCost) || !tt.SLACredits.Equal(w.SLACredits) || !tt.ChurnExposure.Equal(w.ChurnExposure) {
					fail("incident %s: totals %+v, sums of customers %+v", ie.IncidentID, tt, *w)
				}
			}
		}
		if (ie.ReportingTotals != nil) != (s.ReportingCurrency != "") {
			fail("incident %s: reporting totals %v with reporting currency %q", ie.IncidentID, ie.ReportingTotals, s.ReportingCurrency)
		}
	}
	for i := 1; i < len(e.Incidents); i++ {
		if e.Incidents[i-1].IncidentID >= e.Incidents[i].IncidentID {
			fail("incidents not sorted by id")
		}
	}
	for i := 1; i < len(e.Statements); i++ {
		a, b := e.Statements[i-1], e.Statements[i]
		if a.CustomerID > b.CustomerID || (a.CustomerID == b.CustomerID && (a.Service > b.Service || (a.Service == b.Service && !a.PeriodStart.Before(b.PeriodStart)))) {
			fail("statements not sorted by customer, service, period")
		}
	}
	if len(e.Incidents) != len(s.Incidents) {
		fail("%d incident estimates for %d incidents", len(e.Incidents), len(s.Incidents))
	}
	return errs
}
