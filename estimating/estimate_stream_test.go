package estimating

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

// TestStreamPage: every page streamed out of a document as the store
// encodes it equals the same page of the whole decoded document, with ids
// that look like the markers the stream looks for.
func TestStreamPage(t *testing.T) {
	usd := func(c int64) impact.Money { return impact.Money{Currency: "USD", Amount: decimal.New(c, -2)} }
	ids := []string{`a`, `b"{"CustomerID":"x`, `c],"Totals":[`, `d\`, `e`, `f,{`, `g`}
	e := impact.IncidentEstimate{IncidentID: `i"Customers":[`}
	for i, id := range ids {
		rc := usd(int64(i))
		e.Customers = append(e.Customers, impact.CustomerEstimate{CustomerID: id, ImpactSeconds: decimal.NewFromInt(int64(i)),
			LostRevenue:  impact.LostRevenue{Gross: usd(int64(100 * i)), Net: usd(int64(50 * i)), Recaptured: usd(int64(50 * i))},
			RecoveryCost: &rc, ChurnExposure: usd(7)})
	}
	e.Totals = []impact.CurrencyTotals{{Currency: "USD", LostRevenueNet: decimal.New(105000, -2)}}
	e.ReportingTotals = &impact.CurrencyTotals{Currency: "EUR", SLACredits: decimal.New(1, 0)}
	body, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := decodeDocument(&impact.StoredEstimate{}, body)
	if err != nil {
		t.Fatal(err)
	}
	for lo := 0; lo <= len(ids); lo++ {
		for _, size := range []int{1, 2, 3, 50} {
			meta := &impact.StoredEstimate{}
			page, total, err := streamPage(meta, body, lo, lo+size)
			if err != nil {
				t.Fatalf("lo %d size %d: %v", lo, size, err)
			}
			if total != len(ids) {
				t.Errorf("total %d, want %d", total, len(ids))
			}
			want := whole.customers[lo:min(lo+size, len(ids))]
			got, _ := json.Marshal(page.customers)
			exp, _ := json.Marshal(want)
			if len(want) == 0 {
				exp = []byte("null")
			}
			if string(got) != string(exp) {
				t.Errorf("lo %d size %d: %v, want %v", lo, size, page.customers, want)
			}
			if fmt.Sprint(meta.Totals, *meta.ReportingTotals) != fmt.Sprint(whole.meta.Totals, *whole.meta.ReportingTotals) {
				t.Errorf("totals %v %v", meta.Totals, meta.ReportingTotals)
			}
		}
	}
	// No customers, and a document in another shape (refused, not misread).
	empty, _ := json.Marshal(&impact.IncidentEstimate{IncidentID: "x"})
	if page, total, err := streamPage(&impact.StoredEstimate{}, empty, 0, 25); err != nil || total != 0 || len(page.customers) != 0 {
		t.Errorf("empty: %v %d %v", page, total, err)
	}
	if _, _, err := streamPage(&impact.StoredEstimate{}, []byte(strings.ReplaceAll(string(body), `,"Totals":`, `, "Totals":`)), 0, 25); err == nil {
		t.Error("a reformatted document was streamed")
	}
}
