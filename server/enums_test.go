package server

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// checkEnum walks every value the proto enum declares and every domain value
// from Unspecified (0) to last, and requires the table to map each both ways
// with the same number (api.md keeps the numbering identical).
func checkEnum[P, D ~int32](t *testing.T, table enumTable[P, D], desc protoreflect.EnumDescriptor, last D) {
	t.Helper()
	values := desc.Values()
	if values.Len() != int(last)+1 {
		t.Errorf("%s declares %d values, the domain %d", desc.FullName(), values.Len(), int(last)+1)
	}
	for i := 0; i < values.Len(); i++ {
		v := values.Get(i)
		p := P(v.Number())
		d, ok := table.toDomain(p)
		if !ok {
			t.Errorf("%s.%s has no domain value", desc.FullName(), v.Name())
			continue
		}
		if int32(d) != int32(v.Number()) {
			t.Errorf("%s.%s = %d maps to domain %d", desc.FullName(), v.Name(), v.Number(), d)
		}
		if back, ok := table.toProto(d); !ok || back != p {
			t.Errorf("%s.%s does not round-trip: got %d", desc.FullName(), v.Name(), back)
		}
	}
	for d := D(0); d <= last; d++ {
		p, ok := table.toProto(d)
		if !ok {
			t.Errorf("domain value %d has no %s value", d, desc.FullName())
			continue
		}
		if desc.Values().ByNumber(protoreflect.EnumNumber(p)) == nil {
			t.Errorf("domain value %d maps to undeclared %s number %d", d, desc.FullName(), p)
		}
	}
	if _, ok := table.toDomain(P(last + 1)); ok {
		t.Errorf("%s: undeclared number %d maps to a domain value", desc.FullName(), last+1)
	}
}

func TestEnumTables(t *testing.T) {
	checkEnum(t, billingPeriods, impactv1.Contract_BillingPeriod(0).Descriptor(), impact.Quarterly)
	checkEnum(t, degradations, impactv1.Contract_Degradation(0).Descriptor(), impact.Proportional)
	checkEnum(t, granularities, impactv1.Contract_Granularity(0).Descriptor(), impact.MinutesFull)
	checkEnum(t, denominators, impactv1.Contract_Denominator(0).Descriptor(), impact.Deployed)
	checkEnum(t, roundings, impactv1.Contract_Rounding(0).Descriptor(), impact.HalfUp)
	checkEnum(t, allocations, impactv1.Incident_Allocation(0).Descriptor(), impact.ByImpact)
	checkEnum(t, causes, impactv1.Incident_Cause(0).Descriptor(), impact.UnknownCause)
}

// The wire spelling is the contract (api.md): unprefixed names.
func TestEnumWireNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{impactv1.Contract_MONTHLY.String(), "MONTHLY"},
		{impactv1.Contract_QUARTERLY.String(), "QUARTERLY"},
		{impactv1.Contract_THRESHOLD.String(), "THRESHOLD"},
		{impactv1.Contract_PROPORTIONAL.String(), "PROPORTIONAL"},
		{impactv1.Contract_SECONDS.String(), "SECONDS"},
		{impactv1.Contract_MINUTES_TOUCHED.String(), "MINUTES_TOUCHED"},
		{impactv1.Contract_MINUTES_FULL.String(), "MINUTES_FULL"},
		{impactv1.Contract_PERIOD.String(), "PERIOD"},
		{impactv1.Contract_DEPLOYED.String(), "DEPLOYED"},
		{impactv1.Contract_HALF_EVEN.String(), "HALF_EVEN"},
		{impactv1.Contract_HALF_UP.String(), "HALF_UP"},
		{impactv1.Incident_EVEN.String(), "EVEN"},
		{impactv1.Incident_BY_IMPACT.String(), "BY_IMPACT"},
		{impactv1.Incident_HARDWARE_FAILURE.String(), "HARDWARE_FAILURE"},
		{impactv1.Incident_SOFTWARE_DEFECT.String(), "SOFTWARE_DEFECT"},
		{impactv1.Incident_CYBERATTACK.String(), "CYBERATTACK"},
		{impactv1.Incident_NATURAL_DISASTER.String(), "NATURAL_DISASTER"},
		{impactv1.Incident_POWER_FAILURE.String(), "POWER_FAILURE"},
		{impactv1.Incident_NETWORK_FAILURE.String(), "NETWORK_FAILURE"},
		{impactv1.Incident_CUSTOMER_CAUSED.String(), "CUSTOMER_CAUSED"},
		{impactv1.Incident_UNKNOWN.String(), "UNKNOWN"},
		{impactv1.Contract_BILLING_PERIOD_UNSPECIFIED.String(), "BILLING_PERIOD_UNSPECIFIED"},
		{impactv1.Incident_CAUSE_UNSPECIFIED.String(), "CAUSE_UNSPECIFIED"},
	} {
		if c.got != c.want {
			t.Errorf("wire name %q, want %q", c.got, c.want)
		}
	}
}
