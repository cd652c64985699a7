package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Open streams do not hold graceful stop: a Health/Watch, a gRPC
// WatchRecomputeJob and one through the gateway all end with UNAVAILABLE
// (reason SHUTTING_DOWN) and impactd stops long before its grace period.
func TestGracefulStopEndsStreams(t *testing.T) {
	d := start(t, "--recompute-workers", "0") // the job stays QUEUED: its watch never ends by itself
	recomputeSeed(t, d)
	job := must(t, "POST", d.url("/v1/recomputeJobs"), `{"dryRun": true}`)
	name := job["name"].(string)
	ctx := context.Background()

	hw, err := healthpb.NewHealthClient(d.conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := hw.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health watch: %v %v", r, err)
	}
	jw, err := impactv1.NewRecomputeServiceClient(d.conn).WatchRecomputeJob(ctx, &impactv1.WatchRecomputeJobRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jw.Recv(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(d.url("/v1/" + name + ":watch"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	if !lines.Scan() {
		t.Fatalf("HTTP watch: no first line: %v", lines.Err())
	}

	begin := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- d.stop() }()

	wantShutdown := func(what string, err error) {
		t.Helper()
		st := status.Convert(err)
		var reason string
		for _, det := range st.Details() {
			if ei, ok := det.(*errdetails.ErrorInfo); ok {
				reason = ei.GetReason()
			}
		}
		if st.Code() != codes.Unavailable || reason != "SHUTTING_DOWN" {
			t.Errorf("%s ended with %v (reason %q), want UNAVAILABLE SHUTTING_DOWN", what, err, reason)
		}
	}
	for {
		r, err := hw.Recv()
		if err != nil {
			wantShutdown("health watch", err)
			break
		}
		if r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("health watch sent %v during shutdown", r.GetStatus())
		}
	}
	for {
		if _, err := jw.Recv(); err != nil {
			wantShutdown("gRPC job watch", err)
			break
		}
	}
	var last map[string]any
	for lines.Scan() {
		if err := json.Unmarshal(lines.Bytes(), &last); err != nil {
			t.Fatalf("HTTP watch line: %v: %s", err, lines.Bytes())
		}
	}
	if code := dig(t, last, "error", "code"); code != float64(codes.Unavailable) {
		t.Errorf("HTTP watch ended with %v, want an error line of code 14", last)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
	// Far below the 20 s grace period the streams would otherwise hold.
	if took := time.Since(begin); took > shutdownGrace/4 {
		t.Errorf("shutdown took %v with open streams", took)
	}
}
