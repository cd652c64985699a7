package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// TestMain lets a test run this package's main in a subprocess (the test
// binary itself, re-executed), so that it can be killed like the real one.
func TestMain(m *testing.M) {
	if os.Getenv("IMPACTCTL_TEST_AS_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// recomputeCmd is "impactctl recompute args…" as a subprocess.
func recomputeCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"recompute"}, args...)...)
	cmd.Env = append(os.Environ(), "IMPACTCTL_TEST_AS_MAIN=1")
	return cmd
}

// seedRecompute stores nCust customers (USD and EUR, flat hourly rates,
// one SLA contract each) and nInc incidents of perInc customers each (one
// window per customer, shared recovery by impact), estimates every incident
// through a first recompute job, then raises every hourly rate, so that a
// second job changes every estimate.
func seedRecompute(t *testing.T, dsn string, nCust, nInc, perInc int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := mrand.New(mrand.NewPCG(7, 11))
	for i := range nCust {
		cur := "USD"
		if i%4 == 3 {
			cur = "EUR"
		}
		c := &impact.Customer{ID: fmt.Sprintf("c%05d", i), Currency: cur, TimeZone: []string{"UTC", "America/New_York", "Europe/Berlin"}[i%3],
			Baseline:      impact.Baseline{HourlyAmount: fmt.Sprintf("%d.%02d", 50+i%90, i%100), RecaptureRate: "0.15"},
			LifetimeValue: "120000", ChurnProbability: "0.0125"}
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
			t.Fatal(err)
		}
		k := &impact.Contract{Service: "api", MonthlyFee: fmt.Sprintf("%d.00", 500+i%500), TimeZone: c.TimeZone,
			Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}, {UptimeBelow: "99", CreditPercent: "25"}}}
		if _, err := db.CreateContract(ctx, c.ID, k, ""); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	for j := range nInc {
		in := &impact.Incident{ID: fmt.Sprintf("i%05d", j), Title: "outage", RecoveryCurrency: "USD", Allocation: impact.ByImpact,
			RecoveryItems: []impact.RecoveryItem{{Labor: &impact.LaborItem{Role: "sre", Hours: "3.5", HourlyRate: "142.17"}}}}
		if _, err := db.CreateIncident(ctx, in, ""); err != nil {
			t.Fatal(err)
		}
		start := base.Add(time.Duration(j) * 7 * time.Hour)
		ws := make([]impact.StoredWindow, perInc)
		for k := range perInc {
			cust := (j*perInc/3 + k*7) % nCust
			s := start.Add(time.Duration(rng.IntN(3600)) * time.Second)
			ws[k] = impact.StoredWindow{ID: fmt.Sprintf("w%03d", k), OutageWindow: impact.OutageWindow{
				CustomerID: fmt.Sprintf("c%05d", cust), Service: "api", Start: s,
				End: s.Add(time.Duration(60+rng.IntN(7200)) * time.Second), ImpactFraction: []string{"", "0.5", "0.25"}[k%3]}}
		}
		if _, err := db.BatchCreateWindows(ctx, in.ID, ws, ""); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := recomputeCmd("--db", dsn, "--workers", "2").CombinedOutput(); err != nil {
		t.Fatalf("first recompute: %v\n%s", err, out)
	}
	for i := range nCust {
		c := &impact.Customer{ID: fmt.Sprintf("c%05d", i), Baseline: impact.Baseline{HourlyAmount: fmt.Sprintf("%d.%02d", 51+i%90, (i*7)%100)}}
		if _, err := db.UpdateCustomer(ctx, c, impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
			t.Fatal(err)
		}
	}
}

// storedState is every stored figure the jobs write, with revisions and
// the job's counts: two runs that did the same work print the same.
func storedState(t *testing.T, dsn string) string {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var b bytes.Buffer
	rows, err := db.SQL().Query(`SELECT incident_id, revision, model_version, inputs_digest, body FROM incident_estimates ORDER BY incident_id, revision`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id, mv, dg, body string
		var rev int64
		if err := rows.Scan(&id, &rev, &mv, &dg, &body); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "estimate %s r%d %s %s %s\n", id, rev, mv, dg, body)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if n == 0 {
		t.Fatal("no estimates stored")
	}
	rows, err = db.SQL().Query(`SELECT customer_id, service, period, revision, body FROM sla_statements ORDER BY customer_id, service, period`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, s, p, body string
		var rev int64
		if err := rows.Scan(&c, &s, &p, &rev, &body); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "statement %s/%s/%s r%d %s\n", c, s, p, rev, body)
	}
	rows.Close()
	jobs, err := db.ListJobs(context.Background(), impact.PageRequest{Size: 1})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("latest job: %v", err)
	}
	j := jobs.Items[0]
	fmt.Fprintf(&b, "job %s %+v %v\n", j.State, j.Counts, j.Differences)
	return b.String()
}

// TestRecomputeSurvivesKill9 runs a recompute job in a subprocess, kills
// it with SIGKILL at random points of its progress several times, runs it again to the
// end, and compares every stored estimate, statement and count with those
// of an uninterrupted run on a copy of the same data: same figures, same
// revisions, nothing done twice.
func TestRecomputeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		seed := filepath.Join(dir, "seed.db")
		seedRecompute(t, "sqlite:"+seed, 300, 360, 25)
		clean, killed := filepath.Join(dir, "clean.db"), filepath.Join(dir, "killed.db")
		copyFile(t, seed, clean)
		copyFile(t, seed, killed)
		checkKill9(t, "sqlite:"+clean, []string{"sqlite:" + killed})
	})
	t.Run("postgres", func(t *testing.T) {
		admin := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
		if admin == "" {
			t.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
		}
		seed := pgDatabase(t, admin, "")
		seedRecompute(t, seed, 300, 360, 25)
		clean := pgDatabase(t, admin, seed)
		killed := pgDatabase(t, admin, seed)
		// Two workers on one job: both are killed and restarted at random,
		// and share the job as they come and go.
		checkKill9(t, clean, []string{killed, killed})
	})
}

func checkKill9(t *testing.T, clean string, workers []string) {
	args := func(dsn string) []string {
		return []string{"--db", dsn, "--workers", "2", "--chunk-size", "40", "--lease", "1s", "--progress-every", "1h"}
	}
	if out, err := recomputeCmd(args(clean)...).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, out)
	}
	if db, err := store.Open(context.Background(), clean); err == nil {
		js, err := db.ListJobs(context.Background(), impact.PageRequest{Size: 1})
		db.Close()
		if err != nil || len(js.Items) != 1 || js.Items[0].Counts.Changed != js.Items[0].Counts.Total || js.Items[0].Counts.Total == 0 {
			t.Fatalf("the clean run should change every estimate: %v %+v", err, js)
		}
	}
	want := storedState(t, clean)
	if !strings.Contains(want, "job SUCCEEDED") {
		t.Fatalf("clean run did not succeed:\n%s", want[strings.LastIndex(want, "job "):])
	}

	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	db, err := store.Open(context.Background(), workers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The seed's own job is the newest until the first run creates one.
	seedJobs, err := db.ListJobs(context.Background(), impact.PageRequest{Size: 1})
	if err != nil || len(seedJobs.Items) != 1 {
		t.Fatalf("seed job: %v", err)
	}
	seedJob := seedJobs.Items[0].ID
	midJob := 0
	lastDone := int64(0)
	// Kill at random points until five kills have landed or half of the
	// job is done (a round does far less than half): the last run must
	// still have chunks to resume.
	for round := 0; round < 12 && midJob < 5; round++ {
		var cmds []*exec.Cmd
		for _, dsn := range workers {
			cmd := recomputeCmd(args(dsn)...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		// Kill once the job has done more than at the last kill, at a
		// random point soon after: a fixed delay from the start landed
		// before the first chunk whenever the machine was busy (the
		// processes' start-up is not the job's work).
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			js, err := db.ListJobs(context.Background(), impact.PageRequest{Size: 1})
			if err == nil && len(js.Items) == 1 && js.Items[0].ID != seedJob && js.Items[0].Counts.Done > lastDone {
				break
			}
		}
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		for _, cmd := range cmds {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
		js, err := db.ListJobs(context.Background(), impact.PageRequest{Size: 1})
		if err != nil || len(js.Items) != 1 || js.Items[0].ID == seedJob {
			continue // killed before the job was created
		}
		j := js.Items[0]
		t.Logf("round %d: killed at %d/%d incidents, state %s", round, j.Counts.Done, j.Counts.Total, j.State)
		if j.State.Terminal() {
			t.Fatal("the job ended before the last kill: the resumed run would prove nothing; make the dataset larger")
		}
		if j.Counts.Done > 0 {
			midJob++
		}
		lastDone = j.Counts.Done
		if j.Counts.Done*2 >= j.Counts.Total {
			break
		}
	}
	if midJob == 0 {
		t.Fatal("no kill landed in the middle of the job: the test proved nothing; make the dataset larger")
	}
	if out, err := recomputeCmd(args(workers[0])...).CombinedOutput(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	} else if !bytes.Contains(out, []byte("resuming recomputeJobs/")) {
		t.Fatalf("the last run did not resume the open job:\n%s", out)
	}
	got := storedState(t, workers[0])
	if got != want {
		t.Errorf("stored state after kills differs from the clean run:\n%s", firstDiff(want, got))
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\nclean:  %.300s\nkilled: %.300s", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("clean has %d lines, killed %d", len(la), len(lb))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pgDatabase creates a database for the test (a copy of template's when
// set) and returns its URL; it is dropped when the test ends.
func pgDatabase(t *testing.T, admin, template string) string {
	t.Helper()
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	var rb [6]byte
	_, _ = rand.Read(rb[:])
	name := "impact_kill_" + hex.EncodeToString(rb[:])
	stmt := "CREATE DATABASE " + name
	if template != "" {
		tu, _ := url.Parse(template)
		stmt += " TEMPLATE " + strings.TrimPrefix(tu.Path, "/")
	}
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := adm.Exec(stmt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", admin); err == nil {
			_, _ = a.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			a.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
}

// TestRecomputeInterruptHandsChunksBack: Ctrl-C (SIGINT) stops a run
// with its chunks handed back, so that a new run takes every chunk not done
// at once instead of waiting for the leases (30 s by default) to expire.
func TestRecomputeInterruptHandsChunksBack(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "impact.db")
	seedRecompute(t, dsn, 300, 360, 25)
	db := openDB(t, dsn)
	ctx := context.Background()
	seed, err := db.ListJobs(ctx, impact.PageRequest{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	cmd := recomputeCmd("--db", dsn, "--workers", "2", "--chunk-size", "40", "--progress-every", "1h")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var job *impact.RecomputeJob
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		js, err := db.ListJobs(ctx, impact.PageRequest{Size: 1})
		if err == nil && len(js.Items) == 1 && js.Items[0].ID != seed.Items[0].ID && js.Items[0].Counts.Done > 0 {
			job = &js.Items[0]
			break
		}
	}
	if job == nil {
		t.Fatal("the run made no progress")
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	var open int
	if err := db.SQL().Get(&open, `SELECT COUNT(*) FROM recompute_chunks WHERE job_id = ? AND NOT done`, job.ID); err != nil {
		t.Fatal(err)
	}
	if open == 0 {
		t.Fatal("the job ended before the interrupt: make the dataset larger")
	}
	leased := 0
	for {
		c, err := db.LeaseChunk(ctx, job.ID, "probe", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			break
		}
		leased++
	}
	if leased != open {
		t.Errorf("after Ctrl-C %d of %d open chunks could be leased at once; the others were still held", leased, open)
	}
}
