package impact

import "sort"

// Update masks. Each mutable resource has one table from mask path (the
// API's snake_case field path) to a function copying that field from the
// request into the stored value; "*" copies every mutable field, so that a
// full replacement clears what the request left unset (AIP-134). Ids are
// not in the tables: they are immutable. The transport validates the
// resource the table makes, and the store writes the same one, so what is
// validated is what is stored.

// UpdateMask is the update-mask table of a resource type.
type UpdateMask[T any] map[string]func(dst, src *T)

// Apply copies the fields of mask from src into dst. An empty mask, or a
// path the table does not have (unknown or immutable), is EINVALID under
// "update_mask", and dst is then left as it was.
func (m UpdateMask[T]) Apply(dst, src *T, mask FieldMask) error {
	if len(mask) == 0 {
		return maskError("must list the fields to update, or \"*\"")
	}
	all := false
	for _, p := range mask {
		if p == "*" {
			all = true
			continue
		}
		if _, ok := m[p]; !ok {
			return maskError("unknown or immutable field " + p)
		}
	}
	if all {
		for _, p := range m.Paths() {
			m[p](dst, src)
		}
		return nil
	}
	for _, p := range mask {
		m[p](dst, src)
	}
	return nil
}

// Paths returns the table's paths, sorted (parents before their fields).
func (m UpdateMask[T]) Paths() []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func maskError(desc string) error {
	return &Error{Code: EINVALID, Message: "invalid argument",
		Violations: []FieldViolation{{Field: "update_mask", Description: desc, Path: Path{{Name: "update_mask", Index: -1}}}}}
}

// CustomerMask is the update-mask table of a customer (contracts are
// their own resource).
var CustomerMask = UpdateMask[Customer]{
	"display_name":              func(d, s *Customer) { d.DisplayName = s.DisplayName },
	"currency_code":             func(d, s *Customer) { d.Currency = s.Currency },
	"time_zone":                 func(d, s *Customer) { d.TimeZone = s.TimeZone },
	"baseline":                  func(d, s *Customer) { d.Baseline = s.Baseline },
	"baseline.hourly_amount":    func(d, s *Customer) { d.Baseline.HourlyAmount = s.Baseline.HourlyAmount },
	"baseline.weekly_profile":   func(d, s *Customer) { d.Baseline.WeeklyProfile = s.Baseline.WeeklyProfile },
	"baseline.seasonal_factors": func(d, s *Customer) { d.Baseline.SeasonalFactors = s.Baseline.SeasonalFactors },
	"baseline.overrides":        func(d, s *Customer) { d.Baseline.Overrides = s.Baseline.Overrides },
	"baseline.recapture_rate":   func(d, s *Customer) { d.Baseline.RecaptureRate = s.Baseline.RecaptureRate },
	"lifetime_value":            func(d, s *Customer) { d.LifetimeValue = s.LifetimeValue },
	"churn_probability":         func(d, s *Customer) { d.ChurnProbability = s.ChurnProbability },
	"labels":                    func(d, s *Customer) { d.Labels = s.Labels },
}

// ContractMask is the update-mask table of a contract. The claim policy
// is one field: its parts are only valid together.
var ContractMask = UpdateMask[Contract]{
	"monthly_fee":          func(d, s *Contract) { d.MonthlyFee = s.MonthlyFee },
	"period_fees":          func(d, s *Contract) { d.PeriodFees = s.PeriodFees },
	"billing_period":       func(d, s *Contract) { d.BillingPeriod = s.BillingPeriod },
	"time_zone":            func(d, s *Contract) { d.TimeZone = s.TimeZone },
	"tiers":                func(d, s *Contract) { d.Tiers = s.Tiers },
	"credit_cap_percent":   func(d, s *Contract) { d.CreditCapPercent = s.CreditCapPercent },
	"min_credit_amount":    func(d, s *Contract) { d.MinCreditAmount = s.MinCreditAmount },
	"degradation":          func(d, s *Contract) { d.Degradation = s.Degradation },
	"downtime_threshold":   func(d, s *Contract) { d.DowntimeThreshold = s.DowntimeThreshold },
	"granularity":          func(d, s *Contract) { d.Granularity = s.Granularity },
	"min_downtime_seconds": func(d, s *Contract) { d.MinDowntimeSeconds = s.MinDowntimeSeconds },
	"exclude_maintenance":  func(d, s *Contract) { d.ExcludeMaintenance = s.ExcludeMaintenance },
	"maintenance_windows":  func(d, s *Contract) { d.MaintenanceWindows = s.MaintenanceWindows },
	"excluded_causes":      func(d, s *Contract) { d.ExcludedCauses = s.ExcludedCauses },
	"denominator":          func(d, s *Contract) { d.Denominator = s.Denominator },
	"active_from":          func(d, s *Contract) { d.ActiveFrom = s.ActiveFrom },
	"active_until":         func(d, s *Contract) { d.ActiveUntil = s.ActiveUntil },
	"rounding":             func(d, s *Contract) { d.Rounding = s.Rounding },
	"labels":               func(d, s *Contract) { d.Labels = s.Labels },
	"claim_policy":         func(d, s *Contract) { d.ClaimPolicy = s.ClaimPolicy },
}

// IncidentMask is the update-mask table of an incident (windows are their
// own resource).
var IncidentMask = UpdateMask[Incident]{
	"title":             func(d, s *Incident) { d.Title = s.Title },
	"cause":             func(d, s *Incident) { d.Cause = s.Cause },
	"recovery_currency": func(d, s *Incident) { d.RecoveryCurrency = s.RecoveryCurrency },
	"recovery_items":    func(d, s *Incident) { d.RecoveryItems = s.RecoveryItems },
	"allocation":        func(d, s *Incident) { d.Allocation = s.Allocation },
}
