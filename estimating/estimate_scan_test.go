package estimating

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// scanEstimate is a generated estimate with ties in every figure, four
// currencies (one without a rate to the reporting currency), amounts too
// large for a scaled-integer sort key, customers without a recovery cost
// and with none, one or several credits, and, with odd, ids and service
// names that need escapes in JSON.
func scanEstimate(n int, odd bool) *impact.StoredEstimate {
	e := &impact.StoredEstimate{ModelVersion: impact.ModelVersion, InputsDigest: "sha256:scan", ComputeTime: time.Now(),
		ReportingCurrency: "EUR", FXRates: []impact.FXRate{{From: "USD", To: "EUR", Rate: "0.92"}, {From: "JPY", To: "EUR", Rate: "0.0061"}},
		IncidentEstimate: impact.IncidentEstimate{IncidentID: "scan"}}
	curs := []string{"USD", "EUR", "JPY", "GBP"}
	july := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		cur := curs[i%len(curs)]
		m := func(k int64, exp int32) impact.Money { return impact.Money{Currency: cur, Amount: decimal.New(k, exp)} }
		v := int64(i * 7919 % 13) // 13 values: many ties
		big := m(v, -2)
		if i%17 == 0 {
			big = m(v+123456789012345678, -2) // beyond a scaled int64
		}
		c := impact.CustomerEstimate{CustomerID: fmt.Sprintf("c%05d", i), ImpactSeconds: decimal.New(int64(i%5)*1800+5, -1),
			LostRevenue:   impact.LostRevenue{Gross: m(3*v, -2), Net: big, Recaptured: m(v, -3)},
			ChurnExposure: m(v*100, 0)}
		if odd && i%9 == 0 {
			c.CustomerID = fmt.Sprintf(`c%05d"<&>\é`, i)
		}
		if i%3 != 0 {
			rc := impact.Money{Currency: "EUR", Amount: decimal.New(v, -1)}
			c.RecoveryCost = &rc
		}
		switch i % 4 {
		case 1:
			c.SLACredits = []impact.AttributedCredit{}
		case 2:
			c.SLACredits = []impact.AttributedCredit{{Service: "api", PeriodStart: july, Credit: m(v, -2)}}
		case 3:
			svc := "db"
			if odd {
				svc = "db \"eu\"\n"
			}
			c.SLACredits = []impact.AttributedCredit{{Service: "api", PeriodStart: july, Credit: m(v, -2)},
				{Service: svc, PeriodStart: july.AddDate(0, 1, 0), Credit: impact.Money{Currency: "USD", Amount: decimal.New(v, 0)}}}
		}
		e.Customers = append(e.Customers, c)
	}
	e.Totals = []impact.CurrencyTotals{{Currency: "EUR", LostRevenueNet: decimal.New(12345, -2)}, {Currency: "USD", SLACredits: decimal.New(7, 0)}}
	e.ReportingTotals = &impact.CurrencyTotals{Currency: "EUR", ChurnExposure: decimal.New(99, 0)}
	return e
}

// TestScanEqualsReflectiveDecode: the one-pass scan of a stored document
// decodes the customers and totals the reflective decoder does, so every
// order (each figure, both directions, ties by customer id) is the same,
// on documents as the store writes them and as json.Marshal writes odd
// ids; a document not in that encoding is still decoded, reflectively.
func TestScanEqualsReflectiveDecode(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "scan", Cause: impact.SoftwareDefect}, ""); err != nil {
		t.Fatal(err)
	}
	stored := scanEstimate(3000, false)
	if _, err := db.SaveEstimate(ctx, stored, nil); err != nil {
		t.Fatal(err)
	}
	meta, fromStore, err := db.EstimateDocument(ctx, "scan", 0)
	if err != nil {
		t.Fatal(err)
	}
	odd := scanEstimate(500, true)
	fromMarshal, err := json.Marshal(&odd.IncidentEstimate)
	if err != nil {
		t.Fatal(err)
	}
	// Every customer exercises the escaped-string path of the scanner.
	if !strings.Contains(string(fromMarshal), `\u003c\u0026\u003e`) {
		t.Fatalf("the odd document has no escapes: %.300s", fromMarshal)
	}
	// Customers out of id order (not as the engine stores them): ties
	// can no longer be by position.
	slices.Reverse(odd.Customers)
	reversed, err := json.Marshal(&odd.IncidentEstimate)
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"stored": fromStore, "odd": fromMarshal, "reversed": reversed} {
		if _, _, err := scanCustomers(body); err != nil {
			t.Fatalf("%s: the scan refuses the store's encoding: %v", name, err)
		}
		m1, m2 := *meta, *meta
		fast, err := decodeDocument(&m1, body)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := decodeReflect(&m2, body)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast.customers, slow.customers) {
			for i := range slow.customers {
				if i >= len(fast.customers) || !reflect.DeepEqual(fast.customers[i], slow.customers[i]) {
					t.Fatalf("%s: customer %d scanned differs:\n%+v\n%+v", name, i, fast.customers[min(i, len(fast.customers)-1)], slow.customers[i])
				}
			}
			t.Fatalf("%s: %d customers scanned, %d decoded", name, len(fast.customers), len(slow.customers))
		}
		if !reflect.DeepEqual(m1, m2) {
			t.Fatalf("%s: totals scanned %+v, decoded %+v", name, m1.Totals, m2.Totals)
		}
		for field := range CustomerOrders {
			for _, desc := range []bool{false, true} {
				got, want := fast.sorted(field, desc), slow.sorted(field, desc)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: order %s desc=%v differs", name, field, desc)
				}
				if ref := referenceOrder(&m2, slow.customers, field, desc); !reflect.DeepEqual(got, ref) {
					t.Fatalf("%s: order %s desc=%v differs from the exact decimal order", name, field, desc)
				}
			}
		}
	}
	// Not the store's encoding (indented): decoded all the same.
	var indented strings.Builder
	var v any
	if err := json.Unmarshal(fromStore, &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(v, "", " ")
	indented.Write(b)
	if _, _, err := scanCustomers([]byte(indented.String())); err == nil {
		t.Fatal("the scan accepts an indented document")
	}
	m1 := *meta
	de, err := decodeDocument(&m1, []byte(indented.String()))
	if err != nil || len(de.customers) != 3000 {
		t.Fatalf("indented document: %v", err)
	}
}

// referenceOrder is the order by exact decimals in the reporting currency
// (sla_credits summed; customers without the figure last), ties by id.
func referenceOrder(e *impact.StoredEstimate, cs []LeanCustomer, field string, desc bool) []int32 {
	figs := make([]*decimal.Decimal, len(cs))
	for i := range cs {
		figs[i] = figure(e, &cs[i], field)
	}
	order := make([]int32, len(cs))
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(a, b int) bool {
		fa, fb := figs[order[a]], figs[order[b]]
		ia, ib := cs[order[a]].CustomerID, cs[order[b]].CustomerID
		switch {
		case field == "customer_id" && desc:
			return ia > ib
		case fa == nil || fb == nil:
			if (fa == nil) != (fb == nil) {
				return fb == nil
			}
		case fa.Cmp(*fb) != 0:
			return (fa.Cmp(*fb) < 0) != desc
		}
		return ia < ib
	})
	return order
}

// figure is a customer's sort figure, nil when it has none.
func figure(e *impact.StoredEstimate, c *LeanCustomer, field string) *decimal.Decimal {
	rates := map[string]decimal.Decimal{"EUR": decimal.New(1, 0)}
	for _, r := range e.FXRates {
		rates[r.From] = decimal.RequireFromString(r.Rate)
	}
	conv := func(m LeanMoney) decimal.Decimal {
		d := decimal.RequireFromString(m.Amount)
		if r, ok := rates[m.Currency]; ok {
			return d.Mul(r)
		}
		return d
	}
	var d decimal.Decimal
	switch field {
	case "customer_id":
	case "impact_seconds":
		d = decimal.RequireFromString(c.ImpactSeconds)
	case "lost_revenue_gross":
		d = conv(c.LostRevenue.Gross)
	case "lost_revenue_net":
		d = conv(c.LostRevenue.Net)
	case "churn_exposure":
		d = conv(c.ChurnExposure)
	case "recovery_cost":
		if c.RecoveryCost == nil {
			return nil
		}
		d = conv(*c.RecoveryCost)
	case "sla_credits":
		for _, a := range c.SLACredits {
			d = d.Add(conv(a.Credit))
		}
	}
	return &d
}
