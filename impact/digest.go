package impact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// digest returns "sha256:" + the hex SHA-256 of a canonical encoding of a
// valid scenario (§8): every list whose order carries no meaning is sorted,
// decimals are spelled canonically, instants are Unix seconds, and defaults
// are applied — so two scenarios that must give the same figures have the
// same digest, and any change that can move a figure changes it. The weekly
// profile is the one ordered list. Lists keyed by a unique id (customers,
// contracts, incidents) are written in id order; the others are sorted by
// their encoding. Every value is length-prefixed, so none can forge the
// structure around it.
func digest(s *Scenario) string { return digestStop(s, nil) }

// digestStop is digest observing stop once per element encoded.
func digestStop(s *Scenario, stop *stopper) string {
	size := 512
	for i := range s.Customers {
		size += 256 + 8*len(s.Customers[i].Baseline.WeeklyProfile) + 512*len(s.Customers[i].Contracts)
	}
	for i := range s.Incidents {
		size += 256 + 128*len(s.Incidents[i].Windows)
	}
	e := encoders.Get().(*encoder)
	defer e.release()
	e.stop = stop
	e.buf = slices.Grow(e.buf[:0], size)
	e.field("model", ModelVersion)
	if zoned(s) {
		// The zone rules are an input of every zoned figure (impact/doc.go,
		// "Time zones"); a UTC-only scenario depends on no release.
		e.field("tzdata", tzRelease)
	}
	e.field("reporting_currency", s.ReportingCurrency)
	e.sorted("fx_rates", len(s.FXRates), func(i int, e *encoder) {
		r := &s.FXRates[i]
		e.field("from", r.From)
		e.field("to", r.To)
		e.dec("rate", r.Rate, "")
	})
	cs, mark := e.orderBy(len(s.Customers), func(i int) string { return s.Customers[i].ID })
	e.count("customers", len(cs))
	for _, i := range cs {
		e.customer(&s.Customers[i])
	}
	e.idx = e.idx[:mark]
	is, mark := e.orderBy(len(s.Incidents), func(i int) string { return s.Incidents[i].ID })
	e.count("incidents", len(is))
	for _, i := range is {
		e.incident(&s.Incidents[i])
	}
	e.idx = e.idx[:mark]
	sum := sha256.Sum256(e.buf)
	var out [len(digestPrefix) + 2*sha256.Size]byte
	copy(out[:], digestPrefix)
	hex.Encode(out[len(digestPrefix):], sum[:])
	return string(out[:])
}

const digestPrefix = "sha256:"

// zoned reports whether a customer or contract of s names a zone other
// than UTC.
func zoned(s *Scenario) bool {
	for i := range s.Customers {
		c := &s.Customers[i]
		if zoneNameOrUTC(c.TimeZone) != "UTC" {
			return true
		}
		for j := range c.Contracts {
			if zoneNameOrUTC(c.Contracts[j].TimeZone) != "UTC" {
				return true
			}
		}
	}
	return false
}

// encoders keeps the buffers of finished digests for the next: a digest is
// computed on every estimate, and its encoding is kilobytes.
var encoders = sync.Pool{New: func() any { return &encoder{} }}

// maxPooledBytes bounds what a pooled encoder keeps: the buffers of a rare
// huge scenario are left to the collector.
const maxPooledBytes = 1 << 20

// release returns e to the pool, holding no reference to the scenario.
func (e *encoder) release() {
	if cap(e.buf)+cap(e.scratch) > maxPooledBytes || max(cap(e.elems), cap(e.ends), cap(e.idx)) > maxPooledBytes/8 {
		return
	}
	e.stop = nil
	e.buf, e.scratch = e.buf[:0], e.scratch[:0]
	e.ends, e.idx = e.ends[:0], e.idx[:0]
	if e.sub != nil {
		e.sub.buf = nil
	}
	encoders.Put(e)
}

// orderBy returns the indexes 0..n-1 in ascending order of key (unique ids
// in a valid scenario, so the order is total), on e's index stack: the
// caller uses them, then pops them with e.idx = e.idx[:mark]. (A nested
// orderBy may move the stack; the slice returned stays valid.)
func (e *encoder) orderBy(n int, key func(i int) string) (idx []int, mark int) {
	mark = len(e.idx)
	for i := range n {
		e.idx = append(e.idx, i)
	}
	idx = e.idx[mark:]
	if n > 1 {
		slices.SortFunc(idx, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	}
	return idx, mark
}

type encoder struct {
	buf     []byte
	scratch []byte   // reused by sorted for element encodings
	stop    *stopper // the caller's cancellation, or nil

	// Reused by sorted and orderBy, so a digest allocates its buffers once.
	sub   *encoder
	ends  []int
	elems [][]byte
	idx   []int
}

func (e *encoder) field(name, value string) { e.buf = appendField(e.buf, name, value) }

// appendField appends a length-prefixed "name len:value" line, so no value
// can forge the structure around it.
func appendField[V string | []byte](b []byte, name string, value V) []byte {
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(value)), 10)
	b = append(b, ':')
	b = append(b, value...)
	return append(b, '\n')
}

// The methods build on a local slice and store e.buf once: the encoder is
// on the heap, and every store of its slice pays the write barrier while
// the collector marks.

func (e *encoder) count(name string, n int) {
	b := append(e.buf, name...)
	b = append(b, " #"...)
	b = strconv.AppendInt(b, int64(n), 10)
	e.buf = append(b, '\n')
}

func (e *encoder) int(name string, v int64) {
	b := append(e.buf, name...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, v, 10)
	e.buf = append(b, '\n')
}

func (e *encoder) instant(name string, t time.Time) {
	if t.IsZero() {
		e.field(name, "")
		return
	}
	e.int(name, t.Unix())
}

func (e *encoder) bool(name string, b bool) {
	e.field(name, strconv.FormatBool(b))
}

// dec writes a checked decimal canonically without parsing it: no leading
// integer zeros, no trailing fractional zeros, no "-0"; empty takes def.
func (e *encoder) dec(name, s, def string) {
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
	b := append(e.buf, name...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ':')
	b = appendCanonical(b, neg, intPart, frac)
	e.buf = append(b, '\n')
}

// canonParts splits a checked decimal into its canonical parts without
// allocating: leading integer zeros and trailing fractional zeros dropped,
// "-0" made "0". Inputs are short and mostly canonical already, so this
// finds the point and trims at the two ends only.
func canonParts(s string) (neg bool, intPart, frac string) {
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart = s
	if point := strings.IndexByte(s, '.'); point >= 0 {
		intPart, frac = s[:point], s[point+1:]
		end := len(frac)
		for end > 0 && frac[end-1] == '0' {
			end--
		}
		frac = frac[:end]
	}
	lead := 0
	for lead < len(intPart)-1 && intPart[lead] == '0' {
		lead++
	}
	intPart = intPart[lead:]
	return neg && (intPart != "0" || frac != ""), intPart, frac
}

// isCanonical reports whether a checked decimal is already spelled as
// canonParts would spell it: no sign, no leading integer zero, and no
// trailing fractional zero. Most profile entries are; they are copied whole.
func isCanonical(s string) bool {
	switch {
	case s[0] == '-':
		return false
	case s[0] == '0' && len(s) > 1 && s[1] != '.':
		return false
	}
	if s[len(s)-1] == '0' && strings.IndexByte(s, '.') >= 0 {
		return false
	}
	return true
}

func appendCanonical(b []byte, neg bool, intPart, frac string) []byte {
	if neg {
		b = append(b, '-')
	}
	b = append(b, intPart...)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return b
}

// sorted writes n elements in the order of their own encodings. The
// elements are encoded into one scratch buffer and sorted as slices of it.
func (e *encoder) sorted(name string, n int, encode func(i int, e *encoder)) {
	e.count(name, n)
	if n == 0 {
		return
	}
	if e.sub == nil {
		e.sub = &encoder{}
	}
	sub := e.sub
	sub.buf = e.scratch[:0]
	if n == 1 {
		encode(0, sub)
		e.buf = appendField(e.buf, "-", sub.buf)
		e.scratch = sub.buf
		return
	}
	ends := e.ends[:0]
	for i := range n {
		e.stop.tick()
		encode(i, sub)
		ends = append(ends, len(sub.buf))
	}
	elems := e.elems[:0]
	start := 0
	for _, end := range ends {
		elems = append(elems, sub.buf[start:end:end])
		start = end
	}
	slices.SortFunc(elems, func(a, b []byte) int { return bytes.Compare(a, b) })
	for _, el := range elems {
		e.buf = appendField(e.buf, "-", el)
	}
	e.scratch = sub.buf
	e.ends = ends
	clear(elems) // keep no slices of scratch beyond this call
	e.elems = elems[:0]
}

func orDefault[E ~int32](e, def E) int64 {
	if e == 0 {
		e = def
	}
	return int64(e)
}

func (e *encoder) customer(c *Customer) {
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
	b := e.buf
	for _, v := range bl.WeeklyProfile {
		if isCanonical(v) {
			b = append(b, v...)
		} else {
			neg, intPart, frac := canonParts(v)
			b = appendCanonical(b, neg, intPart, frac)
		}
		b = append(b, ',')
	}
	e.buf = b
	e.sorted("seasonal_factors", len(bl.SeasonalFactors), func(i int, e *encoder) {
		f := &bl.SeasonalFactors[i]
		e.instant("start", f.Start)
		e.instant("end", f.End)
		e.dec("multiplier", f.Multiplier, "")
	})
	e.sorted("overrides", len(bl.Overrides), func(i int, e *encoder) {
		e.instant("hour_start", bl.Overrides[i].HourStart)
		e.dec("amount", bl.Overrides[i].Amount, "")
	})
	e.dec("recapture_rate", bl.RecaptureRate, "0")
	e.dec("lifetime_value", c.LifetimeValue, "")
	e.dec("churn_probability", c.ChurnProbability, "")
	ks, mark := e.orderBy(len(c.Contracts), func(i int) string { return c.Contracts[i].Service })
	e.count("contracts", len(ks))
	for _, i := range ks {
		e.contract(&c.Contracts[i])
	}
	e.idx = e.idx[:mark]
}

func (e *encoder) contract(k *Contract) {
	e.field("service", k.Service)
	e.dec("monthly_fee", k.MonthlyFee, "0")
	e.sorted("period_fees", len(k.PeriodFees), func(i int, e *encoder) {
		e.instant("period_start", k.PeriodFees[i].PeriodStart)
		e.dec("fee", k.PeriodFees[i].Fee, "")
	})
	e.int("billing_period", orDefault(k.BillingPeriod, Monthly))
	e.field("time_zone", zoneNameOrUTC(k.TimeZone))
	e.sorted("tiers", len(k.Tiers), func(i int, e *encoder) {
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
		e.sorted("maintenance_windows", len(k.MaintenanceWindows), func(i int, e *encoder) {
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

func (e *encoder) incident(in *Incident) {
	e.field("incident_id", in.ID)
	e.field("title", in.Title)
	e.int("cause", orDefault(in.Cause, UnknownCause))
	e.sorted("windows", len(in.Windows), func(i int, e *encoder) {
		w := &in.Windows[i]
		e.field("customer_id", w.CustomerID)
		e.field("service", w.Service)
		e.instant("start", w.Start)
		e.instant("end", w.End)
		e.dec("impact_fraction", w.ImpactFraction, "1")
	})
	e.field("recovery_currency", in.RecoveryCurrency)
	e.sorted("recovery_items", len(in.RecoveryItems), func(i int, e *encoder) {
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
