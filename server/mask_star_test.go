package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// "*" replaces the resource: what the body omits is cleared (the stored
// currency and baseline included), the id and output-only fields stay.
func TestApplyMaskStarReplaces(t *testing.T) {
	dst := &impactv1.Customer{Name: "customers/a", CustomerId: "a", CurrencyCode: "EUR", Etag: `"0123456789abcdef"`,
		DisplayName: "Old", Baseline: &impactv1.RevenueBaseline{HourlyAmount: "1"}}
	src := &impactv1.Customer{DisplayName: "New"}
	applyMask(dst, src, impact.FieldMask{"*"})
	want := &impactv1.Customer{Name: "customers/a", CustomerId: "a", Etag: `"0123456789abcdef"`, DisplayName: "New"}
	if diff := cmp.Diff(want, dst, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	k := &impactv1.Contract{Service: "api", MonthlyFee: "10", Tiers: []*impactv1.CreditTier{{UptimeBelow: "99", CreditPercent: "10"}}}
	applyMask(k, &impactv1.Contract{MonthlyFee: "20"}, impact.FieldMask{"*"})
	if diff := cmp.Diff(&impactv1.Contract{Service: "api", MonthlyFee: "20"}, k, protocmp.Transform()); diff != "" {
		t.Errorf("contract (-want +got):\n%s", diff)
	}
}
