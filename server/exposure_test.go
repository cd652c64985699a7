package server_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/shopspring/decimal"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// Exposure over a real store on both engines: a simulated outage equals
// the :estimate of the same outage once stored, figure for figure; totals
// grow with the duration; headroom's seconds are the least that reach a
// tier, checked by storing outages of that length.

var clock = time.Date(2025, 7, 20, 9, 0, 0, 0, time.UTC)

func eachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Close() })
		b := make([]byte, 6)
		rand.Read(b)
		name := "impact_exposure_" + hex.EncodeToString(b)
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
		u, _ := url.Parse(dsn)
		u.Path = "/" + name
		db, err := store.Open(context.Background(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// seedBook stores n customers in three currencies and two regions, with
// contracts of every granularity, minimum length, cap, minimum credit,
// exclusion, DEPLOYED and quarterly billing, and some stored outages.
func seedBook(t testing.TB, db *store.DB, n int, seed uint64) {
	t.Helper()
	ctx := context.Background()
	rng := mrand.New(mrand.NewPCG(seed, 15))
	currencies := []string{"USD", "EUR", "JPY"}
	zones := []string{"", "Europe/Berlin", "America/New_York", "Asia/Kolkata"}
	var ws []impact.StoredWindow
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		region := "eu-west-1"
		if i%3 == 0 {
			region = "us-east-1"
		}
		c := &impact.Customer{ID: id, Currency: currencies[i%3], TimeZone: zones[i%4],
			Baseline:      impact.Baseline{HourlyAmount: fmt.Sprintf("%d.%02d", 10+rng.IntN(5000), rng.IntN(100)), RecaptureRate: []string{"", "0.25", "0.5"}[i%3]},
			LifetimeValue: fmt.Sprint(1000 + rng.IntN(100000)), ChurnProbability: fmt.Sprintf("0.0%d", rng.IntN(10)),
			Labels: map[string]string{"region": region, "tier": []string{"gold", "silver"}[i%2]}}
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
		for j, svc := range []string{"compute", "storage"} {
			if j == 1 && i%2 == 0 {
				continue
			}
			k := &impact.Contract{Service: svc, MonthlyFee: fmt.Sprintf("%d.%02d", 100+rng.IntN(20000), rng.IntN(100)),
				TimeZone: zones[(i+j)%4],
				Tiers: []impact.CreditTier{{UptimeBelow: "99.99", CreditPercent: "5"}, {UptimeBelow: "99.9", CreditPercent: "10", Inclusive: i%5 == 0},
					{UptimeBelow: "99.5", CreditPercent: "25"}, {UptimeBelow: "99", CreditPercent: "50"}}}
			switch i % 7 {
			case 1:
				k.Granularity = impact.MinutesTouched
			case 2:
				k.Granularity, k.MinDowntimeSeconds = impact.MinutesFull, 300
			case 3:
				k.CreditCapPercent, k.MinCreditAmount = "20", "50"
			case 4:
				k.ExcludedCauses = []impact.Cause{impact.PowerFailure}
				k.Labels = map[string]string{"fm": "power"}
			case 5:
				k.Denominator, k.ActiveFrom = impact.Deployed, time.Date(2025, 7, 10, 0, 0, 0, 0, time.UTC)
			case 6:
				k.BillingPeriod = impact.Quarterly
				k.MinDowntimeSeconds = 60
			}
			if j == 1 && i%4 == 1 {
				k.Labels = map[string]string{"region": "us-east-1"} // overrides the customer's region
			}
			if _, err := db.CreateContract(ctx, id, k, ""); err != nil {
				t.Fatal(err)
			}
			if rng.IntN(2) == 0 {
				start := time.Date(2025, 7, 1+rng.IntN(29), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
				ws = append(ws, impact.StoredWindow{OutageWindow: impact.OutageWindow{CustomerID: id, Service: svc,
					Start: start, End: start.Add(time.Duration(60+rng.IntN(9000)) * time.Second)}})
			}
		}
	}
	for i, cause := range []impact.Cause{impact.HardwareFailure, impact.PowerFailure} {
		id := fmt.Sprintf("stored-%d", i)
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: id, Cause: cause}, ""); err != nil {
			t.Fatal(err)
		}
		var part []impact.StoredWindow
		for j := i; j < len(ws); j += 2 {
			part = append(part, ws[j])
		}
		if len(part) > 0 {
			if _, err := db.BatchCreateWindows(ctx, id, part, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func services(t testing.TB, db *store.DB) (*server.Exposure, *server.Stored) {
	log := testLogger()
	return server.NewExposure(log, db, func() time.Time { return clock }), server.NewStored(log, db)
}

func simulate(t testing.TB, x *server.Exposure, req *impactv1.SimulateOutageRequest) *impactv1.SimulateOutageResponse {
	t.Helper()
	resp, err := x.SimulateOutage(context.Background(), req)
	if err != nil {
		t.Fatalf("SimulateOutage: %v", err)
	}
	return resp
}

func durations(ds ...time.Duration) []*durationpb.Duration {
	var out []*durationpb.Duration
	for _, d := range ds {
		out = append(out, durationpb.New(d))
	}
	return out
}

func money(m *impactv1.Money) string { return m.GetCurrencyCode() + " " + m.GetAmount() }

// TestSimulationEqualsStoredEstimate stores each simulated outage as an
// incident and checks every figure: lost revenue and churn against
// :estimate, every marginal credit's before and after against the
// statements without and with it.
func TestSimulationEqualsStoredEstimate(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedBook(t, db, 40, 1)
		x, st := services(t, db)
		sel := &impactv1.ContractSelector{Labels: map[string]string{"region": "eu-west-1"}}
		start := time.Date(2025, 7, 31, 22, 30, 0, 0, time.UTC) // crosses into August in UTC and in Berlin
		ds := []time.Duration{30 * time.Minute, 2 * time.Hour, 4 * time.Hour}
		resp := simulate(t, x, &impactv1.SimulateOutageRequest{Selector: sel, StartTime: timestamppb.New(start),
			Durations: durations(ds...), Cause: impactv1.Incident_POWER_FAILURE, TopN: 10000})
		selected, err := db.SelectCustomers(ctx, &impact.ContractSelector{Labels: sel.Labels}, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		nContracts := 0
		for _, c := range selected {
			nContracts += len(c.Contracts)
			for _, k := range c.Contracts {
				if v, _ := impact.EffectiveLabel(c.Labels, k.Labels, "region"); v != "eu-west-1" {
					t.Fatalf("%s/%s selected with region %q", c.ID, k.Service, v)
				}
			}
		}
		if len(selected) < 10 || nContracts <= len(selected) {
			t.Fatalf("selection too small: %d customers, %d contracts", len(selected), nContracts)
		}
		positive := 0
		for di, r := range resp.GetResults() {
			if r.GetSelectedContracts() != int64(nContracts) || r.GetSelectedCustomers() != int64(len(selected)) || len(r.GetTop()) != len(selected) {
				t.Fatalf("duration %v: %d contracts, %d customers, %d top; want %d, %d", ds[di], r.GetSelectedContracts(),
					r.GetSelectedCustomers(), len(r.GetTop()), nContracts, len(selected))
			}
			// Before: the statements of the stored windows alone.
			before := map[string]string{}
			for _, c := range r.GetTop() {
				for _, m := range c.GetMarginalCredits() {
					name := impact.StatementName(c.GetCustomerId(), m.GetService(), m.GetPeriod())
					s, err := st.GetContractStatement(ctx, &impactv1.GetContractStatementRequest{Name: name})
					got := ""
					switch {
					case status.Code(err) == codes.NotFound:
						got = m.GetCreditBefore().GetCurrencyCode() + " " + impact.FormatAmount(m.GetCreditBefore().GetCurrencyCode(), decimal.Zero)
					case err != nil:
						t.Fatal(err)
					default:
						got = money(s.GetCreditAmount())
					}
					before[name] = got
					if got != money(m.GetCreditBefore()) {
						t.Errorf("%s before: simulation %s, statement %s", name, money(m.GetCreditBefore()), got)
					}
				}
			}
			// Store the outage and estimate it.
			id := fmt.Sprintf("what-if-%d", di)
			if _, err := db.CreateIncident(ctx, &impact.Incident{ID: id, Cause: impact.PowerFailure}, ""); err != nil {
				t.Fatal(err)
			}
			var ws []impact.StoredWindow
			for _, c := range selected {
				for _, k := range c.Contracts {
					ws = append(ws, impact.StoredWindow{OutageWindow: impact.OutageWindow{CustomerID: c.ID, Service: k.Service, Start: start, End: start.Add(ds[di])}})
				}
			}
			if _, err := db.BatchCreateWindows(ctx, id, ws, ""); err != nil {
				t.Fatal(err)
			}
			est, err := st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: impact.IncidentName(id)})
			if err != nil {
				t.Fatal(err)
			}
			byID := map[string]*impactv1.CustomerEstimate{}
			for _, ce := range est.GetCustomers() {
				byID[ce.GetCustomerId()] = ce
			}
			var sumCredit = map[string]decimal.Decimal{}
			for _, c := range r.GetTop() {
				ce := byID[c.GetCustomerId()]
				if ce == nil {
					t.Fatalf("%s not in the estimate", c.GetCustomerId())
				}
				for _, pair := range [][2]*impactv1.Money{{c.GetLostRevenue().GetGross(), ce.GetLostRevenue().GetGross()},
					{c.GetLostRevenue().GetNet(), ce.GetLostRevenue().GetNet()}, {c.GetLostRevenue().GetRecaptured(), ce.GetLostRevenue().GetRecaptured()},
					{c.GetChurnExposure(), ce.GetChurnExposure()}} {
					if money(pair[0]) != money(pair[1]) {
						t.Errorf("%s: simulation %s, estimate %s", c.GetCustomerId(), money(pair[0]), money(pair[1]))
					}
				}
				for _, m := range c.GetMarginalCredits() {
					name := impact.StatementName(c.GetCustomerId(), m.GetService(), m.GetPeriod())
					s, err := st.GetContractStatement(ctx, &impactv1.GetContractStatementRequest{Name: name})
					if err != nil {
						t.Fatal(err)
					}
					if money(s.GetCreditAmount()) != money(m.GetCreditAfter()) {
						t.Errorf("%s after: simulation %s, statement %s", name, money(m.GetCreditAfter()), money(s.GetCreditAmount()))
					}
					a, _ := decimal.NewFromString(m.GetCreditAfter().GetAmount())
					b, _ := decimal.NewFromString(m.GetCreditBefore().GetAmount())
					mg, _ := decimal.NewFromString(m.GetMarginal().GetAmount())
					if !a.Sub(b).Equal(mg) {
						t.Errorf("%s: marginal %s ≠ %s − %s", name, mg, a, b)
					}
					if mg.Sign() > 0 {
						positive++
					}
					cur := m.GetMarginal().GetCurrencyCode()
					sumCredit[cur] = sumCredit[cur].Add(mg)
				}
			}
			for _, tot := range r.GetTotals() {
				want := impact.FormatAmount(tot.GetCurrencyCode(), sumCredit[tot.GetCurrencyCode()])
				if tot.GetMarginalCredit() != want {
					t.Errorf("%s total marginal %s, sum of customers %s", tot.GetCurrencyCode(), tot.GetMarginalCredit(), want)
				}
			}
			if _, err := st.DeleteIncident(ctx, &impactv1.DeleteIncidentRequest{Name: impact.IncidentName(id), Force: true}); err != nil {
				t.Fatal(err)
			}
		}
		if positive == 0 {
			t.Fatal("no marginal credit was positive: the test proves nothing")
		}
	})
}

// TestSimulationMonotoneAndExclusions: totals never fall as the duration
// grows (recaptured may, model.md §11), and contracts that exclude the
// cause owe nothing more.
func TestSimulationMonotoneAndExclusions(t *testing.T) {
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedBook(t, db, 60, 2)
	x, _ := services(t, db)
	rng := mrand.New(mrand.NewPCG(3, 3))
	for iter := range 8 {
		start := time.Date(2025, 7, 1+rng.IntN(30), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		var ds []time.Duration
		d := time.Duration(1+rng.IntN(600)) * time.Second
		for range 5 {
			ds = append(ds, d)
			d += time.Duration(1+rng.IntN(20000)) * time.Second
		}
		resp := simulate(t, x, &impactv1.SimulateOutageRequest{StartTime: timestamppb.New(start), Durations: durations(ds...),
			ImpactFraction: []string{"", "0.5", "1"}[iter%3], Cause: impactv1.Incident_HARDWARE_FAILURE,
			ReportingCurrency: "USD", FxRates: []*impactv1.FxRate{{FromCurrency: "EUR", ToCurrency: "USD", Rate: "1.0842"}, {FromCurrency: "JPY", ToCurrency: "USD", Rate: "0.0068"}}})
		prev := map[string][]decimal.Decimal{}
		for _, r := range resp.GetResults() {
			for _, tot := range append(r.GetTotals(), r.GetReportingTotals()) {
				cur := []decimal.Decimal{dec(tot.GetLostRevenueGross()), dec(tot.GetLostRevenueNet()), dec(tot.GetChurnExposure()), dec(tot.GetMarginalCredit())}
				key := tot.GetCurrencyCode()
				if tot == r.GetReportingTotals() {
					key = "reporting"
				}
				if p, ok := prev[key]; ok {
					for i := range cur {
						if cur[i].LessThan(p[i]) {
							t.Fatalf("iter %d %s: figure %d fell from %s to %s at %v", iter, key, i, p[i], cur[i], r.GetDuration().AsDuration())
						}
					}
				}
				prev[key] = cur
			}
		}
	}
	// Every contract labelled fm=power excludes POWER_FAILURE.
	resp := simulate(t, x, &impactv1.SimulateOutageRequest{Selector: &impactv1.ContractSelector{Labels: map[string]string{"fm": "power"}},
		StartTime: timestamppb.New(time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)), Durations: durations(time.Hour, 72*time.Hour),
		Cause: impactv1.Incident_POWER_FAILURE})
	for _, r := range resp.GetResults() {
		if r.GetSelectedContracts() == 0 {
			t.Fatal("no contract selected")
		}
		for _, tot := range r.GetTotals() {
			if !dec(tot.GetMarginalCredit()).IsZero() || dec(tot.GetLostRevenueGross()).IsZero() {
				t.Errorf("excluded cause: %v", tot)
			}
		}
	}
}

func dec(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		panic(s)
	}
	return d
}

func TestSimulationTopOrder(t *testing.T) {
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedBook(t, db, 30, 4)
	x, _ := services(t, db)
	req := &impactv1.SimulateOutageRequest{StartTime: timestamppb.New(time.Date(2025, 7, 15, 0, 0, 0, 0, time.UTC)),
		Durations: durations(8 * time.Hour), ReportingCurrency: "EUR",
		FxRates: []*impactv1.FxRate{{FromCurrency: "USD", ToCurrency: "EUR", Rate: "0.92"}, {FromCurrency: "JPY", ToCurrency: "EUR", Rate: "0.0062"}}}
	all := simulate(t, x, req).GetResults()[0].GetTop()
	if len(all) != 30 {
		t.Fatalf("%d customers in the top, want all 30", len(all))
	}
	rate := map[string]decimal.Decimal{"EUR": dec("1"), "USD": dec("0.92"), "JPY": dec("0.0062")}
	key := func(c *impactv1.SimulatedCustomer) (decimal.Decimal, decimal.Decimal) {
		r := rate[c.GetMarginalCredit().GetCurrencyCode()]
		return dec(c.GetMarginalCredit().GetAmount()).Mul(r), dec(c.GetLostRevenue().GetNet().GetAmount()).Mul(r)
	}
	for i := 1; i < len(all); i++ {
		a1, a2 := key(all[i-1])
		b1, b2 := key(all[i])
		if a1.LessThan(b1) || (a1.Equal(b1) && (a2.LessThan(b2) || (a2.Equal(b2) && all[i-1].GetCustomerId() > all[i].GetCustomerId()))) {
			t.Fatalf("top out of order at %d: %v before %v", i, all[i-1], all[i])
		}
	}
	req.TopN = 7
	top := simulate(t, x, req).GetResults()[0].GetTop()
	var ids, want []string
	for i := range top {
		ids, want = append(ids, top[i].GetCustomerId()), append(want, all[i].GetCustomerId())
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("top 7 %v, want %v", ids, want)
	}
}

func TestSimulationBadInput(t *testing.T) {
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x, _ := services(t, db)
	ok := func() *impactv1.SimulateOutageRequest {
		return &impactv1.SimulateOutageRequest{StartTime: timestamppb.New(clock), Durations: durations(time.Hour)}
	}
	many := make([]time.Duration, impact.MaxSimulationDurations+1)
	for i := range many {
		many[i] = time.Minute
	}
	cases := []struct {
		name  string
		mod   func(r *impactv1.SimulateOutageRequest)
		field string
	}{
		{"label key", func(r *impactv1.SimulateOutageRequest) {
			r.Selector = &impactv1.ContractSelector{Labels: map[string]string{"Region": "eu"}}
		}, `selector.labels["Region"]`},
		{"label value", func(r *impactv1.SimulateOutageRequest) {
			r.Selector = &impactv1.ContractSelector{Labels: map[string]string{"region": "EU West"}}
		}, `selector.labels["region"]`},
		{"zero duration", func(r *impactv1.SimulateOutageRequest) { r.Durations = durations(0) }, "durations[0]"},
		{"negative duration", func(r *impactv1.SimulateOutageRequest) { r.Durations = durations(time.Hour, -time.Second) }, "durations[1]"},
		{"no duration", func(r *impactv1.SimulateOutageRequest) { r.Durations = nil }, "durations"},
		{"too many durations", func(r *impactv1.SimulateOutageRequest) { r.Durations = durations(many...) }, "durations"},
		{"start before 1970", func(r *impactv1.SimulateOutageRequest) {
			r.StartTime = timestamppb.New(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC))
		}, "start_time"},
		{"start after 2200", func(r *impactv1.SimulateOutageRequest) {
			r.StartTime = timestamppb.New(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
		}, "start_time"},
		{"no start", func(r *impactv1.SimulateOutageRequest) { r.StartTime = nil }, "start_time"},
		{"top_n", func(r *impactv1.SimulateOutageRequest) { r.TopN = 10001 }, "top_n"},
		{"fraction", func(r *impactv1.SimulateOutageRequest) { r.ImpactFraction = "1.5" }, "impact_fraction"},
		{"cause", func(r *impactv1.SimulateOutageRequest) { r.Cause = 99 }, "cause"},
		{"reporting", func(r *impactv1.SimulateOutageRequest) { r.ReportingCurrency = "XXY" }, "reporting_currency"},
		{"customer id", func(r *impactv1.SimulateOutageRequest) {
			r.Selector = &impactv1.ContractSelector{CustomerIds: []string{"a/b"}}
		}, "selector.customer_ids[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.mod(r)
			_, err := x.SimulateOutage(context.Background(), r)
			wantViolation(t, err, tc.field)
		})
	}
	// A good request on an empty book: zero everywhere, no error.
	resp := simulate(t, x, ok())
	if r := resp.GetResults()[0]; r.GetSelectedContracts() != 0 || len(r.GetTotals()) != 0 {
		t.Errorf("empty book: %v", r)
	}
	// Headroom: unknown period names.
	for _, p := range []string{"2025-13", "2025-Q3", "July", "1969-12"} {
		seedOne(t, db)
		_, err := x.GetContractHeadroom(context.Background(), &impactv1.GetContractHeadroomRequest{Contract: "customers/one/contracts/compute", Period: p})
		wantViolation(t, err, "period")
	}
	_, err = x.GetContractHeadroom(context.Background(), &impactv1.GetContractHeadroomRequest{Contract: "customers/nobody/contracts/x", Period: "2025-13"})
	wantViolation(t, err, "period")
	_, err = x.ListContractHeadroom(context.Background(), &impactv1.ListContractHeadroomRequest{Period: "2025-W3"})
	wantViolation(t, err, "period")
	_, err = x.ListContractHeadroom(context.Background(), &impactv1.ListContractHeadroomRequest{PageToken: "garbage"})
	wantViolation(t, err, "page_token")
}

func seedOne(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if _, err := db.GetCustomer(ctx, "one"); err == nil {
		return
	}
	if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "one", Currency: "USD"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateContract(ctx, "one", &impact.Contract{Service: "compute", MonthlyFee: "730.00",
		Tiers: []impact.CreditTier{{UptimeBelow: "99.5", CreditPercent: "10"}}}, ""); err != nil {
		t.Fatal(err)
	}
}

func wantViolation(t *testing.T, err error, field string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT on %s", err, field)
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if !slices.Contains(fields, field) {
		t.Fatalf("violations %v, want one on %s (%v)", fields, field, err)
	}
}

// TestHeadroomThroughTheStore: the default period comes from the server's
// clock; the seconds it reports are the least that reach each tier, as
// stored outages of Δ − 1 and Δ seconds show in the statement; the list is
// ordered by those seconds and pages without loss or repeat.
func TestHeadroomThroughTheStore(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedBook(t, db, 24, 5)
		x, st := services(t, db)
		h, err := x.GetContractHeadroom(ctx, &impactv1.GetContractHeadroomRequest{Contract: "customers/c001/contracts/compute"})
		if err != nil {
			t.Fatal(err)
		}
		if h.GetPeriod() != "2025-07" {
			t.Fatalf("default period %s, want 2025-07 (the clock's)", h.GetPeriod())
		}
		checked := 0
		for _, tier := range h.GetTiers() {
			if !tier.GetReachable() {
				continue
			}
			delta := tier.GetAdditionalDowntimeSeconds()
			for _, n := range []int64{delta - 1, delta} {
				if n <= 0 {
					continue
				}
				// c001 is MINUTES_TOUCHED (1 % 7): start on a minute, after
				// everything stored, in a gap of July.
				start := time.Date(2025, 7, 31, 0, 0, 0, 0, time.UTC).Add(-time.Duration(n) * time.Second).Truncate(time.Minute)
				if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "probe"}, ""); err != nil {
					t.Fatal(err)
				}
				if _, err := db.BatchCreateWindows(ctx, "probe", []impact.StoredWindow{{OutageWindow: impact.OutageWindow{
					CustomerID: "c001", Service: "compute", Start: start, End: start.Add(time.Duration(n) * time.Second)}}}, ""); err != nil {
					t.Fatal(err)
				}
				s, err := st.GetContractStatement(ctx, &impactv1.GetContractStatementRequest{Name: "customers/c001/contracts/compute/statements/2025-07"})
				if err != nil {
					t.Fatal(err)
				}
				reached := dec(s.GetUptimePercent()).LessThan(dec(tier.GetUptimeBelow())) || dec(s.GetCreditPercent()).GreaterThanOrEqual(dec(tier.GetCreditPercent()))
				if reached != (n == delta) {
					t.Errorf("tier %s: %d s gives uptime %s, credit %s%%; Δ = %d", tier.GetUptimeBelow(), n, s.GetUptimePercent(), s.GetCreditPercent(), delta)
				}
				if _, err := st.DeleteIncident(ctx, &impactv1.DeleteIncidentRequest{Name: "incidents/probe", Force: true}); err != nil {
					t.Fatal(err)
				}
				checked++
			}
		}
		if checked < 4 {
			t.Fatalf("only %d probes", checked)
		}

		var all []*impactv1.ContractHeadroom
		one, err := x.ListContractHeadroom(ctx, &impactv1.ListContractHeadroomRequest{PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for tok := ""; ; {
			page, err := x.ListContractHeadroom(ctx, &impactv1.ListContractHeadroomRequest{PageSize: 4, PageToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.GetHeadroom()...)
			if tok = page.GetNextPageToken(); tok == "" {
				break
			}
		}
		if len(all) != len(one.GetHeadroom()) || len(all) < 20 {
			t.Fatalf("paged %d, one page %d", len(all), len(one.GetHeadroom()))
		}
		next := func(h *impactv1.ContractHeadroom) (bool, int64) {
			for _, t := range h.GetTiers() {
				if t.GetReachable() {
					return true, t.GetAdditionalDowntimeSeconds()
				}
			}
			return false, 0
		}
		for i := range all {
			if all[i].GetContract() != one.GetHeadroom()[i].GetContract() {
				t.Fatalf("page order differs at %d", i)
			}
			if i == 0 {
				continue
			}
			r1, s1 := next(all[i-1])
			r2, s2 := next(all[i])
			if (!r1 && r2) || (r1 == r2 && (s1 > s2 || (s1 == s2 && all[i-1].GetContract() > all[i].GetContract()))) {
				t.Fatalf("out of order at %d: %s (%v %d) before %s (%v %d)", i, all[i-1].GetContract(), r1, s1, all[i].GetContract(), r2, s2)
			}
		}
		// The selector narrows it.
		eu, err := x.ListContractHeadroom(ctx, &impactv1.ListContractHeadroomRequest{
			Selector: &impactv1.ContractSelector{Labels: map[string]string{"region": "us-east-1"}, Services: []string{"storage"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(eu.GetHeadroom()) == 0 || len(eu.GetHeadroom()) >= len(all) {
			t.Fatalf("selector kept %d of %d", len(eu.GetHeadroom()), len(all))
		}
		for _, h := range eu.GetHeadroom() {
			if !strings.HasSuffix(h.GetContract(), "/contracts/storage") {
				t.Errorf("%s selected", h.GetContract())
			}
		}
	})
}

// Viewers may ask exposure questions: they write nothing.
func TestExposureRoles(t *testing.T) {
	for _, m := range []string{impactv1.ExposureService_GetContractHeadroom_FullMethodName,
		impactv1.ExposureService_ListContractHeadroom_FullMethodName, impactv1.ExposureService_SimulateOutage_FullMethodName} {
		if r := server.RequiredRole(m); r != server.Viewer {
			t.Errorf("%s needs %v, want viewer", m, r)
		}
	}
	if r := server.RequiredRole(impactv1.CustomerService_UpdateCustomer_FullMethodName); r != server.Editor {
		t.Errorf("editing labels (UpdateCustomer) needs %v, want editor", r)
	}
}

// A rate missing for a selected customer's currency is INVALID_ARGUMENT on
// fx_rates, never a silent zero; the chunk pipeline stops cleanly.
func TestSimulationMissingRate(t *testing.T) {
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	seedBook(t, db, 12, 6)
	x, _ := services(t, db)
	_, err = x.SimulateOutage(context.Background(), &impactv1.SimulateOutageRequest{StartTime: timestamppb.New(clock),
		Durations: durations(time.Hour), ReportingCurrency: "USD",
		FxRates: []*impactv1.FxRate{{FromCurrency: "EUR", ToCurrency: "USD", Rate: "1.08"}}}) // no JPY rate
	wantViolation(t, err, "fx_rates")
}
