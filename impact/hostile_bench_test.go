package impact_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// Hostile shapes: inputs whose cost was once super-linear in their windows.
// Each builds a scenario of n windows; the engine's cost must grow about
// linearly with n (O(n log n)): compare ns/op across sizes.

var hostileSizes = []int{10000, 20000, 40000, 100000}

// hostileCustomer has a flat baseline and the contracts the shapes use:
// "thr" counts THRESHOLD downtime with a 60 s minimum, "prop" PROPORTIONAL
// downtime outside maintenance, both monthly.
func hostileCustomer(maintenance []impact.TimeWindow) impact.Customer {
	return impact.Customer{
		ID: "c1", Currency: "USD",
		Baseline: impact.Baseline{HourlyAmount: "3600"},
		Contracts: []impact.Contract{
			{Service: "thr", MonthlyFee: "1000", Tiers: tiers("99.9:10", "99:25"), MinDowntimeSeconds: 60, Granularity: impact.MinutesTouched},
			{Service: "prop", MonthlyFee: "1000", Tiers: tiers("99.9:10"), Degradation: impact.Proportional,
				ExcludeMaintenance: len(maintenance) > 0, MaintenanceWindows: maintenance},
		},
	}
}

// shapeFractions: n disjoint 10-minute windows, each with its own impact
// fraction (0.000001 … 0.1).
func shapeFractions(n int) *impact.Scenario {
	base := ts("2025-01-01T00:00:00Z")
	in := impact.Incident{ID: "inc-1"}
	for i := 0; i < n; i++ {
		st := base.Add(time.Duration(i) * 20 * time.Minute)
		in.Windows = append(in.Windows, impact.OutageWindow{CustomerID: "c1", Service: "prop", Start: st, End: st.Add(10 * time.Minute),
			ImpactFraction: fmt.Sprintf("0.%06d", i+1)})
	}
	return &impact.Scenario{Customers: []impact.Customer{hostileCustomer(nil)}, Incidents: []impact.Incident{in}}
}

// shapeInterleaved: pairs of touching 30 s windows of two incidents, 60 s
// apart: each incident alone never passes min_downtime_seconds (60), only
// together, so every credit is attributed by overlap.
func shapeInterleaved(n int) *impact.Scenario {
	base := ts("2025-01-01T00:00:00Z")
	a, b := impact.Incident{ID: "inc-a"}, impact.Incident{ID: "inc-b"}
	for i := 0; i < n/2; i++ {
		st := base.Add(time.Duration(i) * 2 * time.Minute)
		a.Windows = append(a.Windows, impact.OutageWindow{CustomerID: "c1", Service: "thr", Start: st, End: st.Add(30 * time.Second)})
		b.Windows = append(b.Windows, impact.OutageWindow{CustomerID: "c1", Service: "thr", Start: st.Add(30 * time.Second), End: st.Add(time.Minute)})
	}
	return &impact.Scenario{Customers: []impact.Customer{hostileCustomer(nil)}, Incidents: []impact.Incident{a, b}}
}

// shapeChain: n touching 60 s windows in a chain, round-robin over 100
// incidents, on both contracts.
func shapeChain(n int) *impact.Scenario {
	base := ts("2025-01-01T00:00:00Z")
	incs := make([]impact.Incident, 100)
	for k := range incs {
		incs[k].ID = fmt.Sprintf("inc-%03d", k)
	}
	for i := 0; i < n; i++ {
		st := base.Add(time.Duration(i) * time.Minute)
		svc := "thr"
		if i%2 == 1 {
			svc = "prop"
		}
		incs[i%100].Windows = append(incs[i%100].Windows, impact.OutageWindow{CustomerID: "c1", Service: svc, Start: st, End: st.Add(time.Minute), ImpactFraction: "0.5"})
	}
	return &impact.Scenario{Customers: []impact.Customer{hostileCustomer(nil)}, Incidents: incs}
}

// shapeOverlap: n staggered 12-hour windows all overlapping one another,
// ten distinct fractions, across 1,000 maintenance windows.
func shapeOverlap(n int) *impact.Scenario {
	base := ts("2025-03-03T00:00:00Z")
	var maint []impact.TimeWindow
	for i := 0; i < 1000; i++ {
		st := base.Add(time.Duration(i) * 72 * time.Second)
		maint = append(maint, impact.TimeWindow{Start: st, End: st.Add(30 * time.Second)})
	}
	in := impact.Incident{ID: "inc-1"}
	for i := 0; i < n; i++ {
		st := base.Add(time.Duration(i%3600) * time.Second)
		svc := "prop"
		if i%2 == 1 {
			svc = "thr"
		}
		in.Windows = append(in.Windows, impact.OutageWindow{CustomerID: "c1", Service: svc, Start: st, End: st.Add(12 * time.Hour),
			ImpactFraction: fmt.Sprintf("0.%d", i%10+1)})
	}
	return &impact.Scenario{Customers: []impact.Customer{hostileCustomer(maint)}, Incidents: []impact.Incident{in}}
}

// shapePeriods: n one-minute windows spread over 2,000 monthly periods,
// round-robin over 1,000 incidents: attribution per period and incident.
func shapePeriods(n int) *impact.Scenario {
	base := ts("1971-01-01T00:00:00Z")
	incs := make([]impact.Incident, 1000)
	for k := range incs {
		incs[k].ID = fmt.Sprintf("inc-%04d", k)
	}
	for i := 0; i < n; i++ {
		st := base.AddDate(0, i%2000, 0).Add(time.Duration(i/2000) * 2 * time.Minute)
		svc := "thr"
		if i%2 == 1 {
			svc = "prop"
		}
		incs[i%1000].Windows = append(incs[i%1000].Windows, impact.OutageWindow{CustomerID: "c1", Service: svc, Start: st, End: st.Add(90 * time.Second)})
	}
	return &impact.Scenario{Customers: []impact.Customer{hostileCustomer(nil)}, Incidents: incs}
}

var hostileShapes = []struct {
	name  string
	build func(n int) *impact.Scenario
}{
	{"fractions", shapeFractions},
	{"interleaved", shapeInterleaved},
	{"chain", shapeChain},
	{"overlap", shapeOverlap},
	{"periods", shapePeriods},
}

func BenchmarkHostileShapes(b *testing.B) {
	for _, sh := range hostileShapes {
		for _, n := range hostileSizes {
			b.Run(fmt.Sprintf("%s/%d", sh.name, n), func(b *testing.B) { benchEstimate(b, sh.build(n)) })
		}
	}
}
