package main

import (
	"encoding/csv"
	"strings"
	"testing"
)

// simulate on the demo story: the 4 h outage doubles Polar's quarterly
// credit (25 % → 50 %, the cap), the others stay in their tier; the same
// figures directly on --db and through impactd; every customer in --csv.
func TestSimulateCommand(t *testing.T) {
	dsn := tempDB(t)
	env := map[string]string{"IMPACTCTL_DB": dsn}
	mustRun(t, env, "demo")
	args := []string{"simulate", "--start", "2025-07-14T13:00:00Z", "--duration", "30m,4h", "--reporting-currency", "USD", "--fx-rate", "EUR:USD=1.08"}
	out := mustRun(t, env, args...)
	for _, want := range []string{
		"Outage of 4h0m0s from 2025-07-14T13:00:00Z: 3 contracts of 3 customers",
		"colo-power 2025-Q3: 13875.00 → 27750.00",
		// 13,875.00 EUR × 1.08 = 14,985.00 USD of marginal credit.
		"USD (reporting)  197459.40   81866.55  115592.85   72680.00        14985.00",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	local := mustRun(t, env, append(args, "--json")...)
	addr := startImpactd(t, dsn)
	remote := mustRun(t, map[string]string{"IMPACTCTL_SERVER": addr, "IMPACTCTL_TOKEN": importToken}, append(args, "--json")...)
	if local != remote {
		t.Errorf("--db and --server differ:\n%s\n%s", local, remote)
	}
	rows, err := csv.NewReader(strings.NewReader(mustRun(t, env, append(args, "--csv")...))).ReadAll()
	if err != nil || len(rows) != 1+2*3 || rows[0][1] != "customer_id" {
		t.Fatalf("csv: %v %v", err, rows)
	}
	r := impactctl(t, env, "simulate", "--duration", "0s,1h", "--top", "20000")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "durations[0]: must be at least one second") || !strings.Contains(r.stderr, "top_n:") {
		t.Errorf("bad input: exit %d, stderr %s", r.code, r.stderr)
	}
}
