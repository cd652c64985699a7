package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

const longDecimal = "123456789012345678901234567890.123456789012"

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func fullCustomer(id string) *impact.Customer {
	profile := make([]string, 168)
	for i := range profile {
		profile[i] = fmt.Sprintf("%d.%02d", 100+i, i%100)
	}
	profile[5] = "0.000000000001"
	profile[6] = "100.500000000000" // trailing zeros are kept
	return &impact.Customer{
		ID: id, DisplayName: "Acme " + id, Currency: "USD", TimeZone: "Europe/Berlin",
		Baseline: impact.Baseline{
			HourlyAmount:  longDecimal,
			WeeklyProfile: profile,
			SeasonalFactors: []impact.SeasonalFactor{
				{Start: ts("2025-12-01T00:00:00Z"), End: ts("2026-01-01T00:00:00.5Z"), Multiplier: "1.25"},
			},
			Overrides:     []impact.HourlyOverride{{HourStart: ts("2025-12-24T18:00:00Z"), Amount: "0"}},
			RecaptureRate: "0.25",
		},
		LifetimeValue:    "999999999999999999999999999999.999999999999",
		ChurnProbability: "0.010",
	}
}

func fullContract(service string) *impact.Contract {
	return &impact.Contract{
		Service:       service,
		MonthlyFee:    "12345.67",
		PeriodFees:    []impact.PeriodFee{{PeriodStart: ts("2025-07-01T00:00:00Z"), Fee: longDecimal}},
		BillingPeriod: impact.Quarterly, TimeZone: "America/New_York",
		Tiers: []impact.CreditTier{
			{UptimeBelow: "99.99", CreditPercent: "10"},
			{UptimeBelow: "99.0", CreditPercent: "30", Inclusive: true},
		},
		CreditCapPercent: "50.5", MinCreditAmount: "0.01",
		Degradation: impact.Threshold, DowntimeThreshold: "0.5",
		Granularity: impact.MinutesTouched, MinDowntimeSeconds: 60,
		ExcludeMaintenance: true,
		MaintenanceWindows: []impact.TimeWindow{{Start: ts("2025-07-06T02:00:00Z"), End: ts("2025-07-06T04:00:00Z")}},
		ExcludedCauses:     []impact.Cause{impact.NaturalDisaster, impact.CustomerCaused},
		Denominator:        impact.Deployed,
		ActiveFrom:         ts("2025-01-15T00:00:00Z"),
		Rounding:           impact.HalfUp,
	}
}

func fullIncident(id string) *impact.Incident {
	return &impact.Incident{
		ID: id, Title: "Region outage", Cause: impact.PowerFailure, RecoveryCurrency: "EUR",
		RecoveryItems: []impact.RecoveryItem{
			{Labor: &impact.LaborItem{Role: "SRE", Hours: "12.5", HourlyRate: "150.00", Engagement: "0.5"}},
			{CustomerID: "c1", Expense: &impact.ExpenseItem{Description: "courier", Quantity: "2", UnitCost: longDecimal}},
		},
		Allocation: impact.ByImpact,
	}
}

func code(err error) string {
	if err == nil {
		return "<nil>"
	}
	return impact.ErrorCode(err)
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("error %v: code %s, want %s", err, got, want)
	}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestCustomerRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		in := fullCustomer("c1")
		in.Contracts = []impact.Contract{*fullContract("ignored")}
		got := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, in, ""))
		want := *fullCustomer("c1")
		// Sub-microsecond digits are dropped by both engines alike.
		want.Baseline.SeasonalFactors[0].End = ts("2026-01-01T00:00:00.5Z")
		if diff := cmp.Diff(want, got.Customer); diff != "" {
			t.Errorf("created customer (-want +got):\n%s", diff)
		}
		if got.Name != "customers/c1" || got.Etag == "" || !got.CreateTime.Equal(t0) || !got.UpdateTime.Equal(t0) {
			t.Errorf("metadata: name %q etag %q create %v update %v", got.Name, got.Etag, got.CreateTime, got.UpdateTime)
		}
		again := must[*impact.StoredCustomer](t)(db.GetCustomer(ctx, "c1"))
		if diff := cmp.Diff(got, again); diff != "" {
			t.Errorf("get after create (-create +get):\n%s", diff)
		}
		if n := count(t, db, "contracts", ""); n != 0 {
			t.Errorf("Customer.Contracts was stored: %d contracts", n)
		}
	})
}

func TestDecimalsCanonicalAndExact(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, tc := range []struct{ in, want string }{
			{longDecimal, longDecimal},
			{"-" + longDecimal, "-" + longDecimal},
			{"1234.50", "1234.50"},
			{"007.50", "7.50"},
			{"-0.000", "0.000"},
			{"0", "0"},
			{"000000000000000000000000000001.000000000001", "1.000000000001"},
		} {
			id := "d" + strings.NewReplacer(".", "_", "-", "m").Replace(tc.in)
			c := &impact.Customer{ID: id, Currency: "USD", Baseline: impact.Baseline{HourlyAmount: tc.in}}
			got, err := db.CreateCustomer(ctx, c, "")
			if err != nil {
				t.Fatalf("%s: %v", tc.in, err)
			}
			if got.Baseline.HourlyAmount != tc.want {
				t.Errorf("hourly_amount %q read back as %q, want %q", tc.in, got.Baseline.HourlyAmount, tc.want)
			}
		}
		for _, bad := range []string{"1e3", "NaN", "1,000", "12.", ".5", "1234567890123456789012345678901", "0.1234567890123"} {
			_, err := db.CreateCustomer(ctx, &impact.Customer{ID: "bad", Currency: "USD", LifetimeValue: bad}, "")
			wantCode(t, err, impact.EINVALID)
			var ie *impact.Error
			if errors.As(err, &ie) && (len(ie.Violations) != 1 || ie.Violations[0].Field != "lifetime_value") {
				t.Errorf("%q: violations %+v", bad, ie.Violations)
			}
		}
		if n := count(t, db, "customers", "id = ?", "bad"); n != 0 {
			t.Errorf("invalid customer stored")
		}
	})
}

func TestContractAndIncidentRoundTrip(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		k := must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("compute"), ""))
		if diff := cmp.Diff(*fullContract("compute"), k.Contract); diff != "" {
			t.Errorf("contract (-want +got):\n%s", diff)
		}
		if k.Name != "customers/c1/contracts/compute" || k.CustomerID != "c1" {
			t.Errorf("name %q customer %q", k.Name, k.CustomerID)
		}
		in := must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		if diff := cmp.Diff(*fullIncident("i1"), in.Incident); diff != "" {
			t.Errorf("incident (-want +got):\n%s", diff)
		}
		got := must[[]impact.StoredIncident](t)(db.BatchGetIncidents(ctx, []string{"i1"}))
		if len(got) != 1 || got[0].Name != "incidents/i1" {
			t.Errorf("BatchGetIncidents: %+v", got)
		}
		_, err := db.CreateIncident(ctx, &impact.Incident{ID: "i2", Windows: []impact.OutageWindow{{}}}, "")
		wantCode(t, err, impact.EINVALID)
	})
}

func TestNotFound(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for name, err := range map[string]error{
			"GetCustomer":       second(db.GetCustomer(ctx, "nope")),
			"UpdateCustomer":    second(db.UpdateCustomer(ctx, &impact.Customer{ID: "nope"}, impact.FieldMask{"display_name"}, "")),
			"DeleteCustomer":    db.DeleteCustomer(ctx, "nope", ""),
			"CreateContract":    second(db.CreateContract(ctx, "nope", fullContract("s"), "")),
			"GetContract":       second(db.GetContract(ctx, "nope", "s")),
			"ListContracts":     second(db.ListContracts(ctx, "nope", impact.PageRequest{})),
			"DeleteContract":    db.DeleteContract(ctx, "nope", "s", ""),
			"GetIncident":       second(db.GetIncident(ctx, "nope")),
			"BatchGetIncidents": second(db.BatchGetIncidents(ctx, []string{"nope"})),
			"DeleteIncident":    db.DeleteIncident(ctx, "nope", "", false),
			"BatchCreate":       second(db.BatchCreateWindows(ctx, "nope", []impact.StoredWindow{window("c1", "s", 0, 60)}, "")),
			"ListWindows":       second(db.ListWindows(ctx, "nope", impact.WindowFilter{}, impact.PageRequest{})),
			"GetWindow":         second(db.GetWindow(ctx, "nope", "w")),
			"DeleteWindow":      db.DeleteWindow(ctx, "nope", "w"),
			"GetEstimate":       second(db.GetEstimate(ctx, "nope", 0)),
			"GetStatement":      second(db.GetStatement(ctx, "nope", "s", "2025-07")),
			"AffectedCustomers": second(db.AffectedCustomers(ctx, "nope", "", 10)),
			"SaveEstimate":      second(db.SaveEstimate(ctx, &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: "nope"}}, nil)),
		} {
			if code(err) != impact.ENOTFOUND {
				t.Errorf("%s: %v, want ENOTFOUND", name, err)
			}
		}
		_, err := db.GetCustomer(ctx, "nope")
		if !strings.Contains(err.Error(), "customers/nope") {
			t.Errorf("message %q does not name the resource", err)
		}
		if n := count(t, db, "audit_log", ""); n != 0 {
			t.Errorf("failed mutations wrote %d audit rows", n)
		}
	})
}

func second[T any](_ T, err error) error { return err }

func TestAlreadyExists(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		_, err := db.CreateCustomer(ctx, fullCustomer("c1"), "")
		wantCode(t, err, impact.ECONFLICT)
		if !strings.Contains(err.Error(), "customers/c1 already exists") {
			t.Errorf("message %q", err)
		}
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("s"), ""))
		wantCode(t, second(db.CreateContract(ctx, "c1", fullContract("s"), "")), impact.ECONFLICT)
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		wantCode(t, second(db.CreateIncident(ctx, fullIncident("i1"), "")), impact.ECONFLICT)
		if n := count(t, db, "audit_log", ""); n != 3 {
			t.Errorf("audit rows %d, want 3 (failed creates write none)", n)
		}
	})
}

func TestEtagAndUpdateMask(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c0 := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		db.SetClock(func() time.Time { return t0.Add(time.Hour) })

		patch := &impact.Customer{ID: "c1", DisplayName: "Renamed", Currency: "JPY", Baseline: impact.Baseline{RecaptureRate: "0.5"}}
		c1 := must[*impact.StoredCustomer](t)(db.UpdateCustomer(ctx, patch, impact.FieldMask{"display_name", "baseline.recapture_rate"}, c0.Etag))
		want := *fullCustomer("c1")
		want.DisplayName, want.Baseline.RecaptureRate = "Renamed", "0.5"
		if diff := cmp.Diff(want, c1.Customer); diff != "" {
			t.Errorf("masked update (-want +got):\n%s", diff)
		}
		if c1.Etag == c0.Etag || !c1.UpdateTime.Equal(t0.Add(time.Hour)) || !c1.CreateTime.Equal(t0) {
			t.Errorf("etag %q→%q, times create %v update %v", c0.Etag, c1.Etag, c1.CreateTime, c1.UpdateTime)
		}

		// The first etag is stale now.
		wantCode(t, second(db.UpdateCustomer(ctx, patch, impact.FieldMask{"currency_code"}, c0.Etag)), impact.EABORTED)
		wantCode(t, db.DeleteCustomer(ctx, "c1", c0.Etag), impact.EABORTED)
		// Bad masks.
		wantCode(t, second(db.UpdateCustomer(ctx, patch, nil, "")), impact.EINVALID)
		wantCode(t, second(db.UpdateCustomer(ctx, patch, impact.FieldMask{"customer_id"}, "")), impact.EINVALID)
		wantCode(t, second(db.UpdateCustomer(ctx, patch, impact.FieldMask{"display_name", "nope"}, "")), impact.EINVALID)
		if got := must[*impact.StoredCustomer](t)(db.GetCustomer(ctx, "c1")); got.Etag != c1.Etag || got.DisplayName != "Renamed" {
			t.Errorf("rejected updates changed the customer: %+v", got)
		}
		// "*" replaces every mutable field; no etag means unconditional.
		c2 := must[*impact.StoredCustomer](t)(db.UpdateCustomer(ctx, patch, impact.FieldMask{"*"}, ""))
		patch.Contracts = nil
		if diff := cmp.Diff(*patch, c2.Customer); diff != "" {
			t.Errorf("full replace (-want +got):\n%s", diff)
		}

		// Contracts and incidents follow the same pattern.
		k0 := must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("s"), ""))
		k1 := must[*impact.StoredContract](t)(db.UpdateContract(ctx, "c1", &impact.Contract{Service: "s", MonthlyFee: "1.50"}, impact.FieldMask{"monthly_fee"}, k0.Etag))
		wantK := *fullContract("s")
		wantK.MonthlyFee = "1.50"
		if diff := cmp.Diff(wantK, k1.Contract); diff != "" {
			t.Errorf("contract update (-want +got):\n%s", diff)
		}
		wantCode(t, second(db.UpdateContract(ctx, "c1", &impact.Contract{Service: "s"}, impact.FieldMask{"tiers"}, k0.Etag)), impact.EABORTED)
		wantCode(t, db.DeleteContract(ctx, "c1", "s", k0.Etag), impact.EABORTED)
		if err := db.DeleteContract(ctx, "c1", "s", k1.Etag); err != nil {
			t.Fatal(err)
		}

		i0 := must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		i1 := must[*impact.StoredIncident](t)(db.UpdateIncident(ctx, &impact.Incident{ID: "i1", Cause: impact.Cyberattack}, impact.FieldMask{"cause"}, i0.Etag))
		if i1.Cause != impact.Cyberattack || i1.Title != "Region outage" || i1.Etag == i0.Etag {
			t.Errorf("incident update: %+v", i1)
		}
		wantCode(t, db.DeleteIncident(ctx, "i1", i0.Etag, false), impact.EABORTED)
		if err := db.DeleteIncident(ctx, "i1", i1.Etag, false); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRequestIDRetryWritesOnce(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		first := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), "req-1"))
		// A retry of the same request returns the first result.
		retry := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), "req-1"))
		if diff := cmp.Diff(first, retry); diff != "" {
			t.Errorf("retry result (-first +retry):\n%s", diff)
		}
		// The id with another body is another request: ALREADY_EXISTS,
		// nothing written (doc.go, request ids).
		wantCode(t, second(db.CreateCustomer(ctx, fullCustomer("c2"), "req-1")), impact.ECONFLICT)
		// Without the request id it is a conflict, not a retry.
		wantCode(t, second(db.CreateCustomer(ctx, fullCustomer("c1"), "")), impact.ECONFLICT)
		// The same id on another method is a different request too.
		wantCode(t, second(db.CreateIncident(ctx, fullIncident("i1"), "req-1")), impact.ECONFLICT)
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), "req-i"))
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), "req-i"))
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("s"), "req-k"))
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("s"), "req-k"))

		ws := []impact.StoredWindow{window("c1", "s", 0, 60), window("c1", "s", 120, 180)}
		ws[0].ImpactFraction = "00.50"
		ws[1].Start = ws[1].Start.Add(1500 * time.Nanosecond) // below the microsecond both engines keep
		w1 := must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", ws, "req-w"))
		w2 := must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", ws, "req-w"))
		// The first result is built from what was written; the retry reads
		// it back: they must agree to the microsecond and the digit.
		if diff := cmp.Diff(w1, w2); diff != "" {
			t.Errorf("batch retry (-first +retry):\n%s", diff)
		}
		if w2[0].ImpactFraction != "0.50" || w2[1].Start.Nanosecond() != 1000 {
			t.Errorf("read back: fraction %q, start %v", w2[0].ImpactFraction, w2[1].Start)
		}
		for table, want := range map[string]int{"customers": 1, "incidents": 1, "contracts": 1, "windows": 2, "audit_log": 4, "request_ids": 4} {
			if n := count(t, db, table, ""); n != want {
				t.Errorf("%s: %d rows, want %d", table, n, want)
			}
		}
	})
}

func window(customer, service string, startSec, endSec int64) impact.StoredWindow {
	base := ts("2025-07-10T00:00:00Z")
	return impact.StoredWindow{OutageWindow: impact.OutageWindow{
		CustomerID: customer, Service: service,
		Start: base.Add(time.Duration(startSec) * time.Second), End: base.Add(time.Duration(endSec) * time.Second),
	}}
}

func TestPagination(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Byte order: "c10" before "c2", on both engines.
		var want []string
		for i := 0; i < 12; i++ {
			id := fmt.Sprintf("c%d", i)
			must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "USD"}, ""))
			want = append(want, id)
		}
		sortBytes(want)
		var got []string
		var pages int
		p := impact.PageRequest{Size: 5}
		for {
			page := must[*impact.Page[impact.StoredCustomer]](t)(db.ListCustomers(ctx, p))
			pages++
			for _, c := range page.Items {
				got = append(got, c.ID)
			}
			if page.NextPageToken == "" {
				break
			}
			p.Token = page.NextPageToken
		}
		if diff := cmp.Diff(want, got); diff != "" || pages != 3 {
			t.Errorf("%d pages, ids (-want +got):\n%s", pages, diff)
		}
		// An exact multiple of the page size ends without an empty page.
		page := must[*impact.Page[impact.StoredCustomer]](t)(db.ListCustomers(ctx, impact.PageRequest{Size: 12}))
		if len(page.Items) != 12 || page.NextPageToken != "" {
			t.Errorf("page of all: %d items, token %q", len(page.Items), page.NextPageToken)
		}
		// Default and maximum page sizes.
		for i := 12; i < 60; i++ {
			must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: fmt.Sprintf("c%d", i), Currency: "USD"}, ""))
		}
		if page := must[*impact.Page[impact.StoredCustomer]](t)(db.ListCustomers(ctx, impact.PageRequest{})); len(page.Items) != 50 {
			t.Errorf("default page size: %d", len(page.Items))
		}
		if page := must[*impact.Page[impact.StoredCustomer]](t)(db.ListCustomers(ctx, impact.PageRequest{Size: 5000})); len(page.Items) != 60 {
			t.Errorf("coerced page size: %d", len(page.Items))
		}
		wantCode(t, second(db.ListCustomers(ctx, impact.PageRequest{Size: -1})), impact.EINVALID)
		wantCode(t, second(db.ListCustomers(ctx, impact.PageRequest{Token: "garbage!"})), impact.EINVALID)

		// Windows: a token is bound to its parent and filter.
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i1"}, ""))
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i2"}, ""))
		var ws []impact.StoredWindow
		for i := 0; i < 30; i++ {
			w := window(fmt.Sprintf("c%d", i%3), "s", int64(i)*100, int64(i)*100+50)
			w.ID = fmt.Sprintf("w%02d", i)
			ws = append(ws, w)
		}
		must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", ws, ""))
		f := impact.WindowFilter{CustomerID: "c1"}
		var ids []string
		p = impact.PageRequest{Size: 4}
		var tok string
		for {
			page := must[*impact.Page[impact.StoredWindow]](t)(db.ListWindows(ctx, "i1", f, p))
			for _, w := range page.Items {
				if w.CustomerID != "c1" {
					t.Fatalf("filter leaked %+v", w)
				}
				ids = append(ids, w.ID)
			}
			if page.NextPageToken == "" {
				break
			}
			tok, p.Token = page.NextPageToken, page.NextPageToken
		}
		if want := []string{"w01", "w04", "w07", "w10", "w13", "w16", "w19", "w22", "w25", "w28"}; !cmp.Equal(want, ids) {
			t.Errorf("filtered windows %v, want %v", ids, want)
		}
		wantCode(t, second(db.ListWindows(ctx, "i1", impact.WindowFilter{CustomerID: "c2"}, impact.PageRequest{Token: tok})), impact.EINVALID)
		wantCode(t, second(db.ListWindows(ctx, "i1", impact.WindowFilter{}, impact.PageRequest{Token: tok})), impact.EINVALID)
		wantCode(t, second(db.ListWindows(ctx, "i2", f, impact.PageRequest{Token: tok})), impact.EINVALID)
		wantCode(t, second(db.ListCustomers(ctx, impact.PageRequest{Token: tok})), impact.EINVALID)
		// The same filter keeps working, with another page size too.
		must[*impact.Page[impact.StoredWindow]](t)(db.ListWindows(ctx, "i1", f, impact.PageRequest{Size: 2, Token: tok}))
		// An incident without windows lists empty, not NOT_FOUND.
		if page := must[*impact.Page[impact.StoredWindow]](t)(db.ListWindows(ctx, "i2", f, impact.PageRequest{})); len(page.Items) != 0 {
			t.Errorf("i2 windows: %+v", page.Items)
		}
	})
}

func sortBytes(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestDeleteCustomerWithWindows(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", fullContract("s"), ""))
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		ws := must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{window("c1", "s", 0, 60)}, ""))

		wantCode(t, db.DeleteCustomer(ctx, "c1", ""), impact.EFAILEDPRECOND)
		wantCode(t, db.DeleteIncident(ctx, "i1", "", false), impact.EFAILEDPRECOND)
		if n := count(t, db, "customers", ""); n != 1 {
			t.Fatalf("customer deleted despite windows")
		}
		if err := db.DeleteWindow(ctx, "i1", ws[0].ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, db.DeleteWindow(ctx, "i1", ws[0].ID), impact.ENOTFOUND)
		if err := db.DeleteCustomer(ctx, "c1", ""); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "contracts", ""); n != 0 {
			t.Errorf("contracts survived their customer: %d", n)
		}
	})
}

func TestDeleteIncidentForce(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{window("c1", "s", 0, 60)}, ""))
		must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: "i1"}}, nil))
		if err := db.DeleteIncident(ctx, "i1", "", true); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, "windows", "") + count(t, db, "incident_estimates", ""); n != 0 {
			t.Errorf("%d windows and estimates left", n)
		}
	})
}

func TestBatchFailureLeavesNothing(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, fullIncident("i1"), ""))
		existing := window("c1", "s", 0, 60)
		existing.ID = "w-taken"
		must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{existing}, ""))
		before := map[string]int{}
		for _, table := range []string{"windows", "audit_log", "request_ids"} {
			before[table] = count(t, db, table, "")
		}

		// 1,200 windows: the INSERT of the third chunk fails on the primary
		// key of the window stored above, after two chunks went in.
		ws := make([]impact.StoredWindow, 1200)
		for i := range ws {
			ws[i] = window("c1", "s", int64(i)*60, int64(i)*60+30)
			ws[i].ID = fmt.Sprintf("w%05d", i)
		}
		ws[1100].ID = "w-taken"
		_, err := db.BatchCreateWindows(ctx, "i1", ws, "req-fail")
		wantCode(t, err, impact.ECONFLICT)
		for table, n := range before {
			if got := count(t, db, table, ""); got != n {
				t.Errorf("%s: %d rows after the failed batch, want %d", table, got, n)
			}
		}

		// A window naming an unknown customer: rejected with its index.
		ws[1100].ID = "w-ok"
		ws[777].CustomerID = "ghost"
		_, err = db.BatchCreateWindows(ctx, "i1", ws, "req-fail")
		wantCode(t, err, impact.EINVALID)
		var ie *impact.Error
		if !errors.As(err, &ie) || len(ie.Violations) != 1 || ie.Violations[0].Field != "requests[777].outage_window.customer_id" {
			t.Errorf("violations: %v", err)
		}
		// The failed attempts did not consume the request id.
		ws[777].CustomerID = "c1"
		got := must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", ws, "req-fail"))
		if len(got) != 1200 || got[1100].ID != "w-ok" || got[0].Name != "incidents/i1/windows/w00000" {
			t.Errorf("batch result: %d windows", len(got))
		}
		if n := count(t, db, "windows", ""); n != 1201 {
			t.Errorf("windows: %d, want 1201", n)
		}
		// Other invalid batches.
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", nil, "")), impact.EINVALID)
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", make([]impact.StoredWindow, impact.MaxBatchWindows+1), "")), impact.EINVALID)
		bad := window("c1", "s", 60, 60)
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{bad}, "")), impact.EINVALID)
	})
}

func TestAuditRows(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, fullCustomer("c1"), ""))
		alice := impact.WithActor(ctx, "alice")
		must[*impact.StoredCustomer](t)(db.UpdateCustomer(alice, &impact.Customer{ID: "c1", DisplayName: "x"}, impact.FieldMask{"display_name"}, ""))
		must[*impact.StoredIncident](t)(db.CreateIncident(alice, fullIncident("i1"), ""))
		must[[]impact.StoredWindow](t)(db.BatchCreateWindows(alice, "i1", []impact.StoredWindow{window("c1", "s", 0, 60)}, ""))
		must[*impact.StoredEstimate](t)(db.SaveEstimate(alice, &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: "i1"}}, nil))
		if err := db.DeleteIncident(alice, "i1", "", true); err != nil {
			t.Fatal(err)
		}
		type row struct{ Actor, Action, Resource, Detail string }
		var got []row
		if err := db.SQL().Select(&got, `SELECT actor AS "actor", action AS "action", resource AS "resource", detail AS "detail" FROM audit_log ORDER BY id`); err != nil {
			t.Fatal(err)
		}
		want := []row{
			{"anonymous", "CreateCustomer", "customers/c1", ""},
			{"alice", "UpdateCustomer", "customers/c1", "display_name"},
			{"alice", "CreateIncident", "incidents/i1", ""},
			{"alice", "BatchCreateWindows", "incidents/i1", "1 windows"},
			{"alice", "EstimateIncident", "incidents/i1/estimate", "revision 1"},
			{"alice", "DeleteIncident", "incidents/i1", "force"},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
		if n := count(t, db, "audit_log", ""); n != len(want) {
			t.Errorf("%d rows", n)
		}
	})
}
