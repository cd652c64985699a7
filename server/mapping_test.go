package server

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func pts(s string) *timestamppb.Timestamp { return timestamppb.New(ts(s)) }

func TestScenarioFromProto(t *testing.T) {
	in := &impactv1.Scenario{
		Customers: []*impactv1.Customer{{
			CustomerId: "c1", DisplayName: "Shop", CurrencyCode: "EUR", TimeZone: "Europe/Berlin",
			Baseline: &impactv1.RevenueBaseline{
				HourlyAmount:    "10.5",
				WeeklyProfile:   []string{"1", "2"},
				SeasonalFactors: []*impactv1.SeasonalFactor{{StartTime: pts("2025-01-01T00:00:00Z"), EndTime: pts("2025-01-02T00:00:00Z"), Multiplier: "1.5"}},
				Overrides:       []*impactv1.HourlyOverride{{HourStart: pts("2025-01-01T10:00:00Z"), Amount: "99"}},
				RecaptureRate:   "0.25",
			},
			LifetimeValue: "1000", ChurnProbability: "0.1",
			Contracts: []*impactv1.Contract{{
				Service: "api", MonthlyFee: "100", BillingPeriod: impactv1.Contract_QUARTERLY, TimeZone: "UTC",
				PeriodFees:       []*impactv1.PeriodFee{{PeriodStart: pts("2025-01-01T00:00:00Z"), Fee: "300"}},
				Tiers:            []*impactv1.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10", Inclusive: true}},
				CreditCapPercent: "50", MinCreditAmount: "1",
				Degradation: impactv1.Contract_THRESHOLD, DowntimeThreshold: "0.5",
				Granularity: impactv1.Contract_MINUTES_FULL, MinDowntimeSeconds: 60,
				ExcludeMaintenance: true,
				MaintenanceWindows: []*impactv1.TimeWindow{{StartTime: pts("2025-01-05T00:00:00Z"), EndTime: pts("2025-01-05T01:00:00Z")}},
				ExcludedCauses:     []impactv1.Incident_Cause{impactv1.Incident_NATURAL_DISASTER, impactv1.Incident_CUSTOMER_CAUSED},
				Denominator:        impactv1.Contract_DEPLOYED,
				ActiveFrom:         pts("2024-06-01T00:00:00Z"),
				Rounding:           impactv1.Contract_HALF_UP,
			}},
		}},
		Incidents: []*impactv1.Incident{{
			IncidentId: "i1", Title: "Outage", Cause: impactv1.Incident_POWER_FAILURE,
			Windows: []*impactv1.IncidentWindow{{CustomerId: "c1", Service: "api",
				StartTime: pts("2025-01-10T10:00:00Z"), EndTime: pts("2025-01-10T11:00:00Z"), ImpactFraction: "0.4"}},
			RecoveryCurrency: "EUR",
			RecoveryItems: []*impactv1.RecoveryItem{
				{Kind: &impactv1.RecoveryItem_Labor{Labor: &impactv1.LaborItem{Role: "SRE", Hours: "2", HourlyRate: "100", Engagement: "0.5"}}},
				{CustomerId: "c1", Kind: &impactv1.RecoveryItem_Expense{Expense: &impactv1.ExpenseItem{Description: "disk", Quantity: "3", UnitCost: "40"}}},
			},
			Allocation: impactv1.Incident_BY_IMPACT,
		}},
		ReportingCurrency: "USD",
		FxRates:           []*impactv1.FxRate{{FromCurrency: "EUR", ToCurrency: "USD", Rate: "1.08"}},
	}
	want := &impact.Scenario{
		Customers: []impact.Customer{{
			ID: "c1", DisplayName: "Shop", Currency: "EUR", TimeZone: "Europe/Berlin",
			Baseline: impact.Baseline{
				HourlyAmount:    "10.5",
				WeeklyProfile:   []string{"1", "2"},
				SeasonalFactors: []impact.SeasonalFactor{{Start: ts("2025-01-01T00:00:00Z"), End: ts("2025-01-02T00:00:00Z"), Multiplier: "1.5"}},
				Overrides:       []impact.HourlyOverride{{HourStart: ts("2025-01-01T10:00:00Z"), Amount: "99"}},
				RecaptureRate:   "0.25",
			},
			LifetimeValue: "1000", ChurnProbability: "0.1",
			Contracts: []impact.Contract{{
				Service: "api", MonthlyFee: "100", BillingPeriod: impact.Quarterly, TimeZone: "UTC",
				PeriodFees:       []impact.PeriodFee{{PeriodStart: ts("2025-01-01T00:00:00Z"), Fee: "300"}},
				Tiers:            []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10", Inclusive: true}},
				CreditCapPercent: "50", MinCreditAmount: "1",
				Degradation: impact.Threshold, DowntimeThreshold: "0.5",
				Granularity: impact.MinutesFull, MinDowntimeSeconds: 60,
				ExcludeMaintenance: true,
				MaintenanceWindows: []impact.TimeWindow{{Start: ts("2025-01-05T00:00:00Z"), End: ts("2025-01-05T01:00:00Z")}},
				ExcludedCauses:     []impact.Cause{impact.NaturalDisaster, impact.CustomerCaused},
				Denominator:        impact.Deployed,
				ActiveFrom:         ts("2024-06-01T00:00:00Z"),
				Rounding:           impact.HalfUp,
			}},
		}},
		Incidents: []impact.Incident{{
			ID: "i1", Title: "Outage", Cause: impact.PowerFailure,
			Windows: []impact.OutageWindow{{CustomerID: "c1", Service: "api",
				Start: ts("2025-01-10T10:00:00Z"), End: ts("2025-01-10T11:00:00Z"), ImpactFraction: "0.4"}},
			RecoveryCurrency: "EUR",
			RecoveryItems: []impact.RecoveryItem{
				{Labor: &impact.LaborItem{Role: "SRE", Hours: "2", HourlyRate: "100", Engagement: "0.5"}},
				{CustomerID: "c1", Expense: &impact.ExpenseItem{Description: "disk", Quantity: "3", UnitCost: "40"}},
			},
			Allocation: impact.ByImpact,
		}},
		ReportingCurrency: "USD",
		FXRates:           []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.08"}},
	}
	got, err := scenarioFromProto(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scenario (-want +got):\n%s", diff)
	}
}

// What the domain types cannot represent is rejected here, with paths in
// the engine's form; everything else is left to the engine.
func TestScenarioFromProtoRejectsUnrepresentable(t *testing.T) {
	in := &impactv1.Scenario{
		Customers: []*impactv1.Customer{{CustomerId: "c1", Contracts: []*impactv1.Contract{
			{Service: "a"},
			{Service: "b", Rounding: 7, ExcludedCauses: []impactv1.Incident_Cause{impactv1.Incident_UNKNOWN, 42}},
		}}},
		Incidents: []*impactv1.Incident{{IncidentId: "i", Cause: 99, Windows: []*impactv1.IncidentWindow{
			{CustomerId: "c1", StartTime: pts("2025-01-01T00:00:00Z"), EndTime: &timestamppb.Timestamp{Seconds: 1, Nanos: 2e9}},
		}}},
	}
	_, err := scenarioFromProto(in)
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID {
		t.Fatalf("got %v, want EINVALID", err)
	}
	want := []impact.FieldViolation{
		{Field: "customers[0].contracts[1].rounding", Description: "has unknown enum value 7"},
		{Field: "customers[0].contracts[1].excluded_causes[1]", Description: "has unknown enum value 42"},
		{Field: "incidents[0].cause", Description: "has unknown enum value 99"},
		{Field: "incidents[0].windows[0].end_time", Description: "is not a valid timestamp"},
	}
	if diff := cmp.Diff(want, e.Violations); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func usd(s string) impact.Money {
	return impact.Money{Currency: "USD", Amount: decimal.RequireFromString(s)}
}
func jpy(s string) impact.Money {
	return impact.Money{Currency: "JPY", Amount: decimal.RequireFromString(s)}
}

func TestEstimateToProto(t *testing.T) {
	d := decimal.RequireFromString
	in := &impact.Estimate{
		ModelVersion: "impact-model/1",
		InputsDigest: "sha256:00",
		Incidents: []impact.IncidentEstimate{{
			IncidentID: "i1",
			Customers: []impact.CustomerEstimate{
				{
					CustomerID:    "bank",
					ImpactSeconds: d("1500.50"),
					LostRevenue:   impact.LostRevenue{Gross: usd("3060"), Net: usd("2295.00"), Recaptured: usd("765")},
					RecoveryCost:  &impact.Money{Currency: "USD", Amount: d("0")},
					SLACredits:    []impact.AttributedCredit{{Service: "api", PeriodStart: ts("2025-07-01T00:00:00Z"), Credit: usd("1234.57")}},
					ChurnExposure: usd("0"),
				},
				{
					CustomerID:    "shop",
					ImpactSeconds: d("60"),
					LostRevenue:   impact.LostRevenue{Gross: jpy("123457"), Net: jpy("123457"), Recaptured: jpy("0")},
					ChurnExposure: jpy("5"),
				},
			},
			Totals: []impact.CurrencyTotals{{Currency: "USD", LostRevenueGross: d("3060"), LostRevenueNet: d("2295"),
				RecoveryCost: d("0"), SLACredits: d("1234.57"), ChurnExposure: d("0")}},
		}},
		Statements: []impact.SLAStatement{{
			CustomerID: "bank", Service: "api",
			PeriodStart: ts("2025-07-01T00:00:00Z"), PeriodEnd: ts("2025-08-01T00:00:00Z"),
			PeriodSeconds: 2678400, DowntimeSeconds: d("3000"), UptimePercent: d("99.887993"),
			CreditPercent: d("10.0"), Fee: usd("12345.67"), ComputedCredit: usd("1234.57"),
			CreditAmount: usd("1234.57"), BelowMinimum: false,
			Incidents: []impact.IncidentShare{{IncidentID: "i1", DowntimeSeconds: d("3000"), Credit: usd("1234.57")}},
		}, {
			CustomerID: "shop", Service: "api",
			PeriodStart: ts("2025-07-01T00:00:00Z"), PeriodEnd: ts("2025-08-01T00:00:00Z"),
			PeriodSeconds: 2678400, DowntimeSeconds: d("0"), UptimePercent: d("100"),
			CreditPercent: d("0"), Fee: jpy("1000"), ComputedCredit: jpy("3"), CreditAmount: jpy("0"), BelowMinimum: true,
		}},
	}
	m := func(cur, amt string) *impactv1.Money { return &impactv1.Money{CurrencyCode: cur, Amount: amt} }
	want := &impactv1.EstimateResponse{
		ModelVersion: "impact-model/1",
		InputsDigest: "sha256:00",
		Incidents: []*impactv1.IncidentEstimate{{
			IncidentId: "i1",
			Customers: []*impactv1.CustomerEstimate{
				{
					CustomerId:    "bank",
					ImpactSeconds: "1500.5",
					LostRevenue:   &impactv1.LostRevenue{Gross: m("USD", "3060.00"), Net: m("USD", "2295.00"), Recaptured: m("USD", "765.00")},
					RecoveryCost:  m("USD", "0.00"),
					SlaCredits:    []*impactv1.AttributedCredit{{Service: "api", PeriodStart: pts("2025-07-01T00:00:00Z"), Credit: m("USD", "1234.57")}},
					ChurnExposure: m("USD", "0.00"),
				},
				{
					CustomerId:    "shop",
					ImpactSeconds: "60",
					LostRevenue:   &impactv1.LostRevenue{Gross: m("JPY", "123457"), Net: m("JPY", "123457"), Recaptured: m("JPY", "0")},
					SlaCredits:    []*impactv1.AttributedCredit{},
					ChurnExposure: m("JPY", "5"),
				},
			},
			Totals: []*impactv1.CurrencyTotals{{CurrencyCode: "USD", LostRevenueGross: "3060.00", LostRevenueNet: "2295.00",
				RecoveryCost: "0.00", SlaCredits: "1234.57", ChurnExposure: "0.00"}},
		}},
		SlaStatements: []*impactv1.ContractStatement{{
			CustomerId: "bank", Service: "api",
			PeriodStart: pts("2025-07-01T00:00:00Z"), PeriodEnd: pts("2025-08-01T00:00:00Z"),
			PeriodSeconds: "2678400", DowntimeSeconds: "3000", UptimePercent: "99.887993",
			CreditPercent: "10", Fee: m("USD", "12345.67"), ComputedCredit: m("USD", "1234.57"),
			CreditAmount: m("USD", "1234.57"),
			Incidents:    []*impactv1.IncidentShare{{IncidentId: "i1", DowntimeSeconds: "3000", Credit: m("USD", "1234.57")}},
		}, {
			CustomerId: "shop", Service: "api",
			PeriodStart: pts("2025-07-01T00:00:00Z"), PeriodEnd: pts("2025-08-01T00:00:00Z"),
			PeriodSeconds: "2678400", DowntimeSeconds: "0", UptimePercent: "100.000000",
			CreditPercent: "0", Fee: m("JPY", "1000"), ComputedCredit: m("JPY", "3"), CreditAmount: m("JPY", "0"),
			BelowMinimum: true, Incidents: []*impactv1.IncidentShare{},
		}},
	}
	got := estimateToProto(in)
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}
