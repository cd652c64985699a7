package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Drain ends streams only once the unary calls in flight have returned.
func TestDrainerOrder(t *testing.T) {
	d := NewDrainer()
	release := make(chan struct{})
	unaryDone := make(chan struct{})
	go func() {
		defer close(unaryDone)
		d.unaryInterceptor(context.Background(), nil, nil, func(context.Context, any) (any, error) {
			<-release
			return nil, nil
		})
	}()
	streamErr := make(chan error, 1)
	streaming := make(chan struct{})
	go func() {
		streamErr <- d.streamInterceptor(nil, fakeStream{ctx: context.Background()}, nil, func(_ any, ss grpc.ServerStream) error {
			close(streaming)
			<-ss.Context().Done() // a watch: until the client or shutdown ends it
			return status.Error(codes.Canceled, "stream ended")
		})
	}()
	<-streaming
	for d.unaryCount() == 0 {
		time.Sleep(time.Millisecond)
	}
	drained := make(chan struct{})
	go func() { d.Drain(context.Background()); close(drained) }()
	select {
	case err := <-streamErr:
		t.Fatalf("stream ended while a unary call was in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-unaryDone
	err := <-streamErr
	<-drained
	if st := status.Convert(err); st.Code() != codes.Unavailable || len(st.Details()) != 1 {
		t.Errorf("stream ended with %v, want UNAVAILABLE with an ErrorInfo", err)
	}
	// A stream that starts after the drain ends at once.
	err = d.streamInterceptor(nil, fakeStream{ctx: context.Background()}, nil, func(any, grpc.ServerStream) error {
		t.Error("a stream started after the drain ran")
		return nil
	})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("late stream: %v", err)
	}
	// A client that cancels keeps its own status.
	d2 := NewDrainer()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = d2.streamInterceptor(nil, fakeStream{ctx: ctx}, nil, func(_ any, ss grpc.ServerStream) error {
		<-ss.Context().Done()
		return status.Error(codes.Canceled, "client went away")
	})
	if status.Code(err) != codes.Canceled {
		t.Errorf("client cancel became %v", err)
	}
}
