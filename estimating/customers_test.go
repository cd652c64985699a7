package estimating

import (
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// TestSortCustomers: amounts compare exactly across the fast integer keys
// and decimal keys, and in the reporting currency. With EUR→USD 1.1:
// a USD 100.00 (100.00), b EUR 95.00 (104.50), c USD 1e12 (beyond the
// integer keys), d USD -0.01, e EUR 90.91 (100.001, just above a).
func TestSortCustomers(t *testing.T) {
	e := &impact.StoredEstimate{ReportingCurrency: "USD", FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}
	net := func(id, cur, amt string) LeanCustomer {
		var c LeanCustomer
		c.CustomerID = id
		c.LostRevenue.Net = LeanMoney{cur, amt}
		c.ImpactSeconds = amt
		return c
	}
	cs := []LeanCustomer{net("a", "USD", "100.00"), net("b", "EUR", "95.00"), net("c", "USD", "1000000000000.00"),
		net("d", "USD", "-0.01"), net("e", "EUR", "90.91")}
	ids := func(o []int32) string {
		var out []string
		for _, i := range o {
			out = append(out, cs[i].CustomerID)
		}
		return strings.Join(out, ",")
	}
	if got := ids(sortCustomers(e, cs, "lost_revenue_net", true)); got != "c,b,e,a,d" {
		t.Errorf("net desc: %s", got)
	}
	if got := ids(sortCustomers(e, cs, "lost_revenue_net", false)); got != "d,a,e,b,c" {
		t.Errorf("net asc: %s", got)
	}
	// No recovery currency: those customers sort last, by id.
	if got := ids(sortCustomers(e, cs, "recovery_cost", true)); got != "a,b,c,d,e" {
		t.Errorf("recovery: %s", got)
	}
	for _, tc := range []struct {
		in   string
		n    int64
		fast bool
	}{{"100.00", 10000000000, true}, {"-0.01", -1000000, true}, {"1000000000000.00", 0, false}, {"1.123456789", 0, false}, {"7", 700000000, true}} {
		k, ok := plainKey(tc.in)
		if ok != tc.fast || (ok && k.n != tc.n) {
			t.Errorf("plainKey(%s) = %d %v", tc.in, k.n, ok)
		}
	}
}
