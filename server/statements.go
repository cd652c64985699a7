package server

import (
	"context"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// ListContractStatements lists the statements of a contract, newest period
// first (estimating.Service.Statements). The page token is the last period
// returned.
func (s *Stored) ListContractStatements(ctx context.Context, req *impactv1.ListContractStatementsRequest) (*impactv1.ListContractStatementsResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "customers", "contracts")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(req.GetPageSize())
	switch {
	case size < 0:
		return nil, s.fail(ctx, invalidField("page_size", "must not be negative"))
	case size == 0:
		size = impact.DefaultPageSize
	case size > impact.MaxPageSize:
		size = impact.MaxPageSize
	}
	sts, next, err := s.app.Statements(ctx, ids[0], ids[1], req.GetPageToken(), size)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListContractStatementsResponse{NextPageToken: next}
	for i := range sts {
		resp.SlaStatements = append(resp.SlaStatements, storedStatementToProto(&sts[i]))
	}
	return resp, nil
}
