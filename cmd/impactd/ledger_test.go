package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The credit ledger through impactd's wiring and the gateway, with the
// process clock started in July 2025 by --clock-start.
func TestLedgerEndToEnd(t *testing.T) {
	run := func(t *testing.T, db string) {
		d := start(t, "--db", db, "--clock-start", "2025-07-20T00:00:00Z")
		base := "http://" + d.addrs.HTTP + "/v1"
		must(t, "POST", base+"/customers?customerId=acme", `{"currencyCode": "USD"}`)
		code, v := call(t, "POST", base+"/customers/acme/contracts", `{"service": "bad", "claimPolicy":
			{"mode": "ON_REQUEST", "deadlineDays": 30, "deadlineBillingPeriods": 2}}`)
		wantError(t, "both deadline rules", code, v, http.StatusBadRequest, 3)
		if !strings.Contains(marshalAny(v), "contract.claimPolicy.deadlineBillingPeriods") {
			t.Errorf("violations %v", v)
		}
		k := must(t, "POST", base+"/customers/acme/contracts", `{"service": "api", "monthlyFee": "1000.00",
			"tiers": [{"uptimeBelow": "99.9", "creditPercent": "10"}], "claimPolicy": {"mode": "ON_REQUEST", "deadlineDays": 30}}`)
		if cp, _ := k["claimPolicy"].(map[string]any); cp["mode"] != "ON_REQUEST" || cp["deadlineDays"] != float64(30) {
			t.Fatalf("contract %v", k)
		}
		must(t, "POST", base+"/incidents?incidentId=inc-1", `{"cause": "POWER_FAILURE"}`)
		// 47 minutes in July: uptime 99.894… < 99.9 → 10 % of 1,000.00.
		must(t, "POST", base+"/incidents/inc-1/windows:batchCreate", `{"requests": [{"outageWindow": {"customerId": "acme",
			"service": "api", "startTime": "2025-07-14T13:05:00Z", "endTime": "2025-07-14T13:52:00Z"}}]}`)
		must(t, "POST", base+"/incidents/inc-1:estimate", `{}`)

		line := base + "/customers/acme/contracts/api/creditLines/2025-07"
		l := must(t, "GET", line, "")
		if l["state"] != "ACCRUING" || l["claimDeadline"] != "2025-08-31T00:00:00Z" || l["claimMode"] != "ON_REQUEST" ||
			amount(l["amount"]) != "USD 100.00" || !strings.Contains(marshalAny(l["entries"]), `"kind":"ACCRUAL"`) {
			t.Fatalf("line %v", l)
		}
		// A recompute job after the fee doubled moves the line: TRUE_UP.
		must(t, "PATCH", base+"/customers/acme/contracts/api", `{"monthlyFee": "2000.00"}`)
		job := must(t, "POST", base+"/recomputeJobs", `{}`)
		watchJob(t, impactv1.NewRecomputeServiceClient(d.conn), context.Background(), job["name"].(string))
		l = must(t, "GET", line, "")
		if amount(l["amount"]) != "USD 200.00" || !strings.Contains(marshalAny(l["entries"]),
			`{"accountingPeriod":"2025-07","currencyCode":"USD","delta":"100.00","deltaMinor":"10000","kind":"TRUE_UP"`) {
			t.Fatalf("after the recompute: %v", l)
		}
		// Over HTTP the policy is replaced whole: 2 billing periods → end
		// of September.
		must(t, "PATCH", base+"/customers/acme/contracts/api", `{"claimPolicy": {"mode": "ON_REQUEST", "deadlineBillingPeriods": 2}}`)
		if l = must(t, "GET", line, ""); l["claimDeadline"] != "2025-10-01T00:00:00Z" {
			t.Fatalf("after the policy change: %v", l)
		}
		code, v = call(t, "PATCH", base+"/customers/acme/contracts/api", `{"claimPolicy": {"mode": "ON_REQUEST"}}`)
		wantError(t, "ON_REQUEST without a rule", code, v, http.StatusBadRequest, 3)
		code, v = call(t, "POST", line+":claim", `{"etag": "\"r9\""}`)
		wantError(t, "stale etag", code, v, http.StatusConflict, 10)
		l = must(t, "POST", line+":claim", `{"reference": "mail 2025-07-20", "requestId": "c-1"}`)
		if l["state"] != "CLAIMED" || l["claimReference"] != "mail 2025-07-20" {
			t.Fatalf("claimed %v", l)
		}
		code, v = call(t, "POST", line+":issue", `{"issuedAmount": {"currencyCode": "USD", "amount": "100.00"}, "billingReference": "CN-1"}`)
		wantError(t, "issue before approval", code, v, http.StatusBadRequest, 9)
		must(t, "POST", line+":approve", `{}`)

		// The approved line is a credit note on the export stream.
		resp, err := http.Get(base + "/creditNotes:export")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"amountMinor":"20000"`) || strings.Count(string(body), "\n") != 1 {
			t.Errorf("export: %s", body)
		}

		for _, bad := range []struct{ body, field string }{
			{`{"issuedAmount": {"currencyCode": "EUR", "amount": "200.00"}, "billingReference": "CN-1"}`, "issuedAmount.currencyCode"},
			{`{"issuedAmount": {"currencyCode": "USD", "amount": "100.001"}, "billingReference": "CN-1"}`, "issuedAmount.amount"},
			{`{"issuedAmount": {"currencyCode": "USD", "amount": "100.00"}}`, "billingReference"},
		} {
			code, v := call(t, "POST", line+":issue", bad.body)
			wantError(t, bad.field, code, v, http.StatusBadRequest, 3)
			if !strings.Contains(marshalAny(v), `"field":"`+bad.field+`"`) {
				t.Errorf("%s: %v", bad.field, v)
			}
		}
		l = must(t, "POST", line+":issue", `{"issuedAmount": {"currencyCode": "USD", "amount": "200"}, "billingReference": "CN-1"}`)
		if l["state"] != "ISSUED" || amount(l["issuedAmount"]) != "USD 200.00" || amount(l["bookedAmount"]) != "USD 0.00" {
			t.Fatalf("issued %v", l)
		}

		list := must(t, "GET", base+"/customers/-/creditLines?filter="+url.QueryEscape("state = ISSUED"), "")
		if lines, _ := list["creditLines"].([]any); len(lines) != 1 {
			t.Errorf("ISSUED lines %v", list)
		}
		code, v = call(t, "GET", base+"/customers/-/creditLines?filter="+url.QueryEscape("state = LOST"), "")
		wantError(t, "unknown state", code, v, http.StatusBadRequest, 3)

		r := must(t, "GET", base+"/ledgerPeriods/2025-07/accrualReport?claimProbability=0.5", "")
		cur, _ := r["currencies"].([]any)
		if len(cur) != 1 || marshalAny(cur[0]) != `{"accruals":"100.00","approved":"0.00","automaticAccruing":"0.00",`+
			`"claimable":"0.00","claimed":"0.00","closing":"0.00","currencyCode":"USD","expectedLiability":"0.00",`+
			`"issued":"200.00","onRequestAccruing":"0.00","opening":"0.00","releases":"0.00","trueUps":"100.00"}` {
			t.Errorf("report %v", r)
		}
		code, v = call(t, "POST", base+"/ledgerPeriods/2025-07:close", `{}`)
		wantError(t, "close before the month ended", code, v, http.StatusBadRequest, 9)
		if p := must(t, "POST", base+"/ledgerPeriods/2025-06:close", `{}`); p["state"] != "CLOSED" {
			t.Errorf("closed June: %v", p)
		}
		if p := must(t, "GET", base+"/ledgerPeriods/2025-07", ""); p["state"] != "OPEN" {
			t.Errorf("July: %v", p)
		}
	}
	t.Run("sqlite", func(t *testing.T) { run(t, "sqlite:"+filepath.Join(t.TempDir(), "impact.db")) })
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		run(t, freshPostgres(t, dsn))
	})
}

func amount(v any) string {
	m, _ := v.(map[string]any)
	return m["currencyCode"].(string) + " " + m["amount"].(string)
}

func marshalAny(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}

func TestClockStartFlag(t *testing.T) {
	clock, err := newClock("2025-08-31T23:59:59Z", "")
	if err != nil {
		t.Fatal(err)
	}
	if got := clock(); got.Before(time.Date(2025, 8, 31, 23, 59, 59, 0, time.UTC)) || got.After(time.Date(2025, 9, 1, 0, 0, 59, 0, time.UTC)) {
		t.Errorf("clock %s", got)
	}
	if _, err := parseFlags([]string{"--clock-start", "yesterday"}, func(string) string { return "" }, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("bad --clock-start: %v", err)
	}
	file := filepath.Join(t.TempDir(), "now")
	os.WriteFile(file, []byte("2025-08-30T23:59:59Z\n"), 0o600)
	fc, err := newClock("", file)
	if err != nil {
		t.Fatal(err)
	}
	if got := fc(); got.Before(time.Date(2025, 8, 30, 23, 59, 59, 0, time.UTC)) || got.After(time.Date(2025, 8, 31, 0, 0, 59, 0, time.UTC)) {
		t.Errorf("file clock %s", got)
	}
	os.WriteFile(file, []byte("2026-01-01T00:00:00Z"), 0o600) // another size: re-read even within the mtime's granularity
	if got := fc(); got.Year() != 2026 {
		t.Errorf("file clock after the rewrite: %s", got)
	}
	if _, err := newClock("2025-01-01T00:00:00Z", file); err == nil {
		t.Error("both clock flags accepted")
	}
	if _, err := parseFlags([]string{"--ledger-zone", "Mars/Olympus"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("bad --ledger-zone accepted")
	}
}

var jsonMarshal = json.Marshal

// --clock-file moves impactd's time across a claim deadline without a
// restart; the expiry is booked at the first read after it.
func TestLedgerClockFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "now")
	if err := os.WriteFile(file, []byte("2025-08-30T23:59:00Z"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := start(t, "--clock-file", file)
	base := "http://" + d.addrs.HTTP + "/v1"
	must(t, "POST", base+"/customers?customerId=acme", `{"currencyCode": "JPY"}`)
	must(t, "POST", base+"/customers/acme/contracts", `{"service": "api", "monthlyFee": "100000",
		"tiers": [{"uptimeBelow": "99.9", "creditPercent": "10"}], "claimPolicy": {"mode": "ON_REQUEST", "deadlineDays": 30}}`)
	must(t, "POST", base+"/incidents?incidentId=inc-1", `{}`)
	must(t, "POST", base+"/incidents/inc-1/windows:batchCreate", `{"requests": [{"outageWindow": {"customerId": "acme",
		"service": "api", "startTime": "2025-07-14T13:05:00Z", "endTime": "2025-07-14T13:52:00Z"}}]}`)
	must(t, "POST", base+"/incidents/inc-1:estimate", `{}`)
	line := base + "/customers/acme/contracts/api/creditLines/2025-07"
	if l := must(t, "GET", line, ""); l["state"] != "CLAIMABLE" || amount(l["amount"]) != "JPY 10000" {
		t.Fatalf("before the deadline: %v", l)
	}
	if err := os.WriteFile(file, []byte("2025-09-02T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := must(t, "GET", line, "")
	if l["state"] != "EXPIRED" || amount(l["bookedAmount"]) != "JPY 0" ||
		!strings.Contains(marshalAny(l["entries"]), `"accountingPeriod":"2025-08","currencyCode":"JPY","delta":"-10000","deltaMinor":"-10000","kind":"RELEASE","time":"2025-08-31T00:00:00Z"`) {
		t.Fatalf("after the deadline: %v", l)
	}
	code, v := call(t, "POST", line+":claim", `{}`)
	wantError(t, "claim after the deadline", code, v, http.StatusBadRequest, 9)
	if !strings.Contains(marshalAny(v), "deadline 2025-08-31T00:00:00Z has passed") {
		t.Errorf("message %v", v)
	}
}
