package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// MaxMessageBytes bounds one gRPC message either way (and the gateway's
// request body). gRPC's 4 MiB default is below what impact.DefaultLimits
// admits (10,000 customers with 168-entry weekly profiles), so the engine's
// limits, not the transport, decide what is too big.
const MaxMessageBytes = 64 << 20

// Registrar is a set of services that registers itself on a gRPC server,
// such as *Stored.
type Registrar interface {
	Register(grpc.ServiceRegistrar)
}

// NewGRPCServer returns a gRPC server with the impact services (the
// estimator and every one of more), gRPC health (SERVING for "" and every
// impact service) and reflection registered, and access-logging and
// panic-recovery interceptors on every call. With sec.Tokens, every call
// also needs a bearer token of the method's role (MethodRoles); with sec.TLS
// connections are encrypted. The zero Security is neither, for a server
// that only listens on loopback. The caller serves it and sets health
// NOT_SERVING (health.Shutdown) when stopping.
func NewGRPCServer(log *slog.Logger, sec Security, est impactv1.EstimatorServiceServer, more ...Registrar) (*grpc.Server, *health.Server) {
	// Logging is outermost so that a recovered panic is logged with the
	// INTERNAL code it became.
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall), logging.WithFieldsFromContext(accessLogFields)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in gRPC handler", "panic", p, "stack", string(debug.Stack()))
		return errInternal // with its ErrorInfo, like every other error
	})}

	// Every call gets a server-side deadline (CallTimeout among more, else
	// DefaultCallTimeout), inside logging so its DEADLINE_EXCEEDED is logged.
	timeout := callTimeout(more)
	// The request id comes first so that the access line can carry it;
	// metrics count a call with the code logging reports.
	unary := []grpc.UnaryServerInterceptor{
		requestIDUnary,
		grpcMetrics.UnaryServerInterceptor(),
		logging.UnaryServerInterceptor(logger, logOpts...),
		recovery.UnaryServerInterceptor(recoverOpts...),
		DeadlineUnaryInterceptor(timeout),
	}
	stream := []grpc.StreamServerInterceptor{
		requestIDStream,
		grpcMetrics.StreamServerInterceptor(),
		logging.StreamServerInterceptor(logger, logOpts...),
		recovery.StreamServerInterceptor(recoverOpts...),
		DeadlineStreamInterceptor(timeout),
	}
	if sec.Tokens != nil {
		// Inside logging, so refused calls are logged with their code.
		unary = append(unary, sec.Tokens.UnaryInterceptor(log))
		stream = append(stream, sec.Tokens.StreamInterceptor(log))
	}
	unary = append(unary, recordActorUnary)
	stream = append(stream, recordActorStream)
	// Streams, headers, keepalive and connection ages bounded, and calls
	// refused on their headers by the tap handle (tap.go); an authorized
	// call's request bytes then hold their part of the budget, before any
	// work is done on them.
	tr := transportOf(more)
	if tr.Budget != nil {
		// First of all: the request is decoded, so its receive gate hold
		// (recvgate.go) goes back before anything else may wait.
		unary = append([]grpc.UnaryServerInterceptor{receivedUnary}, unary...)
		stream = append([]grpc.StreamServerInterceptor{receivedStream}, stream...)
		unary = append(unary, tr.Budget.unaryInterceptor())
	}
	unary = append(unary, nulUnary) // after authentication: see nul.go
	stream = append(stream, nulStream)
	if d := drainerOf(more); d != nil {
		// Inside logging, so a stream ended by shutdown is logged UNAVAILABLE.
		unary = append(unary, d.unaryInterceptor)
		stream = append(stream, d.streamInterceptor)
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
	}
	opts = append(opts, tr.serverOptions(log, sec.Tokens, timeout)...)
	if sec.TLS != nil {
		opts = append(opts, grpc.Creds(sec.TLS))
	}
	s := grpc.NewServer(opts...)
	impactv1.RegisterEstimatorServiceServer(s, est)
	for _, r := range more {
		r.Register(s)
	}

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range s.GetServiceInfo() {
		hs.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	healthpb.RegisterHealthServer(s, hs)
	reflection.Register(s)
	// Zero series for every method, so rates work from the first scrape.
	grpcMetrics.InitializeMetrics(s)
	return s, hs
}
