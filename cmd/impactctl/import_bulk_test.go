package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// bulkEngines runs f on a fresh SQLite file and, with
// IMPACT_TEST_POSTGRES_DSN, on a fresh PostgreSQL database.
func bulkEngines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, tempDB(t)) })
	t.Run("postgres", func(t *testing.T) {
		admin := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if admin == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		f(t, pgDatabase(t, admin, ""))
	})
}

// customersCSV is n customers; bad(i) may replace row i's cells.
func customersCSV(t *testing.T, n int, bad func(i int, cells []string)) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("customer_id,currency_code,time_zone,hourly_amount,recapture_rate,labels\n")
	for i := range n {
		cells := []string{fmt.Sprintf("bulk-%06d", i), []string{"USD", "EUR", "JPY"}[i%3], "UTC",
			fmt.Sprintf("%d.%02d", 10+i%500, i%100), "0.2", fmt.Sprintf("region=r%d", i%7)}
		if cells[1] == "JPY" {
			cells[3] = fmt.Sprint(1000 + i%500)
		}
		if bad != nil {
			bad(i, cells)
		}
		b.WriteString(strings.Join(cells, ",") + "\n")
	}
	path := filepath.Join(t.TempDir(), "customers.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func contractsCSV(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("customer_id,service,monthly_fee,tiers,billing_period\n")
	for i := range n {
		fee := fmt.Sprintf("%d.00", 100+i%900)
		if i%3 == 2 {
			fee = fmt.Sprint(10000 + i%900) // JPY: no minor unit
		}
		fmt.Fprintf(&b, "bulk-%06d,api,%s,99.9:10;99:25,MONTHLY\n", i, fee)
	}
	path := filepath.Join(t.TempDir(), "contracts.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func count(t *testing.T, db *store.DB, query string) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImportBulk imports 10,000 customers and their contracts in chunks:
// one bad row far into the file writes nothing and is named, so is an id
// given twice in different chunks; the good file writes every row with
// its request id, and running it again writes nothing.
func TestImportBulk(t *testing.T) {
	const n = 10000
	bulkEngines(t, func(t *testing.T, dsn string) {
		env := map[string]string{"IMPACTCTL_DB": dsn}
		db := openDB(t, dsn)

		bad := customersCSV(t, n, func(i int, cells []string) {
			if i == 7500 { // line 7502
				cells[1] = "EURO"
			}
		})
		r := impactctl(t, env, "import", "customers", bad)
		if r.code != exitInvalid || !strings.Contains(r.stderr, "row 7502, column currency_code: ") || strings.Count(r.stderr, "row ") != 1 {
			t.Fatalf("one bad row: exit %d, stderr %q", r.code, r.stderr)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM customers"); got != 0 {
			t.Fatalf("a refused import wrote %d customers", got)
		}
		dup := customersCSV(t, n, func(i int, cells []string) {
			if i == 7321 { // line 7323, in another chunk than line 3
				cells[0] = "bulk-000001"
			}
		})
		r = impactctl(t, env, "import", "customers", dup)
		if r.code != exitInvalid || !strings.Contains(r.stderr, `row 7323, column customer_id: customer "bulk-000001" is also on row 3`) {
			t.Fatalf("an id twice: exit %d, stderr %q", r.code, r.stderr)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM customers"); got != 0 {
			t.Fatalf("a refused import wrote %d customers", got)
		}

		good := customersCSV(t, n, nil)
		if out := mustRun(t, env, "import", "customers", good); !strings.Contains(out, fmt.Sprintf("imported %d customers\n", n)) {
			t.Errorf("import: %q", out)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM customers"); got != n {
			t.Errorf("%d customers stored, want %d", got, n)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM request_ids WHERE method = 'CreateCustomer' AND request_id LIKE 'impactctl-import-customers-%-row-%'"); got != n {
			t.Errorf("%d request ids recorded, want one per row (%d)", got, n)
		}
		c, err := db.GetCustomer(context.Background(), "bulk-000002")
		if err != nil || c.Currency != "JPY" || c.Baseline.HourlyAmount != "1002" || c.Labels["region"] != "r2" || c.Etag == "" {
			t.Errorf("bulk-000002 = %+v, %v", c, err)
		}
		if out := mustRun(t, env, "import", "customers", good); !strings.Contains(out, fmt.Sprintf("imported 0 customers (%d already present, skipped)", n)) {
			t.Errorf("re-import: %q", out)
		}

		ks := contractsCSV(t, n)
		if out := mustRun(t, env, "import", "contracts", ks); !strings.Contains(out, fmt.Sprintf("imported %d contracts\n", n)) {
			t.Errorf("import contracts: %q", out)
		}
		k, err := db.GetContract(context.Background(), "bulk-000005", "api")
		if err != nil || k.MonthlyFee != "10005" || len(k.Tiers) != 2 || k.BillingPeriod != impact.Monthly {
			t.Errorf("contract = %+v, %v", k, err)
		}
		if out := mustRun(t, env, "import", "contracts", ks); !strings.Contains(out, fmt.Sprintf("imported 0 contracts (%d already present, skipped)", n)) {
			t.Errorf("re-import contracts: %q", out)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM contracts"); got != n {
			t.Errorf("%d contracts stored, want %d", got, n)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM audit_log WHERE action IN ('ImportCustomers', 'ImportContracts')"); got != 2*n/importChunk {
			t.Errorf("%d audit records of the bulk writes, want one per chunk (%d)", got, 2*n/importChunk)
		}
	})
}

// TestImportBulkMarksStale: a contract written by the bulk path changes
// its customer's fingerprint as CreateContract does, so a stored estimate
// of an incident affecting that customer becomes STALE, naming it.
func TestImportBulkMarksStale(t *testing.T) {
	bulkEngines(t, func(t *testing.T, dsn string) {
		env := map[string]string{"IMPACTCTL_DB": dsn}
		mustRun(t, env, "demo")
		fx := filepath.Join(t.TempDir(), "fx.csv")
		if err := os.WriteFile(fx, []byte("from_currency,to_currency,rate\nNOK,USD,0.098\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		mustRun(t, env, "import", "fx-rates", fx)
		mustRun(t, env, "import", "customers", "../../examples/customers.csv")
		mustRun(t, env, "import", "windows", "../../examples/windows.csv")
		mustRun(t, env, "recompute")
		db := openDB(t, dsn)
		ctx := context.Background()
		const inc = "inc-2025-07-14-fra-b"
		before, err := db.GetEstimate(ctx, inc, 0)
		if err != nil || before.State != impact.StateCurrent {
			t.Fatalf("before: %v, state %v", err, before)
		}
		mustRun(t, env, "import", "contracts", "../../examples/contracts.csv")
		after, err := db.GetEstimate(ctx, inc, 0)
		if err != nil {
			t.Fatal(err)
		}
		if after.State != impact.StateStale || !strings.Contains(strings.Join(after.StaleReasons, " "), "customers/clinic-alba/contracts/compute") {
			t.Errorf("after a bulk contract import: state %v, reasons %q; want STALE naming the contract", after.State, after.StaleReasons)
		}
		// Recomputed, it is CURRENT again, and a re-run of the import
		// (nothing written) leaves it so.
		mustRun(t, env, "recompute")
		mustRun(t, env, "import", "contracts", "../../examples/contracts.csv")
		if e, err := db.GetEstimate(ctx, inc, 0); err != nil || e.State != impact.StateCurrent {
			t.Errorf("after recompute and a no-op import: %v, state %v", err, e)
		}
	})
}

// TestImportSurvivesKill9 kills "impactctl import customers" of a big file
// with SIGKILL while it writes, then runs it again: every row is stored
// once, and a third run writes nothing.
func TestImportSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("a subprocess import of 30,000 rows")
	}
	const n = 30000
	bulkEngines(t, func(t *testing.T, dsn string) {
		file := customersCSV(t, n, nil)
		db := openDB(t, dsn)
		for _, delay := range []time.Duration{700 * time.Millisecond, 1500 * time.Millisecond} {
			cmd := exec.Command(os.Args[0], "import", "customers", "--db", dsn, file)
			cmd.Env = append(os.Environ(), "IMPACTCTL_TEST_AS_MAIN=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay)
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			got := count(t, db, "SELECT COUNT(*) FROM customers")
			if got%importChunk != 0 {
				t.Errorf("after kill -9: %d customers, not a whole number of chunks of %d: a chunk was half written", got, importChunk)
			}
			t.Logf("killed after %v: %d customers stored", delay, got)
		}
		r := impactctl(t, map[string]string{"IMPACTCTL_DB": dsn}, "import", "customers", file)
		if r.code != exitOK {
			t.Fatalf("re-run: exit %d, %s", r.code, r.stderr)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM customers"); got != n {
			t.Errorf("%d customers after the re-run, want %d", got, n)
		}
		if got := count(t, db, "SELECT COUNT(*) FROM request_ids WHERE method = 'CreateCustomer'"); got != n {
			t.Errorf("%d request ids, want %d (one per row, none twice)", got, n)
		}
		if out := mustRun(t, map[string]string{"IMPACTCTL_DB": dsn}, "import", "customers", file); !strings.Contains(out, "imported 0 customers") {
			t.Errorf("third run: %q", out)
		}
	})
}

// TestImportIncidents imports incidents with their recovery items: stored
// as CreateIncident stores them, a re-run skips them, a bad item names its
// row and writes nothing.
func TestImportIncidents(t *testing.T) {
	bulkEngines(t, func(t *testing.T, dsn string) {
		env := map[string]string{"IMPACTCTL_DB": dsn}
		mustRun(t, env, "import", "customers", "../../examples/customers.csv")
		dir := t.TempDir()
		file := filepath.Join(dir, "incidents.csv")
		good := "incident_id,title,cause,recovery_currency,allocation,recovery_items\n" +
			"inc-a,Region outage,POWER_FAILURE,USD,BY_IMPACT,labor:sre:3.5:142.17;expense:generator:2:180.00@clinic-alba\n" +
			"inc-b,,NETWORK_FAILURE,,,\n"
		if err := os.WriteFile(file, []byte(good+"inc-c,x,,USD,,labor:sre:1:abc\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := impactctl(t, env, "import", "incidents", file)
		if r.code != exitInvalid || !strings.Contains(r.stderr, "row 4, column recovery_items: ") || strings.Contains(r.stderr, "row 2") {
			t.Fatalf("bad item: exit %d, stderr %q", r.code, r.stderr)
		}
		db := openDB(t, dsn)
		if got := count(t, db, "SELECT COUNT(*) FROM incidents"); got != 0 {
			t.Fatalf("a refused import wrote %d incidents", got)
		}
		if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
			t.Fatal(err)
		}
		if out := mustRun(t, env, "import", "incidents", file); !strings.Contains(out, "imported 2 incidents") {
			t.Errorf("import: %q", out)
		}
		in, err := db.GetIncident(context.Background(), "inc-a")
		if err != nil || in.Cause != impact.PowerFailure || in.Allocation != impact.ByImpact || len(in.RecoveryItems) != 2 ||
			in.RecoveryItems[0].Labor == nil || in.RecoveryItems[0].Labor.HourlyRate != "142.17" ||
			in.RecoveryItems[1].Expense == nil || in.RecoveryItems[1].Expense.Quantity != "2" || in.RecoveryItems[1].CustomerID != "clinic-alba" {
			t.Errorf("inc-a = %+v, %v", in, err)
		}
		if out := mustRun(t, env, "import", "incidents", file); !strings.Contains(out, "imported 0 incidents (2 already present, skipped)") {
			t.Errorf("re-import: %q", out)
		}
	})
}
