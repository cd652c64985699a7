package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAudit(t *testing.T) {
	dsn := tempDB(t)
	env := map[string]string{"IMPACTCTL_DB": dsn}
	mustRun(t, env, "import", "customers", writeFile(t, "c.csv", "customer_id,display_name,currency_code,hourly_amount\nc1,Old,EUR,1\n"))
	mustRun(t, env, "import", "customers", "--update", writeFile(t, "c2.csv", "customer_id,display_name,currency_code,hourly_amount\nc1,New,EUR,1\n"))

	out := mustRun(t, env, "audit", "--values")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The import's create is one record per chunk (store.BulkCreateCustomers),
	// naming each customer it wrote.
	if len(lines) != 1+2*3 || !strings.Contains(lines[1], "UpdateCustomer") || !strings.Contains(lines[4], "ImportCustomers") ||
		!strings.Contains(lines[4], "1 customers: customers/c1") {
		t.Fatalf("audit --values:\n%s", out)
	}
	if !strings.Contains(lines[2], `"display_name":"Old"`) || !strings.Contains(lines[3], `"display_name":"New"`) {
		t.Errorf("before/after of the update:\n%s", out)
	}
	js := mustRun(t, env, "audit", "--json", "--limit", "1")
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &rec); err != nil || rec["action"] != "UpdateCustomer" || rec["name"] == "" {
		t.Errorf("audit --json --limit 1: %v %s", err, js)
	}
	if r := impactctl(t, env, "audit", "--limit", "x"); r.code != exitUsage {
		t.Errorf("--limit x: exit %d", r.code)
	}
}
