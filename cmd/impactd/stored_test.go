package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The stored resources end to end: through the real impactd wiring and the
// HTTP gateway, on a temp SQLite file and, when IMPACT_TEST_POSTGRES_DSN is
// set, on a fresh PostgreSQL database.

func eachDB(t *testing.T, fn func(t *testing.T, d *impactd)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, start(t, "--db", "sqlite:"+filepath.Join(t.TempDir(), "impact.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		fn(t, start(t, "--db", freshPostgres(t, dsn)))
	})
}

// freshPostgres creates an empty database for one test on the server of
// dsn, dropped when the test ends; impactd migrates it at start.
func freshPostgres(t testing.TB, dsn string) string {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	name := "impactd_e2e_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// call sends one HTTP request with a JSON body (none when body is "") and
// returns the status and the decoded JSON answer.
func call(t *testing.T, method, url, body string) (int, map[string]any) {
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
	return resp.StatusCode, decodeJSON(t, b)
}

// must is call expecting 200.
func must(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	code, v := call(t, method, url, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: HTTP %d: %v", method, url, code, v)
	}
	return v
}

// wantError checks an error answer's HTTP status and google.rpc.Status code.
func wantError(t *testing.T, what string, code int, v map[string]any, httpWant int, grpcWant int) {
	t.Helper()
	if code != httpWant || v["code"] != float64(grpcWant) {
		t.Errorf("%s: got HTTP %d %v, want HTTP %d with code %d", what, code, v, httpWant, grpcWant)
	}
}

func marshal(t *testing.T, m proto.Message) string {
	t.Helper()
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seedScenario is the README's scenario plus a second incident hitting the
// bank's payments-api in the same month: the first incident's credit then
// depends on it (the statement counts both, and attributes the credit by
// each one's downtime).
func seedScenario(t *testing.T) *impactv1.EstimateRequest {
	t.Helper()
	var req impactv1.EstimateRequest
	if err := protojson.Unmarshal(readFile(t, seedFile), &req); err != nil {
		t.Fatal(err)
	}
	second := &impactv1.Incident{}
	if err := protojson.Unmarshal([]byte(`{
		"incidentId": "inc-2025-07-29-deploy", "title": "Bad deploy", "cause": "SOFTWARE_DEFECT",
		"windows": [
			{"customerId": "bank-northwind", "service": "payments-api",
			 "startTime": "2025-07-29T08:00:00Z", "endTime": "2025-07-29T09:40:00Z"},
			{"customerId": "bank-northwind", "service": "payments-api",
			 "startTime": "2025-07-31T23:50:00Z", "endTime": "2025-08-01T00:20:00Z", "impactFraction": "0.5"}
		]}`), second); err != nil {
		t.Fatal(err)
	}
	req.Scenario.Incidents = append(req.Scenario.Incidents, second)
	return &req
}

// store creates every customer, contract, incident and window of sc
// through the gateway.
func storeScenario(t *testing.T, d *impactd, sc *impactv1.Scenario) {
	t.Helper()
	for _, c := range sc.GetCustomers() {
		bare := proto.Clone(c).(*impactv1.Customer)
		bare.Contracts = nil
		bare.CustomerId = "" // taken from ?customerId=, as api.md shows
		must(t, "POST", d.url("/v1/customers?customerId="+c.GetCustomerId()), marshal(t, bare))
		for _, k := range c.GetContracts() {
			must(t, "POST", d.url("/v1/customers/"+c.GetCustomerId()+"/contracts"), marshal(t, k))
		}
	}
	for _, in := range sc.GetIncidents() {
		bare := proto.Clone(in).(*impactv1.Incident)
		bare.Windows = nil
		must(t, "POST", d.url("/v1/incidents"), marshal(t, bare))
		batch := &impactv1.BatchCreateIncidentWindowsRequest{}
		for _, w := range in.GetWindows() {
			batch.Requests = append(batch.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: w})
		}
		v := must(t, "POST", d.url("/v1/incidents/"+in.GetIncidentId()+"/windows:batchCreate"), marshal(t, batch))
		if n := len(dig(t, v, "outageWindows").([]any)); n != len(in.GetWindows()) {
			t.Fatalf("batchCreate returned %d windows, want %d", n, len(in.GetWindows()))
		}
	}
}

// without returns a copy of m without the given keys.
func without(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func TestStoredEstimateEqualsStateless(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		req := seedScenario(t)
		sc := req.GetScenario()
		storeScenario(t, d, sc)

		stateless := must(t, "POST", d.url("/v1/scenarios:estimate"), marshal(t, req))
		opts := marshal(t, &impactv1.EstimateIncidentRequest{ReportingCurrency: sc.GetReportingCurrency(), FxRates: sc.GetFxRates()})
		for i, id := range []string{"inc-2025-07-14-fra-b", "inc-2025-07-29-deploy"} {
			stored := must(t, "POST", d.url("/v1/incidents/"+id+":estimate"), opts)
			if got, want := stored["name"], "incidents/"+id+"/estimate"; got != want {
				t.Errorf("name %v, want %v", got, want)
			}
			if stored["revision"] != "1" || stored["computeTime"] == nil {
				t.Errorf("revision %v, computeTime %v: want 1 and a time", stored["revision"], stored["computeTime"])
			}
			if stored["modelVersion"] != stateless["modelVersion"] {
				t.Errorf("modelVersion: stored %v, stateless %v", stored["modelVersion"], stateless["modelVersion"])
			}
			// The first incident affects every customer, so the scenario
			// assembled for it is all the stored data, and even the digest
			// of the inputs agrees. The second affects the bank alone: its
			// scenario leaves the other customers out.
			if i == 0 && stored["inputsDigest"] != stateless["inputsDigest"] {
				t.Errorf("inputsDigest: stored %v, stateless %v", stored["inputsDigest"], stateless["inputsDigest"])
			}
			want := without(dig(t, stateless, "incidents", i).(map[string]any), "computeTime")
			// The freshness and reporting fields are the stored estimate's
			// own; the stateless response has them empty.
			want = without(want, "state", "staleReasons", "reportingCurrency", "fxRates", "refreshError")
			if diff := cmp.Diff(want, without(stored, "name", "modelVersion", "inputsDigest", "computeTime", "revision",
				"source", "actor", "state", "staleReasons", "reportingCurrency", "fxRates", "refreshError")); diff != "" {
				t.Errorf("%s: stored estimate differs from the stateless one (-stateless +stored):\n%s", id, diff)
			}
			if got := must(t, "GET", d.url("/v1/incidents/"+id+"/estimate"), ""); !cmp.Equal(got, stored) {
				t.Errorf("GET estimate differs from the :estimate answer:\n%s", cmp.Diff(stored, got))
			}
		}
		// Estimating again adds a revision.
		if v := must(t, "POST", d.url("/v1/incidents/inc-2025-07-29-deploy:estimate"), "{}"); v["revision"] != "2" {
			t.Errorf("second :estimate has revision %v, want 2", v["revision"])
		}

		periods := map[string]string{"bank-northwind": "2025-07", "dc-polar": "2025-Q3", "shop-lindenhof": "2025-07"}
		statements := dig(t, stateless, "slaStatements").([]any)
		checked := 0
		for _, s := range statements {
			want := s.(map[string]any)
			cust, svc := want["customerId"].(string), want["service"].(string)
			period := periods[cust]
			if want["periodStart"] == "2025-08-01T00:00:00Z" {
				period = "2025-08" // the deploy incident's window crossing into August
			}
			name := fmt.Sprintf("customers/%s/contracts/%s/statements/%s", cust, svc, period)
			got := must(t, "GET", d.url("/v1/"+name), "")
			if got["name"] != name {
				t.Errorf("statement name %v, want %s", got["name"], name)
			}
			if diff := cmp.Diff(want, without(got, "name")); diff != "" {
				t.Errorf("%s differs from the stateless statement (-stateless +stored):\n%s", name, diff)
			}
			checked++
		}
		if checked != 4 {
			t.Errorf("checked %d statements, want 4 (three of July or Q3, one of August)", checked)
		}
		// The bank's July statement holds both incidents: the credit of the
		// first depends on the second.
		if n := len(dig(t, must(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api/statements/2025-07"), ""), "incidents").([]any)); n != 2 {
			t.Errorf("bank July statement has %d incidents, want 2", n)
		}
		// A period without windows inside the contract's active range (it
		// has none: always active) is quiet: downtime 0, uptime 100.
		quiet := must(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api/statements/2025-05"), "")
		if quiet["downtimeSeconds"] != "0" || quiet["uptimePercent"] != "100.000000" || quiet["creditPercent"] != "0" ||
			len(quiet["incidents"].([]any)) != 0 || quiet["periodStart"] != "2025-05-01T00:00:00Z" {
			t.Errorf("statement of a period without windows: %v", quiet)
		}
		// ListContractStatements: the periods with a window, newest first, paged.
		list := must(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api/statements?pageSize=1"), "")
		sts := list["slaStatements"].([]any)
		if len(sts) != 1 || sts[0].(map[string]any)["name"] != "customers/bank-northwind/contracts/payments-api/statements/2025-08" ||
			list["nextPageToken"] != "2025-08" {
			t.Errorf("first page of statements: %v", list)
		}
		next := must(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api/statements?pageSize=5&pageToken=2025-08"), "")
		if sts := next["slaStatements"].([]any); len(sts) != 1 || sts[0].(map[string]any)["name"] != "customers/bank-northwind/contracts/payments-api/statements/2025-07" || next["nextPageToken"] != "" {
			t.Errorf("second page of statements: %v", next)
		}
		code, v := call(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api/statements/2025-Q3"), "")
		wantError(t, "quarter of a monthly contract", code, v, http.StatusBadRequest, 3)
	})
}

func TestStoredResourceSemantics(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		storeScenario(t, d, seedScenario(t).GetScenario())
		customer := `{"displayName": "Acme", "currencyCode": "EUR"}`

		// A retried create returns the first result and writes once.
		first := must(t, "POST", d.url("/v1/customers?customerId=acme&requestId=r-1"), customer)
		again := must(t, "POST", d.url("/v1/customers?customerId=acme&requestId=r-1"), customer)
		if !cmp.Equal(first, again) {
			t.Errorf("retry with the same request_id differs:\n%s", cmp.Diff(first, again))
		}
		list := must(t, "GET", d.url("/v1/customers?pageSize=1000"), "")
		if n := len(dig(t, list, "customers").([]any)); n != 4 {
			t.Errorf("%d customers after a retried create, want 4", n)
		}
		// Without the request id, the same create is a conflict.
		code, v := call(t, "POST", d.url("/v1/customers?customerId=acme"), customer)
		wantError(t, "create of an existing customer", code, v, http.StatusConflict, 6)

		windows := `{"requests": [{"outageWindow": {"customerId": "acme", "service": "api",
			"startTime": "2025-07-01T00:00:00Z", "endTime": "2025-07-01T00:10:00Z"}}], "requestId": "w-1"}`
		w1 := must(t, "POST", d.url("/v1/incidents/inc-2025-07-14-fra-b/windows:batchCreate"), windows)
		w2 := must(t, "POST", d.url("/v1/incidents/inc-2025-07-14-fra-b/windows:batchCreate"), windows)
		if !cmp.Equal(w1, w2) {
			t.Errorf("retried batchCreate differs:\n%s", cmp.Diff(w1, w2))
		}
		acme := must(t, "GET", d.url(`/v1/incidents/inc-2025-07-14-fra-b/windows?filter=customer_id="acme"`), "")
		if n := len(dig(t, acme, "outageWindows").([]any)); n != 1 {
			t.Errorf("acme has %d windows after a retried batch, want 1", n)
		}

		// Etags: an update with the current one works, a stale one is ABORTED.
		etag := first["etag"].(string)
		updated := must(t, "PATCH", d.url("/v1/customers/acme"), `{"displayName": "Acme GmbH", "etag": `+strconv.Quote(etag)+`}`)
		if updated["displayName"] != "Acme GmbH" || updated["etag"] == etag || updated["currencyCode"] != "EUR" {
			t.Errorf("update: got %v", updated)
		}
		code, v = call(t, "PATCH", d.url("/v1/customers/acme"), `{"displayName": "Stale", "etag": `+strconv.Quote(etag)+`}`)
		wantError(t, "update with a stale etag", code, v, http.StatusConflict, 10)
		code, v = call(t, "DELETE", d.url("/v1/customers/acme?etag="+url.QueryEscape(etag)), "")
		wantError(t, "delete with a stale etag", code, v, http.StatusConflict, 10)
		// An update is validated as a whole before it is written.
		code, v = call(t, "PATCH", d.url("/v1/customers/acme"), `{"timeZone": "Mars/Olympus"}`)
		wantError(t, "update to an unknown zone", code, v, http.StatusBadRequest, 3)

		// A customer with windows cannot go.
		code, v = call(t, "DELETE", d.url("/v1/customers/acme"), "")
		wantError(t, "delete of a customer with windows", code, v, http.StatusBadRequest, 9)

		code, v = call(t, "GET", d.url("/v1/customers/nobody"), "")
		wantError(t, "get of a missing customer", code, v, http.StatusNotFound, 5)
		code, v = call(t, "GET", d.url("/v1/incidents/none/estimate"), "")
		wantError(t, "estimate of a missing incident", code, v, http.StatusNotFound, 5)
		code, v = call(t, "POST", d.url("/v1/customers?customerId=bad"), `{"currencyCode": "EUR", "timeZone": "Nowhere/Zone"}`)
		wantError(t, "create with an unknown zone", code, v, http.StatusBadRequest, 3)

		// Pages: 4 customers in pages of 3, with an opaque token.
		p1 := must(t, "GET", d.url("/v1/customers?pageSize=3"), "")
		token, _ := p1["nextPageToken"].(string)
		if n := len(dig(t, p1, "customers").([]any)); n != 3 || token == "" {
			t.Fatalf("page 1: %d customers, token %q; want 3 and a token", n, token)
		}
		p2 := must(t, "GET", d.url("/v1/customers?pageSize=3&pageToken="+url.QueryEscape(token)), "")
		if n := len(dig(t, p2, "customers").([]any)); n != 1 || p2["nextPageToken"] != "" {
			t.Errorf("page 2: %v; want 1 customer and no token", p2)
		}
		if got := dig(t, p2, "customers", 0, "customerId"); got != "shop-lindenhof" {
			t.Errorf("page 2 holds %v, want shop-lindenhof (ascending ids)", got)
		}

		// A window page token is bound to its filter.
		wp := must(t, "GET", d.url(`/v1/incidents/inc-2025-07-14-fra-b/windows?pageSize=1&filter=customer_id="shop-lindenhof"`), "")
		wtoken, _ := wp["nextPageToken"].(string)
		if wtoken == "" {
			t.Fatalf("no token after one of the shop's windows: %v", wp)
		}
		code, v = call(t, "GET", d.url(`/v1/incidents/inc-2025-07-14-fra-b/windows?pageSize=1&filter=customer_id="dc-polar"&pageToken=`+url.QueryEscape(wtoken)), "")
		wantError(t, "page token reused with another filter", code, v, http.StatusBadRequest, 3)
		code, v = call(t, "GET", d.url(`/v1/incidents/inc-2025-07-14-fra-b/windows?filter=title="x"`), "")
		wantError(t, "unsupported filter", code, v, http.StatusBadRequest, 3)

		// Contracts live under their customer; the id is the service.
		k := must(t, "GET", d.url("/v1/customers/bank-northwind/contracts/payments-api"), "")
		if k["name"] != "customers/bank-northwind/contracts/payments-api" || k["monthlyFee"] != "12345.67" {
			t.Errorf("contract: %v", k)
		}
	})
}

// The gRPC side serves the same resources (the gateway only forwards).
func TestStoredOverGRPC(t *testing.T) {
	d := start(t)
	client := impactv1.NewCustomerServiceClient(d.conn)
	ctx := context.Background()
	c, err := client.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{
		CustomerId: "c1", Customer: &impactv1.Customer{CurrencyCode: "JPY"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.GetName() != "customers/c1" || c.GetEtag() == "" || c.GetCreateTime() == nil {
		t.Errorf("created %v: want name, etag and create time", c)
	}
	// Without an update_mask, the populated fields are the mask (AIP-134).
	u, err := client.UpdateCustomer(ctx, &impactv1.UpdateCustomerRequest{
		Customer: &impactv1.Customer{Name: "customers/c1", DisplayName: "One"}})
	if err != nil {
		t.Fatal(err)
	}
	if u.GetDisplayName() != "One" || u.GetCurrencyCode() != "JPY" {
		t.Errorf("updated %v: want the display name changed and the currency kept", u)
	}
}
