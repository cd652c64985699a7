package estimating

import (
	"context"

	"github.com/impact-svc/impact/impact"
)

// ImpactStatement is what one customer's account of one incident is made
// of, computed from stored data exactly as the incident's stored estimate
// is (Assemble, then the engine), so that every figure in it equals the
// estimate's and the SLA statements'.
type ImpactStatement struct {
	Incident   *impact.Incident         // without windows
	Customer   *impact.AffectedCustomer // with all its contracts
	Scenario   *impact.Scenario         // as assembled for the incident's estimate
	Estimate   *impact.Estimate         // of the whole scenario
	Exclusions []impact.Exclusion       // of this incident and customer
	Statements []impact.StoredStatement // the incident's complete statements (impact.IncidentStatements), every customer's
}

// ImpactStatement computes customer custID's account of incident incID.
// ENOTFOUND if the incident or the customer does not exist, or the
// customer has no window in the incident.
func (s *Service) ImpactStatement(ctx context.Context, incID, custID string) (*ImpactStatement, error) {
	a, err := s.Assemble(ctx, incID)
	if err != nil {
		return nil, err
	}
	var cust *impact.AffectedCustomer
	for i := range a.Affected {
		if c := &a.Affected[i]; c.ID == custID {
			cust = c
		}
	}
	if cust == nil {
		if _, err := s.store.GetCustomer(ctx, custID); err != nil {
			return nil, err
		}
		return nil, impact.Errorf(impact.ENOTFOUND, "%s has no outage window in %s", impact.CustomerName(custID), impact.IncidentName(incID))
	}
	sc := a.Scenario
	est, err := s.Run(ctx, CallStatement, sc)
	if err != nil {
		return nil, EstimateError(sc, err)
	}
	exclusions, err := impact.Exclusions(sc, incID, custID, s.o.Limits)
	if err != nil {
		return nil, EstimateError(sc, err)
	}
	sts, err := impact.IncidentStatements(est.Statements, sc, incID)
	if err != nil {
		return nil, err
	}
	return &ImpactStatement{Incident: a.Incident, Customer: cust, Scenario: sc, Estimate: est, Exclusions: exclusions, Statements: sts}, nil
}
