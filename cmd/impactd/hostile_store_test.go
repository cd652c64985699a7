package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Hostile clients against the database side: the pool, watches, /metrics,
// the tokens file and the files impactd creates.

// withToken is ctx carrying the bearer token of role.
func withToken(t *testing.T, role string) context.Context {
	t.Helper()
	for _, tk := range testTokens {
		if tk.role == role {
			return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tk.token)
		}
	}
	t.Fatalf("no %s token", role)
	return nil
}

// eachEngine runs fn on SQLite and, with IMPACT_TEST_POSTGRES_DSN, on a
// fresh PostgreSQL database, passing the --db value.
func eachEngine(t *testing.T, fn func(t *testing.T, db string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite:"+filepath.Join(t.TempDir(), "impact.db")) })
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if dsn == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		fn(t, freshPostgres(t, dsn))
	})
}

// openConns is the database connections impactd's pool holds, from
// /metrics.
func openConns(t *testing.T, d *impactd) float64 {
	t.Helper()
	m := sample(scrape(t, d), "go_sql_open_connections", nil)
	if m == nil {
		t.Fatal("no go_sql_open_connections in /metrics")
	}
	return m.GetGauge().GetValue()
}

// seedJob stores one customer, incident and window and a recompute job
// over it, which stays QUEUED (the test's impactd has no workers).
func seedJob(t *testing.T, d *impactd) string {
	t.Helper()
	ed := withToken(t, "editor")
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
	j, err := impactv1.NewRecomputeServiceClient(d.conn).CreateRecomputeJob(withToken(t, "admin"),
		&impactv1.CreateRecomputeJobRequest{Filter: &impactv1.RecomputeFilter{IncidentIds: []string{"inc-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return j.GetName()
}

// A viewer opens 400 WatchRecomputeJob streams and never reads them (the
// finding: 1,500 exhausted PostgreSQL's 100 connections in under a second,
// answered 500). With --db-max-conns 5 impactd never holds more than 5
// connections, every watch of the job shares one poller, and other calls
// are answered meanwhile, none with 500.
func TestHostileUnreadWatchStreams(t *testing.T) {
	eachEngine(t, func(t *testing.T, db string) {
		d := start(t, "--db", db, "--auth-tokens", writeTokens(t), "--recompute-workers", "0", "--db-max-conns", "5")
		job := seedJob(t, d)
		ctx, cancel := context.WithCancel(withToken(t, "viewer"))
		defer cancel()
		const watches, perConn = 400, 80
		for i := 0; i < watches/perConn; i++ {
			conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := impactv1.NewRecomputeServiceClient(conn)
			for j := 0; j < perConn; j++ {
				if _, err := client.WatchRecomputeJob(ctx, &impactv1.WatchRecomputeJobRequest{Name: job}); err != nil {
					t.Fatalf("watch %d: %v", i*perConn+j, err)
				}
			}
		}
		time.Sleep(time.Second) // four polls
		during := answersWithin(t, d, testTokens[0].token, time.Second)
		// Reads of the database go on beside the watches.
		var wg sync.WaitGroup
		customers := impactv1.NewCustomerServiceClient(d.conn)
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rctx, rcancel := context.WithTimeout(withToken(t, "viewer"), time.Second)
				defer rcancel()
				c, err := customers.GetCustomer(rctx, &impactv1.GetCustomerRequest{Name: "customers/c1"})
				if err != nil || c.GetCurrencyCode() != "EUR" {
					t.Errorf("GetCustomer during the watches: %v %v", c, err)
				}
			}()
		}
		wg.Wait()
		open := openConns(t, d)
		t.Logf("%d unread watches: %v database connections open, health and Estimate within %s", watches, open, during.Round(time.Millisecond))
		if open > 5 {
			t.Errorf("%v database connections open, want at most --db-max-conns 5", open)
		}
	})
}

// On PostgreSQL, with every connection of the pool stuck behind a lock, a
// call waits at most --db-conn-wait for one and is then answered
// UNAVAILABLE (HTTP 503), not INTERNAL (500); once the lock goes, calls
// are answered as usual.
func TestHostilePoolExhaustedIsUnavailable(t *testing.T) {
	dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
	}
	db := freshPostgres(t, dsn)
	d := start(t, "--db", db, "--recompute-workers", "0", "--db-max-conns", "3", "--db-conn-wait", "300ms")
	must(t, "POST", d.url("/v1/customers?customerId=c1"), `{"currencyCode": "EUR"}`)
	locker, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	tx, err := locker.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codesSeen := make(chan int, 12)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, d.url("/v1/customers/c1"), nil)
			client := &http.Client{Timeout: 10 * time.Second}
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codesSeen <- resp.StatusCode
		}()
	}
	time.Sleep(time.Second) // the 9 beyond the pool have given up
	tx.Rollback()
	wg.Wait()
	close(codesSeen)
	seen := map[int]int{}
	for c := range codesSeen {
		seen[c]++
	}
	t.Logf("12 reads over a 3-connection pool behind a lock: %v", seen)
	if seen[http.StatusServiceUnavailable] == 0 || seen[http.StatusOK] == 0 || seen[http.StatusOK]+seen[http.StatusServiceUnavailable] != 12 {
		t.Errorf("answers %v, want 200 for those holding a connection and 503 for the others, nothing else", seen)
	}
	answersWithin(t, d, "", time.Second)
	if c := must(t, "GET", d.url("/v1/customers/c1"), ""); c["currencyCode"] != "EUR" {
		t.Errorf("customer after the lock: %v", c)
	}
}

// 40 clients scrape /metrics as fast as they can for a second (the
// finding: each unauthenticated scrape took a database connection). The
// jobs' read is shared and cached for a second: the pool opens one
// connection for it, not one a scrape.
func TestHostileMetricsScrapes(t *testing.T) {
	eachEngine(t, func(t *testing.T, db string) {
		d := start(t, "--db", db, "--recompute-workers", "0")
		var wg sync.WaitGroup
		var mu sync.Mutex
		scrapes := 0
		stop := time.Now().Add(time.Second)
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) {
					resp, err := http.Get(d.url("/metrics"))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("/metrics: %s", resp.Status)
						return
					}
					mu.Lock()
					scrapes++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		open := openConns(t, d)
		t.Logf("%d scrapes by 40 clients in 1 s: %v database connections open", scrapes, open)
		if open > 2 {
			t.Errorf("%v database connections open after concurrent scrapes, want at most 2", open)
		}
		answersWithin(t, d, "", time.Second)
	})
}

// On PostgreSQL, with the jobs table locked by another session, 40
// concurrent scrapes of /metrics (the finding: each took a connection of
// its own) wait on one read of the jobs, not forty: one backend of impactd
// waits on the lock, and every scrape still answers, with
// impact_recompute_scrape_ok 0 once that read gives up after 2 s.
func TestHostileMetricsScrapesShareOneRead(t *testing.T) {
	dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
	}
	db := freshPostgres(t, dsn)
	d := start(t, "--db", db, "--recompute-workers", "0")
	locker, err := sql.Open("pgx", db)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	tx, err := locker.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("LOCK TABLE recompute_jobs IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(d.url("/metrics"))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/metrics: %s", resp.Status)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	var waiting int
	if err := locker.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("40 concurrent scrapes behind a lock on the jobs: %d impactd backends waiting", waiting)
	if waiting != 1 {
		t.Errorf("%d backends waiting on the jobs' lock, want 1 (one shared read)", waiting)
	}
	answersWithin(t, d, "", time.Second)
}

// writeTokensFile writes lines as a tokens file of mode perm.
func writeTokensFile(t *testing.T, dir, lines string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, "tokens")
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, perm); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // a reload never sees half a file
		t.Fatal(err)
	}
	return path
}

// tokenLine is a tokens file line for token.
func tokenLine(token, role, name string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:]) + " " + role + " " + name + "\n"
}

// impactd refuses to start on a tokens file that others could write, or
// that names two tokens alike, or one "anonymous"; each error says why.
func TestTokensFileChecks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, lines string
		perm        os.FileMode
		want        string
	}{
		{"group-writable", tokenLine("a", "admin", "ops"), 0o620, "chmod go-w"},
		{"world-writable", tokenLine("a", "admin", "ops"), 0o606, "lets group or others write it"},
		{"duplicate name", tokenLine("a", "admin", "ops") + tokenLine("b", "viewer", "ops"), 0o600, `the name "ops" is already on line 1`},
		{"anonymous", tokenLine("a", "viewer", "anonymous"), 0o600, `"anonymous" is reserved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTokensFile(t, dir, tc.lines, tc.perm)
			err := run(context.Background(), []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
				"--db", "sqlite:" + filepath.Join(t.TempDir(), "impact.db"), "--auth-tokens", path},
				func(string) string { return "" }, &strings.Builder{}, func(Addrs) { t.Error("started") })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	// Read by all, written by the owner only, is fine: it holds digests.
	path := writeTokensFile(t, dir, tokenLine("a", "admin", "ops"), 0o644)
	start(t, "--auth-tokens", path)
}

// SIGHUP reloads the tokens file: a new token works and a removed one is
// refused at once; a bad new file keeps the old tokens and logs why.
func TestSIGHUPReloadsTokens(t *testing.T) {
	dir := t.TempDir()
	path := writeTokensFile(t, dir, tokenLine("old-token", "viewer", "olga"), 0o600)
	d, logs := startLogged(t, nil, "--auth-tokens", path)
	get := func(token string) codes.Code {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
		_, err := impactv1.NewCustomerServiceClient(d.conn).ListCustomers(ctx, &impactv1.ListCustomersRequest{})
		return status.Code(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s: not within 3 s\nlogs:\n%s", what, logs)
	}
	if c := get("old-token"); c != codes.OK {
		t.Fatalf("old token: %v", c)
	}
	// Revoke olga, add nina.
	writeTokensFile(t, dir, tokenLine("new-token", "viewer", "nina"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor("the new token works", func() bool { return get("new-token") == codes.OK })
	if c := get("old-token"); c != codes.Unauthenticated {
		t.Errorf("revoked token: %v, want UNAUTHENTICATED", c)
	}
	// A bad file (world-writable, and a line that is not a token) is not
	// taken: nina keeps working, and the log says why.
	writeTokensFile(t, dir, "not a token line\n", 0o666)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor("the refusal is logged", func() bool { return strings.Contains(logs.String(), "tokens file not reloaded") })
	if c := get("new-token"); c != codes.OK {
		t.Errorf("after a bad reload the token in force: %v, want OK", c)
	}
	if !strings.Contains(logs.String(), "lets group or others write it") {
		t.Errorf("the log does not say why:\n%s", logs)
	}
}

// The SQLite database and its -wal and -shm files are readable by their
// owner only (the finding: created world-readable).
func TestSQLiteFileModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "impact.db")
	d := start(t, "--db", "sqlite:"+path)
	must(t, "POST", d.url("/v1/customers?customerId=c1"), `{"currencyCode": "EUR"}`)
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(f), perm)
		}
	}
}

// 150 unread HTTP watches, more than --grpc-max-streams 100: the gateway's
// calls are not bounded per connection as a gRPC client's are (they reach
// the services over an in-process link), so other HTTP requests and
// /healthz are still answered at once.
func TestHostileUnreadHTTPWatches(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t), "--recompute-workers", "0", "--grpc-max-streams", "100")
	job := seedJob(t, d)
	viewer := testTokens[0].token
	tr := &http.Transport{ResponseHeaderTimeout: 2 * time.Second}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := 0; i < 150; i++ {
		req, _ := http.NewRequest(http.MethodGet, d.url("/v1/"+job+":watch"), nil)
		req.Header.Set("Authorization", "Bearer "+viewer)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
		defer resp.Body.Close() // never read
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("watch %d: %s", i, resp.Status)
		}
	}
	during := answersWithin(t, d, viewer, time.Second)
	req, _ := http.NewRequest(http.MethodGet, d.url("/v1/customers/c1"), nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	started := time.Now()
	code, v := do(t, &http.Client{Timeout: time.Second}, req)
	t.Logf("150 unread HTTP watches: health and Estimate within %s, GET customer %d in %s",
		during.Round(time.Millisecond), code, time.Since(started).Round(time.Millisecond))
	if code != http.StatusOK || v["currencyCode"] != "EUR" {
		t.Errorf("GET customer during the watches: %d %v", code, v)
	}
}
