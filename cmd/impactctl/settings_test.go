package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// TestOperatorFlow is the README's operator flow end to end: the demo, the
// example CSVs, their FX rates, a recompute — which ends green — and a
// second demo, which writes no revision.
func TestOperatorFlow(t *testing.T) {
	dsn := tempDB(t)
	ex := func(name string) string { return filepath.Join("..", "..", "examples", name) }
	mustRun(t, nil, "demo", "--db", dsn)
	mustRun(t, nil, "import", "customers", ex("customers.csv"), "--db", dsn)
	mustRun(t, nil, "import", "contracts", ex("contracts.csv"), "--db", dsn)
	mustRun(t, nil, "import", "windows", ex("windows.csv"), "--db", dsn)

	db := openDB(t, dsn)
	ctx := context.Background()
	// The new windows moved the demo incident's inputs.
	e, err := db.GetEstimate(ctx, "inc-2025-07-14-fra-b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != impact.StateStale || !strings.Contains(strings.Join(e.StaleReasons, " "), "incidents/inc-2025-07-14-fra-b/windows/w-") {
		t.Errorf("after importing windows: %s %v, want STALE naming the new windows", e.State, e.StaleReasons)
	}
	// Without a NOK rate the recompute cannot report the ferry in USD.
	if r := impactctl(t, nil, "recompute", "--db", dsn); r.code != exitFailure || !strings.Contains(r.stdout+r.stderr, "NOK") {
		t.Fatalf("recompute without a NOK rate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := mustRun(t, nil, "import", "fx-rates", ex("fx-rates.csv"), "--db", dsn)
	if !strings.Contains(out, `reporting currency "USD"`) {
		t.Errorf("import fx-rates: %s", out)
	}
	mustRun(t, nil, "recompute", "--db", dsn)
	e, err = db.GetEstimate(ctx, "inc-2025-07-14-fra-b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != impact.StateCurrent || e.Revision != 2 || len(e.Customers) != 5 || e.ReportingTotals == nil || e.ReportingCurrency != "USD" {
		t.Errorf("after the recompute: %s revision %d, %d customers, reporting %q", e.State, e.Revision, len(e.Customers), e.ReportingCurrency)
	}
	// The demo again: the same inputs, no revision 3.
	mustRun(t, nil, "demo", "--db", dsn)
	if e, err := db.GetEstimate(ctx, "inc-2025-07-14-fra-b", 0); err != nil || e.Revision != 2 || e.State != impact.StateCurrent {
		t.Errorf("demo after the recompute: %v revision %d %s", err, e.Revision, e.State)
	}
}

func TestSettingsCommand(t *testing.T) {
	dsn := tempDB(t)
	out := mustRun(t, nil, "settings", "set", "--db", dsn, "--currency", "eur", "--rate", "USD:EUR=0.92", "--rate", "GBP:EUR=1.17")
	if !strings.Contains(out, `"reportingCurrency": "EUR"`) || !strings.Contains(out, `"rate": "0.92"`) {
		t.Errorf("set: %s", out)
	}
	out = mustRun(t, nil, "settings", "set", "--db", dsn, "--rate", "USD:EUR=0.93")
	if !strings.Contains(out, `"rate": "0.93"`) || strings.Contains(out, `"rate": "0.92"`) || !strings.Contains(out, `"rate": "1.17"`) {
		t.Errorf("replacing one rate: %s", out)
	}
	if got := mustRun(t, nil, "settings", "get", "--db", dsn); got != out {
		t.Errorf("get %s, want what set printed %s", got, out)
	}
	if r := impactctl(t, nil, "settings", "set", "--db", dsn, "--rate", "USD:EUR=-1"); r.code == exitOK {
		t.Errorf("a negative rate: exit %d", r.code)
	}
	// A bad file: every problem, by row and column, nothing written.
	bad := filepath.Join(t.TempDir(), "fx.csv")
	if err := os.WriteFile(bad, []byte("from_currency,to_currency,rate\nNOK,USD,0.09\nnok1,USD,x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := impactctl(t, nil, "import", "fx-rates", bad, "--db", dsn)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "row 3, column from_currency") || !strings.Contains(r.stderr, "row 3, column rate") {
		t.Errorf("bad fx-rates file: exit %d\n%s", r.code, r.stderr)
	}
	if got := mustRun(t, nil, "settings", "get", "--db", dsn); got != out {
		t.Errorf("a bad file changed the settings: %s", got)
	}
}
