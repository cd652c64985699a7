package impact

import "testing"

func TestWithDefaults(t *testing.T) {
	k := Contract{Service: "api"}.WithDefaults()
	if k.BillingPeriod != Monthly || k.TimeZone != "UTC" || k.Degradation != Threshold || k.DowntimeThreshold != "1" ||
		k.Granularity != Seconds || k.Denominator != PeriodDenominator || k.Rounding != HalfEven ||
		k.CreditCapPercent != "100" || k.MinCreditAmount != "0" || k.MonthlyFee != "0" {
		t.Errorf("contract defaults: %+v", k)
	}
	// Set values stay; PROPORTIONAL gets no threshold.
	p := Contract{Degradation: Proportional, BillingPeriod: Quarterly, TimeZone: "Europe/Berlin"}.WithDefaults()
	if p.DowntimeThreshold != "" || p.BillingPeriod != Quarterly || p.TimeZone != "Europe/Berlin" {
		t.Errorf("proportional: %+v", p)
	}
	if c := (Customer{}).WithDefaults(); c.TimeZone != "UTC" || c.Baseline.RecaptureRate != "0" {
		t.Errorf("customer defaults: %+v", c)
	}
	if in := (Incident{}).WithDefaults(); in.Cause != UnknownCause || in.Allocation != Even {
		t.Errorf("incident defaults: %+v", in)
	}
}

// Filling in the defaults changes neither a figure nor the digest.
func TestWithDefaultsSameDigest(t *testing.T) {
	sc := Scenario{Customers: []Customer{{ID: "a", Currency: "EUR", Contracts: []Contract{{Service: "api", MonthlyFee: "100"}}}},
		Incidents: []Incident{{ID: "i"}}}
	filled := Scenario{Customers: []Customer{sc.Customers[0].WithDefaults()}, Incidents: []Incident{sc.Incidents[0].WithDefaults()}}
	filled.Customers[0].Contracts = []Contract{sc.Customers[0].Contracts[0].WithDefaults()}
	a, err := EstimateScenario(&sc, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	b, err := EstimateScenario(&filled, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if a.InputsDigest != b.InputsDigest {
		t.Errorf("digest %s with defaults filled in, %s without", b.InputsDigest, a.InputsDigest)
	}
}
