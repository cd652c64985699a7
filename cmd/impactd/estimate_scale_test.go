package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// BenchmarkStoredEstimate10k measures :estimate of one incident affecting
// 10,000 customers (each with a weekly profile and a contract, one 2-hour
// window each) from stored data, on each engine: load the affected customers
// and every window of their billing periods in batches, run the engine, store
// the estimate revision and its statements. Run it with -benchtime 3x; the
// seeding outside the timed loop takes a while.
//
//	IMPACT_TEST_POSTGRES_DSN=postgres://root@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./cmd/impactd -run '^$' -bench StoredEstimate10k -benchtime 3x
func BenchmarkStoredEstimate10k(b *testing.B) {
	engines := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "impact.db") },
		"postgres": func(b *testing.B) string {
			dsn := os.Getenv("IMPACT_TEST_POSTGRES_DSN")
			if dsn == "" {
				b.Skip("IMPACT_TEST_POSTGRES_DSN is not set")
			}
			return freshPostgres(b, dsn)
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, engines[name](b))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			seedBigIncident(b, ctx, db, 10000)
			svc := server.NewStored(slog.New(slog.NewTextHandler(io.Discard, nil)), db)
			b.ResetTimer()
			for b.Loop() {
				est, err := svc.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: "incidents/big"})
				if err != nil {
					b.Fatal(err)
				}
				if n := len(est.GetCustomers()); n != 10000 {
					b.Fatalf("estimate has %d customers, want 10000", n)
				}
			}
		})
	}
}

func seedBigIncident(b *testing.B, ctx context.Context, db *store.DB, n int) {
	profile := make([]string, 168)
	for i := range profile {
		profile[i] = fmt.Sprintf("%d.%02d", 100+i, i%100)
	}
	start := time.Date(2025, 7, 14, 9, 0, 0, 0, time.UTC)
	if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "big", Cause: impact.SoftwareDefect}, ""); err != nil {
		b.Fatal(err)
	}
	var windows []impact.StoredWindow
	for i := range n {
		id := fmt.Sprintf("c%05d", i)
		c := &impact.Customer{ID: id, Currency: "USD", TimeZone: "Europe/Berlin", Baseline: impact.Baseline{WeeklyProfile: profile}}
		if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
			b.Fatal(err)
		}
		k := &impact.Contract{Service: "api", MonthlyFee: "1000", Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}}
		if _, err := db.CreateContract(ctx, id, k, ""); err != nil {
			b.Fatal(err)
		}
		windows = append(windows, impact.StoredWindow{OutageWindow: impact.OutageWindow{
			CustomerID: id, Service: "api", Start: start, End: start.Add(2 * time.Hour)}})
	}
	for i := 0; i < len(windows); i += 10000 {
		if _, err := db.BatchCreateWindows(ctx, "big", windows[i:min(i+10000, len(windows))], ""); err != nil {
			b.Fatal(err)
		}
	}
}
