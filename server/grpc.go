package server

import (
	"context"
	"log/slog"
	"runtime/debug"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

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
// panic-recovery interceptors on every call. The caller serves it and sets
// health NOT_SERVING (health.Shutdown) when stopping.
func NewGRPCServer(log *slog.Logger, est impactv1.EstimatorServiceServer, more ...Registrar) (*grpc.Server, *health.Server) {
	// Logging is outermost so that a recovered panic is logged with the
	// INTERNAL code it became.
	logger := logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		log.Log(ctx, slog.Level(lvl), msg, fields...)
	})
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.FinishCall)}
	recoverOpts := []recovery.Option{recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in gRPC handler", "panic", p, "stack", string(debug.Stack()))
		return status.Error(codes.Internal, "internal error")
	})}

	s := grpc.NewServer(
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(
			logging.UnaryServerInterceptor(logger, logOpts...),
			recovery.UnaryServerInterceptor(recoverOpts...),
		),
		grpc.ChainStreamInterceptor(
			logging.StreamServerInterceptor(logger, logOpts...),
			recovery.StreamServerInterceptor(recoverOpts...),
		),
	)
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
	return s, hs
}
