package impact

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func money(cur, amt string) Money { return Money{Currency: cur, Amount: dec(amt)} }

func TestAddDifferences(t *testing.T) {
	a := []FigureDifferences{
		{Currency: "USD", LostRevenueGross: dec("10.50"), SLACredits: dec("-3")},
		{Currency: "EUR", RecoveryCost: dec("1.25")},
	}
	b := []FigureDifferences{
		{Currency: "USD", LostRevenueGross: dec("-10.5"), SLACredits: dec("3.00")}, // cancels USD out
		{Currency: "JPY", ChurnExposure: dec("700")},
		{Currency: "EUR", RecoveryCost: dec("0.000000000001")},
	}
	got := AddDifferences(a, b)
	if len(got) != 2 || got[0].Currency != "EUR" || got[1].Currency != "JPY" {
		t.Fatalf("got %+v; want EUR and JPY only, sorted (USD sums to zero)", got)
	}
	if got[0].RecoveryCost.String() != "1.250000000001" || got[1].ChurnExposure.String() != "700" {
		t.Errorf("sums: %v %v", got[0].RecoveryCost, got[1].ChurnExposure)
	}
	if a[0].LostRevenueGross.String() != "10.5" || len(a) != 2 {
		t.Error("AddDifferences modified its input")
	}
	if d := AddDifferences(nil, nil); len(d) != 0 {
		t.Errorf("nil + nil = %v", d)
	}
}

func storedWith(cs ...CustomerEstimate) *StoredEstimate {
	e := &StoredEstimate{ModelVersion: ModelVersion, InputsDigest: "sha256:aa"}
	e.Customers = cs
	totals := map[string]*CurrencyTotals{}
	var order []string
	for _, c := range cs {
		t := totals[c.LostRevenue.Gross.Currency]
		if t == nil {
			t = &CurrencyTotals{Currency: c.LostRevenue.Gross.Currency}
			totals[t.Currency] = t
			order = append(order, t.Currency)
		}
		t.LostRevenueGross = t.LostRevenueGross.Add(c.LostRevenue.Gross.Amount)
		t.LostRevenueNet = t.LostRevenueNet.Add(c.LostRevenue.Net.Amount)
		for _, k := range c.SLACredits {
			t.SLACredits = t.SLACredits.Add(k.Credit.Amount)
		}
	}
	for _, c := range order {
		e.Totals = append(e.Totals, *totals[c])
	}
	return e
}

func cust(id, cur, gross, net string, credits ...string) CustomerEstimate {
	c := CustomerEstimate{CustomerID: id, ImpactSeconds: dec("5400"),
		LostRevenue:   LostRevenue{Gross: money(cur, gross), Net: money(cur, net), Recaptured: money(cur, dec(gross).Sub(dec(net)).String())},
		ChurnExposure: money(cur, "0")}
	for _, k := range credits {
		c.SLACredits = append(c.SLACredits, AttributedCredit{Service: "api", PeriodStart: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Credit: money(cur, k)})
	}
	return c
}

func TestCompareEstimates(t *testing.T) {
	old := storedWith(cust("a", "EUR", "180.00", "135.00", "12.00"), cust("b", "USD", "50.00", "50.00"))
	for _, tc := range []struct {
		name      string
		prev      *StoredEstimate
		next      *StoredEstimate
		changed   bool
		customers int64
		diffs     string
	}{
		{"same figures, other spelling", old, storedWith(cust("a", "EUR", "180", "135.0", "12"), cust("b", "USD", "50", "50")), false, 0, ""},
		// a's rate went from 120 to 200 an hour over 1.5 h: gross +120.00,
		// net (25 % recaptured) +90.00.
		{"one customer moved", old, storedWith(cust("a", "EUR", "300.00", "225.00", "12.00"), cust("b", "USD", "50.00", "50.00")), true, 1, "EUR +120 +90 0"},
		{"a credit moved", old, storedWith(cust("a", "EUR", "180.00", "135.00", "30.00"), cust("b", "USD", "50.00", "50.00")), true, 1, "EUR 0 0 +18"},
		{"a customer removed", old, storedWith(cust("a", "EUR", "180.00", "135.00", "12.00")), true, 1, "USD -50 -50 0"},
		{"a customer added", old, storedWith(cust("a", "EUR", "180.00", "135.00", "12.00"), cust("b", "USD", "50.00", "50.00"), cust("c", "USD", "1.00", "1.00")), true, 1, "USD +1 +1 0"},
		{"first estimate", nil, old, true, 2, "EUR +180 +135 +12; USD +50 +50 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := CompareEstimates(tc.prev, tc.next)
			var parts []string
			for _, x := range d.Differences {
				sg := func(v decimal.Decimal) string {
					if v.IsPositive() {
						return "+" + v.String()
					}
					return v.String()
				}
				parts = append(parts, strings.Join([]string{x.Currency, sg(x.LostRevenueGross), sg(x.LostRevenueNet), sg(x.SLACredits)}, " "))
			}
			if d.Changed != tc.changed || d.CustomersChanged != tc.customers || strings.Join(parts, "; ") != tc.diffs {
				t.Errorf("got changed=%v customers=%d diffs=%q; want %v %d %q", d.Changed, d.CustomersChanged, strings.Join(parts, "; "), tc.changed, tc.customers, tc.diffs)
			}
		})
	}
	// A new model version is a change even with the same figures.
	next := storedWith(cust("a", "EUR", "180.00", "135.00", "12.00"), cust("b", "USD", "50.00", "50.00"))
	next.ModelVersion = "impact-model/2"
	if d := CompareEstimates(old, next); !d.Changed || d.CustomersChanged != 0 || len(d.Differences) != 0 {
		t.Errorf("model version change: %+v", d)
	}
}

func TestSameComputation(t *testing.T) {
	a := &StoredEstimate{ModelVersion: ModelVersion, InputsDigest: "sha256:aa"}
	for _, tc := range []struct {
		prev *StoredEstimate
		want bool
	}{
		{&StoredEstimate{ModelVersion: ModelVersion, InputsDigest: "sha256:aa"}, true},
		{&StoredEstimate{ModelVersion: ModelVersion, InputsDigest: "sha256:bb"}, false},
		{&StoredEstimate{ModelVersion: "impact-model/0", InputsDigest: "sha256:aa"}, false},
		{&StoredEstimate{ModelVersion: ModelVersion}, false},
		{nil, false},
	} {
		if got := SameComputation(tc.prev, a); got != tc.want {
			t.Errorf("SameComputation(%+v) = %v", tc.prev, got)
		}
	}
	if SameComputation(&StoredEstimate{ModelVersion: ModelVersion}, &StoredEstimate{ModelVersion: ModelVersion}) {
		t.Error("two empty digests are not the same inputs")
	}
}

func TestRecomputeFilterValidate(t *testing.T) {
	t0 := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	long := strings.Repeat("x", 257)
	many := make([]string, 1001)
	for i := range many {
		many[i] = "c" + strings.Repeat("1", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	for _, tc := range []struct {
		f    RecomputeFilter
		want string // field paths of the violations, or "" when valid
	}{
		{RecomputeFilter{}, ""},
		{RecomputeFilter{Since: t0, Until: t0.Add(time.Second), CustomerIDs: []string{"a", "b"}, IncidentIDs: []string{"i"}}, ""},
		{RecomputeFilter{Since: t0}, ""},
		{RecomputeFilter{Since: t0, Until: t0}, "filter.until"},
		{RecomputeFilter{CustomerIDs: []string{"a", "", "a/b", long, "a"}}, "filter.customer_ids[1] filter.customer_ids[2] filter.customer_ids[3] filter.customer_ids[4]"},
		{RecomputeFilter{IncidentIDs: many}, "filter.incident_ids"},
	} {
		err := tc.f.Validate()
		var got []string
		if e, ok := err.(*Error); ok {
			for _, v := range e.Violations {
				got = append(got, v.Field)
			}
		} else if err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("violations %q, want %q", got, tc.want)
		}
	}
	if !(&RecomputeFilter{}).Empty() || (&RecomputeFilter{IncidentIDs: []string{"i"}}).Empty() {
		t.Error("Empty")
	}
}
