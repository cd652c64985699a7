package server

import (
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The numbering of the proto enums matches the domain's, but the mapping is
// still explicit: a value added to one side and not the other must fail a
// test, not silently pass through as whatever number it happens to have.

type enumPair[P, D ~int32] struct {
	proto  P
	domain D
}

type enumTable[P, D ~int32] []enumPair[P, D]

func (t enumTable[P, D]) toDomain(p P) (D, bool) {
	for _, e := range t {
		if e.proto == p {
			return e.domain, true
		}
	}
	var zero D
	return zero, false
}

func (t enumTable[P, D]) toProto(d D) (P, bool) {
	for _, e := range t {
		if e.domain == d {
			return e.proto, true
		}
	}
	var zero P
	return zero, false
}

var (
	billingPeriods = enumTable[impactv1.Contract_BillingPeriod, impact.BillingPeriod]{
		{impactv1.Contract_BILLING_PERIOD_UNSPECIFIED, impact.BillingPeriodUnspecified},
		{impactv1.Contract_MONTHLY, impact.Monthly},
		{impactv1.Contract_QUARTERLY, impact.Quarterly},
	}
	degradations = enumTable[impactv1.Contract_Degradation, impact.Degradation]{
		{impactv1.Contract_DEGRADATION_UNSPECIFIED, impact.DegradationUnspecified},
		{impactv1.Contract_THRESHOLD, impact.Threshold},
		{impactv1.Contract_PROPORTIONAL, impact.Proportional},
	}
	granularities = enumTable[impactv1.Contract_Granularity, impact.Granularity]{
		{impactv1.Contract_GRANULARITY_UNSPECIFIED, impact.GranularityUnspecified},
		{impactv1.Contract_SECONDS, impact.Seconds},
		{impactv1.Contract_MINUTES_TOUCHED, impact.MinutesTouched},
		{impactv1.Contract_MINUTES_FULL, impact.MinutesFull},
	}
	denominators = enumTable[impactv1.Contract_Denominator, impact.Denominator]{
		{impactv1.Contract_DENOMINATOR_UNSPECIFIED, impact.DenominatorUnspecified},
		{impactv1.Contract_PERIOD, impact.PeriodDenominator},
		{impactv1.Contract_DEPLOYED, impact.Deployed},
	}
	roundings = enumTable[impactv1.Contract_Rounding, impact.Rounding]{
		{impactv1.Contract_ROUNDING_UNSPECIFIED, impact.RoundingUnspecified},
		{impactv1.Contract_HALF_EVEN, impact.HalfEven},
		{impactv1.Contract_HALF_UP, impact.HalfUp},
	}
	allocations = enumTable[impactv1.Incident_Allocation, impact.Allocation]{
		{impactv1.Incident_ALLOCATION_UNSPECIFIED, impact.AllocationUnspecified},
		{impactv1.Incident_EVEN, impact.Even},
		{impactv1.Incident_BY_IMPACT, impact.ByImpact},
	}
	causes = enumTable[impactv1.Incident_Cause, impact.Cause]{
		{impactv1.Incident_CAUSE_UNSPECIFIED, impact.CauseUnspecified},
		{impactv1.Incident_HARDWARE_FAILURE, impact.HardwareFailure},
		{impactv1.Incident_SOFTWARE_DEFECT, impact.SoftwareDefect},
		{impactv1.Incident_CYBERATTACK, impact.Cyberattack},
		{impactv1.Incident_NATURAL_DISASTER, impact.NaturalDisaster},
		{impactv1.Incident_POWER_FAILURE, impact.PowerFailure},
		{impactv1.Incident_NETWORK_FAILURE, impact.NetworkFailure},
		{impactv1.Incident_CUSTOMER_CAUSED, impact.CustomerCaused},
		{impactv1.Incident_UNKNOWN, impact.UnknownCause},
	}
)
