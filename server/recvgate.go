package server

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// The receive gate bounds what gRPC holds of requests still arriving.
// The budget (budget.go) counts a gRPC request once it is decoded, but gRPC
// reads a message before any interceptor runs, and while it reads one it
// lets its client send the whole of it (it opens the stream's window to
// the message's declared length, up to MaxMessageBytes): concurrent calls
// sending large messages, slowly or never finishing them, would hold their
// bytes with nothing counting them. gRPC offers no hook between a
// message's length and its bytes, so the gate counts the worst case: a call
// takes MaxMessageBytes of the receiving allowance before gRPC starts
// reading its request (stats.Begin, in the call's goroutine) and gives them
// back once the request is decoded (its first interceptor) or the call
// ends. Until it gets them, the call's stream window stays at its static
// initial size (StreamWindowBytes), which is all a waiting call can make
// impactd buffer. A call that does not get them within DefaultBudgetWait
// is cancelled (gRPC has no way to answer a status from there: the client
// sees CANCELLED) and counted in impact_inflight_refused_total{protocol=
// "grpc_receive"}; one holding them for ReceiveHold without its request
// having arrived while others wait is cancelled too, so that streams that
// never send (or trickle) cannot keep the gate shut. So memory held for
// requests is at most the allowance, plus StreamWindowBytes per open
// stream, plus the budget once decoded.

// StreamWindowBytes is the static HTTP/2 window of a gRPC stream (gRPC's
// own initial one, without its dynamic growth): what a client may send on a
// stream that is not being read.
const StreamWindowBytes = 64 << 10

// ConnWindowBytes is the static window of a gRPC connection. gRPC returns
// connection window as data arrives (the stream windows bound what is
// buffered), so this bounds throughput, not memory: 16 MiB is what gRPC's
// dynamic window grows to at most.
const ConnWindowBytes = 16 << 20

// DefaultReceivingBytes is the default receiving allowance: four largest
// messages arriving at once.
const DefaultReceivingBytes = 4 * MaxMessageBytes

var recvReserved = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "impact_grpc_receiving_reserved_bytes",
	Help: "Bytes of the gRPC receiving allowance (--grpc-max-receiving-bytes) reserved by calls whose request is still arriving.",
})

var recvEvicted = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "impact_grpc_receiving_evicted_total",
	Help: "gRPC calls cancelled because their request had not arrived within 200ms of its reading starting while other calls waited to be read.",
})

// ReceiveHold is how long a call may hold its part of the allowance
// without its request having arrived while other calls wait for one: then
// it is cancelled and its part goes to a waiting call. So a stream that
// never sends its request (or trickles it) delays others by at most this,
// and a request that takes longer to arrive is refused only when others
// are waiting. 64 MiB in 200 ms is 320 MiB/s: a large request from a slow
// client is refused only while four others are being read.
const ReceiveHold = 200 * time.Millisecond

// recvGate is the stats.Handler of the receive gate: size/MaxMessageBytes
// parts, given to waiting calls newest first. Newest first because the
// calls that wait longest under an attack are the attack's own (streams
// opened in bulk that never send): a call arriving later is served at the
// next free part, not behind all of them. A waiting call evicts the
// oldest holder that has held its part for ReceiveHold.
type recvGate struct {
	mu      sync.Mutex
	free    int
	waiters []chan struct{} // a stack: the last waits least
	holders []*recvHold     // by admission, oldest first
	wait    time.Duration
	hold    time.Duration
}

func newRecvGate(size int64, wait, hold time.Duration) *recvGate {
	return &recvGate{free: int(max(size, MaxMessageBytes) / MaxMessageBytes), wait: wait, hold: hold}
}

// acquire takes a part for h, waiting up to g.wait (or ctx's end).
func (g *recvGate) acquire(ctx context.Context, h *recvHold) bool {
	g.mu.Lock()
	if g.free > 0 {
		g.free--
		g.admitLocked(h)
		g.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	g.waiters = append(g.waiters, ch)
	g.mu.Unlock()
	giveUp := time.NewTimer(g.wait)
	defer giveUp.Stop()
	for {
		victim, next := g.oldest()
		if victim != nil {
			victim.evict()
			next = time.Millisecond // the part may have gone to a newer waiter
		}
		tick := time.NewTimer(next)
		select {
		case <-ch:
			tick.Stop()
			g.mu.Lock()
			g.admitLocked(h)
			g.mu.Unlock()
			return true
		case <-tick.C:
			continue
		case <-giveUp.C:
		case <-ctx.Done():
		}
		tick.Stop()
		break
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, w := range g.waiters {
		if w == ch {
			g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
			return false
		}
	}
	// Given a part as the wait ended: hand it on.
	g.handOnLocked()
	return false
}

func (g *recvGate) admitLocked(h *recvHold) {
	h.since = time.Now()
	h.held = true
	g.holders = append(g.holders, h)
	recvReserved.Add(MaxMessageBytes)
}

// oldest returns the oldest holder if it has held its part for g.hold,
// else how long until it will have (g.hold without holders).
func (g *recvGate) oldest() (*recvHold, time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.holders) == 0 {
		return nil, g.hold
	}
	h := g.holders[0]
	if d := g.hold - time.Since(h.since); d > 0 {
		return nil, d
	}
	return h, 0
}

// release gives h's part back: to the newest waiter, if any.
func (g *recvGate) release(h *recvHold) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, o := range g.holders {
		if o == h {
			g.holders = append(g.holders[:i], g.holders[i+1:]...)
			break
		}
	}
	recvReserved.Sub(MaxMessageBytes)
	g.handOnLocked()
}

func (g *recvGate) handOnLocked() {
	if n := len(g.waiters); n > 0 {
		close(g.waiters[n-1])
		g.waiters = g.waiters[:n-1]
		return
	}
	g.free++
}

type recvHoldKey struct{}

// recvHold is one call's part of the allowance.
type recvHold struct {
	g     *recvGate
	ctx   context.Context
	mu    sync.Mutex
	held  bool // set under g.mu, before the hold is shared
	done  bool
	since time.Time
}

// evict cancels h's call, whose request has not arrived in the gate's
// hold while others wait, and gives its part back.
func (h *recvHold) evict() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done {
		return
	}
	recvEvicted.Inc()
	cancelTapCall(h.ctx)
	h.releaseLocked()
}

// release gives the call's part back, once.
func (h *recvHold) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.releaseLocked()
}

func (h *recvHold) releaseLocked() {
	if h.done {
		return
	}
	h.done = true
	if h.held {
		h.g.release(h)
	}
}

// receivedRequest releases ctx's hold, if any: its request is decoded.
func receivedRequest(ctx context.Context) {
	if h, ok := ctx.Value(recvHoldKey{}).(*recvHold); ok {
		h.release()
	}
}

func (g *recvGate) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, recvHoldKey{}, &recvHold{g: g})
}

func (g *recvGate) HandleRPC(ctx context.Context, s stats.RPCStats) {
	h, ok := ctx.Value(recvHoldKey{}).(*recvHold)
	if !ok {
		return
	}
	switch s.(type) {
	case *stats.Begin:
		h.ctx = ctx
		if !g.acquire(ctx, h) {
			if ctx.Err() == nil {
				budgetRefused.WithLabelValues("grpc_receive").Inc()
			}
			cancelTapCall(ctx)
		}
	case *stats.End:
		h.release()
	}
}

func (*recvGate) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (*recvGate) HandleConn(context.Context, stats.ConnStats)                       {}

// receivedUnary releases the call's hold: gRPC has decoded its request.
func receivedUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	receivedRequest(ctx)
	return handler(ctx, req)
}

// receivedStream releases the call's hold once its first request message
// is decoded (impact's streams are server streams: one request).
func receivedStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &firstRecvStream{ServerStream: ss})
}

type firstRecvStream struct {
	grpc.ServerStream
	done bool
}

func (s *firstRecvStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if !s.done {
		s.done = true
		receivedRequest(s.Context())
	}
	return err
}
