package server

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// EstimateIncident is the stored :estimate: the application computes and
// stores the revision (estimating.Service.Estimate); this maps the request
// and the result.
func (s *Stored) EstimateIncident(ctx context.Context, req *impactv1.EstimateIncidentRequest) (*impactv1.IncidentEstimate, error) {
	ids, err := parseName("name", req.GetName(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	opt := estimating.Reporting{Currency: req.GetReportingCurrency()}
	for _, r := range req.GetFxRates() {
		opt.FXRates = append(opt.FXRates, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	saved, _, err := s.app.Estimate(ctx, ids[0], opt)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return storedEstimateToProto(saved), nil
}

// GetIncidentEstimate returns the latest revision for
// "incidents/{incident}/estimate", or one revision for
// "incidents/{incident}/estimate@{revision}" (AIP-162).
func (s *Stored) GetIncidentEstimate(ctx context.Context, req *impactv1.GetIncidentEstimateRequest) (*impactv1.IncidentEstimate, error) {
	name, revText, hasRev := strings.Cut(req.GetName(), "@")
	id, err := estimateIncidentID(name)
	if err != nil {
		return nil, s.fail(ctx, invalidField("name", "must be incidents/{incident}/estimate or incidents/{incident}/estimate@{revision}, got %q", req.GetName()))
	}
	var rev int64
	if hasRev {
		// Digits only: strconv would take "+1", and "01" would name
		// revision 1 by a second name.
		rev, err = strconv.ParseInt(revText, 10, 64)
		if err != nil || rev < 1 || !revisionDigits.MatchString(revText) {
			return nil, s.fail(ctx, invalidField("name", "revision must be a positive integer, got %q", req.GetName()))
		}
	}
	e, err := s.store.GetEstimate(ctx, id, rev)
	if err != nil {
		if hasRev && impact.ErrorCode(err) == impact.ENOTFOUND {
			err = impact.Errorf(impact.ENOTFOUND, "%s not found", estimateRevisionName(impact.EstimateName(id), rev))
		}
		return nil, s.fail(ctx, err)
	}
	if hasRev {
		return estimateRevisionToProto(e), nil
	}
	return storedEstimateToProto(e), nil
}

// revisionDigits is a revision id as GetIncidentEstimate takes it.
var revisionDigits = regexp.MustCompile(`^[1-9][0-9]*$`)

// estimateIncidentID parses "incidents/{incident}/estimate".
func estimateIncidentID(name string) (string, error) {
	prefix, ok := strings.CutSuffix(name, "/estimate")
	ids, err := parseName("name", prefix, "incidents")
	if !ok || err != nil {
		return "", invalidField("name", "must be incidents/{incident}/estimate, got %q", name)
	}
	return ids[0], nil
}

// ListIncidentEstimateRevisions lists the estimate's revisions newest first
// (AIP-162), each named "incidents/{incident}/estimate@{revision}".
func (s *Stored) ListIncidentEstimateRevisions(ctx context.Context, req *impactv1.ListIncidentEstimateRevisionsRequest) (*impactv1.ListIncidentEstimateRevisionsResponse, error) {
	id, err := estimateIncidentID(req.GetName())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.ListEstimateRevisions(ctx, id, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListIncidentEstimateRevisionsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.Estimates = append(resp.Estimates, estimateRevisionToProto(&page.Items[i]))
	}
	return resp, nil
}

// GetContractStatement computes the statement live from the stored windows
// (estimating.Service.Statement).
func (s *Stored) GetContractStatement(ctx context.Context, req *impactv1.GetContractStatementRequest) (*impactv1.ContractStatement, error) {
	ids, err := parseName("name", req.GetName(), "customers", "contracts", "statements")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	st, err := s.app.Statement(ctx, ids[0], ids[1], ids[2])
	if pe := (*estimating.PeriodError)(nil); errors.As(err, &pe) {
		err = invalidField("name", "%s", pe.Error())
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return storedStatementToProto(st), nil
}

// storedStatementToProto is a computed statement with its name.
func storedStatementToProto(st *impact.StoredStatement) *impactv1.ContractStatement {
	out := statementToProto(&st.SLAStatement)
	out.Name = proto.String(st.Name)
	return out
}
