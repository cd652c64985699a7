package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// tripLoaded is a database holding the round-trip files of
// export_resources_test.go.
func tripLoaded(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	importAll(t, env, map[string]string{
		"customers": writeFile(t, "customers.csv", tripCustomers),
		"contracts": writeFile(t, "contracts.csv", tripContracts),
		"windows":   writeFile(t, "windows.csv", tripWindows),
	})
	return env
}

// edit applies each old → new replacement once, failing if one does not
// apply.
func edit(t *testing.T, text string, oldNew ...string) string {
	t.Helper()
	for i := 0; i < len(oldNew); i += 2 {
		next := strings.Replace(text, oldNew[i], oldNew[i+1], 1)
		if next == text {
			t.Fatalf("the edit %q → %q did not apply to:\n%s", oldNew[i], oldNew[i+1], text)
		}
		text = next
	}
	return text
}

// customerEdits change kaisha's hourly amount and acme's display name, and
// add a customer (in export's order, by id).
var customerEdits = []string{
	",JPY,Asia/Tokyo,1500,", ",JPY,Asia/Tokyo,1750,",
	`acme,"Acme, Inc. ""EU""",`, `acme,"Acme Europe, Inc.",`,
	"\nzed,", "\nnewco,New Co,EUR,,5.00,,,,region=eu-west-1\nzed,",
}

// updateRoundTrip is the spreadsheet round trip into the database the
// export came from, with env reaching it (--db or --server).
func updateRoundTrip(t *testing.T, env map[string]string) {
	t.Helper()
	exported := mustRun(t, env, "export", "customers")
	edited := edit(t, exported, customerEdits...)
	file := writeFile(t, "customers.csv", edited)
	out := mustRun(t, env, "import", "customers", file, "--update")
	if want := "imported customers: 1 created, 2 updated, 1 unchanged\n"; out != want {
		t.Errorf("import --update: %q, want %q", out, want)
	}
	if got := mustRun(t, env, "export", "customers"); got != edited {
		t.Errorf("export after import --update:\n%s\nwant the edited file:\n%s", got, edited)
	}
	// The same file again changes nothing.
	out = mustRun(t, env, "import", "customers", file, "--update")
	if want := "imported customers: 0 created, 0 updated, 4 unchanged\n"; out != want {
		t.Errorf("import --update again: %q, want %q", out, want)
	}

	// A contract's tiers.
	exported = mustRun(t, env, "export", "contracts")
	edited = edit(t, exported, `acme,batch.nightly,10.00,99:10,`, `acme,batch.nightly,10.00,99.5:15;99:25:inclusive,`)
	out = mustRun(t, env, "import", "contracts", writeFile(t, "contracts.csv", edited), "--update")
	if want := "imported contracts: 0 created, 1 updated, 2 unchanged\n"; out != want {
		t.Errorf("import contracts --update: %q, want %q", out, want)
	}
	if got := mustRun(t, env, "export", "contracts"); got != edited {
		t.Errorf("export after import contracts --update:\n%s\nwant the edited file:\n%s", got, edited)
	}
}

func TestImportUpdateRoundTrip(t *testing.T) {
	env := tripLoaded(t)
	updateRoundTrip(t, env)

	// The stored values, not only their export.
	db := openDB(t, env["IMPACTCTL_DB"])
	ctx := context.Background()
	c, err := db.GetCustomer(ctx, "kaisha")
	if err != nil {
		t.Fatal(err)
	}
	if c.Baseline.HourlyAmount != "1750" || c.Currency != "JPY" {
		t.Errorf("kaisha = %+v", c.Customer)
	}
	k, err := db.GetContract(ctx, "acme", "batch.nightly")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Tiers) != 2 || k.Tiers[0].UptimeBelow != "99.5" || k.Tiers[1].CreditPercent != "25" || !k.Tiers[1].Inclusive {
		t.Errorf("tiers = %+v", k.Tiers)
	}
}

func TestImportUpdateThroughServer(t *testing.T) {
	dsn := tripLoaded(t)["IMPACTCTL_DB"]
	addr := startImpactd(t, dsn)
	updateRoundTrip(t, map[string]string{"IMPACTCTL_SERVER": addr, "IMPACTCTL_TOKEN": importToken})
	c, err := openDB(t, dsn).GetCustomer(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if c.DisplayName != "Acme Europe, Inc." {
		t.Errorf("acme = %+v", c.Customer)
	}
}

// The update mask is the file's columns: those left out keep their values.
func TestImportUpdateOnlyTheFilesColumns(t *testing.T) {
	env := tripLoaded(t)
	env["IMPACTCTL_UPDATE"] = "true"
	file := writeFile(t, "customers.csv", "customer_id,currency_code,hourly_amount\n"+
		"acme,EUR,12345678901234567890.123456789012\n"+ // as stored
		"zed,USD,0.02\n")
	if out := mustRun(t, env, "import", "customers", file); out != "imported customers: 0 created, 1 updated, 1 unchanged\n" {
		t.Errorf("import: %q", out)
	}
	want := edit(t, wantCustomers, "zed,Zed — naïve café,USD,,0.01,", "zed,Zed — naïve café,USD,,0.02,")
	if got := mustRun(t, env, "export", "customers"); got != want {
		t.Errorf("export:\n%s\nwant:\n%s", got, want)
	}
}

func TestImportUpdateInvalidWritesNothing(t *testing.T) {
	env := tripLoaded(t)
	exported := mustRun(t, env, "export", "customers")
	file := writeFile(t, "customers.csv", edit(t, exported,
		",JPY,Asia/Tokyo,1500,", ",JPY,Asia/Tokyo,1750,", // valid
		"zed,Zed — naïve café,USD,,0.01,", "zed,Zed — naïve café,USD,,lots,", // row 5
	))
	r := impactctl(t, env, "import", "customers", file, "--update")
	if r.code != exitInvalid {
		t.Fatalf("exit %d, want %d; stderr %s", r.code, exitInvalid, r.stderr)
	}
	for _, want := range []string{"row 5, column hourly_amount: ", "nothing was changed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Count(r.stderr, "\n") != 2 {
		t.Errorf("want one problem:\n%s", r.stderr)
	}
	if got := mustRun(t, env, "export", "customers"); got != exported {
		t.Errorf("a refused import changed the export:\n%s", got)
	}

	// Contracts are checked by the engine too.
	exported = mustRun(t, env, "export", "contracts")
	file = writeFile(t, "contracts.csv", edit(t, exported, "kaisha,web,300000,", "kaisha,web,-5,"))
	r = impactctl(t, env, "import", "contracts", file, "--update")
	if r.code != exitInvalid || !strings.Contains(r.stderr, "row 4, column monthly_fee: ") {
		t.Errorf("contracts: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := mustRun(t, env, "export", "contracts"); got != exported {
		t.Errorf("a refused import changed the export:\n%s", got)
	}
}

func TestImportUpdateWindowsRefused(t *testing.T) {
	env := tripLoaded(t)
	exported := mustRun(t, env, "export", "windows")
	file := writeFile(t, "windows.csv", edit(t, exported, "13:45:30.123456Z,0.125", "13:45:30.123456Z,0.25"))
	r := impactctl(t, env, "import", "windows", file, "--update")
	want := `row 4, column window_id: window "w-1" of incident "inc-b" already exists with other values, and outage windows cannot be changed`
	if r.code != exitInvalid || !strings.Contains(r.stderr, want) ||
		!strings.Contains(r.stderr, "delete the window through the API (DeleteIncidentWindow, DELETE /v1/incidents/inc-b/windows/w-1) and import the file again") {
		t.Errorf("exit %d, stderr:\n%s\nwant %d and %q", r.code, r.stderr, exitInvalid, want)
	}
	if got := mustRun(t, env, "export", "windows"); got != exported {
		t.Errorf("a refused import changed the export:\n%s", got)
	}
	// Unchanged windows are still skipped.
	if out := mustRun(t, env, "import", "windows", writeFile(t, "same.csv", exported), "--update"); out != "imported windows: 0 created, 0 updated, 3 unchanged\n" {
		t.Errorf("unchanged windows: %q", out)
	}
}

// A resource changed between the import's check and its write is not
// overwritten: the write fails as ABORTED, naming the row, exit 1.
func TestImportUpdateConcurrentEditAborts(t *testing.T) {
	dsn := tripLoaded(t)["IMPACTCTL_DB"]
	addr := startImpactd(t, dsn)
	db := openDB(t, dsn)
	ctx := context.Background()

	data := []byte(edit(t, wantCustomers, ",JPY,Asia/Tokyo,1500,", ",JPY,Asia/Tokyo,1750,"))
	for _, via := range []string{"db", "server"} {
		t.Run(via, func(t *testing.T) {
			var stderr bytes.Buffer
			c := &cli{ctx: ctx, stdout: &bytes.Buffer{}, stderr: &stderr, getenv: func(string) string { return "" }}
			required, optional := splitColumns(customerColumns)
			tab, err := readTable(bytes.NewReader(data), required, optional)
			if err != nil {
				t.Fatal(err)
			}
			im := &importRun{cli: c, t: tab, kind: "customers", digest: via, present: map[int]bool{}, update: true, etags: map[int]string{}}
			if via == "db" {
				im.ctx, im.target = ctx, &dbTarget{db: db}
			} else {
				conn, cctx, err := dialServer(ctx, addr, importToken, "")
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				im.ctx, im.target = cctx, newAPITarget(addr, conn)
			}
			imp := &customerImport{}
			if err := imp.check(im); err != nil || len(im.problems) > 0 {
				t.Fatalf("check: %v %v", err, im.problems)
			}
			if len(im.etags) != 1 {
				t.Fatalf("rows to update: %v, want kaisha's", im.etags)
			}
			// Someone else edits kaisha in between.
			other := impact.Customer{ID: "kaisha", DisplayName: "edited by " + via}
			if _, err := db.UpdateCustomer(ctx, &other, impact.FieldMask{"display_name"}, ""); err != nil {
				t.Fatal(err)
			}
			_, err = imp.write(im)
			if impact.ErrorCode(err) != impact.EABORTED || !strings.Contains(err.Error(), "row 3: ") ||
				!strings.Contains(err.Error(), "ABORTED") || !strings.Contains(err.Error(), `customer "kaisha"`) {
				t.Errorf("write: %v; want ABORTED naming row 3 and kaisha", err)
			}
			if code := c.exit(err); code != exitFailure {
				t.Errorf("exit %d, want %d", code, exitFailure)
			}
			got, err := db.GetCustomer(ctx, "kaisha")
			if err != nil {
				t.Fatal(err)
			}
			if got.DisplayName != "edited by "+via || got.Baseline.HourlyAmount != "1500" {
				t.Errorf("the other edit was overwritten: %+v", got.Customer)
			}
		})
	}
}

func TestImportUpdateHelp(t *testing.T) {
	out := mustRun(t, nil, "import", "--help")
	for _, want := range []string{
		"--update", "IMPACTCTL_UPDATE",
		"impactctl export customers -o c.csv", "impactctl import customers c.csv --update",
		"created, updated and unchanged", "windows", "DeleteIncidentWindow",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import --help lacks %q", want)
		}
	}
	if out := mustRun(t, nil, "export", "--help"); !strings.Contains(out, "--update") {
		t.Errorf("export --help does not show the round trip with --update:\n%s", out)
	}
}

// Labels travel as "k=v;k=v": an edited cell updates them (the update mask
// is "labels"), a bad one is refused with its row and column.
func TestImportLabels(t *testing.T) {
	env := tripLoaded(t)
	exported := mustRun(t, env, "export", "customers")
	edited := edit(t, exported, "region=eu-west-1;tier=gold", "region=eu-central-1")
	mustRun(t, env, "import", "customers", writeFile(t, "c.csv", edited), "--update")
	c, err := openDB(t, env["IMPACTCTL_DB"]).GetCustomer(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Labels) != 1 || c.Labels["region"] != "eu-central-1" {
		t.Errorf("labels = %v", c.Labels)
	}
	for _, bad := range []string{"Region=eu", "region=EU West", "region", "a=1;a=2", "1abc=x"} {
		file := writeFile(t, "bad.csv", "customer_id,currency_code,hourly_amount,labels\nnew,EUR,1,"+bad+"\n")
		r := impactctl(t, env, "import", "customers", file)
		if r.code != exitInvalid || !strings.Contains(r.stderr, "row 2, column labels:") {
			t.Errorf("labels %q: exit %d, stderr %s", bad, r.code, r.stderr)
		}
	}
}
