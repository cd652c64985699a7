package server

import (
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Exported wrappers of the scenario mapping, for tools (cmd/impactctl) that
// run the engine offline and must read and print exactly what the API does.
// They add nothing: the mapping itself lives in mapping.go.

// ScenarioFromProto maps a request scenario to the domain, or returns an
// EINVALID *impact.Error whose violations have paths relative to the
// scenario ("incidents[0].windows[3].end_time").
func ScenarioFromProto(p *impactv1.Scenario) (*impact.Scenario, error) {
	return scenarioFromProto(p)
}

// EstimateToProto maps an engine result to the EstimateResponse the
// stateless API returns for it.
func EstimateToProto(e *impact.Estimate) *impactv1.EstimateResponse {
	return estimateToProto(e)
}

// StoredEstimateToProto maps a stored estimate to the IncidentEstimate that
// GetIncidentEstimate returns for it.
func StoredEstimateToProto(e *impact.StoredEstimate) *impactv1.IncidentEstimate {
	return storedEstimateToProto(e)
}
