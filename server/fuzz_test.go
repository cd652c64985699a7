package server

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// exampleRequests are the scenario files of examples/, the fuzzers' seeds:
// valid requests from which mutations reach deep into validation and the
// engine rather than stopping at the first missing field.
func exampleRequests(f *testing.F) [][]byte {
	f.Helper()
	paths, err := filepath.Glob("../examples/*.json")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no example scenarios: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// checkErrorStatus fails unless err is a deliberate API error: a status of a
// code the estimator documents, carrying ErrorInfo of our domain. Anything
// else (INTERNAL included) means arbitrary input found a bug.
func checkErrorStatus(t *testing.T, err error) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("not a status error: %v", err)
	}
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v (%q), want INVALID_ARGUMENT", st.Code(), st.Message())
	}
	if !hasErrorInfo(st.Details()) {
		t.Fatalf("no ErrorInfo of domain %s in %v", ErrorDomain, st.Details())
	}
}

// FuzzEstimateProto feeds arbitrary wire bytes that decode as an
// EstimateRequest to the estimator: it must answer or refuse with
// INVALID_ARGUMENT, never panic or fail internally.
func FuzzEstimateProto(f *testing.F) {
	for _, js := range exampleRequests(f) {
		var req impactv1.EstimateRequest
		if err := protojson.Unmarshal(js, &req); err != nil {
			f.Fatal(err)
		}
		b, err := proto.Marshal(&req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	est := NewEstimator(slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req impactv1.EstimateRequest
		if proto.Unmarshal(b, &req) != nil {
			return // gRPC refuses such bytes before any handler runs
		}
		resp, err := est.Estimate(context.Background(), &req)
		if err != nil {
			checkErrorStatus(t, err)
			return
		}
		if resp == nil {
			t.Fatal("nil response without an error")
		}
	})
}

// FuzzEstimateJSON posts arbitrary bytes to POST /v1/scenarios:estimate of
// the real gateway, in front of the real gRPC server on an in-memory
// listener. Every answer is 200 or a 4xx google.rpc.Status with ErrorInfo:
// no input of a client is a server error.
func FuzzEstimateJSON(f *testing.F) {
	for _, js := range exampleRequests(f) {
		f.Add(js)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"scenario":{"customers":[{"customerId":"a","currencyCode":"USD"}],"nope":1}}`))
	f.Add([]byte(`{"scenario":{"incidents":[{"cause":"NOT_A_CAUSE"}]}}`))

	h := newTestGateway(f)

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/scenarios:estimate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("200 with a body that is not JSON: %q", rec.Body.String())
			}
			return
		}
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("HTTP %d: %s", rec.Code, rec.Body.String())
		}
		var st struct {
			Code    int               `json:"code"`
			Message string            `json:"message"`
			Details []json.RawMessage `json:"details"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Code == 0 || st.Message == "" {
			t.Fatalf("HTTP %d: not a google.rpc.Status: %q (%v)", rec.Code, rec.Body.String(), err)
		}
		var found bool
		for _, d := range st.Details {
			var ei struct {
				Type   string `json:"@type"`
				Reason string `json:"reason"`
				Domain string `json:"domain"`
			}
			if json.Unmarshal(d, &ei) == nil && ei.Type == "type.googleapis.com/google.rpc.ErrorInfo" &&
				ei.Domain == ErrorDomain && ei.Reason != "" {
				found = true
			}
		}
		if !found {
			t.Fatalf("HTTP %d without ErrorInfo: %s", rec.Code, rec.Body.String())
		}
	})
}

// newTestGateway is the real gateway in front of the real gRPC server (the
// estimator only) on an in-memory listener.
func newTestGateway(tb testing.TB) http.Handler {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	srv, _ := NewGRPCServer(log, Security{}, NewEstimator(log))
	ln := bufconn.Listen(1 << 20)
	go srv.Serve(ln)
	tb.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	h, err := NewHTTPHandler(context.Background(), conn)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
