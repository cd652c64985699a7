package impact_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

func simulateOne(t *testing.T, custs []impact.Customer, stored []impact.Incident, sim *impact.Simulation) [][]impact.SimulatedCustomer {
	t.Helper()
	if err := sim.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := impact.SimulateChunk(custs, stored, sim, impact.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// model.md §11's example: 3.60 an hour, recapture 0.5. 1,010 s: gross =
// 3.60 × 1010 / 3600 = 1.01, net = 0.505 → 0.50 (half-even), recaptured
// 0.51; 1,011 s: gross = 1.011 → 1.01, net = 0.5055 → 0.51, recaptured
// 0.50. Gross and net never fall; recaptured may.
func TestSimulateRecapturedMayFall(t *testing.T) {
	c := impact.Customer{ID: "c", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "3.60", RecaptureRate: "0.5"},
		Contracts: []impact.Contract{contract("api", "100", nil)}}
	sim := &impact.Simulation{Start: ts("2025-07-01T10:00:00Z"), Durations: []time.Duration{1010 * time.Second, 1011 * time.Second}}
	got := simulateOne(t, []impact.Customer{c}, nil, sim)
	var lines []string
	for _, r := range got {
		lr := r[0].LostRevenue
		lines = append(lines, ms(lr.Gross)+" / "+ms(lr.Net)+" / "+ms(lr.Recaptured))
	}
	want := []string{"USD 1.01 / USD 0.50 / USD 0.51", "USD 1.01 / USD 0.51 / USD 0.50"}
	if !slices.Equal(lines, want) {
		t.Fatalf("got %v, want %v", lines, want)
	}
}

// Worked marginal credits. June 2025 (T = 2,592,000 s), tiers < 99.9 → 10 %
// and < 99.0 → 30 %, fee 1,000.00: 99.9 % needs more than 2,592 s down,
// 99.0 % more than 25,920 s.
//
//   - "fresh": no stored downtime; 1 h (3,600 s) reaches 10 %: 0 → 100.00.
//   - "tiered": 2,600 s stored (already 10 % = 100.00); 1 h more is 6,200 s,
//     still 10 %: marginal 0.
//   - "cliff": 25,000 s stored (10 %); 1 h more is 28,600 s > 25,920: 30 % =
//     300.00, marginal 200.00.
//   - "capped": as cliff with a 10 % cap: 100.00 either way, marginal 0.
//   - "minimum": fresh with min_credit 100.00: 10 % = 100.00 is not above
//     it, so 0 → 0.
//   - "excluded": the contract excludes POWER_FAILURE: marginal 0.
func TestSimulateMarginalWorked(t *testing.T) {
	tiersAWS := tiers("99.9:10", "99.0:30")
	mk := func(id string, mod func(k *impact.Contract)) impact.Customer {
		k := contract("api", "1000.00", tiersAWS)
		if mod != nil {
			mod(&k)
		}
		return impact.Customer{ID: id, Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "36"}, Contracts: []impact.Contract{k}}
	}
	custs := []impact.Customer{
		mk("capped", func(k *impact.Contract) { k.CreditCapPercent = "10" }),
		mk("cliff", nil),
		mk("excluded", func(k *impact.Contract) { k.ExcludedCauses = []impact.Cause{impact.PowerFailure} }),
		mk("fresh", nil),
		mk("minimum", func(k *impact.Contract) { k.MinCreditAmount = "100.00" }),
		mk("tiered", nil),
	}
	stored := []impact.Incident{inc("old",
		winD("tiered", "api", "2025-06-02T00:00:00Z", 2600),
		winD("cliff", "api", "2025-06-02T00:00:00Z", 25000),
		winD("capped", "api", "2025-06-02T00:00:00Z", 25000),
	)}
	sim := &impact.Simulation{Start: ts("2025-06-20T00:00:00Z"), Durations: []time.Duration{time.Hour}, Cause: impact.PowerFailure}
	got := simulateOne(t, custs, stored, sim)[0]
	want := map[string]string{
		"capped":   "EUR 100.00 → EUR 100.00 = EUR 0.00",
		"cliff":    "EUR 100.00 → EUR 300.00 = EUR 200.00",
		"excluded": "EUR 0.00 → EUR 0.00 = EUR 0.00",
		"fresh":    "EUR 0.00 → EUR 100.00 = EUR 100.00",
		"minimum":  "EUR 0.00 → EUR 0.00 = EUR 0.00",
		"tiered":   "EUR 100.00 → EUR 100.00 = EUR 0.00",
	}
	if len(got) != len(want) {
		t.Fatalf("%d customers", len(got))
	}
	for _, c := range got {
		if len(c.MarginalCredits) != 1 {
			t.Fatalf("%s: %d marginal credits", c.CustomerID, len(c.MarginalCredits))
		}
		m := c.MarginalCredits[0]
		s := ms(m.Before) + " → " + ms(m.After) + " = " + ms(m.Marginal)
		if s != want[c.CustomerID] || m.Period != "2025-06" || !m.Marginal.Amount.Equal(c.MarginalCredit.Amount) {
			t.Errorf("%s: %s (%s), want %s", c.CustomerID, s, m.Period, want[c.CustomerID])
		}
		// 36 an hour for one hour, whatever the credit.
		if ms(c.LostRevenue.Gross) != "EUR 36.00" {
			t.Errorf("%s: gross %s", c.CustomerID, ms(c.LostRevenue.Gross))
		}
	}
}

// TestSimulateChunkEqualsEstimate: on random books, SimulateChunk equals
// EstimateScenario of the same book with the hypothetical incident added,
// figure for figure, and its marginal credits are the differences of the
// statements with and without it.
func TestSimulateChunkEqualsEstimate(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	zones := []string{"", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"}
	grans := []impact.Granularity{impact.Seconds, impact.MinutesTouched, impact.MinutesFull}
	for iter := range 40 {
		var custs []impact.Customer
		var storedWins []impact.OutageWindow
		for i := range 1 + rng.IntN(6) {
			c := impact.Customer{ID: fmt.Sprintf("c%d", i), Currency: []string{"USD", "JPY", "KWD"}[rng.IntN(3)],
				TimeZone: zones[rng.IntN(len(zones))], Baseline: impact.Baseline{HourlyAmount: fmt.Sprintf("%d.%d", rng.IntN(900), rng.IntN(10)),
					RecaptureRate: []string{"", "0.3"}[rng.IntN(2)]}, LifetimeValue: "1000", ChurnProbability: "0.05"}
			for j := range 1 + rng.IntN(3) {
				k := contract(fmt.Sprintf("s%d", j), fmt.Sprint(100+rng.IntN(9000)), tiers("99.99:5", "<=99.9:10", "99:40"))
				k.TimeZone = zones[rng.IntN(len(zones))]
				k.Granularity = grans[rng.IntN(3)]
				if rng.IntN(3) == 0 {
					k.BillingPeriod = impact.Quarterly
				}
				if rng.IntN(3) == 0 {
					k.MinDowntimeSeconds = int64(rng.IntN(1200))
				}
				if rng.IntN(4) == 0 {
					k.CreditCapPercent, k.MinCreditAmount = "25", "10"
				}
				if rng.IntN(4) == 0 {
					k.Denominator, k.ActiveFrom = impact.Deployed, ts("2025-07-20T00:00:00Z")
				}
				c.Contracts = append(c.Contracts, k)
				if rng.IntN(2) == 0 {
					s := ts("2025-07-25T00:00:00Z").Add(time.Duration(rng.IntN(12*86400)) * time.Second)
					storedWins = append(storedWins, impact.OutageWindow{CustomerID: c.ID, Service: k.Service, Start: s,
						End: s.Add(time.Duration(1+rng.IntN(20000)) * time.Second)})
				}
			}
			custs = append(custs, c)
		}
		var stored []impact.Incident
		if len(storedWins) > 0 {
			stored = []impact.Incident{{ID: "stored", Cause: impact.HardwareFailure, Windows: storedWins}}
		}
		sim := &impact.Simulation{Start: ts("2025-07-31T20:00:00Z").Add(time.Duration(rng.IntN(14400)) * time.Second),
			Durations:      []time.Duration{time.Duration(1+rng.IntN(7200)) * time.Second, time.Duration(7200+rng.IntN(86400)) * time.Second},
			ImpactFraction: []string{"", "0.5"}[rng.IntN(2)]}
		got := simulateOne(t, custs, stored, sim)
		before := estimate(t, &impact.Scenario{Customers: custs, Incidents: stored})
		for di, d := range sim.Durations {
			hyp := impact.Incident{ID: "hyp", Cause: impact.UnknownCause}
			for _, c := range custs {
				for _, k := range c.Contracts {
					hyp.Windows = append(hyp.Windows, impact.OutageWindow{CustomerID: c.ID, Service: k.Service, Start: sim.Start, End: sim.Start.Add(d), ImpactFraction: sim.ImpactFraction})
				}
			}
			after := estimate(t, &impact.Scenario{Customers: custs, Incidents: append(slices.Clone(stored), hyp)})
			ie := findInc(after, "hyp")
			if len(ie.Customers) != len(got[di]) {
				t.Fatalf("iter %d: %d customers, want %d", iter, len(got[di]), len(ie.Customers))
			}
			for i, ce := range ie.Customers {
				sc := got[di][i]
				if sc.CustomerID != ce.CustomerID || ms(sc.LostRevenue.Gross) != ms(ce.LostRevenue.Gross) || ms(sc.LostRevenue.Net) != ms(ce.LostRevenue.Net) ||
					ms(sc.LostRevenue.Recaptured) != ms(ce.LostRevenue.Recaptured) || ms(sc.ChurnExposure) != ms(ce.ChurnExposure) {
					t.Fatalf("iter %d %v: %+v vs %+v", iter, d, sc, ce)
				}
				for _, m := range sc.MarginalCredits {
					a := findStmt(after, sc.CustomerID, m.Service, utc(m.PeriodStart))
					b := findStmt(before, sc.CustomerID, m.Service, utc(m.PeriodStart))
					bAmt := "0"
					if b != nil {
						bAmt = impact.FormatDecimal(b.CreditAmount.Amount)
					}
					if a == nil || ms(a.CreditAmount) != ms(m.After) || impact.FormatDecimal(m.Before.Amount) != bAmt ||
						!m.Marginal.Amount.Equal(m.After.Amount.Sub(m.Before.Amount)) {
						t.Fatalf("iter %d %v %s/%s %s: %+v; after %v before %v", iter, d, sc.CustomerID, m.Service, utc(m.PeriodStart), m, a, b)
					}
				}
				// Every statement the outage touches is listed.
				n := 0
				for _, st := range after.Statements {
					if st.CustomerID == sc.CustomerID && st.PeriodStart.Before(sim.Start.Add(d)) && st.PeriodEnd.After(sim.Start) {
						n++
					}
				}
				if n > len(sc.MarginalCredits) {
					t.Fatalf("iter %d: %s lists %d of %d touched statements", iter, sc.CustomerID, len(sc.MarginalCredits), n)
				}
			}
		}
	}
}

// The accumulator: totals are sums of the rounded per-customer figures,
// reporting totals Σ total × rate rounded once, the top the best N by
// reporting marginal credit, then net, then id — the same as sorting all.
func TestSimulationAccumulator(t *testing.T) {
	sim := &impact.Simulation{Start: ts("2025-07-01T00:00:00Z"), Durations: []time.Duration{time.Hour}, TopN: 3,
		ReportingCurrency: "USD", FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}
	if err := sim.Validate(); err != nil {
		t.Fatal(err)
	}
	money := func(cur, s string) impact.Money {
		return impact.Money{Currency: cur, Amount: decimal.RequireFromString(s)}
	}
	cust := func(id, cur, credit, net string) impact.SimulatedCustomer {
		return impact.SimulatedCustomer{CustomerID: id, Contracts: 1,
			LostRevenue:    impact.LostRevenue{Gross: money(cur, net), Net: money(cur, net), Recaptured: money(cur, "0")},
			ChurnExposure:  money(cur, "1.005"),
			MarginalCredit: money(cur, credit)}
	}
	a := impact.NewSimulationAccumulator(sim)
	// In USD: a 100, b 110 (EUR 100 × 1.1), c 100 with more net than a, d
	// 100 with a's net but a later id, e 0.
	if err := a.Add(0, []impact.SimulatedCustomer{cust("d", "USD", "100", "5"), cust("a", "USD", "100", "5")}); err != nil {
		t.Fatal(err)
	}
	if err := a.Add(0, []impact.SimulatedCustomer{cust("b", "EUR", "100", "1"), cust("c", "USD", "100", "9"), cust("e", "USD", "0", "50")}); err != nil {
		t.Fatal(err)
	}
	rs, err := a.Results()
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	var top []string
	for _, c := range r.Top {
		top = append(top, c.CustomerID)
	}
	if !slices.Equal(top, []string{"b", "c", "a"}) || r.SelectedContracts != 5 || r.SelectedCustomers != 5 {
		t.Fatalf("top %v, %d contracts", top, r.SelectedContracts)
	}
	// USD marginal 300, EUR 100 → reporting 300 + 110 = 410.00; churn
	// 4 × 1.005 + 1.005 × 1.1 = 4.02 + 1.1055 = 5.1255 → 5.13 (half-even).
	if len(r.Totals) != 2 || r.Totals[1].MarginalCredit.String() != "300" || r.ReportingTotals.MarginalCredit.StringFixed(2) != "410.00" ||
		r.ReportingTotals.ChurnExposure.StringFixed(2) != "5.13" {
		t.Fatalf("totals %+v reporting %+v", r.Totals, r.ReportingTotals)
	}
	// A currency without a rate is refused.
	b := impact.NewSimulationAccumulator(sim)
	if err := b.Add(0, []impact.SimulatedCustomer{cust("j", "JPY", "1", "1")}); impact.ErrorCode(err) != impact.EINVALID {
		t.Fatalf("JPY without a rate: %v", err)
	}
}
