package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/stats"
)

// tapCtx is a call's context as the tap hands it on: cancellable through
// tapCancelKey.
func tapCtx() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	return context.WithValue(ctx, tapCancelKey{}, cancel)
}

// begin runs the gate's Begin for a new call and reports whether it got a
// part (its context not cancelled).
func begin(g *recvGate) (context.Context, bool) {
	ctx := g.TagRPC(tapCtx(), &stats.RPCTagInfo{})
	g.HandleRPC(ctx, &stats.Begin{})
	return ctx, ctx.Err() == nil
}

func TestRecvGate(t *testing.T) {
	g := newRecvGate(2*MaxMessageBytes, 300*time.Millisecond, 50*time.Millisecond)
	a, okA := begin(g)
	b, okB := begin(g)
	if !okA || !okB {
		t.Fatal("two calls do not get the two parts")
	}
	// A third waits: once a has held its part for 50 ms with a waiter, a
	// is cancelled and the part is the waiter's.
	start := time.Now()
	c, okC := begin(g)
	if waited := time.Since(start); !okC || waited < 40*time.Millisecond || waited > 250*time.Millisecond {
		t.Fatalf("third call: got %v after %s, want a part after about 50 ms", okC, waited)
	}
	if a.Err() == nil {
		t.Error("the oldest holder was not cancelled")
	}
	// A call whose request arrived gives its part back at once: a new
	// call gets it without waiting or evicting anyone.
	receivedRequest(b)
	start = time.Now()
	d, okD := begin(g)
	if !okD || time.Since(start) > 20*time.Millisecond || b.Err() != nil || c.Err() != nil {
		t.Fatalf("after a release: %v in %s; b %v, c %v", okD, time.Since(start), b.Err(), c.Err())
	}
	// The end of a call releases too, and twice is once.
	g.HandleRPC(c, &stats.End{})
	g.HandleRPC(c, &stats.End{})
	receivedRequest(d)
	g.mu.Lock()
	free, holders := g.free, len(g.holders)
	g.mu.Unlock()
	if free != 2 || holders != 0 {
		t.Errorf("after every release: %d free, %d holders; want 2 and 0", free, holders)
	}
	// Newest first: with the parts held, the later of two waiters is served
	// first when a part comes back. A gate of its own whose holders are
	// never evicted and whose waiters never give up, so that only the
	// order is tested, whatever the machine's load; each waiter is known
	// to wait (the gate's stack) before the next comes.
	g = newRecvGate(2*MaxMessageBytes, time.Hour, time.Hour)
	h1, _ := begin(g)
	h2, _ := begin(g)
	waiting := func(n int) {
		for {
			g.mu.Lock()
			w := len(g.waiters)
			g.mu.Unlock()
			if w == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	first, second := make(chan context.Context, 1), make(chan context.Context, 1)
	go func() { ctx, _ := begin(g); first <- ctx }()
	waiting(1)
	go func() { ctx, _ := begin(g); second <- ctx }()
	waiting(2)
	receivedRequest(h1)
	select {
	case ctx := <-second:
		receivedRequest(ctx)
	case ctx := <-first:
		t.Error("the older waiter was served first")
		receivedRequest(ctx)
	}
	receivedRequest(h2)
	select {
	case ctx := <-first:
		receivedRequest(ctx)
	case ctx := <-second:
		receivedRequest(ctx)
	case <-time.After(10 * time.Second):
		t.Fatal("the second waiter was never served")
	}
}
