package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Hostile data, end to end against the real impactd: deadlines reach the
// engine, what is validated is what is stored, request ids are bound to
// their request, ids and text refuse control characters, etags are opaque.

// callLine waits up to wait for the access line of method and returns
// its code and time in ms.
func callLine(t *testing.T, logs *syncBuffer, method string, wait time.Duration) (string, float64) {
	t.Helper()
	for deadline := time.Now().Add(wait); ; {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) != nil || line["msg"] != "finished call" || line["grpc.method"] != method {
				continue
			}
			var ms float64
			switch v := line["grpc.time_ms"].(type) {
			case float64:
				ms = v
			case string:
				ms, _ = strconv.ParseFloat(v, 64)
			}
			return fmt.Sprint(line["grpc.code"]), ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access line for %s after %v:\n%s", method, wait, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fractionsRequest is the 14 MB Estimate of the attack: 100,000 windows,
// each with its own impact fraction (it ran 174 s and answered 200).
func fractionsRequest(t *testing.T, n int) *impactv1.EstimateRequest {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"scenario": {"customers": [{"customerId": "c1", "currencyCode": "USD", "baseline": {"hourlyAmount": "3600"},
		"contracts": [{"service": "api", "monthlyFee": "1000", "tiers": [{"uptimeBelow": "99.9", "creditPercent": "10"}], "degradation": "PROPORTIONAL"}]}],
		"incidents": [{"incidentId": "inc-1", "windows": [`)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		st := base.Add(time.Duration(i) * 20 * time.Minute)
		fmt.Fprintf(&b, `{"customerId": "c1", "service": "api", "startTime": %q, "endTime": %q, "impactFraction": "0.%06d"}`,
			st.Format(time.RFC3339), st.Add(10*time.Minute).Format(time.RFC3339), i+1)
	}
	b.WriteString(`]}]}}`)
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal([]byte(b.String()), req); err != nil {
		t.Fatal(err)
	}
	return req
}

// The server's --call-timeout reaches the engine: the 100,000-fractions
// Estimate answers DEADLINE_EXCEEDED within the timeout + 100 ms (as the
// access log times the handler), the log says DeadlineExceeded, and the
// service answers a normal Estimate right after.
func TestCallTimeoutStopsTheEngine(t *testing.T) {
	const timeout = 300 * time.Millisecond
	d, logs := startLogged(t, nil, "--call-timeout", timeout.String())
	req := fractionsRequest(t, 100000)
	_, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(context.Background(), req)
	if st := status.Convert(err); st.Code() != codes.DeadlineExceeded {
		t.Fatalf("got %v %q, want DEADLINE_EXCEEDED", st.Code(), st.Message())
	}
	code, ms := callLine(t, logs, "Estimate", time.Second)
	if code != "DeadlineExceeded" || ms > float64((timeout+100*time.Millisecond).Milliseconds()) {
		t.Fatalf("access line: code %s after %.0f ms, want DeadlineExceeded within %v + 100 ms", code, ms, timeout)
	}
	if _, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(context.Background(), fractionsRequest(t, 10)); err != nil {
		t.Fatalf("a normal estimate after: %v", err)
	}
}

// A client that hangs up stops the engine: the handler returns (its access
// line is written, CANCELLED) within 100 ms of the hang-up, not when the
// computation would have ended.
func TestClientHangUpStopsTheEngine(t *testing.T) {
	d, logs := startLogged(t, nil)
	req := fractionsRequest(t, 100000)
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(300*time.Millisecond, cancel)
	defer timer.Stop()
	_, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(ctx, req)
	if status.Code(err) != codes.Canceled {
		t.Fatalf("client: %v, want CANCELLED", err)
	}
	hungUp := time.Now()
	code, ms := callLine(t, logs, "Estimate", 2*time.Second)
	if code != "Canceled" {
		t.Fatalf("access line code %s, want Canceled", code)
	}
	if after := time.Since(hungUp); after > 500*time.Millisecond {
		t.Fatalf("the handler ended %v after the hang-up (ran %.0f ms)", after, ms)
	}
}

// An editor's chain of 4,000 touching windows does not stop another
// incident's :estimate (it timed out before: one fetch per window).
func TestTouchingChainDoesNotBlockEstimate(t *testing.T) {
	d := start(t)
	must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "USD", "baseline": {"hourlyAmount": "60"}}`)
	must(t, "POST", d.url("/v1/customers/acme/contracts?contractId=api"), `{"monthlyFee": "1000", "tiers": [{"uptimeBelow": "99.9", "creditPercent": "10"}], "minDowntimeSeconds": 600}`)
	must(t, "POST", d.url("/v1/incidents?incidentId=chain"), `{}`)
	must(t, "POST", d.url("/v1/incidents?incidentId=other"), `{}`)
	base := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	var reqs []string
	for i := 0; i < 4000; i++ {
		st := base.Add(time.Duration(i) * 5 * time.Minute)
		reqs = append(reqs, fmt.Sprintf(`{"outageWindow": {"customerId": "acme", "service": "api", "startTime": %q, "endTime": %q}}`,
			st.Format(time.RFC3339), st.Add(5*time.Minute).Format(time.RFC3339)))
	}
	must(t, "POST", d.url("/v1/incidents/chain/windows:batchCreate"), `{"requests": [`+strings.Join(reqs, ",")+`]}`)
	st := base.Add(3 * time.Hour)
	must(t, "POST", d.url("/v1/incidents/other/windows:batchCreate"), fmt.Sprintf(`{"requests": [{"outageWindow": {"customerId": "acme", "service": "api", "startTime": %q, "endTime": %q}}]}`,
		st.Format(time.RFC3339), st.Add(time.Minute).Format(time.RFC3339)))
	est := must(t, "POST", d.url("/v1/incidents/other:estimate"), `{}`)
	// The chain is 4,000 × 5 min = 20,000 min of downtime from July 1st
	// into mid-July: one counted interval, credited at the 10 % tier.
	if n := len(dig(t, est, "customers").([]any)); n != 1 {
		t.Fatalf("estimate has %d customers", n)
	}
}

// update_mask "*" is a full replacement (AIP-134), validated as the new
// resource: a partial body (no currency) is INVALID_ARGUMENT and leaves
// the stored customer unchanged; a full body replaces it exactly.
func TestUpdateMaskStarReplaces(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		cli := impactv1.NewCustomerServiceClient(d.conn)
		ctx := context.Background()
		c, err := cli.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{CustomerId: "acme", Customer: &impactv1.Customer{
			DisplayName: "Acme", CurrencyCode: "USD", TimeZone: "Europe/Berlin", Baseline: &impactv1.RevenueBaseline{HourlyAmount: "100"}}})
		if err != nil {
			t.Fatal(err)
		}
		star := &fieldmaskpb.FieldMask{Paths: []string{"*"}}
		_, err = cli.UpdateCustomer(ctx, &impactv1.UpdateCustomerRequest{UpdateMask: star,
			Customer: &impactv1.Customer{Name: "customers/acme", DisplayName: "Partial"}})
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "currency_code") {
			t.Fatalf("partial *: %v, want INVALID_ARGUMENT naming currency_code", err)
		}
		got, err := cli.GetCustomer(ctx, &impactv1.GetCustomerRequest{Name: "customers/acme"})
		if err != nil || got.GetCurrencyCode() != "USD" || got.GetDisplayName() != "Acme" || got.GetEtag() != c.GetEtag() {
			t.Fatalf("after a refused update: %v %v", got, err)
		}
		// A full body: fields it omits (time zone, baseline) are cleared; the
		// time zone then reads as the default in force.
		got, err = cli.UpdateCustomer(ctx, &impactv1.UpdateCustomerRequest{UpdateMask: star,
			Customer: &impactv1.Customer{Name: "customers/acme", DisplayName: "Acme 2", CurrencyCode: "EUR"}})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetCurrencyCode() != "EUR" || got.GetDisplayName() != "Acme 2" || got.GetTimeZone() != "UTC" || got.GetBaseline().GetHourlyAmount() != "" {
			t.Fatalf("full *: stored %v", got)
		}
	})
}

// Request ids are bound to their request and bounded.
func TestRequestIDBinding(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		first := must(t, "POST", d.url("/v1/customers?customerId=a&requestId=key-1"), `{"currencyCode": "USD"}`)
		again := must(t, "POST", d.url("/v1/customers?customerId=a&requestId=key-1"), `{"currencyCode": "USD"}`)
		if first["etag"] != again["etag"] {
			t.Fatalf("retry: %v, want %v", again, first)
		}
		code, v := call(t, "POST", d.url("/v1/customers?customerId=b&requestId=key-1"), `{"currencyCode": "EUR"}`)
		wantError(t, "reuse with another body", code, v, 409, int(codes.AlreadyExists))
		if !strings.Contains(fmt.Sprint(v["message"]), `"key-1"`) {
			t.Errorf("message %v does not name the key", v["message"])
		}
		code, v = call(t, "POST", d.url("/v1/customers?customerId=c&requestId="+strings.Repeat("k", 129)), `{"currencyCode": "EUR"}`)
		wantError(t, "129-character request id", code, v, 400, int(codes.InvalidArgument))
		_, err := impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(context.Background(), &impactv1.CreateCustomerRequest{
			CustomerId: "c", RequestId: strings.Repeat("k", 3<<20), Customer: &impactv1.Customer{CurrencyCode: "EUR"}})
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("3 MB request id: %v, want INVALID_ARGUMENT", err)
		}
		for _, id := range []string{"b", "c"} {
			if code, _ := call(t, "GET", d.url("/v1/customers/"+id), ""); code != 404 {
				t.Errorf("customer %s: HTTP %d, want 404 (nothing written)", id, code)
			}
		}
	})
}

// NUL bytes and bad ids are INVALID_ARGUMENT on both engines (PostgreSQL
// answered 500, SQLite stored them), and nothing is stored.
func TestNULAndBadIDs(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		for _, tc := range []struct{ what, method, path, body string }{
			{"NUL in display name", "POST", "/v1/customers?customerId=a", `{"currencyCode": "USD", "displayName": "a\u0000b"}`},
			{"control character in display name", "POST", "/v1/customers?customerId=a", `{"currencyCode": "USD", "displayName": "a\u001bb"}`},
			{"space in id", "POST", "/v1/customers?customerId=a%20b", `{"currencyCode": "USD"}`},
			{"dots as id", "POST", "/v1/customers?customerId=..", `{"currencyCode": "USD"}`},
			{"newline in id", "POST", "/v1/customers?customerId=a%0Ab", `{"currencyCode": "USD"}`},
			{"NUL in id", "POST", "/v1/customers?customerId=a%00b", `{"currencyCode": "USD"}`},
			{"NUL in a name", "GET", "/v1/customers/a%00b", ""},
			{"NUL in a title", "POST", "/v1/incidents?incidentId=i", `{"title": "x\u0000"}`},
			{"NUL in a filter", "GET", "/v1/incidents/i/windows?filter=" + "customer_id%3D%22a%00%22", ""},
		} {
			code, v := call(t, tc.method, d.url(tc.path), tc.body)
			wantError(t, tc.what, code, v, 400, int(codes.InvalidArgument))
		}
		must(t, "POST", d.url("/v1/customers?customerId=ok"), `{"currencyCode": "USD", "displayName": "tab\tand\nnewline are free text"}`)
		must(t, "POST", d.url("/v1/incidents?incidentId=i"), `{}`)
		code, v := call(t, "POST", d.url("/v1/incidents/i/windows:batchCreate"), `{"requests": [{"outageWindow": {"customerId": "ok", "service": "api\u0000",
			"startTime": "2025-07-01T00:00:00Z", "endTime": "2025-07-01T01:00:00Z"}}]}`)
		wantError(t, "NUL in a window's service", code, v, 400, int(codes.InvalidArgument))
		list := must(t, "GET", d.url("/v1/customers"), "")
		if n := len(list["customers"].([]any)); n != 1 {
			t.Fatalf("%d customers stored, want 1", n)
		}
	})
}

// Etags are opaque and name one revision of one incarnation: one read
// before a delete does not overwrite the recreated resource; a malformed
// one is INVALID_ARGUMENT, a stale one ABORTED.
func TestEtagAcrossDeleteAndRecreate(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		old := must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "USD", "displayName": "Old"}`)
		tag := old["etag"].(string)
		if strings.HasPrefix(tag, `"r`) {
			t.Fatalf("etag %s is the guessable revision", tag)
		}
		req, _ := http.NewRequest("DELETE", d.url("/v1/customers/acme?etag="+tag), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("delete: HTTP %d", resp.StatusCode)
		}
		must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "EUR", "displayName": "New"}`)
		body, _ := json.Marshal(map[string]string{"displayName": "Overwritten", "etag": tag})
		code, v := call(t, "PATCH", d.url("/v1/customers/acme"), string(body))
		wantError(t, "stale etag from before the delete", code, v, 409, int(codes.Aborted))
		for _, bad := range []string{"abc", `"r1x"`, "unquoted0123456789"} {
			body, _ := json.Marshal(map[string]string{"displayName": "Overwritten", "etag": bad})
			code, v := call(t, "PATCH", d.url("/v1/customers/acme"), string(body))
			wantError(t, "malformed etag "+bad, code, v, 400, int(codes.InvalidArgument))
		}
		body, _ = json.Marshal(map[string]string{"displayName": "Overwritten", "etag": `"r1"`})
		code, v = call(t, "PATCH", d.url("/v1/customers/acme"), string(body))
		wantError(t, "legacy etag", code, v, 409, int(codes.Aborted))
		got := must(t, "GET", d.url("/v1/customers/acme"), "")
		if got["displayName"] != "New" || got["currencyCode"] != "EUR" {
			t.Fatalf("recreated customer changed: %v", got)
		}
	})
}
