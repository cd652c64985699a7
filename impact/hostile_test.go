package impact_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// The engine's work on each hostile shape grows linearly with its windows:
// doubling the windows at most about doubles the units of work the engine
// counts. (Before, three of these shapes were quadratic: a linear scan of
// the distinct fractions, an overlap of every interval of an incident with
// every counted interval, every window cut by every maintenance window.)
// The benchmark BenchmarkHostileShapes is the timing evidence.
func TestHostileShapesWorkIsLinear(t *testing.T) {
	lim := impact.DefaultLimits()
	for _, sh := range hostileShapes {
		t.Run(sh.name, func(t *testing.T) {
			var prev int64
			for _, n := range []int{2000, 4000, 8000} {
				work, err := impact.EstimateWork(sh.build(n), lim)
				if err != nil {
					t.Fatal(err)
				}
				// ×2 windows; a little above ×2 allows the per-period and
				// per-incident overheads that do not double.
				if prev > 0 && float64(work) > 2.2*float64(prev) {
					t.Errorf("%d windows: %d units of work, %d windows: %d (×%.2f, want ≤ ×2.2)", n/2, prev, n, work, float64(work)/float64(prev))
				}
				prev = work
			}
		})
	}
}

// A cancelled or expired context stops the engine with the context's error,
// unwrapped, so the server maps it to CANCELLED or DEADLINE_EXCEEDED.
func TestEstimateScenarioContextStops(t *testing.T) {
	s := shapeFractions(20000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := impact.EstimateScenarioContext(ctx, s, impact.DefaultLimits()); !errors.Is(err, context.Canceled) || err != context.Canceled {
		t.Fatalf("cancelled: err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := impact.EstimateScenarioContext(ctx, s, impact.DefaultLimits()); err != context.DeadlineExceeded {
		t.Fatalf("expired: err = %v, want context.DeadlineExceeded", err)
	}
	// Cancelled mid-way (after the first check): the engine notices at its
	// next look, and returns no estimate.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(5 * time.Millisecond); cancel() }()
	est, err := impact.EstimateScenarioContext(ctx, shapeOverlap(40000), impact.DefaultLimits())
	if err == nil {
		t.Skip("the estimate finished before the cancellation; nothing to check")
	}
	if err != context.Canceled || est != nil {
		t.Fatalf("cancelled mid-way: est %v, err %v", est != nil, err)
	}
	// The same scenario with a context never cancelled gives the figures of
	// the plain entry point.
	a, err := impact.EstimateScenarioContext(context.Background(), typicalScenario(), impact.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := impact.EstimateScenario(typicalScenario(), impact.DefaultLimits())
	if a.InputsDigest != b.InputsDigest || !a.Incidents[0].Totals[0].LostRevenueGross.Equal(b.Incidents[0].Totals[0].LostRevenueGross) {
		t.Fatal("context variant differs from EstimateScenario")
	}
}

// Cost is computed from sizes alone: worked values, and the limit refuses
// a scenario above it with one violation on the scenario, before anything
// else (an invalid window is not reported).
func TestCostLimit(t *testing.T) {
	start := ts("2025-07-01T00:00:00Z")
	s := &impact.Scenario{
		Customers: []impact.Customer{{ID: "c1", Currency: "USD",
			Baseline:  impact.Baseline{SeasonalFactors: []impact.SeasonalFactor{{Start: start, End: start.Add(time.Hour), Multiplier: "2"}}},
			Contracts: []impact.Contract{{Service: "api", Tiers: tiers("99:10", "95:20")}}}},
		Incidents: []impact.Incident{inc("inc-1",
			impact.OutageWindow{CustomerID: "c1", Service: "api", Start: start, End: start.Add(90 * time.Minute)},
			impact.OutageWindow{CustomerID: "c1", Service: "api", Start: start, End: start.Add(time.Second)},
		)},
		FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}},
	}
	// customer 1 + 1 factor; contract 1 + 2 tiers; incident 1; windows
	// (1 + 2 hours) + (1 + 1 hour); 1 FX rate: 2 + 3 + 1 + 3 + 2 + 1 = 12.
	if got := impact.Cost(s); got != 12 {
		t.Fatalf("Cost = %d, want 12", got)
	}
	lim := impact.DefaultLimits()
	lim.MaxCost = 12
	if _, err := impact.EstimateScenario(s, lim); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	lim.MaxCost = 11
	s.Incidents[0].Windows[1].ImpactFraction = "2" // invalid, but the cost is decided first
	_, err := impact.EstimateScenario(s, lim)
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID || len(e.Violations) != 1 || e.Violations[0].Field != "" {
		t.Fatalf("above the limit: %v", err)
	}
	if d := e.Violations[0].Description; !contains(d, "would cost 12 units") || !contains(d, "at most 11") {
		t.Fatalf("violation %q does not name the cost and the limit", d)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
