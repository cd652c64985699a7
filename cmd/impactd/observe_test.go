package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// syncBuffer is run's stderr in tests: the servers' goroutines write while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startLogged is start with run's stderr captured and env as the
// environment.
func startLogged(t *testing.T, env map[string]string, args ...string) (*impactd, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	args = append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--db", "sqlite:" + filepath.Join(t.TempDir(), "impact.db")}, args...)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, logs, func(a Addrs) { ready <- a })
	}()
	d := &impactd{}
	select {
	case d.addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run returned before ready: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("impactd not ready after 10s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.conn = conn
	return d, logs
}

func seedRequest(t *testing.T) *impactv1.EstimateRequest {
	t.Helper()
	req := &impactv1.EstimateRequest{}
	if err := server.JSONOptions.Unmarshal.Unmarshal(readFile(t, seedFile), req); err != nil {
		t.Fatal(err)
	}
	return req
}

// scrape reads GET /metrics with the Prometheus text parser, so a
// malformed exposition fails the test.
func scrape(t *testing.T, d *impactd) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(d.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// sample returns the metric of family name whose labels include want, or
// nil.
func sample(mfs map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func counter(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	if m := sample(mfs, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func histogramCount(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	if m := sample(mfs, name, labels); m != nil {
		return m.GetHistogram().GetSampleCount()
	}
	return 0
}

// One Estimate over gRPC and one over HTTP show up in the gRPC, gateway
// and estimate metrics. The metrics are per process and other tests add to
// them, so the test compares scrapes before and after its own calls.
func TestMetrics(t *testing.T) {
	d := start(t)
	grpcOK := map[string]string{"grpc_service": "impact.v1.EstimatorService", "grpc_method": "Estimate", "grpc_code": "OK"}
	gwOK := map[string]string{"method": "POST", "route": "/v1/scenarios:estimate", "code": "200"}
	stateless := map[string]string{"call": "stateless"}

	before := scrape(t, d)
	if _, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(context.Background(), seedRequest(t)); err != nil {
		t.Fatalf("gRPC Estimate: %v", err)
	}
	if code, body := post(t, d.url("/v1/scenarios:estimate"), string(readFile(t, seedFile))); code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, body)
	}
	// A path no route matches must not become a label value.
	if resp, err := http.Get(d.url("/v1/no/such/path-4711")); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	after := scrape(t, d)

	// The gateway's call goes through gRPC too: two handled calls.
	if got := counter(after, "grpc_server_handled_total", grpcOK) - counter(before, "grpc_server_handled_total", grpcOK); got < 2 {
		t.Errorf("grpc_server_handled_total%v grew by %v, want ≥ 2", grpcOK, got)
	}
	estimate := map[string]string{"grpc_service": "impact.v1.EstimatorService", "grpc_method": "Estimate"}
	if got := histogramCount(after, "grpc_server_handling_seconds", estimate) - histogramCount(before, "grpc_server_handling_seconds", estimate); got < 2 {
		t.Errorf("grpc_server_handling_seconds%v count grew by %d, want ≥ 2", estimate, got)
	}
	if got := counter(after, "impact_gateway_requests_total", gwOK) - counter(before, "impact_gateway_requests_total", gwOK); got < 1 {
		t.Errorf("impact_gateway_requests_total%v grew by %v, want ≥ 1", gwOK, got)
	}
	if got := histogramCount(after, "impact_gateway_request_duration_seconds", map[string]string{"method": "POST", "route": "/v1/scenarios:estimate"}); got < 1 {
		t.Errorf("impact_gateway_request_duration_seconds count %d, want ≥ 1", got)
	}
	other := map[string]string{"method": "GET", "route": "other", "code": "404"}
	if got := counter(after, "impact_gateway_requests_total", other) - counter(before, "impact_gateway_requests_total", other); got < 1 {
		t.Errorf("impact_gateway_requests_total%v grew by %v, want ≥ 1", other, got)
	}
	for _, m := range after["impact_gateway_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "4711") {
				t.Errorf("unmatched path became a label: %v", m)
			}
		}
	}
	if got := histogramCount(after, "impact_estimate_duration_seconds", stateless) - histogramCount(before, "impact_estimate_duration_seconds", stateless); got < 2 {
		t.Errorf("impact_estimate_duration_seconds%v count grew by %d, want ≥ 2", stateless, got)
	}
	// The pool of this instance's SQLite database.
	for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections", "go_sql_max_open_connections", "go_sql_wait_count_total"} {
		if sample(after, name, map[string]string{"db_name": "sqlite"}) == nil {
			t.Errorf("no %s{db_name=\"sqlite\"}", name)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

// A stored :estimate is timed under call="incident".
func TestMetricsStoredEstimate(t *testing.T) {
	d := start(t)
	incident := map[string]string{"call": "incident"}
	before := histogramCount(scrape(t, d), "impact_estimate_duration_seconds", incident)
	for _, c := range []struct{ path, body string }{
		{"/v1/customers?customerId=acme", `{"displayName": "Acme", "currencyCode": "USD", "baseline": {"hourlyAmount": "1200.00"}}`},
		{"/v1/incidents?incidentId=inc-1", `{"cause": "POWER_FAILURE"}`},
		{"/v1/incidents/inc-1/windows:batchCreate", `{"requests": [{"outageWindow": {"customerId": "acme", "service": "api",
			"startTime": "2025-07-14T13:05:00Z", "endTime": "2025-07-14T13:52:00Z"}}]}`},
		{"/v1/incidents/inc-1:estimate", `{}`},
	} {
		if code, body := post(t, d.url(c.path), c.body); code != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d: %s", c.path, code, body)
		}
	}
	if got := histogramCount(scrape(t, d), "impact_estimate_duration_seconds", incident) - before; got != 1 {
		t.Errorf("impact_estimate_duration_seconds{call=\"incident\"} grew by %d, want 1", got)
	}
	route := map[string]string{"method": "POST", "route": "/v1/{name=incidents/*}:estimate", "code": "200"}
	if got := counter(scrape(t, d), "impact_gateway_requests_total", route); got < 1 {
		t.Errorf("impact_gateway_requests_total%v = %v, want ≥ 1", route, got)
	}
}

// logLines decodes the JSON log lines of logs.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// accessLine waits for the access line ("finished call") of request id.
func accessLine(t *testing.T, logs *syncBuffer, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range logLines(t, logs.String()) {
			if l["msg"] == "finished call" && l["request_id"] == id {
				return l
			}
		}
	}
	t.Fatalf("no access line with request_id %q in:\n%s", id, logs)
	return nil
}

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func estimateHTTP(t *testing.T, d *impactd, token, requestID string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, d.url("/v1/scenarios:estimate"), bytes.NewReader(readFile(t, seedFile)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// The request id of a call is the client's or a new one, comes back to the
// client, and is in the call's access line with the method, code, latency
// and the caller's token name.
func TestRequestID(t *testing.T) {
	d, logs := startLogged(t, nil, "--auth-tokens", writeTokens(t))
	viewer := testTokens[0]

	resp := estimateHTTP(t, d, viewer.token, "abc")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %s", resp.Status)
	}
	if got := resp.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "abc" {
		t.Errorf("X-Request-Id = %q, want [abc]", got)
	}
	l := accessLine(t, logs, "abc")
	for k, want := range map[string]any{
		"grpc.service": "impact.v1.EstimatorService", "grpc.method": "Estimate",
		"grpc.code": "OK", "actor": viewer.name, "level": "INFO",
	} {
		if l[k] != want {
			t.Errorf("access line %s = %v, want %v", k, l[k], want)
		}
	}
	if _, ok := l["grpc.time_ms"]; !ok {
		t.Errorf("access line has no latency (grpc.time_ms): %v", l)
	}

	// Without one (or with one that could garble a log line) the server
	// makes one up, returns it and logs it.
	for _, sent := range []string{"", "two words", strings.Repeat("x", 129)} {
		resp := estimateHTTP(t, d, viewer.token, sent)
		id := resp.Header.Get("X-Request-Id")
		if !generatedID.MatchString(id) {
			t.Errorf("sent %q: X-Request-Id = %q, want 32 hex digits", sent, id)
			continue
		}
		accessLine(t, logs, id)
	}

	// A refused call is logged with its code, its id and no caller.
	resp = estimateHTTP(t, d, "wrong-token", "refused-1")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Request-Id") != "refused-1" {
		t.Errorf("bad token: %s, X-Request-Id %q", resp.Status, resp.Header.Get("X-Request-Id"))
	}
	l = accessLine(t, logs, "refused-1")
	if l["grpc.code"] != "Unauthenticated" || l["actor"] != "anonymous" {
		t.Errorf("refused call's line: code %v actor %v", l["grpc.code"], l["actor"])
	}

	// Refusals in front of the gateway carry it too: the console's
	// cross-site refusal and 405, without a token and with one.
	for _, c := range []struct {
		method, path, site string
		want               int
	}{
		{"POST", "/v1/incidents?incidentId=forged", "cross-site", http.StatusForbidden},
		{"POST", "/", "", http.StatusMethodNotAllowed},
		{"GET", "/healthz", "", http.StatusOK},
	} {
		req, err := http.NewRequest(c.method, d.url(c.path), strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Request-Id", "front-1")
		if c.site != "" {
			req.Header.Set("Sec-Fetch-Site", c.site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want || resp.Header.Values("X-Request-Id")[0] != "front-1" || len(resp.Header.Values("X-Request-Id")) != 1 {
			t.Errorf("%s %s: %s, X-Request-Id %q", c.method, c.path, resp.Status, resp.Header.Values("X-Request-Id"))
		}
	}
	// Each with its access line.
	var lines int
	for _, l := range logLines(t, logs.String()) {
		if l["msg"] == "http request" && l["request_id"] == "front-1" {
			lines++
		}
	}
	if lines != 3 {
		t.Errorf("%d access lines with request id front-1, want 3 (the console's refusals too)", lines)
	}

	// A gRPC call the tap refuses on its headers: gRPC sends no metadata
	// with such an answer, so the id is in a google.rpc.RequestInfo detail,
	// and in the access line.
	for _, sent := range []string{"tap-1", ""} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer wrong-token")
		if sent != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", sent)
		}
		_, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(ctx, seedRequest(t))
		st := status.Convert(err)
		var got string
		for _, det := range st.Details() {
			if ri, ok := det.(*errdetails.RequestInfo); ok {
				got = ri.GetRequestId()
			}
		}
		if st.Code() != codes.Unauthenticated || (sent != "" && got != sent) || (sent == "" && !generatedID.MatchString(got)) {
			t.Errorf("refused gRPC call (sent %q): %v, RequestInfo %q", sent, st, got)
			continue
		}
		if l := accessLine(t, logs, got); l["grpc.code"] != "Unauthenticated" {
			t.Errorf("refused gRPC call's line: %v", l)
		}
	}

	// Over gRPC: from the metadata, returned as header metadata.
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+viewer.token, "x-request-id", "grpc-7")
	var header metadata.MD
	if _, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(ctx, seedRequest(t), grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "grpc-7" {
		t.Errorf("gRPC x-request-id header = %q, want [grpc-7]", got)
	}
	if l := accessLine(t, logs, "grpc-7"); l["actor"] != viewer.name {
		t.Errorf("gRPC access line actor = %v", l["actor"])
	}
	header = nil
	ctx = metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+viewer.token)
	if _, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(ctx, seedRequest(t), grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || !generatedID.MatchString(got[0]) {
		t.Errorf("gRPC x-request-id header = %q, want one generated id", got)
	}
}

// --log-format text writes text lines; IMPACTD_LOG_LEVEL=warn drops the
// access lines of successful calls (info) but keeps a refused one
// (PERMISSION_DENIED is logged at warn).
func TestLogFormatTextAndLevel(t *testing.T) {
	d, logs := startLogged(t, map[string]string{"IMPACTD_LOG_LEVEL": "warn"}, "--log-format", "text", "--auth-tokens", writeTokens(t))
	viewer := testTokens[0]
	if resp := estimateHTTP(t, d, viewer.token, "ok-1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("estimate: HTTP %s", resp.Status)
	}
	req, err := http.NewRequest(http.MethodPost, d.url("/v1/customers?customerId=acme"), strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+viewer.token)
	req.Header.Set("X-Request-Id", "denied-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer creating a customer: HTTP %s", resp.Status)
	}
	var out string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if out = logs.String(); strings.Contains(out, "request_id=denied-1") {
			break
		}
	}
	line := regexp.MustCompile(`(?m)^time=\S+ level=WARN msg="finished call" .*request_id=denied-1 .*$`).FindString(out)
	for _, want := range []string{" actor=anonymous ", " grpc.method=CreateCustomer ", " grpc.code=PermissionDenied ", " grpc.time_ms="} {
		if !strings.Contains(line, want) {
			t.Errorf("text access line of the refused call lacks %q: %q\nlogs:\n%s", want, line, out)
		}
	}
	if strings.Contains(out, "ok-1") || strings.Contains(out, "impactd serving") {
		t.Errorf("info lines logged at level warn:\n%s", out)
	}
}

// Bad log flags and variables are usage errors, before anything listens.
func TestBadLogFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--log-level", "verbose"}, nil, "--log-level"},
		{nil, map[string]string{"IMPACTD_LOG_LEVEL": "loud"}, "--log-level"},
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{nil, map[string]string{"IMPACTD_LOG_FORMAT": "yaml"}, "--log-format"},
	} {
		args := append([]string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--db", "sqlite:" + filepath.Join(t.TempDir(), "impact.db")}, c.args...)
		ready := false
		err := run(context.Background(), args, func(k string) string { return c.env[k] }, io.Discard, func(Addrs) { ready = true })
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) || ready {
			t.Errorf("%v %v: err %v (usage error: %v), ready %v; want a usage error naming %s",
				c.args, c.env, err, errors.As(err, &ue), ready, c.want)
		}
	}
}

// The refresh through the real wiring: a write makes the stored estimate
// STALE on the next read and in /metrics; the workers refresh it after
// --refresh-delay, with a log line per lease, and it reads CURRENT.
func TestRefreshServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--db", "sqlite:" + filepath.Join(t.TempDir(), "impact.db"), "--refresh-delay", "300ms"},
			func(string) string { return "" }, logs, func(a Addrs) { ready <- a })
	}()
	var d *impactd
	select {
	case a := <-ready:
		d = &impactd{addrs: a}
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	for _, c := range []struct{ path, body string }{
		{"/v1/customers?customerId=acme", `{"displayName": "Acme", "currencyCode": "USD", "baseline": {"hourlyAmount": "1200.00"}}`},
		{"/v1/incidents?incidentId=inc-1", `{"cause": "POWER_FAILURE"}`},
		{"/v1/incidents/inc-1/windows:batchCreate", `{"requests": [{"outageWindow": {"customerId": "acme", "service": "api",
			"startTime": "2025-07-14T13:00:00Z", "endTime": "2025-07-14T14:00:00Z"}}]}`},
		{"/v1/incidents/inc-1:estimate", `{}`},
	} {
		if code, body := post(t, d.url(c.path), c.body); code != http.StatusOK {
			t.Fatalf("POST %s: HTTP %d: %s", c.path, code, body)
		}
	}
	code, v := call(t, "PATCH", d.url("/v1/customers/acme"), `{"baseline": {"hourlyAmount": "1500.00"}}`)
	if code != http.StatusOK {
		t.Fatalf("PATCH: %d %v", code, v)
	}
	e := must(t, "GET", d.url("/v1/incidents/inc-1/estimate"), "")
	if e["state"] != "STALE" || fmt.Sprint(e["staleReasons"]) != "[customers/acme]" {
		t.Errorf("right after the write: %v %v", e["state"], e["staleReasons"])
	}
	if got := gaugeValue(scrape(t, d), "impact_stale_estimates"); got != 1 {
		t.Errorf("impact_stale_estimates = %v, want 1", got)
	}
	for deadline := time.Now().Add(10 * time.Second); e["state"] != "CURRENT" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		e = must(t, "GET", d.url("/v1/incidents/inc-1/estimate"), "")
	}
	// 1500 × 1 h = 1500.00.
	if e["state"] != "CURRENT" || e["revision"] != "2" || e["source"] != "REFRESH" ||
		dig(t, e, "customers", 0).(map[string]any)["lostRevenue"].(map[string]any)["gross"].(map[string]any)["amount"] != "1500.00" {
		t.Errorf("after the refresh: %v", e)
	}
	// The stale count is read at most once a second (the scrape cache):
	// a scrape within a second of the one above may show its value.
	time.Sleep(server.ScrapeCache)
	mfs := scrape(t, d)
	if got := gaugeValue(mfs, "impact_stale_estimates"); got != 0 {
		t.Errorf("impact_stale_estimates = %v after the refresh, want 0", got)
	}
	if got := counter(mfs, "impact_refresh_estimates_total", map[string]string{"result": "revision"}); got < 1 {
		t.Errorf("impact_refresh_estimates_total{result=\"revision\"} = %v", got)
	}
	if mfs["impact_refresh_lag_seconds"] == nil {
		t.Error("no impact_refresh_lag_seconds")
	}
	found := false
	for _, l := range logLines(t, logs.String()) {
		if l["msg"] == "refreshed stale estimates" && l["revisions"] == float64(1) {
			found = true
		}
	}
	if !found {
		t.Errorf("no refresh log line in:\n%s", logs)
	}
}

func gaugeValue(mfs map[string]*dto.MetricFamily, name string) float64 {
	if m := sample(mfs, name, nil); m != nil {
		return m.GetGauge().GetValue()
	}
	return -1
}
