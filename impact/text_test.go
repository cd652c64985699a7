package impact_test

import (
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

func TestCheckResourceID(t *testing.T) {
	for id, ok := range map[string]bool{
		"acme": true, "0": true, "a.b_c~d-e": true, "inc-2025-07-14-fra-b": true, strings.Repeat("x", 63): true,
		"": false, strings.Repeat("x", 64): false, "-a": false, ".": false, "..": false, "_a": false, "~a": false,
		"a b": false, "a/b": false, "a\x00b": false, "a\nb": false, "café": false, "a:b": false,
	} {
		if got := impact.CheckResourceID(id) == ""; got != ok {
			t.Errorf("CheckResourceID(%q) ok = %v, want %v (%s)", id, got, ok, impact.CheckResourceID(id))
		}
	}
}

func TestCheckRequestID(t *testing.T) {
	for id, ok := range map[string]bool{
		"": true, "r-1": true, "!~": true, strings.Repeat("k", 128): true, "a=b&c": true,
		strings.Repeat("k", 129): false, "a b": false, "a\x00": false, "a\tb": false, "é": false, "\x7f": false,
	} {
		if got := impact.CheckRequestID(id) == ""; got != ok {
			t.Errorf("CheckRequestID(%q) ok = %v, want %v", id, got, ok)
		}
	}
}

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		s        string
		freeText bool
		ok       bool
	}{
		{"Zed — naïve café", false, true},
		{"tab\tand\nnewline", true, true},
		{"tab\tand\nnewline", false, false},
		{"carriage\rreturn", true, false},
		{"nul\x00", true, false},
		{"esc\x1b", true, false},
		{"del\x7f", true, false},
		{"c1\u0085", true, false},
		{"bad utf-8 \xff", true, false},
	} {
		if got := impact.CheckText(tc.s, tc.freeText) == ""; got != tc.ok {
			t.Errorf("CheckText(%q, %v) ok = %v, want %v", tc.s, tc.freeText, got, tc.ok)
		}
	}
}

// The stateless engine refuses control characters in ids and text with a
// violation per field; free text may hold tab and newline.
func TestScenarioRefusesControlCharacters(t *testing.T) {
	start := ts("2025-07-01T00:00:00Z")
	s := &impact.Scenario{
		Customers: []impact.Customer{
			{ID: "c\x00", Currency: "USD"},
			{ID: "c2", Currency: "USD", DisplayName: "two\nlines\tok"},
			{ID: "c3", Currency: "USD", DisplayName: "bell\x07"},
		},
		Incidents: []impact.Incident{{ID: "i1", Title: "t\x00", Windows: []impact.OutageWindow{
			{CustomerID: "c2", Service: "api\n", Start: start, End: start.Add(time.Hour)},
		}}},
	}
	_, err := impact.EstimateScenario(s, impact.DefaultLimits())
	var got []string
	if e, ok := err.(*impact.Error); ok {
		for _, v := range e.Violations {
			got = append(got, v.Field)
		}
	}
	want := "customers[0].customer_id customers[2].display_name incidents[0].title incidents[0].windows[0].service"
	if strings.Join(got, " ") != want {
		t.Fatalf("violations on %v, want %s (%v)", got, want, err)
	}
}
