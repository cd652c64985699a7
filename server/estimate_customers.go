package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// ListCustomerEstimates pages the customers of a stored estimate
// (estimating.Service.EstimateCustomers); this parses the request and its
// page token, and maps the page.

type customersToken struct {
	Parent   string `json:"p"`
	Order    string `json:"o"`
	Revision int64  `json:"r"`
	Offset   int    `json:"n"`
}

func (s *ImpactStatements) ListCustomerEstimates(ctx context.Context, req *impactv1.ListCustomerEstimatesRequest) (*impactv1.ListCustomerEstimatesResponse, error) {
	resp, err := s.listCustomerEstimates(ctx, req)
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "")
	}
	return resp, nil
}

func (s *ImpactStatements) listCustomerEstimates(ctx context.Context, req *impactv1.ListCustomerEstimatesRequest) (*impactv1.ListCustomerEstimatesResponse, error) {
	id, err := estimateIncidentID(req.GetParent())
	if err != nil {
		return nil, invalidField("parent", "must be incidents/{incident}/estimate, got %q", req.GetParent())
	}
	order := strings.Join(strings.Fields(req.GetOrderBy()), " ")
	field, desc := strings.CutSuffix(order, " desc")
	if field == "" {
		field = "customer_id"
	}
	if canon, ok := customerOrderAliases[field]; ok {
		field = canon
		order = strings.Replace(order, "sla_credit", "sla_credits", 1)
	}
	if !estimating.CustomerOrders[field] {
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

	page, err := s.app.EstimateCustomers(ctx, id, tok.Revision, field, desc, tok.Offset, size)
	if err != nil {
		return nil, err
	}
	tok.Revision = page.Estimate.Revision
	total, next := page.Total, page.Next
	e := page.Estimate
	resp := &impactv1.ListCustomerEstimatesResponse{
		TotalSize:   int32(total),
		Revision:    e.Revision,
		ComputeTime: timestamppb.New(e.ComputeTime),
	}
	all := incidentEstimateToProto(&impact.IncidentEstimate{Totals: e.Totals, ReportingTotals: e.ReportingTotals})
	resp.Totals, resp.ReportingTotals = all.Totals, all.ReportingTotals
	for i := range page.Customers {
		resp.Customers = append(resp.Customers, leanToProto(&page.Customers[i]))
	}
	if next < total {
		nt := tok
		nt.Offset = next
		b, _ := json.Marshal(nt)
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString(b)
	}
	if !page.Start.IsZero() {
		resp.StartTime, resp.EndTime = timestamppb.New(page.Start), timestamppb.New(page.End)
	}
	return resp, nil
}

func leanMoneyToProto(m estimating.LeanMoney) *impactv1.Money {
	d, err := impact.ParseDecimal(m.Amount)
	if err != nil {
		return &impactv1.Money{CurrencyCode: m.Currency, Amount: m.Amount}
	}
	return &impactv1.Money{CurrencyCode: m.Currency, Amount: impact.FormatAmount(m.Currency, d)}
}

// leanToProto is incidentEstimateToProto of one customer.
func leanToProto(c *estimating.LeanCustomer) *impactv1.CustomerEstimate {
	p := &impactv1.CustomerEstimate{
		CustomerId: c.CustomerID,
		LostRevenue: &impactv1.LostRevenue{Gross: leanMoneyToProto(c.LostRevenue.Gross), Net: leanMoneyToProto(c.LostRevenue.Net),
			Recaptured: leanMoneyToProto(c.LostRevenue.Recaptured)},
		ChurnExposure: leanMoneyToProto(c.ChurnExposure),
		SlaCredits:    make([]*impactv1.AttributedCredit, len(c.SLACredits)),
	}
	if d, err := impact.ParseDecimal(c.ImpactSeconds); err == nil {
		p.ImpactSeconds = impact.FormatDecimal(d)
	} else {
		p.ImpactSeconds = c.ImpactSeconds
	}
	if c.RecoveryCost != nil {
		p.RecoveryCost = leanMoneyToProto(*c.RecoveryCost)
	}
	for j, a := range c.SLACredits {
		p.SlaCredits[j] = &impactv1.AttributedCredit{Service: a.Service, PeriodStart: timestamppb.New(a.PeriodStart), Credit: leanMoneyToProto(a.Credit)}
	}
	return p
}

// customerOrderAliases are other spellings of order_by fields: the
// singular sla_credit (the sum of a customer's credits) is sla_credits.
var customerOrderAliases = map[string]string{"sla_credit": "sla_credits"}
