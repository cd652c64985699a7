package server

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/semaphore"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Budget is the request bytes impactd works on at once, over both
// protocols: a request holds its size from before its body is read (HTTP:
// its Content-Length) or from when it is decoded (gRPC) until it is
// answered. The engine's memory grows with its input, so bounding the
// bytes in flight bounds the memory of a burst of large requests. A
// request that does not fit waits a moment for others to finish, then is
// refused with RESOURCE_EXHAUSTED (HTTP 429), which clients retry.
type Budget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

// DefaultBudgetWait is how long a request waits for room in the budget.
const DefaultBudgetWait = 2 * time.Second

// NewBudget returns a budget of size bytes (at least MaxMessageBytes, so
// that any admissible request fits alone), whose requests wait up to wait.
func NewBudget(size int64, wait time.Duration) *Budget {
	size = max(size, MaxMessageBytes)
	return &Budget{sem: semaphore.NewWeighted(size), size: size, wait: wait}
}

// Size is the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

var budgetInUse = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "impact_inflight_request_bytes",
	Help: "Request bytes being worked on (the budget of --max-inflight-bytes), over gRPC and HTTP.",
})

var budgetRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "impact_inflight_refused_total",
	Help: "Requests refused with RESOURCE_EXHAUSTED because the in-flight request bytes were at their limit, by protocol.",
}, []string{"protocol"})

// acquire takes n bytes (at most the whole budget) and returns their
// release. When ctx ends first its error is returned, else a
// RESOURCE_EXHAUSTED status.
func (b *Budget) acquire(ctx context.Context, n int64, protocol string) (func(), error) {
	n = min(max(n, 1), b.size)
	if !b.sem.TryAcquire(n) {
		wctx, cancel := context.WithTimeout(ctx, b.wait)
		err := b.sem.Acquire(wctx, n)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			budgetRefused.WithLabelValues(protocol).Inc()
			return nil, b.exhausted()
		}
	}
	budgetInUse.Add(float64(n))
	return func() {
		budgetInUse.Sub(float64(n))
		b.sem.Release(n)
	}, nil
}

// exhausted is the status of a request that found no room.
func (b *Budget) exhausted() error {
	st, err := status.New(codes.ResourceExhausted, fmt.Sprintf(
		"server busy: the requests in flight hold the limit of %d bytes; retry later", b.size)).
		WithDetails(&errdetails.ErrorInfo{Reason: "SERVER_BUSY", Domain: ErrorDomain},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		panic(err) // both details always marshal
	}
	return st.Err()
}

// unaryInterceptor holds a call's request size for the length of the call.
// It runs after authentication: refused calls cost nothing. The gateway's
// calls reach a server without it (impactd's gatewayLink): their bytes are
// held on the HTTP side already.
func (b *Budget) unaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		var n int64
		switch m := req.(type) {
		case interface{ SizeVT() int }: // generated, no reflection; the same size
			n = int64(m.SizeVT())
		case proto.Message:
			n = int64(proto.Size(m))
		}
		release, err := b.acquire(ctx, n, "grpc")
		if err != nil {
			if s, ok := status.FromError(err); ok && s.Code() == codes.ResourceExhausted {
				return nil, err
			}
			return nil, toStatus(ctx, nil, err, "")
		}
		defer release()
		return handler(ctx, req)
	}
}
