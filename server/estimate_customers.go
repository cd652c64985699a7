package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// ListEstimateCustomers pages the customers of a stored estimate. The
// estimate is one stored document, so a page needs the whole document
// decoded and sorted; revisions never change once stored, so the sorted
// document of a (incident, revision, order) is kept in a small in-process
// cache and every further page of it is a slice. The cache is per replica
// and holds nothing that could go stale: a new revision is a new key.

// estimateReads are the store's cheap reads of estimate metadata
// (store.DB has them); without them the revision comes from the document.
type estimateReads interface {
	LatestEstimateRevision(ctx context.Context, incidentID string) (int64, error)
	IncidentSpan(ctx context.Context, incidentID string) (start, end time.Time, windows int64, err error)
}

// customerOrders are the order_by fields and their sort keys.
var customerOrders = map[string]func(c *impact.CustomerEstimate) *impact.Money{
	"impact_seconds":     nil,
	"customer_id":        nil,
	"lost_revenue_gross": func(c *impact.CustomerEstimate) *impact.Money { return &c.LostRevenue.Gross },
	"lost_revenue_net":   func(c *impact.CustomerEstimate) *impact.Money { return &c.LostRevenue.Net },
	"recovery_cost":      func(c *impact.CustomerEstimate) *impact.Money { return c.RecoveryCost },
	"churn_exposure":     func(c *impact.CustomerEstimate) *impact.Money { return &c.ChurnExposure },
	"sla_credits":        nil, // summed below
}

type sortedKey struct {
	incident string
	revision int64
	order    string
}

type sortedEstimate struct {
	est   *impact.StoredEstimate
	order []int // indexes into est.Customers
}

// estimateCache keeps the few sorted estimates being paged through.
type estimateCache struct {
	mu      sync.Mutex
	entries map[sortedKey]*sortedEstimate
	recent  []sortedKey // least recent first
}

const estimateCacheSize = 4

func (c *estimateCache) get(k sortedKey) *sortedEstimate {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e != nil {
		c.touch(k)
	}
	return e
}

func (c *estimateCache) put(k sortedKey, e *sortedEstimate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[sortedKey]*sortedEstimate{}
	}
	if _, ok := c.entries[k]; !ok && len(c.recent) >= estimateCacheSize {
		delete(c.entries, c.recent[0])
		c.recent = c.recent[1:]
	}
	c.entries[k] = e
	c.touch(k)
}

func (c *estimateCache) touch(k sortedKey) {
	for i, r := range c.recent {
		if r == k {
			c.recent = append(c.recent[:i], c.recent[i+1:]...)
			break
		}
	}
	c.recent = append(c.recent, k)
}

type customersToken struct {
	Parent   string `json:"p"`
	Order    string `json:"o"`
	Revision int64  `json:"r"`
	Offset   int    `json:"n"`
}

func (s *ImpactStatements) ListEstimateCustomers(ctx context.Context, req *impactv1.ListEstimateCustomersRequest) (*impactv1.ListEstimateCustomersResponse, error) {
	resp, err := s.listEstimateCustomers(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "")
	}
	return resp, nil
}

func (s *ImpactStatements) listEstimateCustomers(ctx context.Context, req *impactv1.ListEstimateCustomersRequest) (*impactv1.ListEstimateCustomersResponse, error) {
	id, err := estimateIncidentID(req.GetParent())
	if err != nil {
		return nil, invalidField("parent", "must be incidents/{incident}/estimate, got %q", req.GetParent())
	}
	order := strings.Join(strings.Fields(req.GetOrderBy()), " ")
	field, desc := strings.CutSuffix(order, " desc")
	if field == "" {
		field = "customer_id"
	}
	if _, ok := customerOrders[field]; !ok || strings.Contains(field, " ") {
		return nil, invalidField("order_by", "must be one of customer_id, impact_seconds, lost_revenue_gross, lost_revenue_net, recovery_cost, sla_credits, churn_exposure, optionally followed by \" desc\"; got %q", req.GetOrderBy())
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, invalidField("page_size", "must not be negative")
	case size == 0:
		size = impact.DefaultPageSize
	case size > impact.MaxPageSize:
		size = impact.MaxPageSize
	}
	tok := customersToken{Parent: req.GetParent(), Order: order}
	if t := req.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		var got customersToken
		if err != nil || json.Unmarshal(b, &got) != nil || got.Offset < 0 || got.Revision < 1 {
			return nil, invalidField("page_token", "is not a token of this list")
		}
		if got.Parent != tok.Parent || got.Order != tok.Order {
			return nil, invalidField("page_token", "belongs to another parent or order_by")
		}
		tok = got
	}

	reads, _ := s.store.(estimateReads)
	if tok.Revision == 0 && reads != nil {
		if tok.Revision, err = reads.LatestEstimateRevision(ctx, id); err != nil {
			return nil, err
		}
	}
	key := sortedKey{id, tok.Revision, field + map[bool]string{true: " desc"}[desc]}
	se := s.cache.get(key)
	if se == nil || tok.Revision == 0 {
		e, err := s.store.GetEstimate(ctx, id, tok.Revision)
		if err != nil {
			return nil, err
		}
		tok.Revision, key.revision = e.Revision, e.Revision
		se = sortCustomers(e, field, desc)
		s.cache.put(key, se)
	}

	e := se.est
	resp := &impactv1.ListEstimateCustomersResponse{
		TotalSize:   int32(len(e.Customers)),
		Revision:    e.Revision,
		ComputeTime: timestamppb.New(e.ComputeTime),
	}
	all := incidentEstimateToProto(&impact.IncidentEstimate{Totals: e.Totals, ReportingTotals: e.ReportingTotals})
	resp.Totals, resp.ReportingTotals = all.Totals, all.ReportingTotals
	lo := min(tok.Offset, len(se.order))
	hi := min(lo+size, len(se.order))
	page := impact.IncidentEstimate{Customers: make([]impact.CustomerEstimate, 0, hi-lo)}
	for _, i := range se.order[lo:hi] {
		page.Customers = append(page.Customers, e.Customers[i])
	}
	resp.Customers = incidentEstimateToProto(&page).Customers
	if hi < len(se.order) {
		next := tok
		next.Offset = hi
		b, _ := json.Marshal(next)
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString(b)
	}
	if reads != nil {
		start, end, n, err := reads.IncidentSpan(ctx, id)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			resp.StartTime, resp.EndTime = timestamppb.New(start), timestamppb.New(end)
		}
	}
	return resp, nil
}

// sortCustomers orders the estimate's customers by field, ascending or
// descending, ties (and customers without the figure, last) by id.
//
// Decision: amounts in different currencies are compared in the
// estimate's reporting currency (amount × the estimate's own FX rate,
// exact); an amount without a rate compares as it stands.
func sortCustomers(e *impact.StoredEstimate, field string, desc bool) *sortedEstimate {
	rates := map[string]decimal.Decimal{}
	for _, r := range e.FXRates {
		if r.To == e.ReportingCurrency {
			if d, err := impact.ParseDecimal(r.Rate); err == nil {
				rates[r.From] = d
			}
		}
	}
	inReporting := func(m *impact.Money) decimal.Decimal {
		if r, ok := rates[m.Currency]; ok && m.Currency != e.ReportingCurrency {
			return m.Amount.Mul(r)
		}
		return m.Amount
	}
	keys := make([]*decimal.Decimal, len(e.Customers))
	for i := range e.Customers {
		c := &e.Customers[i]
		var k decimal.Decimal
		switch field {
		case "customer_id":
			continue
		case "impact_seconds":
			k = c.ImpactSeconds
		case "sla_credits":
			for j := range c.SLACredits {
				k = k.Add(inReporting(&c.SLACredits[j].Credit))
			}
		default:
			m := customerOrders[field](c)
			if m == nil {
				continue
			}
			k = inReporting(m)
		}
		keys[i] = &k
	}
	order := make([]int, len(e.Customers))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ka, kb := keys[order[a]], keys[order[b]]
		if ka != nil && kb != nil {
			if c := ka.Cmp(*kb); c != 0 {
				return (c < 0) != desc
			}
		} else if (ka == nil) != (kb == nil) {
			return kb == nil
		}
		ia, ib := e.Customers[order[a]].CustomerID, e.Customers[order[b]].CustomerID
		if field == "customer_id" && desc {
			return ia > ib
		}
		return ia < ib
	})
	return &sortedEstimate{est: e, order: order}
}
