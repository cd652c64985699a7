package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server/openapi"
)

// JSONOptions are the proto3 JSON options of the gateway; tests use them to
// compare gRPC responses with the gateway's bodies.
var JSONOptions = struct {
	Marshal   protojson.MarshalOptions
	Unmarshal protojson.UnmarshalOptions
}{
	// EmitUnpopulated: api.md promises amounts are always present (a zero
	// amount is "0.00", not absent) and belowMinimum false must show; unset
	// messages (recoveryCost without a recovery currency, reportingTotals
	// without a reporting currency) appear as null.
	Marshal: protojson.MarshalOptions{EmitUnpopulated: true, UseProtoNames: false},
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
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   JSONOptions.Marshal,
			UnmarshalOptions: JSONOptions.Unmarshal,
		}),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithIncomingHeaderMatcher(incomingHeaderMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingHeaderMatcher),
		runtime.WithMiddlewares(recordRoute),
	)
	for _, h := range []struct {
		name     string
		register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	}{
		{"estimator", impactv1.RegisterEstimatorServiceHandler},
		{"customer", impactv1.RegisterCustomerServiceHandler},
		{"contract", impactv1.RegisterContractServiceHandler},
		{"incident", impactv1.RegisterIncidentServiceHandler},
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
	mux.Handle("/", httpRequestID(gatewayMetrics(http.MaxBytesHandler(gw, MaxMessageBytes))))
	return mux, nil
}

// errorMarshaler renders errors as google.rpc.Status JSON without
// EmitUnpopulated: responses need every figure present, but an error padded
// with "reason": "", "metadata": {} only hides what went wrong.
var errorMarshaler = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{}}

func errorHandler(ctx context.Context, mux *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	runtime.DefaultHTTPErrorHandler(ctx, mux, errorMarshaler, w, r, err)
}

// routingErrorHandler answers a known path with the wrong method with 405
// Method Not Allowed; the gateway's default maps it to UNIMPLEMENTED, 501.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		errorHandler(ctx, mux, m, w, r, &runtime.HTTPStatusError{
			HTTPStatus: http.StatusMethodNotAllowed,
			Err:        status.Error(codes.Unimplemented, "method "+r.Method+" not allowed on "+r.URL.Path),
		})
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}
