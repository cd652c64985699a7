package impact_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/impact-svc/impact/impact"
)

// "*" replaces every mutable field: what the request leaves unset is
// cleared (the stored currency and baseline included); the id stays.
func TestUpdateMaskStarReplaces(t *testing.T) {
	dst := impact.Customer{ID: "a", Currency: "EUR", DisplayName: "Old", Baseline: impact.Baseline{HourlyAmount: "1"}}
	if err := impact.CustomerMask.Apply(&dst, &impact.Customer{DisplayName: "New"}, impact.FieldMask{"*"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(impact.Customer{ID: "a", DisplayName: "New"}, dst); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	k := impact.Contract{Service: "api", MonthlyFee: "10", Tiers: []impact.CreditTier{{UptimeBelow: "99", CreditPercent: "10"}}}
	if err := impact.ContractMask.Apply(&k, &impact.Contract{MonthlyFee: "20"}, impact.FieldMask{"*"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(impact.Contract{Service: "api", MonthlyFee: "20"}, k); diff != "" {
		t.Errorf("contract (-want +got):\n%s", diff)
	}
}

func TestUpdateMaskPaths(t *testing.T) {
	dst := impact.Customer{ID: "a", Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "1", RecaptureRate: "0.5"}}
	src := impact.Customer{DisplayName: "New", Baseline: impact.Baseline{HourlyAmount: "2"}}
	if err := impact.CustomerMask.Apply(&dst, &src, impact.FieldMask{"display_name", "baseline.hourly_amount", "lifetime_value"}); err != nil {
		t.Fatal(err)
	}
	want := impact.Customer{ID: "a", Currency: "EUR", DisplayName: "New", Baseline: impact.Baseline{HourlyAmount: "2", RecaptureRate: "0.5"}}
	if diff := cmp.Diff(want, dst); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []impact.FieldMask{nil, {"customer_id"}, {"display_name", "nope"}} {
		before := dst
		err := impact.CustomerMask.Apply(&dst, &src, bad)
		var e *impact.Error
		if !errors.As(err, &e) || e.Code != impact.EINVALID || len(e.Violations) != 1 || e.Violations[0].Field != "update_mask" {
			t.Errorf("mask %v: got %v, want EINVALID on update_mask", bad, err)
		}
		if !cmp.Equal(before, dst) {
			t.Errorf("mask %v: a refused mask changed the resource", bad)
		}
	}
}

// The validators' paths are element lists, relative to the resource.
func TestValidatorPaths(t *testing.T) {
	lim := impact.DefaultLimits()
	start := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		got  []impact.FieldViolation
		want []impact.Path
	}{
		{"customer", impact.ValidateCustomer(&impact.Customer{ID: "c", Currency: "USD",
			Baseline:  impact.Baseline{WeeklyProfile: append(make([]string, 167), "-1")},
			Contracts: []impact.Contract{{Service: "s", Tiers: []impact.CreditTier{{UptimeBelow: "101", CreditPercent: "10"}}}}}, lim),
			[]impact.Path{
				{{"baseline", -1}, {"weekly_profile", 0}}, // "" is not a decimal; only the first few are listed here
			}},
		{"contract", impact.ValidateContract(&impact.Contract{Service: "s", Tiers: []impact.CreditTier{{UptimeBelow: "101", CreditPercent: "10"}}}, lim),
			[]impact.Path{{{"tiers", 0}, {"uptime_below", -1}}}},
		{"incident", impact.ValidateIncident(&impact.Incident{ID: "i", RecoveryCurrency: "USD",
			RecoveryItems: []impact.RecoveryItem{{CustomerID: "nobody", Labor: &impact.LaborItem{Hours: "-1", HourlyRate: "1"}}}}, lim),
			[]impact.Path{{{"recovery_items", 0}, {"labor", -1}, {"hours", -1}}}},
		{"windows", impact.ValidateWindows([]impact.OutageWindow{
			{CustomerID: "c", Service: "s", Start: start, End: start.Add(time.Hour)},
			{CustomerID: "c", Service: "s", Start: start, End: start},
		}, lim),
			[]impact.Path{{{"windows", 1}, {"end_time", -1}}}},
	}
	for _, c := range cases {
		if len(c.got) < len(c.want) {
			t.Errorf("%s: %d violations %v, want at least %d", c.name, len(c.got), c.got, len(c.want))
			continue
		}
		for i, w := range c.want {
			if !cmp.Equal(c.got[i].Path, w) || c.got[i].Field != w.String() {
				t.Errorf("%s: violation %d at %v (%q), want %v", c.name, i, c.got[i].Path, c.got[i].Field, w)
			}
		}
	}
	if vs := impact.ValidateIncident(&impact.Incident{ID: "i", RecoveryCurrency: "USD",
		RecoveryItems: []impact.RecoveryItem{{Expense: &impact.ExpenseItem{UnitCost: "5"}}}}, lim); len(vs) != 0 {
		t.Errorf("a shared item of an incident checked without its windows: %v", vs)
	}
	under := impact.Under(impact.Path{{Name: "contract", Index: -1}}, cases[1].got)
	if under[0].Field != "contract.tiers[0].uptime_below" {
		t.Errorf("Under: %q", under[0].Field)
	}
}
