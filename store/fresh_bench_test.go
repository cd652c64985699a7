package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// The cost of freshness at scale (README "Fresh figures"): with
// IMPACT_BENCH_ESTIMATES stored estimates (default 100,000; the README's
// figures are for 1,000,000), each of one customer, ten estimates per
// customer, rows inserted directly. Each benchmark has a baseline sub-
// benchmark without the freshness part, so that the report is a ratio:
//
//	IMPACT_BENCH_ESTIMATES=1000000 go test ./store -run '^$' -bench Fresh -benchtime 2000x
//	(IMPACT_BENCH_ENGINE=postgres for PostgreSQL)

const freshPerCustomer = 10

func seedFresh(b *testing.B, db *store.DB, n int) {
	b.Helper()
	ctx := context.Background()
	pg := db.Engine() == store.Postgres
	at := func(t time.Time) any {
		if pg {
			return t
		}
		return t.UnixMicro()
	}
	now := at(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	insert := func(table, cols string, rows int, row func(i int) []any) {
		ncol := strings.Count(cols, ",") + 1
		per := 30000 / ncol
		for lo := 0; lo < rows; lo += per {
			hi := min(lo+per, rows)
			var sb strings.Builder
			sb.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
			args := make([]any, 0, (hi-lo)*ncol)
			tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncol), ", ") + ")"
			for i := lo; i < hi; i++ {
				if i > lo {
					sb.WriteString(", ")
				}
				sb.WriteString(tuple)
				args = append(args, row(i)...)
			}
			if _, err := db.SQL().ExecContext(ctx, db.SQL().Rebind(sb.String()), args...); err != nil {
				b.Fatal(err)
			}
		}
	}
	nc := n / freshPerCustomer
	insert("customers", "id, display_name, currency_code, time_zone, hourly_amount, baseline, revision, create_time, update_time", nc+1000,
		func(i int) []any {
			return []any{fmt.Sprintf("c%07d", i), "C", "USD", "UTC", "100", "{}", 1, now, now}
		})
	insert("incidents", "id, title, cause, recovery_currency, allocation, recovery_items, revision, create_time, update_time", n,
		func(i int) []any { return []any{fmt.Sprintf("i%07d", i), "t", 1, "", 1, "[]", 1, now, now} })
	start := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	win := func(i int) (time.Time, time.Time) {
		s := start.Add(time.Duration(i%freshPerCustomer) * 24 * time.Hour)
		return s, s.Add(time.Hour)
	}
	insert("windows", "incident_id, id, customer_id, service, start_time, end_time, create_time", n, func(i int) []any {
		s, e := win(i)
		return []any{fmt.Sprintf("i%07d", i), "w", fmt.Sprintf("c%07d", i/freshPerCustomer), "api", at(s), at(e), now}
	})
	insert("incident_estimates", "incident_id, revision, model_version, inputs_digest, compute_time, body", n, func(i int) []any {
		return []any{fmt.Sprintf("i%07d", i), 1, "m", "d", now, `{"IncidentID":"x"}`}
	})
	insert("estimate_heads", "incident_id, read_seq", n, func(i int) []any { return []any{fmt.Sprintf("i%07d", i), 1} })
	insert("estimate_dep_customers", "incident_id, customer_id, range_from, range_to, rec_hash, cur_hash, win_rec, win_cur", n,
		func(i int) []any {
			return []any{fmt.Sprintf("i%07d", i), fmt.Sprintf("c%07d", i/freshPerCustomer), at(start), at(start.AddDate(0, 1, 0)), 1, 1, 2, 2}
		})
	if pg {
		db.SQL().ExecContext(ctx, `ANALYZE`)
	}
}

func BenchmarkFresh(b *testing.B) {
	db := benchDB(b)
	n := envInt("IMPACT_BENCH_ESTIMATES", 100000)
	t := time.Now()
	seedFresh(b, db, n)
	b.Logf("%s: %d estimates seeded in %v", db.Engine(), n, time.Since(t))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	nc := n / freshPerCustomer
	b.Run("read/plain", func(b *testing.B) {
		// The row alone: what GetEstimate read before freshness.
		q := db.SQL().Rebind(`SELECT incident_id, revision, model_version, inputs_digest, compute_time, body, reporting_currency,
			fx_rates, source, actor FROM incident_estimates WHERE incident_id = ? ORDER BY revision DESC LIMIT 1`)
		for b.Loop() {
			rows, err := db.SQL().QueryContext(ctx, q, fmt.Sprintf("i%07d", rng.IntN(n)))
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
	b.Run("read/freshness", func(b *testing.B) {
		// The part of GetEstimate that freshness adds for a CURRENT
		// estimate: one head lookup.
		q := db.SQL().Rebind(`SELECT last_mark IS NOT NULL AS stale, failure FROM estimate_heads WHERE incident_id = ?`)
		for b.Loop() {
			rows, err := db.SQL().QueryContext(ctx, q, fmt.Sprintf("i%07d", rng.IntN(n)))
			if err != nil {
				b.Fatal(err)
			}
			for rows.Next() {
			}
			rows.Close()
		}
	})
	b.Run("read/GetEstimate", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.GetEstimate(ctx, fmt.Sprintf("i%07d", rng.IntN(n)), 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	amount := 100
	update := func(b *testing.B, id string) {
		amount++
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: id, Baseline: impact.Baseline{HourlyAmount: fmt.Sprint(amount)}},
			impact.FieldMask{"baseline.hourly_amount"}, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("write/customer-no-estimates", func(b *testing.B) {
		for b.Loop() {
			update(b, fmt.Sprintf("c%07d", nc+rng.IntN(1000)))
		}
	})
	b.Run("write/customer-10-estimates", func(b *testing.B) {
		for b.Loop() {
			update(b, fmt.Sprintf("c%07d", rng.IntN(nc)))
		}
	})
	k := 0
	window := func(b *testing.B, customer string) {
		k++
		s := start2025.Add(time.Duration(k%500) * time.Hour)
		if _, err := db.BatchCreateWindows(ctx, fmt.Sprintf("i%07d", rng.IntN(n)), []impact.StoredWindow{{ID: fmt.Sprintf("b%d", k),
			OutageWindow: impact.OutageWindow{CustomerID: customer, Service: "api", Start: s, End: s.Add(time.Minute)}}}, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("write/window-no-estimates", func(b *testing.B) {
		for b.Loop() {
			window(b, fmt.Sprintf("c%07d", nc+rng.IntN(1000)))
		}
	})
	b.Run("write/window-10-estimates", func(b *testing.B) {
		for b.Loop() {
			window(b, fmt.Sprintf("c%07d", rng.IntN(nc)))
		}
	})
}

var start2025 = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
