package estimating

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// TestLeanDecodesStoredGolden: the paged view decodes the estimate bodies
// each engine stores (the store's golden files), whole and streamed, to
// the figures they hold. A change of the store's document format fails
// here as well as in the store.
func TestLeanDecodesStoredGolden(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b, err := os.ReadFile(filepath.Join("..", "store", "testdata", "bodies."+engine+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		var body []byte
		for i := 0; i+1 < len(lines); i++ {
			if lines[i] == "incident_estimates.body i1" {
				body = []byte(lines[i+1])
			}
		}
		if body == nil {
			t.Fatalf("%s: no estimate body in the golden file", engine)
		}
		whole, err := decodeDocument(&impact.StoredEstimate{}, body)
		if err != nil {
			t.Fatal(err)
		}
		streamed, total, err := streamPage(&impact.StoredEstimate{}, body, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if total != 2 {
			t.Fatalf("%s: %d customers streamed, want 2", engine, total)
		}
		for name, de := range map[string]*decodedEstimate{"whole": whole, "streamed": streamed} {
			c := de.customers
			if len(c) != 2 || c[0].CustomerID != "c1" || c[0].ImpactSeconds != "1800.5" ||
				c[0].LostRevenue.Gross != (LeanMoney{"USD", "1500.25"}) || c[0].LostRevenue.Net != (LeanMoney{"USD", "1200.2"}) ||
				c[0].LostRevenue.Recaptured != (LeanMoney{"USD", "300.05"}) ||
				c[0].RecoveryCost == nil || *c[0].RecoveryCost != (LeanMoney{"EUR", "75.5"}) ||
				len(c[0].SLACredits) != 2 || c[0].SLACredits[1].Service != "db" || c[0].SLACredits[1].Credit != (LeanMoney{"USD", "0.01"}) ||
				c[0].SLACredits[0].PeriodStart.Format("2006-01-02") != "2025-07-01" ||
				c[0].ChurnExposure != (LeanMoney{"USD", "12345678901234567890.12"}) ||
				c[1].CustomerID != "c2" || c[1].RecoveryCost != nil || c[1].ChurnExposure != (LeanMoney{"JPY", "7"}) {
				t.Errorf("%s %s: customers %+v", engine, name, c)
			}
			m := de.meta
			if name == "streamed" {
				continue // its totals are in the meta passed in
			}
			if len(m.Totals) != 2 || m.Totals[1].Currency != "USD" || m.Totals[1].SLACredits.String() != "100.01" ||
				m.Totals[1].LostRevenueNet.String() != "1200.2" || m.Totals[0].ChurnExposure.String() != "7" ||
				m.ReportingTotals == nil || m.ReportingTotals.Currency != "EUR" || m.ReportingTotals.RecoveryCost.String() != "75.5" ||
				m.ReportingTotals.ChurnExposure.String() != "11358024589135802458.91" {
				t.Errorf("%s %s: totals %+v reporting %+v", engine, name, m.Totals, m.ReportingTotals)
			}
		}
	}
}
