package main

import (
	"strings"
	"testing"
)

func TestGuardCell(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"},
		{"+1+cmd", "'+1+cmd"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"'quoted", "''quoted"},
		{"-12.50", "-12.50"}, // a number, not a formula
		{"+7", "+7"},
		{"Acme", "Acme"},
		{"", ""},
	} {
		if got := guardCell(tc.in); got != tc.out {
			t.Errorf("guardCell(%q) = %q, want %q", tc.in, got, tc.out)
		}
		if back := unguardCell(guardCell(tc.in)); back != tc.in {
			t.Errorf("unguardCell(guardCell(%q)) = %q", tc.in, back)
		}
	}
	// A cell with an apostrophe that no guard wrote is kept.
	if got := unguardCell("'Acme"); got != "'Acme" {
		t.Errorf("unguardCell('Acme) = %q", got)
	}
}

// Formula-like names leave export guarded and come back from import as
// they were: export → import → export is the same bytes.
func TestExportGuardsFormulas(t *testing.T) {
	first := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	in := "customer_id,display_name,currency_code,hourly_amount\n" +
		`c1,"=HYPERLINK(""http://evil"",""x"")",EUR,1` + "\n" +
		"c2,@SUM(A1),EUR,1\n" +
		"c3,-1+2,USD,1\n" +
		"c4,'apostrophe,USD,1\n"
	mustRun(t, first, "import", "customers", writeFile(t, "c.csv", in))
	out := mustRun(t, first, "export", "customers")
	for _, want := range []string{`"'=HYPERLINK(""http://evil"",""x"")"`, ",'@SUM(A1),", ",'-1+2,", ",''apostrophe,"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
	second := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	mustRun(t, second, "import", "customers", writeFile(t, "e.csv", out))
	if again := mustRun(t, second, "export", "customers"); again != out {
		t.Errorf("export → import → export differs:\n%s\nwant:\n%s", again, out)
	}
	if j := mustRun(t, second, "export", "customers", "--format", "json"); !strings.Contains(j, `"displayName": "=HYPERLINK(`) &&
		!strings.Contains(j, `"displayName":"=HYPERLINK(`) {
		t.Errorf("the stored name is not the original:\n%s", j)
	}
}

func TestImportNamesTheDelimiter(t *testing.T) {
	env := map[string]string{"IMPACTCTL_DB": tripDB(t)}
	for _, tc := range []struct{ file, want string }{
		{"customer_id;currency_code\nc1;EUR\n", "semicolon-separated"},
		{"customer_id\tcurrency_code\nc1\tEUR\n", "tab-separated"},
	} {
		r := impactctl(t, env, "import", "customers", writeFile(t, "x.csv", tc.file))
		if r.code != exitInvalid || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("exit %d, stderr %q; want %d naming %q", r.code, r.stderr, exitInvalid, tc.want)
		}
	}
}
