package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/impact-svc/impact/store"
)

// Every store test runs against both engines with the same code: a fresh
// SQLite file per test, and — when IMPACT_TEST_POSTGRES_DSN is set — a
// PostgreSQL database cloned per test from a template migrated once
// (CREATE DATABASE … TEMPLATE), dropped in t.Cleanup.

const pgEnv = "IMPACT_TEST_POSTGRES_DSN"

// t0 is the fixed clock of the tests, with microseconds to check that
// both engines keep them.
var t0 = time.Date(2025, 7, 1, 12, 0, 0, 123456000, time.UTC)

type tb interface {
	testing.TB
}

func eachEngine(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		if os.Getenv(pgEnv) == "" {
			t.Skip(pgEnv + " is not set")
		}
		fn(t, openPostgres(t))
	})
}

func openSQLite(t tb) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "impact.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return t0 })
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// withDB returns dsn with its database replaced by name.
func withDB(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// migrationsHash names the template after the migrations it holds, so a
// changed migration gets a fresh template instead of a stale one.
func migrationsHash() (string, error) {
	files, err := filepath.Glob("migrations/postgres/*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:6]), nil
}

func ensureTemplate(admin *sql.DB, dsn string) (string, error) {
	hash, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "impact_tmpl_" + hash
	ctx := context.Background()
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	// Test binaries of several packages may start at once.
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7243022)`); err != nil {
		return "", err
	}
	defer conn.ExecContext(ctx, `SELECT pg_advisory_unlock(7243022)`)
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
		return "", err
	}
	if n == 1 {
		return name, nil
	}
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	db, err := store.Open(ctx, withDB(dsn, name))
	if err != nil {
		conn.ExecContext(ctx, `DROP DATABASE `+name)
		return "", err
	}
	// No connection may stay open on a template while it is cloned.
	return name, db.Close()
}

func openPostgres(t tb) *store.DB {
	t.Helper()
	dsn := os.Getenv(pgEnv)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(admin, dsn) })
	if templateErr != nil {
		t.Fatalf("template database: %v", templateErr)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "impact_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(`CREATE DATABASE ` + name + ` TEMPLATE ` + templateName); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), withDB(dsn, name))
	if err != nil {
		t.Fatal(err)
	}
	db.SetClock(func() time.Time { return t0 })
	t.Cleanup(func() {
		db.Close()
		a, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer a.Close()
		if _, err := a.Exec(`DROP DATABASE ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return db
}

// count returns the rows of table matching where.
func count(t tb, db *store.DB, table, where string, args ...any) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM ` + table
	if where != "" {
		q += ` WHERE ` + where
	}
	var n int
	if err := db.SQL().Get(&n, db.SQL().Rebind(q), args...); err != nil {
		t.Fatal(err)
	}
	return n
}
