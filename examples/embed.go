// Package examples holds example inputs of impact: scenario files in the
// proto3 JSON of impact.v1.EstimateRequest and CSV files for
// `impactctl import`. SeedOutage is embedded so that `impactctl demo` loads
// the same story the examples tell.
package examples

import _ "embed"

// SeedOutage is seed-outage.json: one power failure hitting an online shop,
// a bank and a data-centre tenant.
//
//go:embed seed-outage.json
var SeedOutage []byte
