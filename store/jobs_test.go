package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// seedJobs: incidents a, b, c, d with 3, 1, 5 and 2 affected customers and
// e without windows. July 1st 00:00 is an edge: c starts there, d ends
// there; a starts at July 10th 10:00.
func seedJobs(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: fmt.Sprintf("c%d", i), Currency: "USD"}, ""))
	}
	must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", &impact.Contract{Service: "api", MonthlyFee: "100"}, ""))
	windows := map[string][]impact.StoredWindow{
		"a": {span("c1", "api", "w1", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z"),
			span("c2", "api", "w2", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z"),
			span("c3", "api", "w3", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z"),
			span("c3", "db", "w4", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z")}, // c3 twice: still 3 customers
		"b": {span("c1", "api", "w1", "2025-06-01T00:00:00Z", "2025-06-01T01:00:00Z")},
		"c": nil,
		"d": {span("c4", "api", "w1", "2025-06-30T23:00:00Z", "2025-07-01T00:00:00Z"),
			span("c5", "api", "w2", "2025-06-30T23:00:00Z", "2025-07-01T00:00:00Z")},
		"e": nil,
	}
	for i := 1; i <= 5; i++ {
		windows["c"] = append(windows["c"], span(fmt.Sprintf("c%d", i), "api", fmt.Sprintf("w%d", i), "2025-07-01T00:00:00Z", "2025-07-01T01:00:00Z"))
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: id, Cause: impact.SoftwareDefect}, ""))
		if len(windows[id]) > 0 {
			must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, id, windows[id], ""))
		}
	}
}

// chunksOf returns the incident ids of each chunk of a job, by seq.
func chunksOf(t *testing.T, db *store.DB, jobID string) [][]string {
	t.Helper()
	var raw [][]byte
	if err := db.SQL().Select(&raw, db.SQL().Rebind(`SELECT incident_ids FROM recompute_chunks WHERE job_id = ? ORDER BY seq`), jobID); err != nil {
		t.Fatal(err)
	}
	out := make([][]string, len(raw))
	for i, b := range raw {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func create(t *testing.T, db *store.DB, f impact.RecomputeFilter, dry bool, size int) *impact.RecomputeJob {
	t.Helper()
	j, created, err := db.CreateJob(context.Background(), f, dry, size, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatalf("job %s joined, want created", j.ID)
	}
	return j
}

func TestJobPlanning(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := impact.WithActor(context.Background(), "alice")

		// 3+1 reaches 4 and closes; c alone exceeds it; d and e remain.
		j, created, err := db.CreateJob(ctx, impact.RecomputeFilter{}, false, 4, "", false)
		if err != nil || !created {
			t.Fatalf("create: %v created %v", err, created)
		}
		if got, want := chunksOf(t, db, j.ID), [][]string{{"a", "b"}, {"c"}, {"d", "e"}}; !cmp.Equal(got, want) {
			t.Errorf("chunks %v, want %v", got, want)
		}
		if j.State != impact.JobQueued || j.Counts.Total != 5 || j.Counts.CustomersTotal != 11 || j.Counts.Done != 0 {
			t.Errorf("job %s counts %+v", j.State, j.Counts)
		}
		if j.Creator != "alice" || !j.CreateTime.Equal(t0) || !j.StartTime.IsZero() || !j.EndTime.IsZero() ||
			j.Name != "recomputeJobs/"+j.ID || !strings.HasPrefix(j.ID, "rj-") {
			t.Errorf("job metadata %+v", j)
		}
		if n := count(t, db, "audit_log", "action = 'CreateRecomputeJob' AND resource = ?", j.Name); n != 1 {
			t.Errorf("%d audit rows", n)
		}

		july := ts("2025-07-01T00:00:00Z")
		a10 := ts("2025-07-10T10:00:00Z")
		for _, tc := range []struct {
			name string
			f    impact.RecomputeFilter
			want []string
		}{
			// Half-open: c starts at since (in), d ends at since (out), a
			// starts at until (out).
			{"since and until", impact.RecomputeFilter{Since: july, Until: a10}, []string{"c"}},
			{"since", impact.RecomputeFilter{Since: july}, []string{"a", "c"}},
			{"until", impact.RecomputeFilter{Until: july}, []string{"b", "d"}},
			{"customer", impact.RecomputeFilter{CustomerIDs: []string{"c1"}}, []string{"a", "b", "c"}},
			{"customers", impact.RecomputeFilter{CustomerIDs: []string{"c5", "c2"}}, []string{"a", "c", "d"}},
			{"incidents", impact.RecomputeFilter{IncidentIDs: []string{"e", "a", "d"}}, []string{"a", "d", "e"}},
			{"customer and since", impact.RecomputeFilter{CustomerIDs: []string{"c1"}, Since: july}, []string{"a", "c"}},
			{"all three", impact.RecomputeFilter{CustomerIDs: []string{"c1"}, Since: july, IncidentIDs: []string{"b", "c", "d"}}, []string{"c"}},
		} {
			j := create(t, db, tc.f, true, 1000)
			var got []string
			for _, c := range chunksOf(t, db, j.ID) {
				got = append(got, c...)
			}
			if !cmp.Equal(got, tc.want) {
				t.Errorf("%s: incidents %v, want %v", tc.name, got, tc.want)
			}
			if j.Counts.Total != int64(len(tc.want)) {
				t.Errorf("%s: total %d", tc.name, j.Counts.Total)
			}
			if f := must[*impact.RecomputeJob](t)(db.GetJob(ctx, j.ID)).Filter; !f.Since.Equal(tc.f.Since) || !f.Until.Equal(tc.f.Until) ||
				len(f.CustomerIDs) != len(tc.f.CustomerIDs) || len(f.IncidentIDs) != len(tc.f.IncidentIDs) {
				t.Errorf("%s: stored filter %+v", tc.name, f)
			}
		}

		// Nothing selected: done at once, and it holds no open slot.
		nothing := impact.RecomputeFilter{Since: ts("2030-01-01T00:00:00Z")}
		empty := create(t, db, nothing, false, 10)
		if empty.State != impact.JobSucceeded || !empty.EndTime.Equal(t0) || empty.Counts.Total != 0 {
			t.Errorf("empty job %s end %v", empty.State, empty.EndTime)
		}
		if c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, empty.ID, "w", time.Minute)); c != nil {
			t.Errorf("leased chunk %d of an empty job", c.Seq)
		}
		create(t, db, nothing, false, 10)

		// A big chunk size: one chunk per customer count only.
		one := create(t, db, impact.RecomputeFilter{IncidentIDs: []string{"a", "b", "c"}}, false, 1)
		if got := chunksOf(t, db, one.ID); !cmp.Equal(got, [][]string{{"a"}, {"b"}, {"c"}}) {
			t.Errorf("chunk size 1: %v", got)
		}

		for _, size := range []int{0, -1, 1_000_001} {
			_, _, err := db.CreateJob(ctx, impact.RecomputeFilter{IncidentIDs: []string{"q"}}, false, size, "", false)
			wantCode(t, err, impact.EINVALID)
		}
		_, _, err = db.CreateJob(ctx, impact.RecomputeFilter{Since: a10, Until: july}, false, 10, "", false)
		wantCode(t, err, impact.EINVALID)
		_, _, err = db.CreateJob(ctx, impact.RecomputeFilter{IncidentIDs: []string{"a", "a"}}, false, 10, "", false)
		wantCode(t, err, impact.EINVALID)

		// Ids that are not stored are refused, one violation each, and
		// nothing is written.
		jobs := count(t, db, "recompute_jobs", "")
		_, _, err = db.CreateJob(ctx, impact.RecomputeFilter{CustomerIDs: []string{"c1", "typo", "c2"},
			IncidentIDs: []string{"zz", "a"}}, false, 10, "req-unknown", false)
		wantCode(t, err, impact.EINVALID)
		var ie *impact.Error
		if !errors.As(err, &ie) || !cmp.Equal(ie.Violations, []impact.FieldViolation{
			{Field: "filter.customer_ids[1]", Description: `no such customer "typo"`},
			{Field: "filter.incident_ids[0]", Description: `no such incident "zz"`},
		}) {
			t.Errorf("unknown ids: %v", err)
		}
		if n := count(t, db, "recompute_jobs", ""); n != jobs {
			t.Errorf("%d jobs after a refused create, want %d", n, jobs)
		}
		wantCode(t, second(db.GetJob(ctx, "nope")), impact.ENOTFOUND)
	})
}

// More incidents than a planning batch, all without windows: chunks close
// at MaxPageSize incidents.
func TestJobPlanningManyIncidents(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		const n = 2345
		tx := db.SQL().MustBegin()
		var now any = t0.UnixMicro()
		if db.Engine() == store.Postgres {
			now = t0
		}
		for i := range n {
			if _, err := tx.Exec(tx.Rebind(`INSERT INTO incidents (id, title, cause, recovery_currency, allocation, recovery_items,
				revision, create_time, update_time) VALUES (?, '', 1, '', 0, '[]', 1, ?, ?)`), fmt.Sprintf("n%05d", i), now, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		j := create(t, db, impact.RecomputeFilter{}, false, 10)
		chunks := chunksOf(t, db, j.ID)
		if len(chunks) != 3 || len(chunks[0]) != 1000 || len(chunks[1]) != 1000 || len(chunks[2]) != 345 {
			t.Fatalf("%d chunks", len(chunks))
		}
		if chunks[0][0] != "n00000" || chunks[1][0] != "n01000" || chunks[2][344] != "n02344" || j.Counts.Total != n {
			t.Errorf("chunk bounds %s %s %s, total %d", chunks[0][0], chunks[1][0], chunks[2][344], j.Counts.Total)
		}
	})
}

func TestJobJoinAndConflict(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := context.Background()
		f := impact.RecomputeFilter{IncidentIDs: []string{"a", "b"}}
		j1 := create(t, db, f, false, 10)

		_, _, err := db.CreateJob(ctx, f, false, 10, "", false)
		wantCode(t, err, impact.ECONFLICT)
		if want := "recomputeJobs/" + j1.ID + " is still running with the same filter"; !strings.Contains(err.Error(), want) {
			t.Errorf("conflict message %q", err)
		}
		// The same ids in another order are the same filter.
		j, created, err := db.CreateJob(ctx, impact.RecomputeFilter{IncidentIDs: []string{"b", "a"}}, false, 3, "", true)
		if err != nil || created || j.ID != j1.ID {
			t.Fatalf("join: %v created %v id %s, want %s", err, created, j.ID, j1.ID)
		}
		// A dry run is another key.
		dry := create(t, db, f, true, 10)
		if dry.ID == j1.ID || !dry.DryRun {
			t.Errorf("dry run job %+v", dry)
		}
		// Once the job has ended, a new one can start.
		must[*impact.RecomputeJob](t)(db.CancelJob(ctx, j1.ID))
		j2 := create(t, db, f, false, 10)
		if j2.ID == j1.ID {
			t.Error("new job reuses the cancelled one")
		}

		// A retried request returns the first job without writing again.
		g := impact.RecomputeFilter{IncidentIDs: []string{"c"}}
		r1, created1, err1 := db.CreateJob(ctx, g, false, 10, "req-1", false)
		r2, created2, err2 := db.CreateJob(ctx, g, false, 10, "req-1", false)
		if err1 != nil || err2 != nil || r1.ID != r2.ID || !created1 || !created2 {
			t.Fatalf("retry: %v %v, ids %s %s, created %v %v", err1, err2, r1.ID, r2.ID, created1, created2)
		}
		// A joining request retried still joins.
		r3, created3, _ := db.CreateJob(ctx, g, false, 10, "req-2", true)
		r4, created4, err := db.CreateJob(ctx, g, false, 10, "req-2", true)
		if err != nil || r3.ID != r1.ID || r4.ID != r1.ID || created3 || created4 {
			t.Fatalf("joined retry: %v ids %s %s created %v %v", err, r3.ID, r4.ID, created3, created4)
		}
		if n := count(t, db, "recompute_jobs", ""); n != 4 {
			t.Errorf("%d jobs, want 4", n)
		}

		// Cancel: idempotent; ended jobs cannot be cancelled.
		c1 := must[*impact.RecomputeJob](t)(db.CancelJob(ctx, j1.ID))
		if c1.State != impact.JobCancelled || !c1.EndTime.Equal(t0) {
			t.Errorf("cancelled %s end %v", c1.State, c1.EndTime)
		}
		if n := count(t, db, "audit_log", "action = 'CancelRecomputeJob'"); n != 1 {
			t.Errorf("%d cancel audit rows, want 1", n)
		}
		empty := create(t, db, impact.RecomputeFilter{Since: ts("2030-01-01T00:00:00Z")}, false, 10)
		wantCode(t, second(db.CancelJob(ctx, empty.ID)), impact.EFAILEDPRECOND)
		wantCode(t, second(db.CancelJob(ctx, "nope")), impact.ENOTFOUND)

		// Newest first, by pages; every job once.
		seen := map[string]bool{}
		var last time.Time
		tok := ""
		pages := 0
		for {
			p := must[*impact.Page[impact.RecomputeJob]](t)(db.ListJobs(ctx, impact.PageRequest{Size: 2, Token: tok}))
			pages++
			for _, j := range p.Items {
				if seen[j.ID] {
					t.Errorf("job %s listed twice", j.ID)
				}
				if !last.IsZero() && j.CreateTime.After(last) {
					t.Errorf("job %s out of order", j.ID)
				}
				seen[j.ID], last = true, j.CreateTime
			}
			if tok = p.NextPageToken; tok == "" {
				break
			}
		}
		if len(seen) != 5 || pages != 3 {
			t.Errorf("%d jobs in %d pages, want 5 in 3", len(seen), pages)
		}
		wantCode(t, second(db.ListJobs(ctx, impact.PageRequest{Token: "garbage"})), impact.EINVALID)
	})
}

// secondHandle opens another *store.DB on the same PostgreSQL database, as
// another process would; on SQLite it returns db.
func secondHandle(t *testing.T, db *store.DB) *store.DB {
	t.Helper()
	if db.Engine() != store.Postgres {
		return db
	}
	var name string
	if err := db.SQL().Get(&name, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	other, err := store.Open(context.Background(), withDB(os.Getenv(pgEnv), name))
	if err != nil {
		t.Fatal(err)
	}
	other.SetClock(func() time.Time { return t0 })
	t.Cleanup(func() { other.Close() })
	return other
}

func TestJobConcurrentCreate(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		dbs := []*store.DB{db, secondHandle(t, db)}
		f := impact.RecomputeFilter{CustomerIDs: []string{"c1"}}
		var wg sync.WaitGroup
		ids := make([]string, 8)
		created := make([]bool, 8)
		errs := make([]error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j, c, err := dbs[i%2].CreateJob(context.Background(), f, false, 10, "", true)
				if err == nil {
					ids[i], created[i] = j.ID, c
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		n := 0
		for i := range 8 {
			if errs[i] != nil {
				t.Fatalf("creator %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Errorf("creator %d got %s, creator 0 %s", i, ids[i], ids[0])
			}
			if created[i] {
				n++
			}
		}
		if n != 1 || count(t, db, "recompute_jobs", "") != 1 {
			t.Errorf("%d creators created, %d jobs stored; want 1 and 1", n, count(t, db, "recompute_jobs", ""))
		}
	})
}

// seedMany creates n incidents with one window of c1 each: one chunk each
// at chunk size 1.
func seedMany(t *testing.T, db *store.DB, n int) {
	ctx := context.Background()
	must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "c1", Currency: "USD"}, ""))
	for i := range n {
		id := fmt.Sprintf("m%03d", i)
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: id}, ""))
		must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, id, []impact.StoredWindow{
			span("c1", "api", "w", "2025-07-01T00:00:00Z", "2025-07-01T01:00:00Z")}, ""))
	}
}

func TestLeaseChunkConcurrent(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		const n = 24
		seedMany(t, db, n)
		dbs := []*store.DB{db, secondHandle(t, db)}
		j := create(t, db, impact.RecomputeFilter{}, false, 1)
		var (
			mu    sync.Mutex
			got   = map[int64]int{}
			wg    sync.WaitGroup
			fails []error
		)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					c, err := dbs[w%2].LeaseChunk(context.Background(), "", fmt.Sprintf("w%d", w), time.Minute)
					mu.Lock()
					if err != nil {
						fails = append(fails, err)
					} else if c != nil {
						got[c.Seq]++
					}
					mu.Unlock()
					if c == nil || err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range fails {
			t.Errorf("lease: %v", err)
		}
		if len(got) != n {
			t.Errorf("%d chunks leased, want %d", len(got), n)
		}
		for seq, k := range got {
			if k != 1 || seq < 1 || seq > n {
				t.Errorf("chunk %d leased %d times", seq, k)
			}
		}
		after := must[*impact.RecomputeJob](t)(db.GetJob(context.Background(), j.ID))
		if after.State != impact.JobRunning || !after.StartTime.Equal(t0) {
			t.Errorf("job after leasing: %s start %v", after.State, after.StartTime)
		}
	})
}

func est(id, version string) *impact.StoredEstimate {
	return &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: id,
		Totals: []impact.CurrencyTotals{{Currency: "USD", LostRevenueGross: decimal.RequireFromString("10.50")}}},
		ModelVersion: version, InputsDigest: "sha256:" + id + version, ComputeTime: t0, ReportingCurrency: "EUR",
		FXRates: []impact.FXRate{{From: "USD", To: "EUR", Rate: "0.92"}}}
}

func stmt(customer, period, credit string) impact.StoredStatement {
	return impact.StoredStatement{SLAStatement: impact.SLAStatement{CustomerID: customer, Service: "api",
		PeriodStart: ts("2025-07-01T00:00:00Z"), CreditAmount: impact.Money{Currency: "USD", Amount: decimal.RequireFromString(credit)}},
		Period: period}
}

func diff(cur, gross string) impact.FigureDifferences {
	return impact.FigureDifferences{Currency: cur, LostRevenueGross: decimal.RequireFromString(gross)}
}

func revisions(t *testing.T, db *store.DB, incident string) int {
	return count(t, db, "incident_estimates", "incident_id = ?", incident)
}

func TestLeaseExpiryAndLostLease(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := context.Background()
		must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, est("a", "v1"), nil))
		j := create(t, db, impact.RecomputeFilter{IncidentIDs: []string{"a", "b"}}, false, 1)
		wantCode(t, second(db.LeaseChunk(ctx, "nope", "w", time.Minute)), impact.ENOTFOUND)

		c1 := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w1", time.Minute))
		if c1 == nil || c1.Seq != 1 || !cmp.Equal(c1.IncidentIDs, []string{"a"}) || c1.DryRun || c1.Token == "" ||
			!c1.Expires.Equal(t0.Add(time.Minute)) {
			t.Fatalf("first lease %+v", c1)
		}
		c2 := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w2", time.Minute))
		if c2 == nil || c2.Seq != 2 {
			t.Fatalf("second lease %+v", c2)
		}
		if c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w3", time.Minute)); c != nil {
			t.Fatalf("leased chunk %d while every chunk is held", c.Seq)
		}
		// Renewing pushes the expiry; at the old expiry the chunk is held.
		db.SetClock(func() time.Time { return t0.Add(30 * time.Second) })
		if err := db.RenewLease(ctx, c1, time.Minute); err != nil || !c1.Expires.Equal(t0.Add(90*time.Second)) {
			t.Fatalf("renew: %v, expires %v", err, c1.Expires)
		}
		db.SetClock(func() time.Time { return t0.Add(61 * time.Second) })
		c2b := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w3", time.Minute))
		if c2b == nil || c2b.Seq != 2 || c2b.Token == c2.Token {
			t.Fatalf("re-lease of expired chunk 2: %+v", c2b)
		}
		// c2's lease is lost: renewing and completing write nothing.
		wantCode(t, db.RenewLease(ctx, c2, time.Minute), impact.EABORTED)
		res := &impact.ChunkResult{Saves: []impact.EstimateSave{{Estimate: est("b", "v2")}},
			Changes: []impact.RecomputeChange{{IncidentID: "b"}}, Counts: impact.JobCounts{Done: 1, Changed: 1}}
		wantCode(t, second(db.CompleteChunk(ctx, c2, res)), impact.EABORTED)
		if n := revisions(t, db, "b"); n != 0 {
			t.Errorf("%d revisions of b after a lost lease", n)
		}
		if n := count(t, db, "recompute_changes", ""); n != 0 {
			t.Errorf("%d changes after a lost lease", n)
		}
		// The new holder completes.
		if _, err := db.CompleteChunk(ctx, c2b, res); err != nil {
			t.Fatal(err)
		}
		if n := revisions(t, db, "b"); n != 1 {
			t.Errorf("%d revisions of b", n)
		}
		// A done chunk is neither renewed nor completed again.
		wantCode(t, db.RenewLease(ctx, c2b, time.Minute), impact.EABORTED)
		wantCode(t, second(db.CompleteChunk(ctx, c2b, res)), impact.EABORTED)

		// Cancelling stops leasing and completing.
		must[*impact.RecomputeJob](t)(db.CancelJob(ctx, j.ID))
		wantCode(t, second(db.CompleteChunk(ctx, c1, &impact.ChunkResult{Saves: []impact.EstimateSave{{Estimate: est("a", "v2")}}})), impact.EABORTED)
		wantCode(t, db.RenewLease(ctx, c1, time.Minute), impact.EABORTED)
		if n := revisions(t, db, "a"); n != 1 {
			t.Errorf("%d revisions of a after completing a cancelled job's chunk", n)
		}
		db.SetClock(func() time.Time { return t0.Add(time.Hour) })
		if c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w", time.Minute)); c != nil {
			t.Errorf("leased chunk %d of a cancelled job", c.Seq)
		}
		if c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, "", "w", time.Minute)); c != nil {
			t.Errorf("leased chunk %d of a cancelled job (any job)", c.Seq)
		}
		if j := must[*impact.RecomputeJob](t)(db.GetJob(ctx, j.ID)); j.State != impact.JobCancelled || j.Counts.Done != 1 {
			t.Errorf("cancelled job %s done %d", j.State, j.Counts.Done)
		}
	})
}

func TestCompleteChunk(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := context.Background()
		must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, est("a", "v1"), []impact.StoredStatement{stmt("c1", "2025-07", "1.00")}))

		j := create(t, db, impact.RecomputeFilter{IncidentIDs: []string{"a", "b", "c"}}, false, 4)
		if got := chunksOf(t, db, j.ID); !cmp.Equal(got, [][]string{{"a", "b"}, {"c"}}) {
			t.Fatalf("chunks %v", got)
		}
		c1 := must[*impact.Chunk](t)(db.LeaseChunk(ctx, "", "w", time.Minute))
		// a and b both write c1's July statement with a new body: one bump.
		r1 := &impact.ChunkResult{
			Saves: []impact.EstimateSave{
				{Estimate: est("a", "v2"), Statements: []impact.StoredStatement{stmt("c1", "2025-07", "2.00")}},
				{Estimate: est("b", "v2"), Statements: []impact.StoredStatement{stmt("c1", "2025-07", "2.00")}},
			},
			Changes: []impact.RecomputeChange{
				{IncidentID: "a", OldRevision: 1, OldModelVersion: "v1", OldInputsDigest: "sha256:av1", NewInputsDigest: "sha256:av2",
					CustomersChanged: 2, Differences: []impact.FigureDifferences{diff("USD", "0.10")}},
				{IncidentID: "b", NewInputsDigest: "sha256:bv2", CustomersChanged: 1,
					Differences: []impact.FigureDifferences{diff("USD", "0.20"), diff("EUR", "1.000000000001")}},
			},
			Counts:       impact.JobCounts{Total: 999, CustomersTotal: 999, Done: 2, Changed: 2, CustomersDone: 4, CustomersChanged: 3},
			Differences:  []impact.FigureDifferences{diff("USD", "0.10"), diff("USD", "0.20"), diff("EUR", "1.000000000001")},
			ModelVersion: "v2",
		}
		after := must[*impact.RecomputeJob](t)(db.CompleteChunk(ctx, c1, r1))
		if after.State != impact.JobRunning || after.ModelVersion != "v2" ||
			after.Counts != (impact.JobCounts{Total: 3, CustomersTotal: 9, Done: 2, Changed: 2, CustomersDone: 4, CustomersChanged: 3}) {
			t.Errorf("after chunk 1: %s %q %+v", after.State, after.ModelVersion, after.Counts)
		}
		if len(after.Differences) != 2 || after.Differences[0].Currency != "EUR" || after.Differences[0].LostRevenueGross.String() != "1.000000000001" ||
			after.Differences[1].LostRevenueGross.String() != "0.3" {
			t.Errorf("differences %+v", after.Differences)
		}
		if r1.Changes[0].NewRevision != 2 || r1.Changes[1].NewRevision != 1 {
			t.Errorf("new revisions %d %d, want 2 1", r1.Changes[0].NewRevision, r1.Changes[1].NewRevision)
		}
		a1 := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "a", 1))
		a2 := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "a", 0))
		if a1.ModelVersion != "v1" || a2.Revision != 2 || a2.ModelVersion != "v2" || a2.ReportingCurrency != "EUR" ||
			!a2.Totals[0].LostRevenueGross.Equal(decimal.RequireFromString("10.5")) {
			t.Errorf("a: rev1 %q, latest %d %q %q", a1.ModelVersion, a2.Revision, a2.ModelVersion, a2.ReportingCurrency)
		}
		st := must[*impact.StoredStatement](t)(db.GetStatement(ctx, "c1", "api", "2025-07"))
		if st.Revision != 2 || st.CreditAmount.Amount.String() != "2" {
			t.Errorf("statement rev %d credit %s, want 2 and 2", st.Revision, st.CreditAmount.Amount)
		}

		// Last chunk: c failed, so the job fails; USD sums to zero and goes.
		c2 := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w", time.Minute))
		end := t0.Add(time.Hour)
		db.SetClock(func() time.Time { return end })
		r2 := &impact.ChunkResult{
			Changes:     []impact.RecomputeChange{{IncidentID: "c", Error: "customer c1 has no baseline"}},
			Counts:      impact.JobCounts{Done: 1, Failed: 1, CustomersDone: 5},
			Differences: []impact.FigureDifferences{diff("USD", "-0.30")},
		}
		final := must[*impact.RecomputeJob](t)(db.CompleteChunk(ctx, c2, r2))
		if final.State != impact.JobFailed || final.Error != "1 estimates failed; first: c: customer c1 has no baseline" ||
			!final.EndTime.Equal(end) || final.ModelVersion != "v2" || final.Counts.Done != 3 || final.Counts.Failed != 1 ||
			final.Counts.CustomersDone != 9 {
			t.Errorf("final job %s %q end %v %q %+v", final.State, final.Error, final.EndTime, final.ModelVersion, final.Counts)
		}
		if len(final.Differences) != 1 || final.Differences[0].Currency != "EUR" {
			t.Errorf("final differences %+v", final.Differences)
		}
		if got := must[*impact.RecomputeJob](t)(db.GetJob(ctx, j.ID)); !cmp.Equal(got, final) {
			t.Errorf("GetJob differs from CompleteChunk's job:\n%s", cmp.Diff(final, got))
		}

		// Changes by incident id, in pages.
		p1 := must[*impact.Page[impact.RecomputeChange]](t)(db.ListChanges(ctx, j.ID, impact.PageRequest{Size: 2}))
		p2 := must[*impact.Page[impact.RecomputeChange]](t)(db.ListChanges(ctx, j.ID, impact.PageRequest{Size: 2, Token: p1.NextPageToken}))
		if len(p1.Items) != 2 || len(p2.Items) != 1 || p2.NextPageToken != "" || p1.Items[0].IncidentID != "a" || p2.Items[0].IncidentID != "c" {
			t.Fatalf("change pages %+v / %+v", p1.Items, p2.Items)
		}
		if diff := cmp.Diff(r1.Changes[0], p1.Items[0]); diff != "" {
			t.Errorf("change a (-sent +stored):\n%s", diff)
		}
		if p1.Items[1].Differences[1].LostRevenueGross.String() != "1.000000000001" || p2.Items[0].Error == "" {
			t.Errorf("changes %+v %+v", p1.Items[1], p2.Items[0])
		}
		wantCode(t, second(db.ListChanges(ctx, "nope", impact.PageRequest{})), impact.ENOTFOUND)
		wantCode(t, second(db.ListChanges(ctx, j.ID, impact.PageRequest{Token: "x"})), impact.EINVALID)

		// A second job writing the same statement body does not bump it; a
		// job without failures succeeds.
		db.SetClock(func() time.Time { return t0 })
		j2 := create(t, db, impact.RecomputeFilter{IncidentIDs: []string{"a"}}, false, 10)
		c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j2.ID, "w", time.Minute))
		done := must[*impact.RecomputeJob](t)(db.CompleteChunk(ctx, c, &impact.ChunkResult{
			Saves:   []impact.EstimateSave{{Estimate: est("a", "v3"), Statements: []impact.StoredStatement{stmt("c1", "2025-07", "2.00")}}},
			Changes: []impact.RecomputeChange{{IncidentID: "a", OldRevision: 2}}, Counts: impact.JobCounts{Done: 1, Changed: 1}}))
		if done.State != impact.JobSucceeded || done.Error != "" || !done.EndTime.Equal(t0) {
			t.Errorf("second job %s %q", done.State, done.Error)
		}
		if st := must[*impact.StoredStatement](t)(db.GetStatement(ctx, "c1", "api", "2025-07")); st.Revision != 2 {
			t.Errorf("statement rev %d after an unchanged body, want 2", st.Revision)
		}
		if n := revisions(t, db, "a"); n != 3 {
			t.Errorf("%d revisions of a, want 3", n)
		}

		// Latest revisions only, with their reporting options.
		latest := must[map[string]*impact.StoredEstimate](t)(db.LatestEstimates(ctx, []string{"a", "b", "c", "zz"}))
		if len(latest) != 2 || latest["a"].Revision != 3 || latest["a"].ModelVersion != "v3" || latest["b"].Revision != 1 ||
			latest["a"].Name != "incidents/a/estimate" || latest["a"].IncidentID != "a" {
			t.Errorf("latest %+v", latest)
		}
		if !cmp.Equal(latest["b"].FXRates, []impact.FXRate{{From: "USD", To: "EUR", Rate: "0.92"}}) {
			t.Errorf("latest b rates %+v", latest["b"].FXRates)
		}
		ids := make([]string, 1001)
		for i := range ids {
			ids[i] = fmt.Sprint(i)
		}
		wantCode(t, second(db.LatestEstimates(ctx, ids)), impact.EINVALID)
	})
}

// A chunk result with more rows than one INSERT may carry.
func TestCompleteChunkLarge(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		const n = 1234
		ctx := context.Background()
		seedMany(t, db, 1)
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", &impact.Contract{Service: "api", MonthlyFee: "100"}, ""))
		tx := db.SQL().MustBegin()
		var now any = t0.UnixMicro()
		if db.Engine() == store.Postgres {
			now = t0
		}
		for i := range n {
			if _, err := tx.Exec(tx.Rebind(`INSERT INTO incidents (id, title, cause, recovery_currency, allocation, recovery_items,
				revision, create_time, update_time) VALUES (?, '', 1, '', 0, '[]', 1, ?, ?)`), fmt.Sprintf("x%05d", i), now, now); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		j := create(t, db, impact.RecomputeFilter{IncidentIDs: []string{"m000"}}, false, 10)
		c := must[*impact.Chunk](t)(db.LeaseChunk(ctx, j.ID, "w", time.Minute))
		r := &impact.ChunkResult{Counts: impact.JobCounts{Done: n, Changed: n}}
		for i := range n {
			id := fmt.Sprintf("x%05d", i)
			r.Saves = append(r.Saves, impact.EstimateSave{Estimate: est(id, "v1"),
				Statements: []impact.StoredStatement{stmt("c1", fmt.Sprintf("p%05d", i), "1")}})
			r.Changes = append(r.Changes, impact.RecomputeChange{IncidentID: id})
		}
		// An incident deleted since planning: its save is dropped.
		r.Saves = append(r.Saves, impact.EstimateSave{Estimate: est("gone", "v1")})
		r.Changes = append(r.Changes, impact.RecomputeChange{IncidentID: "gone"})
		// A statement whose contract was deleted since the chunk was
		// computed: it is dropped, the estimate is stored.
		gone := stmt("c1", "p-gone", "1")
		gone.Service = "deleted-service"
		r.Saves[0].Statements = append(r.Saves[0].Statements, gone)
		got := must[*impact.RecomputeJob](t)(db.CompleteChunk(ctx, c, r))
		if got.State != impact.JobSucceeded || got.Counts.Done != n {
			t.Errorf("job %s done %d", got.State, got.Counts.Done)
		}
		if k := count(t, db, "incident_estimates", ""); k != n {
			t.Errorf("%d estimates, want %d", k, n)
		}
		if k := count(t, db, "sla_statements", ""); k != n {
			t.Errorf("%d statements, want %d", k, n)
		}
		if k := count(t, db, "recompute_changes", "new_revision = 1"); k != n {
			t.Errorf("%d changes with revision 1, want %d", k, n)
		}
		if r.Changes[n].NewRevision != 0 {
			t.Errorf("deleted incident got revision %d", r.Changes[n].NewRevision)
		}
	})
}

func TestEstimateReportingOptions(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := context.Background()
		saved := must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, est("a", "v1"), nil))
		got := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "a", 1))
		want := []impact.FXRate{{From: "USD", To: "EUR", Rate: "0.92"}}
		for _, e := range []*impact.StoredEstimate{saved, got} {
			if e.ReportingCurrency != "EUR" || !cmp.Equal(e.FXRates, want) {
				t.Errorf("reporting %q rates %+v", e.ReportingCurrency, e.FXRates)
			}
		}
		plain := est("b", "v1")
		plain.ReportingCurrency, plain.FXRates = "", nil
		if e := must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, plain, nil)); e.ReportingCurrency != "" || e.FXRates != nil {
			t.Errorf("no reporting options: %q %+v", e.ReportingCurrency, e.FXRates)
		}
	})
}
