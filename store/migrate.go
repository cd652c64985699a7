package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Migrations are embedded, one set per engine because the column types
// differ (TEXT/INTEGER in SQLite, NUMERIC/TIMESTAMPTZ/JSONB in PostgreSQL).
// Files are NNNN_name.sql, applied in order, each in its own transaction
// together with its row in schema_migrations.
//
// Why not pressly/goose: it would work with both drivers, but its version
// table and global dialect state buy nothing over these forty lines for
// forward-only embedded SQL, and it would add its dependency tree to a
// go.mod shared by the whole service.
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations(engine Engine) ([]migration, error) {
	dir := "migrations/" + string(engine)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("store: migration %s: name must start with a number", e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{v, e.Name(), string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

const (
	createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL)`
	// Several impactd processes may start at once on one PostgreSQL
	// database: the first takes this lock, the others wait and then find
	// the migrations applied. SQLite's BEGIN IMMEDIATE serialises already.
	lockMigrationsPostgres = `SELECT pg_advisory_xact_lock(7243021)`
)

func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations(d.engine)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if _, err := d.db.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	for _, m := range ms {
		err := d.inTx(ctx, func(tx *sqlx.Tx) error {
			if d.engine == Postgres {
				if _, err := tx.ExecContext(ctx, lockMigrationsPostgres); err != nil {
					return err
				}
			}
			var n int
			if err := tx.GetContext(ctx, &n, d.q(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), m.version); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`), m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.name, err)
		}
	}
	return nil
}
