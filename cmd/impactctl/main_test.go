package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const seedFile = "../../examples/seed-outage.json"

type result struct {
	code           int
	stdout, stderr string
}

// impactctl runs the program in process with env as its whole environment.
func impactctl(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb,
		func(k string) string { return env[k] })
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := impactctl(t, env, args...)
	if r.code != exitOK {
		t.Fatalf("impactctl %q: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

func tempDB(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "impact.db")
}

func openDB(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func seedRequest(t *testing.T) *impactv1.EstimateRequest {
	t.Helper()
	data, err := os.ReadFile(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(data, req); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestEstimateJSONIsWhatTheAPIReturns(t *testing.T) {
	out := mustRun(t, nil, "estimate", seedFile, "--json")
	var got impactv1.EstimateResponse
	if err := protojson.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not an EstimateResponse: %v\n%s", err, out)
	}
	want, err := server.NewEstimator(slog.New(slog.DiscardHandler)).Estimate(context.Background(), seedRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, want) {
		t.Errorf("estimate --json differs from EstimatorService.Estimate:\ngot  %v\nwant %v", &got, want)
	}
	// The gateway's options: figures that are zero still appear.
	if !strings.Contains(out, `"belowMinimum":false`) && !strings.Contains(out, `"belowMinimum": false`) {
		t.Errorf("unpopulated fields are not emitted as the gateway does:\n%s", out)
	}
}

func TestEstimateTable(t *testing.T) {
	out := mustRun(t, nil, "estimate", seedFile)
	for _, want := range []string{
		"Incident inc-2025-07-14-fra-b",
		"USD 1234.57 (payments-api)", // the bank's credit
		"EUR 3985.50",                // dc-polar's recovery, its own UPS modules included
		"USD (reporting)",
		"SLA statements",
		"99.887993",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestEstimateInvalid(t *testing.T) {
	req := seedRequest(t)
	w := req.Scenario.Incidents[0].Windows[3]
	w.EndTime = w.StartTime // an empty window
	req.Scenario.Customers[0].CurrencyCode = "XXX1"
	data, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, nil, "estimate", bad)
	if r.code != exitInvalid {
		t.Fatalf("exit %d, want %d; stderr: %s", r.code, exitInvalid, r.stderr)
	}
	for _, want := range []string{
		"scenario.incidents[0].windows[3].end_time: must be after start_time",
		"scenario.customers[0].currency_code: ",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("an invalid scenario printed a result: %s", r.stdout)
	}

	// Unknown fields are errors, as in the API: a typo must not silently
	// drop a figure.
	typo := filepath.Join(t.TempDir(), "typo.json")
	if err := os.WriteFile(typo, []byte(`{"scenario": {"custmers": []}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := impactctl(t, nil, "estimate", typo); r.code != exitInvalid || !strings.Contains(r.stderr, "custmers") {
		t.Errorf("unknown field: exit %d, stderr %q; want %d naming the field", r.code, r.stderr, exitInvalid)
	}
	if r := impactctl(t, nil, "estimate", filepath.Join(t.TempDir(), "missing.json")); r.code != exitFailure {
		t.Errorf("missing file: exit %d, want %d", r.code, exitFailure)
	}
}

func TestEstimateThroughServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	impactv1.RegisterEstimatorServiceServer(srv, server.NewEstimator(slog.New(slog.DiscardHandler)))
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	// IMPACTCTL_SERVER selects the remote path; its answer is the offline one.
	env := map[string]string{"IMPACTCTL_SERVER": ln.Addr().String()}
	remote := mustRun(t, env, "estimate", seedFile, "--json")
	offline := mustRun(t, nil, "estimate", seedFile, "--json")
	var a, b impactv1.EstimateResponse
	if err := protojson.Unmarshal([]byte(remote), &a); err != nil {
		t.Fatal(err)
	}
	if err := protojson.Unmarshal([]byte(offline), &b); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&a, &b) {
		t.Errorf("--server answer differs from the offline one:\n%s\n%s", remote, offline)
	}

	// The server's violations come back as lines and exit 3 too.
	req := seedRequest(t)
	req.Scenario.Incidents[0].Windows[0].EndTime = req.Scenario.Incidents[0].Windows[0].StartTime
	data, _ := protojson.Marshal(req)
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, env, "estimate", bad)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "scenario.incidents[0].windows[0].end_time") {
		t.Errorf("remote invalid: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestDemo(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn)
	// A second run is a retry for the store: no conflict, no duplicates.
	mustRun(t, nil, "demo", "--db", dsn)

	db := openDB(t, dsn)
	ctx := context.Background()
	page, err := db.ListCustomers(ctx, impact.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range page.Items {
		ids = append(ids, c.ID)
	}
	if got, want := strings.Join(ids, ","), "bank-northwind,dc-polar,shop-lindenhof"; got != want {
		t.Errorf("customers %s, want %s", got, want)
	}
	k, err := db.GetContract(ctx, "bank-northwind", "payments-api")
	if err != nil {
		t.Fatal(err)
	}
	if k.MonthlyFee != "12345.67" || len(k.Tiers) != 3 {
		t.Errorf("bank contract = fee %s, %d tiers", k.MonthlyFee, len(k.Tiers))
	}
	ws, err := db.ListWindows(ctx, "inc-2025-07-14-fra-b", impact.WindowFilter{}, impact.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ws.Items) != 5 {
		t.Errorf("%d windows, want 5", len(ws.Items))
	}
	// The stored estimate is the stateless one's figure for figure: the
	// bank's credit is the example's USD 1234.57.
	e, err := db.GetEstimate(ctx, "inc-2025-07-14-fra-b", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Run twice, the same inputs: no empty revision 2.
	if e.Revision != 1 || e.State != impact.StateCurrent || e.ReportingCurrency != "USD" {
		t.Errorf("revision %d %s in %q, want 1 CURRENT in USD (the second run writes no revision)", e.Revision, e.State, e.ReportingCurrency)
	}
	var credit string
	for _, c := range e.Customers {
		if c.CustomerID == "bank-northwind" && len(c.SLACredits) == 1 {
			credit = c.SLACredits[0].Credit.String()
		}
	}
	if credit != "1234.57" {
		t.Errorf("bank credit %q, want 1234.57", credit)
	}
	if e.ReportingTotals == nil || e.ReportingTotals.Currency != "USD" {
		t.Errorf("reporting totals %+v, want USD from the example's fx rate", e.ReportingTotals)
	}
}

func TestImport(t *testing.T) {
	dsn := tempDB(t)
	env := map[string]string{"IMPACTCTL_DB": dsn}
	mustRun(t, env, "demo") // the windows go into the demo's incident
	for _, kind := range []string{"customers", "contracts", "windows"} {
		out := mustRun(t, env, "import", kind, "../../examples/"+kind+".csv")
		if want := "imported 2 " + kind; !strings.Contains(out, want) {
			t.Errorf("import %s: %q, want %q", kind, out, want)
		}
	}
	db := openDB(t, dsn)
	ctx := context.Background()
	c, err := db.GetCustomer(ctx, "ferry-nordlys")
	if err != nil {
		t.Fatal(err)
	}
	if c.Currency != "NOK" || c.Baseline.HourlyAmount != "5200.00" || c.Baseline.RecaptureRate != "0.3" {
		t.Errorf("customer = %+v", c.Customer)
	}
	k, err := db.GetContract(ctx, "clinic-alba", "compute")
	if err != nil {
		t.Fatal(err)
	}
	if k.BillingPeriod != impact.Quarterly || len(k.Tiers) != 2 || !k.Tiers[1].Inclusive || k.Tiers[1].CreditPercent != "30" {
		t.Errorf("contract = %+v", k.Contract)
	}
	w, err := db.GetWindow(ctx, "inc-2025-07-14-fra-b", "w-clinic-1")
	if err != nil {
		t.Fatal(err)
	}
	if w.ImpactFraction != "0.5" || !w.End.Equal(time.Date(2025, 7, 14, 14, 5, 0, 0, time.UTC)) {
		t.Errorf("window = %+v", w.OutageWindow)
	}

	// Importing the same files again finds every row stored with the same
	// values: nothing is written, nothing conflicts.
	for _, kind := range []string{"customers", "contracts", "windows"} {
		out := mustRun(t, env, "import", kind, "../../examples/"+kind+".csv")
		if want := "imported 0 " + kind + " (2 already present, skipped)"; !strings.Contains(out, want) {
			t.Errorf("re-import %s: %q, want %q", kind, out, want)
		}
	}
	if ws, err := db.ListWindows(ctx, "inc-2025-07-14-fra-b", impact.WindowFilter{}, impact.PageRequest{}); err != nil || len(ws.Items) != 7 {
		t.Errorf("after the re-import: %v, windows %v; want the demo's 5 and the file's 2", err, ws)
	}

	// The same ids with other values conflict, and nothing is written.
	changed := filepath.Join(t.TempDir(), "windows.csv")
	if err := os.WriteFile(changed, []byte("incident_id,window_id,customer_id,service,start_time,end_time\n"+
		"inc-2025-07-14-fra-b,w-new,clinic-alba,compute,2025-07-15T10:00:00Z,2025-07-15T10:30:00Z\n"+
		"inc-2025-07-14-fra-b,w-clinic-1,clinic-alba,compute,2025-07-14T13:05:00Z,2025-07-14T14:15:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, env, "import", "windows", changed)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "row 3, column window_id: window \"w-clinic-1\" of incident \"inc-2025-07-14-fra-b\" already exists with other values") {
		t.Errorf("changed re-import: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := db.GetWindow(ctx, "inc-2025-07-14-fra-b", "w-new"); impact.ErrorCode(err) != impact.ENOTFOUND {
		t.Errorf("a refused import wrote its valid row: %v", err)
	}
}

func TestImportInvalidWritesNothing(t *testing.T) {
	dsn := tempDB(t)
	file := filepath.Join(t.TempDir(), "customers.csv")
	csvText := "customer_id,currency_code,hourly_amount,churn_probability\n" +
		"good-1,EUR,10.00,\n" +
		"bad-1,EURO,10.00,0.5\n" + // row 3: currency
		"good-2,USD,20.00,0.1\n" +
		"bad-2,USD,12.00,1.5\n" // row 5: probability
	if err := os.WriteFile(file, []byte(csvText), 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, nil, "import", "customers", file, "--db", dsn)
	if r.code != exitInvalid {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, exitInvalid, r.stderr)
	}
	for _, want := range []string{"row 3, column currency_code: ", "row 5, column churn_probability: "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "row 2") || strings.Contains(r.stderr, "row 4") {
		t.Errorf("valid rows reported:\n%s", r.stderr)
	}
	page, err := openDB(t, dsn).ListCustomers(context.Background(), impact.PageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 0 {
		t.Errorf("%d customers written by a failed import, want none", len(page.Items))
	}

	// Header problems are invalid input too, before anything else.
	if err := os.WriteFile(file, []byte("customer_id,currency,hourly_amount\nx,EUR,1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = impactctl(t, nil, "import", "customers", file, "--db", dsn)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "row 1, column currency: unknown column") ||
		!strings.Contains(r.stderr, "row 1, column currency_code: required column is missing") {
		t.Errorf("bad header: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestExport(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn)

	out := mustRun(t, nil, "export", "estimates", "--db", dsn, "--format", "csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("%d CSV records, want a header and 3 customers:\n%s", len(recs), out)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	bank := recs[1]
	for name, want := range map[string]string{
		"customer_id": "bank-northwind", "currency_code": "USD", "sla_credits": "1234.57",
		"lost_revenue_gross": "40000.00", "recovery_cost": "541.83", "recovery_currency_code": "EUR", "revision": "1",
	} {
		if got := bank[col[name]]; got != want {
			t.Errorf("bank %s = %q, want %q", name, got, want)
		}
	}

	out = mustRun(t, map[string]string{"IMPACTCTL_FORMAT": "json", "IMPACTCTL_DB": dsn}, "export", "estimates")
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 1 {
		t.Fatalf("JSON export: %v, %d elements:\n%s", err, len(arr), out)
	}
	var ie impactv1.IncidentEstimate
	if err := protojson.Unmarshal(arr[0], &ie); err != nil {
		t.Fatal(err)
	}
	if ie.GetName() != "incidents/inc-2025-07-14-fra-b/estimate" || ie.GetRevision() != 1 || len(ie.GetCustomers()) != 3 {
		t.Errorf("exported estimate = %v", &ie)
	}

	// --computed-since after the estimate keeps nothing; the flag wins over the env.
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	out = mustRun(t, map[string]string{"IMPACTCTL_FORMAT": "csv"}, "export", "estimates", "--db", dsn,
		"--format", "json", "--computed-since", future)
	if strings.TrimSpace(out) != "[]" {
		t.Errorf("--computed-since %s kept %q, want []", future, out)
	}
	if r := impactctl(t, nil, "export", "estimates", "--db", dsn, "--computed-until", "yesterday"); r.code != exitUsage {
		t.Errorf("bad --computed-until: exit %d, want %d", r.code, exitUsage)
	}
	// The old flags are refused, naming the two new ones.
	if r := impactctl(t, nil, "export", "estimates", "--db", dsn, "--since", future); r.code != exitUsage ||
		!strings.Contains(r.stderr, "--computed-since") || !strings.Contains(r.stderr, "--outage-since") {
		t.Errorf("--since: exit %d, stderr %q", r.code, r.stderr)
	}
	// The demo's outage is on 2025-07-14 (13:05 to 14:35).
	for _, c := range []struct {
		args []string
		rows int
	}{
		{[]string{"--outage-since", "2025-07-14T14:00:00Z"}, 3},
		{[]string{"--outage-since", "2025-07-15T00:00:00Z"}, 0},
		{[]string{"--outage-until", "2025-07-14T13:00:00Z"}, 0},
		{[]string{"--outage-since", "2025-07-01T00:00:00Z", "--outage-until", "2025-08-01T00:00:00Z"}, 3},
	} {
		out := mustRun(t, nil, append([]string{"export", "estimates", "--db", dsn}, c.args...)...)
		if got := strings.Count(out, "\n") - 1; got != c.rows {
			t.Errorf("%q: %d rows, want %d:\n%s", c.args, got, c.rows, out)
		}
	}
	// --billing-period keeps the credits of periods starting in that month
	// only: the outage's July periods (monthly and quarterly) have them all.
	july := mustRun(t, nil, "export", "estimates", "--db", dsn, "--billing-period", "2025-07")
	if all := mustRun(t, nil, "export", "estimates", "--db", dsn); strings.Count(july, "\n") < 2 || july != all {
		t.Errorf("--billing-period 2025-07:\n%s\nwant the unfiltered export of credits that all fall in July:\n%s", july, all)
	}
	if aug := mustRun(t, nil, "export", "estimates", "--db", dsn, "--billing-period", "2025-08"); strings.Count(aug, "\n") != 1 {
		t.Errorf("--billing-period 2025-08 kept rows:\n%s", aug)
	}
}

func TestUsage(t *testing.T) {
	for _, c := range commands {
		r := impactctl(t, nil, c.name, "--help")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: impactctl "+c.name) || !strings.Contains(r.stdout, "IMPACTCTL_") {
			t.Errorf("%s --help: exit %d, stdout %q", c.name, r.code, r.stdout)
		}
	}
	if r := impactctl(t, nil, "--help"); r.code != exitOK || !strings.Contains(r.stdout, "Exit codes") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := impactctl(t, nil, "help", "export"); r.code != exitOK || !strings.HasPrefix(r.stdout, "Usage: impactctl export") {
		t.Errorf("help export: exit %d, stdout %q", r.code, r.stdout)
	}
	for _, args := range [][]string{
		{"frobnicate"},
		{},
		{"estimate"},                             // missing FILE
		{"estimate", seedFile, "--no-such-flag"}, // unknown flag
		{"import", "invoices", "x.csv"},          // unknown kind
		{"export", "estimates", "--format", "xml"}, // unknown format
	} {
		if r := impactctl(t, nil, args...); r.code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, exitUsage, r.stderr)
		}
	}
	if r := impactctl(t, map[string]string{"IMPACTCTL_JSON": "maybe"}, "estimate", seedFile); r.code != exitUsage ||
		!strings.Contains(r.stderr, "IMPACTCTL_JSON") {
		t.Errorf("bad boolean env: exit %d, stderr %q", r.code, r.stderr)
	}
}
