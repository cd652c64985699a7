package server

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/impact-svc/impact/impact"
)

// unhandledCalls is a stats.Handler that writes the access line of a call
// that ended before any interceptor ran: its deadline (started at the
// headers by the tap handle) passed, or its client went away, while its
// request message was still arriving. Such a call never reaches the
// logging interceptor, yet the access log must record its
// DEADLINE_EXCEEDED or CANCELLED like any other. Calls that reach the
// interceptors are logged there, and calls the tap refuses by the tap.
type unhandledCalls struct{ log *slog.Logger }

type callSeenKey struct{}

// callSeen is what unhandledCalls knows of one call.
type callSeen struct {
	method    string
	start     time.Time
	requestID string
	reached   atomic.Bool // set by the first interceptor
}

// markReached records that ctx's call reached the interceptors.
func markReached(ctx context.Context) {
	if c, ok := ctx.Value(callSeenKey{}).(*callSeen); ok {
		c.reached.Store(true)
	}
}

func (h unhandledCalls) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, callSeenKey{}, &callSeen{method: info.FullMethodName, start: time.Now()})
}

func (h unhandledCalls) HandleRPC(ctx context.Context, s stats.RPCStats) {
	c, ok := ctx.Value(callSeenKey{}).(*callSeen)
	if !ok {
		return
	}
	switch s := s.(type) {
	case *stats.InHeader:
		if v := s.Header.Get(RequestIDHeader); len(v) > 0 && validRequestID(v[0]) {
			c.requestID = v[0]
		}
	case *stats.End:
		if c.reached.Load() {
			return
		}
		id := c.requestID
		if id == "" {
			id = newRequestID()
		}
		service, name, _ := strings.Cut(strings.TrimPrefix(c.method, "/"), "/")
		code := status.Code(s.Error)
		h.log.Log(ctx, slog.Level(logging.DefaultServerCodeToLevel(code)), "finished call",
			"protocol", "grpc", "grpc.component", "server",
			"grpc.service", service, "grpc.method", name,
			"grpc.code", code.String(), "grpc.time_ms", time.Since(c.start).Milliseconds(),
			"request_id", id, "actor", impact.Anonymous, "refused", "before handler")
	}
}

func (unhandledCalls) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (unhandledCalls) HandleConn(context.Context, stats.ConnStats)                       {}
