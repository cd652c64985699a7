package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// RecomputeService implements impact.v1.RecomputeService over an
// impact.JobStore: it creates, reads, cancels and watches jobs; the work
// itself is done by Recomputer workers (in impactd or impactctl) leasing
// the jobs' chunks in the database.
type RecomputeService struct {
	impactv1.UnimplementedRecomputeServiceServer

	log       *slog.Logger
	jobs      impact.JobStore
	chunkSize int
	// poll is how often a watch reads the job: workers in other processes
	// update it in the database, so there is nothing to subscribe to.
	poll    time.Duration
	watches watchHub
}

// DefaultWatchPoll is how often WatchRecomputeJob reads the job.
const DefaultWatchPoll = 250 * time.Millisecond

// NewRecomputeService returns the service over jobs; created jobs are split
// into chunks of about chunkSize (incident, customer) estimates
// (DefaultChunkSize in impactd).
func NewRecomputeService(log *slog.Logger, jobs impact.JobStore, chunkSize int) *RecomputeService {
	return &RecomputeService{log: log, jobs: jobs, chunkSize: chunkSize, poll: DefaultWatchPoll}
}

// Register registers RecomputeService on r.
func (s *RecomputeService) Register(r grpc.ServiceRegistrar) {
	impactv1.RegisterRecomputeServiceServer(r, s)
}

func (s *RecomputeService) fail(ctx context.Context, err error) error {
	return toStatus(ctx, s.log, err, "")
}

func (s *RecomputeService) CreateRecomputeJob(ctx context.Context, req *impactv1.CreateRecomputeJobRequest) (*impactv1.RecomputeJob, error) {
	f, err := filterFromProto(req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// join false: an identical open job is ALREADY_EXISTS, which tells the
	// caller to watch that one rather than silently handing it over.
	j, _, err := s.jobs.CreateJob(ctx, f, req.GetDryRun(), s.chunkSize, req.GetRequestId(), false)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return jobToProto(j), nil
}

func (s *RecomputeService) GetRecomputeJob(ctx context.Context, req *impactv1.GetRecomputeJobRequest) (*impactv1.RecomputeJob, error) {
	ids, err := parseName("name", req.GetName(), "recomputeJobs")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	j, err := s.jobs.GetJob(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return jobToProto(j), nil
}

func (s *RecomputeService) ListRecomputeJobs(ctx context.Context, req *impactv1.ListRecomputeJobsRequest) (*impactv1.ListRecomputeJobsResponse, error) {
	page, err := s.jobs.ListJobs(ctx, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListRecomputeJobsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.RecomputeJobs = append(resp.RecomputeJobs, jobToProto(&page.Items[i]))
	}
	return resp, nil
}

func (s *RecomputeService) CancelRecomputeJob(ctx context.Context, req *impactv1.CancelRecomputeJobRequest) (*impactv1.RecomputeJob, error) {
	ids, err := parseName("name", req.GetName(), "recomputeJobs")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	j, err := s.jobs.CancelJob(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return jobToProto(j), nil
}

func (s *RecomputeService) ListRecomputeJobChanges(ctx context.Context, req *impactv1.ListRecomputeJobChangesRequest) (*impactv1.ListRecomputeJobChangesResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "recomputeJobs")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.jobs.ListChanges(ctx, ids[0], pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	parent := impact.JobName(ids[0])
	resp := &impactv1.ListRecomputeJobChangesResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.RecomputeChanges = append(resp.RecomputeChanges, changeToProto(parent, &page.Items[i]))
	}
	return resp, nil
}

// WatchRecomputeJob sends the job, then polls it and sends it again
// whenever anything in it changed, until it is terminal (sent last) or the
// call ends (the client went away, or the server's call timeout).
func (s *RecomputeService) WatchRecomputeJob(req *impactv1.WatchRecomputeJobRequest, stream grpc.ServerStreamingServer[impactv1.RecomputeJob]) error {
	ctx := stream.Context()
	ids, err := parseName("name", req.GetName(), "recomputeJobs")
	if err != nil {
		return s.fail(ctx, err)
	}
	// One poller per job feeds every watch of it (watchhub.go).
	p := s.watches.subscribe(s.jobs, ids[0], s.poll)
	defer s.watches.unsubscribe(ids[0], p)
	var last *impactv1.RecomputeJob
	for {
		j, err, changed := p.latest()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				err = ctx.Err() // the store's error is the call ending
			}
			return s.fail(ctx, err)
		case j != nil: // nil before the poller's first read
			pj := jobToProto(j)
			if last == nil || !proto.Equal(last, pj) {
				if err := stream.Send(pj); err != nil {
					return err // the client is gone; its status is already set
				}
				last = pj
			}
			if j.State.Terminal() {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return s.fail(ctx, ctx.Err())
		case <-changed:
		}
	}
}
