package impact

// The digest as it was before its buffers were reused (refDigest), kept
// verbatim to pin that the rewritten one writes the same bytes.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strconv"
	"time"
)

// RefDigest is the former digest of s, for TestDigestUnchanged.
func RefDigest(s *Scenario) string { return refDigestStop(s, nil) }

// Digest is the digest of a valid s.
func Digest(s *Scenario) string { return digest(s) }

// refDigestStop is digest observing stop once per element encoded.
func refDigestStop(s *Scenario, stop *stopper) string {
	size := 512
	for i := range s.Customers {
		size += 256 + 8*len(s.Customers[i].Baseline.WeeklyProfile) + 512*len(s.Customers[i].Contracts)
	}
	for i := range s.Incidents {
		size += 256 + 128*len(s.Incidents[i].Windows)
	}
	e := &refEncoder{buf: make([]byte, 0, size), stop: stop}
	e.field("model", ModelVersion)
	if zoned(s) {
		// The zone rules are an input of every zoned figure (impact/doc.go,
		// "Time zones"); a UTC-only scenario depends on no release.
		e.field("tzdata", tzRelease)
	}
	e.field("reporting_currency", s.ReportingCurrency)
	e.sorted("fx_rates", len(s.FXRates), func(i int, e *refEncoder) {
		r := &s.FXRates[i]
		e.field("from", r.From)
		e.field("to", r.To)
		e.dec("rate", r.Rate, "")
	})
	cs := refOrderBy(len(s.Customers), func(i int) string { return s.Customers[i].ID })
	e.count("customers", len(cs))
	for _, i := range cs {
		e.customer(&s.Customers[i])
	}
	is := refOrderBy(len(s.Incidents), func(i int) string { return s.Incidents[i].ID })
	e.count("incidents", len(is))
	for _, i := range is {
		e.incident(&s.Incidents[i])
	}
	sum := sha256.Sum256(e.buf)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// refOrderBy returns the indexes 0..n-1 in ascending order of key (unique ids
// in a valid scenario, so the order is total).
func refOrderBy(n int, key func(i int) string) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return key(idx[a]) < key(idx[b]) })
	return idx
}

type refEncoder struct {
	buf     []byte
	scratch []byte   // reused by sorted for element encodings
	stop    *stopper // the caller's cancellation, or nil
}

func (e *refEncoder) field(name, value string) { e.buf = refAppendField(e.buf, name, value) }

// refAppendField appends a length-prefixed "name len:value" line, so no value
// can forge the structure around it.
func refAppendField[V string | []byte](b []byte, name string, value V) []byte {
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(value)), 10)
	b = append(b, ':')
	b = append(b, value...)
	return append(b, '\n')
}

func (e *refEncoder) count(name string, n int) {
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, " #"...)
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, '\n')
}

func (e *refEncoder) int(name string, v int64) {
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, v, 10)
	e.buf = append(e.buf, '\n')
}

func (e *refEncoder) instant(name string, t time.Time) {
	if t.IsZero() {
		e.field(name, "")
		return
	}
	e.int(name, t.Unix())
}

func (e *refEncoder) bool(name string, b bool) {
	e.field(name, strconv.FormatBool(b))
}

// dec writes a checked decimal canonically without parsing it: no leading
// integer zeros, no trailing fractional zeros, no "-0"; empty takes def.
func (e *refEncoder) dec(name, s, def string) {
	if s == "" {
		e.field(name, def)
		return
	}
	neg, intPart, frac := canonParts(s)
	n := len(intPart)
	if frac != "" {
		n += 1 + len(frac)
	}
	if neg {
		n++
	}
	e.buf = append(e.buf, name...)
	e.buf = append(e.buf, ' ')
	e.buf = strconv.AppendInt(e.buf, int64(n), 10)
	e.buf = append(e.buf, ':')
	e.buf = appendCanonical(e.buf, neg, intPart, frac)
	e.buf = append(e.buf, '\n')
}

// sorted writes n elements in the order of their own encodings. The
// elements are encoded into one scratch buffer and sorted as slices of it.
func (e *refEncoder) sorted(name string, n int, encode func(i int, e *refEncoder)) {
	e.count(name, n)
	if n == 0 {
		return
	}
	if n == 1 {
		sub := &refEncoder{buf: e.scratch[:0]}
		encode(0, sub)
		e.buf = refAppendField(e.buf, "-", sub.buf)
		e.scratch = sub.buf
		return
	}
	sub := &refEncoder{buf: e.scratch[:0]}
	ends := make([]int, n)
	for i := range ends {
		e.stop.tick()
		encode(i, sub)
		ends[i] = len(sub.buf)
	}
	elems := make([][]byte, n)
	start := 0
	for i, end := range ends {
		elems[i] = sub.buf[start:end:end]
		start = end
	}
	slices.SortFunc(elems, func(a, b []byte) int { return bytes.Compare(a, b) })
	for _, el := range elems {
		e.buf = refAppendField(e.buf, "-", el)
	}
	e.scratch = sub.buf
}

func (e *refEncoder) customer(c *Customer) {
	e.field("customer_id", c.ID)
	e.field("display_name", c.DisplayName)
	e.field("currency_code", c.Currency)
	e.field("time_zone", zoneNameOrUTC(c.TimeZone))
	bl := &c.Baseline
	if len(bl.WeeklyProfile) == 0 {
		e.dec("hourly_amount", bl.HourlyAmount, "0")
	}
	// Ordered and long: comma-separated canonical values (a decimal has no comma).
	e.count("weekly_profile", len(bl.WeeklyProfile))
	for _, v := range bl.WeeklyProfile {
		if isCanonical(v) {
			e.buf = append(e.buf, v...)
		} else {
			neg, intPart, frac := canonParts(v)
			e.buf = appendCanonical(e.buf, neg, intPart, frac)
		}
		e.buf = append(e.buf, ',')
	}
	e.sorted("seasonal_factors", len(bl.SeasonalFactors), func(i int, e *refEncoder) {
		f := &bl.SeasonalFactors[i]
		e.instant("start", f.Start)
		e.instant("end", f.End)
		e.dec("multiplier", f.Multiplier, "")
	})
	e.sorted("overrides", len(bl.Overrides), func(i int, e *refEncoder) {
		e.instant("hour_start", bl.Overrides[i].HourStart)
		e.dec("amount", bl.Overrides[i].Amount, "")
	})
	e.dec("recapture_rate", bl.RecaptureRate, "0")
	e.dec("lifetime_value", c.LifetimeValue, "")
	e.dec("churn_probability", c.ChurnProbability, "")
	ks := refOrderBy(len(c.Contracts), func(i int) string { return c.Contracts[i].Service })
	e.count("contracts", len(ks))
	for _, i := range ks {
		e.contract(&c.Contracts[i])
	}
}

func (e *refEncoder) contract(k *Contract) {
	e.field("service", k.Service)
	e.dec("monthly_fee", k.MonthlyFee, "0")
	e.sorted("period_fees", len(k.PeriodFees), func(i int, e *refEncoder) {
		e.instant("period_start", k.PeriodFees[i].PeriodStart)
		e.dec("fee", k.PeriodFees[i].Fee, "")
	})
	e.int("billing_period", orDefault(k.BillingPeriod, Monthly))
	e.field("time_zone", zoneNameOrUTC(k.TimeZone))
	e.sorted("tiers", len(k.Tiers), func(i int, e *refEncoder) {
		t := &k.Tiers[i]
		e.dec("uptime_below", t.UptimeBelow, "")
		e.dec("credit_percent", t.CreditPercent, "")
		e.bool("inclusive", t.Inclusive)
	})
	e.dec("credit_cap_percent", k.CreditCapPercent, "100")
	e.dec("min_credit_amount", k.MinCreditAmount, "0")
	e.int("degradation", orDefault(k.Degradation, Threshold))
	if k.Degradation != Proportional {
		e.dec("downtime_threshold", k.DowntimeThreshold, "1")
		e.int("min_downtime_seconds", k.MinDowntimeSeconds)
	}
	e.int("granularity", orDefault(k.Granularity, Seconds))
	e.bool("exclude_maintenance", k.ExcludeMaintenance)
	if k.ExcludeMaintenance {
		e.sorted("maintenance_windows", len(k.MaintenanceWindows), func(i int, e *refEncoder) {
			e.instant("start", k.MaintenanceWindows[i].Start)
			e.instant("end", k.MaintenanceWindows[i].End)
		})
	}
	causes := slices.Clone(k.ExcludedCauses)
	slices.Sort(causes)
	causes = slices.Compact(causes)
	e.count("excluded_causes", len(causes))
	for _, c := range causes {
		e.int("-", int64(c))
	}
	e.int("denominator", orDefault(k.Denominator, PeriodDenominator))
	if k.Denominator == Deployed {
		e.instant("active_from", k.ActiveFrom)
		e.instant("active_until", k.ActiveUntil)
	}
	e.int("rounding", orDefault(k.Rounding, HalfEven))
}

func (e *refEncoder) incident(in *Incident) {
	e.field("incident_id", in.ID)
	e.field("title", in.Title)
	e.int("cause", orDefault(in.Cause, UnknownCause))
	e.sorted("windows", len(in.Windows), func(i int, e *refEncoder) {
		w := &in.Windows[i]
		e.field("customer_id", w.CustomerID)
		e.field("service", w.Service)
		e.instant("start", w.Start)
		e.instant("end", w.End)
		e.dec("impact_fraction", w.ImpactFraction, "1")
	})
	e.field("recovery_currency", in.RecoveryCurrency)
	e.sorted("recovery_items", len(in.RecoveryItems), func(i int, e *refEncoder) {
		it := &in.RecoveryItems[i]
		e.field("customer_id", it.CustomerID)
		if l := it.Labor; l != nil {
			e.field("role", l.Role)
			e.dec("hours", l.Hours, "")
			e.dec("hourly_rate", l.HourlyRate, "")
			e.dec("engagement", l.Engagement, "1")
		}
		if x := it.Expense; x != nil {
			e.field("description", x.Description)
			e.dec("quantity", x.Quantity, "1")
			e.dec("unit_cost", x.UnitCost, "")
		}
	})
	e.int("allocation", orDefault(in.Allocation, Even))
}
