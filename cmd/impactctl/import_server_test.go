package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const importToken = "import-test-token"

// startImpactd serves impactd's gRPC services, wired as cmd/impactd wires
// them (estimator, stored resources, an editor's token required), on a
// loopback port over the database dsn, and returns the address.
func startImpactd(t *testing.T, dsn string) string {
	t.Helper()
	db := openDB(t, dsn)
	tokens, err := server.ParseTokens("tokens", strings.NewReader(
		fmt.Sprintf("%x editor ops\n", sha256.Sum256([]byte(importToken)))))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, _ := server.NewGRPCServer(log, server.Security{Tokens: tokens}, server.NewEstimator(log), server.NewStored(log, db),
		server.NewExposure(log, db, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop) // before the database closes: cleanups run last first
	return ln.Addr().String()
}

func countWindows(t *testing.T, db *store.DB, incident string) int {
	t.Helper()
	ws, err := db.ListWindows(context.Background(), incident, impact.WindowFilter{}, impact.PageRequest{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(ws.Items)
}

func TestImportThroughServer(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn) // the windows go into the demo's incident
	addr := startImpactd(t, dsn)
	env := map[string]string{"IMPACTCTL_SERVER": addr, "IMPACTCTL_TOKEN": importToken}

	// Without the token the API refuses, and the failure says so.
	if r := impactctl(t, nil, "import", "customers", "../../examples/customers.csv", "--server", addr); r.code != exitFailure ||
		!strings.Contains(r.stderr, "Unauthenticated") {
		t.Errorf("no token: exit %d, stderr %q; want %d naming UNAUTHENTICATED", r.code, r.stderr, exitFailure)
	}

	for _, kind := range []string{"customers", "contracts", "windows"} {
		out := mustRun(t, env, "import", kind, "../../examples/"+kind+".csv")
		if want := "imported 2 " + kind + "\n"; out != want {
			t.Errorf("import %s: %q, want %q", kind, out, want)
		}
	}
	db := openDB(t, dsn)
	ctx := context.Background()
	c, err := db.GetCustomer(ctx, "ferry-nordlys")
	if err != nil {
		t.Fatal(err)
	}
	if c.Currency != "NOK" || c.TimeZone != "Europe/Oslo" || c.Baseline.RecaptureRate != "0.3" || c.ChurnProbability != "0.02" {
		t.Errorf("customer = %+v", c.Customer)
	}
	k, err := db.GetContract(ctx, "clinic-alba", "compute")
	if err != nil {
		t.Fatal(err)
	}
	if k.BillingPeriod != impact.Quarterly || len(k.Tiers) != 2 || !k.Tiers[1].Inclusive || k.MinCreditAmount != "5.00" {
		t.Errorf("contract = %+v", k.Contract)
	}
	w, err := db.GetWindow(ctx, "inc-2025-07-14-fra-b", "w-clinic-1")
	if err != nil {
		t.Fatal(err)
	}
	if w.ImpactFraction != "0.5" || w.CustomerID != "clinic-alba" {
		t.Errorf("window = %+v", w.OutageWindow)
	}
	if n := countWindows(t, db, "inc-2025-07-14-fra-b"); n != 7 {
		t.Errorf("%d windows, want the demo's 5 and the file's 2", n)
	}

	// The same files again: every row is found stored with its values and
	// nothing is written.
	for _, kind := range []string{"customers", "contracts", "windows"} {
		out := mustRun(t, env, "import", kind, "../../examples/"+kind+".csv")
		if want := "imported 0 " + kind + " (2 already present, skipped)\n"; out != want {
			t.Errorf("re-import %s: %q, want %q", kind, out, want)
		}
	}
	if n := countWindows(t, db, "inc-2025-07-14-fra-b"); n != 7 {
		t.Errorf("%d windows after the re-import, want 7", n)
	}

	// Windows without ids cannot be found again; the batch's request id,
	// derived from the file, is what keeps a re-run from storing them twice.
	anon := filepath.Join(t.TempDir(), "anon.csv")
	if err := os.WriteFile(anon, []byte("incident_id,customer_id,service,start_time,end_time\n"+
		"inc-2025-07-14-fra-b,ferry-nordlys,booking-api,2025-07-20T08:00:00Z,2025-07-20T08:10:00Z\n"+
		"inc-2025-07-14-fra-b,clinic-alba,compute,2025-07-20T08:00:00Z,2025-07-20T08:20:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, env, "import", "windows", anon)
	mustRun(t, env, "import", "windows", anon)
	if n := countWindows(t, db, "inc-2025-07-14-fra-b"); n != 9 {
		t.Errorf("%d windows after importing a file of 2 id-less windows twice, want 9", n)
	}
}

func TestImportThroughServerInvalidWritesNothing(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn)
	addr := startImpactd(t, dsn)
	env := map[string]string{"IMPACTCTL_TOKEN": importToken}

	file := filepath.Join(t.TempDir(), "customers.csv")
	csvText := "customer_id,currency_code,hourly_amount,churn_probability\n" +
		"good-1,EUR,10.00,\n" +
		"bad-1,EURO,10.00,0.5\n" + // row 3: currency
		"bank-northwind,USD,48000.00,\n" + // row 4: stored by the demo with other values
		"bad-2,USD,12.00,1.5\n" // row 5: probability
	if err := os.WriteFile(file, []byte(csvText), 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, env, "import", "customers", file, "--server", addr)
	if r.code != exitInvalid {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, exitInvalid, r.stderr)
	}
	for _, want := range []string{
		"row 3, column currency_code: ",
		`row 4, column customer_id: customer "bank-northwind" already exists with other values`,
		"row 5, column churn_probability: ",
		"nothing was changed",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "row 2") {
		t.Errorf("a valid row reported:\n%s", r.stderr)
	}
	if _, err := openDB(t, dsn).GetCustomer(context.Background(), "good-1"); impact.ErrorCode(err) != impact.ENOTFOUND {
		t.Errorf("the valid row of a refused file was written: %v", err)
	}

	// Windows naming what the server does not have are reported per row too.
	wfile := filepath.Join(t.TempDir(), "windows.csv")
	if err := os.WriteFile(wfile, []byte("incident_id,customer_id,service,start_time,end_time\n"+
		"inc-nope,bank-northwind,payments-api,2025-07-20T08:00:00Z,2025-07-20T08:10:00Z\n"+
		"inc-2025-07-14-fra-b,nobody,payments-api,2025-07-20T08:00:00Z,2025-07-20T07:10:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = impactctl(t, env, "import", "windows", wfile, "--server", addr)
	for _, want := range []string{
		`row 2, column incident_id: no incident "inc-nope"`,
		`row 3, column customer_id: no customer "nobody"`,
		"row 3, column end_time: must be after start_time",
	} {
		if r.code != exitInvalid || !strings.Contains(r.stderr, want) {
			t.Errorf("windows: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}
	if n := countWindows(t, openDB(t, dsn), "inc-2025-07-14-fra-b"); n != 5 {
		t.Errorf("%d windows, want the demo's 5", n)
	}
}
