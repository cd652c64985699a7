package estimating

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

// EstimateCustomers pages the customers of a stored estimate. The
// estimate is one stored document, so the first page of a revision needs
// the whole document read and decoded; revisions never change once
// stored, so the decoded customers of a few revisions are kept in a small
// in-process cache, with each order asked for sorted once, and every
// further page or order is a slice or a sort. The cache is per replica and
// holds nothing that could go stale: a new revision is a new key. The
// document is decoded into strings only (no decimals), in one pass over
// its bytes that knows the store's encoding (estimate_scan.go; anything
// else goes to go-json-experiment/json); amounts become decimals for the
// shown page and, when they do not fit a scaled integer, for sort keys.

// estimateReads are the store's cheap reads of estimate metadata
// (store.DB has them); without them the document comes from GetEstimate.
type estimateReads interface {
	LatestEstimateRevision(ctx context.Context, incidentID string) (int64, error)
	IncidentSpan(ctx context.Context, incidentID string) (start, end time.Time, windows int64, err error)
	EstimateDocument(ctx context.Context, incidentID string, rev int64) (*impact.StoredEstimate, []byte, error)
}

// The stored document's shape (the store's format, pinned by its golden
// files, which a test here decodes too), with every number left a string.
type LeanMoney struct {
	Currency string `json:"Currency"`
	Amount   string `json:"Amount"`
}

// LeanCredit is one credit share of a LeanCustomer.
type LeanCredit struct {
	Service     string    `json:"Service"`
	PeriodStart time.Time `json:"PeriodStart"`
	Credit      LeanMoney `json:"Credit"`
}

// LeanCustomer is one customer of a stored estimate, amounts undecoded.
type LeanCustomer struct {
	CustomerID    string `json:"CustomerID"`
	ImpactSeconds string `json:"ImpactSeconds"`
	LostRevenue   struct {
		Gross      LeanMoney `json:"Gross"`
		Net        LeanMoney `json:"Net"`
		Recaptured LeanMoney `json:"Recaptured"`
	} `json:"LostRevenue"`
	RecoveryCost  *LeanMoney   `json:"RecoveryCost"`
	SLACredits    []LeanCredit `json:"SLACredits"`
	ChurnExposure LeanMoney    `json:"ChurnExposure"`
}

// leanTotals are one currency's totals: small, decoded exactly, as
// GetIncidentEstimate does.
type leanTotals struct {
	Currency         string          `json:"Currency"`
	LostRevenueGross decimal.Decimal `json:"LostRevenueGross"`
	LostRevenueNet   decimal.Decimal `json:"LostRevenueNet"`
	RecoveryCost     decimal.Decimal `json:"RecoveryCost"`
	SLACredits       decimal.Decimal `json:"SLACredits"`
	ChurnExposure    decimal.Decimal `json:"ChurnExposure"`
}

func (t *leanTotals) domain() impact.CurrencyTotals {
	return impact.CurrencyTotals{Currency: t.Currency, LostRevenueGross: t.LostRevenueGross, LostRevenueNet: t.LostRevenueNet,
		RecoveryCost: t.RecoveryCost, SLACredits: t.SLACredits, ChurnExposure: t.ChurnExposure}
}

// leanHead is the document's totals.
type leanHead struct {
	Totals          []leanTotals `json:"Totals"`
	ReportingTotals *leanTotals  `json:"ReportingTotals"`
}

// set puts the totals into meta.
func (h *leanHead) set(meta *impact.StoredEstimate) {
	meta.Totals, meta.ReportingTotals = nil, nil
	if h.Totals != nil {
		meta.Totals = make([]impact.CurrencyTotals, len(h.Totals))
		for i := range h.Totals {
			meta.Totals[i] = h.Totals[i].domain()
		}
	}
	if h.ReportingTotals != nil {
		t := h.ReportingTotals.domain()
		meta.ReportingTotals = &t
	}
}

type leanEstimate struct {
	Customers       []LeanCustomer `json:"Customers"`
	Totals          []leanTotals   `json:"Totals"`
	ReportingTotals *leanTotals    `json:"ReportingTotals"`
}

// leanOf is the lean form of an estimate already decoded (a store without
// the document reads).
func leanOf(e *impact.IncidentEstimate) []LeanCustomer {
	lm := func(m impact.Money) LeanMoney { return LeanMoney{Currency: m.Currency, Amount: m.Amount.String()} }
	out := make([]LeanCustomer, len(e.Customers))
	for i := range e.Customers {
		c := &e.Customers[i]
		l := &out[i]
		l.CustomerID, l.ImpactSeconds = c.CustomerID, c.ImpactSeconds.String()
		l.LostRevenue.Gross, l.LostRevenue.Net, l.LostRevenue.Recaptured = lm(c.LostRevenue.Gross), lm(c.LostRevenue.Net), lm(c.LostRevenue.Recaptured)
		if c.RecoveryCost != nil {
			m := lm(*c.RecoveryCost)
			l.RecoveryCost = &m
		}
		for _, a := range c.SLACredits {
			l.SLACredits = append(l.SLACredits, LeanCredit{Service: a.Service, PeriodStart: a.PeriodStart, Credit: lm(a.Credit)})
		}
		l.ChurnExposure = lm(c.ChurnExposure)
	}
	return out
}

// CustomerOrders are the orders of EstimateCustomers (order_by fields).
var CustomerOrders = map[string]bool{"customer_id": true, "impact_seconds": true, "lost_revenue_gross": true,
	"lost_revenue_net": true, "recovery_cost": true, "sla_credits": true, "churn_exposure": true}

type docKey struct {
	incident string
	revision int64
}

// decodedEstimate is one revision's customers and its sorted orders.
type decodedEstimate struct {
	meta      *impact.StoredEstimate // header, totals; no customers
	customers []LeanCustomer
	mu        sync.Mutex
	orders    map[string][]int32 // "field" or "field desc" → indexes
}

// estimateCache keeps the decoded customers of the few revisions being
// paged through, at most estimateCacheCustomers customers in all.
type estimateCache struct {
	mu      sync.Mutex
	entries map[docKey]*decodedEstimate
	recent  []docKey // least recent first
}

const estimateCacheCustomers = 400000

func (c *estimateCache) get(k docKey) *decodedEstimate {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e != nil {
		c.touch(k)
	}
	return e
}

func (c *estimateCache) put(k docKey, e *decodedEstimate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[docKey]*decodedEstimate{}
	}
	c.entries[k] = e
	c.touch(k)
	total := 0
	for _, x := range c.entries {
		total += len(x.customers)
	}
	for total > estimateCacheCustomers && len(c.recent) > 1 {
		old := c.recent[0]
		total -= len(c.entries[old].customers)
		delete(c.entries, old)
		c.recent = c.recent[1:]
	}
}

func (c *estimateCache) touch(k docKey) {
	for i, r := range c.recent {
		if r == k {
			c.recent = append(c.recent[:i], c.recent[i+1:]...)
			break
		}
	}
	c.recent = append(c.recent, k)
}

// CustomerPage is one page of a stored estimate's customers.
type CustomerPage struct {
	Estimate  *impact.StoredEstimate // the revision's header and totals, without customers
	Customers []LeanCustomer         // the page, in the order asked
	Total     int                    // the revision's customers
	Next      int                    // the offset of the next page; Total after the last
	// Start and End span the incident's windows now; zero without
	// windows, or with a store without the cheap estimate reads.
	Start, End time.Time
}

// EstimateCustomers returns the customers [offset, offset+size) of
// revision rev (0: the latest) of incident id's stored estimate, ordered
// by field (one of CustomerOrders; ties by id), descending with desc.
func (s *Service) EstimateCustomers(ctx context.Context, id string, rev int64, field string, desc bool, offset, size int) (*CustomerPage, error) {
	reads, _ := s.store.(estimateReads)
	var err error
	if rev == 0 && reads != nil {
		if rev, err = reads.LatestEstimateRevision(ctx, id); err != nil {
			return nil, err
		}
	}
	de := s.cache.get(docKey{id, rev})
	var rows []int32 // the page, as indexes into de.customers
	total, next := 0, 0
	streamed := false
	if de == nil && reads != nil && field == "customer_id" && !desc {
		// The stored order: stream the page out of the document instead
		// of decoding it all (or, should that fail, decode it all).
		meta, body, err := reads.EstimateDocument(ctx, id, rev)
		if err != nil {
			return nil, err
		}
		rev = meta.Revision
		if de, total, err = streamPage(meta, body, offset, offset+size); err == nil {
			streamed = true
			for i := range de.customers {
				rows = append(rows, int32(i))
			}
			next = offset + len(rows)
		} else {
			s.o.Logger.WarnContext(ctx, "streaming an estimate page failed; decoding the whole estimate",
				"estimate", impact.EstimateName(id), "err", err)
			if de, err = decodeDocument(meta, body); err != nil {
				return nil, err
			}
			s.cache.put(docKey{id, rev}, de)
		}
	}
	if !streamed {
		if de == nil || rev == 0 {
			if de, err = loadDecoded(ctx, s.store, reads, id, rev); err != nil {
				return nil, err
			}
			rev = de.meta.Revision
			s.cache.put(docKey{id, rev}, de)
		}
		all := de.sorted(field, desc)
		total = len(all)
		lo := min(offset, total)
		next = min(lo+size, total)
		rows = all[lo:next]
	}
	page := &CustomerPage{Estimate: de.meta, Total: total, Next: next, Customers: make([]LeanCustomer, len(rows))}
	for j, i := range rows {
		page.Customers[j] = de.customers[i]
	}
	if reads != nil {
		start, end, n, err := reads.IncidentSpan(ctx, id)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			page.Start, page.End = start, end
		}
	}
	return page, nil
}

// loadDecoded reads revision rev (0: the latest) and decodes its customers.
func loadDecoded(ctx context.Context, st impact.Store, reads estimateReads, id string, rev int64) (*decodedEstimate, error) {
	if reads == nil {
		e, err := st.GetEstimate(ctx, id, rev)
		if err != nil {
			return nil, err
		}
		cs := leanOf(&e.IncidentEstimate)
		e.Customers = nil
		return &decodedEstimate{meta: e, customers: cs, orders: map[string][]int32{}}, nil
	}
	meta, body, err := reads.EstimateDocument(ctx, id, rev)
	if err != nil {
		return nil, err
	}
	return decodeDocument(meta, body)
}

// decodeDocument decodes a stored document's customers and totals: with
// scanCustomers, or, should the document not be as the store encodes it,
// with go-json-experiment/json. The customers may share body's memory:
// body must not be modified afterwards.
func decodeDocument(meta *impact.StoredEstimate, body []byte) (*decodedEstimate, error) {
	if cs, tail, err := scanCustomers(body); err == nil {
		var head leanHead
		obj := append([]byte{'{'}, tail[1:]...)
		if err := jsonv2.Unmarshal(obj, &head, jsonv2.RejectUnknownMembers(false)); err == nil {
			head.set(meta)
			return &decodedEstimate{meta: meta, customers: cs, orders: map[string][]int32{}}, nil
		}
	}
	return decodeReflect(meta, body)
}

// decodeReflect is decodeDocument with go-json-experiment/json only.
func decodeReflect(meta *impact.StoredEstimate, body []byte) (*decodedEstimate, error) {
	var lean leanEstimate
	if err := jsonv2.Unmarshal(body, &lean, jsonv2.RejectUnknownMembers(false)); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", impact.EstimateName(meta.IncidentID), err)
	}
	(&leanHead{Totals: lean.Totals, ReportingTotals: lean.ReportingTotals}).set(meta)
	return &decodedEstimate{meta: meta, customers: lean.Customers, orders: map[string][]int32{}}, nil
}

// sorted returns the customers' indexes in the order asked, sorting once.
func (de *decodedEstimate) sorted(field string, desc bool) []int32 {
	name := field
	if desc {
		name += " desc"
	}
	de.mu.Lock()
	defer de.mu.Unlock()
	if o, ok := de.orders[name]; ok {
		return o
	}
	o := sortCustomers(de.meta, de.customers, field, desc)
	de.orders[name] = o
	return o
}

// sortKey is a figure as a scaled integer when it fits (the fast path of
// every comparison), else as a decimal; absent for a customer without it
// (no recovery currency).
type sortKey struct {
	present bool
	small   bool
	n       int64
	d       decimal.Decimal
}

// keyScale is the decimals every key is scaled to: amounts have at most 3,
// a rate times an amount more; beyond it a key compares as a decimal.
const keyScale = 8

// plainKey scales a plain decimal string ("-1234.5") to keyScale decimals
// without big arithmetic: the common case of every key.
func plainKey(str string) (sortKey, bool) {
	neg := strings.HasPrefix(str, "-")
	if neg {
		str = str[1:]
	}
	intPart, frac, _ := strings.Cut(str, ".")
	if intPart == "" || len(intPart) > 18-keyScale || len(frac) > keyScale {
		return sortKey{}, false
	}
	var n int64
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return sortKey{}, false
			}
			n = n*10 + int64(c-'0')
		}
	}
	for range keyScale - len(frac) {
		n *= 10
	}
	if neg {
		n = -n
	}
	return sortKey{present: true, small: true, n: n}, true
}

func makeKey(d decimal.Decimal) sortKey {
	k := sortKey{present: true, d: d}
	if -d.Exponent() <= keyScale && d.Abs().LessThan(decimal.New(9, 18-keyScale)) {
		k.small, k.n = true, d.Shift(keyScale).IntPart()
	}
	return k
}

func (a *sortKey) cmp(b *sortKey) int {
	if a.small && b.small {
		switch {
		case a.n < b.n:
			return -1
		case a.n > b.n:
			return 1
		}
		return 0
	}
	return a.dec().Cmp(b.dec())
}

func (k *sortKey) dec() decimal.Decimal {
	if k.small {
		return decimal.New(k.n, -keyScale)
	}
	return k.d
}

// sortCustomers orders the customers by field, ascending or descending,
// ties (and customers without the figure, last) by id.
//
// Decision: amounts in different currencies are compared in the
// estimate's reporting currency (amount × the estimate's own FX rate,
// exact); an amount without a rate compares as it stands.
func sortCustomers(e *impact.StoredEstimate, cs []LeanCustomer, field string, desc bool) []int32 {
	rates := map[string]decimal.Decimal{}
	for _, r := range e.FXRates {
		if r.To == e.ReportingCurrency {
			if d, err := impact.ParseDecimal(r.Rate); err == nil {
				rates[r.From] = d
			}
		}
	}
	parse := func(s string) decimal.Decimal {
		d, _ := impact.ParseDecimal(s)
		return d
	}
	inReporting := func(m LeanMoney) decimal.Decimal {
		d := parse(m.Amount)
		if r, ok := rates[m.Currency]; ok && m.Currency != e.ReportingCurrency {
			return d.Mul(r)
		}
		return d
	}
	// key is the amount's sort key, without decimals unless it is converted.
	key := func(m LeanMoney) sortKey {
		if _, conv := rates[m.Currency]; !conv || m.Currency == e.ReportingCurrency {
			if k, ok := plainKey(m.Amount); ok {
				return k
			}
		}
		return makeKey(inReporting(m))
	}
	keys := make([]sortKey, len(cs))
	if field != "customer_id" {
		for i := range cs {
			c := &cs[i]
			switch field {
			case "impact_seconds":
				if k, ok := plainKey(c.ImpactSeconds); ok {
					keys[i] = k
				} else {
					keys[i] = makeKey(parse(c.ImpactSeconds))
				}
			case "sla_credits":
				if len(c.SLACredits) == 1 {
					keys[i] = key(c.SLACredits[0].Credit)
					break
				}
				var sum decimal.Decimal
				for j := range c.SLACredits {
					sum = sum.Add(inReporting(c.SLACredits[j].Credit))
				}
				keys[i] = makeKey(sum)
			case "lost_revenue_gross":
				keys[i] = key(c.LostRevenue.Gross)
			case "lost_revenue_net":
				keys[i] = key(c.LostRevenue.Net)
			case "churn_exposure":
				keys[i] = key(c.ChurnExposure)
			case "recovery_cost":
				if c.RecoveryCost != nil {
					keys[i] = key(*c.RecoveryCost)
				}
			}
		}
	}
	order := make([]int32, len(cs))
	for i := range order {
		order[i] = int32(i)
	}
	if field != "customer_id" && sortPacked(cs, keys, desc, order) {
		return order
	}
	// Ties by id, then (ids repeated) by position: a total order, the
	// stable sort's.
	slices.SortFunc(order, func(a, b int32) int {
		ka, kb := &keys[a], &keys[b]
		if ka.present && kb.present {
			if c := ka.cmp(kb); c != 0 {
				if desc {
					return -c
				}
				return c
			}
		} else if ka.present != kb.present {
			if ka.present {
				return -1
			}
			return 1
		}
		c := strings.Compare(cs[a].CustomerID, cs[b].CustomerID)
		if field == "customer_id" && desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return order
}

// sortPacked sorts order by keys when every key is a scaled integer or
// absent and the customers are in ascending id order (as the engine
// stores them), so that a tie by position is a tie by id: the keys are
// packed with their positions and compared inline. It reports false,
// order untouched, otherwise.
func sortPacked(cs []LeanCustomer, keys []sortKey, desc bool, order []int32) bool {
	for i := 1; i < len(cs); i++ {
		if cs[i-1].CustomerID >= cs[i].CustomerID {
			return false
		}
	}
	type packed struct {
		absent bool
		n      int64 // negated when descending: |n| < 9·10^18
		i      int32
	}
	ps := make([]packed, len(keys))
	for i := range keys {
		k := &keys[i]
		switch {
		case !k.present:
			ps[i] = packed{absent: true, i: int32(i)}
		case !k.small:
			return false
		case desc:
			ps[i] = packed{n: -k.n, i: int32(i)}
		default:
			ps[i] = packed{n: k.n, i: int32(i)}
		}
	}
	slices.SortFunc(ps, func(a, b packed) int {
		if a.absent != b.absent {
			if a.absent {
				return 1
			}
			return -1
		}
		if a.n != b.n {
			return cmp.Compare(a.n, b.n)
		}
		return cmp.Compare(a.i, b.i)
	})
	for j := range ps {
		order[j] = ps[j].i
	}
	return true
}
