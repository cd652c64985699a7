package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/textproto"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/impact-svc/impact/impact"
)

// Request ids: every call has one, taken from the caller's x-request-id
// (gRPC metadata, or the HTTP X-Request-Id header the gateway forwards as
// that metadata) or made up, returned to the caller (response header
// metadata; the HTTP header X-Request-Id) and written into the call's
// access log line, so that a client's report and the server's log can be
// matched.

// RequestIDHeader is the metadata key (and, canonicalised, the HTTP header)
// of the request id.
const RequestIDHeader = "x-request-id"

// maxRequestIDLen bounds a client's request id: it is written into every
// log line of the call.
const maxRequestIDLen = 128

// callInfo is what the access log line reports beyond the library's own
// fields. The request id interceptor, outermost, puts it into the context
// the logging interceptor captures; recordActor, inside auth, fills in the
// actor, which auth adds to a context the logging interceptor never sees.
type callInfo struct {
	requestID string
	actor     string // "" until authentication named the caller
}

type callInfoKey struct{}

func callInfoFrom(ctx context.Context) *callInfo {
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	return ci
}

// RequestID returns the request id of the call ctx belongs to, or "" outside
// a call.
func RequestID(ctx context.Context) string {
	if ci := callInfoFrom(ctx); ci != nil {
		return ci.requestID
	}
	return ""
}

// validRequestID accepts 1 to 128 printable ASCII characters without
// spaces: enough for UUIDs and tracing ids, and nothing that could forge or
// break a text log line.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// withRequestID returns ctx with the call's callInfo, whose request id is
// the first valid x-request-id of the incoming metadata or a new one.
func withRequestID(ctx context.Context) (context.Context, *callInfo) {
	ci := &callInfo{}
	if vals := metadata.ValueFromIncomingContext(ctx, RequestIDHeader); len(vals) > 0 && validRequestID(vals[0]) {
		ci.requestID = vals[0]
	} else {
		ci.requestID = newRequestID()
	}
	return context.WithValue(ctx, callInfoKey{}, ci), ci
}

func requestIDUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	markReached(ctx)
	ctx, ci := withRequestID(ctx)
	// Set, not sent: it goes out with the response headers, or with the
	// status when the call fails first.
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, ci.requestID))
	return handler(ctx, req)
}

func requestIDStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	markReached(ss.Context())
	ctx, ci := withRequestID(ss.Context())
	_ = ss.SetHeader(metadata.Pairs(RequestIDHeader, ci.requestID))
	w := middleware.WrapServerStream(ss)
	w.WrappedContext = ctx
	return handler(srv, w)
}

// recordActorUnary and recordActorStream sit inside auth and note the
// caller it authenticated for the access log.
func recordActorUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	recordActor(ctx)
	return handler(ctx, req)
}

func recordActorStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	recordActor(ss.Context())
	return handler(srv, ss)
}

func recordActor(ctx context.Context) {
	if ci := callInfoFrom(ctx); ci != nil {
		ci.actor = impact.ActorFrom(ctx)
	}
}

// accessLogFields are the fields the logging interceptor adds to its
// "finished call" line: the request id, and the actor (the token's name,
// or impact.Anonymous when there was none or it was refused).
func accessLogFields(ctx context.Context) logging.Fields {
	ci := callInfoFrom(ctx)
	if ci == nil {
		return nil
	}
	actor := ci.actor
	if actor == "" {
		actor = impact.Anonymous
	}
	return logging.Fields{"request_id", ci.requestID, "actor", actor}
}

var requestIDHTTPHeader = textproto.CanonicalMIMEHeaderKey(RequestIDHeader)

// HTTPRequestID is httpRequestID for the outermost handler of the HTTP
// listener: every response then carries X-Request-Id, those of the
// handlers in front of the gateway (the console's refusals, the guard's,
// /metrics, /healthz) too, and the gateway's own httpRequestID keeps the
// id it finds.
func HTTPRequestID(h http.Handler) http.Handler { return httpRequestID(h) }

// httpRequestID gives every gateway request a valid X-Request-Id (the
// client's or a new one) before the gateway forwards it as metadata, and
// returns it in the response header. Doing it here rather than from the
// gRPC response header metadata also covers requests that never reach gRPC
// (no route, a body too large), and answers with one header, not two.
func httpRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHTTPHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		r.Header.Set(requestIDHTTPHeader, id)
		w.Header().Set(requestIDHTTPHeader, id)
		h.ServeHTTP(w, r)
	})
}

// incomingHeaderMatcher forwards X-Request-Id as x-request-id metadata;
// the gateway's default forwards only a fixed set of HTTP headers (and
// Authorization), which does not include it.
func incomingHeaderMatcher(key string) (string, bool) {
	if textproto.CanonicalMIMEHeaderKey(key) == requestIDHTTPHeader {
		return RequestIDHeader, true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// outgoingHeaderMatcher drops every response metadata: x-request-id is
// answered by httpRequestID as X-Request-Id, and the rest (content-type,
// trailers) is gRPC plumbing, not part of the HTTP API (no Grpc-Metadata-*
// headers).
func outgoingHeaderMatcher(string) (string, bool) {
	return "", false
}
