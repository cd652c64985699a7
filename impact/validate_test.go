package impact_test

// Validation: every rule of model.md §1–2 and §9 (and the decisions of
// doc.go) rejects a bad scenario with EINVALID and one violation per problem,
// each naming the field by its snake_case proto path relative to the
// scenario (api.md), all problems at once.

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// validBase is a valid scenario that uses most fields; each case breaks it
// in one (or a few) places.
func validBase() *impact.Scenario {
	profile := make([]string, 168)
	for i := range profile {
		profile[i] = "10.50"
	}
	c0 := impact.Customer{
		ID: "c0", DisplayName: "Customer zero", Currency: "USD", TimeZone: "UTC",
		Baseline: impact.Baseline{
			HourlyAmount:    "100",
			RecaptureRate:   "0.1",
			SeasonalFactors: []impact.SeasonalFactor{{Start: ts("2025-12-01T00:00:00Z"), End: ts("2026-01-01T00:00:00Z"), Multiplier: "1.5"}},
			Overrides: []impact.HourlyOverride{
				{HourStart: ts("2025-06-10T10:00:00Z"), Amount: "50"},
				{HourStart: ts("2025-06-10T11:00:00Z"), Amount: "60"},
			},
		},
		LifetimeValue: "1000", ChurnProbability: "0.1",
		Contracts: []impact.Contract{
			{
				Service: "api", MonthlyFee: "100.00",
				PeriodFees:    []impact.PeriodFee{{PeriodStart: ts("2025-06-01T00:00:00Z"), Fee: "200.00"}, {PeriodStart: ts("2025-07-01T00:00:00Z"), Fee: "300"}},
				BillingPeriod: impact.Monthly, TimeZone: "UTC",
				Tiers:             []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}, {UptimeBelow: "99.0", CreditPercent: "25"}},
				CreditCapPercent:  "50",
				MinCreditAmount:   "1.00",
				Degradation:       impact.Threshold,
				DowntimeThreshold: "0.5", Granularity: impact.MinutesTouched, MinDowntimeSeconds: 60,
				ExcludeMaintenance: true,
				MaintenanceWindows: []impact.TimeWindow{{Start: ts("2025-06-10T09:00:00Z"), End: ts("2025-06-10T09:30:00Z")}},
				ExcludedCauses:     []impact.Cause{impact.NaturalDisaster},
				Denominator:        impact.Deployed,
				ActiveFrom:         ts("2025-01-01T00:00:00Z"), ActiveUntil: ts("2026-01-01T00:00:00Z"),
				Rounding: impact.HalfUp,
			},
			{Service: "db", MonthlyFee: "50", Tiers: []impact.CreditTier{{UptimeBelow: "99.5", CreditPercent: "5"}}, Degradation: impact.Proportional},
		},
	}
	c1 := impact.Customer{
		ID: "c1", Currency: "EUR", TimeZone: "Europe/Berlin",
		Baseline: impact.Baseline{
			WeeklyProfile: profile,
			// 08:00Z on 2025-06-10 is 10:00 CEST: a local hour start.
			Overrides: []impact.HourlyOverride{{HourStart: ts("2025-06-10T08:00:00Z"), Amount: "20"}},
		},
		Contracts: []impact.Contract{{
			Service: "web", MonthlyFee: "10", BillingPeriod: impact.Quarterly, TimeZone: "Asia/Kolkata",
			Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10", Inclusive: true}},
		}},
	}
	i0 := impact.Incident{
		ID: "inc-1", Title: "db failover", Cause: impact.SoftwareDefect,
		Windows: []impact.OutageWindow{
			winF("c0", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z", "0.5"),
			win("c1", "web", "2025-06-10T10:00:00Z", "2025-06-10T12:00:00Z"),
			winF("c0", "db", "2025-06-10T10:30:00Z", "2025-06-10T11:30:00Z", "0.25"),
			win("c1", "web", "2025-06-11T10:00:00Z", "2025-06-11T10:30:00Z"),
		},
		RecoveryCurrency: "USD",
		RecoveryItems: []impact.RecoveryItem{
			{Labor: &impact.LaborItem{Role: "sre", Hours: "2", HourlyRate: "50.00", Engagement: "0.5"}},
			{CustomerID: "c1", Expense: &impact.ExpenseItem{Description: "parts", Quantity: "2", UnitCost: "10.00"}},
		},
		Allocation: impact.ByImpact,
	}
	return &impact.Scenario{
		Customers:         []impact.Customer{c0, c1},
		Incidents:         []impact.Incident{i0},
		ReportingCurrency: "USD",
		FXRates:           []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}},
	}
}

// violations runs the engine and returns the sorted field paths of its
// EINVALID error, failing the test on anything else.
func violations(t *testing.T, s *impact.Scenario, lim impact.Limits) []string {
	t.Helper()
	e, err := impact.EstimateScenario(s, lim)
	if err == nil {
		t.Fatalf("EstimateScenario succeeded (%d statements), want EINVALID", len(e.Statements))
	}
	var ie *impact.Error
	if !errors.As(err, &ie) {
		t.Fatalf("error %v (%T) is not an *impact.Error", err, err)
	}
	if ie.Code != impact.EINVALID {
		t.Fatalf("code = %q, want %q (%v)", ie.Code, impact.EINVALID, err)
	}
	var got []string
	for _, v := range ie.Violations {
		if v.Description == "" {
			t.Errorf("violation %q has no description", v.Field)
		}
		got = append(got, v.Field)
	}
	slices.Sort(got)
	return got
}

type invalidCase struct {
	name string
	mut  func(s *impact.Scenario)
	lim  func(l *impact.Limits) // nil = DefaultLimits
	want []string               // exact set of field paths
}

func runInvalid(t *testing.T, cases []invalidCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validBase()
			c.mut(s)
			lim := impact.DefaultLimits()
			if c.lim != nil {
				c.lim(&lim)
			}
			got := violations(t, s, lim)
			want := slices.Clone(c.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("violations = %q, want %q", got, want)
			}
		})
	}
}

// Paths used below.
const (
	pHourly   = "customers[0].baseline.hourly_amount"
	pContract = "customers[0].contracts[0]."
	pWin0     = "incidents[0].windows[0]."
	pWin3     = "incidents[0].windows[3]."
)

func TestValidateBaseIsValid(t *testing.T) {
	e, err := impact.EstimateScenario(validBase(), impact.DefaultLimits())
	if err != nil {
		t.Fatalf("valid base scenario rejected: %v", err)
	}
	if len(e.Incidents) != 1 || len(e.Incidents[0].Customers) != 2 {
		t.Errorf("estimate has %d incidents, want 1 with 2 customers", len(e.Incidents))
	}
}

func TestValidateDecimalSyntax(t *testing.T) {
	bad := []struct{ name, v string }{
		{"exponent", "1e5"},
		{"huge-exponent", "1e999999999"},
		{"upper-exponent", "1E5"},
		{"nan", "NaN"},
		{"infinity", "Infinity"},
		{"thousands-separator", "1,000"},
		{"underscore", "1_000"},
		{"leading-space", " 1"},
		{"trailing-space", "1 "},
		{"plus-sign", "+1"},
		{"leading-point", ".5"},
		{"trailing-point", "5."},
		{"two-points", "1.5.0"},
		{"double-minus", "--1"},
		{"minus-only", "-"},
		{"hex", "0x10"},
		{"arabic-indic-digit", "\u0661"},
		{"fullwidth-digit", "\uff11"},
		{"comma-decimal", "1,5"},
		{"31-integer-digits", "1234567890123456789012345678901"},
		{"31-integer-digits-leading-zeros", "0000000000000000000000000000001"},
		{"13-fraction-digits", "0.1234567890123"},
		{"nul-byte", "1\x00"},
	}
	var cases []invalidCase
	for _, b := range bad {
		cases = append(cases, invalidCase{
			name: "hourly_amount/" + b.name,
			mut:  func(s *impact.Scenario) { s.Customers[0].Baseline.HourlyAmount = b.v },
			want: []string{pHourly},
		})
	}
	// The same syntax rule on every other decimal field, each named by its path.
	fields := []struct {
		path string
		set  func(s *impact.Scenario, v string)
	}{
		{"customers[1].baseline.weekly_profile[7]", func(s *impact.Scenario, v string) { s.Customers[1].Baseline.WeeklyProfile[7] = v }},
		{"customers[0].baseline.recapture_rate", func(s *impact.Scenario, v string) { s.Customers[0].Baseline.RecaptureRate = v }},
		{"customers[0].baseline.seasonal_factors[0].multiplier", func(s *impact.Scenario, v string) { s.Customers[0].Baseline.SeasonalFactors[0].Multiplier = v }},
		{"customers[0].baseline.overrides[1].amount", func(s *impact.Scenario, v string) { s.Customers[0].Baseline.Overrides[1].Amount = v }},
		{"customers[0].lifetime_value", func(s *impact.Scenario, v string) { s.Customers[0].LifetimeValue = v }},
		{"customers[0].churn_probability", func(s *impact.Scenario, v string) { s.Customers[0].ChurnProbability = v }},
		{pContract + "monthly_fee", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].MonthlyFee = v }},
		{pContract + "period_fees[1].fee", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].PeriodFees[1].Fee = v }},
		{pContract + "tiers[1].uptime_below", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].Tiers[1].UptimeBelow = v }},
		{pContract + "tiers[1].credit_percent", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].Tiers[1].CreditPercent = v }},
		{pContract + "credit_cap_percent", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].CreditCapPercent = v }},
		{pContract + "min_credit_amount", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].MinCreditAmount = v }},
		{pContract + "downtime_threshold", func(s *impact.Scenario, v string) { s.Customers[0].Contracts[0].DowntimeThreshold = v }},
		{pWin3 + "impact_fraction", func(s *impact.Scenario, v string) { s.Incidents[0].Windows[3].ImpactFraction = v }},
		{"incidents[0].recovery_items[0].labor.hours", func(s *impact.Scenario, v string) { s.Incidents[0].RecoveryItems[0].Labor.Hours = v }},
		{"incidents[0].recovery_items[0].labor.hourly_rate", func(s *impact.Scenario, v string) { s.Incidents[0].RecoveryItems[0].Labor.HourlyRate = v }},
		{"incidents[0].recovery_items[0].labor.engagement", func(s *impact.Scenario, v string) { s.Incidents[0].RecoveryItems[0].Labor.Engagement = v }},
		{"incidents[0].recovery_items[1].expense.quantity", func(s *impact.Scenario, v string) { s.Incidents[0].RecoveryItems[1].Expense.Quantity = v }},
		{"incidents[0].recovery_items[1].expense.unit_cost", func(s *impact.Scenario, v string) { s.Incidents[0].RecoveryItems[1].Expense.UnitCost = v }},
		{"fx_rates[0].rate", func(s *impact.Scenario, v string) { s.FXRates[0].Rate = v }},
	}
	for _, f := range fields {
		for _, v := range []string{"1e0", "NaN", "0.5 "} {
			cases = append(cases, invalidCase{
				name: f.path + "/" + v,
				mut:  func(s *impact.Scenario) { f.set(s, v) },
				want: []string{f.path},
			})
		}
	}
	// Empty where a value is required (no default in model.md §9).
	for _, path := range []string{
		"customers[1].baseline.weekly_profile[7]",
		"customers[0].baseline.seasonal_factors[0].multiplier",
		"customers[0].baseline.overrides[1].amount",
		pContract + "period_fees[1].fee",
		pContract + "tiers[1].uptime_below",
		pContract + "tiers[1].credit_percent",
		"incidents[0].recovery_items[0].labor.hours",
		"incidents[0].recovery_items[0].labor.hourly_rate",
		"incidents[0].recovery_items[1].expense.unit_cost",
		"fx_rates[0].rate",
	} {
		for _, f := range fields {
			if f.path == path {
				cases = append(cases, invalidCase{name: "empty/" + path, mut: func(s *impact.Scenario) { f.set(s, "") }, want: []string{path}})
			}
		}
	}
	runInvalid(t, cases)
}

// TestValidateHugeDecimalFailsFast: a 10 MB decimal string is rejected by
// its syntax, without big-integer work (no allocation proportional to it).
func TestValidateHugeDecimalFailsFast(t *testing.T) {
	const n = 10 << 20
	inputs := map[string]string{
		"digits":          strings.Repeat("7", n),
		"fraction":        "0." + strings.Repeat("3", n),
		"exponent":        "1e" + strings.Repeat("9", n),
		"leading-zeros":   strings.Repeat("0", n) + "1",
		"digits-then-bad": strings.Repeat("1", n) + "x",
	}
	for name, v := range inputs {
		t.Run(name, func(t *testing.T) {
			s := validBase()
			s.Customers[0].Baseline.HourlyAmount = v
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := impact.EstimateScenario(s, impact.DefaultLimits())
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if impact.ErrorCode(err) != impact.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			var ie *impact.Error
			errors.As(err, &ie)
			if len(ie.Violations) != 1 || ie.Violations[0].Field != pHourly {
				t.Errorf("violations = %+v, want one on %s", ie.Violations, pHourly)
			}
			if len(ie.Error()) > 4096 {
				t.Errorf("error message is %d bytes: it echoes the input", len(ie.Error()))
			}
			// A big.Int of 10M decimal digits needs ~4 MB; parsing it more.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("rejecting a %d-byte decimal allocated %d bytes", len(v), alloc)
			}
			// Generous: a byte scan of 10 MB takes milliseconds.
			if elapsed > 2*time.Second {
				t.Errorf("rejecting a %d-byte decimal took %v", len(v), elapsed)
			}
			// ParseDecimal rejects it the same way, just as cheaply.
			runtime.ReadMemStats(&before)
			if _, err := impact.ParseDecimal(v); impact.ErrorCode(err) != impact.EINVALID {
				t.Errorf("ParseDecimal err = %v, want EINVALID", err)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<16 {
				t.Errorf("ParseDecimal of a %d-byte string allocated %d bytes", len(v), alloc)
			}
		})
	}
}

func TestValidateTimes(t *testing.T) {
	setWin := func(i int, start, end string) func(s *impact.Scenario) {
		return func(s *impact.Scenario) {
			w := &s.Incidents[0].Windows[i]
			if start != "" {
				w.Start = ts(start)
			}
			if end != "" {
				w.End = ts(end)
			}
		}
	}
	runInvalid(t, []invalidCase{
		// Truncated toward the past, 23:59:59.5 is 1969-12-31T23:59:59: before 1970.
		{"start-before-1970", setWin(0, "1969-12-31T23:59:59Z", "1970-01-01T01:00:00Z"), nil, []string{pWin0 + "start_time"}},
		{"start-before-1970-subsecond", setWin(0, "1969-12-31T23:59:59.5Z", "1970-01-01T01:00:00Z"), nil, []string{pWin0 + "start_time"}},
		{"start-unset", func(s *impact.Scenario) { s.Incidents[0].Windows[0].Start = time.Time{} }, nil, []string{pWin0 + "start_time"}},
		{"end-after-2200", setWin(3, "2199-12-31T23:00:00Z", "2200-01-01T00:00:01Z"), nil, []string{pWin3 + "end_time"}},
		{"end-far-future", setWin(3, "2199-12-31T23:00:00Z", "9999-01-01T00:00:00Z"), nil, []string{pWin3 + "end_time"}},
		// 366 days + 1 s is too long (366 days exactly is accepted below).
		{"window-366-days-plus-1s", setWin(3, "2025-01-01T00:00:00Z", "2026-01-02T00:00:01Z"), nil, []string{pWin3 + "end_time"}},
		{"end-equals-start", setWin(3, "2025-06-11T10:00:00Z", "2025-06-11T10:00:00Z"), nil, []string{pWin3 + "end_time"}},
		{"end-before-start", setWin(3, "2025-06-11T10:00:00Z", "2025-06-11T09:00:00Z"), nil, []string{pWin3 + "end_time"}},
		// 10:00:00.2 .. 10:00:00.9 truncate to 10:00:00 .. 10:00:00: empty.
		{"end-not-after-start-after-truncation", setWin(3, "2025-06-11T10:00:00.2Z", "2025-06-11T10:00:00.9Z"), nil, []string{pWin3 + "end_time"}},
		{"maintenance-end-before-start", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].MaintenanceWindows[0].End = ts("2025-06-10T08:00:00Z")
		}, nil, []string{pContract + "maintenance_windows[0].end_time"}},
		{"maintenance-before-1970", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].MaintenanceWindows[0].Start = ts("1960-01-01T00:00:00Z")
		}, nil, []string{pContract + "maintenance_windows[0].start_time"}},
		{"seasonal-factor-after-2200", func(s *impact.Scenario) {
			s.Customers[0].Baseline.SeasonalFactors[0].End = ts("2300-01-01T00:00:00Z")
		}, nil, []string{"customers[0].baseline.seasonal_factors[0].end_time"}},
		{"seasonal-factor-end-before-start", func(s *impact.Scenario) {
			s.Customers[0].Baseline.SeasonalFactors[0].End = ts("2025-11-01T00:00:00Z")
		}, nil, []string{"customers[0].baseline.seasonal_factors[0].end_time"}},
		{"override-before-1970", func(s *impact.Scenario) {
			s.Customers[0].Baseline.Overrides[1].HourStart = ts("1969-01-01T00:00:00Z")
		}, nil, []string{"customers[0].baseline.overrides[1].hour_start"}},
		{"period-fee-after-2200", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].PeriodFees[1].PeriodStart = ts("2300-01-01T00:00:00Z")
		}, nil, []string{pContract + "period_fees[1].period_start"}},
		{"active-from-before-1970", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].ActiveFrom = ts("1960-01-01T00:00:00Z")
		}, nil, []string{pContract + "active_from"}},
		{"active-until-after-2200", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].ActiveUntil = ts("2300-01-01T00:00:00Z")
		}, nil, []string{pContract + "active_until"}},
	})
}

func TestValidateValuesAndRanges(t *testing.T) {
	c0 := func(f func(c *impact.Customer)) func(s *impact.Scenario) {
		return func(s *impact.Scenario) { f(&s.Customers[0]) }
	}
	k0 := func(f func(k *impact.Contract)) func(s *impact.Scenario) {
		return func(s *impact.Scenario) { f(&s.Customers[0].Contracts[0]) }
	}
	k1 := func(f func(k *impact.Contract)) func(s *impact.Scenario) { // the PROPORTIONAL contract
		return func(s *impact.Scenario) { f(&s.Customers[0].Contracts[1]) }
	}
	profileOf := func(n int) func(s *impact.Scenario) {
		return func(s *impact.Scenario) {
			p := make([]string, n)
			for i := range p {
				p[i] = "1"
			}
			s.Customers[1].Baseline.WeeklyProfile = p
		}
	}
	pK1 := "customers[0].contracts[1]."
	runInvalid(t, []invalidCase{
		// Weekly profile: empty or exactly 168 entries.
		{"profile-167", profileOf(167), nil, []string{"customers[1].baseline.weekly_profile"}},
		{"profile-169", profileOf(169), nil, []string{"customers[1].baseline.weekly_profile"}},
		{"profile-1", profileOf(1), nil, []string{"customers[1].baseline.weekly_profile"}},
		{"profile-24", profileOf(24), nil, []string{"customers[1].baseline.weekly_profile"}},

		// ISO 4217 codes (known, with a minor unit).
		{"currency-unknown", c0(func(c *impact.Customer) { c.Currency = "ABC" }), nil, []string{"customers[0].currency_code"}},
		{"currency-no-minor-unit-XXX", c0(func(c *impact.Customer) { c.Currency = "XXX" }), nil, []string{"customers[0].currency_code"}},
		{"currency-gold-XAU", c0(func(c *impact.Customer) { c.Currency = "XAU" }), nil, []string{"customers[0].currency_code"}},
		{"currency-lowercase", c0(func(c *impact.Customer) { c.Currency = "usd" }), nil, []string{"customers[0].currency_code"}},
		{"currency-empty", c0(func(c *impact.Customer) { c.Currency = "" }), nil, []string{"customers[0].currency_code"}},
		{"recovery-currency-unknown", func(s *impact.Scenario) { s.Incidents[0].RecoveryCurrency = "ZZZ" }, nil, []string{"incidents[0].recovery_currency"}},
		{"reporting-currency-unknown", func(s *impact.Scenario) { s.ReportingCurrency = "ZZZ" }, nil, []string{"reporting_currency"}},
		{"fx-from-unknown", func(s *impact.Scenario) {
			s.FXRates = append(s.FXRates, impact.FXRate{From: "QQQ", To: "USD", Rate: "2"})
		}, nil, []string{"fx_rates[1].from_currency"}},
		{"fx-to-unknown", func(s *impact.Scenario) {
			s.FXRates = append(s.FXRates, impact.FXRate{From: "GBP", To: "QQQ", Rate: "2"})
		}, nil, []string{"fx_rates[1].to_currency"}},

		// IANA zones.
		{"zone-unknown", c0(func(c *impact.Customer) { c.TimeZone = "Mars/Olympus_Mons" }), nil, []string{"customers[0].time_zone"}},
		{"zone-typo", k0(func(k *impact.Contract) { k.TimeZone = "Europe/Berln" }), nil, []string{pContract + "time_zone"}},
		{"zone-offset-not-iana", c0(func(c *impact.Customer) { c.TimeZone = "+05:30" }), nil, []string{"customers[0].time_zone"}},
		// "Local" is the machine's zone, not an IANA name: it would make figures
		// depend on the host (model.md §8).
		{"zone-local-is-not-iana", c0(func(c *impact.Customer) { c.TimeZone = "Local" }), nil, []string{"customers[0].time_zone"}},

		// Impact fractions in (0, 1].
		{"fraction-zero", func(s *impact.Scenario) { s.Incidents[0].Windows[3].ImpactFraction = "0" }, nil, []string{pWin3 + "impact_fraction"}},
		{"fraction-above-one", func(s *impact.Scenario) { s.Incidents[0].Windows[3].ImpactFraction = "1.000000000001" }, nil, []string{pWin3 + "impact_fraction"}},
		{"fraction-negative", func(s *impact.Scenario) { s.Incidents[0].Windows[3].ImpactFraction = "-0.5" }, nil, []string{pWin3 + "impact_fraction"}},
		{"engagement-zero", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[0].Labor.Engagement = "0" }, nil, []string{"incidents[0].recovery_items[0].labor.engagement"}},
		{"engagement-above-one", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[0].Labor.Engagement = "1.5" }, nil, []string{"incidents[0].recovery_items[0].labor.engagement"}},

		// Rates in [0, 1].
		{"recapture-above-one", c0(func(c *impact.Customer) { c.Baseline.RecaptureRate = "1.01" }), nil, []string{"customers[0].baseline.recapture_rate"}},
		{"recapture-negative", c0(func(c *impact.Customer) { c.Baseline.RecaptureRate = "-0.01" }), nil, []string{"customers[0].baseline.recapture_rate"}},
		{"churn-above-one", c0(func(c *impact.Customer) { c.ChurnProbability = "1.5" }), nil, []string{"customers[0].churn_probability"}},
		{"churn-negative", c0(func(c *impact.Customer) { c.ChurnProbability = "-0.1" }), nil, []string{"customers[0].churn_probability"}},
		// downtime_threshold: > 0 (doc.go) and an impact level, so ≤ 1.
		{"threshold-zero", k0(func(k *impact.Contract) { k.DowntimeThreshold = "0" }), nil, []string{pContract + "downtime_threshold"}},
		{"threshold-above-one", k0(func(k *impact.Contract) { k.DowntimeThreshold = "1.5" }), nil, []string{pContract + "downtime_threshold"}},

		// Percentages in [0, 100].
		{"cap-above-100", k0(func(k *impact.Contract) { k.CreditCapPercent = "100.01" }), nil, []string{pContract + "credit_cap_percent"}},
		{"cap-negative", k0(func(k *impact.Contract) { k.CreditCapPercent = "-1" }), nil, []string{pContract + "credit_cap_percent"}},
		{"tier-percent-above-100", k0(func(k *impact.Contract) { k.Tiers[1].CreditPercent = "101" }), nil, []string{pContract + "tiers[1].credit_percent"}},
		{"tier-percent-negative", k0(func(k *impact.Contract) { k.Tiers[0].CreditPercent = "-5" }), nil, []string{pContract + "tiers[0].credit_percent"}},

		// Negative money (and the other non-negative inputs of doc.go).
		{"hourly-negative", c0(func(c *impact.Customer) { c.Baseline.HourlyAmount = "-1.00" }), nil, []string{pHourly}},
		{"profile-entry-negative", func(s *impact.Scenario) { s.Customers[1].Baseline.WeeklyProfile[100] = "-0.01" }, nil, []string{"customers[1].baseline.weekly_profile[100]"}},
		{"override-negative", c0(func(c *impact.Customer) { c.Baseline.Overrides[0].Amount = "-50" }), nil, []string{"customers[0].baseline.overrides[0].amount"}},
		{"multiplier-negative", c0(func(c *impact.Customer) { c.Baseline.SeasonalFactors[0].Multiplier = "-1.5" }), nil, []string{"customers[0].baseline.seasonal_factors[0].multiplier"}},
		{"lifetime-value-negative", c0(func(c *impact.Customer) { c.LifetimeValue = "-1000" }), nil, []string{"customers[0].lifetime_value"}},
		{"monthly-fee-negative", k0(func(k *impact.Contract) { k.MonthlyFee = "-0.01" }), nil, []string{pContract + "monthly_fee"}},
		{"period-fee-negative", k0(func(k *impact.Contract) { k.PeriodFees[0].Fee = "-200" }), nil, []string{pContract + "period_fees[0].fee"}},
		{"min-credit-negative", k0(func(k *impact.Contract) { k.MinCreditAmount = "-1" }), nil, []string{pContract + "min_credit_amount"}},
		{"hourly-rate-negative", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[0].Labor.HourlyRate = "-50" }, nil, []string{"incidents[0].recovery_items[0].labor.hourly_rate"}},
		{"unit-cost-negative", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[1].Expense.UnitCost = "-10" }, nil, []string{"incidents[0].recovery_items[1].expense.unit_cost"}},
		{"fx-rate-zero", func(s *impact.Scenario) { s.FXRates[0].Rate = "0" }, nil, []string{"fx_rates[0].rate"}},
		{"fx-rate-negative", func(s *impact.Scenario) { s.FXRates[0].Rate = "-1.1" }, nil, []string{"fx_rates[0].rate"}},
		{"min-downtime-negative", k0(func(k *impact.Contract) { k.MinDowntimeSeconds = -1 }), nil, []string{pContract + "min_downtime_seconds"}},

		// PROPORTIONAL: SECONDS only, no threshold, no minimum downtime.
		{"proportional-minutes-touched", k1(func(k *impact.Contract) { k.Granularity = impact.MinutesTouched }), nil, []string{pK1 + "granularity"}},
		{"proportional-minutes-full", k1(func(k *impact.Contract) { k.Granularity = impact.MinutesFull }), nil, []string{pK1 + "granularity"}},
		{"proportional-with-threshold", k1(func(k *impact.Contract) { k.DowntimeThreshold = "0.5" }), nil, []string{pK1 + "downtime_threshold"}},
		{"proportional-with-min-downtime", k1(func(k *impact.Contract) { k.MinDowntimeSeconds = 60 }), nil, []string{pK1 + "min_downtime_seconds"}},

		// Tiers: distinct bounds in (0, 100]; a more severe tier never grants less.
		{"tier-duplicate-bounds", k0(func(k *impact.Contract) { k.Tiers[1].UptimeBelow = "99.90" }), nil, []string{pContract + "tiers[1].uptime_below"}},
		{"tier-bound-zero", k0(func(k *impact.Contract) { k.Tiers[1].UptimeBelow = "0" }), nil, []string{pContract + "tiers[1].uptime_below"}},
		{"tier-bound-above-100", k0(func(k *impact.Contract) { k.Tiers[0].UptimeBelow = "100.5" }), nil, []string{pContract + "tiers[0].uptime_below"}},
		{"tier-bound-negative", k0(func(k *impact.Contract) { k.Tiers[1].UptimeBelow = "-1" }), nil, []string{pContract + "tiers[1].uptime_below"}},
		// tiers[1] (< 99.0) is more severe than tiers[0] (< 99.9) but grants 5 < 10.
		{"tier-more-severe-grants-less", k0(func(k *impact.Contract) { k.Tiers[1].CreditPercent = "5" }), nil, []string{pContract + "tiers[1].credit_percent"}},

		// Period fees: one per period start (doc.go).
		{"period-fee-duplicate-start", k0(func(k *impact.Contract) { k.PeriodFees[1].PeriodStart = k.PeriodFees[0].PeriodStart }), nil, []string{pContract + "period_fees[1].period_start"}},

		// FX: a direct rate to the reporting currency for every other currency.
		{"fx-missing", func(s *impact.Scenario) { s.FXRates = nil }, nil, []string{"fx_rates"}},
		{"fx-wrong-direction", func(s *impact.Scenario) { s.FXRates[0].From, s.FXRates[0].To = "USD", "EUR" }, nil, []string{"fx_rates"}},
		{"fx-missing-for-recovery-currency", func(s *impact.Scenario) { s.Incidents[0].RecoveryCurrency = "GBP" }, nil, []string{"fx_rates"}},
		// Two currencies (EUR, USD) lack a rate to CHF: two problems.
		{"fx-missing-for-new-reporting-currency", func(s *impact.Scenario) { s.ReportingCurrency = "CHF" }, nil, []string{"fx_rates", "fx_rates"}},

		// Identity and references.
		{"duplicate-customer-id", func(s *impact.Scenario) {
			s.Customers = append(s.Customers, cust("c0", "USD", "1"))
		}, nil, []string{"customers[2].customer_id"}},
		{"empty-customer-id", func(s *impact.Scenario) {
			s.Customers = append(s.Customers, cust("", "USD", "1"))
		}, nil, []string{"customers[2].customer_id"}},
		{"window-unknown-customer", func(s *impact.Scenario) { s.Incidents[0].Windows[3].CustomerID = "c9" }, nil, []string{pWin3 + "customer_id"}},
		{"duplicate-incident-id", func(s *impact.Scenario) {
			s.Incidents = append(s.Incidents, inc("inc-1", win("c0", "api", "2025-06-12T10:00:00Z", "2025-06-12T11:00:00Z")))
		}, nil, []string{"incidents[1].incident_id"}},
		{"empty-incident-id", func(s *impact.Scenario) { s.Incidents[0].ID = "" }, nil, []string{"incidents[0].incident_id"}},
		{"duplicate-contract-service", func(s *impact.Scenario) { s.Customers[0].Contracts[1].Service = "api" }, nil, []string{"customers[0].contracts[1].service"}},

		// Overrides: at a local hour start, one per hour.
		// 08:30Z is 10:30 CEST in Berlin: not a local hour start.
		{"override-not-hour-start", func(s *impact.Scenario) {
			s.Customers[1].Baseline.Overrides[0].HourStart = ts("2025-06-10T08:30:00Z")
		}, nil, []string{"customers[1].baseline.overrides[0].hour_start"}},
		// In Asia/Kolkata local hours start at :30 UTC, so 10:00Z is mid-hour.
		{"override-kolkata-utc-hour-is-mid-hour", func(s *impact.Scenario) { s.Customers[0].TimeZone = "Asia/Kolkata" }, nil,
			[]string{"customers[0].baseline.overrides[0].hour_start", "customers[0].baseline.overrides[1].hour_start"}},
		{"override-one-second-late", func(s *impact.Scenario) {
			s.Customers[0].Baseline.Overrides[1].HourStart = ts("2025-06-10T11:00:01Z")
		}, nil, []string{"customers[0].baseline.overrides[1].hour_start"}},
		{"two-overrides-one-hour", func(s *impact.Scenario) {
			s.Customers[0].Baseline.Overrides[1].HourStart = ts("2025-06-10T10:00:00Z")
		}, nil, []string{"customers[0].baseline.overrides[1].hour_start"}},

		// Required names and enum values in range.
		{"contract-service-empty", k0(func(k *impact.Contract) { k.Service = "" }), nil, []string{pContract + "service"}},
		{"window-service-empty", func(s *impact.Scenario) { s.Incidents[0].Windows[0].Service = "" }, nil, []string{pWin0 + "service"}},
		{"billing-period-out-of-range", k0(func(k *impact.Contract) { k.BillingPeriod = 7 }), nil, []string{pContract + "billing_period"}},
		{"degradation-out-of-range", k0(func(k *impact.Contract) { k.Degradation = 9 }), nil, []string{pContract + "degradation"}},
		{"granularity-out-of-range", k0(func(k *impact.Contract) { k.Granularity = -1 }), nil, []string{pContract + "granularity"}},
		{"denominator-out-of-range", k0(func(k *impact.Contract) { k.Denominator = 5 }), nil, []string{pContract + "denominator"}},
		{"rounding-out-of-range", k0(func(k *impact.Contract) { k.Rounding = 3 }), nil, []string{pContract + "rounding"}},
		{"excluded-cause-out-of-range", k0(func(k *impact.Contract) { k.ExcludedCauses = append(k.ExcludedCauses, 99) }), nil, []string{pContract + "excluded_causes[1]"}},
		{"incident-cause-out-of-range", func(s *impact.Scenario) { s.Incidents[0].Cause = 42 }, nil, []string{"incidents[0].cause"}},
		{"allocation-out-of-range", func(s *impact.Scenario) { s.Incidents[0].Allocation = 3 }, nil, []string{"incidents[0].allocation"}},
		{"deployed-until-not-after-from", k0(func(k *impact.Contract) { k.ActiveUntil = k.ActiveFrom }), nil, []string{pContract + "active_until"}},

		// Recovery.
		{"recovery-item-customer-without-window", func(s *impact.Scenario) {
			s.Customers = append(s.Customers, cust("c2", "USD", "1"))
			s.Incidents[0].RecoveryItems[1].CustomerID = "c2"
		}, nil, []string{"incidents[0].recovery_items[1].customer_id"}},
		{"recovery-item-unknown-customer", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[1].CustomerID = "nobody" }, nil,
			[]string{"incidents[0].recovery_items[1].customer_id"}},
		// doc.go: shared items of an incident without windows cannot be allocated.
		{"shared-items-without-affected-customers", func(s *impact.Scenario) {
			i := inc("inc-2")
			i.RecoveryCurrency = "USD"
			i.RecoveryItems = []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "x", UnitCost: "5"}}}
			s.Incidents = append(s.Incidents, i)
		}, nil, []string{"incidents[1].recovery_items[0]"}},
		{"recovery-items-without-currency", func(s *impact.Scenario) { s.Incidents[0].RecoveryCurrency = "" }, nil, []string{"incidents[0].recovery_currency"}},
		{"recovery-item-neither-labor-nor-expense", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[0].Labor = nil }, nil,
			[]string{"incidents[0].recovery_items[0]"}},
		{"recovery-item-both-labor-and-expense", func(s *impact.Scenario) {
			s.Incidents[0].RecoveryItems[0].Expense = &impact.ExpenseItem{Description: "x", UnitCost: "1"}
		}, nil, []string{"incidents[0].recovery_items[0]"}},
	})
}

func TestValidateLimits(t *testing.T) {
	runInvalid(t, []invalidCase{
		{"max-customers", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxCustomers = 1 }, []string{"customers"}},
		{"max-incidents", func(s *impact.Scenario) {
			s.Incidents = append(s.Incidents, inc("inc-2", win("c0", "api", "2025-06-12T10:00:00Z", "2025-06-12T11:00:00Z")))
		}, func(l *impact.Limits) { l.MaxIncidents = 1 }, []string{"incidents"}},
		// MaxWindows and MaxWindowHours count over all incidents, so they are
		// reported on the list they span.
		{"max-windows", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxWindows = 3 }, []string{"incidents"}},
		{"max-contracts-per-customer", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxContractsPerCustomer = 1 }, []string{"customers[0].contracts"}},
		{"max-overrides", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxOverrides = 1 }, []string{"customers[0].baseline.overrides"}},
		{"max-seasonal-factors", func(s *impact.Scenario) {
			b := &s.Customers[0].Baseline
			b.SeasonalFactors = append(b.SeasonalFactors, impact.SeasonalFactor{Start: ts("2025-06-01T00:00:00Z"), End: ts("2025-07-01T00:00:00Z"), Multiplier: "2"})
		}, func(l *impact.Limits) { l.MaxSeasonalFactors = 1 }, []string{"customers[0].baseline.seasonal_factors"}},
		{"max-tiers", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxTiers = 1 }, []string{pContract + "tiers"}},
		{"max-maintenance-windows", func(s *impact.Scenario) {
			k := &s.Customers[0].Contracts[0]
			k.MaintenanceWindows = append(k.MaintenanceWindows, impact.TimeWindow{Start: ts("2025-06-11T09:00:00Z"), End: ts("2025-06-11T09:30:00Z")})
		}, func(l *impact.Limits) { l.MaxMaintenanceWindows = 1 }, []string{pContract + "maintenance_windows"}},
		{"max-period-fees", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxPeriodFees = 1 }, []string{pContract + "period_fees"}},
		{"max-recovery-items", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxRecoveryItems = 1 }, []string{"incidents[0].recovery_items"}},
		{"max-fx-rates", func(s *impact.Scenario) {
			s.FXRates = append(s.FXRates, impact.FXRate{From: "GBP", To: "USD", Rate: "1.3"})
		}, func(l *impact.Limits) { l.MaxFXRates = 1 }, []string{"fx_rates"}},
		// Window hours of the base: 1 + 2 + 1 + 1 = 5 (rounded up per window).
		{"max-window-hours", func(*impact.Scenario) {}, func(l *impact.Limits) { l.MaxWindowHours = 4 }, []string{"incidents"}},
		{"max-id-bytes-customer-id", func(s *impact.Scenario) {
			s.Customers = append(s.Customers, cust(strings.Repeat("x", 17), "USD", "1"))
		}, func(l *impact.Limits) { l.MaxIDBytes = 16 }, []string{"customers[2].customer_id"}},
		{"max-id-bytes-title", func(s *impact.Scenario) { s.Incidents[0].Title = strings.Repeat("t", 17) },
			func(l *impact.Limits) { l.MaxIDBytes = 16 }, []string{"incidents[0].title"}},
		{"max-id-bytes-display-name", func(s *impact.Scenario) { s.Customers[0].DisplayName = strings.Repeat("d", 17) },
			func(l *impact.Limits) { l.MaxIDBytes = 16 }, []string{"customers[0].display_name"}},
		{"max-id-bytes-role", func(s *impact.Scenario) { s.Incidents[0].RecoveryItems[0].Labor.Role = strings.Repeat("r", 17) },
			func(l *impact.Limits) { l.MaxIDBytes = 16 }, []string{"incidents[0].recovery_items[0].labor.role"}},
		{"max-id-bytes-service", func(s *impact.Scenario) {
			svc := strings.Repeat("s", 17)
			s.Incidents[0].Windows[3].Service = svc
		}, func(l *impact.Limits) { l.MaxIDBytes = 16 }, []string{pWin3 + "service"}},
	})
}

// TestValidateAllProblemsAtOnce: three independent problems give exactly
// three violations, one per problem.
func TestValidateAllProblemsAtOnce(t *testing.T) {
	s := validBase()
	s.Customers[0].Baseline.HourlyAmount = "1e5"
	s.Incidents[0].Windows[3].End = s.Incidents[0].Windows[3].Start
	s.Customers[1].Baseline.WeeklyProfile = s.Customers[1].Baseline.WeeklyProfile[:100]
	got := violations(t, s, impact.DefaultLimits())
	want := []string{"customers[0].baseline.hourly_amount", "customers[1].baseline.weekly_profile", pWin3 + "end_time"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violations = %q, want exactly %q", got, want)
	}

	// Five problems in five different parts of the scenario.
	s = validBase()
	s.Customers[0].Contracts[0].Tiers[1].CreditPercent = "101"
	s.Incidents[0].Windows[0].ImpactFraction = "2"
	s.Incidents[0].RecoveryItems[0].Labor.HourlyRate = "NaN"
	s.FXRates[0].Rate = "0"
	s.Customers[1].TimeZone = "Nowhere/Atlantis"
	got = violations(t, s, impact.DefaultLimits())
	want = []string{pContract + "tiers[1].credit_percent", pWin0 + "impact_fraction",
		"incidents[0].recovery_items[0].labor.hourly_rate", "fx_rates[0].rate", "customers[1].time_zone"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violations = %q, want exactly %q", got, want)
	}
}

// TestValidateLimitsDecidedBeforeWork: a request beyond MaxWindowHours is
// rejected without computing it (fast, even for a year-long window).
func TestValidateLimitsDecidedBeforeWork(t *testing.T) {
	s := validBase()
	var ws []impact.OutageWindow
	for i := 0; i < 50; i++ {
		w := winD("c0", "api", "2025-01-01T00:00:00Z", 366*86400)
		ws = append(ws, w)
	}
	s.Incidents[0].Windows = append(s.Incidents[0].Windows, ws...)
	lim := impact.DefaultLimits()
	lim.MaxWindowHours = 1000
	start := time.Now()
	got := violations(t, s, lim)
	if el := time.Since(start); el > time.Second {
		t.Errorf("rejecting took %v", el)
	}
	if !slices.Equal(got, []string{"incidents"}) {
		t.Errorf("violations = %q, want [incidents]", got)
	}
}

func TestValidateAccepts(t *testing.T) {
	cases := []struct {
		name string
		mut  func(s *impact.Scenario)
	}{
		{"30-integer-and-12-fraction-digits", func(s *impact.Scenario) {
			s.Customers[0].LifetimeValue = "123456789012345678901234567890.123456789012"
		}},
		{"start-exactly-1970", func(s *impact.Scenario) {
			s.Incidents[0].Windows[3].Start = ts("1970-01-01T00:00:00Z")
			s.Incidents[0].Windows[3].End = ts("1970-01-01T01:00:00Z")
		}},
		{"end-just-before-2200", func(s *impact.Scenario) {
			s.Incidents[0].Windows[3].Start = ts("2199-12-31T00:00:00Z")
			s.Incidents[0].Windows[3].End = ts("2199-12-31T23:59:59Z")
		}},
		{"window-exactly-366-days", func(s *impact.Scenario) {
			s.Incidents[0].Windows[3].Start = ts("2025-01-01T00:00:00Z")
			s.Incidents[0].Windows[3].End = ts("2026-01-02T00:00:00Z")
		}},
		// 09:59:59.9 .. 10:00:00.1 truncates to 09:59:59 .. 10:00:00: one second.
		{"one-second-after-truncation", func(s *impact.Scenario) {
			s.Incidents[0].Windows[3].Start = ts("2025-06-11T09:59:59.9Z")
			s.Incidents[0].Windows[3].End = ts("2025-06-11T10:00:00.1Z")
		}},
		{"fraction-one-and-rates-at-bounds", func(s *impact.Scenario) {
			s.Incidents[0].Windows[3].ImpactFraction = "1"
			s.Customers[0].Baseline.RecaptureRate = "1"
			s.Customers[0].ChurnProbability = "0"
			s.Customers[1].Baseline.RecaptureRate = "0"
			s.Incidents[0].RecoveryItems[0].Labor.Engagement = "1"
		}},
		{"tier-bound-100-and-percent-0-and-100", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].Tiers = tiers("<=100:0", "99.9:10", "99.0:100")
			s.Customers[0].Contracts[0].CreditCapPercent = "100"
		}},
		{"equal-percent-for-more-severe-tier", func(s *impact.Scenario) {
			s.Customers[0].Contracts[0].Tiers = tiers("99.9:10", "99.0:10")
		}},
		{"zero-money", func(s *impact.Scenario) {
			s.Customers[0].Baseline.HourlyAmount = "0"
			s.Customers[0].Contracts[0].MonthlyFee = "0"
			s.Customers[0].Contracts[0].MinCreditAmount = "0"
			s.Customers[0].LifetimeValue = "0"
		}},
		{"negative-zero-money", func(s *impact.Scenario) { s.Customers[0].Baseline.HourlyAmount = "-0.00" }},
		{"window-for-service-without-contract", func(s *impact.Scenario) { s.Incidents[0].Windows[3].Service = "nocontract" }},
		// doc.go Decision: hourly_amount is optional (a customer followed for
		// its SLA only loses 0 revenue).
		{"hourly-amount-optional", func(s *impact.Scenario) { s.Customers[0].Baseline.HourlyAmount = "" }},
		{"empty-profile-uses-hourly", func(s *impact.Scenario) {
			s.Customers[1].Baseline.WeeklyProfile = nil
			s.Customers[1].Baseline.HourlyAmount = "10"
		}},
		{"override-at-kolkata-hour-start", func(s *impact.Scenario) {
			s.Customers[0].TimeZone = "Asia/Kolkata"
			s.Customers[0].Baseline.Overrides[0].HourStart = ts("2025-06-10T04:30:00Z")
			s.Customers[0].Baseline.Overrides[1].HourStart = ts("2025-06-10T05:30:00Z")
		}},
		// 2025-10-26T00:00Z and 01:00Z are both 02:00 local in Berlin (CEST then
		// CET): two local hours, so one override each is fine.
		{"overrides-on-both-repeated-hours", func(s *impact.Scenario) {
			s.Customers[1].Baseline.Overrides = []impact.HourlyOverride{
				{HourStart: ts("2025-10-26T00:00:00Z"), Amount: "1"},
				{HourStart: ts("2025-10-26T01:00:00Z"), Amount: "2"},
			}
		}},
		{"no-reporting-currency-no-fx", func(s *impact.Scenario) { s.ReportingCurrency = ""; s.FXRates = nil }},
		{"no-recovery", func(s *impact.Scenario) { s.Incidents[0].RecoveryCurrency = ""; s.Incidents[0].RecoveryItems = nil }},
		{"incident-without-windows", func(s *impact.Scenario) { s.Incidents = append(s.Incidents, inc("inc-2")) }},
		{"limits-exactly-reached", func(s *impact.Scenario) {}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := validBase()
			c.mut(s)
			lim := impact.DefaultLimits()
			if c.name == "limits-exactly-reached" {
				lim.MaxCustomers, lim.MaxIncidents, lim.MaxWindows = 2, 1, 4
				lim.MaxContractsPerCustomer, lim.MaxOverrides, lim.MaxSeasonalFactors = 2, 2, 1
				lim.MaxTiers, lim.MaxMaintenanceWindows, lim.MaxPeriodFees = 2, 1, 2
				lim.MaxRecoveryItems, lim.MaxFXRates, lim.MaxWindowHours = 2, 1, 5
				lim.MaxIDBytes = len("Customer zero")
			}
			if _, err := impact.EstimateScenario(s, lim); err != nil {
				t.Errorf("valid scenario rejected: %v", err)
			}
		})
	}
}

// TestValidateDoesNotModifyInput: EstimateScenario leaves s untouched
// (estimate.go), valid or not.
func TestValidateDoesNotModifyInput(t *testing.T) {
	for _, bad := range []bool{false, true} {
		s := validBase()
		if bad {
			s.Incidents[0].Windows[0].ImpactFraction = "7"
		}
		s.Incidents[0].Windows[1].Start = ts("2025-06-10T10:00:00.75Z")
		before := renderScenario(s)
		_, _ = impact.EstimateScenario(s, impact.DefaultLimits())
		if after := renderScenario(s); after != before {
			t.Errorf("bad=%v: scenario modified:\n%s\n---\n%s", bad, before, after)
		}
	}
}

func renderScenario(s *impact.Scenario) string {
	var b strings.Builder
	for _, c := range s.Customers {
		b.WriteString(strings.Join([]string{c.ID, c.Currency, c.TimeZone, c.Baseline.HourlyAmount, strings.Join(c.Baseline.WeeklyProfile, ",")}, "|"))
		for _, o := range c.Baseline.Overrides {
			b.WriteString(o.HourStart.Format(time.RFC3339Nano) + o.Amount)
		}
		for _, k := range c.Contracts {
			b.WriteString(k.Service + k.MonthlyFee + k.TimeZone)
			for _, tr := range k.Tiers {
				b.WriteString(tr.UptimeBelow + ":" + tr.CreditPercent)
			}
			for _, f := range k.PeriodFees {
				b.WriteString(f.PeriodStart.Format(time.RFC3339Nano) + f.Fee)
			}
		}
		b.WriteString("\n")
	}
	for _, i := range s.Incidents {
		b.WriteString(i.ID + i.RecoveryCurrency)
		for _, w := range i.Windows {
			b.WriteString(w.CustomerID + w.Service + w.Start.Format(time.RFC3339Nano) + w.End.Format(time.RFC3339Nano) + w.ImpactFraction + ";")
		}
		b.WriteString("\n")
	}
	return b.String()
}
