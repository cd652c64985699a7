package impact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// benchProfile is a 168-entry weekly profile with distinct amounts.
func benchProfile() []string {
	p := make([]string, 168)
	for i := range p {
		p[i] = fmt.Sprintf("%d.%02d", 1000+i*7, i%100)
	}
	return p
}

func benchContracts() []impact.Contract {
	return []impact.Contract{
		{Service: "api", MonthlyFee: "12345.67", Tiers: tiers("99.99:10", "99.0:30", "95.0:100"), TimeZone: "Europe/Berlin"},
		{Service: "db", MonthlyFee: "730.00", Tiers: tiers("99.5:10", "99.0:30", "95.0:100"), Granularity: impact.MinutesTouched, MinDowntimeSeconds: 60},
	}
}

// typicalScenario: 3 customers with weekly profiles in three zones, 2
// contracts each, one incident with 6 windows of a few hours.
func typicalScenario() *impact.Scenario {
	zones := []string{"America/New_York", "Europe/Berlin", "Asia/Kolkata"}
	base := ts("2025-07-14T09:00:00Z")
	s := &impact.Scenario{ReportingCurrency: "USD", FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.08"}}}
	in := impact.Incident{ID: "inc-1", Cause: impact.SoftwareDefect, RecoveryCurrency: "USD", Allocation: impact.ByImpact,
		RecoveryItems: []impact.RecoveryItem{
			{Labor: &impact.LaborItem{Role: "sre", Hours: "12", HourlyRate: "150"}},
			{Expense: &impact.ExpenseItem{Description: "hardware", UnitCost: "999.99"}},
		}}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("c%d", i)
		cur := "USD"
		if i == 1 {
			cur = "EUR"
		}
		s.Customers = append(s.Customers, impact.Customer{
			ID: id, Currency: cur, TimeZone: zones[i],
			Baseline:      impact.Baseline{WeeklyProfile: benchProfile(), RecaptureRate: "0.2"},
			LifetimeValue: "250000", ChurnProbability: "0.02",
			Contracts: benchContracts(),
		})
		for j, svc := range []string{"api", "db"} {
			st := base.Add(time.Duration(i*2+j) * 37 * time.Minute)
			in.Windows = append(in.Windows, impact.OutageWindow{CustomerID: id, Service: svc, Start: st, End: st.Add(time.Duration(2+i) * time.Hour), ImpactFraction: "0.6"})
		}
	}
	s.Incidents = []impact.Incident{in}
	return s
}

// heavyScenario: n customers, each with a 30-day window (720 hour buckets).
func heavyScenario(n int) *impact.Scenario {
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"}
	s := &impact.Scenario{}
	in := impact.Incident{ID: "inc-heavy", RecoveryCurrency: "USD", RecoveryItems: []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "x", UnitCost: "100000"}}}}
	start := ts("2025-06-15T00:00:00Z")
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("c%03d", i)
		s.Customers = append(s.Customers, impact.Customer{
			ID: id, Currency: "USD", TimeZone: zones[i%len(zones)],
			Baseline:  impact.Baseline{WeeklyProfile: benchProfile()},
			Contracts: benchContracts(),
		})
		in.Windows = append(in.Windows, impact.OutageWindow{CustomerID: id, Service: "api", Start: start, End: start.Add(30 * 24 * time.Hour), ImpactFraction: "0.3"})
	}
	s.Incidents = []impact.Incident{in}
	return s
}

func benchEstimate(b *testing.B, s *impact.Scenario) {
	b.Helper()
	lim := impact.DefaultLimits()
	if _, err := impact.EstimateScenario(s, lim); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := impact.EstimateScenario(s, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEstimateTypical(b *testing.B) { benchEstimate(b, typicalScenario()) }

func BenchmarkEstimateHeavy(b *testing.B) { benchEstimate(b, heavyScenario(200)) }

// BenchmarkWindowLength: one customer, one window of 1 day vs 366 days with
// a weekly profile and a MINUTES_TOUCHED contract. Cost must grow with the
// hour buckets (×366), never with seconds (×31.6 million) or minutes.
func BenchmarkWindowLength(b *testing.B) {
	for _, days := range []int{1, 366} {
		b.Run(fmt.Sprintf("%dday", days), func(b *testing.B) {
			start := ts("2025-01-01T00:00:00Z")
			s := &impact.Scenario{
				Customers: []impact.Customer{{
					ID: "c1", Currency: "USD", TimeZone: "Europe/Berlin",
					Baseline:  impact.Baseline{WeeklyProfile: benchProfile()},
					Contracts: benchContracts(),
				}},
				Incidents: []impact.Incident{inc("inc-1",
					impact.OutageWindow{CustomerID: "c1", Service: "api", Start: start, End: start.Add(time.Duration(days) * 24 * time.Hour), ImpactFraction: "0.5"},
					impact.OutageWindow{CustomerID: "c1", Service: "db", Start: start.Add(17 * time.Second), End: start.Add(time.Duration(days)*24*time.Hour - 13*time.Second)},
				)},
			}
			benchEstimate(b, s)
		})
	}
}
