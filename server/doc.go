// Package server is impact's transport: the gRPC services of impact.v1,
// their interceptors (request id, metrics, access log, recovery,
// deadline, authentication, drain), the mapping between proto messages and
// the domain types of package impact, the one table from impact error codes
// to gRPC status codes, the JSON gateway in front of them, and the metrics.
//
// It holds no application logic. A service method parses its request (a
// bad field is INVALID_ARGUMENT with one BadRequest violation each), makes
// one call and maps the result or the error back:
//
//   - a stateless estimate calls the engine (impact.EstimateScenario);
//   - anything computed from stored data — a stored :estimate, SLA and
//     impact statements, a stored estimate's customers, simulations and
//     headroom — calls the application, package estimating;
//   - a plain read or write of a stored resource calls the store through
//     the interfaces package impact declares (impact.Store and its
//     siblings), never package store itself.
//
// So a stored :estimate is transport (Stored.EstimateIncident) →
// application (estimating.Service.Estimate) → store and engine →
// transport. Recompute jobs and the refresh of stale estimates run in
// estimating.Recomputer; this package serves the jobs' API and counts
// their chunks in the metrics (RecomputeChunkDone, RefreshDone,
// ObserveEstimate are the application's hooks).
//
// Proto types stop here: nothing under impact, estimating or store
// imports them. cmd/impactctl uses this package only for the mapping a
// client needs (ScenarioFromProto, StoredEstimateToProto, …).
package server
