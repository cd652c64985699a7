package impact

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

const (
	maxViolations  = 1000 // a response stays bounded however broken the input
	maxZoneNameLen = 64
)

var (
	decZero    = decimal.Zero
	decOne     = decimal.NewFromInt(1)
	decHundred = decimal.NewFromInt(100)
)

// violations collects every problem of a scenario, so a client fixes them in
// one round trip rather than one per request.
//
// It also carries the compile's table of parsed decimals (see parse).
type violations struct {
	list []FieldViolation
	decs *decTable
}

// decTable is a direct-mapped cache of checked decimals by spelling: a
// scenario repeats its tier bounds, percentages, fees and fractions across
// contracts and windows, and a decimal is immutable, so equal spellings
// share one value (exactly parseChecked's) instead of a big.Int each.
type decTable struct {
	keys [64]string
	vals [64]decimal.Decimal
}

// parse is parseChecked(s) for a checked s, from v's table when it holds s.
func (v *violations) parse(s string) decimal.Decimal {
	if len(s) > 20 {
		return parseChecked(s)
	}
	if v.decs == nil {
		v.decs = &decTable{}
	}
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	slot := h % uint32(len(v.decs.keys))
	if v.decs.keys[slot] == s { // a checked decimal is never "", an empty slot's key
		return v.decs.vals[slot]
	}
	d := parseChecked(s)
	v.decs.keys[slot], v.decs.vals[slot] = s, d
	return d
}

// parseOr is v.parse(s), or def when s is empty.
func (v *violations) parseOr(s string, def decimal.Decimal) decimal.Decimal {
	if s == "" {
		return def
	}
	return v.parse(s)
}

func (v *violations) add(at path, desc string) {
	if len(v.list) < maxViolations {
		p := at.elems()
		v.list = append(v.list, FieldViolation{Field: p.String(), Description: desc, Path: p})
	}
}

// path is a field path such as incidents[0].windows[3].end_time, rendered
// only when a violation needs it: valid input builds no strings.
type path struct {
	parent *path
	name   string
	index  int // ≥ 0 for an element of the list name
}

func root(name string) path                  { return path{name: name, index: -1} }
func rootElem(name string, i int) path       { return path{name: name, index: i} }
func (p *path) at(name string) path          { return path{parent: p, name: name, index: -1} }
func (p *path) elem(name string, i int) path { return path{parent: p, name: name, index: i} }

// elems is p as a Path; an element with no name (the root of a resource
// validated on its own) is left out. At most the 8 innermost elements are
// kept. The names are copied (a violation is the rare path) and the chain
// is walked twice rather than collected, so that escape analysis sees
// nothing of p kept: the paths of valid input stay on their callers' stacks.
func (p path) elems() Path {
	const maxDepth = 8
	n, depth := 0, 0
	for q := &p; q != nil && depth < maxDepth; q = q.parent {
		if q.name != "" {
			n++
		}
		depth++
	}
	out := make(Path, n)
	depth = 0
	for q := &p; q != nil && depth < maxDepth; q = q.parent {
		if q.name != "" {
			n--
			out[n] = PathElem{Name: strings.Clone(q.name), Index: q.index}
		}
		depth++
	}
	return out
}

func (p path) String() string { return p.elems().String() }

func (v *violations) err() error {
	if len(v.list) == 0 {
		return nil
	}
	e := &Error{Code: EINVALID, Message: "the scenario is invalid", Violations: v.list}
	if fxRatesMissingOnly(v.list) {
		e.Reason = ReasonFXRateMissing
	}
	return e
}

const fxMissing = "needs a direct rate from "

// fxRatesMissingOnly reports whether every violation is a missing FX rate.
func fxRatesMissingOnly(list []FieldViolation) bool {
	for _, v := range list {
		if v.Field != "fx_rates" || !strings.HasPrefix(v.Description, fxMissing) {
			return false
		}
	}
	return len(list) > 0
}

// decRule is the range a decimal input must lie in.
type decRule int

const (
	anyValue     decRule = iota
	nonNegative          // [0, ∞): money, hours, quantities, multipliers
	positive             // (0, ∞): FX rates
	unitInterval         // [0, 1]: recapture, churn probability
	fraction             // (0, 1]: impact fractions, engagement, thresholds
	percentage           // [0, 100]
	uptimeBound          // (0, 100]
)

var ruleText = [...]string{
	anyValue:     "",
	nonNegative:  "must not be negative",
	positive:     "must be greater than 0",
	unitInterval: "must be between 0 and 1",
	fraction:     "must be greater than 0 and at most 1",
	percentage:   "must be between 0 and 100",
	uptimeBound:  "must be greater than 0 and at most 100",
}

// checkDec validates an input decimal against rule. An empty optional value
// is fine; the caller applies its default.
func checkDec(s string, required bool, rule decRule) string {
	if s == "" {
		if required {
			return "is required"
		}
		return ""
	}
	if msg := checkDecimal(s); msg != "" {
		return msg
	}
	if rule == anyValue || (rule == nonNegative && s[0] != '-') {
		return "" // the common case, decided by the sign byte
	}
	// Decided from the canonical digits: no parsing, no allocation.
	neg, intPart, frac := canonParts(s)
	positiveValue := !neg && (intPart != "0" || frac != "")
	ok := true
	switch rule {
	case nonNegative:
		ok = !neg
	case positive:
		ok = positiveValue
	case unitInterval:
		ok = !neg && (intPart == "0" || (intPart == "1" && frac == ""))
	case fraction:
		ok = positiveValue && (intPart == "0" || (intPart == "1" && frac == ""))
	case percentage:
		ok = !neg && (len(intPart) < 3 || (intPart == "100" && frac == ""))
	case uptimeBound:
		ok = positiveValue && (len(intPart) < 3 || (intPart == "100" && frac == ""))
	}
	if !ok {
		return ruleText[rule]
	}
	return ""
}

// checkInstant validates a required or optional instant; ok is false when a
// violation was added. Unset optional instants return (0, true, false).
func checkInstant(v *violations, field path, t time.Time, required bool) (sec int64, set, ok bool) {
	if t.IsZero() {
		if required {
			v.add(field, "is required")
			return 0, false, false
		}
		return 0, false, true
	}
	sec = t.Unix() // Unix floors: truncation toward the past
	if sec < minInstant || sec >= maxInstant {
		v.add(field, "must be between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z")
		return 0, true, false
	}
	return sec, true, true
}

// checkSpan validates a [start, end) pair: both required, in range, end after
// start after truncation. The end may be 2200-01-01 itself.
func checkSpan(v *violations, prefix path, start, end time.Time) (s, e int64, ok bool) {
	s, _, okS := checkInstant(v, prefix.at("start_time"), start, true)
	okE := true
	if end.IsZero() {
		v.add(prefix.at("end_time"), "is required")
		okE = false
	} else {
		e = end.Unix()
		if e <= minInstant || e > maxInstant {
			v.add(prefix.at("end_time"), "must be between 1970-01-01T00:00:00Z and 2200-01-01T00:00:00Z")
			okE = false
		}
	}
	if okS && okE && e <= s {
		v.add(prefix.at("end_time"), "must be after start_time (both truncated to whole seconds)")
		return s, e, false
	}
	return s, e, okS && okE
}

// checkText checks a free-text field (display name, title, role,
// description): tab and newline are its only control characters.
func checkText(v *violations, field path, s string, required bool, max int) {
	if s == "" {
		if required {
			v.add(field, "is required")
		}
		return
	}
	if len(s) > max {
		v.add(field, fmt.Sprintf("must be at most %d bytes", max))
	} else if msg := CheckText(s, true); msg != "" {
		v.add(field, msg)
	}
}

// checkIDText checks an id or a reference to one: within max bytes, no
// control characters at all. (The syntax of new stored ids,
// CheckResourceID, is the server's: a scenario's ids are the caller's.)
func checkIDText(v *violations, field path, s string, max int) bool {
	switch {
	case s == "":
		v.add(field, "is required")
	case len(s) > max:
		v.add(field, fmt.Sprintf("must be at most %d bytes", max))
	default:
		if msg := CheckText(s, false); msg != "" {
			v.add(field, msg)
			return false
		}
		return true
	}
	return false
}

func checkCurrency(v *violations, field path, code string, required bool) (int32, bool) {
	if code == "" {
		if required {
			v.add(field, "is required")
		}
		return 0, false
	}
	exp, ok := MinorUnits(code)
	if !ok {
		v.add(field, "is not a known ISO 4217 currency code with minor units")
	}
	return exp, ok
}

func checkZone(v *violations, field path, name string) *time.Location {
	if len(name) > maxZoneNameLen {
		v.add(field, "is not a known IANA time zone")
		return nil
	}
	loc, ok := loadZone(name)
	if !ok {
		v.add(field, "is not a known IANA time zone")
		return nil
	}
	return loc
}

func checkCount(v *violations, field path, n, max int) bool {
	if n > max {
		v.add(field, fmt.Sprintf("has %d entries; at most %d are allowed", n, max))
		return false
	}
	return true
}

// compile validates s within lim and builds the engine's model of it. Every
// problem is reported; nothing is computed when there is one.
// stop is looked at between entries.
func compile(s *Scenario, lim Limits, stop *stopper) (*model, error) {
	v := &violations{}
	m := &model{byID: make(map[string]*cCustomer, len(s.Customers)), stop: stop}

	okCounts := checkCount(v, root("customers"), len(s.Customers), lim.MaxCustomers)
	okCounts = checkCount(v, root("incidents"), len(s.Incidents), lim.MaxIncidents) && okCounts
	okCounts = checkCount(v, root("fx_rates"), len(s.FXRates), lim.MaxFXRates) && okCounts
	totalWindows := 0
	for i := range s.Incidents {
		totalWindows += len(s.Incidents[i].Windows)
	}
	if totalWindows > lim.MaxWindows {
		v.add(root("incidents"), fmt.Sprintf("have %d windows in all; at most %d are allowed", totalWindows, lim.MaxWindows))
		okCounts = false
	}
	okCounts = okCounts && checkCost(v, s, lim)
	if !okCounts {
		// Refuse before looking at the contents: their size is the problem.
		return nil, v.err()
	}

	m.declared = make(map[string]bool, len(s.Customers))
	for i := range s.Customers {
		stop.tick()
		m.declared[s.Customers[i].ID] = true
		if c := compileCustomer(v, &s.Customers[i], rootElem("customers", i), lim); c != nil {
			if _, dup := m.byID[c.id]; dup {
				cp := rootElem("customers", i)
				v.add(cp.at("customer_id"), "duplicates another customer's id")
				continue
			}
			m.byID[c.id] = c
			m.customers = append(m.customers, c)
		}
	}
	slices.SortFunc(m.customers, func(a, b *cCustomer) int { return strings.Compare(a.id, b.id) })

	incidentIDs := make(map[string]bool, len(s.Incidents))
	var windowHours int64
	for i := range s.Incidents {
		stop.check()
		inc, hours := compileIncident(v, m, &s.Incidents[i], i, lim)
		windowHours += hours
		if inc == nil {
			continue
		}
		if incidentIDs[inc.id] {
			ip := rootElem("incidents", i)
			v.add(ip.at("incident_id"), "duplicates another incident's id")
			continue
		}
		incidentIDs[inc.id] = true
		m.incidents = append(m.incidents, inc)
	}
	if windowHours > lim.MaxWindowHours {
		v.add(root("incidents"), fmt.Sprintf("windows cover %d hours in all; at most %d are allowed per request", windowHours, lim.MaxWindowHours))
	}
	slices.SortFunc(m.incidents, func(a, b *cIncident) int { return strings.Compare(a.id, b.id) })

	compileFX(v, m, s)
	if err := v.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// compileCustomer checks the customer at p and builds its model, nil when
// it has a violation.
func compileCustomer(v *violations, in *Customer, p path, lim Limits) *cCustomer {
	n := len(v.list)
	c := &cCustomer{id: in.ID, currency: in.Currency}
	checkIDText(v, p.at("customer_id"), in.ID, lim.MaxIDBytes)
	checkText(v, p.at("display_name"), in.DisplayName, false, lim.MaxIDBytes)
	c.exp, _ = checkCurrency(v, p.at("currency_code"), in.Currency, true)
	c.loc = checkZone(v, p.at("time_zone"), in.TimeZone)
	c.zoneName = zoneNameOrUTC(in.TimeZone)

	b := &in.Baseline
	bp := p.at("baseline")
	if msg := checkDec(b.HourlyAmount, false, nonNegative); msg != "" {
		v.add(bp.at("hourly_amount"), msg)
	}
	c.flat = b.HourlyAmount
	switch len(b.WeeklyProfile) {
	case 0:
	case 168:
		for k, e := range b.WeeklyProfile {
			if msg := checkDec(e, true, nonNegative); msg != "" {
				v.add(bp.elem("weekly_profile", k), msg)
			}
		}
		c.profile = b.WeeklyProfile
	default:
		v.add(bp.at("weekly_profile"), fmt.Sprintf("must have 0 or 168 entries (one per hour of the week from Monday 00:00), not %d", len(b.WeeklyProfile)))
	}
	if checkCount(v, bp.at("seasonal_factors"), len(b.SeasonalFactors), lim.MaxSeasonalFactors) {
		for k := range b.SeasonalFactors {
			f := &b.SeasonalFactors[k]
			fp := bp.elem("seasonal_factors", k)
			s, e, ok := checkSpan(v, fp, f.Start, f.End)
			if msg := checkDec(f.Multiplier, true, nonNegative); msg != "" {
				v.add(fp.at("multiplier"), msg)
				ok = false
			}
			if ok {
				c.seasonalRaw = append(c.seasonalRaw, seasonalFactor{start: s, end: e, mult: v.parse(f.Multiplier)})
			}
		}
	}
	if checkCount(v, bp.at("overrides"), len(b.Overrides), lim.MaxOverrides) && len(b.Overrides) > 0 {
		c.overrides = make(map[int64]string, len(b.Overrides))
		var z *zoneCursor
		if c.loc != nil {
			z = newZoneCursor(c.loc)
		}
		for k := range b.Overrides {
			o := &b.Overrides[k]
			op := bp.elem("overrides", k)
			if msg := checkDec(o.Amount, true, nonNegative); msg != "" {
				v.add(op.at("amount"), msg)
			}
			h, _, ok := checkInstant(v, op.at("hour_start"), o.HourStart, true)
			if !ok || z == nil {
				continue
			}
			if o.HourStart.Nanosecond() != 0 || z.bucketAt(h).start != h {
				v.add(op.at("hour_start"), "must be exactly the start of a local hour of the customer's time zone")
				continue
			}
			if _, dup := c.overrides[h]; dup {
				v.add(op.at("hour_start"), "names an hour that already has an override")
				continue
			}
			c.overrides[h] = o.Amount
		}
	}
	if msg := checkDec(b.RecaptureRate, false, unitInterval); msg != "" {
		v.add(bp.at("recapture_rate"), msg)
	}
	c.recapture = b.RecaptureRate
	if msg := checkDec(in.LifetimeValue, false, nonNegative); msg != "" {
		v.add(p.at("lifetime_value"), msg)
	}
	if msg := checkDec(in.ChurnProbability, false, unitInterval); msg != "" {
		v.add(p.at("churn_probability"), msg)
	}
	c.ltv, c.churn = in.LifetimeValue, in.ChurnProbability

	if checkCount(v, p.at("contracts"), len(in.Contracts), lim.MaxContractsPerCustomer) {
		c.contracts = make(map[string]*cContract, len(in.Contracts))
		for k := range in.Contracts {
			kp := p.elem("contracts", k)
			k2 := compileContract(v, c, &in.Contracts[k], &kp, lim)
			if k2 == nil {
				continue
			}
			if _, dup := c.contracts[k2.service]; dup {
				v.add(kp.at("service"), "a customer has one contract per service; this service already has one")
				continue
			}
			c.contracts[k2.service] = k2
		}
	}
	if len(v.list) != n || in.ID == "" {
		return nil
	}
	c.seasons = seasonSegments(c.seasonalRaw)
	return c
}

func zoneNameOrUTC(name string) string {
	if name == "" {
		return "UTC"
	}
	return name
}

func validEnum[E ~int32](e E, max E) bool { return e >= 0 && e <= max }

// compileContract checks the contract at p and builds its model, nil when
// it has a violation; each concern has its own function, called in the
// order its violations are listed.
func compileContract(v *violations, c *cCustomer, in *Contract, p *path, lim Limits) *cContract {
	n := len(v.list)
	k := &cContract{customer: c, service: in.Service, rounding: HalfEven, gran: Seconds}
	checkIDText(v, p.at("service"), in.Service, lim.MaxIDBytes)
	if msg := checkDec(in.MonthlyFee, false, nonNegative); msg != "" {
		v.add(p.at("monthly_fee"), msg)
	}
	k.monthlyFee = v.parseOr(in.MonthlyFee, decZero)
	if !validEnum(in.BillingPeriod, Quarterly) {
		v.add(p.at("billing_period"), "is not a known billing period")
	}
	k.quarterly = in.BillingPeriod == Quarterly
	k.loc = checkZone(v, p.at("time_zone"), in.TimeZone)
	k.zoneName = zoneNameOrUTC(in.TimeZone)

	compilePeriodFees(v, k, in, p, lim)
	compileTiers(v, k, in, p, lim)
	compileDowntime(v, k, in, p)
	compileExclusions(v, k, in, p, lim)
	compileActive(v, k, in, p)
	if !validEnum(in.Rounding, HalfUp) {
		v.add(p.at("rounding"), "is not a known rounding mode")
	} else if in.Rounding == HalfUp {
		k.rounding = HalfUp
	}
	checkClaimPolicy(v, p.at("claim_policy"), in.ClaimPolicy)
	if len(v.list) != n {
		return nil
	}
	return k
}

// compilePeriodFees checks the fees of single billing periods.
func compilePeriodFees(v *violations, k *cContract, in *Contract, p *path, lim Limits) {
	if checkCount(v, p.at("period_fees"), len(in.PeriodFees), lim.MaxPeriodFees) && len(in.PeriodFees) > 0 {
		k.periodFees = make(map[int64]decimal.Decimal, len(in.PeriodFees))
		for j := range in.PeriodFees {
			f := &in.PeriodFees[j]
			fp := p.elem("period_fees", j)
			msg := checkDec(f.Fee, true, nonNegative)
			if msg != "" {
				v.add(fp.at("fee"), msg)
			}
			s, _, ok := checkInstant(v, fp.at("period_start"), f.PeriodStart, true)
			if !ok || msg != "" {
				continue
			}
			if _, dup := k.periodFees[s]; dup {
				v.add(fp.at("period_start"), "another period fee has the same period_start")
				continue
			}
			k.periodFees[s] = v.parse(f.Fee)
		}
	}
}

// compileTiers checks the credit tiers (one bound each, severity never
// lowering the credit), the cap and the minimum credit.
func compileTiers(v *violations, k *cContract, in *Contract, p *path, lim Limits) {
	if checkCount(v, p.at("tiers"), len(in.Tiers), lim.MaxTiers) {
		k.tiers = make([]cTier, 0, len(in.Tiers))
		for j := range in.Tiers {
			t := &in.Tiers[j]
			tp := p.elem("tiers", j)
			m1 := checkDec(t.UptimeBelow, true, uptimeBound)
			if m1 != "" {
				v.add(tp.at("uptime_below"), m1)
			}
			m2 := checkDec(t.CreditPercent, true, percentage)
			if m2 != "" {
				v.add(tp.at("credit_percent"), m2)
			}
			if m1 == "" && m2 == "" {
				k.tiers = append(k.tiers, cTier{bound: v.parse(t.UptimeBelow), percent: v.parse(t.CreditPercent), inclusive: t.Inclusive, index: j})
			}
		}
		slices.SortFunc(k.tiers, func(a, b cTier) int {
			if c := cmpDec(a.bound, b.bound); c != 0 {
				return c
			}
			return cmp.Compare(a.index, b.index)
		})
		for j := 1; j < len(k.tiers); j++ {
			prev, cur := &k.tiers[j-1], &k.tiers[j]
			switch {
			case cmpDec(cur.bound, prev.bound) == 0:
				tp := p.elem("tiers", cur.index)
				v.add(tp.at("uptime_below"), "another tier has the same bound")
			case cmpDec(cur.percent, prev.percent) > 0:
				tp := p.elem("tiers", prev.index)
				v.add(tp.at("credit_percent"), "a more severe tier (lower uptime_below) must not grant a lower credit_percent")
			}
		}
	}
	if msg := checkDec(in.CreditCapPercent, false, percentage); msg != "" {
		v.add(p.at("credit_cap_percent"), msg)
	}
	k.capPercent = v.parseOr(in.CreditCapPercent, decHundred)
	if msg := checkDec(in.MinCreditAmount, false, nonNegative); msg != "" {
		v.add(p.at("min_credit_amount"), msg)
	}
	k.minCredit = v.parseOr(in.MinCreditAmount, decZero)
}

// compileDowntime checks how downtime counts: degradation, granularity,
// threshold and minimum downtime.
func compileDowntime(v *violations, k *cContract, in *Contract, p *path) {
	if !validEnum(in.Degradation, Proportional) {
		v.add(p.at("degradation"), "is not a known degradation")
	}
	k.proportional = in.Degradation == Proportional
	if !validEnum(in.Granularity, MinutesFull) {
		v.add(p.at("granularity"), "is not a known granularity")
	} else if in.Granularity != GranularityUnspecified {
		k.gran = in.Granularity
	}
	if k.proportional {
		if k.gran != Seconds {
			v.add(p.at("granularity"), "PROPORTIONAL degradation counts exact seconds; only SECONDS granularity is valid with it")
		}
		if in.DowntimeThreshold != "" {
			v.add(p.at("downtime_threshold"), "must be unset with PROPORTIONAL degradation")
		}
		if in.MinDowntimeSeconds != 0 {
			v.add(p.at("min_downtime_seconds"), "must be unset with PROPORTIONAL degradation")
		}
	} else if msg := checkDec(in.DowntimeThreshold, false, fraction); msg != "" {
		v.add(p.at("downtime_threshold"), msg)
	}
	if in.DowntimeThreshold != "" && checkDecimal(in.DowntimeThreshold) == "" {
		k.threshold = v.parse(in.DowntimeThreshold)
	} else {
		k.threshold = decOne
	}
	if in.MinDowntimeSeconds < 0 {
		v.add(p.at("min_downtime_seconds"), "must not be negative")
	} else if in.MinDowntimeSeconds > maxInstant-minInstant {
		v.add(p.at("min_downtime_seconds"), "is longer than the valid time range")
	}
	k.minDowntime = in.MinDowntimeSeconds
}

// compileExclusions checks the maintenance windows and excluded causes.
func compileExclusions(v *violations, k *cContract, in *Contract, p *path, lim Limits) {
	k.excludeMaintenance = in.ExcludeMaintenance
	if checkCount(v, p.at("maintenance_windows"), len(in.MaintenanceWindows), lim.MaxMaintenanceWindows) {
		var raw []interval
		for j := range in.MaintenanceWindows {
			w := &in.MaintenanceWindows[j]
			if s, e, ok := checkSpan(v, p.elem("maintenance_windows", j), w.Start, w.End); ok {
				raw = append(raw, interval{s, e})
			}
		}
		if k.excludeMaintenance {
			k.maintenance = mergeIntervals(raw)
		}
	}
	for j, cause := range in.ExcludedCauses {
		if cause == CauseUnspecified || !validEnum(cause, UnknownCause) {
			v.add(p.elem("excluded_causes", j), "is not a known cause")
			continue
		}
		k.excluded[cause] = true
	}
}

// compileActive checks the denominator and the active range.
func compileActive(v *violations, k *cContract, in *Contract, p *path) {
	if !validEnum(in.Denominator, Deployed) {
		v.add(p.at("denominator"), "is not a known denominator")
	}
	k.deployed = in.Denominator == Deployed
	from, fromSet, okF := checkInstant(v, p.at("active_from"), in.ActiveFrom, false)
	until, untilSet, okU := checkInstant(v, p.at("active_until"), in.ActiveUntil, false)
	if !untilSet && !in.ActiveUntil.IsZero() {
		okU = false
	}
	k.activeFrom, k.activeUntil = minInstant, maxInstant
	if fromSet {
		k.activeFrom = from
	}
	if untilSet {
		k.activeUntil = until
	}
	if okF && okU && fromSet && untilSet && until <= from {
		v.add(p.at("active_until"), "must be after active_from")
	}
}

func compileIncident(v *violations, m *model, in *Incident, i int, lim Limits) (*cIncident, int64) {
	p := rootElem("incidents", i)
	n := len(v.list)
	inc := compileIncidentFields(v, in, p, lim)
	var hours int64
	affected := make(map[string]bool) // from every window, valid or not: no cascading violations
	for j := range in.Windows {
		affected[in.Windows[j].CustomerID] = true
	}
	inc.windows = make([]cWindow, 0, len(in.Windows))
	for j := range in.Windows {
		m.stop.tick()
		w := &in.Windows[j]
		c, cw, ok := checkWindow(v, m, w, p.elem("windows", j), lim)
		hours += cw.hours
		if ok {
			inc.windows = append(inc.windows, cWindow{cust: c, service: w.Service, start: cw.start, end: cw.end,
				frac: v.parseOr(w.ImpactFraction, decOne), inc: inc})
		}
	}

	compileRecovery(v, inc, in, p, lim, affected)
	if len(v.list) != n {
		return nil, hours
	}
	return inc, hours
}

// compileIncidentFields checks the incident's own fields (id, title,
// cause, allocation).
func compileIncidentFields(v *violations, in *Incident, p path, lim Limits) *cIncident {
	inc := &cIncident{id: in.ID, cause: in.Cause, allocation: Even}
	checkIDText(v, p.at("incident_id"), in.ID, lim.MaxIDBytes)
	checkText(v, p.at("title"), in.Title, false, lim.MaxIDBytes)
	if !validEnum(in.Cause, UnknownCause) {
		v.add(p.at("cause"), "is not a known cause")
	} else if in.Cause == CauseUnspecified {
		inc.cause = UnknownCause
	}
	if !validEnum(in.Allocation, ByImpact) {
		v.add(p.at("allocation"), "is not a known allocation")
	} else if in.Allocation == ByImpact {
		inc.allocation = ByImpact
	}
	return inc
}

// checkedSpan is a window's span once checked, and its length in whole
// hours (rounded up; 0 when the span is invalid).
type checkedSpan struct{ start, end, hours int64 }

// checkWindow checks the window w at wp: ok when it is valid and, with a
// model m, names one of its valid customers (returned). Without a model
// (a batch of windows checked on its own) the customer is not looked up.
func checkWindow(v *violations, m *model, w *OutageWindow, wp path, lim Limits) (*cCustomer, checkedSpan, bool) {
	ok := true
	var c *cCustomer
	switch {
	case w.CustomerID == "":
		v.add(wp.at("customer_id"), "is required")
		ok = false
	case CheckText(w.CustomerID, false) != "":
		v.add(wp.at("customer_id"), CheckText(w.CustomerID, false))
		ok = false
	case m == nil:
	case m.byID[w.CustomerID] == nil:
		if !m.declared[w.CustomerID] { // an invalid customer has its own violations
			v.add(wp.at("customer_id"), "names no customer of the scenario")
		}
		ok = false
	default:
		c = m.byID[w.CustomerID]
	}
	if !checkIDText(v, wp.at("service"), w.Service, lim.MaxIDBytes) {
		ok = false
	}
	var cs checkedSpan
	s, e, okSpan := checkSpan(v, wp, w.Start, w.End)
	if okSpan && e-s > maxWindowSeconds {
		v.add(wp.at("end_time"), "a window lasts at most 366 days")
		okSpan = false
	}
	if okSpan {
		cs = checkedSpan{start: s, end: e, hours: (e - s + 3599) / 3600}
	}
	if msg := checkDec(w.ImpactFraction, false, fraction); msg != "" {
		v.add(wp.at("impact_fraction"), msg)
		ok = false
	}
	return c, cs, ok && okSpan
}

// compileRecovery checks the incident's recovery currency and items and
// sums their cost into inc. affected holds the customers with a window in
// the incident; nil (an incident checked without its windows) skips the
// checks that need them.
func compileRecovery(v *violations, inc *cIncident, in *Incident, p path, lim Limits, affected map[string]bool) {
	if in.RecoveryCurrency != "" {
		inc.recoveryExp, _ = checkCurrency(v, p.at("recovery_currency"), in.RecoveryCurrency, false)
		inc.recoveryCurrency = in.RecoveryCurrency
	} else if len(in.RecoveryItems) > 0 {
		v.add(p.at("recovery_currency"), "is required when the incident has recovery items")
	}
	if !checkCount(v, p.at("recovery_items"), len(in.RecoveryItems), lim.MaxRecoveryItems) {
		return
	}
	inc.perCustomer = make(map[string]decimal.Decimal)
	for j := range in.RecoveryItems {
		it := &in.RecoveryItems[j]
		ip := p.elem("recovery_items", j)
		cost, ok := compileItem(v, it, ip, lim)
		if affected != nil && it.CustomerID != "" && !affected[it.CustomerID] {
			v.add(ip.at("customer_id"), "must name a customer with a window in this incident")
			ok = false
		}
		if !ok {
			continue
		}
		if it.CustomerID == "" {
			if affected != nil && len(in.Windows) == 0 {
				v.add(ip, "a shared recovery item needs at least one affected customer (a window) to be allocated to")
				continue
			}
			inc.shared = inc.shared.Add(cost)
			inc.hasShared = true
		} else {
			inc.perCustomer[it.CustomerID] = inc.perCustomer[it.CustomerID].Add(cost)
		}
	}
}

func compileItem(v *violations, it *RecoveryItem, ip path, lim Limits) (decimal.Decimal, bool) {
	if it.CustomerID != "" {
		checkIDText(v, ip.at("customer_id"), it.CustomerID, lim.MaxIDBytes)
	}
	switch {
	case it.Labor != nil && it.Expense != nil:
		v.add(ip, "must be either labor or expense, not both")
		return decZero, false
	case it.Labor != nil:
		l := it.Labor
		lp := ip.at("labor")
		n := len(v.list)
		checkText(v, lp.at("role"), l.Role, false, lim.MaxIDBytes)
		if msg := checkDec(l.Hours, true, nonNegative); msg != "" {
			v.add(lp.at("hours"), msg)
		}
		if msg := checkDec(l.HourlyRate, true, nonNegative); msg != "" {
			v.add(lp.at("hourly_rate"), msg)
		}
		if msg := checkDec(l.Engagement, false, fraction); msg != "" {
			v.add(lp.at("engagement"), msg)
		}
		if len(v.list) != n {
			return decZero, false
		}
		return parseChecked(l.Hours).Mul(parseChecked(l.HourlyRate)).Mul(decimalOr(l.Engagement, decOne)), true
	case it.Expense != nil:
		e := it.Expense
		ep := ip.at("expense")
		n := len(v.list)
		checkText(v, ep.at("description"), e.Description, false, lim.MaxIDBytes)
		if msg := checkDec(e.Quantity, false, nonNegative); msg != "" {
			v.add(ep.at("quantity"), msg)
		}
		if msg := checkDec(e.UnitCost, true, nonNegative); msg != "" {
			v.add(ep.at("unit_cost"), msg)
		}
		if len(v.list) != n {
			return decZero, false
		}
		return decimalOr(e.Quantity, decOne).Mul(parseChecked(e.UnitCost)), true
	default:
		v.add(ip, "must be a labor or an expense item")
		return decZero, false
	}
}

// compileFX checks the reporting currency and keeps, for every currency the
// report converts, its direct rate into the reporting currency.
func compileFX(v *violations, m *model, s *Scenario) {
	seen := make(map[[2]string]bool, len(s.FXRates))
	rates := make(map[string]decimal.Decimal)
	attempted := make(map[string]bool) // a rate given but invalid has its own violation
	for j := range s.FXRates {
		r := &s.FXRates[j]
		fp := rootElem("fx_rates", j)
		_, okF := checkCurrency(v, fp.at("from_currency"), r.From, true)
		_, okT := checkCurrency(v, fp.at("to_currency"), r.To, true)
		msg := checkDec(r.Rate, true, positive)
		if msg != "" {
			v.add(fp.at("rate"), msg)
		}
		if !okF || !okT || msg != "" {
			if r.To == s.ReportingCurrency || !okT {
				attempted[r.From] = true
			}
			continue
		}
		if seen[[2]string{r.From, r.To}] {
			v.add(fp, fmt.Sprintf("a rate from %s to %s is already given", r.From, r.To))
			continue
		}
		seen[[2]string{r.From, r.To}] = true
		if r.To == s.ReportingCurrency {
			rates[r.From] = parseChecked(r.Rate)
		}
	}
	if s.ReportingCurrency == "" {
		return
	}
	if _, ok := checkCurrency(v, root("reporting_currency"), s.ReportingCurrency, false); !ok {
		return
	}
	m.reporting = s.ReportingCurrency
	m.fx = rates
	needed := map[string]bool{}
	for _, inc := range m.incidents {
		for _, w := range inc.windows {
			needed[w.cust.currency] = true
		}
		if inc.recoveryCurrency != "" {
			needed[inc.recoveryCurrency] = true
		}
	}
	missing := make([]string, 0)
	for cur := range needed {
		if _, ok := rates[cur]; !ok && cur != s.ReportingCurrency && !attempted[cur] {
			missing = append(missing, cur)
		}
	}
	sort.Strings(missing)
	for _, cur := range missing {
		v.add(root("fx_rates"), fmt.Sprintf(fxMissing+"%s to the reporting currency %s", cur, s.ReportingCurrency))
	}
}
