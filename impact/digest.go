package impact

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

// digest returns "sha256:" + the hex SHA-256 of a canonical encoding of a
// valid scenario (§8): every list whose order carries no meaning is sorted,
// decimals are spelled canonically, instants are Unix seconds, and defaults
// are applied — so two scenarios that must give the same figures have the
// same digest, and any change that can move a figure changes it. The weekly
// profile is the one ordered list.
func digest(s *Scenario) string {
	var b strings.Builder
	b.WriteString(ModelVersion)
	b.WriteString("\nscenario\n")
	field(&b, "reporting_currency", s.ReportingCurrency)
	fx := make([]string, len(s.FXRates))
	for i, r := range s.FXRates {
		fx[i] = r.From + ">" + r.To + "=" + canonDec(r.Rate, "")
	}
	list(&b, "fx_rates", fx)
	cs := make([]string, len(s.Customers))
	for i := range s.Customers {
		cs[i] = encodeCustomer(&s.Customers[i])
	}
	list(&b, "customers", cs)
	is := make([]string, len(s.Incidents))
	for i := range s.Incidents {
		is[i] = encodeIncident(&s.Incidents[i])
	}
	list(&b, "incidents", is)
	sum := sha256.Sum256([]byte(b.String()))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// field writes a length-prefixed name=value line, so no value can forge the
// structure around it.
func field(b *strings.Builder, name, value string) {
	b.WriteString(name)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(value)))
	b.WriteByte(':')
	b.WriteString(value)
	b.WriteByte('\n')
}

// list writes the elements in sorted order.
func list(b *strings.Builder, name string, elems []string) {
	sort.Strings(elems)
	field(b, name, strconv.Itoa(len(elems)))
	for _, e := range elems {
		field(b, "-", e)
	}
}

func instant(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.Unix(), 10)
}

func encodeCustomer(c *Customer) string {
	var b strings.Builder
	field(&b, "customer_id", c.ID)
	field(&b, "display_name", c.DisplayName)
	field(&b, "currency_code", c.Currency)
	field(&b, "time_zone", zoneNameOrUTC(c.TimeZone))
	bl := &c.Baseline
	if len(bl.WeeklyProfile) == 0 {
		field(&b, "hourly_amount", canonDec(bl.HourlyAmount, "0"))
	}
	prof := make([]string, len(bl.WeeklyProfile))
	for i, e := range bl.WeeklyProfile {
		prof[i] = canonDec(e, "")
	}
	field(&b, "weekly_profile", strings.Join(prof, ","))
	sf := make([]string, len(bl.SeasonalFactors))
	for i, f := range bl.SeasonalFactors {
		sf[i] = instant(f.Start) + "," + instant(f.End) + "," + canonDec(f.Multiplier, "")
	}
	list(&b, "seasonal_factors", sf)
	ov := make([]string, len(bl.Overrides))
	for i, o := range bl.Overrides {
		ov[i] = instant(o.HourStart) + "," + canonDec(o.Amount, "")
	}
	list(&b, "overrides", ov)
	field(&b, "recapture_rate", canonDec(bl.RecaptureRate, "0"))
	field(&b, "lifetime_value", canonDec(c.LifetimeValue, ""))
	field(&b, "churn_probability", canonDec(c.ChurnProbability, ""))
	ks := make([]string, len(c.Contracts))
	for i := range c.Contracts {
		ks[i] = encodeContract(&c.Contracts[i])
	}
	list(&b, "contracts", ks)
	return b.String()
}

func orDefault[E ~int32](e, def E) string {
	if e == 0 {
		e = def
	}
	return strconv.Itoa(int(e))
}

func encodeContract(k *Contract) string {
	var b strings.Builder
	field(&b, "service", k.Service)
	field(&b, "monthly_fee", canonDec(k.MonthlyFee, "0"))
	pf := make([]string, len(k.PeriodFees))
	for i, f := range k.PeriodFees {
		pf[i] = instant(f.PeriodStart) + "," + canonDec(f.Fee, "")
	}
	list(&b, "period_fees", pf)
	field(&b, "billing_period", orDefault(k.BillingPeriod, Monthly))
	field(&b, "time_zone", zoneNameOrUTC(k.TimeZone))
	ts := make([]string, len(k.Tiers))
	for i, t := range k.Tiers {
		ts[i] = canonDec(t.UptimeBelow, "") + "," + canonDec(t.CreditPercent, "") + "," + strconv.FormatBool(t.Inclusive)
	}
	list(&b, "tiers", ts)
	field(&b, "credit_cap_percent", canonDec(k.CreditCapPercent, "100"))
	field(&b, "min_credit_amount", canonDec(k.MinCreditAmount, "0"))
	field(&b, "degradation", orDefault(k.Degradation, Threshold))
	if k.Degradation != Proportional {
		field(&b, "downtime_threshold", canonDec(k.DowntimeThreshold, "1"))
		field(&b, "min_downtime_seconds", strconv.FormatInt(k.MinDowntimeSeconds, 10))
	}
	field(&b, "granularity", orDefault(k.Granularity, Seconds))
	field(&b, "exclude_maintenance", strconv.FormatBool(k.ExcludeMaintenance))
	if k.ExcludeMaintenance {
		mw := make([]string, len(k.MaintenanceWindows))
		for i, w := range k.MaintenanceWindows {
			mw[i] = instant(w.Start) + "," + instant(w.End)
		}
		list(&b, "maintenance_windows", mw)
	}
	ec := make([]string, 0, len(k.ExcludedCauses))
	seen := map[Cause]bool{}
	for _, c := range k.ExcludedCauses {
		if !seen[c] {
			seen[c] = true
			ec = append(ec, strconv.Itoa(int(c)))
		}
	}
	list(&b, "excluded_causes", ec)
	field(&b, "denominator", orDefault(k.Denominator, PeriodDenominator))
	if k.Denominator == Deployed {
		field(&b, "active_from", instant(k.ActiveFrom))
		field(&b, "active_until", instant(k.ActiveUntil))
	}
	field(&b, "rounding", orDefault(k.Rounding, HalfEven))
	return b.String()
}

func encodeIncident(in *Incident) string {
	var b strings.Builder
	field(&b, "incident_id", in.ID)
	field(&b, "title", in.Title)
	field(&b, "cause", orDefault(in.Cause, UnknownCause))
	ws := make([]string, len(in.Windows))
	for i, w := range in.Windows {
		ws[i] = strconv.Quote(w.CustomerID) + "," + strconv.Quote(w.Service) + "," + instant(w.Start) + "," + instant(w.End) + "," + canonDec(w.ImpactFraction, "1")
	}
	list(&b, "windows", ws)
	field(&b, "recovery_currency", in.RecoveryCurrency)
	items := make([]string, len(in.RecoveryItems))
	for i, it := range in.RecoveryItems {
		var ib strings.Builder
		field(&ib, "customer_id", it.CustomerID)
		if l := it.Labor; l != nil {
			field(&ib, "role", l.Role)
			field(&ib, "hours", canonDec(l.Hours, ""))
			field(&ib, "hourly_rate", canonDec(l.HourlyRate, ""))
			field(&ib, "engagement", canonDec(l.Engagement, "1"))
		}
		if e := it.Expense; e != nil {
			field(&ib, "description", e.Description)
			field(&ib, "quantity", canonDec(e.Quantity, "1"))
			field(&ib, "unit_cost", canonDec(e.UnitCost, ""))
		}
		items[i] = ib.String()
	}
	list(&b, "recovery_items", items)
	field(&b, "allocation", orDefault(in.Allocation, Even))
	return b.String()
}

// canonDec spells a checked decimal canonically without parsing it: no
// leading integer zeros, no trailing fractional zeros, no "-0". An empty
// value takes def.
func canonDec(s, def string) string {
	if s == "" {
		return def
	}
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if frac != "" {
		out += "." + frac
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}
