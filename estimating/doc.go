// Package estimating is impact's application layer: the figures computed
// from stored data, between the transports (package server, cmd/impactctl)
// and the store. It depends on package impact only — its engine, its pure
// rules and the store interfaces it declares — never on proto, gRPC or
// SQL.
//
//   - Service.Estimate is a stored :estimate behind one call: incident id
//     and reporting options in (zero: the stored reporting settings), the
//     stored revision and its statements out. It reads the change sequence,
//     loads the incident's data in a fixed number of queries (affected
//     customers; their windows over impact.CreditRange, closed under
//     overlap by impact.CloseRange; the incidents of those windows), runs
//     the engine once, keeps the statements impact.IncidentStatements
//     names and saves all with what it read (impact.EstimateDeps).
//     Service.Compute is the same without storing; Service.Assemble is the
//     scenario alone (the impact statement).
//   - Service.Statement and Service.Statements compute SLA statements live
//     from the stored windows; Service.EstimateCustomers pages a stored
//     estimate's customers.
//   - Simulate, Headroom and EachHeadroom answer the exposure's questions
//     from the stored book, chunk by chunk.
//   - Recomputer runs recompute jobs (leased chunks of incidents) and the
//     refresh of stale estimates with the same code as Service.Estimate,
//     on batches of incidents.
//
// Every scenario assembled from stored data reads its incidents through
// Incidents: an incident deleted since its windows were read is left out.
// Stored data the engine rejects is FAILED_PRECONDITION naming the stored
// resources at fault (EstimateError); the request's own options remain
// INVALID_ARGUMENT.
package estimating
