package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	rpccode "google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/protoadapt"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server/openapi"
)

// JSONOptions are the proto3 JSON options of the gateway; tests use them to
// compare gRPC responses with the gateway's bodies.
var JSONOptions = struct {
	Marshal   protojson.MarshalOptions
	Unmarshal protojson.UnmarshalOptions
}{
	// EmitDefaultValues: api.md promises amounts are always present (a zero
	// amount is "0.00", not absent) and belowMinimum false must show; unset
	// messages (recoveryCost without a recovery currency, reportingTotals
	// without a reporting currency) are omitted, never null, which the
	// OpenAPI document does not allow.
	Marshal: protojson.MarshalOptions{EmitDefaultValues: true, UseProtoNames: false},
	// Unknown fields are a client bug (a typo silently dropped would change
	// a figure), so they are rejected with 400.
	Unmarshal: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// DialGateway connects the JSON gateway to the gRPC listener at addr. The
// gateway goes through the real gRPC server, not Register…HandlerServer, so
// every HTTP call passes the same interceptors (logging, recovery, and later
// auth) as a gRPC call. The connection is plaintext unless opts give
// transport credentials (GatewayTLS), which replace the default.
func DialGateway(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes),
			grpc.MaxCallSendMsgSize(MaxMessageBytes),
		),
	}, opts...)...)
}

// NewHTTPHandler returns the HTTP side of impactd: the JSON gateway of every
// impact service over conn, GET /healthz (200 when the gRPC server reports
// SERVING, 503 otherwise) and GET /openapi.json.
func NewHTTPHandler(ctx context.Context, conn *grpc.ClientConn) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &strictJSON{&runtime.JSONPb{
			MarshalOptions:   JSONOptions.Marshal,
			UnmarshalOptions: JSONOptions.Unmarshal,
		}}),
		runtime.SetQueryParameterParser(&strictQuery{}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithStreamErrorHandler(streamErrorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeaderMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingHeaderMatcher),
		runtime.WithOutgoingTrailerMatcher(outgoingHeaderMatcher),
		runtime.WithMiddlewares(recordRoute),
	)
	if err := registerExplicitRoutes(gw, conn); err != nil { // gateway_routes.go; first on purpose
		return nil, err
	}
	for _, h := range []struct {
		name     string
		register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"estimator", impactv1.RegisterEstimatorServiceHandler},
		{"customer", impactv1.RegisterCustomerServiceHandler},
		{"contract", impactv1.RegisterContractServiceHandler},
		{"incident", impactv1.RegisterIncidentServiceHandler},
		{"recompute", impactv1.RegisterRecomputeServiceHandler},
		{"exposure", impactv1.RegisterExposureServiceHandler},
		{"ledger", impactv1.RegisterLedgerServiceHandler},
		{"impactStatement", impactv1.RegisterImpactStatementServiceHandler},
		{"settings", impactv1.RegisterSettingsServiceHandler},
		{"audit", impactv1.RegisterAuditServiceHandler},
	} {
		if err := h.register(ctx, gw, conn); err != nil {
			return nil, fmt.Errorf("registering %s gateway: %w", h.name, err)
		}
	}

	health := healthpb.NewHealthClient(conn)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		// A hung gRPC server must fail the probe, not hang it.
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not serving")
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openapi.JSON)
	})
	mux.Handle("/", httpRequestID(gatewayMetrics(limitBody(rejectQueryOnBodyRoutes(gw)))))
	return mux, nil
}

// errorMarshaler renders errors as google.rpc.Status JSON without
// EmitUnpopulated: responses need every figure present, but an error padded
// with "reason": "", "metadata": {} only hides what went wrong.
var errorMarshaler = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{}}

// errorHandler answers every gateway error as a google.rpc.Status with an
// ErrorInfo (AIP-193): errors of the gRPC server already carry theirs; the
// gateway's own (malformed JSON, an unknown field, a bad enum name, an
// unknown path) get one here, and a BadRequest naming the field when the
// JSON decoder named it. A body over MaxMessageBytes is 413.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if b, ok := r.Body.(*limitedBody); ok && b.tooLarge {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: errBodyTooLarge}
	} else {
		err = withErrorInfo(err)
	}
	if st := status.Convert(err); st.Code() == codes.Unauthenticated {
		w = &challengeWriter{ResponseWriter: w, challenge: bearerChallenge(st)}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, errorMarshaler, w, r, err)
}

// streamErrorHandler gives the error of a server stream (WatchRecomputeJob)
// its ErrorInfo as errorHandler does. The gateway writes it as the line
// {"error": status}, with the HTTP status of its code when nothing was sent
// before it.
func streamErrorHandler(_ context.Context, err error) *status.Status {
	return status.Convert(withErrorInfo(err))
}

var errBodyTooLarge = mustWithInfo(codes.ResourceExhausted,
	fmt.Sprintf("request body is larger than the limit of %d bytes", MaxMessageBytes), "REQUEST_TOO_LARGE")

// limitBody answers a body declared over MaxMessageBytes with 413 before
// reading it, and caps every other body at MaxMessageBytes (a chunked one
// may lie by omission); errorHandler tells the cap apart from bad JSON.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxMessageBytes {
			// Not read, so the connection cannot be reused.
			w.Header().Set("Connection", "close")
			runtime.DefaultHTTPErrorHandler(r.Context(), runtime.NewServeMux(), errorMarshaler, w, r,
				&runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: errBodyTooLarge})
			return
		}
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, MaxMessageBytes)}
		h.ServeHTTP(w, r)
	})
}

// limitedBody records that a read hit the cap: the gateway turns the read
// error into a plain INVALID_ARGUMENT status, losing its type.
type limitedBody struct {
	io.ReadCloser
	tooLarge bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.tooLarge = true
	}
	return n, err
}

// decoderField finds the JSON field a protojson decoding error names.
var decoderField = regexp.MustCompile(`(?:unknown|duplicate) field "([^"]+)"|invalid value for [a-z0-9 ]*field ([A-Za-z0-9_]+)`)

// withErrorInfo returns err with an ErrorInfo of ErrorDomain, reason the
// code's name, unless it has one already.
func withErrorInfo(err error) error {
	if he, ok := err.(*runtime.HTTPStatusError); ok {
		return &runtime.HTTPStatusError{HTTPStatus: he.HTTPStatus, Err: withErrorInfo(he.Err)}
	}
	st := status.Convert(err)
	if hasErrorInfo(st.Details()) {
		return withCamelPaths(st).Err()
	}
	if pe, ok := parseErrorFrom(st.Message()); ok {
		return pe.status()
	}
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: rpccode.Code(st.Code()).String(), Domain: ErrorDomain}}
	if st.Code() == codes.InvalidArgument {
		if m := decoderField.FindStringSubmatch(st.Message()); m != nil {
			br := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field: m[1] + m[2], Description: st.Message(),
			}}}
			details = append([]protoadapt.MessageV1{br}, details...)
		}
	}
	withInfo, derr := status.New(st.Code(), st.Message()).WithDetails(details...)
	if derr != nil {
		return err
	}
	return withInfo.Err()
}

// hasErrorInfo reports whether details hold an ErrorInfo of ErrorDomain.
func hasErrorInfo(details []any) bool {
	for _, d := range details {
		if ei, ok := d.(*errdetails.ErrorInfo); ok && ei.GetDomain() == ErrorDomain {
			return true
		}
	}
	return false
}

// routingErrorHandler answers a known path with the wrong method with 405
// Method Not Allowed; the gateway's default maps it to UNIMPLEMENTED, 501.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	switch httpStatus {
	case http.StatusMethodNotAllowed:
		allow := strings.Join(allowedMethods(r.URL.Path), ", ")
		w.Header().Set("Allow", allow)
		errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err: mustWithInfo(codes.Unimplemented, "method "+r.Method+" not allowed on "+r.URL.Path+"; allowed: "+allow,
				reasonMethodNotAllowed),
		})
		return
	case http.StatusNotFound:
		errorHandler(ctx, mux, m, w, r, mustWithInfo(codes.NotFound, "no route for "+r.Method+" "+r.URL.Path, reasonNoRoute))
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}
