package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// HTTP conventions of the gateway's answers, end to end.

// answer is one raw HTTP exchange.
func answer(t *testing.T, method, url, body string, header ...string) (*http.Response, map[string]any) {
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
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, decodeJSON(t, b)
}

// reasonOf is the ErrorInfo reason of an error answer, and the first field
// violation's field and description.
func reasonOf(t *testing.T, v map[string]any) (reason, field, desc string) {
	t.Helper()
	details, _ := v["details"].([]any)
	for _, d := range details {
		d := d.(map[string]any)
		switch d["@type"] {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reason, _ = d["reason"].(string)
		case "type.googleapis.com/google.rpc.BadRequest":
			if fvs, _ := d["fieldViolations"].([]any); len(fvs) > 0 {
				fv := fvs[0].(map[string]any)
				field, _ = fv["field"].(string)
				desc, _ = fv["description"].(string)
			}
		}
	}
	return reason, field, desc
}

func TestGatewayErrorReasons(t *testing.T) {
	d := start(t)
	must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "EUR"}`)
	must(t, "POST", d.url("/v1/incidents?incidentId=inc-1"), `{}`)
	must(t, "POST", d.url("/v1/incidents/inc-1/windows:batchCreate"), `{"requests": [{"outageWindow":
		{"customerId": "acme", "service": "api", "startTime": "2025-07-01T10:00:00Z", "endTime": "2025-07-01T11:00:00Z"}}]}`)
	for _, tc := range []struct {
		name, method, path, body string
		http                     int
		reason, field, desc      string // desc: a part of the description
	}{
		{"page size not a number", "GET", "/v1/customers?pageSize=abc", "", 400, "INVALID_QUERY_PARAMETER", "pageSize", "integer"},
		{"unknown query parameter", "GET", "/v1/customers?pagesize=1", "", 400, "UNKNOWN_QUERY_PARAMETER", "pagesize", "pageSize"},
		{"snake_case query parameter", "GET", "/v1/customers?page_size=1", "", 200, "", "", ""},
		{"timestamp without a zone", "POST", "/v1/scenarios:estimate",
			`{"scenario": {"incidents": [{"windows": [{"startTime": "2025-07-01T10:00:00"}]}]}}`,
			400, "INVALID_FIELD_VALUE", "scenario.incidents[0].windows[0].startTime", "RFC 3339"},
		{"enum value", "POST", "/v1/customers/acme/contracts", `{"service": "x", "billingPeriod": "WEEKLY"}`,
			400, "INVALID_FIELD_VALUE", "billingPeriod", "MONTHLY, QUARTERLY"},
		{"integer", "POST", "/v1/customers/acme/contracts", `{"service": "x", "minDowntimeSeconds": "abc"}`,
			400, "INVALID_FIELD_VALUE", "minDowntimeSeconds", "integer"},
		{"unknown field", "POST", "/v1/customers?customerId=b", `{"currencyCode": "EUR", "bogus": 1}`,
			400, "UNKNOWN_FIELD", "bogus", "unknown field"},
		{"trailing data", "POST", "/v1/customers?customerId=b", `{"currencyCode": "EUR"} {"x": 1}`, 400, "MALFORMED_BODY", "", ""},
		{"query on an all-body route", "POST", "/v1/scenarios:estimate?debug=1", `{}`, 400, "UNKNOWN_QUERY_PARAMETER", "debug", ""},
		{"a create names its resource", "POST", "/v1/customers?customerId=b", `{"currencyCode": "EURO"}`,
			400, "INVALID_ARGUMENT", "customer.currencyCode", "ISO 4217"},
		{"stale etag", "DELETE", "/v1/customers/acme?etag=%220000000000000000%22", "", 409, "ETAG_MISMATCH", "", ""},
		{"customer with windows", "DELETE", "/v1/customers/acme", "", 400, "CUSTOMER_HAS_WINDOWS", "", ""},
		{"missing customer", "GET", "/v1/customers/nobody", "", 404, "NOT_FOUND", "", ""},
		{"existing customer", "POST", "/v1/customers?customerId=acme", `{"currencyCode": "EUR"}`, 409, "ALREADY_EXISTS", "", ""},
		{"fx rate missing", "POST", "/v1/incidents/inc-1:estimate", `{"reportingCurrency": "USD"}`, 400, "FX_RATE_MISSING", "fxRates", "EUR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, v := answer(t, tc.method, d.url(tc.path), tc.body)
			if resp.StatusCode != tc.http {
				t.Fatalf("HTTP %d, want %d: %v", resp.StatusCode, tc.http, v)
			}
			if tc.http == 200 {
				return
			}
			reason, field, desc := reasonOf(t, v)
			if reason != tc.reason || field != tc.field || !strings.Contains(desc, tc.desc) {
				t.Errorf("reason %q, field %q (%q); want %q, %q (with %q): %v", reason, field, desc, tc.reason, tc.field, tc.desc, v)
			}
		})
	}
}

func TestUpdateMaskSpellings(t *testing.T) {
	d := start(t)
	must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "EUR", "displayName": "A"}`)
	for i, mask := range []string{"displayName", "display_name", "displayName,baseline.hourlyAmount", "baseline.hourly_amount"} {
		name := "A" + strconv.Itoa(i)
		v := must(t, "PATCH", d.url("/v1/customers/acme?updateMask="+mask),
			`{"displayName": "`+name+`", "baseline": {"hourlyAmount": "`+strconv.Itoa(10+i)+`"}, "timeZone": "Europe/Berlin"}`)
		if strings.Contains(mask, "isplay") && v["displayName"] != name {
			t.Errorf("mask %s: displayName %v, want %s", mask, v["displayName"], name)
		}
		if strings.Contains(mask, "ourly") && dig(t, v, "baseline", "hourlyAmount") != strconv.Itoa(10+i) {
			t.Errorf("mask %s: hourlyAmount %v", mask, dig(t, v, "baseline", "hourlyAmount"))
		}
		if v["timeZone"] != "UTC" {
			t.Errorf("mask %s: timeZone %v changed, not in the mask", mask, v["timeZone"])
		}
	}
	resp, v := answer(t, "PATCH", d.url("/v1/customers/acme?updateMask=nope"), `{"displayName": "x"}`)
	if resp.StatusCode != 400 {
		t.Errorf("unknown mask path: HTTP %d %v", resp.StatusCode, v)
	}
}

func TestHTTPHeaders(t *testing.T) {
	d := start(t)
	resp, v := answer(t, "PUT", d.url("/v1/customers/acme"), `{}`)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "DELETE, GET, PATCH" {
		t.Errorf("PUT a customer: HTTP %d, Allow %q: %v", resp.StatusCode, resp.Header.Get("Allow"), v)
	}
	if r, _, _ := reasonOf(t, v); r != "METHOD_NOT_ALLOWED" {
		t.Errorf("405 reason %q", r)
	}
	resp, _ = answer(t, "DELETE", d.url("/v1/scenarios:estimate"), "")
	if resp.Header.Get("Allow") != "POST" {
		t.Errorf("DELETE estimate: HTTP %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, _ = answer(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "EUR"}`)
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "grpc-") {
			t.Errorf("response header %s: %q leaks gRPC metadata", k, resp.Header.Get(k))
		}
	}
}

// A 401 carries an RFC 6750 challenge.
func TestBearerChallenge(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t))
	for _, tc := range []struct {
		name, auth, want string
	}{
		{"no token", "", `Bearer realm="impact"`},
		{"unknown token", "Bearer nope", `Bearer realm="impact", error="invalid_token", error_description="the bearer token is not valid"`},
	} {
		var hdr []string
		if tc.auth != "" {
			hdr = []string{"Authorization", tc.auth}
		}
		resp, v := answer(t, "GET", d.url("/v1/customers"), "", hdr...)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != tc.want {
			t.Errorf("%s: HTTP %d, WWW-Authenticate %q; want 401 and %q: %v", tc.name, resp.StatusCode,
				resp.Header.Get("WWW-Authenticate"), tc.want, v)
		}
	}
}
