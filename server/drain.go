package server

import (
	"context"
	"sync"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Drainer ends open streams on shutdown. grpc.Server.GracefulStop waits
// for every call, and a stream (Health/Watch, WatchRecomputeJob, over
// gRPC or through the gateway) may last for ever: one open watch would
// hold shutdown for its whole grace period. Given to NewGRPCServer among
// its services, a Drainer counts the unary calls in flight and gives every
// stream a context of its own; Drain waits for the unary calls to finish
// and then ends each stream with UNAVAILABLE, reason SHUTTING_DOWN, which
// tells a client to reconnect (to another replica) rather than that
// something failed.
type Drainer struct {
	mu       sync.Mutex
	draining bool // Drain was called
	ended    bool // Drain ended the streams; later ones end at once
	unary    int
	idle     chan struct{} // closed (once) when draining and unary reaches 0
	idleDone bool
	streams  map[*streamSlot]struct{}
}

// checkIdle closes idle once draining with no unary call; d.mu is held.
func (d *Drainer) checkIdle() {
	if d.draining && d.unary == 0 && !d.idleDone {
		d.idleDone = true
		close(d.idle)
	}
}

type streamSlot struct{ cancel context.CancelFunc }

// NewDrainer returns a Drainer for one gRPC server.
func NewDrainer() *Drainer {
	return &Drainer{idle: make(chan struct{}), streams: map[*streamSlot]struct{}{}}
}

// Register does nothing; see Drainer.
func (*Drainer) Register(grpc.ServiceRegistrar) {}

// errShuttingDown is how a stream ends when impactd stops.
var errShuttingDown = mustWithInfo(codes.Unavailable,
	"impactd is shutting down: reconnect, to another replica if there is one", "SHUTTING_DOWN")

// Drain waits until no unary call is in flight (or ctx ends), then ends
// every open stream, and every stream that starts later at once.
func (d *Drainer) Drain(ctx context.Context) {
	d.mu.Lock()
	d.draining = true
	d.checkIdle()
	d.mu.Unlock()
	select {
	case <-d.idle:
	case <-ctx.Done():
	}
	d.mu.Lock()
	d.ended = true
	for s := range d.streams {
		s.cancel()
	}
	d.mu.Unlock()
}

func (d *Drainer) unaryInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	d.mu.Lock()
	d.unary++
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.unary--
		d.checkIdle()
		d.mu.Unlock()
	}()
	return handler(ctx, req)
}

func (d *Drainer) streamInterceptor(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	slot := &streamSlot{cancel: cancel}
	d.mu.Lock()
	if d.ended {
		d.mu.Unlock()
		return errShuttingDown
	}
	d.streams[slot] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.streams, slot)
		d.mu.Unlock()
	}()
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = ctx
	err := handler(srv, w)
	if ctx.Err() != nil && ss.Context().Err() == nil {
		return errShuttingDown // we ended it, the client did not
	}
	return err
}

// drainerOf is the Drainer among more, or nil.
func drainerOf(more []Registrar) *Drainer {
	for _, r := range more {
		if d, ok := r.(*Drainer); ok {
			return d
		}
	}
	return nil
}

// unaryCount is the number of unary calls in flight (tests).
func (d *Drainer) unaryCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.unary
}
