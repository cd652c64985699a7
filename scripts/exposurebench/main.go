// Command exposurebench measures SimulateOutage over books of 1k, 10k and
// 100k selected contracts, as a ratio to a stateless Estimate of
// one customer in the same run, and the simulation's RSS above idle.
//
// For each size N it makes a fresh SQLite database (migrated by the store)
// with N/4 customers of 4 contracts each (every granularity, a cap and a
// minimum on some), all labelled region=eu-west-1, plus N/4 customers in
// us-east-1 that the selector leaves out, and stored windows on a tenth of
// the selected contracts in the simulated month. Customers and contracts
// are inserted with SQL in one transaction (the store's rows, as
// CreateCustomer writes them) because seeding is not what is measured;
// incidents and windows go through the store.
//
// Then, in this process: the median of 2,000 stateless Estimates of one
// customer (one contract, one window); and estimating.Simulate with the
// selector region=eu-west-1, three durations (30m, 2h, 4h) and top 100,
// with /proc/self/status VmRSS sampled every 5 ms and the process's CPU
// time (getrusage) around it.
//
//	go run ./scripts/exposurebench [-sizes 1000,10000,100000]
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "modernc.org/sqlite"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

func main() {
	sizes := flag.String("sizes", "1000,10000,100000", "selected contracts per run")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the simulations to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "exposurebench")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	one := oneEstimate()
	fmt.Printf("stateless Estimate of one customer: %v (median of 2000)\n\n", one)
	fmt.Println("| contracts | simulate (3 durations) | per contract | ratio to one Estimate | ratio per contract | CPU per contract | RSS above idle (peak) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			fail(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("b%d.db", n))
		if err := seed(ctx, path, n); err != nil {
			fail(err)
		}
		db, err := store.Open(ctx, "sqlite:"+path)
		if err != nil {
			fail(err)
		}
		sim := &impact.Simulation{
			Selector:  impact.ContractSelector{Labels: map[string]string{"region": "eu-west-1"}},
			Start:     time.Date(2025, 7, 14, 13, 0, 0, 0, time.UTC),
			Durations: []time.Duration{30 * time.Minute, 2 * time.Hour, 4 * time.Hour},
		}
		if err := sim.Validate(); err != nil {
			fail(err)
		}
		runtime.GC()
		debug.FreeOSMemory()
		idle := rssKB()
		var peak atomic.Int64
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
					if r := rssKB(); r > peak.Load() {
						peak.Store(r)
					}
				}
			}
		}()
		cpu0 := cpuTime()
		t := time.Now()
		rs, err := estimating.Simulate(ctx, db, sim, estimating.Options{}, nil)
		d := time.Since(t)
		cpu := cpuTime() - cpu0
		close(stop)
		if err != nil {
			fail(err)
		}
		if got := rs[0].SelectedContracts; got != int64(n) {
			fail(fmt.Errorf("selected %d contracts, want %d", got, n))
		}
		above := max(peak.Load()-idle, 0)
		fmt.Printf("| %d | %v | %.1f µs | %.0f | %.2f | %.1f µs | %d MB |\n", n, d.Round(time.Millisecond),
			float64(d.Microseconds())/float64(n), float64(d)/float64(one), float64(d)/float64(n)/float64(one),
			float64(cpu.Microseconds())/float64(n), above>>10)
		db.Close()
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "exposurebench:", err)
	os.Exit(1)
}

// oneEstimate is the median time of a stateless Estimate of one customer.
func oneEstimate() time.Duration {
	start := time.Date(2025, 7, 14, 13, 0, 0, 0, time.UTC)
	s := &impact.Scenario{
		Customers: []impact.Customer{{ID: "c", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "100"},
			LifetimeValue: "1000", ChurnProbability: "0.1",
			Contracts: []impact.Contract{{Service: "api", MonthlyFee: "730", Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}}}}},
		Incidents: []impact.Incident{{ID: "i", Windows: []impact.OutageWindow{{CustomerID: "c", Service: "api", Start: start, End: start.Add(2 * time.Hour)}}}},
	}
	ds := make([]time.Duration, 2000)
	for i := range ds {
		t := time.Now()
		if _, err := impact.EstimateScenario(s, impact.DefaultLimits()); err != nil {
			fail(err)
		}
		ds[i] = time.Since(t)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// cpuTime is the process's user and system CPU time so far: unlike wall
// time, it does not grow when other work shares the cores.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func rssKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// seed writes the book of n selected contracts into a fresh database.
func seed(ctx context.Context, path string, n int) error {
	db, err := store.Open(ctx, "sqlite:"+path) // migrates
	if err != nil {
		return err
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	now := time.Now().UnixMicro()
	custStmt, err := tx.PrepareContext(ctx, `INSERT INTO customers (id, display_name, currency_code, time_zone, hourly_amount,
		recapture_rate, lifetime_value, churn_probability, baseline, revision, create_time, update_time, labels)
		VALUES (?, '', ?, ?, ?, ?, ?, ?, '{}', 1, ?, ?, ?)`)
	if err != nil {
		return err
	}
	kStmt, err := tx.PrepareContext(ctx, `INSERT INTO contracts (customer_id, service, monthly_fee, min_credit_amount,
		billing_period, time_zone, terms, revision, create_time, update_time, labels) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, '{}')`)
	if err != nil {
		return err
	}
	currencies := []string{"USD", "EUR", "JPY"}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"}
	terms := []string{
		`{"tiers":[{"uptime_below":"99.99","credit_percent":"10"},{"uptime_below":"99","credit_percent":"30"},{"uptime_below":"95","credit_percent":"100"}]}`,
		`{"tiers":[{"uptime_below":"99.9","credit_percent":"10","inclusive":true},{"uptime_below":"99.5","credit_percent":"25"}],"granularity":2}`,
		`{"tiers":[{"uptime_below":"99.95","credit_percent":"10"},{"uptime_below":"99","credit_percent":"50"}],"granularity":3,"min_downtime_seconds":120,"credit_cap_percent":"30"}`,
		`{"tiers":[{"uptime_below":"99.9","credit_percent":"5"},{"uptime_below":"99","credit_percent":"20"}],"excluded_causes":[5]}`,
	}
	nCust := n / 4
	var windows []impact.StoredWindow
	start := time.Date(2025, 7, 3, 0, 0, 0, 0, time.UTC)
	for i := range 2 * nCust {
		id := fmt.Sprintf("c%07d", i)
		region := `{"region":"eu-west-1"}`
		if i%2 == 1 {
			region = `{"region":"us-east-1"}`
		}
		cur := currencies[i%3]
		if _, err := custStmt.ExecContext(ctx, id, cur, zones[i%4], fmt.Sprintf("%d.50", 10+i%997), "0.25", "50000", "0.02", now, now, region); err != nil {
			return err
		}
		for j := range 4 {
			svc := []string{"api", "db", "cdn", "queue"}[j]
			if _, err := kStmt.ExecContext(ctx, id, svc, fmt.Sprintf("%d.00", 100+i%5000), "5", 1+(i+j)%5/4, zones[(i+j)%4], terms[j], now, now); err != nil {
				return err
			}
			if i%2 == 0 && (i/2*4+j)%10 == 0 {
				s := start.Add(time.Duration((i*7919+j*104729)%(20*86400)) * time.Second)
				windows = append(windows, impact.StoredWindow{OutageWindow: impact.OutageWindow{CustomerID: id, Service: svc, Start: s, End: s.Add(time.Duration(60+(i%50)*97) * time.Second)}})
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	raw.Close()
	for lo, k := 0, 0; lo < len(windows); lo, k = lo+impact.MaxBatchWindows, k+1 {
		id := fmt.Sprintf("inc-%d", k)
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: id, Cause: impact.HardwareFailure}, ""); err != nil {
			return err
		}
		if _, err := db.BatchCreateWindows(ctx, id, windows[lo:min(lo+impact.MaxBatchWindows, len(windows))], ""); err != nil {
			return err
		}
	}
	return db.Close()
}
