package impact

// Defaults in force. Stored resources are returned with them filled in
// (see "Defaults on read" in doc.go): a reader sees MONTHLY, "UTC" and a
// threshold of 1 rather than an unspecified value whose meaning lives in
// the documentation. The estimate engine applies the same defaults, and
// the inputs digest encodes them, so filling them in changes no figure and
// no digest.

// WithDefaults returns c with the defaults in force for its unset fields:
// time zone "UTC", recapture rate 0. Contracts are left as they are (see
// Contract.WithDefaults).
func (c Customer) WithDefaults() Customer {
	c.TimeZone = zoneNameOrUTC(c.TimeZone)
	if c.Baseline.RecaptureRate == "" {
		c.Baseline.RecaptureRate = "0"
	}
	return c
}

// WithDefaults returns k with the defaults in force for its unset fields:
// MONTHLY, "UTC", THRESHOLD with a threshold of 1, SECONDS, PERIOD,
// HALF_EVEN, a cap of 100 %, no minimum credit and no monthly fee. A
// PROPORTIONAL contract keeps its threshold unset: it has none.
func (k Contract) WithDefaults() Contract {
	if k.MonthlyFee == "" {
		k.MonthlyFee = "0"
	}
	k.BillingPeriod = orDefaultEnum(k.BillingPeriod, Monthly)
	k.TimeZone = zoneNameOrUTC(k.TimeZone)
	if k.CreditCapPercent == "" {
		k.CreditCapPercent = "100"
	}
	if k.MinCreditAmount == "" {
		k.MinCreditAmount = "0"
	}
	k.Degradation = orDefaultEnum(k.Degradation, Threshold)
	if k.Degradation == Threshold && k.DowntimeThreshold == "" {
		k.DowntimeThreshold = "1"
	}
	k.Granularity = orDefaultEnum(k.Granularity, Seconds)
	k.Denominator = orDefaultEnum(k.Denominator, PeriodDenominator)
	k.Rounding = orDefaultEnum(k.Rounding, HalfEven)
	return k
}

// WithDefaults returns in with the defaults in force for its unset enums:
// cause UNKNOWN, allocation EVEN.
func (in Incident) WithDefaults() Incident {
	in.Cause = orDefaultEnum(in.Cause, UnknownCause)
	in.Allocation = orDefaultEnum(in.Allocation, Even)
	return in
}

func orDefaultEnum[E ~int32](e, def E) E {
	if e == 0 {
		return def
	}
	return e
}
