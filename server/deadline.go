package server

import (
	"context"
	"time"

	"google.golang.org/grpc"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// DefaultCallTimeout is the longest any call may run when impactd is not
// told otherwise (--call-timeout). The largest estimate DefaultLimits admits
// takes a few seconds; 30 s leaves room on a loaded machine while still
// freeing a stuck call's goroutine, memory and database connection.
const DefaultCallTimeout = 30 * time.Second

// withCallDeadline bounds ctx by max from now: a client that sends no
// deadline, or a later one, cannot hold server resources longer than max.
// An earlier client deadline stands. max <= 0 leaves ctx alone.
func withCallDeadline(ctx context.Context, max time.Duration) (context.Context, context.CancelFunc) {
	if max <= 0 {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= max {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, max)
}

// DeadlineUnaryInterceptor applies withCallDeadline to every unary call.
// Handlers pass ctx down to the store and the engine honours the limits, so
// a call past its deadline ends with DEADLINE_EXCEEDED instead of hanging.
func DeadlineUnaryInterceptor(max time.Duration) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		defer endTapDeadline(ctx)
		ctx, cancel := withCallDeadline(ctx, max)
		defer cancel()
		resp, err := handler(ctx, req)
		if ctx.Err() != nil {
			return nil, ranOut(ctx)
		}
		return resp, err
	}
}

// DeadlineStreamInterceptor applies withCallDeadline to every streaming
// call (export streams included) except WatchRecomputeJob: a watch lasts
// as long as its job, possibly hours, and costs one goroutine and a small
// read every 250 ms; it ends with the job or when the client goes.
func DeadlineStreamInterceptor(max time.Duration) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		defer endTapDeadline(ss.Context())
		if info.FullMethod == impactv1.RecomputeService_WatchRecomputeJob_FullMethodName {
			return handler(srv, ss)
		}
		ctx, cancel := withCallDeadline(ss.Context(), max)
		defer cancel()
		err := handler(srv, &deadlineStream{ServerStream: ss, ctx: ctx})
		if ctx.Err() != nil {
			return ranOut(ctx)
		}
		return err
	}
}

// ranOut is the status of a call whose context ended before its handler
// returned: DEADLINE_EXCEEDED or CANCELLED, whatever the handler made of
// it, so that the access line and the metrics record that the call ran
// out, not an OK (or an error) nobody received in time.
func ranOut(ctx context.Context) error {
	return toStatus(ctx, nil, ctx.Err(), "")
}

// deadlineStream is ss with the bounded context.
type deadlineStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *deadlineStream) Context() context.Context { return s.ctx }

// CallTimeout, given to NewGRPCServer among its services, replaces
// DefaultCallTimeout as the longest a call may run; 0 or less turns the
// server-side deadline off. It registers nothing: it rides in the services
// list so that NewGRPCServer's signature, used by every caller, stays put.
type CallTimeout time.Duration

// Register does nothing; see CallTimeout.
func (CallTimeout) Register(grpc.ServiceRegistrar) {}

// callTimeout is the last CallTimeout in more, else DefaultCallTimeout.
func callTimeout(more []Registrar) time.Duration {
	d := DefaultCallTimeout
	for _, r := range more {
		if ct, ok := r.(CallTimeout); ok {
			d = time.Duration(ct)
		}
	}
	return d
}
