package store

import (
	"github.com/impact-svc/impact/impact"
)

// Update masks. Each resource has a table from mask path to a function
// copying that field from the request into the stored value; "*" copies
// every mutable field. Ids are not in the tables: they are immutable.

type maskTable[T any] map[string]func(dst, src *T)

func (m maskTable[T]) apply(dst, src *T, mask impact.FieldMask) error {
	if len(mask) == 0 {
		return invalid("update_mask", "must list the fields to update, or \"*\"")
	}
	for _, p := range mask {
		if p == "*" {
			continue
		}
		if _, ok := m[p]; !ok {
			return invalid("update_mask", "unknown or immutable field "+p)
		}
	}
	for _, p := range mask {
		if p == "*" {
			for _, f := range m {
				f(dst, src)
			}
			return nil
		}
	}
	for _, p := range mask {
		m[p](dst, src)
	}
	return nil
}

var customerMask = maskTable[impact.Customer]{
	"display_name":              func(d, s *impact.Customer) { d.DisplayName = s.DisplayName },
	"currency_code":             func(d, s *impact.Customer) { d.Currency = s.Currency },
	"time_zone":                 func(d, s *impact.Customer) { d.TimeZone = s.TimeZone },
	"baseline":                  func(d, s *impact.Customer) { d.Baseline = s.Baseline },
	"baseline.hourly_amount":    func(d, s *impact.Customer) { d.Baseline.HourlyAmount = s.Baseline.HourlyAmount },
	"baseline.weekly_profile":   func(d, s *impact.Customer) { d.Baseline.WeeklyProfile = s.Baseline.WeeklyProfile },
	"baseline.seasonal_factors": func(d, s *impact.Customer) { d.Baseline.SeasonalFactors = s.Baseline.SeasonalFactors },
	"baseline.overrides":        func(d, s *impact.Customer) { d.Baseline.Overrides = s.Baseline.Overrides },
	"baseline.recapture_rate":   func(d, s *impact.Customer) { d.Baseline.RecaptureRate = s.Baseline.RecaptureRate },
	"lifetime_value":            func(d, s *impact.Customer) { d.LifetimeValue = s.LifetimeValue },
	"churn_probability":         func(d, s *impact.Customer) { d.ChurnProbability = s.ChurnProbability },
	"labels":                    func(d, s *impact.Customer) { d.Labels = s.Labels },
}

var contractMask = maskTable[impact.Contract]{
	"monthly_fee":          func(d, s *impact.Contract) { d.MonthlyFee = s.MonthlyFee },
	"period_fees":          func(d, s *impact.Contract) { d.PeriodFees = s.PeriodFees },
	"billing_period":       func(d, s *impact.Contract) { d.BillingPeriod = s.BillingPeriod },
	"time_zone":            func(d, s *impact.Contract) { d.TimeZone = s.TimeZone },
	"tiers":                func(d, s *impact.Contract) { d.Tiers = s.Tiers },
	"credit_cap_percent":   func(d, s *impact.Contract) { d.CreditCapPercent = s.CreditCapPercent },
	"min_credit_amount":    func(d, s *impact.Contract) { d.MinCreditAmount = s.MinCreditAmount },
	"degradation":          func(d, s *impact.Contract) { d.Degradation = s.Degradation },
	"downtime_threshold":   func(d, s *impact.Contract) { d.DowntimeThreshold = s.DowntimeThreshold },
	"granularity":          func(d, s *impact.Contract) { d.Granularity = s.Granularity },
	"min_downtime_seconds": func(d, s *impact.Contract) { d.MinDowntimeSeconds = s.MinDowntimeSeconds },
	"exclude_maintenance":  func(d, s *impact.Contract) { d.ExcludeMaintenance = s.ExcludeMaintenance },
	"maintenance_windows":  func(d, s *impact.Contract) { d.MaintenanceWindows = s.MaintenanceWindows },
	"excluded_causes":      func(d, s *impact.Contract) { d.ExcludedCauses = s.ExcludedCauses },
	"denominator":          func(d, s *impact.Contract) { d.Denominator = s.Denominator },
	"active_from":          func(d, s *impact.Contract) { d.ActiveFrom = s.ActiveFrom },
	"active_until":         func(d, s *impact.Contract) { d.ActiveUntil = s.ActiveUntil },
	"rounding":             func(d, s *impact.Contract) { d.Rounding = s.Rounding },
	"labels":               func(d, s *impact.Contract) { d.Labels = s.Labels },
	"claim_policy":         func(d, s *impact.Contract) { d.ClaimPolicy = s.ClaimPolicy },
}

var incidentMask = maskTable[impact.Incident]{
	"title":             func(d, s *impact.Incident) { d.Title = s.Title },
	"cause":             func(d, s *impact.Incident) { d.Cause = s.Cause },
	"recovery_currency": func(d, s *impact.Incident) { d.RecoveryCurrency = s.RecoveryCurrency },
	"recovery_items":    func(d, s *impact.Incident) { d.RecoveryItems = s.RecoveryItems },
	"allocation":        func(d, s *impact.Incident) { d.Allocation = s.Allocation },
}
