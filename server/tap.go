package server

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The tap handle (grpc.InTapHandle) sees a call's headers before gRPC
// reads its request message: it refuses a call without a valid token of
// the method's role there, so that an anonymous client cannot make the
// server read and decode a 64 MiB body (or hold a stream open waiting for
// one) only to be told 401. The interceptors still authorize every call as
// before (they name the actor for audit rows and the access line); the tap
// only makes refusals cheap. A refused call never reaches the interceptors,
// so the tap writes its access line itself, with the fields the logging
// interceptor would have written.

// grpcRefused counts the calls the tap refused, which never reach the
// metrics interceptor.
var grpcRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "impact_grpc_refused_total",
	Help: "gRPC calls refused on their headers, before their request was read, by grpc_method (\"other\" for unknown ones) and grpc_code.",
}, []string{"grpc_method", "grpc_code"})

// untimedStreams are the streaming methods without a server-side call
// deadline (DeadlineStreamInterceptor): they last as long as their job.
var untimedStreams = map[string]bool{
	impactv1.RecomputeService_WatchRecomputeJob_FullMethodName: true,
}

// tapCancelKey carries the cancel func of the tap's deadline to the
// deadline interceptors, which call it when the call ends.
type tapCancelKey struct{}

// newTapHandle returns the InTapHandle of a server with tokens (nil: no
// authentication) and the call timeout max (<= 0: none). Besides refusing,
// it starts the call's server-side deadline at the headers, so a stream
// that never sends its request message is ended by the deadline too
// (gRPC reads the message before any interceptor runs). It runs with the
// connection's lock held, so it never waits.
func newTapHandle(log *slog.Logger, tokens *Tokens, max time.Duration) tap.ServerInHandle {
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		if tokens != nil {
			if err := tokens.check(info.FullMethodName, info.Header); err != nil {
				st := toStatus(ctx, log, err, "")
				id := tapRequestID(info)
				logRefused(ctx, log, info, status.Code(st), id)
				return ctx, withRequestInfo(st, id)
			}
		}
		if max > 0 && !untimedStreams[info.FullMethodName] {
			if d, ok := ctx.Deadline(); !ok || time.Until(d) > max {
				ctx, cancel := context.WithTimeout(ctx, max)
				return context.WithValue(ctx, tapCancelKey{}, cancel), nil
			}
		}
		// Cancellable all the same: the receive gate (recvgate.go) ends a
		// call that found no room through it.
		ctx, cancel := context.WithCancel(ctx)
		return context.WithValue(ctx, tapCancelKey{}, cancel), nil
	}
}

// cancelTapCall cancels the call of ctx through the tap's context: gRPC's
// reading of its request stops, and the call ends CANCELLED.
func cancelTapCall(ctx context.Context) { endTapDeadline(ctx) }

// endTapDeadline releases the timer of the tap's deadline of ctx, if any.
func endTapDeadline(ctx context.Context) {
	if cancel, ok := ctx.Value(tapCancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

// check is authorize on the call's header metadata alone.
func (ts *Tokens) check(fullMethod string, md metadata.MD) error {
	need := RequiredRole(fullMethod)
	if need == Open {
		return nil
	}
	token, err := bearerOf(md.Get("authorization"))
	if err != nil {
		return err
	}
	t, ok := ts.Lookup(token)
	if !ok {
		return impact.Errorf(impact.EUNAUTHENTICATED, "invalid bearer token").WithReason(impact.ReasonInvalidToken)
	}
	if t.Role < need {
		return impact.Errorf(impact.EFORBIDDEN, "%s needs role %s; %q has role %s", fullMethod, need, t.Name, t.Role)
	}
	return nil
}

// tapRequestID is the request id of a call the tap sees: the client's
// first x-request-id if valid, else a new one.
func tapRequestID(info *tap.Info) string {
	if v := info.Header.Get(RequestIDHeader); len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	return newRequestID()
}

// withRequestInfo adds the call's request id to a refusal as a
// google.rpc.RequestInfo detail. gRPC answers a call the tap refused with
// a fixed set of headers (status, message, details) and no metadata, so
// the x-request-id header metadata other calls return cannot be sent:
// the detail is where such a refusal carries it.
func withRequestInfo(st error, id string) error {
	s, ok := status.FromError(st)
	if !ok {
		return st
	}
	if d, err := s.WithDetails(&errdetails.RequestInfo{RequestId: id}); err == nil {
		return d.Err()
	}
	return st
}

// logRefused writes the access line of a call the tap refused.
func logRefused(ctx context.Context, log *slog.Logger, info *tap.Info, code codes.Code, id string) {
	service, method, _ := strings.Cut(strings.TrimPrefix(info.FullMethodName, "/"), "/")
	// The path is the client's: only known methods get a series of their
	// own, or random paths would grow the metrics without bound.
	label := "other"
	if _, ok := MethodRoles[info.FullMethodName]; ok {
		label = info.FullMethodName
	}
	grpcRefused.WithLabelValues(label, code.String()).Inc()
	log.Log(ctx, slog.Level(logging.DefaultServerCodeToLevel(code)), "finished call",
		"protocol", "grpc", "grpc.component", "server",
		"grpc.service", service, "grpc.method", method,
		"grpc.code", code.String(), "grpc.time_ms", "0",
		"request_id", id, "actor", impact.Anonymous, "refused", "headers")
}
