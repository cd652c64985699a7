package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// impactd is one running instance of the real program (run), on free ports.
type impactd struct {
	addrs Addrs
	conn  *grpc.ClientConn
	stop  func() error // ends run's context and returns run's error
}

func start(t testing.TB, args ...string) *impactd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	// A temp SQLite file unless the test names a database: the default
	// (impact.db in the working directory) would leave one in the package.
	base := []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}
	if !slices.Contains(args, "--db") {
		base = append(base, "--db", "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	}
	args = append(base, args...)
	go func() {
		done <- run(ctx, args, func(string) string { return "" }, io.Discard, func(a Addrs) { ready <- a })
	}()
	d := &impactd{}
	select {
	case d.addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run returned before ready: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("impactd not ready after 10s")
	}
	var stopped bool
	var runErr error
	d.stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			runErr = <-done
		}
		return runErr
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d.conn = conn
	return d
}

func (d *impactd) url(path string) string { return "http://" + d.addrs.HTTP + path }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

// dig follows a path of object keys and array indexes through decoded JSON.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %q: not an object: %v", k, v)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("no key %q in %v", k, m)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("at [%d]: not an array that long: %v", k, v)
			}
			v = a[k]
		}
	}
	return v
}

const seedFile = "../../examples/seed-outage.json"

// The same scenario gives the same figures over gRPC and over the JSON
// gateway, field by field.
func TestEstimateSeedOverGRPCAndHTTP(t *testing.T) {
	d := start(t)
	body := readFile(t, seedFile)

	req := &impactv1.EstimateRequest{}
	if err := server.JSONOptions.Unmarshal.Unmarshal(body, req); err != nil {
		t.Fatal(err)
	}
	resp, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(context.Background(), req)
	if err != nil {
		t.Fatalf("gRPC Estimate: %v", err)
	}
	grpcJSON, err := server.JSONOptions.Marshal.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}

	code, httpJSON := post(t, d.url("/v1/scenarios:estimate"), string(body))
	if code != http.StatusOK {
		t.Fatalf("HTTP %d: %s", code, httpJSON)
	}
	viaGRPC, viaHTTP := decodeJSON(t, grpcJSON), decodeJSON(t, httpJSON)
	if diff := cmp.Diff(viaGRPC, viaHTTP); diff != "" {
		t.Errorf("gRPC and HTTP responses differ (-grpc +http):\n%s", diff)
	}

	// A few figures of model.md's worked AWS example, which the seed's bank
	// contract reproduces, in api.md's spelling.
	st := dig(t, viaHTTP, "slaStatements", 0)
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"customerId"}, "bank-northwind"},
		{[]any{"periodSeconds"}, "2678400"},
		{[]any{"downtimeSeconds"}, "3000"},
		{[]any{"uptimePercent"}, "99.887993"},
		{[]any{"creditPercent"}, "10"},
		{[]any{"creditAmount", "amount"}, "1234.57"},
		{[]any{"creditAmount", "currencyCode"}, "USD"},
		{[]any{"belowMinimum"}, false},
	} {
		if got := dig(t, st, c.path...); got != c.want {
			t.Errorf("slaStatements[0]%v = %v, want %v", c.path, got, c.want)
		}
	}
	inc := dig(t, viaHTTP, "incidents", 0)
	if got := dig(t, inc, "reportingTotals", "currencyCode"); got != "USD" {
		t.Errorf("reportingTotals.currencyCode = %v", got)
	}
	// Zero amounts are present with their minor units (EmitUnpopulated).
	if got := dig(t, inc, "customers", 1, "lostRevenue", "recaptured", "amount"); got != "0.00" {
		t.Errorf("dc-polar recaptured = %v, want \"0.00\"", got)
	}
	if got := dig(t, viaHTTP, "modelVersion"); got == "" {
		t.Error("modelVersion is empty")
	}
}

const badScenario = `{"scenario": {
  "customers": [{"customerId": "a", "currencyCode": "USD", "baseline": {"hourlyAmount": "10"}}],
  "incidents": [{"incidentId": "i", "windows": [{"customerId": "a", "service": "s",
    "startTime": "2025-01-01T10:00:00Z", "endTime": "2025-01-01T09:00:00Z"}]}]}}`

// badField is the violation's path on gRPC (proto names); over HTTP it is
// in the JSON names, badFieldHTTP.
const (
	badField     = "scenario.incidents[0].windows[0].end_time"
	badFieldHTTP = "scenario.incidents[0].windows[0].endTime"
)

func TestInvalidScenario(t *testing.T) {
	d := start(t)

	code, body := post(t, d.url("/v1/scenarios:estimate"), badScenario)
	if code != http.StatusBadRequest {
		t.Fatalf("HTTP %d, want 400: %s", code, body)
	}
	v := decodeJSON(t, body)
	if got := dig(t, v, "code"); got != float64(codes.InvalidArgument) {
		t.Errorf("code %v, want 3", got)
	}
	details := dig(t, v, "details").([]any)
	var fields []any
	var reasons []any
	for _, det := range details {
		switch dig(t, det, "@type") {
		case "type.googleapis.com/google.rpc.BadRequest":
			for _, fv := range dig(t, det, "fieldViolations").([]any) {
				fields = append(fields, dig(t, fv, "field"))
			}
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reasons = append(reasons, dig(t, det, "domain").(string)+"/"+dig(t, det, "reason").(string))
		}
	}
	if diff := cmp.Diff([]any{badFieldHTTP}, fields); diff != "" {
		t.Errorf("HTTP field violations (-want +got):\n%s\n%s", diff, body)
	}
	if diff := cmp.Diff([]any{"impact.v1/INVALID_ARGUMENT"}, reasons); diff != "" {
		t.Errorf("HTTP ErrorInfo (-want +got):\n%s", diff)
	}

	req := &impactv1.EstimateRequest{}
	if err := server.JSONOptions.Unmarshal.Unmarshal([]byte(badScenario), req); err != nil {
		t.Fatal(err)
	}
	_, err := impactv1.NewEstimatorServiceClient(d.conn).Estimate(context.Background(), req)
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("gRPC: %v, want INVALID_ARGUMENT", err)
	}
	var grpcFields []any
	for _, det := range st.Details() {
		if br, ok := det.(*errdetails.BadRequest); ok {
			for _, fv := range br.GetFieldViolations() {
				grpcFields = append(grpcFields, fv.GetField())
			}
		}
	}
	if diff := cmp.Diff([]any{badField}, grpcFields); diff != "" {
		t.Errorf("gRPC field violations (-want +got):\n%s", diff)
	}
}

func TestHTTPRejects(t *testing.T) {
	d := start(t)

	code, body := post(t, d.url("/v1/scenarios:estimate"), `{"scenario": {}, "scenarioo": {}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(body), "scenarioo") {
		t.Errorf("unknown field: HTTP %d %s, want 400 naming the field", code, body)
	}
	code, body = post(t, d.url("/v1/scenarios:estimate"), `{"scenario": {"customers": [{"customerId": "a", "lifetimeValue": 12}]}}`)
	if code != http.StatusBadRequest {
		t.Errorf("number for a decimal string: HTTP %d %s, want 400", code, body)
	}
	code, body = post(t, d.url("/v1/scenarios:estimate"), `{}`)
	if code != http.StatusBadRequest {
		t.Errorf("no scenario: HTTP %d %s, want 400", code, body)
	} else if got := dig(t, decodeJSON(t, body), "details", 0, "fieldViolations", 0, "field"); got != "scenario" {
		t.Errorf("no scenario: field %v, want \"scenario\"", got)
	}

	resp, err := http.Get(d.url("/v1/scenarios:estimate"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET on the estimate path: HTTP %d %s, want 405", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("405 content type %q, want a google.rpc.Status JSON", ct)
	}

	code, _ = post(t, d.url("/v1/nothing-here"), `{}`)
	if code != http.StatusNotFound {
		t.Errorf("unknown path: HTTP %d, want 404", code)
	}
}

func TestHealthReflectionAndDocs(t *testing.T) {
	d := start(t)
	ctx := context.Background()

	for _, svc := range []string{"", "impact.v1.EstimatorService"} {
		resp, err := healthpb.NewHealthClient(d.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v, want SERVING", svc, resp, err)
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(d.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	rr, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rr.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), "impact.v1.EstimatorService") {
		t.Errorf("reflection lists %v, want impact.v1.EstimatorService", names)
	}
	stream.CloseSend()

	resp, err := http.Get(d.url("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: HTTP %d, want 200", resp.StatusCode)
	}

	resp, err = http.Get(d.url("/openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: HTTP %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc := decodeJSON(t, b)
	dig(t, doc, "paths", "/v1/scenarios:estimate", "post")
	if got := dig(t, doc, "swagger"); got != "2.0" {
		t.Errorf("swagger %v", got)
	}
}

// A request that is still arriving when SIGTERM comes is finished and
// answered: HTTP drains first, and gRPC keeps serving the gateway until it
// has.
func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	d := start(t)
	body := readFile(t, seedFile)
	// A raw connection, so the first half of the request is on the wire (and
	// the handler is reading the body) before shutdown begins.
	conn, err := net.Dial("tcp", d.addrs.HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /v1/scenarios:estimate HTTP/1.1\r\nHost: impactd\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the server accepts and starts reading

	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()
	time.Sleep(300 * time.Millisecond) // shutdown has begun and is waiting
	select {
	case err := <-stopped:
		t.Fatalf("run returned with a request in flight: %v", err)
	default:
	}
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"1234.57"`)) {
		t.Errorf("in-flight request: HTTP %d %s", resp.StatusCode, b)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
	if _, err := http.Get(d.url("/healthz")); err == nil {
		t.Error("HTTP still accepting after shutdown")
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, args := range [][]string{
		{"--grpc-addr", "0.0.0.0:0", "--http-addr", "127.0.0.1:0"},
		{"--grpc-addr", "127.0.0.1:0", "--http-addr", ":0"},
	} {
		err := run(context.Background(), args, func(string) string { return "" }, io.Discard,
			func(Addrs) { t.Errorf("%v: became ready", args) })
		// The message says why and what to do about it.
		if err == nil || !strings.Contains(err.Error(), "non-loopback address without --auth-tokens") {
			t.Errorf("%v: got %v, want a refusal to listen on a non-loopback address", args, err)
		}
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{"IMPACTD_GRPC_ADDR": "127.0.0.1:7000", "IMPACTD_HTTP_ADDR": "127.0.0.1:7001",
		"IMPACTD_DB": "postgres://impact@db.internal/impact", "IMPACTD_AUTH_TOKENS": "/etc/impact/tokens",
		"IMPACTD_TLS_CERT": "/etc/impact/cert.pem", "IMPACTD_TLS_KEY": "/etc/impact/key.pem",
		"IMPACTD_CALL_TIMEOUT": "45s", "IMPACTD_LOG_FORMAT": "text", "IMPACTD_LOG_LEVEL": "debug",
		"IMPACTD_RECOMPUTE_WORKERS": "0", "IMPACTD_RECOMPUTE_LEASE": "2m",
		"IMPACTD_REFRESH": "false", "IMPACTD_REFRESH_DELAY": "1s"}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name   string
		args   []string
		getenv func(string) string
		want   config
	}{
		{"defaults", nil, func(string) string { return "" },
			config{grpcAddr: "127.0.0.1:9090", httpAddr: "127.0.0.1:8080", db: "sqlite:impact.db",
				callTimeout: server.DefaultCallTimeout, logFormat: "json", logLevel: "info",
				recomputeWorkers: 1, recomputeLease: 30 * time.Second, refresh: true, refreshDelay: 5 * time.Second}},
		{"environment", nil, getenv, config{grpcAddr: "127.0.0.1:7000", httpAddr: "127.0.0.1:7001",
			db: "postgres://impact@db.internal/impact", tokens: "/etc/impact/tokens",
			tlsCert: "/etc/impact/cert.pem", tlsKey: "/etc/impact/key.pem",
			callTimeout: 45 * time.Second, logFormat: "text", logLevel: "debug",
			recomputeWorkers: 0, recomputeLease: 2 * time.Minute, refresh: false, refreshDelay: time.Second}},
		{"flag wins", []string{"--http-addr", "[::1]:1", "--db", "sqlite:/tmp/x.db", "--auth-tokens", "t",
			"--tls-cert", "c", "--tls-key", "k", "--call-timeout", "5s", "--log-format", "json", "--log-level", "warn",
			"--recompute-workers", "4", "--recompute-lease", "10s", "--refresh=true", "--refresh-delay", "250ms"}, getenv,
			config{grpcAddr: "127.0.0.1:7000", httpAddr: "[::1]:1", db: "sqlite:/tmp/x.db", tokens: "t",
				tlsCert: "c", tlsKey: "k", callTimeout: 5 * time.Second, logFormat: "json", logLevel: "warn",
				recomputeWorkers: 4, recomputeLease: 10 * time.Second, refresh: true, refreshDelay: 250 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, tc.getenv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got.limits = limitsConfig{} // TestLimitFlags checks them
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	// A certificate without its key (or the reverse) is a mistake, not
	// plaintext.
	for _, args := range [][]string{{"--tls-cert", "c"}, {"--tls-key", "k"}} {
		if _, err := parseFlags(args, func(string) string { return "" }, io.Discard); err == nil ||
			!strings.Contains(err.Error(), "give both or neither") {
			t.Errorf("%v: got %v, want both-or-neither", args, err)
		}
	}
	for _, args := range [][]string{{"--recompute-workers", "-1"}, {"--recompute-lease", "0s"}} {
		if _, err := parseFlags(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	// A database that is neither sqlite: nor postgres:// stops impactd
	// before it listens.
	err := run(context.Background(), []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--db", "mysql://x"},
		func(string) string { return "" }, io.Discard, func(Addrs) { t.Error("became ready with an unknown database") })
	if err == nil || !strings.Contains(err.Error(), "neither sqlite:PATH nor a postgres:// URL") {
		t.Errorf("got %v, want the store's refusal of the database", err)
	}
}
