package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The billing hand-off end to end on the demo story (three AUTOMATIC
// contracts whose July 2025 periods have ended: three APPROVED lines).
func TestCreditNotesExportAndIssue(t *testing.T) {
	dsn := tempDB(t)
	mustRun(t, nil, "demo", "--db", dsn)

	out := mustRun(t, nil, "export", "credit-notes", "--db", dsn)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || strings.Join(recs[0], ",") != strings.Join(creditNoteColumns, ",") {
		t.Fatalf("export:\n%s", out)
	}
	want := map[string][3]string{ // credit line → currency, amount, amount_minor
		"customers/bank-northwind/contracts/payments-api/creditLines/2025-07": {"USD", "1234.57", "123457"},
		"customers/dc-polar/contracts/colo-power/creditLines/2025-Q3":         {"EUR", "13875.00", "1387500"},
		"customers/shop-lindenhof/contracts/compute/creditLines/2025-07":      {"EUR", "240.00", "24000"},
	}
	for _, r := range recs[1:] {
		w, ok := want[r[1]]
		if !ok || r[5] != w[0] || r[6] != w[1] || r[7] != w[2] || !strings.HasPrefix(r[0], "impact-cn-") {
			t.Errorf("note %v", r)
		}
		if !strings.Contains(r[8], "inc-2025-07-14-fra-b "+w[1]+" "+w[0]) {
			t.Errorf("memo %q", r[8])
		}
	}
	// The same lines and amounts: the same bytes, keys included.
	if again := mustRun(t, nil, "export", "credit-notes", "--db", dsn); again != out {
		t.Errorf("a second export differs:\n%s\n%s", out, again)
	}
	var notes []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, nil, "export", "credit-notes", "--db", dsn, "--format", "json",
		"--filter", `customer_id = "bank-northwind"`)), &notes); err != nil || len(notes) != 1 ||
		notes[0]["amountMinor"] != "123457" || notes[0]["amount"] != "1234.57" || !strings.Contains(out, notes[0]["idempotencyKey"].(string)) {
		t.Fatalf("json notes %v %v", notes, err)
	}

	// Billing issued all three, the bank's 0.57 short.
	dir := t.TempDir()
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.Write(append(recs[0], "billing_reference"))
	for i, r := range recs[1:] {
		if r[2] == "bank-northwind" {
			r[6] = "1234.00"
		}
		cw.Write(append(r, "CN-"+string(rune('1'+i))))
	}
	cw.Flush()
	file := filepath.Join(dir, "issued.csv")
	os.WriteFile(file, []byte(b.String()), 0o600)
	got := mustRun(t, nil, "issue-credits", "--db", dsn, file)
	if !strings.Contains(got, "issued 3 credit line(s)") ||
		!strings.Contains(got, "customers/bank-northwind/contracts/payments-api/creditLines/2025-07: computed USD 1234.57, issued USD 1234.00") ||
		strings.Count(got, ": computed") != 1 {
		t.Errorf("issue-credits:\n%s", got)
	}
	db := openDB(t, dsn)
	var entries int
	db.SQL().Get(&entries, `SELECT COUNT(*) FROM ledger_entries`)
	// A re-run writes nothing twice.
	if again := mustRun(t, nil, "issue-credits", "--db", dsn, file); again != got {
		t.Errorf("re-run:\n%s", again)
	}
	var after int
	db.SQL().Get(&after, `SELECT COUNT(*) FROM ledger_entries`)
	if entries != 6 || after != entries {
		t.Errorf("entries %d then %d, want 3 accruals + 3 issues", entries, after)
	}
	// Issued lines are no longer notes.
	if out := mustRun(t, nil, "export", "credit-notes", "--db", dsn); strings.Count(out, "\n") != 1 {
		t.Errorf("export after issue:\n%s", out)
	}

	// Bad rows: nothing written, exit 3, one problem a line.
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("credit_line,amount,currency_code,billing_reference\n"+
		"customers/x/contracts/y/creditLines/2025-07,1.234,USD,CN-9\n"+
		"customers/x/creditLines/2025-07,1.00,USD,CN-9\n"+
		"customers/x/contracts/y/creditLines/2025-07,1.00,USD,\n"), 0o600)
	r := impactctl(t, nil, "issue-credits", "--db", dsn, bad)
	if r.code != exitInvalid || !strings.Contains(r.stderr, "row 2, column amount") ||
		!strings.Contains(r.stderr, "row 3, column credit_line") || !strings.Contains(r.stderr, "row 4, column billing_reference") {
		t.Errorf("bad file: exit %d\n%s", r.code, r.stderr)
	}
}
