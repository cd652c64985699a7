package server

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// HTTP conventions of the gateway's answers: the Allow header of a 405, an
// RFC 6750 challenge on a 401, field paths of errors in the JSON names.

// Gateway reasons of routing errors.
const (
	reasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	reasonNoRoute          = "NO_ROUTE"
)

// httpRoute is one google.api.http binding, as a matcher of request paths.
type httpRoute struct {
	method  string
	path    *regexp.Regexp
	bodyAll bool // body: "*": the gateway reads no query parameter
	role    Role // of the method (RequiredRole), for the HTTP guard
}

var (
	routesOnce sync.Once
	routes     []httpRoute
)

// gatewayRoutes are the HTTP bindings of every impact.v1 method, read from
// the proto descriptors (the same annotations the gateway is generated
// from), so the Allow header cannot drift from the routes.
func gatewayRoutes() []httpRoute {
	routesOnce.Do(func() {
		protoregistry.GlobalFiles.RangeFilesByPackage("impact.v1", func(fd protoreflect.FileDescriptor) bool {
			for i := 0; i < fd.Services().Len(); i++ {
				svc := fd.Services().Get(i)
				ms := svc.Methods()
				for j := 0; j < ms.Len(); j++ {
					role := RequiredRole("/" + string(svc.FullName()) + "/" + string(ms.Get(j).Name()))
					rule, _ := proto.GetExtension(ms.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule)
					if rule == nil {
						continue
					}
					for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
						if m, p := ruleMethod(r); m != "" {
							routes = append(routes, httpRoute{m, templateRegexp(p), r.GetBody() == "*", role})
						}
					}
				}
			}
			return true
		})
		routes = append(routes, explicitRoutes()...)
	})
	return routes
}

func ruleMethod(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	}
	return "", ""
}

var templateVar = regexp.MustCompile(`\{[^}=]+(?:=([^}]*))?\}`)

// templateRegexp turns a path template ("/v1/{name=customers/*}:estimate")
// into a regexp: * is one segment, ** any number, a bare {var} one.
func templateRegexp(tmpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, loc := range templateVar.FindAllStringSubmatchIndex(tmpl, -1) {
		b.WriteString(regexp.QuoteMeta(tmpl[last:loc[0]]))
		pattern := "*"
		if loc[2] >= 0 {
			pattern = tmpl[loc[2]:loc[3]]
		}
		b.WriteString(segmentsRegexp(pattern))
		last = loc[1]
	}
	b.WriteString(regexp.QuoteMeta(tmpl[last:]))
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func segmentsRegexp(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		switch s {
		case "*":
			segs[i] = `[^/:]+`
		case "**":
			segs[i] = `.+`
		default:
			segs[i] = regexp.QuoteMeta(s)
		}
	}
	return strings.Join(segs, "/")
}

// allowedMethods are the methods some route accepts at path, sorted.
func allowedMethods(path string) []string {
	var out []string
	for _, r := range gatewayRoutes() {
		if r.path.MatchString(path) && !slices.Contains(out, r.method) {
			out = append(out, r.method)
		}
	}
	slices.Sort(out)
	return out
}

// rejectQueryOnBodyRoutes answers 400 to a query parameter on a route
// whose request is all body (POST /v1/scenarios:estimate): the gateway
// would drop it silently, where elsewhere an unknown parameter is an error.
func rejectQueryOnBodyRoutes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" {
			for _, rt := range gatewayRoutes() {
				if rt.bodyAll && rt.method == r.Method && rt.path.MatchString(r.URL.Path) {
					var key string
					for k := range r.URL.Query() {
						if key == "" || k < key {
							key = k
						}
					}
					pe := &parseError{Reason: reasonUnknownQueryParam, Field: key,
						Description: "not a parameter of this method, which takes everything in the JSON body"}
					errorHandler(r.Context(), runtime.NewServeMux(), nil, w, r, pe.status())
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// challengeWriter replaces the gateway's WWW-Authenticate (the status
// message) with an RFC 6750 challenge when the answer is 401.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (w *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", w.challenge)
	}
	w.ResponseWriter.WriteHeader(code)
}

// bearerChallenge is the RFC 6750 (§3) challenge for an UNAUTHENTICATED
// status: without credentials a bare challenge, with a token that is not
// known error="invalid_token".
func bearerChallenge(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetReason() == "MISSING_CREDENTIALS" {
			return `Bearer realm="impact"`
		}
	}
	return `Bearer realm="impact", error="invalid_token", error_description="the bearer token is not valid"`
}

// camelPath spells a snake_case field path ("requests[3].outage_window.end_time")
// in the JSON names ("requests[3].outageWindow.endTime"); indexes and map
// keys in brackets are kept as they are.
func camelPath(p string) string {
	var b strings.Builder
	inBracket, upper := false, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case inBracket:
			if c == ']' {
				inBracket = false
			}
		case c == '[':
			inBracket = true
		case c == '_' && i > 0 && p[i-1] != '.':
			upper = true
			continue
		case upper && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteByte(c)
	}
	return b.String()
}

// withCamelPaths rewrites the field paths of st's BadRequest (and the
// first one in its message) in the JSON names, for HTTP callers; gRPC
// callers keep the proto names.
func withCamelPaths(st *status.Status) *status.Status {
	var br *errdetails.BadRequest
	details := st.Details()
	for _, d := range details {
		if b, ok := d.(*errdetails.BadRequest); ok {
			br = b
		}
	}
	if br == nil {
		return st
	}
	msg := st.Message()
	out := make([]protoadapt.MessageV1, 0, len(details))
	for _, d := range details {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			nb := &errdetails.BadRequest{}
			for i, v := range d.GetFieldViolations() {
				camel := camelPath(v.GetField())
				if i == 0 {
					msg = strings.Replace(msg, ": "+v.GetField()+": ", ": "+camel+": ", 1)
				}
				nb.FieldViolations = append(nb.FieldViolations, &errdetails.BadRequest_FieldViolation{
					Field: camel, Description: v.GetDescription(),
				})
			}
			out = append(out, nb)
		case protoadapt.MessageV1:
			out = append(out, d)
		default:
			return st // a detail this build cannot decode: leave it all as is
		}
	}
	ns, err := status.New(codes.Code(st.Code()), msg).WithDetails(out...)
	if err != nil {
		return st
	}
	return ns
}
