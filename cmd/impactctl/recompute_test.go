package main

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// seedTangled stores customers in several zones with monthly and quarterly
// contracts, and incidents whose windows overlap each other, cross month
// and quarter edges and chain across them, so that a customer's credits in
// one incident depend on windows of many others.
func seedTangled(t *testing.T, db *store.DB, seed uint64) []string {
	t.Helper()
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(seed, 3))
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"}
	const nCust, nInc = 40, 30
	for i := range nCust {
		c := &impact.Customer{ID: fmt.Sprintf("c%02d", i), Currency: []string{"USD", "EUR", "JPY"}[i%3], TimeZone: zones[i%4],
			Baseline: impact.Baseline{HourlyAmount: fmt.Sprintf("%d", 100+rng.IntN(900)), RecaptureRate: "0.1"}}
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
		for s, svc := range []string{"api", "db"} {
			k := &impact.Contract{Service: svc, MonthlyFee: fmt.Sprintf("%d", 1000+rng.IntN(5000)), TimeZone: zones[(i+s)%4],
				BillingPeriod: impact.BillingPeriod(1 + (i+s)%2), MinDowntimeSeconds: int64(rng.IntN(3) * 300),
				Tiers: []impact.CreditTier{{UptimeBelow: "99.99", CreditPercent: "5"}, {UptimeBelow: "99.9", CreditPercent: "15"}, {UptimeBelow: "99", CreditPercent: "40"}}}
			if i%5 == 0 {
				k.ExcludedCauses = []impact.Cause{impact.Cause(2)}
			}
			if _, err := db.CreateContract(ctx, c.ID, k, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	base := time.Date(2025, 3, 28, 0, 0, 0, 0, time.UTC)
	var ids []string
	for j := range nInc {
		in := &impact.Incident{ID: fmt.Sprintf("i%02d", j), Cause: impact.Cause(1 + j%3), RecoveryCurrency: "EUR", Allocation: impact.Allocation(1 + j%2),
			RecoveryItems: []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "x", UnitCost: fmt.Sprintf("%d.%02d", 100+j, j)}}}}
		if _, err := db.CreateIncident(ctx, in, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, in.ID)
		var ws []impact.StoredWindow
		for k := range 1 + rng.IntN(8) {
			s := base.Add(time.Duration(rng.IntN(10*24*3600)) * time.Second)
			if rng.IntN(3) == 0 {
				s = base.Add(time.Duration(j) * 20 * 24 * time.Hour)
			}
			ws = append(ws, impact.StoredWindow{ID: fmt.Sprintf("w%d", k), OutageWindow: impact.OutageWindow{
				CustomerID: fmt.Sprintf("c%02d", rng.IntN(nCust)), Service: []string{"api", "db", "cdn"}[rng.IntN(3)],
				Start: s, End: s.Add(time.Duration(60+rng.IntN(4*24*3600)) * time.Second)}})
		}
		if _, err := db.BatchCreateWindows(ctx, in.ID, ws, ""); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestRecomputeEqualsEstimate checks that a recompute, which reads its
// chunk's incidents together, stores for every incident exactly what
// :estimate of that incident alone stores: the same figures and the same
// inputs digest, whatever the chunking.
func TestRecomputeEqualsEstimate(t *testing.T) {
	for _, chunk := range []int{1, 7, 1000} {
		t.Run(fmt.Sprint("chunk", chunk), func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, tempDB(t))
			ids := seedTangled(t, db, uint64(chunk))
			job, _, err := db.CreateJob(ctx, impact.RecomputeFilter{}, false, chunk, "", false)
			if err != nil {
				t.Fatal(err)
			}
			r := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Workers: 3, Poll: 10 * time.Millisecond})
			final, err := r.Run(ctx, job.ID)
			if err != nil {
				t.Fatal(err)
			}
			if final.State != impact.JobSucceeded || final.Counts.Done != int64(len(ids)) || final.Counts.Changed != int64(len(ids)) {
				t.Fatalf("job: %s %+v %s", final.State, final.Counts, final.Error)
			}
			app := estimating.New(db, estimating.Options{})
			for _, id := range ids {
				rec, err := db.GetEstimate(ctx, id, 1)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := app.Estimate(ctx, id, estimating.Reporting{}); err != nil {
					t.Fatal(err)
				}
				// Same model version, same inputs digest: no empty
				// revision 2 (README "Fresh figures").
				est, err := db.GetEstimate(ctx, id, 0)
				if err != nil {
					t.Fatal(err)
				}
				if est.Revision != 1 {
					t.Errorf("%s: :estimate after the recompute wrote revision %d, want none", id, est.Revision)
				}
				if rec.InputsDigest != est.InputsDigest {
					t.Errorf("%s: recompute digest %s, :estimate %s", id, rec.InputsDigest, est.InputsDigest)
				}
				if d := impact.CompareEstimates(rec, est); d.Changed {
					t.Errorf("%s: recompute and :estimate differ: %d customers, %v", id, d.CustomersChanged, d.Differences)
				}
			}
			// And a second recompute finds nothing to change.
			job, _, err = db.CreateJob(ctx, impact.RecomputeFilter{}, true, chunk, "", false)
			if err != nil {
				t.Fatal(err)
			}
			if final, err = r.Run(ctx, job.ID); err != nil || final.Counts.Changed != 0 || final.Counts.Done != int64(len(ids)) {
				t.Fatalf("second run: %v %+v", err, final)
			}
		})
	}
}

// TestRecomputeDryRunReportsDifferences changes one customer's hourly rate
// and checks the dry run's worked difference, then that the real run
// stores exactly one new revision with it.
func TestRecomputeDryRunReportsDifferences(t *testing.T) {
	ctx := context.Background()
	dsn := tempDB(t)
	db := openDB(t, dsn)
	for _, c := range []*impact.Customer{
		{ID: "shop", Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "1200.00"}},
		{ID: "bank", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "500.00"}},
	} {
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"a", "b"} {
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: id}, ""); err != nil {
			t.Fatal(err)
		}
	}
	// a: shop down 90 minutes at full impact, bank 30 minutes at half.
	// b: bank only, 2 hours.
	mustWindows(t, db, "a", impact.OutageWindow{CustomerID: "shop", Service: "web", Start: t0, End: t0.Add(90 * time.Minute)},
		impact.OutageWindow{CustomerID: "bank", Service: "api", Start: t0, End: t0.Add(30 * time.Minute), ImpactFraction: "0.5"})
	mustWindows(t, db, "b", impact.OutageWindow{CustomerID: "bank", Service: "api", Start: t0.Add(48 * time.Hour), End: t0.Add(50 * time.Hour)})
	mustRun(t, nil, "recompute", "--db", dsn)

	// The shop's rate goes from 1200.00 to 1300.40 an hour: over 1.5 hours
	// its lost revenue moves by 1.5 × 100.40 = 150.60 EUR. The bank and
	// incident b do not change.
	if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: "shop", Baseline: impact.Baseline{HourlyAmount: "1300.40"}}, impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, nil, "recompute", "--db", dsn, "--dry-run")
	for _, want := range []string{"SUCCEEDED", "2 total, 2 done, 1 changed, 0 failed", "1 changed", "EUR", "+150.60", "incidents/a: revision 1 would change, 1 customers"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	js, err := db.ListJobs(ctx, impact.PageRequest{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	j := js.Items[0]
	if len(j.Differences) != 1 || j.Differences[0].Currency != "EUR" || j.Differences[0].LostRevenueGross.String() != "150.6" ||
		j.Differences[0].LostRevenueNet.String() != "150.6" || !j.Differences[0].SLACredits.IsZero() {
		t.Errorf("dry run differences: %+v", j.Differences)
	}
	if e, err := db.GetEstimate(ctx, "a", 0); err != nil || e.Revision != 1 {
		t.Fatalf("dry run wrote: %v %v", e, err)
	}
	out = mustRun(t, nil, "recompute", "--db", dsn)
	if !strings.Contains(out, "incidents/a: revision 1 -> 2, 1 customers") {
		t.Errorf("real run output:\n%s", out)
	}
	a, err := db.GetEstimate(ctx, "a", 0)
	if err != nil || a.Revision != 2 {
		t.Fatalf("a: %v %v", a, err)
	}
	if b, err := db.GetEstimate(ctx, "b", 0); err != nil || b.Revision != 1 {
		t.Fatalf("b changed: %v %v", b, err)
	}
	for _, c := range a.Customers {
		if c.CustomerID == "shop" && c.LostRevenue.Gross.Amount.String() != "1950.6" {
			t.Errorf("shop's lost revenue: %s, want 1.5 × 1300.40 = 1950.60", c.LostRevenue.Gross.Amount)
		}
	}
	// A new display name changes the inputs digest of both incidents of
	// the bank but no figure: compared, nothing changes for the job, but
	// the estimate gets a revision with the inputs it reflects (README
	// "Fresh figures": a revision when a figure, the model version or the
	// inputs digest moved), and is CURRENT again.
	if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: "bank", DisplayName: "Bank of Tests"}, impact.FieldMask{"display_name"}, ""); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, nil, "recompute", "--db", dsn)
	if !strings.Contains(out, "2 total, 2 done, 0 changed, 0 failed") {
		t.Errorf("after a display name change:\n%s", out)
	}
	if b, err := db.GetEstimate(ctx, "b", 0); err != nil || b.Revision != 2 || b.State != impact.StateCurrent {
		t.Fatalf("b after a display name: %v %v", b, err)
	}
	// Nothing moved since: no revision 3.
	mustRun(t, nil, "recompute", "--db", dsn)
	if b, err := db.GetEstimate(ctx, "b", 0); err != nil || b.Revision != 2 {
		t.Fatalf("b after a recompute of nothing: %v %v", b, err)
	}
}

func mustWindows(t *testing.T, db *store.DB, incident string, ws ...impact.OutageWindow) {
	t.Helper()
	sw := make([]impact.StoredWindow, len(ws))
	for i, w := range ws {
		sw[i] = impact.StoredWindow{OutageWindow: w}
	}
	if _, err := db.BatchCreateWindows(context.Background(), incident, sw, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRecomputeSelection checks the selection flags, and that bad ones are
// refused before anything is written.
func TestRecomputeSelection(t *testing.T) {
	ctx := context.Background()
	dsn := tempDB(t)
	db := openDB(t, dsn)
	for _, id := range []string{"shop", "bank"} {
		if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "10"}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"a", "b", "c"} {
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: id}, ""); err != nil {
			t.Fatal(err)
		}
		cust := []string{"shop", "bank", "bank"}[i]
		s := t0.Add(time.Duration(i) * 24 * time.Hour)
		mustWindows(t, db, id, impact.OutageWindow{CustomerID: cust, Service: "web", Start: s, End: s.Add(time.Hour)})
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--customer", "bank"}, "2 total"},                                                                    // b, c
		{[]string{"--customer", "bank", "--customer", "shop"}, "3 total"},                                              // all
		{[]string{"--incident", "c", "--incident", "a"}, "2 total"},                                                    // a, c
		{[]string{"--since", "2025-07-15T10:00:00Z"}, "1 total"},                                                       // b ends at 10:00: half-open, only c
		{[]string{"--since", "2025-07-15T09:59:59Z", "--until", "2025-07-16T09:00:00Z"}, "1 total"},                    // b; c starts at until
		{[]string{"--customer", "shop", "--since", "2025-07-15T00:00:00Z"}, "0 total"},                                 // AND
		{[]string{"--until", "2025-07-14T09:00:01Z", "--customer", "shop", "--incident", "a", "--dry-run"}, "1 total"}, // a
	} {
		out := mustRun(t, nil, append([]string{"recompute", "--db", dsn, "--dry-run"}, tc.args...)...)
		if !strings.Contains(out, "incidents:  "+tc.want) {
			t.Errorf("%q: want %s incidents:\n%s", tc.args, tc.want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--workers", "0"}, exitUsage, "--workers"},
		{[]string{"--since", "yesterday"}, exitUsage, "--since"},
		{[]string{"--lease", "10ms"}, exitUsage, "--lease"},
		{[]string{"--since", "2025-08-01T00:00:00Z", "--until", "2025-07-01T00:00:00Z"}, exitInvalid, "filter.until: must be after filter.since"},
		{[]string{"--customer", "a/b"}, exitInvalid, "filter.customer_ids[0]"},
		{[]string{"--incident", "x", "--incident", "x"}, exitInvalid, "duplicate id x"},
		// A typo selects nothing: an error, not a job over 0 incidents.
		{[]string{"--customer", "bnak"}, exitInvalid, "--customer bnak: no such customer"},
		{[]string{"--incident", "a", "--incident", "zz"}, exitInvalid, "--incident zz: no such incident"},
	} {
		r := impactctl(t, nil, append([]string{"recompute", "--db", dsn}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
	js, err := db.ListJobs(ctx, impact.PageRequest{Size: 100})
	if err != nil || len(js.Items) != 7 {
		t.Errorf("jobs stored: %d, %v; want the 7 valid ones only", len(js.Items), err)
	}
	if _, err := db.GetEstimate(ctx, "a", 0); impact.ErrorCode(err) != impact.ENOTFOUND {
		t.Errorf("dry runs stored an estimate: %v", err)
	}
}

// TestRecomputeKeepsReportingOptions: an estimate computed in a reporting
// currency is recomputed in that currency at the same rates, and a rate
// that no longer covers a new currency fails that estimate, with its
// reason, and the job.
func TestRecomputeKeepsReportingOptions(t *testing.T) {
	ctx := context.Background()
	dsn := tempDB(t)
	db := openDB(t, dsn)
	if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "shop", Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "100.00"}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "a"}, ""); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	mustWindows(t, db, "a", impact.OutageWindow{CustomerID: "shop", Service: "web", Start: t0, End: t0.Add(2 * time.Hour)})
	if _, _, err := estimating.New(db, estimating.Options{}).Estimate(ctx, "a", estimating.Reporting{Currency: "USD",
		FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}); err != nil {
		t.Fatal(err)
	}
	// Nothing changed: same inputs digest (it covers the reporting
	// options), no new revision.
	if out := mustRun(t, nil, "recompute", "--db", dsn); !strings.Contains(out, "1 total, 1 done, 0 changed") {
		t.Errorf("unchanged data:\n%s", out)
	}
	// 2 h at 130.00 instead of 100.00: +60.00 EUR, reported as 286.00 USD
	// (260.00 × 1.1) instead of 220.00.
	if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: "shop", Baseline: impact.Baseline{HourlyAmount: "130.00"}}, impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
		t.Fatal(err)
	}
	mustRun(t, nil, "recompute", "--db", dsn)
	e, err := db.GetEstimate(ctx, "a", 0)
	if err != nil || e.Revision != 2 || e.ReportingCurrency != "USD" || len(e.FXRates) != 1 || e.ReportingTotals == nil ||
		e.ReportingTotals.LostRevenueGross.String() != "286" {
		t.Fatalf("recomputed: %+v %v", e, err)
	}
	// A window of a USD customer: the stored rates do not cover it, so the
	// estimate fails with its reason and the job is FAILED; the stored
	// revision stays.
	if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "bank", Currency: "GBP", Baseline: impact.Baseline{HourlyAmount: "10"}}, ""); err != nil {
		t.Fatal(err)
	}
	mustWindows(t, db, "a", impact.OutageWindow{CustomerID: "bank", Service: "web", Start: t0, End: t0.Add(time.Hour)})
	r := impactctl(t, nil, "recompute", "--db", dsn)
	if r.code != exitFailure || !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "incidents/a: FAILED:") ||
		!strings.Contains(r.stdout, "fx_rates") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if e, err := db.GetEstimate(ctx, "a", 0); err != nil || e.Revision != 2 {
		t.Errorf("a failed estimate wrote a revision: %v %v", e, err)
	}
}
