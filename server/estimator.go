package server

import (
	"context"
	"log/slog"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Estimator implements impact.v1.EstimatorService on the domain engine.
type Estimator struct {
	impactv1.UnimplementedEstimatorServiceServer

	log    *slog.Logger
	limits impact.Limits
	// estimate, when set, replaces impact.EstimateScenarioContext: tests
	// make the engine fail or panic on demand with it.
	estimate func(*impact.Scenario, impact.Limits) (*impact.Estimate, error)
}

// NewEstimator returns the service with the stateless API's request limits
// (impact.DefaultLimits).
func NewEstimator(log *slog.Logger) *Estimator {
	return &Estimator{log: log, limits: impact.DefaultLimits()}
}

// Estimate validates and estimates the request's scenario. Every validation
// failure is INVALID_ARGUMENT with a google.rpc.BadRequest.
func (s *Estimator) Estimate(ctx context.Context, req *impactv1.EstimateRequest) (*impactv1.EstimateResponse, error) {
	if req.GetScenario() == nil {
		return nil, toStatus(ctx, s.log, &impact.Error{
			Code:       impact.EINVALID,
			Message:    "invalid request",
			Violations: []impact.FieldViolation{{Description: "is required"}},
		}, "scenario")
	}
	sc, err := scenarioFromProto(req.GetScenario())
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "scenario")
	}
	est, err := timeEstimate(estimateStateless, func() (*impact.Estimate, error) {
		if s.estimate != nil {
			return s.estimate(sc, s.limits)
		}
		// The engine stops at the call's deadline or when the client goes.
		return impact.EstimateScenarioContext(ctx, sc, s.limits)
	})
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "scenario")
	}
	return estimateToProto(est), nil
}
