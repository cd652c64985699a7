package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/shopspring/decimal"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	dto "github.com/prometheus/client_model/go"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// fakeJobs is an in-memory impact.JobStore with the API's side of the
// contract: create (with the open-duplicate conflict), get, list, cancel
// and changes. onGet, when set, may change a job before GetJob returns it,
// which is how the watch tests make a job progress.
type fakeJobs struct {
	mu      sync.Mutex
	jobs    []*impact.RecomputeJob // oldest first
	changes map[string][]impact.RecomputeChange
	onGet   func(j *impact.RecomputeJob, n int) // n: GetJob calls of this job so far
	gets    map[string]int
	listErr error

	// The arguments of the last CreateJob.
	chunkSize int
	requestID string
}

func newFakeJobs() *fakeJobs {
	return &fakeJobs{changes: map[string][]impact.RecomputeChange{}, gets: map[string]int{}}
}

func (f *fakeJobs) add(j impact.RecomputeJob) *impact.RecomputeJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	j.Name = impact.JobName(j.ID)
	f.jobs = append(f.jobs, &j)
	return &j
}

func (f *fakeJobs) find(id string) (*impact.RecomputeJob, error) {
	for _, j := range f.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return nil, impact.Errorf(impact.ENOTFOUND, "recompute job %q not found", id)
}

func (f *fakeJobs) CreateJob(ctx context.Context, flt impact.RecomputeFilter, dryRun bool, chunkSize int, requestID string, join bool) (*impact.RecomputeJob, bool, error) {
	if err := flt.Validate(); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	f.chunkSize, f.requestID = chunkSize, requestID
	for _, j := range f.jobs {
		if !j.State.Terminal() && j.DryRun == dryRun && cmp.Equal(j.Filter, flt) {
			f.mu.Unlock()
			return nil, false, impact.Errorf(impact.ECONFLICT, "recompute job %s with the same filter is still open", j.Name)
		}
	}
	now := time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)
	id := "job" + string(rune('a'+len(f.jobs)))
	f.mu.Unlock()
	j := f.add(impact.RecomputeJob{ID: id, Filter: flt, DryRun: dryRun, State: impact.JobQueued,
		Counts: impact.JobCounts{Total: 3, CustomersTotal: 7}, Creator: impact.ActorFrom(ctx),
		CreateTime: now, UpdateTime: now})
	c := *j
	return &c, true, nil
}

func (f *fakeJobs) GetJob(_ context.Context, id string) (*impact.RecomputeJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return nil, err
	}
	f.gets[id]++
	if f.onGet != nil {
		f.onGet(j, f.gets[id])
	}
	c := *j
	return &c, nil
}

func (f *fakeJobs) getCount(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[id]
}

func (f *fakeJobs) ListJobs(_ context.Context, page impact.PageRequest) (*impact.Page[impact.RecomputeJob], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var p impact.Page[impact.RecomputeJob]
	for i := len(f.jobs) - 1; i >= 0; i-- {
		p.Items = append(p.Items, *f.jobs[i])
	}
	return &p, nil
}

func (f *fakeJobs) CancelJob(_ context.Context, id string) (*impact.RecomputeJob, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, err := f.find(id)
	if err != nil {
		return nil, err
	}
	switch j.State {
	case impact.JobSucceeded, impact.JobFailed:
		return nil, impact.Errorf(impact.EFAILEDPRECOND, "recompute job %s has ended", j.Name)
	case impact.JobQueued, impact.JobRunning:
		j.State = impact.JobCancelled
	}
	c := *j
	return &c, nil
}

func (f *fakeJobs) ListChanges(_ context.Context, id string, _ impact.PageRequest) (*impact.Page[impact.RecomputeChange], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.find(id); err != nil {
		return nil, err
	}
	return &impact.Page[impact.RecomputeChange]{Items: f.changes[id], NextPageToken: "next"}, nil
}

var errWorkerOnly = errors.New("not used by the API")

func (f *fakeJobs) LeaseChunk(context.Context, string, string, time.Duration) (*impact.Chunk, error) {
	return nil, errWorkerOnly
}
func (f *fakeJobs) RenewLease(context.Context, *impact.Chunk, time.Duration) error {
	return errWorkerOnly
}
func (f *fakeJobs) CompleteChunk(context.Context, *impact.Chunk, *impact.ChunkResult) (*impact.RecomputeJob, error) {
	return nil, errWorkerOnly
}
func (f *fakeJobs) LatestEstimates(context.Context, []string) (map[string]*impact.StoredEstimate, error) {
	return nil, errWorkerOnly
}

func (f *fakeJobs) LatestEstimateHeads(context.Context, []string) (map[string]*impact.StoredEstimate, error) {
	return nil, errWorkerOnly
}

var _ impact.JobStore = (*fakeJobs)(nil)

// startRecompute serves RecomputeService over jobs in memory, with a 1 ms
// watch poll.
func startRecompute(t *testing.T, jobs *fakeJobs) (impactv1.RecomputeServiceClient, *grpc.ClientConn) {
	t.Helper()
	svc := NewRecomputeService(slog.New(slog.DiscardHandler), jobs, 123)
	svc.poll = time.Millisecond
	conn, _ := startGRPC(t, NewEstimator(slog.New(slog.DiscardHandler)), func(s *grpc.Server) { svc.Register(s) })
	return impactv1.NewRecomputeServiceClient(conn), conn
}

// violations returns the BadRequest field paths of err.
func violations(err error) []string {
	var fs []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fs = append(fs, v.GetField())
			}
		}
	}
	return fs
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: got %v (%v), want %v", what, got, err, want)
	}
}

func TestRecomputeServiceCreateGetListCancel(t *testing.T) {
	jobs := newFakeJobs()
	client, _ := startRecompute(t, jobs)
	ctx := context.Background()
	since := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	filter := &impactv1.RecomputeFilter{
		Since: timestamppb.New(since), Until: timestamppb.New(until),
		CustomerIds: []string{"bank", "shop"}, IncidentIds: []string{"inc-1"},
	}
	got, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{Filter: filter, DryRun: true, RequestId: "r-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := &impactv1.RecomputeJob{
		Name: "recomputeJobs/joba", Filter: filter, DryRun: true, State: impactv1.RecomputeJob_QUEUED,
		Counts:     &impactv1.RecomputeCounts{Total: 3, CustomersTotal: 7},
		Creator:    impact.Anonymous,
		CreateTime: timestamppb.New(time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)),
		UpdateTime: timestamppb.New(time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("created job (-want +got):\n%s", diff)
	}
	if jobs.chunkSize != 123 || jobs.requestID != "r-1" {
		t.Errorf("CreateJob got chunk size %d, request id %q; want 123, r-1", jobs.chunkSize, jobs.requestID)
	}
	if j, _ := jobs.find("joba"); !j.Filter.Since.Equal(since) || !j.Filter.Until.Equal(until) ||
		!slices.Equal(j.Filter.CustomerIDs, []string{"bank", "shop"}) || !slices.Equal(j.Filter.IncidentIDs, []string{"inc-1"}) {
		t.Errorf("stored filter %+v", j.Filter)
	}

	// The same open job again: ALREADY_EXISTS; not dry: another job.
	_, err = client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{Filter: filter, DryRun: true})
	wantCode(t, "identical open job", err, codes.AlreadyExists)
	if _, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{Filter: filter}); err != nil {
		t.Fatalf("the same filter, not dry: %v", err)
	}
	// No filter at all: every incident.
	all, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(all.GetFilter(), &impactv1.RecomputeFilter{}, protocmp.Transform()) {
		t.Errorf("empty filter came back as %v", all.GetFilter())
	}

	// Bad filters: every problem a field violation with its request path.
	for _, c := range []struct {
		name   string
		filter *impactv1.RecomputeFilter
		want   []string
	}{
		{"until before since", &impactv1.RecomputeFilter{Since: timestamppb.New(until), Until: timestamppb.New(since)},
			[]string{"filter.until"}},
		{"bad ids", &impactv1.RecomputeFilter{CustomerIds: []string{"a", "a", ""}, IncidentIds: []string{"x/y"}},
			[]string{"filter.customer_ids[1]", "filter.customer_ids[2]", "filter.incident_ids[0]"}},
		{"invalid timestamp", &impactv1.RecomputeFilter{Since: &timestamppb.Timestamp{Nanos: -1}},
			[]string{"filter.since"}},
	} {
		_, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{Filter: c.filter})
		wantCode(t, c.name, err, codes.InvalidArgument)
		if got := violations(err); !cmp.Equal(got, c.want) {
			t.Errorf("%s: violations %q, want %q", c.name, got, c.want)
		}
	}

	g, err := client.GetRecomputeJob(ctx, &impactv1.GetRecomputeJobRequest{Name: "recomputeJobs/joba"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, g, protocmp.Transform()); diff != "" {
		t.Errorf("got job (-want +got):\n%s", diff)
	}
	_, err = client.GetRecomputeJob(ctx, &impactv1.GetRecomputeJobRequest{Name: "recomputeJobs/nope"})
	wantCode(t, "missing job", err, codes.NotFound)
	_, err = client.GetRecomputeJob(ctx, &impactv1.GetRecomputeJobRequest{Name: "jobs/joba"})
	wantCode(t, "bad name", err, codes.InvalidArgument)
	if got := violations(err); !cmp.Equal(got, []string{"name"}) {
		t.Errorf("bad name: violations %q", got)
	}

	l, err := client.ListRecomputeJobs(ctx, &impactv1.ListRecomputeJobsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, j := range l.GetRecomputeJobs() {
		names = append(names, j.GetName())
	}
	if want := []string{"recomputeJobs/jobc", "recomputeJobs/jobb", "recomputeJobs/joba"}; !cmp.Equal(names, want) {
		t.Errorf("listed %q, want %q", names, want)
	}

	c, err := client.CancelRecomputeJob(ctx, &impactv1.CancelRecomputeJobRequest{Name: "recomputeJobs/joba"})
	if err != nil || c.GetState() != impactv1.RecomputeJob_CANCELLED {
		t.Errorf("cancel: %v, %v", c.GetState(), err)
	}
	jobs.mu.Lock()
	jobs.jobs[1].State = impact.JobSucceeded
	jobs.mu.Unlock()
	_, err = client.CancelRecomputeJob(ctx, &impactv1.CancelRecomputeJobRequest{Name: "recomputeJobs/jobb"})
	wantCode(t, "cancel a finished job", err, codes.FailedPrecondition)
}

func TestRecomputeServiceListChanges(t *testing.T) {
	jobs := newFakeJobs()
	client, _ := startRecompute(t, jobs)
	jobs.add(impact.RecomputeJob{ID: "j1", State: impact.JobSucceeded})
	jobs.changes["j1"] = []impact.RecomputeChange{
		{IncidentID: "inc-1", OldRevision: 2, NewRevision: 3, OldModelVersion: "2025.1", OldInputsDigest: "old",
			NewInputsDigest: "new", CustomersChanged: 1, Differences: []impact.FigureDifferences{{
				Currency: "USD", LostRevenueGross: decimal.RequireFromString("-12.5"), LostRevenueNet: decimal.RequireFromString("-10"),
			}, {
				Currency: "JPY", SLACredits: decimal.RequireFromString("300"),
			}}},
		{IncidentID: "inc-2", OldRevision: 1, Error: "customer bank has no contract"},
	}
	resp, err := client.ListRecomputeJobChanges(context.Background(), &impactv1.ListRecomputeJobChangesRequest{Parent: "recomputeJobs/j1"})
	if err != nil {
		t.Fatal(err)
	}
	want := &impactv1.ListRecomputeJobChangesResponse{
		NextPageToken: "next",
		RecomputeChanges: []*impactv1.RecomputeJobChange{{
			Name: "recomputeJobs/j1/changes/inc-1", Incident: "incidents/inc-1", OldRevision: 2, NewRevision: 3,
			OldModelVersion: "2025.1", OldInputsDigest: "old", NewInputsDigest: "new", CustomersChanged: 1,
			Differences: []*impactv1.FigureDifferences{{
				CurrencyCode: "USD", LostRevenueGross: "-12.50", LostRevenueNet: "-10.00", RecoveryCost: "0.00",
				SlaCredits: "0.00", ChurnExposure: "0.00",
			}, {
				CurrencyCode: "JPY", LostRevenueGross: "0", LostRevenueNet: "0", RecoveryCost: "0",
				SlaCredits: "300", ChurnExposure: "0",
			}},
		}, {
			Name: "recomputeJobs/j1/changes/inc-2", Incident: "incidents/inc-2", OldRevision: 1,
			Differences: []*impactv1.FigureDifferences{}, Error: "customer bank has no contract",
		}},
	}
	if diff := cmp.Diff(want, resp, protocmp.Transform()); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	_, err = client.ListRecomputeJobChanges(context.Background(), &impactv1.ListRecomputeJobChangesRequest{Parent: "recomputeJobs/nope"})
	wantCode(t, "changes of a missing job", err, codes.NotFound)
}

// progress makes job "w" go QUEUED, QUEUED (unchanged: not sent), RUNNING
// with 1 done, RUNNING with 2 done, SUCCEEDED over its GetJob calls.
func progress(j *impact.RecomputeJob, n int) {
	t0 := time.Date(2025, 8, 1, 12, 0, 0, 0, time.UTC)
	switch n {
	case 3:
		j.State, j.Counts.Done, j.StartTime, j.UpdateTime = impact.JobRunning, 1, t0, t0.Add(time.Second)
	case 4:
		j.Counts.Done, j.UpdateTime = 2, t0.Add(2*time.Second)
	case 5:
		j.State, j.Counts.Done, j.EndTime, j.UpdateTime = impact.JobSucceeded, 3, t0.Add(3*time.Second), t0.Add(3*time.Second)
	}
}

// coalesced reports whether got is want with some of its middle states
// left out: a watch sends the latest state it read, and every watch of a
// job shares one poller (watchhub.go), so a state that lasted less than
// one send may be skipped, but never the first or the terminal one, and
// never out of order.
func coalesced(got, want []watched) bool {
	if len(got) == 0 || got[0] != want[0] || got[len(got)-1] != want[len(want)-1] {
		return false
	}
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	return true
}

type watched struct {
	state string
	done  int64
}

func TestWatchRecomputeJob(t *testing.T) {
	want := []watched{{"QUEUED", 0}, {"RUNNING", 1}, {"RUNNING", 2}, {"SUCCEEDED", 3}}

	t.Run("grpc", func(t *testing.T) {
		jobs := newFakeJobs()
		jobs.onGet = progress
		client, _ := startRecompute(t, jobs)
		jobs.add(impact.RecomputeJob{ID: "w", State: impact.JobQueued, Counts: impact.JobCounts{Total: 3}})
		stream, err := client.WatchRecomputeJob(context.Background(), &impactv1.WatchRecomputeJobRequest{Name: "recomputeJobs/w"})
		if err != nil {
			t.Fatal(err)
		}
		var got []watched
		for {
			j, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %v: %v", got, err)
			}
			got = append(got, watched{j.GetState().String(), j.GetCounts().GetDone()})
		}
		if !coalesced(got, want) {
			t.Errorf("watched %v, want %v or a part of it from its first to its last", got, want)
		}
		// The poller stops once the last watch has ended at the terminal state.
		time.Sleep(20 * time.Millisecond)
		n := jobs.getCount("w")
		time.Sleep(20 * time.Millisecond)
		if m := jobs.getCount("w"); n < 5 || m != n {
			t.Errorf("read the job %d, then %d times; want 5 or more, then no more", n, m)
		}
	})

	t.Run("http", func(t *testing.T) {
		jobs := newFakeJobs()
		jobs.onGet = progress
		_, conn := startRecompute(t, jobs)
		jobs.add(impact.RecomputeJob{ID: "w", State: impact.JobQueued, Counts: impact.JobCounts{Total: 3}})
		h, err := NewHTTPHandler(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/v1/recomputeJobs/w:watch")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %s", resp.Status)
		}
		var got []watched
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var line struct {
				Result struct {
					State  string
					Counts struct{ Done string }
				}
				Error any
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %q: %v", sc.Text(), err)
			}
			if line.Error != nil {
				t.Fatalf("error line %s", sc.Text())
			}
			var done int64
			json.Unmarshal([]byte(line.Result.Counts.Done), &done)
			got = append(got, watched{line.Result.State, done})
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		if !coalesced(got, want) {
			t.Errorf("watched %v, want %v or a part of it from its first to its last", got, want)
		}
	})

	t.Run("missing job", func(t *testing.T) {
		client, _ := startRecompute(t, newFakeJobs())
		stream, err := client.WatchRecomputeJob(context.Background(), &impactv1.WatchRecomputeJobRequest{Name: "recomputeJobs/nope"})
		if err == nil {
			_, err = stream.Recv()
		}
		wantCode(t, "watch a missing job", err, codes.NotFound)
	})

	t.Run("client cancels", func(t *testing.T) {
		jobs := newFakeJobs()
		client, _ := startRecompute(t, jobs)
		jobs.add(impact.RecomputeJob{ID: "forever", State: impact.JobRunning})
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := client.WatchRecomputeJob(ctx, &impactv1.WatchRecomputeJobRequest{Name: "recomputeJobs/forever"})
		if err != nil {
			t.Fatal(err)
		}
		if j, err := stream.Recv(); err != nil || j.GetState() != impactv1.RecomputeJob_RUNNING {
			t.Fatalf("first message: %v, %v", j, err)
		}
		cancel()
		_, err = stream.Recv()
		wantCode(t, "after cancel", err, codes.Canceled)
		// The server stops polling once the call is gone.
		time.Sleep(50 * time.Millisecond)
		n := jobs.getCount("forever")
		time.Sleep(50 * time.Millisecond)
		if m := jobs.getCount("forever"); m != n {
			t.Errorf("still polling after the client left: %d then %d reads", n, m)
		}
	})
}

// gather renders reg in the text format and parses it back, so that a
// malformed exposition fails the test.
func gather(t *testing.T, reg http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	reg.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// metricValue returns the value of the gauge or counter of family name with
// exactly labels, and whether there is one.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, m := range mfs[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		if !cmp.Equal(have, labels) {
			continue
		}
		if m.GetCounter() != nil {
			return m.GetCounter().GetValue(), true
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

func TestRecomputeMetrics(t *testing.T) {
	jobs := newFakeJobs()
	jobs.add(impact.RecomputeJob{ID: "old", State: impact.JobSucceeded, Counts: impact.JobCounts{Total: 9, Done: 9}})
	jobs.add(impact.RecomputeJob{ID: "run", State: impact.JobRunning, Counts: impact.JobCounts{
		Total: 10, Done: 4, Changed: 3, Failed: 1, CustomersTotal: 40, CustomersDone: 17, CustomersChanged: 5}})
	jobs.add(impact.RecomputeJob{ID: "new", State: impact.JobQueued, DryRun: true, Counts: impact.JobCounts{Total: 2, CustomersTotal: 2}})
	h := MetricsHandler(NewMetricsRegistry(NewRecomputeCollector(jobs)))

	mfs := gather(t, h)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"impact_recompute_scrape_ok", map[string]string{}, 1},
		{"impact_recompute_jobs", map[string]string{"state": "RUNNING"}, 1},
		{"impact_recompute_jobs", map[string]string{"state": "QUEUED"}, 1},
		{"impact_recompute_job_planned_estimates", map[string]string{"recompute_job": "run"}, 10},
		{"impact_recompute_job_done_estimates", map[string]string{"recompute_job": "run"}, 4},
		{"impact_recompute_job_changed_estimates", map[string]string{"recompute_job": "run"}, 3},
		{"impact_recompute_job_failed_estimates", map[string]string{"recompute_job": "run"}, 1},
		{"impact_recompute_job_planned_estimates", map[string]string{"recompute_job": "new"}, 2},
		{"impact_recompute_job_done_estimates", map[string]string{"recompute_job": "new"}, 0},
		{"impact_recompute_job_planned_customer_estimates", map[string]string{"recompute_job": "run"}, 40},
		{"impact_recompute_job_done_customer_estimates", map[string]string{"recompute_job": "run"}, 17},
		{"impact_recompute_job_changed_customer_estimates", map[string]string{"recompute_job": "run"}, 5},
	} {
		if got, ok := metricValue(mfs, c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := metricValue(mfs, "impact_recompute_job_planned_estimates", map[string]string{"recompute_job": "old"}); ok {
		t.Error("a finished job has series")
	}

	// The counters of RecomputeChunkDone, compared before and after: other
	// tests in the process may add to them.
	before := gather(t, h)
	RecomputeChunkDone(&impact.RecomputeJob{ID: "run"}, &impact.ChunkResult{Counts: impact.JobCounts{
		Done: 5, Changed: 2, Failed: 1, CustomersDone: 12}})
	RecomputeChunkDone(&impact.RecomputeJob{ID: "new", DryRun: true}, &impact.ChunkResult{Counts: impact.JobCounts{
		Done: 2, Changed: 2, CustomersDone: 2}})
	after := gather(t, h)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"impact_recompute_chunks_total", map[string]string{"dry_run": "false"}, 1},
		{"impact_recompute_chunks_total", map[string]string{"dry_run": "true"}, 1},
		{"impact_recompute_estimates_total", map[string]string{"result": "changed", "dry_run": "false"}, 2},
		{"impact_recompute_estimates_total", map[string]string{"result": "unchanged", "dry_run": "false"}, 2},
		{"impact_recompute_estimates_total", map[string]string{"result": "failed", "dry_run": "false"}, 1},
		{"impact_recompute_estimates_total", map[string]string{"result": "changed", "dry_run": "true"}, 2},
		{"impact_recompute_estimates_total", map[string]string{"result": "unchanged", "dry_run": "true"}, 0},
		{"impact_recompute_customer_estimates_total", map[string]string{"dry_run": "false"}, 12},
		{"impact_recompute_customer_estimates_total", map[string]string{"dry_run": "true"}, 2},
	} {
		b, okb := metricValue(before, c.name, c.labels)
		a, oka := metricValue(after, c.name, c.labels)
		if !okb || !oka || a-b != c.want {
			t.Errorf("%s%v went from %v to %v (present %v, %v), want +%v", c.name, c.labels, b, a, okb, oka, c.want)
		}
	}

	// A failing database: the scrape still answers, with scrape_ok 0.
	jobs.mu.Lock()
	jobs.listErr = errors.New("database is down")
	jobs.mu.Unlock()
	// Within a second of the last read, scrapes are answered from it
	// without reading the database again.
	mfs = gather(t, h)
	if got, ok := metricValue(mfs, "impact_recompute_scrape_ok", map[string]string{}); !ok || got != 1 {
		t.Errorf("impact_recompute_scrape_ok = %v (present %v) right after a good read, want 1 (cached)", got, ok)
	}
	time.Sleep(ScrapeCache)
	mfs = gather(t, h)
	if got, ok := metricValue(mfs, "impact_recompute_scrape_ok", map[string]string{}); !ok || got != 0 {
		t.Errorf("impact_recompute_scrape_ok = %v (present %v) with the database down, want 0", got, ok)
	}
	if _, ok := mfs["impact_recompute_job_planned_estimates"]; ok {
		t.Error("job series without a database")
	}
	if _, ok := mfs["go_goroutines"]; !ok {
		t.Error("the rest of the scrape is gone with the database")
	}
}
