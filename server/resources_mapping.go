package server

import (
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Stored resources to proto. The proto → domain direction reuses the
// scenario decoder of mapping.go, so a stored resource and a scenario entry
// are read by the same code.

// tsOrNil maps an optional instant: the zero time.Time is "unset".
func tsOrNil(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func enumToProto[P, D ~int32](t enumTable[P, D], d D) P {
	p, _ := t.toProto(d) // the store only holds values the decoder accepted
	return p
}

// Stored resources are returned with the defaults in force filled in
// (impact's WithDefaults; "Defaults on read" in impact/doc.go).

func customerToProto(c *impact.StoredCustomer) *impactv1.Customer {
	eff := c.Customer.WithDefaults()
	b := &eff.Baseline
	p := &impactv1.Customer{
		CustomerId:   c.ID,
		DisplayName:  c.DisplayName,
		CurrencyCode: c.Currency,
		TimeZone:     eff.TimeZone,
		Baseline: &impactv1.RevenueBaseline{
			HourlyAmount:  b.HourlyAmount,
			WeeklyProfile: b.WeeklyProfile,
			RecaptureRate: b.RecaptureRate,
		},
		LifetimeValue:    c.LifetimeValue,
		ChurnProbability: c.ChurnProbability,
		Name:             c.Name,
		CreateTime:       tsOrNil(c.CreateTime),
		UpdateTime:       tsOrNil(c.UpdateTime),
		Etag:             c.Etag,
		Labels:           c.Labels,
	}
	for _, f := range b.SeasonalFactors {
		p.Baseline.SeasonalFactors = append(p.Baseline.SeasonalFactors, &impactv1.SeasonalFactor{
			StartTime: tsOrNil(f.Start), EndTime: tsOrNil(f.End), Multiplier: f.Multiplier,
		})
	}
	for _, o := range b.Overrides {
		p.Baseline.Overrides = append(p.Baseline.Overrides, &impactv1.HourlyOverride{
			HourStart: tsOrNil(o.HourStart), Amount: o.Amount,
		})
	}
	return p
}

func contractToProto(sk *impact.StoredContract) *impactv1.Contract {
	eff := *sk
	eff.Contract = sk.Contract.WithDefaults()
	k := &eff
	p := &impactv1.Contract{
		Service:            k.Service,
		MonthlyFee:         k.MonthlyFee,
		BillingPeriod:      enumToProto(billingPeriods, k.BillingPeriod),
		TimeZone:           k.TimeZone,
		CreditCapPercent:   k.CreditCapPercent,
		MinCreditAmount:    k.MinCreditAmount,
		Degradation:        enumToProto(degradations, k.Degradation),
		DowntimeThreshold:  k.DowntimeThreshold,
		Granularity:        enumToProto(granularities, k.Granularity),
		MinDowntimeSeconds: k.MinDowntimeSeconds,
		ExcludeMaintenance: k.ExcludeMaintenance,
		Denominator:        enumToProto(denominators, k.Denominator),
		ActiveFrom:         tsOrNil(k.ActiveFrom),
		ActiveUntil:        tsOrNil(k.ActiveUntil),
		Rounding:           enumToProto(roundings, k.Rounding),
		ClaimPolicy:        claimPolicyToProto(k.ClaimPolicy),
		Name:               k.Name,
		CreateTime:         tsOrNil(k.CreateTime),
		UpdateTime:         tsOrNil(k.UpdateTime),
		Etag:               k.Etag,
		Labels:             k.Labels,
	}
	for _, f := range k.PeriodFees {
		p.PeriodFees = append(p.PeriodFees, &impactv1.PeriodFee{PeriodStart: tsOrNil(f.PeriodStart), Fee: f.Fee})
	}
	for _, t := range k.Tiers {
		p.Tiers = append(p.Tiers, &impactv1.CreditTier{
			UptimeBelow: t.UptimeBelow, CreditPercent: t.CreditPercent, Inclusive: t.Inclusive,
		})
	}
	for _, w := range k.MaintenanceWindows {
		p.MaintenanceWindows = append(p.MaintenanceWindows, &impactv1.TimeWindow{
			StartTime: tsOrNil(w.Start), EndTime: tsOrNil(w.End),
		})
	}
	for _, c := range k.ExcludedCauses {
		p.ExcludedCauses = append(p.ExcludedCauses, enumToProto(causes, c))
	}
	return p
}

func incidentToProto(in *impact.StoredIncident) *impactv1.Incident {
	eff := in.Incident.WithDefaults() // a shallow copy
	p := &impactv1.Incident{
		IncidentId:       in.ID,
		Title:            in.Title,
		Cause:            enumToProto(causes, eff.Cause),
		RecoveryCurrency: in.RecoveryCurrency,
		Allocation:       enumToProto(allocations, eff.Allocation),
		Name:             in.Name,
		CreateTime:       tsOrNil(in.CreateTime),
		UpdateTime:       tsOrNil(in.UpdateTime),
		Etag:             in.Etag,
		StartTime:        tsOrNil(in.StartTime),
		EndTime:          tsOrNil(in.EndTime),
	}
	for _, r := range in.RecoveryItems {
		item := &impactv1.RecoveryItem{CustomerId: r.CustomerID}
		switch {
		case r.Labor != nil:
			item.Kind = &impactv1.RecoveryItem_Labor{Labor: &impactv1.LaborItem{
				Role: r.Labor.Role, Hours: r.Labor.Hours, HourlyRate: r.Labor.HourlyRate, Engagement: r.Labor.Engagement,
			}}
		case r.Expense != nil:
			item.Kind = &impactv1.RecoveryItem_Expense{Expense: &impactv1.ExpenseItem{
				Description: r.Expense.Description, Quantity: r.Expense.Quantity, UnitCost: r.Expense.UnitCost,
			}}
		}
		p.RecoveryItems = append(p.RecoveryItems, item)
	}
	return p
}

func windowToProto(w *impact.StoredWindow) *impactv1.IncidentWindow {
	return &impactv1.IncidentWindow{
		CustomerId:     w.CustomerID,
		Service:        w.Service,
		StartTime:      tsOrNil(w.Start),
		EndTime:        tsOrNil(w.End),
		ImpactFraction: w.ImpactFraction,
		Name:           w.Name,
	}
}

// storedEstimateToProto is the response's IncidentEstimate, mapped by the
// same code as the stateless one, plus the stored estimate's metadata.
func storedEstimateToProto(e *impact.StoredEstimate) *impactv1.IncidentEstimate {
	p := incidentEstimateToProto(&e.IncidentEstimate)
	p.Name = proto.String(e.Name)
	p.ModelVersion = proto.String(e.ModelVersion)
	p.InputsDigest = proto.String(e.InputsDigest)
	p.ComputeTime = tsOrNil(e.ComputeTime)
	p.Revision = proto.Int64(e.Revision)
	p.Source = proto.String(e.Source)
	p.Actor = proto.String(e.Actor)
	freshToProto(p, e)
	return p
}

// estimateRevisionToProto is one revision asked for by name, as
// GetIncidentEstimate with "@{revision}" and ListIncidentEstimateRevisions
// return it: named "incidents/{incident}/estimate@{revision}" (AIP-162).
func estimateRevisionToProto(e *impact.StoredEstimate) *impactv1.IncidentEstimate {
	p := storedEstimateToProto(e)
	p.Name = proto.String(estimateRevisionName(e.Name, e.Revision))
	return p
}

func estimateRevisionName(name string, rev int64) string {
	return name + "@" + strconv.FormatInt(rev, 10)
}
