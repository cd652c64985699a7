package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

func TestValidRequestID(t *testing.T) {
	for _, c := range []struct {
		id   string
		want bool
	}{
		{"abc", true},
		{"123e4567-e89b-12d3-a456-426614174000", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"two words", false},
		{"line\nbreak", false},
		{"caf\u00e9", false},
	} {
		if got := validRequestID(c.id); got != c.want {
			t.Errorf("validRequestID(%q) = %v, want %v", c.id, got, c.want)
		}
	}
}

// The unary interceptor keeps a valid incoming id, replaces an invalid
// one, and makes it visible to the handler through RequestID.
func TestRequestIDUnary(t *testing.T) {
	for _, c := range []struct {
		incoming string
		keep     bool
	}{{"abc", true}, {"", false}, {"bad id", false}} {
		ctx := context.Background()
		if c.incoming != "" {
			ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(RequestIDHeader, c.incoming))
		}
		var seen string
		_, err := requestIDUnary(ctx, nil, &grpc.UnaryServerInfo{}, func(ctx context.Context, _ any) (any, error) {
			seen = RequestID(ctx)
			return nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.keep && seen != c.incoming {
			t.Errorf("incoming %q: RequestID = %q", c.incoming, seen)
		}
		if !c.keep && (len(seen) != 32 || seen == c.incoming) {
			t.Errorf("incoming %q: RequestID = %q, want a new 32-digit id", c.incoming, seen)
		}
	}
	if got := RequestID(context.Background()); got != "" {
		t.Errorf("RequestID outside a call = %q", got)
	}
}

func TestHeaderMatchers(t *testing.T) {
	if k, ok := incomingHeaderMatcher("x-request-id"); !ok || k != RequestIDHeader {
		t.Errorf("incoming X-Request-Id -> %q, %v", k, ok)
	}
	// Everything else keeps the gateway's default.
	if k, ok := incomingHeaderMatcher("X-Unrelated"); ok {
		t.Errorf("incoming X-Unrelated forwarded as %q", k)
	}
	if _, ok := outgoingHeaderMatcher(RequestIDHeader); ok {
		t.Error("x-request-id response metadata forwarded: the HTTP answer would carry it twice")
	}
	// No gRPC metadata becomes an HTTP header (Grpc-Metadata-*).
	for _, k := range []string{"content-type", "other", "grpc-status"} {
		if h, ok := outgoingHeaderMatcher(k); ok {
			t.Errorf("outgoing %s -> %q: gRPC plumbing leaks into HTTP", k, h)
		}
	}
}

// The HTTP side answers with the id it forwards, even when nothing behind
// it runs gRPC.
func TestHTTPRequestID(t *testing.T) {
	var forwarded string
	h := httpRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		forwarded = r.Header.Get("X-Request-Id")
		http.NotFound(w, r)
	}))
	for _, sent := range []string{"abc", ""} {
		r := httptest.NewRequest(http.MethodGet, "/nowhere", nil)
		if sent != "" {
			r.Header.Set("X-Request-Id", sent)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := w.Header().Values("X-Request-Id")
		if len(got) != 1 || got[0] != forwarded || (sent != "" && got[0] != sent) || len(got[0]) == 0 {
			t.Errorf("sent %q: answered %q, forwarded %q", sent, got, forwarded)
		}
	}
}
