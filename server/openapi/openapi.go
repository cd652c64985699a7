// Package openapi holds the OpenAPI (Swagger 2.0) description of the JSON
// gateway, generated from proto/impact/v1 by `buf generate` and embedded so
// the binary serves exactly the description of the API it was built with.
package openapi

import _ "embed"

// JSON is the generated OpenAPI document.
//
//go:embed impact.swagger.json
var JSON []byte
