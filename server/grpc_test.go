package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// syncBuffer is a log sink safe for the server's goroutines.
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

// startGRPC serves NewGRPCServer over an in-memory listener; extra registers
// test-only services before serving.
func startGRPC(t *testing.T, est *Estimator, extra func(*grpc.Server)) (*grpc.ClientConn, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	est.log = log
	srv, _ := NewGRPCServer(log, Security{}, est)
	if extra != nil {
		extra(srv)
	}
	ln := bufconn.Listen(1 << 20)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, logs
}

var panicStreamDesc = grpc.ServiceDesc{
	ServiceName: "test.Panicker",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Boom",
		ServerStreams: true,
		Handler:       func(any, grpc.ServerStream) error { panic("stream boom") },
	}},
}

func TestPanicsBecomeInternalAndServerKeepsServing(t *testing.T) {
	est := NewEstimator(slog.New(slog.DiscardHandler))
	est.estimate = func(*impact.Scenario, impact.Limits) (*impact.Estimate, error) { panic("engine boom") }
	conn, logs := startGRPC(t, est, func(s *grpc.Server) { s.RegisterService(&panicStreamDesc, struct{}{}) })
	ctx := context.Background()
	client := impactv1.NewEstimatorServiceClient(conn)

	for i := 0; i < 2; i++ {
		_, err := client.Estimate(ctx, &impactv1.EstimateRequest{Scenario: &impactv1.Scenario{}})
		st := status.Convert(err)
		if st.Code() != codes.Internal || st.Message() != "internal error" {
			t.Fatalf("call %d: got %v %q, want INTERNAL \"internal error\"", i, st.Code(), st.Message())
		}
		want := []any{&errdetails.ErrorInfo{Reason: "INTERNAL", Domain: "impact.v1"}}
		if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
			t.Errorf("call %d: details (-want +got):\n%s", i, diff)
		}
	}
	stream, err := conn.NewStream(ctx, &panicStreamDesc.Streams[0], "/test.Panicker/Boom")
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var out healthpb.HealthCheckResponse // any message; the handler never sends
	if err := stream.RecvMsg(&out); status.Code(err) != codes.Internal {
		t.Fatalf("stream: got %v, want INTERNAL", err)
	}

	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "impact.v1.EstimatorService"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("after panics: health %v, %v; want SERVING", resp, err)
	}
	for _, want := range []string{"engine boom", "stream boom", `"grpc.code":"Internal"`, "finished call"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

func TestEstimateNilScenario(t *testing.T) {
	called := false
	est := NewEstimator(slog.New(slog.DiscardHandler))
	est.estimate = func(*impact.Scenario, impact.Limits) (*impact.Estimate, error) {
		called = true
		return nil, nil
	}
	conn, _ := startGRPC(t, est, nil)
	_, err := impactv1.NewEstimatorServiceClient(conn).Estimate(context.Background(), &impactv1.EstimateRequest{})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("got %v, want INVALID_ARGUMENT", err)
	}
	want := []any{
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "scenario", Description: "is required"}}},
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: "impact.v1"},
	}
	if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if called {
		t.Error("the engine ran for a request without a scenario")
	}
}

// The engine gets the stateless API's limits and the mapped scenario.
func TestEstimatePassesDefaultLimits(t *testing.T) {
	var gotLim impact.Limits
	var gotIDs []string
	est := NewEstimator(slog.New(slog.DiscardHandler))
	est.estimate = func(s *impact.Scenario, lim impact.Limits) (*impact.Estimate, error) {
		gotLim = lim
		for _, c := range s.Customers {
			gotIDs = append(gotIDs, c.ID)
		}
		return &impact.Estimate{ModelVersion: "m"}, nil
	}
	conn, _ := startGRPC(t, est, nil)
	resp, err := impactv1.NewEstimatorServiceClient(conn).Estimate(context.Background(), &impactv1.EstimateRequest{
		Scenario: &impactv1.Scenario{Customers: []*impactv1.Customer{{CustomerId: "a"}, {CustomerId: "b"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetModelVersion() != "m" {
		t.Errorf("model version %q", resp.GetModelVersion())
	}
	if gotLim != impact.DefaultLimits() {
		t.Errorf("limits %+v, want DefaultLimits", gotLim)
	}
	if diff := cmp.Diff([]string{"a", "b"}, gotIDs); diff != "" {
		t.Errorf("customers (-want +got):\n%s", diff)
	}
}
