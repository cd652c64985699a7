package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impact-svc/impact/examples"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// seedStory stores examples/seed-outage.json through the gRPC API (with
// token, when not empty) and estimates its incident with USD reporting.
func seedStory(t testing.TB, d *impactd, token string) {
	t.Helper()
	seedStoryWith(t, d, token, nil)
}

// seedStoryWith is seedStory with the claim policy of each named
// customer's contracts set before the incidents are estimated (which
// creates the credit lines).
func seedStoryWith(t testing.TB, d *impactd, token string, policies map[string]*impactv1.ClaimPolicy) {
	t.Helper()
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(examples.SeedOutage, req); err != nil {
		t.Fatal(err)
	}
	sc := req.GetScenario()
	custs := impactv1.NewCustomerServiceClient(d.conn)
	contracts := impactv1.NewContractServiceClient(d.conn)
	incs := impactv1.NewIncidentServiceClient(d.conn)
	for _, c := range sc.GetCustomers() {
		ks := c.GetContracts()
		c.Contracts = nil
		if _, err := custs.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{CustomerId: c.GetCustomerId(), Customer: c}); err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if p := policies[c.GetCustomerId()]; p != nil {
				k.ClaimPolicy = p
			}
			if _, err := contracts.CreateContract(ctx, &impactv1.CreateContractRequest{Parent: "customers/" + c.GetCustomerId(), Contract: k}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, in := range sc.GetIncidents() {
		ws := in.GetWindows()
		in.Windows = nil
		if _, err := incs.CreateIncident(ctx, &impactv1.CreateIncidentRequest{IncidentId: in.GetIncidentId(), Incident: in}); err != nil {
			t.Fatal(err)
		}
		breq := &impactv1.BatchCreateIncidentWindowsRequest{Parent: "incidents/" + in.GetIncidentId()}
		for _, w := range ws {
			breq.Requests = append(breq.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: w})
		}
		if _, err := incs.BatchCreateIncidentWindows(ctx, breq); err != nil {
			t.Fatal(err)
		}
		if _, err := incs.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: "incidents/" + in.GetIncidentId(),
			ReportingCurrency: sc.GetReportingCurrency(), FxRates: sc.GetFxRates()}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImpactStatement: the seed's shop, whose contract excludes a
// maintenance window and counts only impact ≥ 0.5, gets its statement with
// the figures of the stored estimate and the SLA statement, and each
// exclusion in words.
func TestImpactStatement(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		seedStory(t, d, "")
		st := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/impactStatements/shop-lindenhof"), "")
		if st["name"] != "incidents/inc-2025-07-14-fra-b/impactStatements/shop-lindenhof" || st["cause"] != "POWER_FAILURE" ||
			st["customerTimeZone"] != "Europe/Berlin" {
			t.Errorf("header: %v", st)
		}
		// Windows 13:05–13:40 and 13:40–14:20 (0.4) of compute.
		svcs := st["services"].([]any)
		if len(svcs) != 1 || len(svcs[0].(map[string]any)["windows"].([]any)) != 2 {
			t.Errorf("services %v", svcs)
		}
		// The period's figures are the SLA statement's: 1800 s counted
		// (13:10–13:40), uptime 99.932796 %, EUR 240.00, all this incident's.
		sla := must(t, "GET", d.url("/v1/customers/shop-lindenhof/contracts/compute/statements/2025-07"), "")
		p := st["periods"].([]any)[0].(map[string]any)
		for _, f := range []struct{ got, want any }{
			{p["downtimeSeconds"], sla["downtimeSeconds"]}, {p["uptimePercent"], sla["uptimePercent"]},
			{p["creditAmount"], sla["creditAmount"]}, {p["incidentCredit"], sla["creditAmount"]},
			{p["downtimeSeconds"], "1800"}, {p["incidentDowntimeSeconds"], "1800"}, {p["period"], "2025-07"},
			{p["contractTimeZone"], "Europe/Berlin"}, {p["claimMode"], "AUTOMATIC"}, {p["claimDeadline"], nil},
		} {
			if !equalJSON(f.got, f.want) {
				t.Errorf("period: got %v, want %v", f.got, f.want)
			}
		}
		// Inclusive tiers of the seed: uptime 99.932796 ≤ 99.95 gives 10 %.
		if !strings.Contains(p["tier"].(string), "at or below 99.95 %: 10 % credit") {
			t.Errorf("tier %q", p["tier"])
		}
		// Maintenance 13:00–13:10 takes 300 s of the first window; the 0.4
		// window (2400 s) is below the 0.5 threshold.
		ex := st["exclusions"].([]any)
		if len(ex) != 2 || ex[0].(map[string]any)["reason"] != "MAINTENANCE_WINDOW" || ex[0].(map[string]any)["seconds"] != "300" ||
			ex[1].(map[string]any)["reason"] != "BELOW_DOWNTIME_THRESHOLD" || ex[1].(map[string]any)["seconds"] != "2400" {
			t.Errorf("exclusions %v", ex)
		}
		// The figures are the stored estimate's.
		est := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/estimate"), "")
		for _, c := range est["customers"].([]any) {
			if c.(map[string]any)["customerId"] == "shop-lindenhof" && !equalJSON(c, st["estimate"]) {
				t.Errorf("estimate %v, want %v", st["estimate"], c)
			}
		}
		sum := strings.Join(toStrings(st["summary"]), "\n")
		for _, want := range []string{"Power failure in Frankfurt zone B, caused by a power failure, affected compute from 14 July 2025 15:05:00 (Europe/Berlin)",
			"EUR 240.00", "300 seconds of the compute outage", "maintenance window",
			"credited to you without a claim once the billing period has ended (1 August 2025 00:00:00 (Europe/Berlin))"} {
			if !strings.Contains(sum, want) {
				t.Errorf("summary lacks %q:\n%s", want, sum)
			}
		}

		// ON_REQUEST: the claim window closes at local midnight 5 days
		// after the period's end in the contract's zone, 6 August 2025
		// 00:00 Berlin (CEST) = 05 Aug 22:00 UTC; by billing periods, the
		// end of the 2nd period after July: 1 October 2025 00:00 Berlin.
		for _, tc := range []struct{ policy, deadline, words string }{
			{`{"mode": "ON_REQUEST", "deadlineDays": 5}`, "2025-08-05T22:00:00Z", "before 6 August 2025 00:00:00 (Europe/Berlin), when the claim window closes"},
			{`{"mode": "ON_REQUEST", "deadlineBillingPeriods": 2}`, "2025-09-30T22:00:00Z", "before 1 October 2025 00:00:00 (Europe/Berlin), when the claim window closes"},
		} {
			must(t, "PATCH", d.url("/v1/customers/shop-lindenhof/contracts/compute"), `{"claimPolicy": `+tc.policy+`}`)
			st := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/impactStatements/shop-lindenhof"), "")
			p := st["periods"].([]any)[0].(map[string]any)
			if p["claimMode"] != "ON_REQUEST" || p["claimDeadline"] != tc.deadline {
				t.Errorf("%s: claim %v by %v, want ON_REQUEST by %s", tc.policy, p["claimMode"], p["claimDeadline"], tc.deadline)
			}
			if sum := strings.Join(toStrings(st["summary"]), "\n"); !strings.Contains(sum, "You must claim it: ask your account manager "+tc.words) {
				t.Errorf("%s: summary\n%s", tc.policy, sum)
			}
		}

		// A customer of the incident without exclusions, and the refusals.
		bank := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/impactStatements/bank-northwind"), "")
		if len(toAny(bank["exclusions"])) != 0 || bank["periods"].([]any)[0].(map[string]any)["incidentCredit"].(map[string]any)["amount"] != "1234.57" {
			t.Errorf("bank %v", bank)
		}
		code, v := call(t, "GET", d.url("/v1/incidents/nope/impactStatements/bank-northwind"), "")
		wantError(t, "missing incident", code, v, http.StatusNotFound, 5)
		code, v = call(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/impactStatements/nobody"), "")
		wantError(t, "missing customer", code, v, http.StatusNotFound, 5)
	})
}

func toAny(v any) []any {
	a, _ := v.([]any)
	return a
}

func toStrings(v any) []string {
	var out []string
	for _, s := range toAny(v) {
		out = append(out, s.(string))
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// TestListCustomerEstimates pages the seed's three customers sorted by a
// figure. In USD at the seed's rate EUR→USD 1.0837 (the seed's reporting
// totals give it): net lost revenue bank 16000.00 USD, polar 367.50 EUR
// = 398.26 USD, shop 167.06 EUR = 181.04 USD; descending: bank, polar,
// shop. By SLA credit: polar 13875.00 EUR = 15036.34 USD, bank 1234.57,
// shop 240.00 EUR = 260.09: polar, bank, shop.
func TestListCustomerEstimates(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		seedStory(t, d, "")
		ids := func(v map[string]any) string {
			var out []string
			for _, c := range toAny(v["customers"]) {
				out = append(out, c.(map[string]any)["customerId"].(string))
			}
			return strings.Join(out, ",")
		}
		base := d.url("/v1/incidents/inc-2025-07-14-fra-b/estimate/customers")
		for _, tc := range []struct{ order, want string }{
			{"", "bank-northwind,dc-polar,shop-lindenhof"},
			{"customer_id%20desc", "shop-lindenhof,dc-polar,bank-northwind"},
			{"lost_revenue_net%20desc", "bank-northwind,dc-polar,shop-lindenhof"},
			{"lost_revenue_net", "shop-lindenhof,dc-polar,bank-northwind"},
			{"sla_credits%20desc", "dc-polar,bank-northwind,shop-lindenhof"},
		} {
			var got []string
			url := base + "?pageSize=2&orderBy=" + tc.order
			first := must(t, "GET", url, "")
			got = append(got, ids(first))
			if first["totalSize"] != float64(3) || first["revision"] != "1" || first["startTime"] != "2025-07-14T13:05:00Z" ||
				first["reportingTotals"].(map[string]any)["slaCredits"] != "16538.05" {
				t.Errorf("header %v", first)
			}
			next := must(t, "GET", url+"&pageToken="+first["nextPageToken"].(string), "")
			got = append(got, ids(next))
			if next["nextPageToken"] != "" {
				t.Errorf("a third page: %v", next["nextPageToken"])
			}
			if g := strings.Join(got, ","); g != tc.want {
				t.Errorf("order %q: %s, want %s", tc.order, g, tc.want)
			}
			// A token only works with the order it came from.
			code, v := call(t, "GET", base+"?pageSize=2&orderBy=churn_exposure&pageToken="+first["nextPageToken"].(string), "")
			wantError(t, "token of another order", code, v, http.StatusBadRequest, 3)
		}
		code, v := call(t, "GET", base+"?orderBy=colour", "")
		wantError(t, "bad order", code, v, http.StatusBadRequest, 3)
		code, v = call(t, "GET", d.url("/v1/incidents/nope/estimate/customers"), "")
		wantError(t, "no estimate", code, v, http.StatusNotFound, 5)
	})
}
