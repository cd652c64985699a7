package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Recompute jobs end to end: impactd's own workers run the jobs created
// through its API.

// recomputeSeed stores two customers without contracts, each hit by one
// incident, and estimates both incidents (revision 1):
//
//	acme: 120.00 USD an hour, recapture 25 %, 1.5 h down in inc-acme:
//	      gross 1.5 × 120 = 180.00, net 180 × 0.75 = 135.00;
//	      churn 0.01 × 10000 = 100.00
//	beta: 50.00 USD an hour, 1 h down in inc-beta: gross = net = 50.00
func recomputeSeed(t *testing.T, d *impactd) {
	t.Helper()
	must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode": "USD",
		"baseline": {"hourlyAmount": "120.00", "recaptureRate": "0.25"},
		"lifetimeValue": "10000", "churnProbability": "0.01"}`)
	must(t, "POST", d.url("/v1/customers?customerId=beta"), `{"currencyCode": "USD",
		"baseline": {"hourlyAmount": "50.00"}}`)
	for _, w := range []struct{ incident, customer, start, end string }{
		{"inc-acme", "acme", "2025-07-01T10:00:00Z", "2025-07-01T11:30:00Z"},
		{"inc-beta", "beta", "2025-07-02T10:00:00Z", "2025-07-02T11:00:00Z"},
	} {
		must(t, "POST", d.url("/v1/incidents?incidentId="+w.incident), `{"title": "outage", "cause": "HARDWARE_FAILURE"}`)
		must(t, "POST", d.url("/v1/incidents/"+w.incident+"/windows:batchCreate"), `{"requests": [{"outageWindow":
			{"customerId": "`+w.customer+`", "service": "api", "startTime": "`+w.start+`", "endTime": "`+w.end+`"}}]}`)
		e := must(t, "POST", d.url("/v1/incidents/"+w.incident+":estimate"), `{}`)
		if e["revision"] != "1" {
			t.Fatalf("%s: first estimate has revision %v", w.incident, e["revision"])
		}
	}
	if g := dig(t, must(t, "GET", d.url("/v1/incidents/inc-acme/estimate"), ""), "totals", 0, "lostRevenueGross"); g != "180.00" {
		t.Fatalf("inc-acme gross %v, want 180.00", g)
	}
}

// watchJob watches a job over gRPC until the stream ends and returns what
// it sent; the last message must be terminal.
func watchJob(t *testing.T, client impactv1.RecomputeServiceClient, ctx context.Context, name string) []*impactv1.RecomputeJob {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	stream, err := client.WatchRecomputeJob(ctx, &impactv1.WatchRecomputeJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	var got []*impactv1.RecomputeJob
	for {
		j, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("watching %s after %d messages: %v", name, len(got), err)
		}
		got = append(got, j)
	}
	if len(got) == 0 {
		t.Fatalf("watching %s: no message", name)
	}
	last := got[len(got)-1]
	switch last.GetState() {
	case impactv1.RecomputeJob_SUCCEEDED, impactv1.RecomputeJob_FAILED, impactv1.RecomputeJob_CANCELLED:
	default:
		t.Fatalf("watch of %s ended in state %v", name, last.GetState())
	}
	for i := 1; i < len(got); i++ {
		if prev := got[i-1]; cmp.Equal(prev, got[i], protocmp.Transform()) {
			t.Errorf("watch sent the same job twice in a row: %v", prev)
		}
	}
	return got
}

func TestRecomputeJobs(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		ctx := context.Background()
		client := impactv1.NewRecomputeServiceClient(d.conn)
		recomputeSeed(t, d)
		before := scrape(t, d)

		// acme's revenue goes from 120 to 200 an hour: inc-acme's gross
		// becomes 1.5 × 200 = 300.00 (+120.00), net 300 × 0.75 = 225.00
		// (+90.00); churn, recovery and credits do not move; inc-beta does
		// not change at all.
		must(t, "PATCH", d.url("/v1/customers/acme"), `{"baseline": {"hourlyAmount": "200.00", "recaptureRate": "0.25"}}`)
		wantDiffs := []*impactv1.FigureDifferences{{CurrencyCode: "USD", LostRevenueGross: "120.00",
			LostRevenueNet: "90.00", RecoveryCost: "0.00", SlaCredits: "0.00", ChurnExposure: "0.00"}}
		wantCounts := &impactv1.RecomputeCounts{Total: 2, Done: 2, Changed: 1, CustomersTotal: 2,
			CustomersDone: 2, CustomersChanged: 1}

		// A dry run over every incident, created over HTTP, watched over gRPC.
		created := must(t, "POST", d.url("/v1/recomputeJobs"), `{"dryRun": true, "requestId": "dry-1"}`)
		name, _ := created["name"].(string)
		if !strings.HasPrefix(name, "recomputeJobs/") || created["dryRun"] != true || created["creator"] != "anonymous" ||
			dig(t, created, "counts", "total") != "2" {
			t.Fatalf("created %v", created)
		}
		again := must(t, "POST", d.url("/v1/recomputeJobs"), `{"dryRun": true, "requestId": "dry-1"}`)
		if again["name"] != name {
			t.Errorf("a retry with the same request id created %v, want %v", again["name"], name)
		}
		watched := watchJob(t, client, ctx, name)
		dry := watched[len(watched)-1]
		if dry.GetState() != impactv1.RecomputeJob_SUCCEEDED || !dry.GetDryRun() || dry.GetModelVersion() == "" ||
			dry.GetStartTime() == nil || dry.GetEndTime() == nil {
			t.Errorf("dry run ended as %v", dry)
		}
		if diff := cmp.Diff(wantCounts, dry.GetCounts(), protocmp.Transform()); diff != "" {
			t.Errorf("dry run counts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantDiffs, dry.GetDifferences(), protocmp.Transform()); diff != "" {
			t.Errorf("dry run differences (-want +got):\n%s", diff)
		}
		changes, err := client.ListRecomputeJobChanges(ctx, &impactv1.ListRecomputeJobChangesRequest{Parent: name})
		if err != nil {
			t.Fatal(err)
		}
		if cs := changes.GetRecomputeChanges(); len(cs) != 1 || cs[0].GetName() != name+"/changes/inc-acme" ||
			cs[0].GetIncident() != "incidents/inc-acme" || cs[0].GetOldRevision() != 1 || cs[0].GetNewRevision() != 0 ||
			cs[0].GetCustomersChanged() != 1 || cs[0].GetOldInputsDigest() == cs[0].GetNewInputsDigest() ||
			!cmp.Equal(cs[0].GetDifferences(), wantDiffs, protocmp.Transform()) {
			t.Errorf("dry run changes: %v", cs)
		}
		// Nothing stored.
		e := must(t, "GET", d.url("/v1/incidents/inc-acme/estimate"), "")
		if e["revision"] != "1" || dig(t, e, "totals", 0, "lostRevenueGross") != "180.00" {
			t.Errorf("after a dry run the estimate is revision %v with gross %v, want 1 and 180.00",
				e["revision"], dig(t, e, "totals", 0, "lostRevenueGross"))
		}

		// A dry run created over gRPC, of acme's incidents only.
		g, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{
			Filter: &impactv1.RecomputeFilter{CustomerIds: []string{"acme"}}, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		gw := watchJob(t, client, ctx, g.GetName())
		if c := gw[len(gw)-1].GetCounts(); c.GetTotal() != 1 || c.GetChanged() != 1 {
			t.Errorf("acme-only dry run counts %v, want 1 total, 1 changed", c)
		}

		// The real run.
		real, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{})
		if err != nil {
			t.Fatal(err)
		}
		rw := watchJob(t, client, ctx, real.GetName())
		done := rw[len(rw)-1]
		if done.GetState() != impactv1.RecomputeJob_SUCCEEDED || done.GetDryRun() {
			t.Errorf("real run ended as %v", done)
		}
		if diff := cmp.Diff(wantCounts, done.GetCounts(), protocmp.Transform()); diff != "" {
			t.Errorf("real run counts (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantDiffs, done.GetDifferences(), protocmp.Transform()); diff != "" {
			t.Errorf("real run differences (-want +got):\n%s", diff)
		}
		changes, err = client.ListRecomputeJobChanges(ctx, &impactv1.ListRecomputeJobChangesRequest{Parent: real.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if cs := changes.GetRecomputeChanges(); len(cs) != 1 || cs[0].GetOldRevision() != 1 || cs[0].GetNewRevision() != 2 {
			t.Errorf("real run changes: %v", cs)
		}
		e = must(t, "GET", d.url("/v1/incidents/inc-acme/estimate"), "")
		if e["revision"] != "2" || dig(t, e, "totals", 0, "lostRevenueGross") != "300.00" ||
			dig(t, e, "totals", 0, "lostRevenueNet") != "225.00" || dig(t, e, "totals", 0, "churnExposure") != "100.00" {
			t.Errorf("after the real run: revision %v, totals %v; want 2 with 300.00 gross, 225.00 net, 100.00 churn",
				e["revision"], dig(t, e, "totals", 0))
		}
		if b := must(t, "GET", d.url("/v1/incidents/inc-beta/estimate"), ""); b["revision"] != "1" {
			t.Errorf("inc-beta did not change but has revision %v", b["revision"])
		}
		// A second real run finds nothing to change.
		again2, err := client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{})
		if err != nil {
			t.Fatal(err)
		}
		aw := watchJob(t, client, ctx, again2.GetName())
		if c := aw[len(aw)-1]; c.GetCounts().GetChanged() != 0 || len(c.GetDifferences()) != 0 {
			t.Errorf("a run after the run changed %v: %v", c.GetCounts(), c.GetDifferences())
		}

		// Reads over HTTP: Get, List (newest first), a finished job's watch
		// (one line, terminal), and cancelling a finished job.
		got := must(t, "GET", d.url("/v1/"+real.GetName()), "")
		if got["state"] != "SUCCEEDED" || dig(t, got, "differences", 0, "lostRevenueGross") != "120.00" {
			t.Errorf("GET %s: %v", real.GetName(), got)
		}
		list := must(t, "GET", d.url("/v1/recomputeJobs?pageSize=2"), "")
		if jobs := dig(t, list, "recomputeJobs").([]any); len(jobs) != 2 || dig(t, jobs, 0, "name") != again2.GetName() ||
			list["nextPageToken"] == "" {
			t.Errorf("first page of 2 jobs: %v", list)
		}
		resp, err := http.Get(d.url("/v1/" + name + ":watch"))
		if err != nil {
			t.Fatal(err)
		}
		var lines []map[string]any
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				t.Fatalf("watch line %q: %v", sc.Text(), err)
			}
			lines = append(lines, v)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(lines) != 1 || dig(t, lines[0], "result", "state") != "SUCCEEDED" {
			t.Errorf("HTTP watch of a finished job: %s %v", resp.Status, lines)
		}
		code, v := call(t, "POST", d.url("/v1/"+real.GetName()+":cancel"), `{}`)
		wantError(t, "cancel a finished job", code, v, http.StatusBadRequest, int(codes.FailedPrecondition))
		_, err = client.CancelRecomputeJob(ctx, &impactv1.CancelRecomputeJobRequest{Name: real.GetName()})
		if status.Code(err) != codes.FailedPrecondition {
			t.Errorf("cancel a finished job over gRPC: %v", err)
		}
		code, v = call(t, "GET", d.url("/v1/recomputeJobs/nope"), "")
		wantError(t, "get a missing job", code, v, http.StatusNotFound, int(codes.NotFound))

		// A bad filter: one field violation per problem.
		code, v = call(t, "POST", d.url("/v1/recomputeJobs"), `{"filter": {"since": "2025-08-01T00:00:00Z",
			"until": "2025-07-01T00:00:00Z", "customerIds": ["acme", "acme"]}}`)
		wantError(t, "a bad filter", code, v, http.StatusBadRequest, int(codes.InvalidArgument))
		if fs := badRequestFields(t, v); !cmp.Equal(fs, []string{"filter.until", "filter.customerIds[1]"}) {
			t.Errorf("bad filter violations %q", fs)
		}

		// Ids that are not stored: a typo must not select nothing and
		// succeed. One violation per unknown id, in the caller's spelling.
		code, v = call(t, "POST", d.url("/v1/recomputeJobs"), `{"filter": {"customerIds": ["acme", "acme-typo"],
			"incidentIds": ["inc-nope"]}}`)
		wantError(t, "unknown filter ids", code, v, http.StatusBadRequest, int(codes.InvalidArgument))
		if fs := badRequestFields(t, v); !cmp.Equal(fs, []string{"filter.customerIds[1]", "filter.incidentIds[0]"}) {
			t.Errorf("unknown id violations %q", fs)
		}
		_, err = client.CreateRecomputeJob(ctx, &impactv1.CreateRecomputeJobRequest{
			Filter: &impactv1.RecomputeFilter{IncidentIds: []string{"inc-acme", "inc-nope"}}})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `no such incident "inc-nope"`) {
			t.Errorf("unknown incident over gRPC: %v", err)
		}

		// This process's workers counted their chunks: five jobs, of which
		// the two dry runs each would change inc-acme and the real run did.
		after := scrape(t, d)
		delta := func(name string, labels map[string]string) float64 {
			return counter(after, name, labels) - counter(before, name, labels)
		}
		if n := delta("impact_recompute_chunks_total", map[string]string{"dry_run": "true"}); n < 2 {
			t.Errorf("impact_recompute_chunks_total{dry_run=true} +%v, want at least 2", n)
		}
		for _, c := range []struct {
			labels map[string]string
			want   float64
		}{
			{map[string]string{"result": "changed", "dry_run": "true"}, 2},
			{map[string]string{"result": "unchanged", "dry_run": "true"}, 1},
			{map[string]string{"result": "changed", "dry_run": "false"}, 1},
			{map[string]string{"result": "unchanged", "dry_run": "false"}, 3},
			{map[string]string{"result": "failed", "dry_run": "false"}, 0},
		} {
			if n := delta("impact_recompute_estimates_total", c.labels); n != c.want {
				t.Errorf("impact_recompute_estimates_total%v +%v, want +%v", c.labels, n, c.want)
			}
		}
		if g := sample(after, "impact_recompute_jobs", map[string]string{"state": "RUNNING"}); g == nil || g.GetGauge().GetValue() != 0 {
			t.Errorf("impact_recompute_jobs{state=RUNNING} = %v once every job has ended", g)
		}
	})
}

// badRequestFields returns the field paths of the BadRequest in an error
// body.
func badRequestFields(t *testing.T, v map[string]any) []string {
	t.Helper()
	var fs []string
	for _, d := range dig(t, v, "details").([]any) {
		if m := d.(map[string]any); m["@type"] == "type.googleapis.com/google.rpc.BadRequest" {
			for _, fv := range dig(t, m, "fieldViolations").([]any) {
				fs = append(fs, dig(t, fv, "field").(string))
			}
		}
	}
	return fs
}

// An API-only replica (--recompute-workers 0) with auth: jobs stay QUEUED,
// an identical open job is ALREADY_EXISTS, only admins create and cancel,
// and /metrics shows the queued job.
func TestRecomputeJobsAPIOnlyWithAuth(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t), "--recompute-workers", "0", "--call-timeout", "300ms")
	client := impactv1.NewRecomputeServiceClient(d.conn)
	as := func(role string) context.Context {
		for _, tk := range testTokens {
			if tk.role == role {
				return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tk.token)
			}
		}
		t.Fatalf("no %s token", role)
		return nil
	}
	// One incident to recompute: a job over none would end at once.
	ed := as("editor")
	if _, err := impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(ed, &impactv1.CreateCustomerRequest{
		CustomerId: "c1", Customer: &impactv1.Customer{CurrencyCode: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	incidents := impactv1.NewIncidentServiceClient(d.conn)
	if _, err := incidents.CreateIncident(ed, &impactv1.CreateIncidentRequest{
		IncidentId: "inc-1", Incident: &impactv1.Incident{Title: "outage"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := incidents.BatchCreateIncidentWindows(ed, &impactv1.BatchCreateIncidentWindowsRequest{
		Parent: "incidents/inc-1", Requests: []*impactv1.CreateIncidentWindowRequest{{OutageWindow: &impactv1.IncidentWindow{
			CustomerId: "c1", Service: "api",
			StartTime: timestamppb.New(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)),
			EndTime:   timestamppb.New(time.Date(2025, 7, 1, 1, 0, 0, 0, time.UTC)),
		}}}}); err != nil {
		t.Fatal(err)
	}
	filter := &impactv1.RecomputeFilter{IncidentIds: []string{"inc-1"}}
	_, err := client.CreateRecomputeJob(as("editor"), &impactv1.CreateRecomputeJobRequest{Filter: filter})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("editor creates a job: %v, want PERMISSION_DENIED", err)
	}
	j, err := client.CreateRecomputeJob(as("admin"), &impactv1.CreateRecomputeJobRequest{Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	if j.GetState() != impactv1.RecomputeJob_QUEUED || j.GetCreator() != "root-ops" || j.GetCounts().GetTotal() != 1 {
		t.Errorf("created %v: want QUEUED over 1 incident, by root-ops", j)
	}
	_, err = client.CreateRecomputeJob(as("admin"), &impactv1.CreateRecomputeJobRequest{Filter: filter})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("an identical open job: %v, want ALREADY_EXISTS", err)
	}
	req, _ := http.NewRequest("POST", d.url("/v1/recomputeJobs"), strings.NewReader(`{"filter": {"incidentIds": ["inc-1"]}}`))
	req.Header.Set("Authorization", "Bearer admin-secret-c0de")
	if code, v := do(t, http.DefaultClient, req); code != http.StatusConflict {
		t.Errorf("an identical open job over HTTP: %d %v, want 409", code, v)
	}

	mfs := scrape(t, d)
	if g := sample(mfs, "impact_recompute_jobs", map[string]string{"state": "QUEUED"}); g == nil || g.GetGauge().GetValue() != 1 {
		t.Errorf("impact_recompute_jobs{state=QUEUED} = %v, want 1", g)
	}
	id := strings.TrimPrefix(j.GetName(), "recomputeJobs/")
	if g := sample(mfs, "impact_recompute_job_planned_estimates", map[string]string{"recompute_job": id}); g == nil {
		t.Errorf("no impact_recompute_job_planned_estimates for job %s", id)
	}
	if _, err := client.CancelRecomputeJob(as("viewer"), &impactv1.CancelRecomputeJobRequest{Name: j.GetName()}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("viewer cancels: %v, want PERMISSION_DENIED", err)
	}

	// Nobody works on it here: a viewer's watch sees QUEUED, and then —
	// well past the server's --call-timeout of 300ms, which a watch is
	// exempt from — the admin's cancel, and ends.
	stream, err := client.WatchRecomputeJob(as("viewer"), &impactv1.WatchRecomputeJobRequest{Name: j.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.GetState() != impactv1.RecomputeJob_QUEUED {
		t.Fatalf("first watch message %v, %v", first, err)
	}
	time.Sleep(900 * time.Millisecond)
	c, err := client.CancelRecomputeJob(as("admin"), &impactv1.CancelRecomputeJobRequest{Name: j.GetName()})
	if err != nil || c.GetState() != impactv1.RecomputeJob_CANCELLED {
		t.Fatalf("admin cancels: %v, %v", c, err)
	}
	if next, err := stream.Recv(); err != nil || next.GetState() != impactv1.RecomputeJob_CANCELLED {
		t.Errorf("then %v, %v; want the CANCELLED job", next, err)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after the terminal state: %v, want the end of the stream", err)
	}
	// Cancelled, the same filter may run again.
	if _, err := client.CreateRecomputeJob(as("admin"), &impactv1.CreateRecomputeJobRequest{Filter: filter}); err != nil {
		t.Errorf("the same filter after cancelling: %v", err)
	}
}
