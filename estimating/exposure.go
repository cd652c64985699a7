package estimating

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/impact-svc/impact/impact"
)

// Exposure: headroom and what-if questions answered from the stored book
// by the engine. Nothing is written. Every selection is read in chunks of
// ExposureChunk customers and folded into bounded state (the top N, one
// page of headroom, totals), so memory does not grow with the book and
// time grows linearly with it.

// The values of Options.Observe's call for exposure.
const (
	CallSimulation = "simulation"
	CallHeadroom   = "headroom"
)

// ExposureStore is what Exposure reads: the stored resources and the
// selection of the book.
type ExposureStore interface {
	impact.Store
	impact.BookStore
}

// ExposureChunk is the customers read and priced together: a few queries
// and one engine run per chunk and duration.
const ExposureChunk = 500

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
	ws, err := WindowsCovering(ctx, st, ranges)
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
	d.known, err = Incidents(ctx, st, ids)
	return d, err
}

// incidents returns the stored incidents holding the windows of the
// customers ids, each with those windows and without recovery items.
func (d *chunkData) incidents(ids ...string) []impact.Incident {
	var ws []impact.StoredWindow
	for _, id := range ids {
		ws = append(ws, d.windows[id]...)
	}
	return IncidentsWithWindows(ws, d.known)
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
func Simulate(ctx context.Context, st ExposureStore, sim *impact.Simulation, o Options,
	each func(duration int, cs []impact.SimulatedCustomer) error) ([]impact.SimulationResult, error) {
	acc := impact.NewSimulationAccumulator(sim)
	longest := slices.Max(sim.Durations)
	err := prefetched(ctx, st, &sim.Selector, sim.Start, sim.Start.Add(longest), func(custs []impact.Customer, data *chunkData) error {
		ids := make([]string, len(custs))
		for i := range custs {
			ids[i] = custs[i].ID
		}
		byDuration, err := timed(o, CallSimulation, func() ([][]impact.SimulatedCustomer, error) {
			return impact.SimulateChunk(custs, data.incidents(ids...), sim, o.limits())
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

// contractHeadroom computes the headroom of contract k of customer c at
// instant at, from data (which holds the customer's windows).
func contractHeadroom(c *impact.Customer, k *impact.Contract, data *chunkData, at time.Time, o Options) (*impact.ContractHeadroom, string, error) {
	one := *c
	one.Contracts = []impact.Contract{*k}
	sc := &impact.Scenario{Customers: []impact.Customer{one}, Incidents: data.incidents(c.ID)}
	h, err := timed(o, CallHeadroom, func() (*impact.ContractHeadroom, error) {
		return impact.Headroom(sc, c.ID, k.Service, at, o.limits())
	})
	if err != nil {
		return nil, "", storedData(err)
	}
	period, err := impact.StatementPeriod(h.PeriodStart, k.TimeZone, k.BillingPeriod)
	return h, period, err
}

// Headroom computes the headroom of customer c's one contract
// (c.Contracts[0]) in the billing period containing at, from the stored
// windows, and names that period.
func Headroom(ctx context.Context, st ExposureStore, c *impact.Customer, at time.Time, o Options) (*impact.ContractHeadroom, string, error) {
	data, err := loadChunk(ctx, st, []impact.Customer{*c}, at, at)
	if err != nil {
		return nil, "", err
	}
	return contractHeadroom(c, &c.Contracts[0], data, at, o)
}

// EachHeadroom calls fn with the headroom, in the billing period
// containing at, of every contract sel selects that has a statement in
// that period, chunk by chunk, until fn fails or the selection ends.
func EachHeadroom(ctx context.Context, st ExposureStore, sel *impact.ContractSelector, at time.Time, o Options,
	fn func(h *impact.ContractHeadroom, period string) error) error {
	return eachChunk(ctx, st, sel, func(custs []impact.Customer) error {
		data, err := loadChunk(ctx, st, custs, at, at)
		if err != nil {
			return err
		}
		for i := range custs {
			c := &custs[i]
			for j := range c.Contracts {
				h, period, err := contractHeadroom(c, &c.Contracts[j], data, at, o)
				if impact.ErrorCode(err) == impact.EFAILEDPRECOND && h == nil && strings.Contains(err.Error(), "not deployed") {
					continue // no statement in this period, no headroom
				} else if err != nil {
					return err
				}
				if err := fn(h, period); err != nil {
					return err
				}
			}
		}
		return ctx.Err()
	})
}

// limits are o's limits, StoredLimits by default.
func (o Options) limits() impact.Limits {
	if o.Limits == (impact.Limits{}) {
		return StoredLimits()
	}
	return o.Limits
}

// timed runs f, telling o.Observe how long it took under call.
func timed[T any](o Options, call string, f func() (T, error)) (T, error) {
	if o.Observe != nil {
		start := time.Now()
		defer func() { o.Observe(call, time.Since(start)) }()
	}
	return f()
}
