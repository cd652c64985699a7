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
// questions answered from the stored book by the application
// (estimating.Simulate, estimating.Headroom, estimating.EachHeadroom).
// This maps requests, keeps one page of headroom and its token.
type Exposure struct {
	impactv1.UnimplementedExposureServiceServer

	log    *slog.Logger
	store  estimating.ExposureStore
	limits impact.Limits
	now    func() time.Time
}

// NewExposure returns the service over st; now is the process clock (the
// default billing period of headroom). A nil now is time.Now.
func NewExposure(log *slog.Logger, st estimating.ExposureStore, now func() time.Time) *Exposure {
	if now == nil {
		now = time.Now
	}
	return &Exposure{log: log, store: st, limits: estimating.StoredLimits(), now: now}
}

// Register registers ExposureService on r.
func (x *Exposure) Register(r grpc.ServiceRegistrar) { impactv1.RegisterExposureServiceServer(r, x) }

func (x *Exposure) fail(ctx context.Context, err error) error { return toStatus(ctx, x.log, err, "") }

// options are the application's options of one exposure call.
func (x *Exposure) options() estimating.Options {
	return estimating.Options{Limits: x.limits, Observe: ObserveEstimate}
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
	results, err := estimating.Simulate(ctx, x.store, sim, x.options(), nil)
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
	h, period, err := estimating.Headroom(ctx, x.store, &c, at, x.options())
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
	err = estimating.EachHeadroom(ctx, x.store, &sel, at, x.options(), func(h *impact.ContractHeadroom, period string) error {
		e := headroomEntry{key: keyOf(h), h: h, period: period}
		if after != nil && !after.less(e.key) {
			return nil
		}
		if page.Len() <= size {
			heap.Push(page, e)
		} else if e.key.less((*page)[0].key) {
			(*page)[0] = e
			heap.Fix(page, 0)
		}
		return nil
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
