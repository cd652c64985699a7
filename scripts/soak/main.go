// Command soak is the load driver of scripts/soak.sh (a program, not a
// test). It talks to one impactd on loopback only.
//
//	soak -mode seed -run R   creates, through the HTTP gateway, the data the
//	                         load needs (ids prefixed with R)
//	soak -mode load -run R   runs a weighted random mix of reads, writes and
//	                         estimates from -workers goroutines for -duration,
//	                         then prints the calls per operation and outcome
//
// Every response is checked against the status codes its operation may
// expect; anything else (another status, a transport error) is unexpected,
// and the load mode exits 1 when there was any.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Fixed names, under the run prefix.
const (
	sinkService  = "sink-svc" // contract of the customer the window writes hit
	patchTargets = 8          // customers PATCHed concurrently (etag conflicts are expected)
)

type config struct {
	httpAddr, grpcAddr string
	run                string
	examples           string
	workers            int
	duration           time.Duration
}

func main() {
	var c config
	mode := flag.String("mode", "load", "seed or load")
	flag.StringVar(&c.httpAddr, "http", "127.0.0.1:18491", "impactd HTTP gateway address (loopback)")
	flag.StringVar(&c.grpcAddr, "grpc", "127.0.0.1:19491", "impactd gRPC address (loopback)")
	flag.StringVar(&c.run, "run", "soak", "prefix of every id this run creates")
	flag.StringVar(&c.examples, "examples", "examples", "directory of seed-outage.json and typical.json")
	flag.IntVar(&c.workers, "workers", 32, "concurrent workers")
	flag.DurationVar(&c.duration, "duration", 5*time.Minute, "how long to load")
	flag.Parse()
	for _, a := range []string{c.httpAddr, c.grpcAddr} {
		if !loopback(a) {
			fatalf("%s is not a loopback address", a)
		}
	}
	d, err := newDriver(c)
	if err != nil {
		fatalf("%v", err)
	}
	switch *mode {
	case "seed":
		if err := d.seed(); err != nil {
			fatalf("seed: %v", err)
		}
	case "load":
		if d.load() > 0 {
			os.Exit(1)
		}
	default:
		fatalf("unknown -mode %q", *mode)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	os.Exit(2)
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type driver struct {
	config
	http      *http.Client
	estimator impactv1.EstimatorServiceClient

	seedReq    *impactv1.EstimateRequest // seed-outage.json, ids prefixed
	typical    *impactv1.EstimateRequest // typical.json
	typicalRaw []byte
	estOpts    []byte // body of :estimate: the seed's reporting currency and rates

	mu    sync.Mutex // guards count and samples
	count map[string]int64
	// first few unexpected responses, for the report
	samples []string
}

func newDriver(c config) (*driver, error) {
	d := &driver{config: c, count: map[string]int64{}}
	d.http = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			// One kept-alive connection per worker: no port churn.
			MaxIdleConns:        c.workers * 2,
			MaxIdleConnsPerHost: c.workers * 2,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	cc, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	d.estimator = impactv1.NewEstimatorServiceClient(cc)

	raw, err := os.ReadFile(filepath.Join(c.examples, "seed-outage.json"))
	if err != nil {
		return nil, err
	}
	d.seedReq = &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(raw, d.seedReq); err != nil {
		return nil, fmt.Errorf("seed-outage.json: %w", err)
	}
	sc := d.seedReq.GetScenario()
	for _, cu := range sc.GetCustomers() {
		cu.CustomerId = d.id(cu.GetCustomerId())
	}
	for _, in := range sc.GetIncidents() {
		in.IncidentId = d.id(in.GetIncidentId())
		for _, w := range in.GetWindows() {
			w.CustomerId = d.id(w.GetCustomerId())
		}
		for _, it := range in.GetRecoveryItems() {
			if it.GetCustomerId() != "" {
				it.CustomerId = d.id(it.GetCustomerId())
			}
		}
	}
	d.estOpts, err = protojson.Marshal(&impactv1.EstimateIncidentRequest{ReportingCurrency: sc.GetReportingCurrency(), FxRates: sc.GetFxRates()})
	if err != nil {
		return nil, err
	}

	d.typicalRaw, err = os.ReadFile(filepath.Join(c.examples, "typical.json"))
	if err != nil {
		return nil, err
	}
	d.typical = &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(d.typicalRaw, d.typical); err != nil {
		return nil, fmt.Errorf("typical.json: %w", err)
	}
	return d, nil
}

// id prefixes a seed id with the run, so that runs against one PostgreSQL
// database do not collide.
func (d *driver) id(s string) string { return d.run + "-" + s }

func (d *driver) url(path string) string { return "http://" + d.httpAddr + path }

// do sends one request and returns the status and body.
func (d *driver) do(method, path string, body []byte) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, d.url(path), r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// must is do for the seed: anything but 200 fails it.
func (d *driver) must(method, path string, m proto.Message) ([]byte, error) {
	var body []byte
	if m != nil {
		var err error
		if body, err = protojson.Marshal(m); err != nil {
			return nil, err
		}
	}
	code, b, err := d.do(method, path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, path, code, b)
	}
	return b, nil
}

// seed stores the seed outage (customers, contracts, the incident, its
// windows) and computes its estimate once; a sink customer and one scratch
// incident per worker for the window writes, so that they never change
// what the estimated incident reads; and the customers the load PATCHes.
func (d *driver) seed() error {
	sc := d.seedReq.GetScenario()
	for _, c := range sc.GetCustomers() {
		bare := proto.Clone(c).(*impactv1.Customer)
		bare.Contracts = nil
		if _, err := d.must("POST", "/v1/customers?customerId="+c.GetCustomerId(), bare); err != nil {
			return err
		}
		for _, k := range c.GetContracts() {
			if _, err := d.must("POST", "/v1/customers/"+c.GetCustomerId()+"/contracts", k); err != nil {
				return err
			}
		}
	}
	for _, in := range sc.GetIncidents() {
		bare := proto.Clone(in).(*impactv1.Incident)
		bare.Windows = nil
		if _, err := d.must("POST", "/v1/incidents", bare); err != nil {
			return err
		}
		batch := &impactv1.BatchCreateIncidentWindowsRequest{}
		for _, w := range in.GetWindows() {
			batch.Requests = append(batch.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: w})
		}
		if _, err := d.must("POST", "/v1/incidents/"+in.GetIncidentId()+"/windows:batchCreate", batch); err != nil {
			return err
		}
		code, b, err := d.do("POST", "/v1/incidents/"+in.GetIncidentId()+":estimate", d.estOpts)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf(":estimate of %s: HTTP %d %v: %s", in.GetIncidentId(), code, err, b)
		}
	}

	sink := &impactv1.Customer{
		DisplayName: "Soak window sink", CurrencyCode: "EUR", TimeZone: "UTC",
		Baseline: &impactv1.RevenueBaseline{HourlyAmount: "100.00"},
	}
	if _, err := d.must("POST", "/v1/customers?customerId="+d.id("sink"), sink); err != nil {
		return err
	}
	k := &impactv1.Contract{Service: sinkService, MonthlyFee: "1000.00",
		Tiers: []*impactv1.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}}
	if _, err := d.must("POST", "/v1/customers/"+d.id("sink")+"/contracts", k); err != nil {
		return err
	}
	for w := range d.workers {
		in := &impactv1.Incident{Title: "Soak scratch incident", Cause: impactv1.Incident_UNKNOWN}
		if _, err := d.must("POST", "/v1/incidents?incidentId="+d.scratch(w), in); err != nil {
			return err
		}
	}
	for i := range patchTargets {
		c := &impactv1.Customer{
			DisplayName: "Patch target", CurrencyCode: "USD", TimeZone: "UTC",
			Baseline: &impactv1.RevenueBaseline{HourlyAmount: "10.00"},
		}
		if _, err := d.must("POST", "/v1/customers?customerId="+d.id("patch-"+strconv.Itoa(i)), c); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "soak: seeded run %q\n", d.run)
	return nil
}

func (d *driver) scratch(w int) string { return d.id("scratch-" + strconv.Itoa(w)) }

// An operation makes one call and returns its result.
type op struct {
	name   string
	weight int
	run    func(w *worker) result
}

// result is the outcome of a call: the HTTP status or gRPC code as text,
// or "error" for a transport error; ok says whether that outcome is
// expected, and detail tells more of an unexpected one.
type result struct {
	outcome string
	ok      bool
	detail  string
}

type worker struct {
	id   int
	rng  *rand.Rand
	n    int // calls that needed a unique id so far
	base time.Time
}

func httpOutcome(code int, body []byte, err error, want ...int) result {
	if err != nil {
		return result{"error", false, err.Error()}
	}
	for _, w := range want {
		if code == w {
			return result{strconv.Itoa(code), true, ""}
		}
	}
	return result{strconv.Itoa(code), false, detail(body)}
}

// detail is the start of an unexpected response's body, for the report.
func detail(b []byte) string {
	const n = 300
	if len(b) > n {
		b = b[:n]
	}
	return strings.TrimSpace(string(b))
}

func (d *driver) ops() []op {
	sc := d.seedReq.GetScenario()
	inc := sc.GetIncidents()[0].GetIncidentId()
	type kref struct{ customer, service, period string }
	var customers []string
	var contracts []kref
	for _, c := range sc.GetCustomers() {
		customers = append(customers, c.GetCustomerId())
		for _, k := range c.GetContracts() {
			period := "2025-07"
			if k.GetBillingPeriod() == impactv1.Contract_QUARTERLY {
				period = "2025-Q3"
			}
			contracts = append(contracts, kref{c.GetCustomerId(), k.GetService(), period})
		}
	}
	get := func(path func(w *worker) string) func(w *worker) result {
		return func(w *worker) result {
			code, b, err := d.do("GET", path(w), nil)
			return httpOutcome(code, b, err, http.StatusOK)
		}
	}
	return []op{
		{"estimate_grpc", 10, func(w *worker) result {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := d.estimator.Estimate(ctx, d.typical)
			st := status.Convert(err)
			return result{st.Code().String(), err == nil, st.Message()}
		}},
		{"estimate_http", 10, func(w *worker) result {
			code, b, err := d.do("POST", "/v1/scenarios:estimate", d.typicalRaw)
			return httpOutcome(code, b, err, http.StatusOK)
		}},
		{"get_customer", 10, get(func(w *worker) string {
			return "/v1/customers/" + customers[w.rng.IntN(len(customers))]
		})},
		{"list_customers", 4, get(func(w *worker) string { return "/v1/customers?pageSize=50" })},
		{"get_contract", 8, get(func(w *worker) string {
			k := contracts[w.rng.IntN(len(contracts))]
			return "/v1/customers/" + k.customer + "/contracts/" + k.service
		})},
		{"get_statement", 8, get(func(w *worker) string {
			k := contracts[w.rng.IntN(len(contracts))]
			return "/v1/customers/" + k.customer + "/contracts/" + k.service + "/statements/" + k.period
		})},
		{"get_estimate", 8, get(func(w *worker) string { return "/v1/incidents/" + inc + "/estimate" })},
		{"list_windows", 8, get(func(w *worker) string { return "/v1/incidents/" + inc + "/windows" })},
		{"create_customer", 8, func(w *worker) result {
			w.n++
			id := d.id(fmt.Sprintf("c-%d-%d", w.id, w.n))
			body := `{"displayName":"Soak customer","currencyCode":"EUR","timeZone":"Europe/Berlin",` +
				`"baseline":{"hourlyAmount":"1234.50","recaptureRate":"0.25"},"lifetimeValue":"50000.00","churnProbability":"0.01"}`
			code, b, err := d.do("POST", "/v1/customers?customerId="+id, []byte(body))
			return httpOutcome(code, b, err, http.StatusOK)
		}},
		{"batch_create_windows", 6, func(w *worker) result {
			// Two windows of 5 minutes, 10 minutes apart, each worker on its
			// own scratch incident and its own stretch of time from 2024 on.
			batch := &impactv1.BatchCreateIncidentWindowsRequest{}
			for range 2 {
				w.n++
				start := w.base.Add(time.Duration(w.n) * 10 * time.Minute)
				batch.Requests = append(batch.Requests, &impactv1.CreateIncidentWindowRequest{
					OutageWindowId: fmt.Sprintf("w-%d", w.n),
					OutageWindow: &impactv1.IncidentWindow{
						CustomerId: d.id("sink"), Service: sinkService,
						StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(5 * time.Minute)),
						ImpactFraction: "0.5",
					},
				})
			}
			body, _ := protojson.Marshal(batch)
			code, b, err := d.do("POST", "/v1/incidents/"+d.scratch(w.id)+"/windows:batchCreate", body)
			return httpOutcome(code, b, err, http.StatusOK)
		}},
		{"patch_customer", 6, func(w *worker) result {
			// Read, then write with the etag read. Workers share the targets,
			// so a concurrent write in between is a 409 (ABORTED), expected.
			path := "/v1/customers/" + d.id("patch-"+strconv.Itoa(w.rng.IntN(patchTargets)))
			code, b, err := d.do("GET", path, nil)
			if r := httpOutcome(code, b, err, http.StatusOK); !r.ok {
				r.outcome = "get " + r.outcome
				return r
			}
			var cur struct{ Etag string }
			if err := json.Unmarshal(b, &cur); err != nil || cur.Etag == "" {
				return result{"get without etag", false, detail(b)}
			}
			body := fmt.Sprintf(`{"displayName":"Patched %d","etag":%q}`, w.rng.IntN(1e6), cur.Etag)
			code, b, err = d.do("PATCH", path, []byte(body))
			return httpOutcome(code, b, err, http.StatusOK, http.StatusConflict)
		}},
		{"estimate_incident", 6, func(w *worker) result {
			code, b, err := d.do("POST", "/v1/incidents/"+inc+":estimate", d.estOpts)
			return httpOutcome(code, b, err, http.StatusOK)
		}},
	}
}

func (d *driver) record(op string, r result, began time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := op + "\t" + r.outcome
	if !r.ok {
		key = op + "\tUNEXPECTED " + r.outcome
		if len(d.samples) < 20 {
			d.samples = append(d.samples, fmt.Sprintf("%s: %s at %s after %v: %s",
				op, r.outcome, began.Format("15:04:05.000"), time.Since(began).Round(time.Millisecond), r.detail))
		}
	}
	d.count[key]++
}

// load runs the mix and prints the table; it returns the unexpected count.
func (d *driver) load() int64 {
	ops := d.ops()
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	start := time.Now()
	deadline := start.Add(d.duration)
	var wg sync.WaitGroup
	for i := range d.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{
				id:   i,
				rng:  rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano()))),
				base: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * 365 * time.Hour),
			}
			// In-flight calls finish after the deadline; none is cut off.
			for time.Now().Before(deadline) {
				r := w.rng.IntN(total)
				for _, o := range ops {
					if r < o.weight {
						began := time.Now()
						d.record(o.name, o.run(w), began)
						break
					}
					r -= o.weight
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	keys := make([]string, 0, len(d.count))
	perOp := map[string]int64{}
	var calls, unexpected int64
	for k, n := range d.count {
		keys = append(keys, k)
		op, outcome, _ := strings.Cut(k, "\t")
		perOp[op] += n
		calls += n
		if strings.HasPrefix(outcome, "UNEXPECTED") {
			unexpected += n
		}
	}
	sort.Strings(keys)
	fmt.Printf("%-22s %10s  %s\n", "operation", "calls", "outcomes")
	for _, o := range ops {
		var parts []string
		for _, k := range keys {
			if op, outcome, _ := strings.Cut(k, "\t"); op == o.name {
				parts = append(parts, fmt.Sprintf("%s=%d", outcome, d.count[k]))
			}
		}
		fmt.Printf("%-22s %10d  %s\n", o.name, perOp[o.name], strings.Join(parts, " "))
	}
	fmt.Printf("%-22s %10d  in %.1fs, %.0f calls/s, %d workers\n", "total", calls, elapsed.Seconds(), float64(calls)/elapsed.Seconds(), d.workers)
	fmt.Printf("unexpected %d\n", unexpected)
	for _, s := range d.samples {
		fmt.Printf("  e.g. %s\n", s)
	}
	return unexpected
}
