package server

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// AuditService serves impact.v1.AuditService: the audit log, for admins.
type AuditService struct {
	impactv1.UnimplementedAuditServiceServer
	log   *slog.Logger
	audit impact.AuditStore
}

// NewAuditService returns the AuditService over audit.
func NewAuditService(log *slog.Logger, audit impact.AuditStore) *AuditService {
	return &AuditService{log: log, audit: audit}
}

// Register registers AuditService on r.
func (s *AuditService) Register(r grpc.ServiceRegistrar) { impactv1.RegisterAuditServiceServer(r, s) }

func (s *AuditService) ListAuditRecords(ctx context.Context, req *impactv1.ListAuditRecordsRequest) (*impactv1.ListAuditRecordsResponse, error) {
	page, err := s.audit.ListAuditRecords(ctx, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, toStatus(ctx, s.log, err, "")
	}
	resp := &impactv1.ListAuditRecordsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.AuditRecords = append(resp.AuditRecords, AuditRecordToProto(&page.Items[i]))
	}
	return resp, nil
}

// AuditRecordToProto maps one audit record (impactctl audit uses it too).
func AuditRecordToProto(r *impact.AuditRecord) *impactv1.AuditRecord {
	return &impactv1.AuditRecord{
		Name: impact.AuditName(r.ID), Actor: r.Actor, Action: r.Action, Resource: r.Resource, Detail: r.Detail,
		CreateTime: tsOrNil(r.Time), BeforeJson: r.Before, AfterJson: r.After,
	}
}
