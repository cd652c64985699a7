package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// Fresh stored figures (README "Fresh figures"), as a property: random
// creates, updates and deletes over stored data, on both engines. After
// every write, every stored estimate is STALE exactly when what :estimate
// would compute now has other inputs (another inputs digest) than the
// stored revision. After the refresh (driven directly, not slept for):
// every estimate is CURRENT, equals a stateless estimate of all the stored
// data figure for figure, and every statement's credit is exactly the sum
// of the stored per-incident credits.

func eachStore(t *testing.T, fn func(t *testing.T, db *store.DB)) {
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
		db, err := store.Open(context.Background(), freshPostgres(t, dsn))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db)
	})
}

// freshWorld drives one random history.
type freshWorld struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	st  *server.Stored
	rc  *estimating.Recomputer
	rng *rand.Rand
	n   int // ids made so far
}

var freshBase = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

func (w *freshWorld) id(prefix string) string {
	w.n++
	return fmt.Sprintf("%s%03d", prefix, w.n)
}

func (w *freshWorld) customers() []impact.StoredCustomer {
	p, err := w.db.ListCustomers(w.ctx, impact.PageRequest{Size: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return p.Items
}

func (w *freshWorld) incidents() []impact.StoredIncident {
	p, err := w.db.ListIncidents(w.ctx, impact.PageRequest{Size: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return p.Items
}

func (w *freshWorld) windows(incident string) []impact.StoredWindow {
	p, err := w.db.ListWindows(w.ctx, incident, impact.WindowFilter{}, impact.PageRequest{Size: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return p.Items
}

func (w *freshWorld) contracts(customer string) []impact.StoredContract {
	p, err := w.db.ListContracts(w.ctx, customer, impact.PageRequest{Size: 1000})
	if err != nil {
		w.t.Fatal(err)
	}
	return p.Items
}

func (w *freshWorld) contract(service string) *impact.Contract {
	fee := fmt.Sprintf("%d.%02d", 100+w.rng.IntN(5000), w.rng.IntN(100))
	return &impact.Contract{Service: service, MonthlyFee: fee, Tiers: []impact.CreditTier{
		{UptimeBelow: "99.9", CreditPercent: fmt.Sprint(5 + w.rng.IntN(20))},
		{UptimeBelow: "99", CreditPercent: "50"},
	}}
}

func (w *freshWorld) newWindow(customer string) impact.StoredWindow {
	s := freshBase.Add(time.Duration(w.rng.IntN(70*24)) * time.Hour)
	return impact.StoredWindow{ID: w.id("w"), OutageWindow: impact.OutageWindow{CustomerID: customer,
		Service: []string{"api", "db"}[w.rng.IntN(2)], Start: s, End: s.Add(time.Duration(10+w.rng.IntN(3*24*60)) * time.Minute)}}
}

func (w *freshWorld) newIncident() {
	cs := w.customers()
	in := &impact.Incident{ID: w.id("i"), Title: "outage", Cause: impact.Cause(1 + w.rng.IntN(3)), RecoveryCurrency: "EUR",
		RecoveryItems: []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "x", UnitCost: fmt.Sprint(10 + w.rng.IntN(900))}}}}
	if _, err := w.db.CreateIncident(w.ctx, in, ""); err != nil {
		w.t.Fatal(err)
	}
	var ws []impact.StoredWindow
	for range 1 + w.rng.IntN(3) {
		ws = append(ws, w.newWindow(cs[w.rng.IntN(len(cs))].ID))
	}
	if _, err := w.db.BatchCreateWindows(w.ctx, in.ID, ws, ""); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.st.EstimateIncident(w.ctx, &impactv1.EstimateIncidentRequest{Name: impact.IncidentName(in.ID)}); err != nil {
		w.t.Fatal(err)
	}
}

// step makes one random write and says what it was.
func (w *freshWorld) step() string {
	ctx, db, rng := w.ctx, w.db, w.rng
	cs := w.customers()
	incs := w.incidents()
	c := cs[rng.IntN(len(cs))]
	switch op := rng.IntN(13); op {
	case 0:
		amt := fmt.Sprint(50 + rng.IntN(500))
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: c.ID, Baseline: impact.Baseline{HourlyAmount: amt}},
			impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
			w.t.Fatal(err)
		}
		return "hourly amount of " + c.ID
	case 1:
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: c.ID, Baseline: c.Baseline}, impact.FieldMask{"baseline"}, ""); err != nil {
			w.t.Fatal(err)
		}
		return "no-op update of " + c.ID
	case 2:
		// A write that fails (stale etag) marks nothing.
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: c.ID, DisplayName: "x"}, impact.FieldMask{"display_name"}, `"r999"`); impact.ErrorCode(err) != impact.EABORTED {
			w.t.Fatalf("stale etag: %v", err)
		}
		return "failed update of " + c.ID
	case 3:
		ks := w.contracts(c.ID)
		if len(ks) == 0 {
			if _, err := db.CreateContract(ctx, c.ID, w.contract("api"), ""); err != nil {
				w.t.Fatal(err)
			}
			return "new contract of " + c.ID
		}
		k := ks[rng.IntN(len(ks))]
		if rng.IntN(3) == 0 {
			if err := db.DeleteContract(ctx, c.ID, k.Service, ""); err != nil {
				w.t.Fatal(err)
			}
			return "deleted contract " + k.Name
		}
		if _, err := db.UpdateContract(ctx, c.ID, w.contract(k.Service), impact.FieldMask{"monthly_fee", "tiers"}, ""); err != nil {
			w.t.Fatal(err)
		}
		return "updated contract " + k.Name
	case 4, 5, 6:
		if len(incs) == 0 {
			return "nothing"
		}
		in := incs[rng.IntN(len(incs))]
		win := w.newWindow(c.ID)
		if _, err := db.BatchCreateWindows(ctx, in.ID, []impact.StoredWindow{win}, ""); err != nil {
			w.t.Fatal(err)
		}
		return fmt.Sprintf("window %s of %s for %s %s %s", win.ID, in.ID, c.ID, win.Service, win.Start.Format(time.RFC3339))
	case 7:
		if len(incs) == 0 {
			return "nothing"
		}
		in := incs[rng.IntN(len(incs))]
		ws := w.windows(in.ID)
		if len(ws) == 0 {
			return "nothing"
		}
		x := ws[rng.IntN(len(ws))]
		if err := db.DeleteWindow(ctx, in.ID, x.ID); err != nil {
			w.t.Fatal(err)
		}
		return "deleted " + x.Name
	case 8:
		if len(incs) == 0 {
			return "nothing"
		}
		in := incs[rng.IntN(len(incs))]
		switch rng.IntN(3) {
		case 0:
			if _, err := db.UpdateIncident(ctx, &impact.Incident{ID: in.ID, Cause: impact.Cause(1 + rng.IntN(3))}, impact.FieldMask{"cause"}, ""); err != nil {
				w.t.Fatal(err)
			}
			return "cause of " + in.ID
		case 1:
			if _, err := db.UpdateIncident(ctx, &impact.Incident{ID: in.ID, Allocation: impact.Allocation(1 + rng.IntN(2))}, impact.FieldMask{"allocation"}, ""); err != nil {
				w.t.Fatal(err)
			}
			return "allocation of " + in.ID
		}
		items := []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "y", UnitCost: fmt.Sprint(1 + rng.IntN(999))}}}
		if _, err := db.UpdateIncident(ctx, &impact.Incident{ID: in.ID, RecoveryItems: items}, impact.FieldMask{"recovery_items"}, ""); err != nil {
			w.t.Fatal(err)
		}
		return "recovery of " + in.ID
	case 9:
		w.newIncident()
		return "new incident"
	case 10:
		if len(incs) < 3 {
			return "nothing"
		}
		in := incs[rng.IntN(len(incs))]
		if err := db.DeleteIncident(ctx, in.ID, "", true); err != nil {
			w.t.Fatal(err)
		}
		return "deleted " + in.Name
	case 11:
		rates := []impact.FXRate{{From: "EUR", To: "USD", Rate: []string{"1.1", "1.25"}[rng.IntN(2)]}}
		if rng.IntN(2) == 0 {
			rates = append(rates, impact.FXRate{From: "GBP", To: "USD", Rate: fmt.Sprint(1 + rng.IntN(3))}) // no estimate needs it
		}
		if _, err := db.UpdateReportingSettings(ctx, &impact.ReportingSettings{ReportingCurrency: "USD", FXRates: rates}, nil, ""); err != nil {
			w.t.Fatal(err)
		}
		return fmt.Sprintf("settings %v", rates)
	default:
		if len(incs) == 0 {
			return "nothing"
		}
		in := incs[rng.IntN(len(incs))]
		if _, err := w.st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: in.Name}); err != nil {
			w.t.Fatal(err)
		}
		return ":estimate of " + in.ID
	}
}

// checkStates: STALE exactly when the inputs moved.
func (w *freshWorld) checkStates(after string) {
	for _, in := range w.incidents() {
		e, err := w.db.GetEstimate(w.ctx, in.ID, 0)
		if err != nil {
			w.t.Fatalf("after %s: %v", after, err)
		}
		dry, _, err := estimating.New(w.db, estimating.Options{}).Compute(w.ctx, in.ID, estimating.Reporting{})
		// Its last window gone, an incident's shared recovery items have
		// no one to go to: the stored data cannot be estimated, which
		// surely moved from what was.
		moved := err != nil && impact.ErrorCode(err) == impact.EFAILEDPRECOND
		if err != nil && !moved {
			w.t.Fatalf("after %s: dry estimate of %s: %v", after, in.ID, err)
		}
		if err == nil {
			moved = dry.InputsDigest != e.InputsDigest
		}
		if stale := e.State == impact.StateStale; stale != moved {
			w.t.Errorf("after %s: %s is %s (reasons %v), but its inputs moved: %v", after, in.ID, e.State, e.StaleReasons, moved)
		}
		if e.State == impact.StateStale && len(e.StaleReasons) == 0 {
			w.t.Errorf("after %s: %s STALE without a reason", after, in.ID)
		}
	}
}

// checkConverged: after the refresh, CURRENT, equal to the stateless
// estimate of all the stored data, and statements add up.
func (w *freshWorld) checkConverged() {
	t := w.t
	sc := &impact.Scenario{}
	for _, c := range w.customers() {
		cu := c.Customer
		for _, k := range w.contracts(c.ID) {
			cu.Contracts = append(cu.Contracts, k.Contract)
		}
		sc.Customers = append(sc.Customers, cu)
	}
	stored := map[string]*impact.StoredEstimate{}
	for _, in := range w.incidents() {
		x := in.Incident
		for _, win := range w.windows(in.ID) {
			x.Windows = append(x.Windows, win.OutageWindow)
		}
		e, err := w.db.GetEstimate(w.ctx, in.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(x.Windows) == 0 {
			// Bad stored data (shared recovery, no one to share it): the
			// refresh leaves it STALE, saying why.
			if e.State != impact.StateStale || e.RefreshError == "" {
				t.Errorf("after the refresh %s without windows is %s, refresh error %q", in.ID, e.State, e.RefreshError)
			}
			continue
		}
		sc.Incidents = append(sc.Incidents, x)
		if e.State != impact.StateCurrent {
			t.Errorf("after the refresh %s is %s: %v %s", in.ID, e.State, e.StaleReasons, e.RefreshError)
		}
		stored[in.ID] = e
	}
	settings, err := w.db.GetReportingSettings(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc.ReportingCurrency, sc.FXRates = settings.ReportingCurrency, settings.FXRates
	est, err := impact.EstimateScenario(sc, estimating.StoredLimits())
	if err != nil {
		t.Fatal(err)
	}
	for i := range est.Incidents {
		ie := &est.Incidents[i]
		e := stored[ie.IncidentID]
		if d := impact.CompareEstimates(e, &impact.StoredEstimate{IncidentEstimate: *ie, ModelVersion: est.ModelVersion}); d.Changed {
			t.Errorf("%s: stored estimate differs from the stateless one: %d customers, %v", ie.IncidentID, d.CustomersChanged, d.Differences)
		}
	}
	for _, s := range est.Statements {
		sum := decimal.Zero
		for _, share := range s.Incidents {
			for _, ce := range stored[share.IncidentID].Customers {
				if ce.CustomerID != s.CustomerID {
					continue
				}
				for _, ac := range ce.SLACredits {
					if ac.Service == s.Service && ac.PeriodStart.Equal(s.PeriodStart) {
						sum = sum.Add(ac.Credit.Amount)
					}
				}
			}
		}
		if !sum.Equal(s.CreditAmount.Amount) {
			t.Errorf("statement %s/%s %s: stored per-incident credits add up to %s, the statement owes %s",
				s.CustomerID, s.Service, s.PeriodStart.Format("2006-01"), sum, s.CreditAmount.Amount)
		}
	}
}

func TestFreshProperty(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB) {
		seeds := []uint64{1, 2, 3}
		if db.Engine() == store.Postgres {
			seeds = seeds[:2]
		}
		for _, seed := range seeds {
			ctx := impact.WithActor(context.Background(), "test")
			w := &freshWorld{t: t, ctx: ctx, db: db, st: server.NewStored(slog.New(slog.DiscardHandler), db),
				rc:  estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Refresh: true, RefreshDelay: 0}),
				rng: rand.New(rand.NewPCG(seed, 13))}
			if _, err := db.UpdateReportingSettings(ctx, &impact.ReportingSettings{ReportingCurrency: "USD",
				FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}, nil, ""); err != nil {
				t.Fatal(err)
			}
			for range 4 {
				c := &impact.Customer{ID: w.id("c"), DisplayName: "C", Currency: []string{"USD", "EUR"}[w.rng.IntN(2)],
					Baseline: impact.Baseline{HourlyAmount: fmt.Sprint(100 + w.rng.IntN(900))}}
				if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
					t.Fatal(err)
				}
				if w.rng.IntN(4) > 0 {
					if _, err := db.CreateContract(ctx, c.ID, w.contract("api"), ""); err != nil {
						t.Fatal(err)
					}
				}
			}
			for range 3 {
				w.newIncident()
			}
			w.checkStates("seeding")
			var history []string
			for i := range 45 {
				what := w.step()
				history = append(history, what)
				w.checkStates(what)
				if i%15 == 14 {
					if _, err := w.rc.RefreshPending(ctx); err != nil {
						t.Fatal(err)
					}
					w.checkConverged()
				}
				if t.Failed() {
					t.Fatalf("seed %d, history:\n%s", seed, joinLines(history))
				}
			}
			if _, err := w.rc.RefreshPending(ctx); err != nil {
				t.Fatal(err)
			}
			w.checkConverged()
			// Every incident of this seed is deleted before the next, so
			// seeds do not see each other's data.
			for _, in := range w.incidents() {
				if err := db.DeleteIncident(ctx, in.ID, "", true); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range w.customers() {
				if err := db.DeleteCustomer(ctx, c.ID, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

func joinLines(ls []string) string {
	s := ""
	for i, l := range ls {
		s += fmt.Sprintf("%3d %s\n", i, l)
	}
	return s
}

// TestFreshStories: the stories of the README's "Fresh figures", on both
// engines, with worked figures.
func TestFreshStories(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := impact.WithActor(context.Background(), "test")
		st := server.NewStored(slog.New(slog.DiscardHandler), db)
		rc := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Refresh: true})
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		estimate := func(id string) *impactv1.IncidentEstimate {
			t.Helper()
			e, err := st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: impact.IncidentName(id)})
			must(err)
			return e
		}
		get := func(id string) *impact.StoredEstimate {
			t.Helper()
			e, err := db.GetEstimate(ctx, id, 0)
			must(err)
			return e
		}
		at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
		_, err := db.CreateCustomer(ctx, &impact.Customer{ID: "helios", DisplayName: "Helios", Currency: "USD",
			Baseline: impact.Baseline{HourlyAmount: "100"}}, "")
		must(err)
		// Tiers: < 99.9 % → 10 %, < 99 % → 50 % of 5000.00 a month.
		_, err = db.CreateContract(ctx, "helios", &impact.Contract{Service: "api", MonthlyFee: "5000.00",
			Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}, {UptimeBelow: "99", CreditPercent: "50"}}}, "")
		must(err)
		_, err = db.CreateIncident(ctx, &impact.Incident{ID: "oct-a", Title: "a"}, "")
		must(err)
		// 2 h in October (744 h): uptime 99.731 % → 10 % = 500.00.
		_, err = db.BatchCreateWindows(ctx, "oct-a", []impact.StoredWindow{{ID: "w1", OutageWindow: impact.OutageWindow{
			CustomerID: "helios", Service: "api", Start: at("2025-10-06T10:00:00Z"), End: at("2025-10-06T12:00:00Z")}}}, "")
		must(err)
		e1 := estimate("oct-a")
		if e1.GetRevision() != 1 || e1.GetState() != impactv1.IncidentEstimate_CURRENT {
			t.Fatalf(":estimate: revision %d %s", e1.GetRevision(), e1.GetState())
		}
		// No empty revisions: the same inputs again answer revision 1.
		if again := estimate("oct-a"); again.GetRevision() != 1 {
			t.Errorf("second :estimate wrote revision %d", again.GetRevision())
		}

		// The baseline rises: STALE at once, naming the customer; the
		// figures are still the old ones (100 × 2 h = 200.00).
		_, err = db.UpdateCustomer(ctx, &impact.Customer{ID: "helios", Baseline: impact.Baseline{HourlyAmount: "150"}},
			impact.FieldMask{"baseline.hourly_amount"}, "")
		must(err)
		e := get("oct-a")
		if e.State != impact.StateStale || !slices.Equal(e.StaleReasons, []string{"customers/helios"}) ||
			e.Customers[0].LostRevenue.Gross.Amount.String() != "200" {
			t.Errorf("after the baseline: %s %v gross %s", e.State, e.StaleReasons, e.Customers[0].LostRevenue.Gross.Amount)
		}
		// Back to 100: the inputs are what the estimate was computed from.
		_, err = db.UpdateCustomer(ctx, &impact.Customer{ID: "helios", Baseline: impact.Baseline{HourlyAmount: "100"}},
			impact.FieldMask{"baseline.hourly_amount"}, "")
		must(err)
		if e := get("oct-a"); e.State != impact.StateCurrent {
			t.Errorf("after undoing the baseline: %s %v", e.State, e.StaleReasons)
		}
		_, err = db.UpdateCustomer(ctx, &impact.Customer{ID: "helios", Baseline: impact.Baseline{HourlyAmount: "150"}},
			impact.FieldMask{"baseline.hourly_amount"}, "")
		must(err)

		// A quiet delay not yet over refreshes nothing.
		slow := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Refresh: true, RefreshDelay: time.Hour})
		if rep, err := slow.RefreshPending(ctx); err != nil || rep.Estimates != 0 {
			t.Errorf("refresh within the quiet delay: %+v %v", rep, err)
		}
		rep, err := rc.RefreshPending(ctx)
		must(err)
		e = get("oct-a")
		// 150 × 2 h = 300.00.
		if rep.Revisions != 1 || e.Revision != 2 || e.Source != impact.SourceRefresh || e.State != impact.StateCurrent ||
			e.Customers[0].LostRevenue.Gross.Amount.String() != "300" {
			t.Errorf("after the refresh: %+v; revision %d %s %s gross %s", rep, e.Revision, e.Source, e.State, e.Customers[0].LostRevenue.Gross.Amount)
		}

		// A second incident lands in October: 6 h more, 8 h in all,
		// uptime 98.925 % → 50 % = 2500.00, shared by downtime 2:6 =
		// 625.00 + 1875.00. The first estimate is STALE until refreshed.
		_, err = db.CreateIncident(ctx, &impact.Incident{ID: "oct-b", Title: "b"}, "")
		must(err)
		_, err = db.BatchCreateWindows(ctx, "oct-b", []impact.StoredWindow{{ID: "w1", OutageWindow: impact.OutageWindow{
			CustomerID: "helios", Service: "api", Start: at("2025-10-20T00:00:00Z"), End: at("2025-10-20T06:00:00Z")}}}, "")
		must(err)
		if b := estimate("oct-b"); b.GetCustomers()[0].GetSlaCredits()[0].GetCredit().GetAmount() != "1875.00" {
			t.Errorf("oct-b credit %v", b.GetCustomers()[0].GetSlaCredits())
		}
		if e := get("oct-a"); e.State != impact.StateStale || !slices.Equal(e.StaleReasons, []string{"incidents/oct-b/windows/w1"}) {
			t.Errorf("oct-a after oct-b's window: %s %v", e.State, e.StaleReasons)
		}
		_, err = rc.RefreshPending(ctx)
		must(err)
		if e := get("oct-a"); e.State != impact.StateCurrent || e.Customers[0].SLACredits[0].Credit.Amount.StringFixed(2) != "625.00" {
			t.Errorf("oct-a after the refresh: %s credit %v", e.State, e.Customers[0].SLACredits)
		}
		sta, err := st.GetContractStatement(ctx, &impactv1.GetContractStatementRequest{Name: "customers/helios/contracts/api/statements/2025-10"})
		must(err)
		if sta.GetCreditAmount().GetAmount() != "2500.00" || len(sta.GetIncidents()) != 2 {
			t.Errorf("October statement: %v", sta)
		}

		// The only window of oct-b goes: oct-b is STALE, and after the
		// refresh it has no customers and oct-a has the whole 500.00.
		must(db.DeleteWindow(ctx, "oct-b", "w1"))
		if e := get("oct-b"); e.State != impact.StateStale {
			t.Errorf("oct-b without windows: %s", e.State)
		}
		_, err = rc.RefreshPending(ctx)
		must(err)
		if e := get("oct-b"); e.State != impact.StateCurrent || len(e.Customers) != 0 {
			t.Errorf("oct-b after the refresh: %s, %d customers", e.State, len(e.Customers))
		}
		if e := get("oct-a"); e.Customers[0].SLACredits[0].Credit.Amount.StringFixed(2) != "500.00" {
			t.Errorf("oct-a alone again: %v", e.Customers[0].SLACredits)
		}

		// Bad stored data: a shared recovery item and no window left. The
		// refresh leaves that estimate STALE with why, and refreshes the
		// others.
		_, err = db.CreateIncident(ctx, &impact.Incident{ID: "bad", Title: "c", RecoveryCurrency: "USD",
			RecoveryItems: []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "ups", UnitCost: "90"}}}}, "")
		must(err)
		_, err = db.BatchCreateWindows(ctx, "bad", []impact.StoredWindow{{ID: "w1", OutageWindow: impact.OutageWindow{
			CustomerID: "helios", Service: "db", Start: at("2025-12-01T00:00:00Z"), End: at("2025-12-01T01:00:00Z")}}}, "")
		must(err)
		estimate("bad")
		must(db.DeleteWindow(ctx, "bad", "w1"))
		_, err = db.UpdateCustomer(ctx, &impact.Customer{ID: "helios", Baseline: impact.Baseline{HourlyAmount: "120"}},
			impact.FieldMask{"baseline.hourly_amount"}, "")
		must(err)
		rep, err = rc.RefreshPending(ctx)
		must(err)
		if rep.Failed != 1 || rep.Revisions != 1 {
			t.Errorf("refresh with bad data: %+v", rep)
		}
		p, err := st.GetIncidentEstimate(ctx, &impactv1.GetIncidentEstimateRequest{Name: "incidents/bad/estimate"})
		must(err)
		if p.GetState() != impactv1.IncidentEstimate_STALE || p.GetRefreshError().GetCode() != "FAILED_PRECONDITION" ||
			!strings.Contains(p.GetRefreshError().GetMessage(), "recovery") {
			t.Errorf("bad estimate: %s %v", p.GetState(), p.GetRefreshError())
		}
		if e := get("oct-a"); e.State != impact.StateCurrent {
			t.Errorf("oct-a next to the bad one: %s", e.State)
		}
		// Not retried until something changes.
		if rep, _ := rc.RefreshPending(ctx); rep.Estimates != 0 {
			t.Errorf("the failed estimate was retried without a write: %+v", rep)
		}
		must(db.DeleteIncident(ctx, "bad", "", true))

		// Settings: an estimate using them goes STALE when a rate it
		// uses changes, not for a rate it does not need, and CURRENT
		// again when changed back.
		_, err = db.CreateCustomer(ctx, &impact.Customer{ID: "eu", DisplayName: "EU", Currency: "EUR",
			Baseline: impact.Baseline{HourlyAmount: "10"}}, "")
		must(err)
		_, err = db.CreateIncident(ctx, &impact.Incident{ID: "eu-1", Title: "eu"}, "")
		must(err)
		_, err = db.BatchCreateWindows(ctx, "eu-1", []impact.StoredWindow{{ID: "w1", OutageWindow: impact.OutageWindow{
			CustomerID: "eu", Service: "api", Start: at("2025-11-03T00:00:00Z"), End: at("2025-11-03T01:00:00Z")}}}, "")
		must(err)
		set := func(rates ...impact.FXRate) {
			t.Helper()
			_, err := db.UpdateReportingSettings(ctx, &impact.ReportingSettings{ReportingCurrency: "USD", FXRates: rates}, nil, "")
			must(err)
		}
		set(impact.FXRate{From: "EUR", To: "USD", Rate: "1.10"})
		eu := estimate("eu-1")
		// 10 EUR × 1.10 = 11.00 USD.
		if eu.GetReportingCurrency() != "USD" || eu.GetReportingTotals().GetLostRevenueGross() != "11.00" || len(eu.GetFxRates()) != 1 {
			t.Errorf("eu-1 in USD: %v %v", eu.GetReportingTotals(), eu.GetFxRates())
		}
		set(impact.FXRate{From: "EUR", To: "USD", Rate: "1.10"}, impact.FXRate{From: "NOK", To: "USD", Rate: "0.09"})
		if e := get("eu-1"); e.State != impact.StateCurrent {
			t.Errorf("eu-1 after an unneeded rate: %s %v", e.State, e.StaleReasons)
		}
		set(impact.FXRate{From: "EUR", To: "USD", Rate: "1.20"})
		if e := get("eu-1"); e.State != impact.StateStale || !slices.Equal(e.StaleReasons, []string{"reportingSettings"}) {
			t.Errorf("eu-1 after its rate moved: %s %v", e.State, e.StaleReasons)
		}
		set(impact.FXRate{From: "EUR", To: "USD", Rate: "1.10"})
		if e := get("eu-1"); e.State != impact.StateCurrent {
			t.Errorf("eu-1 after its rate came back: %s %v", e.State, e.StaleReasons)
		}
		// Options given on :estimate win for that revision.
		p, err = st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: "incidents/eu-1", ReportingCurrency: "EUR"})
		must(err)
		if p.GetReportingCurrency() != "EUR" || p.GetRevision() != 2 {
			t.Errorf("options win: %s revision %d", p.GetReportingCurrency(), p.GetRevision())
		}
		set(impact.FXRate{From: "EUR", To: "USD", Rate: "1.30"})
		if e := get("eu-1"); e.State != impact.StateCurrent {
			t.Errorf("an estimate with its own options after a settings change: %s %v", e.State, e.StaleReasons)
		}
	})
}

// TestRefreshLeases: a refresh worker killed after leasing (kill -9: no
// completion, no hand-back) loses its estimates to another once the lease
// expires; the late completion of the first writes nothing, and no revision
// is written twice.
func TestRefreshLeases(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := impact.WithActor(context.Background(), "test")
		st := server.NewStored(slog.New(slog.DiscardHandler), db)
		_, err := db.CreateCustomer(ctx, &impact.Customer{ID: "c", DisplayName: "C", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "1"}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "i", Title: "i"}, ""); err != nil {
			t.Fatal(err)
		}
		s := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
		if _, err := db.BatchCreateWindows(ctx, "i", []impact.StoredWindow{{ID: "w", OutageWindow: impact.OutageWindow{CustomerID: "c", Service: "x", Start: s, End: s.Add(time.Hour)}}}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: "incidents/i"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: "c", Baseline: impact.Baseline{HourlyAmount: "2"}}, impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
			t.Fatal(err)
		}
		dead, err := db.LeaseRefresh(ctx, "dead", 10, 0, 50*time.Millisecond)
		if err != nil || dead == nil || len(dead.Items) != 1 {
			t.Fatalf("lease: %+v %v", dead, err)
		}
		if l, err := db.LeaseRefresh(ctx, "other", 10, 0, time.Minute); err != nil || l != nil {
			t.Fatalf("a leased estimate was leased again: %+v %v", l, err)
		}
		dry, sts, err := estimating.New(db, estimating.Options{}).Compute(ctx, "i", estimating.Reporting{}) // what the dead worker had computed
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(80 * time.Millisecond)
		rc := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Refresh: true})
		if rep, err := rc.RefreshPending(ctx); err != nil || rep.Revisions != 1 {
			t.Fatalf("refresh after the lease expired: %+v %v", rep, err)
		}
		res, err := db.CompleteRefresh(ctx, dead, []impact.EstimateSave{{Estimate: dry, Statements: sts}}, nil)
		if err != nil || res.Lost != 1 || res.Revisions != 0 {
			t.Errorf("late completion: %+v %v", res, err)
		}
		page, err := db.ListEstimateRevisions(ctx, "i", impact.PageRequest{})
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("revisions: %v %v", page, err)
		}
		if e := page.Items[0]; e.Source != impact.SourceRefresh || e.State != impact.StateCurrent {
			t.Errorf("latest: %s %s", e.Source, e.State)
		}
		if e := page.Items[1]; e.State != impact.StateStale || !slices.Equal(e.StaleReasons, []string{"incidents/i/estimate"}) {
			t.Errorf("superseded revision: %s %v", e.State, e.StaleReasons)
		}
	})
}

// TestFreshConcurrent: writers and two refreshing "replicas" at once (on
// PostgreSQL truly concurrent transactions): no deadlock, no lost change.
// Once the writes stop and the refresh has run, every estimate is CURRENT
// and what a fresh computation gives.
func TestFreshConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB) {
		ctx := impact.WithActor(context.Background(), "test")
		w := &freshWorld{t: t, ctx: ctx, db: db, st: server.NewStored(slog.New(slog.DiscardHandler), db),
			rc: estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Refresh: true}), rng: rand.New(rand.NewPCG(7, 7))}
		if _, err := db.UpdateReportingSettings(ctx, &impact.ReportingSettings{ReportingCurrency: "USD",
			FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}, nil, ""); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			c := &impact.Customer{ID: w.id("c"), DisplayName: "C", Currency: []string{"USD", "EUR"}[i%2],
				Baseline: impact.Baseline{HourlyAmount: "100"}}
			if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
				t.Fatal(err)
			}
			if _, err := db.CreateContract(ctx, c.ID, w.contract("api"), ""); err != nil {
				t.Fatal(err)
			}
		}
		for range 4 {
			w.newIncident()
		}
		cs, incs := w.customers(), w.incidents()
		sctx, stop := context.WithCancel(ctx)
		var done []chan struct{}
		for r := range 2 {
			rc := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{Worker: fmt.Sprint("replica-", r), Workers: 2,
				Refresh: true, Poll: 5 * time.Millisecond})
			ch := make(chan struct{})
			done = append(done, ch)
			go func() { defer close(ch); rc.Serve(sctx) }()
		}
		errs := make(chan error, 3)
		for g := range 3 {
			go func() {
				rng := rand.New(rand.NewPCG(uint64(g), 99))
				for i := range 25 {
					c := cs[rng.IntN(len(cs))].ID
					in := incs[rng.IntN(len(incs))].ID
					var err error
					switch rng.IntN(3) {
					case 0:
						_, err = db.UpdateCustomer(ctx, &impact.Customer{ID: c, Baseline: impact.Baseline{HourlyAmount: fmt.Sprint(100 + rng.IntN(50))}},
							impact.FieldMask{"baseline.hourly_amount"}, "")
					case 1:
						s := freshBase.Add(time.Duration(rng.IntN(60*24)) * time.Hour)
						_, err = db.BatchCreateWindows(ctx, in, []impact.StoredWindow{{ID: fmt.Sprintf("g%d-%d", g, i), OutageWindow: impact.OutageWindow{
							CustomerID: c, Service: "api", Start: s, End: s.Add(time.Hour)}}}, "")
					default:
						_, err = w.st.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: impact.IncidentName(in)})
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		stop()
		for _, ch := range done {
			<-ch
		}
		if _, err := w.rc.RefreshPending(ctx); err != nil {
			t.Fatal(err)
		}
		w.checkStates("concurrent writes and refreshes")
		w.checkConverged()
	})
}
