package server

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// ImpactStatements serves ImpactStatementService: one customer's account of
// one incident, assembled from stored data exactly as the incident's stored
// estimate is (loadBatch, then the engine), so that every figure in it
// equals the estimate's and the SLA statements'.
type ImpactStatements struct {
	impactv1.UnimplementedImpactStatementServiceServer

	log    *slog.Logger
	store  impact.Store
	limits impact.Limits
	cache  estimateCache // ListCustomerEstimates
}

// NewImpactStatements returns the impact statement service over st.
func NewImpactStatements(log *slog.Logger, st impact.Store) *ImpactStatements {
	return &ImpactStatements{log: log, store: st, limits: StoredLimits()}
}

// Register registers ImpactStatementService on r.
func (s *ImpactStatements) Register(r grpc.ServiceRegistrar) {
	impactv1.RegisterImpactStatementServiceServer(r, s)
}

func (s *ImpactStatements) GetImpactStatement(ctx context.Context, req *impactv1.GetImpactStatementRequest) (*impactv1.ImpactStatement, error) {
	ids, err := parseName("name", req.GetName(), "incidents", "impactStatements")
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "")
	}
	st, err := s.statement(ctx, ids[0], ids[1])
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "")
	}
	return st, nil
}

func (s *ImpactStatements) statement(ctx context.Context, incID, custID string) (*impactv1.ImpactStatement, error) {
	b, err := loadBatch(ctx, s.store, []string{incID})
	if err != nil {
		return nil, err
	}
	inc, ok := b.incidents[incID]
	if !ok {
		return nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(incID))
	}
	var cust *impact.AffectedCustomer
	for i := range b.affected[incID] {
		if a := &b.affected[incID][i]; a.ID == custID {
			cust = a
		}
	}
	if cust == nil {
		if _, err := s.store.GetCustomer(ctx, custID); err != nil {
			return nil, err
		}
		return nil, impact.Errorf(impact.ENOTFOUND, "%s has no outage window in %s", impact.CustomerName(custID), impact.IncidentName(incID))
	}
	sc, _ := b.scenario(incID)
	est, err := timeEstimate(estimateStatement, func() (*impact.Estimate, error) { return impact.EstimateScenario(sc, s.limits) })
	if err != nil {
		return nil, estimateError(sc, err)
	}
	exclusions, err := impact.Exclusions(sc, incID, custID, s.limits)
	if err != nil {
		return nil, estimateError(sc, err)
	}
	sts, err := incidentStatements(est.Statements, sc, incID)
	if err != nil {
		return nil, err
	}

	zone := cust.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	cause := inc.Cause
	if cause == impact.CauseUnspecified {
		cause = impact.UnknownCause
	}
	out := &impactv1.ImpactStatement{
		Name:                "incidents/" + incID + "/impactStatements/" + custID,
		IncidentId:          incID,
		Title:               inc.Title,
		Cause:               enumToProto(causes, cause),
		CauseDescription:    impact.CauseWords(cause),
		CustomerId:          custID,
		CustomerDisplayName: cust.DisplayName,
		CustomerTimeZone:    zone,
		StartTime:           timestamppb.New(cust.FirstStart),
		EndTime:             timestamppb.New(cust.LastEnd),
		ModelVersion:        est.ModelVersion,
		InputsDigest:        est.InputsDigest,
	}
	for i := range est.Incidents {
		if est.Incidents[i].IncidentID != incID {
			continue
		}
		for j := range est.Incidents[i].Customers {
			if c := &est.Incidents[i].Customers[j]; c.CustomerID == custID {
				one := impact.IncidentEstimate{Customers: []impact.CustomerEstimate{*c}}
				out.Estimate = incidentEstimateToProto(&one).Customers[0]
			}
		}
	}

	// The timeline: this incident's windows of the customer by service.
	contracts := map[string]*impact.Contract{}
	for i := range cust.Contracts {
		contracts[cust.Contracts[i].Service] = &cust.Contracts[i]
	}
	bySvc := map[string]*impactv1.ImpactStatement_ServiceTimeline{}
	for i := range sc.Incidents {
		if sc.Incidents[i].ID != incID {
			continue
		}
		for _, w := range sc.Incidents[i].Windows {
			if w.CustomerID != custID {
				continue
			}
			tl := bySvc[w.Service]
			if tl == nil {
				tl = &impactv1.ImpactStatement_ServiceTimeline{Service: w.Service, HasContract: contracts[w.Service] != nil}
				bySvc[w.Service] = tl
				out.Services = append(out.Services, tl)
			}
			tl.Windows = append(tl.Windows, windowOf(w.Start, w.End, w.ImpactFraction))
		}
	}
	sort.Slice(out.Services, func(i, j int) bool { return out.Services[i].Service < out.Services[j].Service })
	for _, tl := range out.Services {
		sort.SliceStable(tl.Windows, func(i, j int) bool {
			return tl.Windows[i].StartTime.AsTime().Before(tl.Windows[j].StartTime.AsTime())
		})
	}

	for i := range sts {
		st := &sts[i]
		if st.CustomerID != custID {
			continue
		}
		k := contracts[st.Service]
		kz := k.TimeZone
		if kz == "" {
			kz = "UTC"
		}
		p := &impactv1.ImpactStatement_ContractPeriod{
			Service:          st.Service,
			ContractTimeZone: kz,
			Statement:        impact.StatementName(custID, st.Service, st.Period),
			Period:           st.Period,
			PeriodStart:      timestamppb.New(st.PeriodStart),
			PeriodEnd:        timestamppb.New(st.PeriodEnd),
			DowntimeSeconds:  impact.FormatDecimal(st.DowntimeSeconds),
			UptimePercent:    impact.FormatFixed(st.UptimePercent, 6),
			CreditPercent:    impact.FormatDecimal(st.CreditPercent),
			CreditAmount:     moneyToProto(st.CreditAmount),
			IncidentCredit:   moneyToProto(impact.Money{Currency: st.CreditAmount.Currency}),
			BelowMinimum:     st.BelowMinimum,
			Tier:             "no credit tier reached",
		}
		p.IncidentDowntimeSeconds = "0"
		for _, sh := range st.Incidents {
			if sh.IncidentID == incID {
				p.IncidentDowntimeSeconds = impact.FormatDecimal(sh.DowntimeSeconds)
				p.IncidentCredit = moneyToProto(sh.Credit)
			}
		}
		for _, t := range k.Tiers {
			p.Tiers = append(p.Tiers, &impactv1.CreditTier{UptimeBelow: t.UptimeBelow, CreditPercent: t.CreditPercent, Inclusive: t.Inclusive})
		}
		if ti := impact.ReachedTier(k.Tiers, st.PeriodSeconds, st.DowntimeSeconds); ti >= 0 {
			t := k.Tiers[ti]
			rel := "below"
			if t.Inclusive {
				rel = "at or below"
			}
			p.Tier = fmt.Sprintf("uptime %s %s %%: %s %% credit", rel, t.UptimeBelow, t.CreditPercent)
		}
		sort.SliceStable(p.Tiers, func(i, j int) bool { return lessDecimal(p.Tiers[i].UptimeBelow, p.Tiers[j].UptimeBelow) })
		out.Periods = append(out.Periods, p)
	}
	sort.SliceStable(out.Periods, func(i, j int) bool {
		if out.Periods[i].Service != out.Periods[j].Service {
			return out.Periods[i].Service < out.Periods[j].Service
		}
		return out.Periods[i].PeriodStart.AsTime().Before(out.Periods[j].PeriodStart.AsTime())
	})

	for i := range exclusions {
		e := &exclusions[i]
		out.Exclusions = append(out.Exclusions, &impactv1.ImpactStatement_Exclusion{
			Service:     e.Service,
			Window:      windowOf(e.WindowStart, e.WindowEnd, e.ImpactFraction),
			StartTime:   timestamppb.New(e.Start),
			EndTime:     timestamppb.New(e.End),
			Seconds:     e.Seconds(),
			Reason:      impactv1.ImpactStatement_Exclusion_Reason(e.Reason),
			Description: e.Description,
		})
	}
	out.Summary = summary(out)
	return out, nil
}

func windowOf(start, end time.Time, frac string) *impactv1.ImpactStatement_Window {
	if frac == "" {
		frac = "1"
	}
	return &impactv1.ImpactStatement_Window{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end), ImpactFraction: frac}
}

func lessDecimal(a, b string) bool {
	da, errA := impact.ParseDecimal(a)
	db, errB := impact.ParseDecimal(b)
	if errA != nil || errB != nil {
		return a < b
	}
	return da.LessThan(db)
}

// summary is the statement in plain language, written from its own fields
// so that the words and the figures cannot disagree. Times are in the
// customer's zone, labelled with it.
func summary(s *impactv1.ImpactStatement) []string {
	loc, err := time.LoadLocation(s.GetCustomerTimeZone())
	if err != nil {
		loc = time.UTC
	}
	at := func(ts *timestamppb.Timestamp) string {
		return ts.AsTime().In(loc).Format("2 January 2006 15:04:05") + " (" + s.GetCustomerTimeZone() + ")"
	}
	var svcs []string
	for _, tl := range s.GetServices() {
		svcs = append(svcs, tl.GetService())
	}
	what := s.GetTitle()
	if what == "" {
		what = "An incident"
	}
	out := []string{fmt.Sprintf("%s, caused by %s, affected %s from %s to %s.",
		what, s.GetCauseDescription(), strings.Join(svcs, ", "), at(s.GetStartTime()), at(s.GetEndTime()))}
	for _, p := range s.GetPeriods() {
		line := fmt.Sprintf("Under your contract for %s, %s seconds of downtime were counted in the billing period %s (%s of them from this incident), for an uptime of %s %% (%s).",
			p.GetService(), p.GetDowntimeSeconds(), p.GetPeriod(), p.GetIncidentDowntimeSeconds(), p.GetUptimePercent(), p.GetTier())
		switch {
		case p.GetBelowMinimum():
			line += " The credit is below the contract's minimum and is not owed."
		case p.GetCreditAmount().GetAmount() != "" && !isZeroAmount(p.GetCreditAmount().GetAmount()):
			line += fmt.Sprintf(" The credit owed for the period is %s %s, of which %s %s is for this incident.",
				p.GetCreditAmount().GetCurrencyCode(), p.GetCreditAmount().GetAmount(),
				p.GetIncidentCredit().GetCurrencyCode(), p.GetIncidentCredit().GetAmount())
			switch p.GetClaimMode() {
			case impactv1.ImpactStatement_AUTOMATIC:
				line += " It is applied to your next invoice; you need not claim it."
			case impactv1.ImpactStatement_ON_REQUEST:
				if p.GetClaimDeadline() != nil {
					line += " Claim it by " + at(p.GetClaimDeadline()) + "."
				} else {
					line += " It must be claimed."
				}
			}
		default:
			line += " No credit is owed for the period."
		}
		out = append(out, line)
	}
	for _, e := range s.GetExclusions() {
		out = append(out, fmt.Sprintf("%d seconds of the %s outage from %s did not count: %s.",
			e.GetSeconds(), e.GetService(), at(e.GetStartTime()), e.GetDescription()))
	}
	return out
}

func isZeroAmount(a string) bool { return strings.Trim(a, "0.") == "" }
