package server

import (
	"maps"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// labels maps labels, checking their syntax (impact.LabelViolations): a bad
// key or value is a violation at path["key"].
func (d *decoder) labels(path string, m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	d.violations = append(d.violations, impact.LabelViolations(path, m)...)
	return maps.Clone(m)
}

func headroomToProto(h *impact.ContractHeadroom, period string) *impactv1.ContractHeadroom {
	p := &impactv1.ContractHeadroom{
		Contract:         impact.ContractName(h.CustomerID, h.Service),
		Period:           period,
		PeriodStart:      timestamppb.New(h.PeriodStart),
		PeriodEnd:        timestamppb.New(h.PeriodEnd),
		PeriodSeconds:    strconv.FormatInt(h.PeriodSeconds, 10),
		DowntimeSeconds:  impact.FormatDecimal(h.DowntimeSeconds),
		UptimePercent:    impact.FormatFixed(h.UptimePercent, 6),
		CreditPercent:    impact.FormatDecimal(h.CreditPercent),
		CreditAmount:     moneyToProto(h.CreditAmount),
		RemainingSeconds: impact.FormatDecimal(h.RemainingSeconds),
	}
	if t := h.CurrentTier; t != nil {
		p.CurrentTier = &impactv1.CreditTier{UptimeBelow: t.UptimeBelow, CreditPercent: t.CreditPercent, Inclusive: t.Inclusive}
	}
	for _, t := range h.Tiers {
		pt := &impactv1.TierHeadroom{
			UptimeBelow:   impact.FormatDecimal(t.UptimeBelow),
			Inclusive:     t.Inclusive,
			CreditPercent: impact.FormatDecimal(t.CreditPercent),
			Reachable:     t.Reachable,
			CreditAmount:  moneyToProto(t.CreditAmount),
		}
		if t.Reachable {
			pt.AdditionalDowntimeSeconds = proto.Int64(t.AdditionalSeconds)
		}
		p.Tiers = append(p.Tiers, pt)
	}
	return p
}

func simTotalsToProto(t *impact.SimulationTotals) *impactv1.SimulationTotals {
	return &impactv1.SimulationTotals{
		CurrencyCode:          t.Currency,
		LostRevenueGross:      impact.FormatAmount(t.Currency, t.LostRevenueGross),
		LostRevenueNet:        impact.FormatAmount(t.Currency, t.LostRevenueNet),
		LostRevenueRecaptured: impact.FormatAmount(t.Currency, t.LostRevenueRecaptured),
		ChurnExposure:         impact.FormatAmount(t.Currency, t.ChurnExposure),
		MarginalCredit:        impact.FormatAmount(t.Currency, t.MarginalCredit),
	}
}

// SimulatedCustomerToProto maps one simulated customer (impactctl's JSON
// uses it too).
func SimulatedCustomerToProto(c *impact.SimulatedCustomer) *impactv1.SimulatedCustomer {
	p := &impactv1.SimulatedCustomer{
		CustomerId: c.CustomerID,
		LostRevenue: &impactv1.LostRevenue{
			Gross:      moneyToProto(c.LostRevenue.Gross),
			Net:        moneyToProto(c.LostRevenue.Net),
			Recaptured: moneyToProto(c.LostRevenue.Recaptured),
		},
		ChurnExposure:  moneyToProto(c.ChurnExposure),
		MarginalCredit: moneyToProto(c.MarginalCredit),
	}
	for _, m := range c.MarginalCredits {
		p.MarginalCredits = append(p.MarginalCredits, &impactv1.MarginalCredit{
			Service:      m.Service,
			PeriodStart:  timestamppb.New(m.PeriodStart),
			Period:       m.Period,
			CreditBefore: moneyToProto(m.Before),
			CreditAfter:  moneyToProto(m.After),
			Marginal:     moneyToProto(m.Marginal),
		})
	}
	return p
}

func simulationToProto(rs []impact.SimulationResult) *impactv1.SimulateOutageResponse {
	out := &impactv1.SimulateOutageResponse{}
	for i := range rs {
		r := &rs[i]
		p := &impactv1.SimulationResult{
			Duration:          durationpb.New(r.Duration),
			SelectedContracts: r.SelectedContracts,
			SelectedCustomers: r.SelectedCustomers,
		}
		for j := range r.Totals {
			p.Totals = append(p.Totals, simTotalsToProto(&r.Totals[j]))
		}
		if r.ReportingTotals != nil {
			p.ReportingTotals = simTotalsToProto(r.ReportingTotals)
		}
		for j := range r.Top {
			p.Top = append(p.Top, SimulatedCustomerToProto(&r.Top[j]))
		}
		out.Results = append(out.Results, p)
	}
	return out
}

// SimulationFromProto maps and validates a SimulateOutage request, as the
// service does (impactctl simulates on --db with it).
func SimulationFromProto(req *impactv1.SimulateOutageRequest) (*impact.Simulation, error) {
	return simulationFromProto(req)
}

// SimulationToProto maps Simulate's results as SimulateOutage answers them.
func SimulationToProto(rs []impact.SimulationResult) *impactv1.SimulateOutageResponse {
	return simulationToProto(rs)
}
