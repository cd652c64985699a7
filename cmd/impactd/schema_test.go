package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server/openapi"
)

// The OpenAPI document must describe what impactd sends: the main flows'
// real responses (and error answers) are checked against the schema of
// their operation in server/openapi. The check is a small validator of the
// Swagger 2 schema subset protoc-gen-openapiv2 writes ($ref, object with
// properties or additionalProperties, array, string, integer, number,
// boolean, enum). It is stricter than JSON Schema where a client would
// break: null is never allowed (the document marks nothing nullable), and a
// property the schema does not name is an error.

type swaggerSchema struct {
	Ref                  string                    `json:"$ref"`
	Type                 string                    `json:"type"`
	Format               string                    `json:"format"`
	Properties           map[string]*swaggerSchema `json:"properties"`
	AdditionalProperties json.RawMessage           `json:"additionalProperties"`
	Items                *swaggerSchema            `json:"items"`
	Enum                 []any                     `json:"enum"`
}

type swaggerDoc struct {
	Paths map[string]map[string]struct {
		OperationID string `json:"operationId"`
		Responses   map[string]struct {
			Schema *swaggerSchema `json:"schema"`
		} `json:"responses"`
	} `json:"paths"`
	Definitions map[string]*swaggerSchema `json:"definitions"`
}

func loadSwagger(t *testing.T) *swaggerDoc {
	t.Helper()
	var d swaggerDoc
	if err := json.Unmarshal(openapi.JSON, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// responseSchema is the schema of operation op's answer with HTTP status
// code: "200", or "default" (google.rpc.Status) for an error.
func (d *swaggerDoc) responseSchema(t *testing.T, op, code string) *swaggerSchema {
	t.Helper()
	for _, methods := range d.Paths {
		for _, o := range methods {
			if o.OperationID == op {
				r, ok := o.Responses[code]
				if !ok || r.Schema == nil {
					t.Fatalf("operation %s has no schema for %s", op, code)
				}
				return r.Schema
			}
		}
	}
	t.Fatalf("no operation %s in the OpenAPI document", op)
	return nil
}

var dateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)

// validate returns every place v does not match s, as JSON paths.
func (d *swaggerDoc) validate(s *swaggerSchema, v any, path string) []string {
	for s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/definitions/")
		def := d.Definitions[name]
		if !ok || def == nil {
			return []string{path + ": unresolved " + s.Ref}
		}
		s = def
	}
	if v == nil {
		return []string{path + ": null"}
	}
	bad := func(format string, args ...any) []string { return []string{path + ": " + fmt.Sprintf(format, args...)} }
	if len(s.Enum) > 0 && !slices.Contains(s.Enum, v) {
		return bad("%v is not one of %v", v, s.Enum)
	}
	switch s.Type {
	case "object", "":
		obj, ok := v.(map[string]any)
		if !ok {
			return bad("%T, want an object", v)
		}
		var errs []string
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		extra := len(s.AdditionalProperties) > 0 && string(s.AdditionalProperties) != "false"
		var extraSchema *swaggerSchema
		if extra && string(s.AdditionalProperties) != "true" {
			extraSchema = &swaggerSchema{}
			if err := json.Unmarshal(s.AdditionalProperties, extraSchema); err != nil {
				return bad("additionalProperties: %v", err)
			}
		}
		for _, k := range keys {
			switch p, ok := s.Properties[k]; {
			case ok:
				errs = append(errs, d.validate(p, obj[k], path+"."+k)...)
			case extraSchema != nil:
				errs = append(errs, d.validate(extraSchema, obj[k], path+"."+k)...)
			case extra:
			default:
				errs = append(errs, path+"."+k+": not in the schema")
			}
		}
		return errs
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return bad("%T, want an array", v)
		}
		var errs []string
		for i, e := range arr {
			errs = append(errs, d.validate(s.Items, e, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case "string":
		str, ok := v.(string)
		if !ok {
			return bad("%T, want a string", v)
		}
		switch s.Format {
		case "date-time":
			if !dateTime.MatchString(str) {
				return bad("%q is not an RFC 3339 date-time", str)
			}
		case "int64", "uint64":
			if !regexp.MustCompile(`^-?\d+$`).MatchString(str) {
				return bad("%q is not an integer", str)
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			return bad("%v, want an integer", v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return bad("%T, want a number", v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return bad("%T, want a boolean", v)
		}
	default:
		return bad("schema type %q unknown to this validator", s.Type)
	}
	return nil
}

// checked sends one request of operation op and checks its answer against
// the document: the 200 schema, or google.rpc.Status for an error.
func checked(t *testing.T, doc *swaggerDoc, op, method, url, body string) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: not JSON: %v\n%s", method, url, err, b)
	}
	code := "200"
	if resp.StatusCode != http.StatusOK {
		code = "default"
	}
	for _, e := range doc.validate(doc.responseSchema(t, op, code), v, "$") {
		t.Errorf("%s %s (%s, HTTP %d): %s", method, url, op, resp.StatusCode, e)
	}
	m, _ := v.(map[string]any)
	return resp.StatusCode, m
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadSwagger(t)
	d := start(t)
	ok := func(op, method, path, body string) map[string]any {
		t.Helper()
		code, v := checked(t, doc, op, method, d.url(path), body)
		if code != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d %v", method, path, code, v)
		}
		return v
	}
	req := seedScenario(t)
	sc := req.GetScenario()

	// The stateless estimate, with and without a reporting currency: the
	// second has no reportingTotals, which must then be absent, not null.
	ok("EstimatorService_Estimate", "POST", "/v1/scenarios:estimate", marshal(t, req))
	bare := proto.Clone(req).(*impactv1.EstimateRequest)
	bare.Scenario.ReportingCurrency, bare.Scenario.FxRates = "", nil
	for _, in := range bare.Scenario.Incidents {
		in.RecoveryCurrency, in.RecoveryItems = "", nil
	}
	e := ok("EstimatorService_Estimate", "POST", "/v1/scenarios:estimate", marshal(t, bare))
	if _, has := dig(t, e, "incidents", 0).(map[string]any)["reportingTotals"]; has {
		t.Errorf("reportingTotals present without a reporting currency")
	}

	// The stored flow: create, read, list, update, estimate, statements.
	for _, c := range sc.GetCustomers() {
		b := proto.Clone(c).(*impactv1.Customer)
		b.Contracts, b.CustomerId = nil, ""
		ok("CustomerService_CreateCustomer", "POST", "/v1/customers?customerId="+c.GetCustomerId(), marshal(t, b))
		for _, k := range c.GetContracts() {
			ok("ContractService_CreateContract", "POST", "/v1/customers/"+c.GetCustomerId()+"/contracts", marshal(t, k))
			ok("ContractService_GetContract", "GET", "/v1/customers/"+c.GetCustomerId()+"/contracts/"+k.GetService(), "")
		}
		ok("ContractService_ListContracts", "GET", "/v1/customers/"+c.GetCustomerId()+"/contracts", "")
		ok("CustomerService_GetCustomer", "GET", "/v1/customers/"+c.GetCustomerId(), "")
	}
	ok("CustomerService_ListCustomers", "GET", "/v1/customers", "")
	for _, in := range sc.GetIncidents() {
		b := proto.Clone(in).(*impactv1.Incident)
		b.Windows = nil
		ok("IncidentService_CreateIncident", "POST", "/v1/incidents", marshal(t, b))
		batch := &impactv1.BatchCreateIncidentWindowsRequest{}
		for _, w := range in.GetWindows() {
			batch.Requests = append(batch.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: w})
		}
		ok("IncidentService_BatchCreateIncidentWindows", "POST", "/v1/incidents/"+in.GetIncidentId()+"/windows:batchCreate", marshal(t, batch))
		ok("IncidentService_ListIncidentWindows", "GET", "/v1/incidents/"+in.GetIncidentId()+"/windows", "")
		ok("IncidentService_GetIncident", "GET", "/v1/incidents/"+in.GetIncidentId(), "")
		ok("IncidentService_EstimateIncident", "POST", "/v1/incidents/"+in.GetIncidentId()+":estimate", "{}")
		ok("IncidentService_GetIncidentEstimate", "GET", "/v1/incidents/"+in.GetIncidentId()+"/estimate", "")
		ok("IncidentService_ListIncidentEstimateRevisions", "GET", "/v1/incidents/"+in.GetIncidentId()+"/estimate:listRevisions", "")
	}
	ok("IncidentService_ListIncidents", "GET", "/v1/incidents", "")
	c := ok("CustomerService_GetCustomer", "GET", "/v1/customers/bank-northwind", "")
	ok("CustomerService_UpdateCustomer", "PATCH", "/v1/customers/bank-northwind", `{"displayName": "Northwind", "etag": `+strconv.Quote(c["etag"].(string))+`}`)
	ok("ContractService_GetContractStatement", "GET", "/v1/customers/bank-northwind/contracts/payments-api/statements/2025-07", "")
	job := ok("RecomputeService_CreateRecomputeJob", "POST", "/v1/recomputeJobs", `{"dryRun": true}`)
	ok("RecomputeService_GetRecomputeJob", "GET", "/v1/"+job["name"].(string), "")
	ok("RecomputeService_ListRecomputeJobs", "GET", "/v1/recomputeJobs", "")
	ok("RecomputeService_ListRecomputeJobChanges", "GET", "/v1/"+job["name"].(string)+"/changes", "")
	audit := ok("AuditService_ListAuditRecords", "GET", "/v1/auditRecords?pageSize=1000", "")
	found := false
	for _, r := range dig(t, audit, "auditRecords").([]any) {
		r := r.(map[string]any)
		if r["action"] == "UpdateCustomer" && r["resource"] == "customers/bank-northwind" {
			found = strings.Contains(r["beforeJson"].(string), `"display_name":"Northwind Bank"`) &&
				strings.Contains(r["afterJson"].(string), `"display_name":"Northwind"`)
		}
	}
	if !found {
		t.Errorf("no UpdateCustomer audit record with the display name before and after: %v", audit)
	}

	// Errors are google.rpc.Status.
	for _, e := range []struct{ op, method, path, body string }{
		{"CustomerService_GetCustomer", "GET", "/v1/customers/nobody", ""},
		{"CustomerService_CreateCustomer", "POST", "/v1/customers?customerId=x", `{"currencyCode": 1}`},
		{"EstimatorService_Estimate", "POST", "/v1/scenarios:estimate", `{"scenario": {"customers": [{}]}}`},
	} {
		if code, v := checked(t, doc, e.op, e.method, d.url(e.path), e.body); code == http.StatusOK {
			t.Errorf("%s %s: 200 %v, want an error", e.method, e.path, v)
		}
	}
}

// Stored resources show the defaults in force, not UNSPECIFIED or "".
func TestStoredResourcesShowDefaults(t *testing.T) {
	d := start(t)
	must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "EUR"}`)
	c := must(t, "GET", d.url("/v1/customers/acme"), "")
	if c["timeZone"] != "UTC" || dig(t, c, "baseline", "recaptureRate") != "0" {
		t.Errorf("customer: timeZone %v, recaptureRate %v; want UTC and 0", c["timeZone"], dig(t, c, "baseline", "recaptureRate"))
	}
	k := must(t, "POST", d.url("/v1/customers/acme/contracts"), `{"service": "api"}`)
	for f, want := range map[string]any{
		"billingPeriod": "MONTHLY", "timeZone": "UTC", "degradation": "THRESHOLD", "downtimeThreshold": "1",
		"granularity": "SECONDS", "denominator": "PERIOD", "rounding": "HALF_EVEN", "creditCapPercent": "100",
		"minCreditAmount": "0", "monthlyFee": "0", "minDowntimeSeconds": "0", "excludeMaintenance": false,
	} {
		if k[f] != want {
			t.Errorf("contract %s = %v, want %v", f, k[f], want)
		}
	}
	// PROPORTIONAL has no threshold: it stays empty (a threshold would make
	// the contract invalid when sent back).
	p := must(t, "POST", d.url("/v1/customers/acme/contracts"), `{"service": "err-rate", "degradation": "PROPORTIONAL"}`)
	if p["downtimeThreshold"] != "" {
		t.Errorf("PROPORTIONAL contract has downtimeThreshold %v, want empty", p["downtimeThreshold"])
	}
	// What was read can be sent back as it is.
	must(t, "PATCH", d.url("/v1/customers/acme/contracts/err-rate"), marshalJSON(t, p))
	in := must(t, "POST", d.url("/v1/incidents?incidentId=inc-1"), `{}`)
	if in["cause"] != "UNKNOWN" || in["allocation"] != "EVEN" {
		t.Errorf("incident cause %v, allocation %v; want UNKNOWN and EVEN", in["cause"], in["allocation"])
	}
}

func marshalJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
