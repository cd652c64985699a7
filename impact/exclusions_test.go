package impact_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// TestExclusions covers every reason once, with the excluded seconds worked
// out by hand, and checks that what is not excluded is what the statement
// counted.
func TestExclusions(t *testing.T) {
	contract := func(mod func(*impact.Contract)) impact.Contract {
		k := impact.Contract{Service: "api", MonthlyFee: "1000.00", Tiers: tiers("99.9:10")}
		if mod != nil {
			mod(&k)
		}
		return k
	}
	cases := []struct {
		name  string
		k     impact.Contract
		cause impact.Cause
		ws    []impact.OutageWindow
		want  []string // "reason seconds"
		// counted is the statement's downtime: the window seconds less the
		// excluded ones.
		counted string
	}{
		{name: "none", k: contract(nil), ws: []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 600)},
			counted: "600"},
		{name: "no contract", k: contract(nil), ws: []impact.OutageWindow{winD("c", "db", "2025-07-14T13:00:00Z", 600)},
			want: []string{"NoContract 600"}},
		{name: "cause", k: contract(func(k *impact.Contract) { k.ExcludedCauses = []impact.Cause{impact.NaturalDisaster} }),
			cause: impact.NaturalDisaster, ws: []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 600)},
			want: []string{"CauseExcluded 600"}, counted: "0"},
		// Active from 13:04: 13:00–13:04 is 240 s outside, 360 s counted.
		{name: "deployed", k: contract(func(k *impact.Contract) {
			k.Denominator, k.ActiveFrom = impact.Deployed, ts("2025-07-14T13:04:00Z")
		}), ws: []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 600)},
			want: []string{"OutsideDeployedRange 240"}, counted: "360"},
		// Maintenance 13:05–13:30 takes 300 s of 13:00–13:10.
		{name: "maintenance", k: contract(func(k *impact.Contract) {
			k.ExcludeMaintenance = true
			k.MaintenanceWindows = []impact.TimeWindow{{Start: ts("2025-07-14T13:05:00Z"), End: ts("2025-07-14T13:30:00Z")}}
		}), ws: []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 600)},
			want: []string{"MaintenanceWindow 300"}, counted: "300"},
		// Fraction 0.4 < threshold 0.5: the whole 600 s.
		{name: "threshold", k: contract(func(k *impact.Contract) { k.DowntimeThreshold = "0.5" }),
			ws:   []impact.OutageWindow{winF("c", "api", "2025-07-14T13:00:00Z", "2025-07-14T13:10:00Z", "0.4")},
			want: []string{"BelowDowntimeThreshold 600"}, counted: "0"},
		// min 120 s: the 60 s blip is dropped, the 600 s window counts.
		{name: "min downtime", k: contract(func(k *impact.Contract) { k.MinDowntimeSeconds = 120 }),
			ws:   []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 600), winD("c", "api", "2025-07-14T14:00:00Z", 60)},
			want: []string{"ShorterThanMinDowntime 60"}, counted: "600"},
		// Each second gets the first reason (listed by time): maintenance 13:05–13:30 takes
		// 13:05–13:10 of a 0.4 window, the threshold the rest (13:00–13:05).
		// Counted: nothing.
		{name: "first reason wins", k: contract(func(k *impact.Contract) {
			k.DowntimeThreshold, k.ExcludeMaintenance = "0.5", true
			k.MaintenanceWindows = []impact.TimeWindow{{Start: ts("2025-07-14T13:05:00Z"), End: ts("2025-07-14T13:30:00Z")}}
		}), ws: []impact.OutageWindow{winF("c", "api", "2025-07-14T13:00:00Z", "2025-07-14T13:10:00Z", "0.4")},
			want: []string{"BelowDowntimeThreshold 300", "MaintenanceWindow 300"}, counted: "0"},
		// PROPORTIONAL has no threshold: 600 s at 0.4 count as 240 s.
		{name: "proportional", k: contract(func(k *impact.Contract) { k.Degradation = impact.Proportional }),
			ws:      []impact.OutageWindow{winF("c", "api", "2025-07-14T13:00:00Z", "2025-07-14T13:10:00Z", "0.4")},
			counted: "240"},
		// Two 60 s windows touching make one 120 s down interval: not short.
		{name: "min downtime merged", k: contract(func(k *impact.Contract) { k.MinDowntimeSeconds = 120 }),
			ws:      []impact.OutageWindow{winD("c", "api", "2025-07-14T13:00:00Z", 60), winD("c", "api", "2025-07-14T13:01:00Z", 60)},
			counted: "120"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := &impact.Scenario{
				Customers: []impact.Customer{{ID: "c", Currency: "USD", Contracts: []impact.Contract{tc.k}}},
				Incidents: []impact.Incident{{ID: "i", Cause: tc.cause, Windows: tc.ws}},
			}
			ex, err := impact.Exclusions(sc, "i", "c", impact.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ex {
				got = append(got, fmt.Sprintf("%s %d", reasonName(e.Reason), e.Seconds()))
				if strings.TrimSpace(e.Description) == "" {
					t.Errorf("%v has no words", e.Reason)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("exclusions %q, want %q", got, tc.want)
			}
			est, err := impact.EstimateScenario(sc, impact.DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if tc.counted == "" {
				if len(est.Statements) != 0 {
					t.Errorf("a statement without a contract")
				}
				return
			}
			if d := impact.FormatDecimal(est.Statements[0].DowntimeSeconds); d != tc.counted {
				t.Errorf("counted %s, want %s", d, tc.counted)
			}
		})
	}
}

func reasonName(r impact.ExclusionReason) string {
	return map[impact.ExclusionReason]string{
		impact.NoContract: "NoContract", impact.CauseExcluded: "CauseExcluded",
		impact.OutsideDeployedRange: "OutsideDeployedRange", impact.MaintenanceWindow: "MaintenanceWindow",
		impact.BelowDowntimeThreshold: "BelowDowntimeThreshold", impact.ShorterThanMinDowntime: "ShorterThanMinDowntime",
	}[r]
}
