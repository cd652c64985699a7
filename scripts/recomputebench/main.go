// Command recomputebench measures a recompute of N stored (incident,
// customer) estimates against a raw insert of N rows into the same
// database engine, in the same run (issue 5). It is run by
// scripts/recompute-bench.sh; see there.
//
// Steps:
//  1. load a dataset through the store's API (not measured): N/10 customers
//     (one SLA contract each, a tenth with a 168-hour weekly profile) and
//     N/perIncident incidents of perIncident customers each, one window per
//     (incident, customer), so that each customer is in about ten incidents
//     spread over two years;
//  2. "first": impactctl recompute over everything, in a subprocess — every
//     estimate is new, so every one is computed and written;
//  3. "unchanged": the same again — every estimate is computed, compared,
//     and none written;
//  4. "raw": N rows of per-(incident, customer) figures inserted into a
//     scratch table: SQLite prepared inserts in transactions of 10,000 rows,
//     PostgreSQL COPY.
//
// It prints the throughput of each, the ratio recompute/raw, and the
// recompute subprocess's peak RSS (getrusage maxrss).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "recomputebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	dsn := flag.String("db", "", "an empty database: sqlite:PATH or a postgres:// URL")
	n := flag.Int("estimates", 1_000_000, "(incident, customer) estimates")
	perInc := flag.Int("per-incident", 100, "customers per incident")
	ctl := flag.String("impactctl", "impactctl", "the impactctl binary")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "recompute workers")
	flag.Parse()
	if *dsn == "" {
		return errors.New("--db is required")
	}
	nCust := max(*n/10, *perInc)
	nInc := *n / *perInc
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	t := time.Now()
	if err := load(ctx, db, nCust, nInc, *perInc); err != nil {
		return err
	}
	fmt.Printf("engine %s: loaded %d customers, %d incidents, %d windows in %s\n",
		db.Engine(), nCust, nInc, nInc**perInc, time.Since(t).Round(time.Second))

	first, rss1, err := recompute(*ctl, *dsn, *workers)
	if err != nil {
		return err
	}
	second, rss2, err := recompute(*ctl, *dsn, *workers)
	if err != nil {
		return err
	}
	raw, err := rawInsert(ctx, db, nInc**perInc)
	if err != nil {
		return err
	}
	est := float64(nInc * *perInc)
	fmt.Printf("recompute, every estimate new: %8.2f s  %9.0f estimates/s  peak RSS %d MB\n", first.Seconds(), est/first.Seconds(), rss1>>10)
	fmt.Printf("recompute, nothing changed:    %8.2f s  %9.0f estimates/s  peak RSS %d MB\n", second.Seconds(), est/second.Seconds(), rss2>>10)
	fmt.Printf("raw insert of %d rows:      %8.2f s  %9.0f rows/s\n", int(est), raw.Seconds(), est/raw.Seconds())
	fmt.Printf("ratio recompute/raw: every estimate new %.3f, nothing changed %.3f\n", raw.Seconds()/first.Seconds(), raw.Seconds()/second.Seconds())
	return nil
}

// recompute runs impactctl recompute over everything and returns its wall
// time and peak RSS in KiB.
func recompute(ctl, dsn string, workers int) (time.Duration, int64, error) {
	cmd := exec.Command(ctl, "recompute", "--db", dsn, "--workers", strconv.Itoa(workers), "--progress-every", "10s", "--show", "0")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("impactctl recompute: %w", err)
	}
	d := time.Since(t)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss
	}
	return d, rss, nil
}

func load(ctx context.Context, db *store.DB, nCust, nInc, perInc int) error {
	profile := make([]string, 168)
	for h := range profile {
		profile[h] = fmt.Sprintf("%d.%02d", 20+h%24*3, h%100)
	}
	// PostgreSQL takes concurrent writers; SQLite has one writer anyway.
	par := 8
	if db.Engine() == store.SQLite {
		par = 1
	}
	err := parallel(par, nCust, func(i int) error {
		c := &impact.Customer{ID: fmt.Sprintf("c%07d", i), Currency: []string{"USD", "EUR", "GBP", "JPY"}[i%4],
			TimeZone:      []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"}[i%4],
			Baseline:      impact.Baseline{HourlyAmount: fmt.Sprintf("%d.%02d", 40+i%500, i%100), RecaptureRate: "0.2"},
			LifetimeValue: "250000", ChurnProbability: "0.004"}
		if c.Currency == "JPY" {
			c.Baseline.HourlyAmount = strconv.Itoa(4000 + i%50000)
		}
		if i%10 == 0 {
			c.Baseline.WeeklyProfile = profile
		}
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil && impact.ErrorCode(err) != impact.ECONFLICT {
			return err
		}
		k := &impact.Contract{Service: "api", MonthlyFee: strconv.Itoa(1000 + i%9000), TimeZone: c.TimeZone,
			Tiers: []impact.CreditTier{{UptimeBelow: "99.95", CreditPercent: "10"}, {UptimeBelow: "99.5", CreditPercent: "25"}, {UptimeBelow: "99", CreditPercent: "50"}}}
		if _, err := db.CreateContract(ctx, c.ID, k, ""); err != nil && impact.ErrorCode(err) != impact.ECONFLICT {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	span := 2 * 365 * 24 * time.Hour / time.Duration(max(nInc, 1))
	return parallel(par, nInc, func(j int) error {
		in := &impact.Incident{ID: fmt.Sprintf("i%07d", j), Title: "outage", RecoveryCurrency: "USD", Allocation: impact.Allocation(1 + j%2),
			RecoveryItems: []impact.RecoveryItem{{Labor: &impact.LaborItem{Role: "sre", Hours: "6", HourlyRate: "150.00"}},
				{Expense: &impact.ExpenseItem{Description: "credits to cloud provider", UnitCost: "1234.56"}}}}
		if _, err := db.CreateIncident(ctx, in, ""); err != nil {
			if impact.ErrorCode(err) == impact.ECONFLICT {
				return nil // loaded by an earlier run
			}
			return err
		}
		start := base.Add(time.Duration(j) * span)
		ws := make([]impact.StoredWindow, perInc)
		for k := range perInc {
			cust := (j*perInc + k) % nCust
			s := start.Add(time.Duration(k%60) * time.Minute)
			ws[k] = impact.StoredWindow{ID: fmt.Sprintf("w%04d", k), OutageWindow: impact.OutageWindow{
				CustomerID: fmt.Sprintf("c%07d", cust), Service: "api", Start: s,
				End: s.Add(time.Duration(5+(j+k)%115) * time.Minute), ImpactFraction: []string{"", "0.6", "0.25"}[k%3]}}
		}
		_, err := db.BatchCreateWindows(ctx, in.ID, ws, "")
		return err
	})
}

func parallel(par, n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
		ferr error
	)
	for range par {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || ferr != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					ferr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return ferr
}

// rawInsert writes n rows shaped like the per-(incident, customer) figures
// of an estimate into a scratch table, the fastest plain way each engine
// offers, and returns the time it took.
func rawInsert(ctx context.Context, db *store.DB, n int) (time.Duration, error) {
	x := db.SQL()
	money := "TEXT"
	if db.Engine() == store.Postgres {
		money = "NUMERIC"
	}
	if _, err := x.ExecContext(ctx, `DROP TABLE IF EXISTS bench_raw_estimates`); err != nil {
		return 0, err
	}
	if _, err := x.ExecContext(ctx, `CREATE TABLE bench_raw_estimates (incident_id TEXT NOT NULL, customer_id TEXT NOT NULL,
		revision BIGINT NOT NULL, currency_code TEXT NOT NULL, impact_seconds `+money+`, lost_revenue_gross `+money+`,
		lost_revenue_net `+money+`, recovery_cost `+money+`, sla_credits `+money+`, churn_exposure `+money+`,
		PRIMARY KEY (incident_id, customer_id, revision))`); err != nil {
		return 0, err
	}
	row := func(i int) []any {
		return []any{fmt.Sprintf("i%07d", i/100), fmt.Sprintf("c%07d", i), int64(1), "USD", "1234.5", "10234.56",
			"8187.65", "123.45", "250.00", "1000.00"}
	}
	t := time.Now()
	if db.Engine() == store.Postgres {
		conn, err := x.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			pc := dc.(*stdlib.Conn).Conn()
			i := 0
			_, err := pc.CopyFrom(ctx, pgx.Identifier{"bench_raw_estimates"},
				[]string{"incident_id", "customer_id", "revision", "currency_code", "impact_seconds", "lost_revenue_gross",
					"lost_revenue_net", "recovery_cost", "sla_credits", "churn_exposure"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == n {
						return nil, nil
					}
					i++
					return row(i - 1), nil
				}))
			return err
		})
		return time.Since(t), err
	}
	for lo := 0; lo < n; lo += 10000 {
		tx, err := x.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO bench_raw_estimates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for i := lo; i < min(lo+10000, n); i++ {
			if _, err := st.ExecContext(ctx, row(i)...); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(t), nil
}
