package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Every connection of impactd's PostgreSQL database is killed
// (pg_terminate_backend) again and again for a while in the middle of a
// load of reads and batch writes. While the cut lasts calls fail with
// UNAVAILABLE and nothing else; afterwards impactd serves again on new
// connections without a restart; and every batch of windows is in the
// database entirely or not at all.
func TestPostgresConnectionsKilledUnderLoad(t *testing.T) {
	dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
	}
	dbURL := freshPostgres(t, dsn)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(u.Path, "/")
	d := start(t, "--db", dbURL)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })

	ctx := context.Background()
	customers := impactv1.NewCustomerServiceClient(d.conn)
	incidents := impactv1.NewIncidentServiceClient(d.conn)
	if _, err := customers.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{
		CustomerId: "acme", Customer: &impactv1.Customer{CurrencyCode: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	inc := &impactv1.Incident{}
	if err := protojson.Unmarshal([]byte(`{"title": "cut", "cause": "SOFTWARE_DEFECT"}`), inc); err != nil {
		t.Fatal(err)
	}
	if _, err := incidents.CreateIncident(ctx, &impactv1.CreateIncidentRequest{IncidentId: "inc-cut", Incident: inc}); err != nil {
		t.Fatal(err)
	}

	// Batch b holds batchSize one-minute windows starting at batchStart(b),
	// so the database tells how much of each batch was written.
	const batchSize = 5
	base := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	batchStart := func(b int) time.Time { return base.Add(time.Duration(b) * 10 * time.Minute) }
	batch := func(b int) *impactv1.BatchCreateIncidentWindowsRequest {
		req := &impactv1.BatchCreateIncidentWindowsRequest{Parent: "incidents/inc-cut", RequestId: fmt.Sprintf("batch-%d", b)}
		for j := 0; j < batchSize; j++ {
			s := batchStart(b).Add(time.Duration(j) * time.Minute)
			req.Requests = append(req.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: &impactv1.IncidentWindow{
				CustomerId: "acme", Service: "api",
				StartTime: timestamppb.New(s), EndTime: timestamppb.New(s.Add(time.Minute)),
			}})
		}
		return req
	}

	const workers, perWorker = 4, 10000 // the loop ends at stop long before
	var (
		stop          = make(chan struct{})
		wg            sync.WaitGroup
		mu            sync.Mutex
		okBatches     = map[int]bool{}
		failedBatches = map[int]bool{}
		badErrs       []string
		unavailable   atomic.Int64
		okCalls       atomic.Int64
		lastOK        atomic.Int64 // unix nanos of the latest success
	)
	record := func(err error) bool {
		if err == nil {
			okCalls.Add(1)
			lastOK.Store(time.Now().UnixNano())
			return true
		}
		st := status.Convert(err)
		if st.Code() == codes.Unavailable {
			unavailable.Add(1)
			if strings.Contains(st.Message(), "127.0.0.1") || strings.Contains(st.Message(), "SQLSTATE") {
				mu.Lock()
				badErrs = append(badErrs, "UNAVAILABLE shows the cause: "+st.Message())
				mu.Unlock()
			}
			return false
		}
		mu.Lock()
		badErrs = append(badErrs, fmt.Sprintf("%v: %s", st.Code(), st.Message()))
		mu.Unlock()
		return false
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				select {
				case <-stop:
					return
				default:
				}
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := customers.GetCustomer(cctx, &impactv1.GetCustomerRequest{Name: "customers/acme"})
				record(err)
				b := w*perWorker + i
				_, err = incidents.BatchCreateIncidentWindows(cctx, batch(b))
				cancel()
				ok := record(err)
				mu.Lock()
				if ok {
					okBatches[b] = true
				} else {
					failedBatches[b] = true
				}
				mu.Unlock()
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after 30s: %s", what)
			}
		}
	}
	waitFor("no load before the cut", func() bool { mu.Lock(); defer mu.Unlock(); return len(okBatches) >= 10 })

	// The cut: terminate every backend of the database for a second and a
	// half, each new connection as soon as it shows up.
	var killed int64
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var n int64
		if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		killed += n
	}
	cutEnd := time.Now()
	waitFor("no success after the cut", func() bool { return lastOK.Load() > cutEnd.Add(200*time.Millisecond).UnixNano() })
	stopLoad()

	t.Logf("killed %d backends; %d calls succeeded, %d UNAVAILABLE; %d batches written, %d failed",
		killed, okCalls.Load(), unavailable.Load(), len(okBatches), len(failedBatches))
	if killed == 0 {
		t.Fatal("no backend was terminated: the test did not cut anything")
	}
	if unavailable.Load() == 0 {
		t.Error("no call failed during the cut")
	}
	for i, e := range badErrs {
		if i == 5 {
			t.Errorf("… and %d more", len(badErrs)-5)
			break
		}
		t.Errorf("during the cut: %s, want UNAVAILABLE without details of the cause", e)
	}

	// Serving again, on the same process: reads, writes and health.
	if _, err := incidents.BatchCreateIncidentWindows(ctx, batch(-1)); err != nil {
		t.Errorf("write after the cut: %v", err)
	} else {
		okBatches[-1] = true
	}
	if resp, err := healthpb.NewHealthClient(d.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health after the cut: %v %v", resp, err)
	}

	// All or nothing: a batch that succeeded is complete; one that failed
	// is absent, or complete when the cut fell after its COMMIT reached
	// the server (the reply was lost, the write was not).
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT start_time FROM windows WHERE incident_id = 'inc-cut'`)
	if err != nil {
		t.Fatal(err)
	}
	perBatch := map[int]int{}
	for rows.Next() {
		var st time.Time
		if err := rows.Scan(&st); err != nil {
			t.Fatal(err)
		}
		// Floor, not truncation: batch -1 starts before base.
		perBatch[int(math.Floor(float64(st.Sub(base))/float64(10*time.Minute)))]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for b := range okBatches {
		if perBatch[b] != batchSize {
			t.Errorf("batch %d succeeded but %d of its %d windows are stored", b, perBatch[b], batchSize)
		}
	}
	for b, n := range perBatch {
		if n != batchSize {
			t.Errorf("batch %d is half-written: %d of %d windows (succeeded: %v)", b, n, batchSize, okBatches[b])
		}
	}
}

// A SQLite file impactd cannot write (read-only permissions) is a clear
// error, not a crash: impactd either refuses to start saying why, or
// starts, serves reads and answers writes with UNAVAILABLE "read-only".
func TestSQLiteReadOnlyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "impact.db")
	d := start(t, "--db", "sqlite:"+path)
	if _, err := impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(context.Background(), &impactv1.CreateCustomerRequest{
		CustomerId: "acme", Customer: &impactv1.Customer{CurrencyCode: "EUR"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o444); err != nil {
		t.Fatal(err)
	}
	// Root ignores permissions; the immutable attribute stops root too.
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Close()
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("the file stays writable (root?) and chattr +i failed: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close()
			t.Skip("the file stays writable even when immutable")
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--db", "sqlite:" + path},
			func(string) string { return "" }, logs, func(a Addrs) { ready <- a })
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "readonly") && !strings.Contains(err.Error(), "read-only") {
			t.Fatalf("run ended with %v, want an error saying the database is read-only", err)
		}
		t.Logf("impactd refused to start: %v", err)
	case addrs := <-ready:
		d2 := &impactd{addrs: addrs}
		conn, err := grpc.NewClient(addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client := impactv1.NewCustomerServiceClient(conn)
		if _, err := client.GetCustomer(context.Background(), &impactv1.GetCustomerRequest{Name: "customers/acme"}); err != nil {
			t.Errorf("read of a read-only database: %v", err)
		}
		_, err = client.CreateCustomer(context.Background(), &impactv1.CreateCustomerRequest{
			CustomerId: "other", Customer: &impactv1.Customer{CurrencyCode: "EUR"}})
		if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "read-only") {
			t.Errorf("write to a read-only database: got %v, want UNAVAILABLE saying read-only", err)
		}
		code, v := call(t, "POST", d2.url("/v1/customers?customerId=other2"), `{"currencyCode": "EUR"}`)
		wantError(t, "write through the gateway", code, v, 503, int(codes.Unavailable))
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		t.Log("impactd served reads and refused writes")
	case <-time.After(20 * time.Second):
		t.Fatal("impactd neither ready nor failed after 20s")
	}
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("log mentions a panic:\n%s", logs.String())
	}
}
