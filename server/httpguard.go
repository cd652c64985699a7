package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/status"

	_ "github.com/impact-svc/impact/proto/impact/v1" // registers the services' descriptors
)

// GuardHTTP runs in front of the JSON gateway (h, from NewHTTPHandler) and
// decides on a request's headers, before its body is read:
//
//   - with tokens, a /v1/ request without a valid bearer token of the
//     route's role goes on with an empty body: the gateway's gRPC call is
//     then refused by the tap handle (UNAUTHENTICATED 401 or
//     PERMISSION_DENIED 403, logged as every refused call), and the body
//     the client sent is never read or decoded;
//   - with budget, an accepted request takes its body's bytes from the
//     budget as it reads them (before each piece) and holds them until it
//     is answered, or is answered RESOURCE_EXHAUSTED (429) when they do
//     not fit in time.
//
// Other paths (/healthz, /openapi.json, /metrics) pass untouched.
func GuardHTTP(h http.Handler, log *slog.Logger, tokens *Tokens, budget *Budget) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			h.ServeHTTP(w, r)
			return
		}
		if tokens != nil {
			if err := tokens.checkRole(r.Header.Values("Authorization"), httpRouteRole(r.Method, r.URL.Path)); err != nil {
				if r.ContentLength != 0 {
					// The body is not read, so the connection is not reused.
					w.Header().Set("Connection", "close")
				}
				r.Body, r.ContentLength = http.NoBody, 0
				r.Header.Del("Content-Length")
				h.ServeHTTP(w, r)
				return
			}
		}
		if budget == nil || r.ContentLength == 0 || r.ContentLength > MaxMessageBytes || r.Body == nil || r.Body == http.NoBody {
			// Over MaxMessageBytes: the gateway answers 413 without reading.
			h.ServeHTTP(w, r)
			return
		}
		// The body is read here, each piece's bytes taken from the budget
		// before it is read and held until the answer: what a client has
		// sent is what it holds, so a client trickling a large body holds
		// only what it has sent so far.
		// Pieces, not one growing buffer: no copy left behind as garbage.
		var pieces []io.Reader
		var releases []func()
		defer func() {
			for _, f := range releases {
				f()
			}
		}()
		const piece = 1 << 20
		for read := int64(0); read <= MaxMessageBytes; {
			n := int64(piece)
			if r.ContentLength > 0 {
				if n = min(n, r.ContentLength-read); n <= 0 {
					break
				}
			}
			release, err := budget.acquire(r.Context(), n, "http")
			if err != nil {
				refuseHTTP(w, r, log, err)
				return
			}
			releases = append(releases, release)
			b := make([]byte, n)
			got, err := io.ReadFull(r.Body, b)
			pieces = append(pieces, bytes.NewReader(b[:got]))
			read += int64(got)
			if err != nil {
				break // the end of a chunked body, or a broken one the gateway reports
			}
		}
		r.Body = io.NopCloser(io.MultiReader(append(pieces, r.Body)...))
		h.ServeHTTP(w, r)
	})
}

// refuseHTTP answers a request the budget refused (or whose client left).
func refuseHTTP(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if _, ok := status.FromError(err); !ok {
		err = toStatus(r.Context(), log, err, "")
	}
	id := r.Header.Get(requestIDHTTPHeader)
	if !validRequestID(id) {
		id = newRequestID()
	}
	w.Header().Set(requestIDHTTPHeader, id)
	w.Header().Set("Connection", "close") // the body is not read
	log.WarnContext(r.Context(), "refused request", "http.method", r.Method, "http.path", r.URL.Path,
		"grpc.code", status.Code(err).String(), "request_id", id)
	runtime.DefaultHTTPErrorHandler(r.Context(), runtime.NewServeMux(), errorMarshaler, w, r, err)
}

// checkRole is the tap's check for a role need, on HTTP Authorization
// header values.
func (ts *Tokens) checkRole(auth []string, need Role) error {
	if need == Open {
		return nil
	}
	token, err := bearerOf(auth)
	if err != nil {
		return err
	}
	t, ok := ts.Lookup(token)
	if !ok {
		return errors.New("invalid bearer token")
	}
	if t.Role < need {
		return errors.New("role too weak")
	}
	return nil
}

// httpRouteRole is the weakest role of the routes that path matches for
// method, and Viewer (a valid token) when none does: the tap decides the
// exact role, so this check only ever refuses what the tap would.
func httpRouteRole(method, path string) Role {
	need, found := Admin, false
	for _, rt := range gatewayRoutes() { // the gateway's own route table (gateway_http.go)
		if rt.method == method && rt.path.MatchString(path) {
			need, found = min(need, rt.role), true
		}
	}
	if !found {
		return Viewer
	}
	return need
}
