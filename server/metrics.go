package server

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/impact-svc/impact/estimating"
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

	recomputeChunks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "impact_recompute_chunks_total",
		Help: "Recompute job chunks this process completed, by dry_run (\"true\": nothing was stored).",
	}, []string{"dry_run"})
	recomputeEstimates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "impact_recompute_estimates_total",
		Help: "Incident estimates this process recomputed in job chunks, by result (changed, unchanged, failed; " +
			"in a dry run changed means would change) and dry_run.",
	}, []string{"result", "dry_run"})
	recomputeCustomerEstimates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "impact_recompute_customer_estimates_total",
		Help: "(incident, customer) estimates this process computed in job chunks, by dry_run: the unit of the chunk size.",
	}, []string{"dry_run"})

	estimateDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "impact_estimate_duration_seconds",
		Help:    "Time impact.EstimateScenario took, by call: stateless (Estimate), incident (stored :estimate), statement (GetContractStatement).",
		Buckets: latencyBuckets,
	}, []string{"call"})
)

// The values of estimateDuration's "call" label.
const (
	estimateStateless = "stateless"
	estimateIncident  = estimating.CallIncident
	estimateStatement = estimating.CallStatement
)

func init() {
	// Series that exist from the start: a dashboard can tell "no estimate
	// yet" (count 0) from "metric missing".
	for _, c := range []string{estimateStateless, estimateIncident, estimateStatement} {
		estimateDuration.WithLabelValues(c)
	}
	for _, dry := range []string{"false", "true"} {
		recomputeChunks.WithLabelValues(dry)
		recomputeCustomerEstimates.WithLabelValues(dry)
		for _, r := range []string{recomputeChanged, recomputeUnchanged, recomputeFailed} {
			recomputeEstimates.WithLabelValues(r, dry)
		}
	}
}

// NewMetricsRegistry returns a registry with the Go runtime and process
// collectors, the gRPC server, gateway, estimate and recompute-chunk
// metrics of this package, and extra (such as collectors.NewDBStatsCollector
// for the database pool, or NewRecomputeCollector for the jobs' progress).
func NewMetricsRegistry(extra ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		grpcMetrics, gatewayRequests, gatewayDuration, estimateDuration,
		recomputeChunks, recomputeEstimates, recomputeCustomerEstimates,
		grpcRefused, budgetInUse, budgetRefused, recvReserved, recvEvicted,
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

// ObserveEstimate records that one run of the engine under call took d: an
// estimating.Options.Observe.
func ObserveEstimate(call string, d time.Duration) {
	estimateDuration.WithLabelValues(call).Observe(d.Seconds())
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
		// HTTPAccessLog, outside, may have put the route's place already.
		route, ok := r.Context().Value(routeKey{}).(*string)
		if !ok {
			route = new(string)
			r = r.WithContext(context.WithValue(r.Context(), routeKey{}, route))
		}
		*route = otherRoute
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		gatewayRequests.WithLabelValues(r.Method, *route, strconv.Itoa(sw.code)).Inc()
		gatewayDuration.WithLabelValues(r.Method, *route).Observe(time.Since(start).Seconds())
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

// Recompute jobs (issue 7). Progress comes from two places: the counters
// below, bumped by this process's workers as they complete chunks (rates:
// how fast this replica works), and NewRecomputeCollector, which reads the
// open jobs from the database on each scrape (levels: where each job is,
// whoever works on it, in any process).

// The values of recomputeEstimates' "result" label.
const (
	recomputeChanged   = "changed"
	recomputeUnchanged = "unchanged"
	recomputeFailed    = "failed"
)

// RecomputeChunkDone records a chunk of job that a worker of this process
// completed with result r: impact_recompute_chunks_total,
// impact_recompute_estimates_total{result} and
// impact_recompute_customer_estimates_total. Its signature is that of
// RecomputeOptions.OnChunk; job may be nil (then dry_run is "false").
func RecomputeChunkDone(job *impact.RecomputeJob, r *impact.ChunkResult) {
	dry := "false"
	if job != nil && job.DryRun {
		dry = "true"
	}
	recomputeChunks.WithLabelValues(dry).Inc()
	if r == nil {
		return
	}
	c := r.Counts
	unchanged := c.Done - c.Changed - c.Failed
	for _, v := range []struct {
		result string
		n      int64
	}{{recomputeChanged, c.Changed}, {recomputeUnchanged, unchanged}, {recomputeFailed, c.Failed}} {
		if v.n > 0 {
			recomputeEstimates.WithLabelValues(v.result, dry).Add(float64(v.n))
		}
	}
	if c.CustomersDone > 0 {
		recomputeCustomerEstimates.WithLabelValues(dry).Add(float64(c.CustomersDone))
	}
}

// recomputeScrapeTimeout bounds the database read of one scrape: a slow
// database must not hang /metrics, which also reports the process.
const recomputeScrapeTimeout = 2 * time.Second

// The open jobs' progress: one gauge per meaning, each by recompute_job
// (the job id). The label is not "job": Prometheus sets that to the scrape
// job, and would rename ours exported_job.
func jobGauge(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"recompute_job"}, nil)
}

var (
	recomputeJobDescs = struct {
		planned, done, changed, failed                 *prometheus.Desc
		customersPlanned, customersDone, customersChgd *prometheus.Desc
	}{
		planned: jobGauge("impact_recompute_job_planned_estimates",
			"Incident estimates an open (QUEUED or RUNNING) recompute job selected."),
		done: jobGauge("impact_recompute_job_done_estimates",
			"Incident estimates an open recompute job has done, failed ones included."),
		changed: jobGauge("impact_recompute_job_changed_estimates",
			"Incident estimates an open recompute job changed (would change, in a dry run)."),
		failed: jobGauge("impact_recompute_job_failed_estimates",
			"Incident estimates an open recompute job could not compute."),
		customersPlanned: jobGauge("impact_recompute_job_planned_customer_estimates",
			"(incident, customer) estimates an open recompute job selected."),
		customersDone: jobGauge("impact_recompute_job_done_customer_estimates",
			"(incident, customer) estimates an open recompute job has done."),
		customersChgd: jobGauge("impact_recompute_job_changed_customer_estimates",
			"(incident, customer) estimates an open recompute job changed (would change, in a dry run)."),
	}
	recomputeJobsDesc = prometheus.NewDesc("impact_recompute_jobs",
		"Open recompute jobs by state (QUEUED, RUNNING) among the newest 1000 jobs.",
		[]string{"state"}, nil)
	recomputeScrapeOKDesc = prometheus.NewDesc("impact_recompute_scrape_ok",
		"1 when this scrape read the recompute jobs from the database, 0 when that failed or timed out "+
			"(the job series are then missing).",
		nil, nil)
)

// recomputeCollector exports the progress of the open recompute jobs,
// read through a JobStore on each scrape.
type recomputeCollector struct {
	jobs    impact.JobStore
	timeout time.Duration

	// One read at a time, its result kept for ScrapeCache: an
	// unauthenticated client scraping in a loop (or many scrapers) costs
	// the database one short read a second, not a connection each.
	mu     sync.Mutex
	readAt time.Time
	page   *impact.Page[impact.RecomputeJob]
	err    error
}

// ScrapeCache is how long a read of the jobs or of the stale estimates
// serves scrapes: a gauge read from the database may be this old.
const ScrapeCache = time.Second

// NewRecomputeCollector returns a collector of the open recompute jobs of
// jobs: impact_recompute_jobs{state}, the impact_recompute_job_*_estimates
// gauges by recompute_job (planned, done, changed, failed; and of
// (incident, customer) estimates planned, done, changed), read on
// each scrape from the newest page of jobs (impact.MaxPageSize), and
// impact_recompute_scrape_ok. Terminal jobs have no series: a finished job's
// numbers are in its resource, and series per finished job would grow
// without bound.
func NewRecomputeCollector(jobs impact.JobStore) prometheus.Collector {
	return &recomputeCollector{jobs: jobs, timeout: recomputeScrapeTimeout}
}

func (c *recomputeCollector) Describe(ch chan<- *prometheus.Desc) {
	d := &recomputeJobDescs
	for _, desc := range []*prometheus.Desc{d.planned, d.done, d.changed, d.failed, d.customersPlanned, d.customersDone, d.customersChgd} {
		ch <- desc
	}
	ch <- recomputeJobsDesc
	ch <- recomputeScrapeOKDesc
}

// read returns the open jobs, read at most ScrapeCache ago;
// concurrent scrapes wait for the one read in flight.
func (c *recomputeCollector) read() (*impact.Page[impact.RecomputeJob], error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readAt.IsZero() || time.Since(c.readAt) >= ScrapeCache {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		c.page, c.err = c.jobs.ListJobs(ctx, impact.PageRequest{Size: impact.MaxPageSize})
		cancel()
		c.readAt = time.Now()
	}
	return c.page, c.err
}

func (c *recomputeCollector) Collect(ch chan<- prometheus.Metric) {
	page, err := c.read()
	if err != nil {
		// Not an invalid metric: that would fail the whole scrape, and with
		// it the process and gRPC metrics that show why the database is slow.
		ch <- prometheus.MustNewConstMetric(recomputeScrapeOKDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(recomputeScrapeOKDesc, prometheus.GaugeValue, 1)
	states := map[impact.JobState]int{impact.JobQueued: 0, impact.JobRunning: 0}
	for i := range page.Items {
		j := &page.Items[i]
		if j.State.Terminal() {
			continue
		}
		states[j.State]++
		k, d := &j.Counts, &recomputeJobDescs
		for _, v := range []struct {
			desc *prometheus.Desc
			n    int64
		}{
			{d.planned, k.Total}, {d.done, k.Done}, {d.changed, k.Changed}, {d.failed, k.Failed},
			{d.customersPlanned, k.CustomersTotal}, {d.customersDone, k.CustomersDone}, {d.customersChgd, k.CustomersChanged},
		} {
			ch <- prometheus.MustNewConstMetric(v.desc, prometheus.GaugeValue, float64(v.n), j.ID)
		}
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(recomputeJobsDesc, prometheus.GaugeValue, float64(n), st.String())
	}
}

// Fresh stored figures (README "Fresh figures"): how many stored estimates
// are STALE and how long the oldest has waited, read from the database at
// each scrape (every replica's view is the same), and what this process's
// refresh did.

var (
	refreshEstimates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "impact_refresh_estimates_total",
		Help: "Stale estimates this process refreshed, by result: revision (a new revision), unchanged " +
			"(nothing moved: no revision), failed (the stored data cannot be estimated), lost (lease taken over).",
	}, []string{"result"})
	staleEstimatesDesc = prometheus.NewDesc("impact_stale_estimates",
		"Stored estimates that read STALE now.", nil, nil)
	refreshLagDesc = prometheus.NewDesc("impact_refresh_lag_seconds",
		"Age of the oldest mark of a STALE estimate (0 when none is STALE): how far the refresh is behind, "+
			"the quiet delay included.", nil, nil)
	freshScrapeOKDesc = prometheus.NewDesc("impact_fresh_scrape_ok",
		"1 when the last scrape read the stale estimates from the database, 0 when that read failed.", nil, nil)
)

func init() {
	for _, r := range []string{"revision", "unchanged", "failed", "lost"} {
		refreshEstimates.WithLabelValues(r)
	}
}

// RefreshDone records a refresh lease in the metrics; it is a
// RecomputeOptions.OnRefresh.
func RefreshDone(r estimating.RefreshReport) {
	refreshEstimates.WithLabelValues("revision").Add(float64(r.Revisions))
	refreshEstimates.WithLabelValues("unchanged").Add(float64(r.Unchanged))
	refreshEstimates.WithLabelValues("failed").Add(float64(r.Failed))
	refreshEstimates.WithLabelValues("lost").Add(float64(r.Lost))
}

type freshCollector struct {
	fresh impact.FreshStore
	now   func() time.Time

	// The read is shared like the recompute collector's: one in flight,
	// its result kept for ScrapeCache, so scrapes cannot take a
	// database connection each.
	mu     sync.Mutex
	readAt time.Time
	stale  int64
	oldest time.Time
	err    error
}

// read returns the stale count and oldest mark, read at most
// ScrapeCache ago; concurrent scrapes wait for the one in flight.
func (c *freshCollector) read() (int64, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readAt.IsZero() || time.Since(c.readAt) >= ScrapeCache {
		ctx, cancel := context.WithTimeout(context.Background(), recomputeScrapeTimeout)
		c.stale, c.oldest, c.err = c.fresh.FreshnessStats(ctx)
		cancel()
		c.readAt = time.Now()
	}
	return c.stale, c.oldest, c.err
}

// NewFreshCollector returns a collector of impact_stale_estimates,
// impact_refresh_lag_seconds, impact_fresh_scrape_ok and
// impact_refresh_estimates_total, reading fresh on each scrape; now is the
// clock marks are made with.
func NewFreshCollector(fresh impact.FreshStore, now func() time.Time) prometheus.Collector {
	if now == nil {
		now = time.Now
	}
	return &freshCollector{fresh: fresh, now: now}
}

func (c *freshCollector) Describe(ch chan<- *prometheus.Desc) {
	refreshEstimates.Describe(ch)
	ch <- staleEstimatesDesc
	ch <- refreshLagDesc
	ch <- freshScrapeOKDesc
}

func (c *freshCollector) Collect(ch chan<- prometheus.Metric) {
	refreshEstimates.Collect(ch)
	n, oldest, err := c.read()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(freshScrapeOKDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(freshScrapeOKDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(staleEstimatesDesc, prometheus.GaugeValue, float64(n))
	lag := 0.0
	if n > 0 && !oldest.IsZero() {
		lag = max(c.now().Sub(oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(refreshLagDesc, prometheus.GaugeValue, lag)
}
