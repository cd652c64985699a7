package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Import files with the values a spreadsheet round trip must keep: long
// decimals, quoted commas, quotes and newlines, non-ASCII, zones, tiers,
// enums in lower case, times with offsets and fractions, empty optional
// cells, columns in another order than export's, and a BOM.
const (
	tripCustomers = "\ufeffcurrency_code,customer_id,hourly_amount,display_name,time_zone,recapture_rate,lifetime_value,churn_probability,labels\n" +
		`EUR,acme,12345678901234567890.123456789012,"Acme, Inc. ""EU""",Europe/Berlin,0.25,,0.010, tier=gold; region=eu-west-1` + "\n" +
		`JPY,kaisha,1500,"Kaisha
(second line)",Asia/Tokyo,,99999999999999999999,,` + "\n" +
		`USD,zed,0.01,Zed — naïve café,,,,,empty=` + "\n"
	tripContracts = "customer_id,service,monthly_fee,tiers,billing_period,time_zone,credit_cap_percent,min_credit_amount,degradation,downtime_threshold,granularity,min_downtime_seconds,rounding,labels,claim_mode,claim_deadline_days,claim_deadline_billing_periods\n" +
		`acme,api,1234567890123.45,"99.999:5;99.9:10:inclusive;95:100",quarterly,America/New_York,50,0.01,THRESHOLD,0.5,MINUTES_FULL,120,HALF_EVEN,region=us-east-1,on_request,30,` + "\n" +
		`acme,"batch.nightly",10.00,99:10,,,,,,,,,,,,,` + "\n" +
		`kaisha,web,300000,99.95:10:inclusive,MONTHLY,,,,PROPORTIONAL,,seconds,,half_up,,ON_REQUEST,,2` + "\n"
	tripWindows = "incident_id,customer_id,service,start_time,end_time,impact_fraction,window_id\n" +
		"inc-b,acme,api,2025-07-14T15:05:00+02:00,2025-07-14T13:45:30.123456Z,0.125,w-1\n" +
		"inc-a,kaisha,web,2025-07-14T22:00:00+09:00,2025-07-14T14:00:00Z,,w-9\n" +
		"inc-a,zed,\"batch, nightly\",2025-12-31T23:59:59Z,2026-01-01T00:00:01Z,1,w-10\n"
)

// The canonical form: export's column order, amounts as stored, times in
// UTC, enums by their API names, defaults as empty cells (a default the
// file spelled out, THRESHOLD or MONTHLY, too: the API returns it filled
// in either way).
const (
	wantCustomers = "customer_id,display_name,currency_code,time_zone,hourly_amount,recapture_rate,lifetime_value,churn_probability,labels\n" +
		`acme,"Acme, Inc. ""EU""",EUR,Europe/Berlin,12345678901234567890.123456789012,0.25,,0.010,region=eu-west-1;tier=gold` + "\n" +
		`kaisha,"Kaisha
(second line)",JPY,Asia/Tokyo,1500,,99999999999999999999,,` + "\n" +
		"zed,Zed — naïve café,USD,,0.01,,,,empty=\n"
	wantContracts = "customer_id,service,monthly_fee,tiers,billing_period,time_zone,credit_cap_percent,min_credit_amount,degradation,downtime_threshold,granularity,min_downtime_seconds,rounding,labels,claim_mode,claim_deadline_days,claim_deadline_billing_periods\n" +
		`acme,api,1234567890123.45,99.999:5;99.9:10:inclusive;95:100,QUARTERLY,America/New_York,50,0.01,,0.5,MINUTES_FULL,120,,region=us-east-1,ON_REQUEST,30,` + "\n" +
		`acme,batch.nightly,10.00,99:10,,,,,,,,,,,,,` + "\n" +
		`kaisha,web,300000,99.95:10:inclusive,,,,,PROPORTIONAL,,,,HALF_UP,,ON_REQUEST,,2` + "\n"
	wantWindows = "incident_id,window_id,customer_id,service,start_time,end_time,impact_fraction\n" +
		"inc-a,w-10,zed,\"batch, nightly\",2025-12-31T23:59:59Z,2026-01-01T00:00:01Z,1\n" +
		"inc-a,w-9,kaisha,web,2025-07-14T13:00:00Z,2025-07-14T14:00:00Z,\n" +
		"inc-b,w-1,acme,api,2025-07-14T13:05:00Z,2025-07-14T13:45:30.123456Z,0.125\n"
)

var tripKinds = []string{"customers", "contracts", "windows"}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tripDB is a database with the incidents the windows go into: import
// cannot create incidents.
func tripDB(t *testing.T) string {
	t.Helper()
	dsn := tempDB(t)
	db := openDB(t, dsn)
	for _, id := range []string{"inc-a", "inc-b"} {
		if _, err := db.CreateIncident(context.Background(), &impact.Incident{ID: id}, ""); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

// importAll imports files[kind] in dependency order.
func importAll(t *testing.T, env map[string]string, files map[string]string) {
	t.Helper()
	for _, kind := range tripKinds {
		mustRun(t, env, "import", kind, files[kind])
	}
}

// exportAll exports every kind as CSV, failing on anything on stderr.
func exportAll(t *testing.T, env map[string]string, extra ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kind := range tripKinds {
		args := append([]string{"export", kind}, extra...)
		r := impactctl(t, env, args...)
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("impactctl %q: exit %d\nstderr: %s", args, r.code, r.stderr)
		}
		out[kind] = r.stdout
	}
	return out
}

func TestExportImportRoundTrip(t *testing.T) {
	first := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	importAll(t, first, map[string]string{
		"customers": writeFile(t, "customers.csv", tripCustomers),
		"contracts": writeFile(t, "contracts.csv", tripContracts),
		"windows":   writeFile(t, "windows.csv", tripWindows),
	})
	got := exportAll(t, first)
	for kind, want := range map[string]string{"customers": wantCustomers, "contracts": wantContracts, "windows": wantWindows} {
		if got[kind] != want {
			t.Errorf("export %s:\n%s\nwant:\n%s", kind, got[kind], want)
		}
	}

	// The export imports into a new database, whose export is the same
	// bytes.
	second := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	files := map[string]string{}
	for _, kind := range tripKinds {
		files[kind] = writeFile(t, kind+".csv", got[kind])
	}
	importAll(t, second, files)
	again := exportAll(t, second)
	for _, kind := range tripKinds {
		if again[kind] != got[kind] {
			t.Errorf("export %s after import of the export:\n%s\nfirst export:\n%s", kind, again[kind], got[kind])
		}
	}

	// Into the database it came from, the export is all "already present".
	for _, kind := range tripKinds {
		out := mustRun(t, first, "import", kind, files[kind])
		if want := "imported 0 " + kind + " (3 already present, skipped)\n"; out != want {
			t.Errorf("import of the export into its own database: %q, want %q", out, want)
		}
	}

	// --incident keeps one incident's windows; -o writes the same bytes to
	// a file and nothing to stdout.
	if out := mustRun(t, first, "export", "windows", "--incident", "inc-b"); out != "incident_id,window_id,customer_id,service,start_time,end_time,impact_fraction\n"+
		"inc-b,w-1,acme,api,2025-07-14T13:05:00Z,2025-07-14T13:45:30.123456Z,0.125\n" {
		t.Errorf("--incident inc-b:\n%s", out)
	}
	if r := impactctl(t, first, "export", "windows", "--incident", "inc-nope"); r.code != exitFailure {
		t.Errorf("--incident of a missing incident: exit %d, want %d; stderr %q", r.code, exitFailure, r.stderr)
	}
	outFile := filepath.Join(t.TempDir(), "contracts.csv")
	if out := mustRun(t, first, "export", "contracts", "-o", outFile); out != "" {
		t.Errorf("-o also wrote to stdout: %q", out)
	}
	if b, err := os.ReadFile(outFile); err != nil || string(b) != got["contracts"] {
		t.Errorf("-o file: %v\n%s", err, b)
	}
	if r := impactctl(t, first, "export", "contracts", "-o", filepath.Join(t.TempDir(), "no", "such", "dir.csv")); r.code != exitFailure {
		t.Errorf("-o into a missing directory: exit %d, want %d", r.code, exitFailure)
	}
}

func TestExportEditImport(t *testing.T) {
	first := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	importAll(t, first, map[string]string{
		"customers": writeFile(t, "customers.csv", tripCustomers),
		"contracts": writeFile(t, "contracts.csv", tripContracts),
		"windows":   writeFile(t, "windows.csv", tripWindows),
	})
	exported := mustRun(t, first, "export", "customers")
	edited := strings.Replace(exported, ",JPY,Asia/Tokyo,1500,", ",JPY,Asia/Tokyo,1750,", 1)
	if edited == exported {
		t.Fatal("the edit did not apply")
	}
	file := writeFile(t, "customers.csv", edited)

	// import creates and never updates: into the database the file came
	// from, the edited row conflicts and nothing changes.
	r := impactctl(t, first, "import", "customers", file)
	if r.code != exitInvalid || !strings.Contains(r.stderr, `row 3, column customer_id: customer "kaisha" already exists with other values`) {
		t.Errorf("edited import into the same database: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := mustRun(t, first, "export", "customers"); out != exported {
		t.Errorf("a refused import changed the export:\n%s", out)
	}

	// Into a new database the edited file is what the export shows.
	second := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	mustRun(t, second, "import", "customers", file)
	if out := mustRun(t, second, "export", "customers"); out != edited {
		t.Errorf("export after importing the edited file:\n%s\nwant:\n%s", out, edited)
	}
}

func TestExportJSON(t *testing.T) {
	env := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	importAll(t, env, map[string]string{
		"customers": writeFile(t, "customers.csv", tripCustomers),
		"contracts": writeFile(t, "contracts.csv", tripContracts),
		"windows":   writeFile(t, "windows.csv", tripWindows),
	})
	for kind, want := range map[string][]string{
		"customers": {"customers/acme", "customers/kaisha", "customers/zed"},
		"contracts": {"customers/acme/contracts/api", "customers/acme/contracts/batch.nightly", "customers/kaisha/contracts/web"},
		"windows":   {"incidents/inc-a/windows/w-10", "incidents/inc-a/windows/w-9", "incidents/inc-b/windows/w-1"},
	} {
		out := mustRun(t, env, "export", kind, "--format", "json")
		var arr []json.RawMessage
		if err := json.Unmarshal([]byte(out), &arr); err != nil {
			t.Fatalf("export %s --format json: %v\n%s", kind, err, out)
		}
		var names []string
		for _, raw := range arr {
			var m struct{ Name string }
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			names = append(names, m.Name)
		}
		if strings.Join(names, "|") != strings.Join(want, "|") {
			t.Errorf("export %s --format json: names %q, want %q", kind, names, want)
		}
	}
	var c impactv1.Customer
	out := mustRun(t, env, "export", "customers", "--format", "json")
	var arr []json.RawMessage
	_ = json.Unmarshal([]byte(out), &arr)
	if err := protojson.Unmarshal(arr[0], &c); err != nil || c.GetBaseline().GetHourlyAmount() != "12345678901234567890.123456789012" {
		t.Errorf("first customer: %v, %v", err, &c)
	}
	if out := mustRun(t, map[string]string{"IMPACTCTL_DB": tempDB(t)}, "export", "customers", "--format", "json"); out != "[]\n" {
		t.Errorf("empty export: %q, want []", out)
	}
}

// TestExportLossy: fields without a column are named on stderr, and the
// row is still written.
func TestExportLossy(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn)
	r := impactctl(t, nil, "export", "contracts", "--db", dsn)
	if r.code != exitOK || !strings.Contains(r.stdout, "\ndc-polar,colo-power,18500.00,") {
		t.Fatalf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	for _, want := range []string{
		`contract "colo-power" of customer "dc-polar": excluded_causes not exported`,
		`contract "compute" of customer "shop-lindenhof": exclude_maintenance, maintenance_windows not exported`,
		"2 contract row(s) lack fields",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = impactctl(t, nil, "export", "customers", "--db", dsn)
	if !strings.Contains(r.stderr, `customer "shop-lindenhof": baseline.seasonal_factors, baseline.weekly_profile not exported`) {
		t.Errorf("customers stderr:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "bank-northwind") {
		t.Errorf("a customer the CSV holds whole was reported:\n%s", r.stderr)
	}
}

// TestExportPages: more rows than one page, in order, none twice.
func TestExportPages(t *testing.T) {
	dsn := tempDB(t)
	db := openDB(t, dsn)
	ctx := context.Background()
	if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "c", Currency: "EUR", Baseline: impact.Baseline{HourlyAmount: "1"}}, ""); err != nil {
		t.Fatal(err)
	}
	const perIncident = 1234
	start := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, inc := range []string{"i1", "i2"} {
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: inc}, ""); err != nil {
			t.Fatal(err)
		}
		ws := make([]impact.StoredWindow, perIncident)
		for i := range ws {
			ws[i] = impact.StoredWindow{ID: fmt.Sprintf("w%05d", i), OutageWindow: impact.OutageWindow{
				CustomerID: "c", Service: "s", Start: start.Add(time.Duration(i) * time.Hour), End: start.Add(time.Duration(i)*time.Hour + time.Minute),
			}}
		}
		if _, err := db.BatchCreateWindows(ctx, inc, ws, ""); err != nil {
			t.Fatal(err)
		}
	}
	out := mustRun(t, nil, "export", "windows", "--db", dsn)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+2*perIncident {
		t.Fatalf("%d lines, want a header and %d windows", len(lines), 2*perIncident)
	}
	for i, l := range lines[1:] {
		want := fmt.Sprintf("i%d,w%05d,c,s,", i/perIncident+1, i%perIncident)
		if !strings.HasPrefix(l, want) {
			t.Fatalf("line %d = %q, want it to start with %q", i+2, l, want)
		}
	}
}

func TestExportThroughServer(t *testing.T) {
	dsn := tripDB(t)
	importAll(t, map[string]string{"IMPACTCTL_DB": dsn}, map[string]string{
		"customers": writeFile(t, "customers.csv", tripCustomers),
		"contracts": writeFile(t, "contracts.csv", tripContracts),
		"windows":   writeFile(t, "windows.csv", tripWindows),
	})
	addr := startImpactd(t, dsn)
	remote := exportAll(t, map[string]string{"IMPACTCTL_SERVER": addr, "IMPACTCTL_TOKEN": importToken})
	local := exportAll(t, map[string]string{"IMPACTCTL_DB": dsn})
	for _, kind := range tripKinds {
		if remote[kind] != local[kind] {
			t.Errorf("export %s --server:\n%s\n--db:\n%s", kind, remote[kind], local[kind])
		}
	}
	if r := impactctl(t, nil, "export", "customers", "--server", addr); r.code != exitFailure || !strings.Contains(r.stderr, "Unauthenticated") {
		t.Errorf("no token: exit %d, stderr %q", r.code, r.stderr)
	}
	out := mustRun(t, map[string]string{"IMPACTCTL_TOKEN": importToken}, "export", "windows", "--server", addr, "--format", "json")
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(out), &arr); err != nil || len(arr) != 3 {
		t.Errorf("windows --format json --server: %v, %d elements\n%s", err, len(arr), out)
	}
}

func TestExportUsage(t *testing.T) {
	dsn := tempDB(t)
	for _, args := range [][]string{
		{"export", "invoices"},
		{"export"},
		{"export", "customers", "contracts"},
		{"export", "customers", "--incident", "i1"},
		{"export", "windows", "--since", "2025-07-01T00:00:00Z"},
		{"export", "estimates", "--server", "127.0.0.1:1"},
		{"export", "customers", "--format", "xlsx"},
	} {
		if r := impactctl(t, nil, append(args, "--db", dsn)...); r.code != exitUsage || !strings.Contains(r.stderr, "impactctl export --help") {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, exitUsage, r.stderr)
		}
	}
	help := mustRun(t, nil, "export", "--help")
	for _, want := range []string{"customers|contracts|windows|estimates", "round trip", "-o FILE", "IMPACTCTL_SERVER"} {
		if !strings.Contains(help, want) {
			t.Errorf("export --help lacks %q", want)
		}
	}
}

// Every column of a kind has a cell: record fails otherwise, and a test
// that writes a row of each kind (above) would fail with it.
func TestExportColumnsAreImportColumns(t *testing.T) {
	for _, k := range []struct {
		kind  *resourceKind
		imp   importer
		cells map[string]string
	}{
		{&customerKind, &customerImport{}, customerCells(&impactv1.Customer{})},
		{&contractKind, &contractImport{}, contractCells("c", &impactv1.Contract{})},
	} {
		if _, err := k.kind.record(k.cells); err != nil {
			t.Error(err)
		}
		req, opt := k.imp.columns()
		if len(req)+len(opt) != len(k.kind.columns) {
			t.Errorf("%s: import reads %d columns, export writes %d", k.kind.noun, len(req)+len(opt), len(k.kind.columns))
		}
	}
}
