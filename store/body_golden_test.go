package store_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// The stored estimate and statement bodies are documents whose field names
// are part of the database's format: every stored revision is read back
// through them. These tests pin the bytes each engine stores for a
// representative estimate (testdata/bodies.<engine>.golden) and decode the
// pinned bytes back to the exact figures, so that renaming a field of the
// engine's result types fails here instead of decoding every stored
// revision's figure as zero. Regenerate with -update-bodies only for a
// deliberate change of format, which needs a migration of stored bodies.

var updateBodies = flag.Bool("update-bodies", false, "rewrite testdata/bodies.*.golden from the stored bodies")

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func money(cur, amount string) impact.Money { return impact.Money{Currency: cur, Amount: dec(amount)} }

// goldenEstimate sets every field of the stored documents, an optional one
// (RecoveryCost) both set and unset, a list both empty and not.
func goldenEstimate() (*impact.StoredEstimate, []impact.StoredStatement) {
	july, aug := ts("2025-07-01T00:00:00Z"), ts("2025-08-01T00:00:00Z")
	e := &impact.StoredEstimate{
		IncidentEstimate: impact.IncidentEstimate{
			IncidentID: "i1",
			Customers: []impact.CustomerEstimate{
				{
					CustomerID:    "c1",
					ImpactSeconds: dec("1800.5"),
					LostRevenue:   impact.LostRevenue{Gross: money("USD", "1500.25"), Net: money("USD", "1200.2"), Recaptured: money("USD", "300.05")},
					RecoveryCost:  &impact.Money{Currency: "EUR", Amount: dec("75.5")},
					SLACredits: []impact.AttributedCredit{
						{Service: "api", PeriodStart: july, Credit: money("USD", "100")},
						{Service: "db", PeriodStart: july, Credit: money("USD", "0.01")},
					},
					ChurnExposure: money("USD", "12345678901234567890.12"),
				},
				{
					CustomerID:    "c2",
					ImpactSeconds: dec("0"),
					LostRevenue:   impact.LostRevenue{Gross: money("JPY", "0"), Net: money("JPY", "0"), Recaptured: money("JPY", "0")},
					SLACredits:    []impact.AttributedCredit{},
					ChurnExposure: money("JPY", "7"),
				},
			},
			Totals: []impact.CurrencyTotals{
				{Currency: "JPY", LostRevenueGross: dec("0"), LostRevenueNet: dec("0"), RecoveryCost: dec("0"), SLACredits: dec("0"), ChurnExposure: dec("7")},
				{Currency: "USD", LostRevenueGross: dec("1500.25"), LostRevenueNet: dec("1200.2"), RecoveryCost: dec("0"), SLACredits: dec("100.01"), ChurnExposure: dec("12345678901234567890.12")},
			},
			ReportingTotals: &impact.CurrencyTotals{Currency: "EUR", LostRevenueGross: dec("1380.23"), LostRevenueNet: dec("1104.18"),
				RecoveryCost: dec("75.5"), SLACredits: dec("92.01"), ChurnExposure: dec("11358024589135802458.91")},
		},
		ModelVersion:      impact.ModelVersion,
		InputsDigest:      "sha256:0000000000000000000000000000000000000000000000000000000000000000",
		ComputeTime:       t0,
		ReportingCurrency: "EUR",
		FXRates:           []impact.FXRate{{From: "USD", To: "EUR", Rate: "0.92"}, {From: "JPY", To: "EUR", Rate: "0.0061"}},
	}
	sts := []impact.StoredStatement{
		{Period: "2025-07", SLAStatement: impact.SLAStatement{
			CustomerID: "c1", Service: "api", PeriodStart: july, PeriodEnd: aug,
			PeriodSeconds: 2678400, DowntimeSeconds: dec("3600.25"), UptimePercent: dec("99.865584"),
			CreditPercent: dec("10"), Fee: money("USD", "1000.00"), ComputedCredit: money("USD", "100"),
			CreditAmount: money("USD", "100"), BelowMinimum: false,
			Incidents: []impact.IncidentShare{
				{IncidentID: "i1", DowntimeSeconds: dec("1800.5"), Credit: money("USD", "50.01")},
				{IncidentID: "i2", DowntimeSeconds: dec("1799.75"), Credit: money("USD", "49.99")},
			},
		}},
		{Period: "2025-07", SLAStatement: impact.SLAStatement{
			CustomerID: "c1", Service: "db", PeriodStart: july, PeriodEnd: aug,
			PeriodSeconds: 2678400, DowntimeSeconds: dec("0.5"), UptimePercent: dec("99.999981"),
			CreditPercent: dec("0"), Fee: money("USD", "0"), ComputedCredit: money("USD", "0.01"),
			CreditAmount: money("USD", "0"), BelowMinimum: true,
		}},
	}
	return e, sts
}

// storedBodies reads the raw stored documents of incident i1 and the
// statements of customer c1 in a fixed order, as one text.
func storedBodies(t *testing.T, db *store.DB) string {
	t.Helper()
	var b strings.Builder
	var body, fx string
	if err := db.SQL().QueryRow(`SELECT body, fx_rates FROM incident_estimates WHERE incident_id = 'i1' AND revision = 1`).Scan(&body, &fx); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "incident_estimates.body i1\n%s\nincident_estimates.fx_rates i1\n%s\n", body, fx)
	rows, err := db.SQL().Query(`SELECT service, period, body FROM sla_statements WHERE customer_id = 'c1' ORDER BY service, period`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var svc, period string
		if err := rows.Scan(&svc, &period, &body); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "sla_statements.body c1 %s %s\n%s\n", svc, period, body)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// goldenSections splits a golden file into its labelled bodies.
func goldenSections(t *testing.T, text string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines)%2 != 0 {
		t.Fatalf("golden file has %d lines; want label/body pairs", len(lines))
	}
	out := map[string]string{}
	for i := 0; i < len(lines); i += 2 {
		out[lines[i]] = lines[i+1]
	}
	return out
}

func seedGolden(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, c := range []string{"c1", "c2"} {
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: c, Currency: "USD"}, ""))
	}
	for _, s := range []string{"api", "db"} {
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", &impact.Contract{Service: s, MonthlyFee: "1000.00"}, ""))
	}
	must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i1", Cause: impact.SoftwareDefect}, ""))
}

func TestStoredBodiesGolden(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		engine := filepath.Base(t.Name()) // sqlite or postgres
		golden := filepath.Join("testdata", "bodies."+engine+".golden")
		ctx := context.Background()
		seedGolden(t, db)
		e, sts := goldenEstimate()
		must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, e, sts))

		got := storedBodies(t, db)
		if *updateBodies {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			t.Errorf("stored bodies differ from %s (a field of a stored document was renamed or retyped; stored revisions would no longer decode) (-golden +stored):\n%s", golden, diff)
		}

		// The pinned bodies, written as an older build stored them, decode
		// to the exact figures.
		sec := goldenSections(t, string(want))
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		ph := func(n int) string {
			if engine == "postgres" {
				return fmt.Sprintf("$%d", n)
			}
			return "?"
		}
		exec(`UPDATE incident_estimates SET body = `+ph(1)+`, fx_rates = `+ph(2)+` WHERE incident_id = 'i1'`,
			sec["incident_estimates.body i1"], sec["incident_estimates.fx_rates i1"])
		for _, s := range sts {
			label := "sla_statements.body c1 " + s.Service + " " + s.Period
			if sec[label] == "" {
				t.Fatalf("golden file has no %q", label)
			}
			exec(`UPDATE sla_statements SET body = `+ph(1)+` WHERE customer_id = 'c1' AND service = `+ph(2)+` AND period = `+ph(3),
				sec[label], s.Service, s.Period)
		}
		// Decimals compare as numbers (a stored "100.00" reads as 100).
		opt := cmp.Comparer(func(a, b decimal.Decimal) bool { return a.Equal(b) })
		back := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "i1", 1))
		if diff := cmp.Diff(e.IncidentEstimate, back.IncidentEstimate, opt); diff != "" {
			t.Errorf("golden estimate decodes to other figures (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(e.FXRates, back.FXRates); diff != "" {
			t.Errorf("golden fx rates (-want +got):\n%s", diff)
		}
		for _, s := range sts {
			st := must[*impact.StoredStatement](t)(db.GetStatement(ctx, s.CustomerID, s.Service, s.Period))
			if diff := cmp.Diff(s.SLAStatement, st.SLAStatement, opt); diff != "" {
				t.Errorf("golden statement %s/%s decodes to other figures (-want +got):\n%s", s.Service, s.Period, diff)
			}
		}
	})
}
