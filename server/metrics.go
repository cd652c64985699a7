package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/impact-svc/impact/impact"
)

// Prometheus metrics (GET /metrics). The collectors below are package-level
// so that NewGRPCServer, NewHTTPHandler and the estimate call sites record
// into them without new parameters; NewMetricsRegistry gathers them into a
// registry of the caller's own, never the global one, so that a library
// importing server cannot add to what impactd exposes. Several servers in
// one process (tests) add to the same series, as they would share the
// process collectors anyway.

// latencyBuckets span 100 µs (a small estimate, a cached read) to 26 s (an
// estimate at impact.DefaultLimits): the client_golang defaults start at
// 5 ms, which would put every typical call in the first bucket.
var latencyBuckets = prometheus.ExponentialBuckets(0.0001, 4, 10)

var (
	// grpcMetrics are grpc_server_started_total, grpc_server_handled_total
	// {grpc_type,grpc_service,grpc_method,grpc_code}, the message counters
	// and grpc_server_handling_seconds.
	grpcMetrics = grpcprom.NewServerMetrics(
		grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)),
	)

	gatewayRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "impact_gateway_requests_total",
		Help: "HTTP requests to the JSON gateway by method, route pattern (\"other\" when no route matched) and status code.",
	}, []string{"method", "route", "code"})
	gatewayDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "impact_gateway_request_duration_seconds",
		Help:    "Time the JSON gateway took to answer, by method and route pattern.",
		Buckets: latencyBuckets,
	}, []string{"method", "route"})

	estimateDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "impact_estimate_duration_seconds",
		Help:    "Time impact.EstimateScenario took, by call: stateless (Estimate), incident (stored :estimate), statement (GetSlaStatement).",
		Buckets: latencyBuckets,
	}, []string{"call"})
)

// The values of estimateDuration's "call" label.
const (
	estimateStateless = "stateless"
	estimateIncident  = "incident"
	estimateStatement = "statement"
)

func init() {
	// Series that exist from the start: a dashboard can tell "no estimate
	// yet" (count 0) from "metric missing".
	for _, c := range []string{estimateStateless, estimateIncident, estimateStatement} {
		estimateDuration.WithLabelValues(c)
	}
}

// NewMetricsRegistry returns a registry with the Go runtime and process
// collectors, the gRPC server, gateway and estimate metrics of this
// package, and extra (such as collectors.NewDBStatsCollector for the
// database pool).
func NewMetricsRegistry(extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		grpcMetrics, gatewayRequests, gatewayDuration, estimateDuration,
	)
	reg.MustRegister(extra...)
	return reg
}

// MetricsHandler serves reg in the Prometheus exposition formats.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	// Registry in the options adds promhttp_metric_handler_errors_total to
	// reg, so a failing collector shows up in the scrape itself.
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// timeEstimate runs estimate (impact.EstimateScenario on some scenario)
// and records its duration under call, failed or not: a slow rejection is
// as much a cost as a slow result.
func timeEstimate(call string, estimate func() (*impact.Estimate, error)) (*impact.Estimate, error) {
	start := time.Now()
	defer func() { estimateDuration.WithLabelValues(call).Observe(time.Since(start).Seconds()) }()
	return estimate()
}

// routeKey carries a *string from gatewayMetrics to recordRoute.
type routeKey struct{}

// otherRoute labels requests no gateway route matched: their paths are
// whatever clients send, and a label per path would grow without bound.
const otherRoute = "other"

// gatewayMetrics counts and times the requests of the gateway h.
func gatewayMetrics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := otherRoute
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		gatewayRequests.WithLabelValues(r.Method, route, strconv.Itoa(sw.code)).Inc()
		gatewayDuration.WithLabelValues(r.Method, route).Observe(time.Since(start).Seconds())
	})
}

// recordRoute is a gateway middleware (runtime.WithMiddlewares), so it runs
// only once a route has matched, and the route's pattern (such as
// "/v1/{name=incidents/*}:estimate") is known; it hands the pattern back
// to gatewayMetrics, which runs outside the gateway and cannot see it.
func recordRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pat, ok := runtime.HTTPPattern(r.Context()); ok {
			if route, ok := r.Context().Value(routeKey{}).(*string); ok {
				*route = pat.String()
			}
		}
		next(w, r, params)
	}
}

// statusWriter remembers the status code written through it.
type statusWriter struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Flush keeps the gateway's streaming path working: it asserts
// http.Flusher on the writer it is given.
func (w *statusWriter) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
