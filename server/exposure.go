package server

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Exposure implements impact.v1.ExposureService: headroom and what-if
// questions answered from the stored book by the estimate engine. Nothing
// is written. Every selection is read in chunks of ExposureChunk customers
// and folded into bounded state (the top N, one page of headroom, totals),
// so memory does not grow with the book and time grows linearly with it.
type Exposure struct {
	impactv1.UnimplementedExposureServiceServer

	log    *slog.Logger
	store  ExposureStore
	limits impact.Limits
	now    func() time.Time
}

// ExposureStore is what Exposure reads: the stored resources and the
// selection of the book.
type ExposureStore interface {
	impact.Store
	impact.BookStore
}

// ExposureChunk is the customers read and priced together: a few queries
// and one engine run per chunk and duration.
const ExposureChunk = 500

// NewExposure returns the service over st; now is the process clock (the
// default billing period of headroom). A nil now is time.Now.
func NewExposure(log *slog.Logger, st ExposureStore, now func() time.Time) *Exposure {
	if now == nil {
		now = time.Now
	}
	return &Exposure{log: log, store: st, limits: estimating.StoredLimits(), now: now}
}

// Register registers ExposureService on r.
func (x *Exposure) Register(r grpc.ServiceRegistrar) { impactv1.RegisterExposureServiceServer(r, x) }

func (x *Exposure) fail(ctx context.Context, err error) error { return toStatus(ctx, x.log, err, "") }

// storedData sorts the engine's verdict on stored data: a violation there
// is not the request's fault but the data's.
func storedData(err error) error {
	var e *impact.Error
	if errors.As(err, &e) && e.Code == impact.EINVALID && !strings.HasPrefix(e.Message, "invalid simulation") {
		return impact.Errorf(impact.EFAILEDPRECOND, "the stored data cannot be estimated: %s", e.Error())
	}
	return err
}

// chunkData is the stored windows that count for a chunk's selected
// contracts, by customer, and the incidents they belong to.
type chunkData struct {
	windows map[string][]impact.StoredWindow
	known   map[string]*impact.Incident
}

// loadChunk reads, for each customer of custs (with its selected
// contracts), every stored window of those services that the billing
// periods of [from, to] need (closed under overlap like :estimate's), and
// their incidents.
func loadChunk(ctx context.Context, st impact.Store, custs []impact.Customer, from, to time.Time) (*chunkData, error) {
	ranges := make([]impact.CustomerRange, len(custs))
	for i := range custs {
		ranges[i] = impact.CreditRange(&impact.AffectedCustomer{Customer: custs[i], FirstStart: from, LastEnd: to})
	}
	ws, err := estimating.WindowsCovering(ctx, st, ranges)
	if err != nil {
		return nil, err
	}
	selected := make(map[string][]impact.Contract, len(custs))
	for i := range custs {
		selected[custs[i].ID] = custs[i].Contracts
	}
	d := &chunkData{windows: map[string][]impact.StoredWindow{}}
	seen := map[string]bool{}
	var ids []string
	for i := range ws {
		w := &ws[i]
		if !slices.ContainsFunc(selected[w.CustomerID], func(k impact.Contract) bool { return k.Service == w.Service }) {
			continue
		}
		d.windows[w.CustomerID] = append(d.windows[w.CustomerID], *w)
		if !seen[w.IncidentID] {
			seen[w.IncidentID] = true
			ids = append(ids, w.IncidentID)
		}
	}
	d.known, err = estimating.Incidents(ctx, st, ids)
	return d, err
}

// incidents returns the stored incidents holding the windows of the
// customers ids, each with those windows and without recovery items.
func (d *chunkData) incidents(ids ...string) []impact.Incident {
	var ws []impact.StoredWindow
	for _, id := range ids {
		ws = append(ws, d.windows[id]...)
	}
	return estimating.IncidentsWithWindows(ws, d.known)
}

// eachChunk calls fn with every chunk of the customers sel selects, in id
// order, until fn fails or the selection ends.
func eachChunk(ctx context.Context, st impact.BookStore, sel *impact.ContractSelector, fn func([]impact.Customer) error) error {
	for after := ""; ; {
		custs, err := st.SelectCustomers(ctx, sel, after, ExposureChunk)
		if err != nil {
			return err
		}
		if len(custs) > 0 {
			if err := fn(custs); err != nil {
				return err
			}
		}
		if len(custs) < ExposureChunk {
			return nil
		}
		after = custs[len(custs)-1].ID
	}
}

// Simulate runs sim (validated) over the stored book: chunk by chunk, the
// selected customers with their selected contracts and the stored windows
// that count for those contracts go through impact.SimulateChunk, and each
// chunk's customers are folded into the totals and top N. each, when not
// nil, also sees every simulated customer (impactctl's CSV). Nothing is
// written.
func Simulate(ctx context.Context, st ExposureStore, sim *impact.Simulation, limits impact.Limits,
	each func(duration int, cs []impact.SimulatedCustomer) error) ([]impact.SimulationResult, error) {
	acc := impact.NewSimulationAccumulator(sim)
	longest := slices.Max(sim.Durations)
	err := prefetched(ctx, st, &sim.Selector, sim.Start, sim.Start.Add(longest), func(custs []impact.Customer, data *chunkData) error {
		ids := make([]string, len(custs))
		for i := range custs {
			ids[i] = custs[i].ID
		}
		byDuration, err := timed("simulation", func() ([][]impact.SimulatedCustomer, error) {
			return impact.SimulateChunk(custs, data.incidents(ids...), sim, limits)
		})
		if err != nil {
			return storedData(err)
		}
		for i, cs := range byDuration {
			if err := acc.Add(i, cs); err != nil {
				return err
			}
			if each != nil {
				if err := each(i, cs); err != nil {
					return err
				}
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	return acc.Results()
}

// prefetched is eachChunk with each chunk's stored data loaded (for
// [from, to]) while the previous chunk is computed: reading and pricing
// overlap on two cores. fn sees the chunks in order.
func prefetched(ctx context.Context, st ExposureStore, sel *impact.ContractSelector, from, to time.Time,
	fn func([]impact.Customer, *chunkData) error) error {
	type chunk struct {
		custs []impact.Customer
		data  *chunkData
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(chunks)
		readErr <- eachChunk(ctx, st, sel, func(custs []impact.Customer) error {
			data, err := loadChunk(ctx, st, custs, from, to)
			if err != nil {
				return err
			}
			select {
			case chunks <- chunk{custs, data}:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for c := range chunks {
		if err := fn(c.custs, c.data); err != nil {
			cancel()
			for range chunks { // let the reader finish
			}
			<-readErr
			return err
		}
	}
	return <-readErr
}

func (x *Exposure) SimulateOutage(ctx context.Context, req *impactv1.SimulateOutageRequest) (*impactv1.SimulateOutageResponse, error) {
	sim, err := simulationFromProto(req)
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	// The stored reporting settings are the default of reporting_currency
	// and fx_rates; the request's win (as on :estimate).
	fromSettings := false
	if sim.ReportingCurrency == "" && len(sim.FXRates) == 0 {
		st, err := estimating.StoredSettings(ctx, x.store)
		if err != nil {
			return nil, x.fail(ctx, err)
		}
		if st != nil && st.ReportingCurrency != "" {
			sim.ReportingCurrency, sim.FXRates, fromSettings = st.ReportingCurrency, st.FXRates, true
		}
	}
	results, err := Simulate(ctx, x.store, sim, x.limits, nil)
	if fromSettings && impact.ErrorCode(err) == impact.EINVALID {
		// A rate the settings lack: the stored settings are at fault.
		err = impact.Errorf(impact.EFAILEDPRECOND, "%s cannot report this simulation: %v", impact.SettingsName, err)
	}
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	return simulationToProto(results), nil
}

// Headroom.

// periodInstant is an instant inside the billing period named period
// ("2025-07", "2025-Q3") for a contract billing bp, or now when period is
// empty. A monthly name for a quarterly contract (or the reverse) is
// EINVALID unless lenient, when the period containing its first month's
// start is meant.
func periodInstant(field, period string, bp impact.BillingPeriod, lenient bool, now time.Time) (time.Time, error) {
	if period == "" {
		return now, nil
	}
	year, month, q, ok := impact.ParsePeriodName(period)
	quarterly := bp == impact.Quarterly
	if !ok || year < 1970 || year > 2199 || (!lenient && q != quarterly) {
		want := "YYYY-MM (the contract bills monthly)"
		switch {
		case lenient:
			want = "YYYY-MM or YYYY-Qn"
		case quarterly:
			want = "YYYY-Qn (the contract bills quarterly)"
		}
		return time.Time{}, invalidField(field, "period %q must be %s, years 1970 to 2199", period, want)
	}
	// Noon of the period's first day is inside it in every zone.
	return time.Date(year, time.Month(month), 1, 12, 0, 0, 0, time.UTC), nil
}

// contractHeadroom computes the headroom of contract k of customer c at
// instant at, from data (which holds the customer's windows).
func contractHeadroom(c *impact.Customer, k *impact.Contract, data *chunkData, at time.Time, limits impact.Limits) (*impact.ContractHeadroom, string, error) {
	one := *c
	one.Contracts = []impact.Contract{*k}
	sc := &impact.Scenario{Customers: []impact.Customer{one}, Incidents: data.incidents(c.ID)}
	h, err := timed("headroom", func() (*impact.ContractHeadroom, error) {
		return impact.Headroom(sc, c.ID, k.Service, at, limits)
	})
	if err != nil {
		return nil, "", storedData(err)
	}
	period, err := impact.StatementPeriod(h.PeriodStart, k.TimeZone, k.BillingPeriod)
	return h, period, err
}

func (x *Exposure) GetContractHeadroom(ctx context.Context, req *impactv1.GetContractHeadroomRequest) (*impactv1.ContractHeadroom, error) {
	ids, err := parseName("contract", req.GetContract(), "customers", "contracts")
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	// A malformed period is INVALID_ARGUMENT whether or not the contract
	// exists; whether it is the contract's kind needs the contract.
	if _, err := periodInstant("period", req.GetPeriod(), impact.Monthly, true, x.now()); err != nil {
		return nil, x.fail(ctx, err)
	}
	k, err := x.store.GetContract(ctx, ids[0], ids[1])
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	at, err := periodInstant("period", req.GetPeriod(), k.BillingPeriod, false, x.now())
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	cust, err := x.store.GetCustomer(ctx, ids[0])
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	c := cust.Customer
	c.Contracts = []impact.Contract{k.Contract}
	data, err := loadChunk(ctx, x.store, []impact.Customer{c}, at, at)
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	h, period, err := contractHeadroom(&c, &k.Contract, data, at, x.limits)
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	return headroomToProto(h, period), nil
}

// headroomKey orders ListContractHeadroom: contracts with a reachable tier
// by its seconds, then those without, each by contract name.
type headroomKey struct {
	Unreachable bool   `json:"u,omitempty"`
	Seconds     int64  `json:"s,omitempty"`
	Name        string `json:"n"`
}

func (a headroomKey) less(b headroomKey) bool {
	if a.Unreachable != b.Unreachable {
		return !a.Unreachable
	}
	if a.Seconds != b.Seconds {
		return a.Seconds < b.Seconds
	}
	return a.Name < b.Name
}

func keyOf(h *impact.ContractHeadroom) headroomKey {
	k := headroomKey{Name: impact.ContractName(h.CustomerID, h.Service)}
	if t := h.NextReachable(); t != nil {
		k.Seconds = t.AdditionalSeconds
	} else {
		k.Unreachable = true
	}
	return k
}

type headroomEntry struct {
	key    headroomKey
	h      *impact.ContractHeadroom
	period string
}

// pageHeap keeps the page's smallest entries: a max-heap whose root is the
// largest kept.
type pageHeap []headroomEntry

func (p pageHeap) Len() int           { return len(p) }
func (p pageHeap) Less(i, j int) bool { return p[j].key.less(p[i].key) }
func (p pageHeap) Swap(i, j int)      { p[i], p[j] = p[j], p[i] }
func (p *pageHeap) Push(v any)        { *p = append(*p, v.(headroomEntry)) }
func (p *pageHeap) Pop() any {
	old := *p
	v := old[len(old)-1]
	*p = old[:len(old)-1]
	return v
}

// headroomToken is a ListContractHeadroom page token: the last key
// returned and a digest of the request it belongs to.
type headroomToken struct {
	Request string      `json:"r"`
	After   headroomKey `json:"a"`
}

func headroomRequestDigest(sel *impact.ContractSelector, period string, at time.Time) string {
	b, _ := json.Marshal(struct {
		S *impact.ContractSelector
		P string
		T int64
	}{sel, period, at.Unix()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (x *Exposure) ListContractHeadroom(ctx context.Context, req *impactv1.ListContractHeadroomRequest) (*impactv1.ListContractHeadroomResponse, error) {
	sel, vs := selectorFromProto(req.GetSelector())
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		vs = append(vs, impact.FieldViolation{Field: "page_size", Description: "must not be negative"})
	case size == 0:
		size = impact.DefaultPageSize
	case size > impact.MaxPageSize:
		size = impact.MaxPageSize
	}
	now := x.now()
	at, err := periodInstant("period", req.GetPeriod(), impact.Monthly, true, now)
	if e := (*impact.Error)(nil); errors.As(err, &e) {
		vs = append(vs, e.Violations...)
	}
	// Without a period, each contract's current period: the token pins the
	// clock's reading so that later pages measure the same periods.
	var after *headroomKey
	if tok := req.GetPageToken(); tok != "" {
		var t headroomToken
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err == nil {
			err = json.Unmarshal(b, &t)
		}
		if err != nil {
			vs = append(vs, impact.FieldViolation{Field: "page_token", Description: "is not a token of this list"})
		} else {
			after = &t.After
			if req.GetPeriod() == "" {
				at = time.Unix(t.After.clock(t.Request), 0)
			}
			if t.Request != headroomRequestDigest(&sel, req.GetPeriod(), at)+"@"+strconv.FormatInt(at.Unix(), 10) {
				vs = append(vs, impact.FieldViolation{Field: "page_token", Description: "belongs to another selector or period"})
			}
		}
	}
	if len(vs) > 0 {
		return nil, x.fail(ctx, &impact.Error{Code: impact.EINVALID, Message: "invalid request", Violations: vs})
	}
	page := &pageHeap{}
	err = eachChunk(ctx, x.store, &sel, func(custs []impact.Customer) error {
		data, err := loadChunk(ctx, x.store, custs, at, at)
		if err != nil {
			return err
		}
		for i := range custs {
			c := &custs[i]
			for j := range c.Contracts {
				h, period, err := contractHeadroom(c, &c.Contracts[j], data, at, x.limits)
				if impact.ErrorCode(err) == impact.EFAILEDPRECOND && h == nil && strings.Contains(err.Error(), "not deployed") {
					continue // no statement in this period, no headroom
				} else if err != nil {
					return err
				}
				e := headroomEntry{key: keyOf(h), h: h, period: period}
				if after != nil && !after.less(e.key) {
					continue
				}
				if page.Len() <= size {
					heap.Push(page, e)
				} else if e.key.less((*page)[0].key) {
					(*page)[0] = e
					heap.Fix(page, 0)
				}
			}
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, x.fail(ctx, err)
	}
	entries := []headroomEntry(*page)
	slices.SortFunc(entries, func(a, b headroomEntry) int {
		if a.key.less(b.key) {
			return -1
		}
		return 1
	})
	resp := &impactv1.ListContractHeadroomResponse{}
	if len(entries) > size {
		entries = entries[:size]
		t := headroomToken{Request: headroomRequestDigest(&sel, req.GetPeriod(), at) + "@" + strconv.FormatInt(at.Unix(), 10),
			After: entries[size-1].key}
		b, _ := json.Marshal(t)
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString(b)
	}
	for _, e := range entries {
		resp.Headroom = append(resp.Headroom, headroomToProto(e.h, e.period))
	}
	return resp, nil
}

// clock reads the instant pinned in a token's request field.
func (headroomKey) clock(request string) int64 {
	_, at, _ := strings.Cut(request, "@")
	n, _ := strconv.ParseInt(at, 10, 64)
	return n
}

// selectorFromProto maps and checks a selector (violations under
// "selector").
func selectorFromProto(p *impactv1.ContractSelector) (impact.ContractSelector, []impact.FieldViolation) {
	sel := impact.ContractSelector{CustomerIDs: p.GetCustomerIds(), Services: p.GetServices(), Labels: p.GetLabels()}
	return sel, sel.Validate("selector")
}

func simulationFromProto(req *impactv1.SimulateOutageRequest) (*impact.Simulation, error) {
	sel, _ := selectorFromProto(req.GetSelector())
	var d decoder
	sim := &impact.Simulation{
		Selector:          sel,
		ImpactFraction:    req.GetImpactFraction(),
		Cause:             enumToDomain(&d, causes, "cause", req.GetCause()),
		TopN:              int(req.GetTopN()),
		ReportingCurrency: req.GetReportingCurrency(),
	}
	if req.GetStartTime() != nil {
		sim.Start = d.time("start_time", req.GetStartTime())
	}
	for i, p := range req.GetDurations() {
		if p.CheckValid() != nil {
			d.fail(fmt.Sprintf("durations[%d]", i), "is not a valid duration")
			sim.Durations = append(sim.Durations, 0)
			continue
		}
		sim.Durations = append(sim.Durations, p.AsDuration())
	}
	for _, r := range req.GetFxRates() {
		sim.FXRates = append(sim.FXRates, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	err := sim.Validate()
	if len(d.violations) > 0 {
		var e *impact.Error
		if errors.As(err, &e) {
			d.violations = append(d.violations, e.Violations...)
		}
		return nil, d.err()
	}
	return sim, err
}

// timed observes the engine time of an exposure call in
// impact_estimate_duration_seconds{call}.
func timed[T any](call string, f func() (T, error)) (T, error) {
	start := time.Now()
	defer func() { estimateDuration.WithLabelValues(call).Observe(time.Since(start).Seconds()) }()
	return f()
}
