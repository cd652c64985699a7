package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// seedWindows stores n windows under incident id, spread over customers
// c0000…, in batches of MaxBatchWindows through the public API.
func seedWindows(t testing.TB, db *store.DB, incident string, n, customers int) time.Duration {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < customers; i++ {
		if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: fmt.Sprintf("c%04d", i), Currency: "USD"}, ""); err != nil && impact.ErrorCode(err) != impact.ECONFLICT {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateIncident(ctx, &impact.Incident{ID: incident}, ""); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	base := ts("2025-01-01T00:00:00Z")
	for lo := 0; lo < n; lo += impact.MaxBatchWindows {
		batch := make([]impact.StoredWindow, min(impact.MaxBatchWindows, n-lo))
		for i := range batch {
			k := lo + i
			batch[i] = impact.StoredWindow{ID: fmt.Sprintf("w%08d", k), OutageWindow: impact.OutageWindow{
				CustomerID: fmt.Sprintf("c%04d", k%customers), Service: "api",
				Start: base.Add(time.Duration(k) * time.Minute), End: base.Add(time.Duration(k)*time.Minute + 30*time.Second),
			}}
		}
		if _, err := db.BatchCreateWindows(ctx, incident, batch, ""); err != nil {
			t.Fatal(err)
		}
	}
	return time.Since(start)
}

// TestListWindowsIsKeyset checks, on each engine's own plan, that a page
// of windows is an index range scan in key order — no OFFSET, no sort of
// the incident's windows — and that walking the pages returns every
// window exactly once.
func TestListWindowsIsKeyset(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 5000
		seedWindows(t, db, "i1", n, 10)
		if db.Engine() == store.Postgres {
			if _, err := db.SQL().Exec(`ANALYZE windows`); err != nil {
				t.Fatal(err)
			}
		}
		for _, filtered := range []bool{false, true} {
			q := db.ListWindowsSQL(filtered, true)
			if strings.Contains(strings.ToUpper(q), "OFFSET") {
				t.Errorf("page query uses OFFSET: %s", q)
			}
			args := []any{"i1"}
			if filtered {
				args = append(args, "c0003")
			}
			args = append(args, "w00004000", 51)
			plan := explain(t, db, q, args...)
			t.Logf("filtered=%v plan:\n%s", filtered, plan)
			if filtered && !strings.Contains(plan, "windows_incident_customer") {
				t.Errorf("filtered page does not use the (incident, customer, id) index:\n%s", plan)
			}
			switch db.Engine() {
			case store.SQLite:
				if !strings.Contains(plan, "SEARCH windows USING") || !strings.Contains(plan, "id>?") || strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("filtered=%v: plan is not a keyset index range:\n%s", filtered, plan)
				}
			case store.Postgres:
				if !strings.Contains(plan, "Index") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Seq Scan") {
					t.Errorf("filtered=%v: plan is not a keyset index range:\n%s", filtered, plan)
				}
			}
		}
		seen := 0
		last := ""
		p := impact.PageRequest{Size: 1000}
		for pages := 0; ; pages++ {
			page, err := db.ListWindows(ctx, "i1", impact.WindowFilter{}, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range page.Items {
				if w.ID <= last {
					t.Fatalf("window %s after %s", w.ID, last)
				}
				last = w.ID
				seen++
			}
			if page.NextPageToken == "" {
				break
			}
			p.Token = page.NextPageToken
		}
		if seen != n {
			t.Errorf("walked %d windows, want %d", seen, n)
		}
	})
}

func explain(t *testing.T, db *store.DB, q string, args ...any) string {
	t.Helper()
	prefix := "EXPLAIN QUERY PLAN "
	if db.Engine() == store.Postgres {
		prefix = "EXPLAIN "
	}
	rows, err := db.SQL().Query(prefix+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(&b, vals[len(vals)-1])
	}
	return b.String()
}

// benchDB opens the engine named by IMPACT_BENCH_ENGINE (sqlite, the
// default, or postgres).
func benchDB(b *testing.B) *store.DB {
	if os.Getenv("IMPACT_BENCH_ENGINE") == "postgres" {
		if os.Getenv(pgEnv) == "" {
			b.Skip(pgEnv + " is not set")
		}
		return openPostgres(b)
	}
	return openSQLite(b)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkBatchCreateWindows stores batches of 10,000 windows.
func BenchmarkBatchCreateWindows(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		db.CreateCustomer(ctx, &impact.Customer{ID: fmt.Sprintf("c%04d", i), Currency: "USD"}, "")
	}
	n := 0
	for b.Loop() {
		n++
		inc := fmt.Sprintf("i%d", n)
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: inc}, ""); err != nil {
			b.Fatal(err)
		}
		ws := make([]impact.StoredWindow, impact.MaxBatchWindows)
		base := ts("2025-01-01T00:00:00Z")
		for i := range ws {
			ws[i].OutageWindow = impact.OutageWindow{CustomerID: fmt.Sprintf("c%04d", i%100), Service: "api",
				Start: base.Add(time.Duration(i) * time.Minute), End: base.Add(time.Duration(i)*time.Minute + time.Second)}
		}
		if _, err := db.BatchCreateWindows(ctx, inc, ws, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListWindows lists pages of 1,000 at the start and near the end
// of an incident with IMPACT_BENCH_WINDOWS windows (default 1,000,000):
// with keyset paging both cost the same.
//
//	go test ./store -run '^$' -bench ListWindows -benchtime 200x
func BenchmarkListWindows(b *testing.B) {
	db := benchDB(b)
	n := envInt("IMPACT_BENCH_WINDOWS", 1000000)
	took := seedWindows(b, db, "big", n, 1000)
	b.Logf("%s: stored %d windows in %v (%.0f windows/s)", db.Engine(), n, took, float64(n)/took.Seconds())
	if db.Engine() == store.Postgres {
		db.SQL().Exec(`ANALYZE windows`)
	}
	ctx := context.Background()
	// Walk every page once to reach the last one.
	p := impact.PageRequest{Size: 1000}
	var deep string
	start := time.Now()
	pages := 0
	for {
		page, err := db.ListWindows(ctx, "big", impact.WindowFilter{}, p)
		if err != nil {
			b.Fatal(err)
		}
		pages++
		if page.NextPageToken == "" {
			break
		}
		deep, p.Token = p.Token, page.NextPageToken
	}
	b.Logf("walked %d pages in %v", pages, time.Since(start))
	for _, bc := range []struct{ name, token string }{{"first", ""}, {"deep", deep}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				page, err := db.ListWindows(ctx, "big", impact.WindowFilter{}, impact.PageRequest{Size: 1000, Token: bc.token})
				if err != nil || len(page.Items) == 0 {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestWindowsInRangesUsesTheIndex checks, on each engine's own plan for a
// full batch of 1,000 ranges, that every range is an index range on
// (customer_id, start_time): PostgreSQL otherwise prefers a hash join over
// a scan of every window, which on a million windows made a recompute
// several times slower.
func TestWindowsInRangesUsesTheIndex(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedWindows(t, db, "i1", 20000, 2000)
		if db.Engine() == store.Postgres {
			if _, err := db.SQL().Exec(`ANALYZE windows`); err != nil {
				t.Fatal(err)
			}
		}
		from := ts("2025-01-01T00:00:00Z")
		var args []any
		for i := 0; i < impact.MaxPageSize; i++ {
			args = append(args, fmt.Sprintf("c%04d", i), from, from.Add(24*time.Hour))
			if db.Engine() == store.SQLite {
				args[len(args)-2], args[len(args)-1] = from.UnixMicro(), from.Add(24*time.Hour).UnixMicro()
			}
		}
		plan := explain(t, db, db.WindowsInRangesSQL(impact.MaxPageSize), args...)
		if !strings.Contains(plan, "windows_customer_start") || strings.Contains(plan, "Seq Scan on windows") || strings.Contains(plan, "SCAN windows") {
			t.Errorf("WindowsInRanges does not take one index range per customer:\n%s", plan)
		}
		// And it returns what it should: c0000's windows of the first day.
		ws, err := db.WindowsInRanges(context.Background(), []impact.CustomerRange{{CustomerID: "c0000", From: from, To: from.Add(24 * time.Hour)}})
		if err != nil || len(ws) == 0 {
			t.Fatalf("%d windows, %v", len(ws), err)
		}
		for _, w := range ws {
			if w.CustomerID != "c0000" || w.Start.After(from.Add(24*time.Hour)) || w.End.Before(from) {
				t.Errorf("window out of range: %+v", w)
			}
		}
	})
}

// TestClaimLookupProbesThePrimaryKey checks, on each engine's plan for a
// batch of 500 ids among 20,000 recorded ids of their method (never
// analyzed, as during an import; on PostgreSQL with plan_cache_mode
// force_generic_plan, the plan pgx's prepared statements come to), that the bulk writes' request-id lookup is one
// primary-key probe per id. An IN list of parameters was planned on
// PostgreSQL as a scan of every id of the method filtered by the list, so
// that each batch of an import took longer than the one before.
func TestClaimLookupProbesThePrimaryKey(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var at any = t0.UnixMicro()
		if db.Engine() == store.Postgres {
			at = t0
		}
		if _, err := db.SQL().ExecContext(ctx, db.SQL().Rebind(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
			INSERT INTO request_ids (method, request_id, result, create_time, digest)
			SELECT 'CreateCustomer', 'req-' || i, 'customers/c', ?, '' FROM n`), at); err != nil {
			t.Fatal(err)
		}
		ids := make([]string, 500)
		for i := range ids {
			ids[i] = fmt.Sprintf("req-%d", 1+i*40)
		}
		q := db.ClaimLookupSQL(len(ids))
		args := []any{"CreateCustomer"}
		for _, id := range ids {
			args = append(args, id)
		}
		conn, err := db.SQL().Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		prefix := "EXPLAIN QUERY PLAN "
		if db.Engine() == store.Postgres {
			prefix, args = "EXPLAIN ", []any{ids, "CreateCustomer"}
			if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := conn.QueryContext(ctx, prefix+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan strings.Builder
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&plan, vals[len(vals)-1])
		}
		rows.Close()
		p := plan.String()
		var probes bool
		if db.Engine() == store.Postgres {
			probes = strings.Contains(p, "Nested Loop") && strings.Contains(p, "Index Scan using request_ids_pkey") && strings.Contains(p, "AND (request_id = u.id))") && !strings.Contains(p, "Filter")
		} else {
			probes = strings.Contains(p, "USING PRIMARY KEY (method=? AND request_id=?)") || strings.Contains(p, "USING INDEX sqlite_autoindex_request_ids_1 (method=? AND request_id=?)")
		}
		if !probes {
			t.Errorf("the request-id lookup of a batch is not one primary-key probe per id:\n%s", p)
		}
		// And it finds what it should.
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+q+`) x`, args...).Scan(&n); err != nil || n != len(ids) {
			t.Errorf("%d of %d recorded ids found, %v", n, len(ids), err)
		}
	})
}
