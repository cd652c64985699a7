package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// BenchmarkConsoleIncidentPage measures the API calls that draw the first
// screen of an incident page (the incident, then the first 25 affected
// customers sorted by net lost revenue with the totals) for an incident
// whose stored estimate has 100,000 customers, through the real impactd
// HTTP listener, next to GET /healthz on the same listener:
//
//   - stored: the stored order (by customer id), streamed out of the
//     document: never decoded whole, never cached;
//   - uncached: the revision is not in this replica's cache (each
//     iteration asks for one of 5 revisions by its page token, more than
//     the cache holds), so the 100,000-customer document is read, decoded
//     and sorted: the first view of a new revision;
//   - neworder: a cached revision in an order not asked before (sorted
//     once);
//   - warm: the same order again (a page seen before, or its neighbour);
//   - next: the second page by its token.
//
// Report ns/op as ratios to healthz:
//
//	go test ./cmd/impactd -run '^$' -bench ConsoleIncidentPage -benchtime 20x
func BenchmarkConsoleIncidentPage(b *testing.B) {
	const n = 100000
	path := filepath.Join(b.TempDir(), "impact.db")
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "big", Cause: impact.SoftwareDefect}, ""); err != nil {
		b.Fatal(err)
	}
	e := &impact.StoredEstimate{ModelVersion: impact.ModelVersion, InputsDigest: "sha256:bench", ComputeTime: time.Now(),
		IncidentEstimate: impact.IncidentEstimate{IncidentID: "big", Customers: make([]impact.CustomerEstimate, n)}}
	usd := func(cents int64) impact.Money { return impact.Money{Currency: "USD", Amount: decimal.New(cents, -2)} }
	var total int64
	for i := range n {
		// Amounts vary so that the sort does work: (i·7919) mod 100,000 cents.
		v := int64(i*7919%100000) + 100
		total += v
		rc := usd(v / 3)
		e.Customers[i] = impact.CustomerEstimate{CustomerID: fmt.Sprintf("c%06d", i), ImpactSeconds: decimal.NewFromInt(int64(i % 7200)),
			LostRevenue:   impact.LostRevenue{Gross: usd(2 * v), Net: usd(v), Recaptured: usd(v)},
			RecoveryCost:  &rc,
			SLACredits:    []impact.AttributedCredit{{Service: "api", PeriodStart: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Credit: usd(v / 10)}},
			ChurnExposure: usd(5 * v)}
	}
	e.Totals = []impact.CurrencyTotals{{Currency: "USD", LostRevenueNet: decimal.New(total, -2)}}
	// Five revisions: one more than the cache holds of this size. (The
	// store writes a revision only when the inputs digest moves.)
	for r := range 5 {
		e.InputsDigest = fmt.Sprintf("sha256:bench-%d", r+1)
		if _, err := db.SaveEstimate(ctx, e, nil); err != nil {
			b.Fatal(err)
		}
	}
	db.Close()
	d := start(b, "--db", "sqlite:"+path)

	get := func(b *testing.B, url string) {
		resp, err := http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: HTTP %d", url, resp.StatusCode)
		}
	}
	page := func(order string) string {
		return d.url("/v1/incidents/big/estimate/customers?pageSize=25&orderBy=" + order)
	}
	orders := []string{"lost_revenue_net%20desc", "lost_revenue_gross%20desc", "recovery_cost%20desc", "sla_credits%20desc",
		"churn_exposure%20desc", "impact_seconds%20desc", "customer_id"}
	b.Run("healthz", func(b *testing.B) {
		for b.Loop() {
			get(b, d.url("/healthz"))
		}
	})
	// The stored order (by customer id), as the incident page first asks
	// for it: streamed from the document, nothing cached.
	b.Run("stored", func(b *testing.B) {
		for b.Loop() {
			get(b, d.url("/v1/incidents/big"))
			get(b, page("customer_id"))
		}
	})
	b.Run("uncached", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tok := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"p":"incidents/big/estimate","o":"lost_revenue_net desc","r":%d,"n":0}`, i%5+1)))
			get(b, d.url("/v1/incidents/big"))
			get(b, page(orders[0])+"&pageToken="+tok)
			i++
		}
	})
	b.Run("neworder", func(b *testing.B) {
		i := 0
		for b.Loop() {
			// Each iteration a fresh revision's order: revision 5 is cached
			// after the first call; the other orders are new until all 7
			// are sorted, so with -benchtime 7x every call sorts.
			get(b, d.url("/v1/incidents/big"))
			get(b, page(orders[i%len(orders)]))
			i++
		}
	})
	b.Run("warm", func(b *testing.B) {
		get(b, page(orders[0]))
		for b.Loop() {
			get(b, d.url("/v1/incidents/big"))
			get(b, page(orders[0]))
		}
	})
	b.Run("next", func(b *testing.B) {
		v := apiJSONB(b, page(orders[0]))
		next := page(orders[0]) + "&pageToken=" + v["nextPageToken"].(string)
		for b.Loop() {
			get(b, next)
		}
	})
}

func apiJSONB(b *testing.B, url string) map[string]any {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		b.Fatal(err)
	}
	return v
}
