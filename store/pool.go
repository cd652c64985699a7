package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// DefaultMaxConns is the database connections a DB opens at most unless
// told otherwise (SetPool): well under PostgreSQL's default max_connections
// of 100, so several replicas and impactctl fit beside each other.
const DefaultMaxConns = 20

// DefaultConnWait is the longest a statement waits for a free connection.
const DefaultConnWait = 5 * time.Second

// pool is the connection pool with bounded waits: with every connection in
// use, a statement waits for one at most wait (and never past its call's
// deadline), then fails EUNAVAILABLE, which clients retry, rather than
// queueing without end. Only the statements of the store go through it;
// its *sqlx.DB is the plain pool.
type pool struct {
	*sqlx.DB
	max  int
	wait time.Duration
}

// SetPool bounds the pool of d to maxConns open connections, a statement
// waiting at most wait for one. Open sets DefaultMaxConns and
// DefaultConnWait.
func (d *DB) SetPool(maxConns int, wait time.Duration) {
	d.db.max, d.db.wait = maxConns, wait
	d.db.SetMaxOpenConns(maxConns)
	d.db.SetMaxIdleConns(min(maxIdleConns, maxConns))
}

// conn takes a connection of the pool for one statement or transaction.
func (p *pool) conn(ctx context.Context) (*sqlx.Conn, error) {
	wctx, cancel := context.WithTimeout(ctx, p.wait)
	defer cancel()
	c, err := p.DB.Connx(wctx)
	if err != nil {
		if ctx.Err() == nil && wctx.Err() != nil {
			return nil, impact.Errorf(impact.EUNAVAILABLE, "all %d database connections are busy, retry", p.max)
		}
		return nil, err
	}
	return c, nil
}

func (p *pool) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	c, err := p.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.GetContext(ctx, dest, query, args...)
}

func (p *pool) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	c, err := p.conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.SelectContext(ctx, dest, query, args...)
}

func (p *pool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ExecContext(ctx, query, args...)
}

// begin starts a transaction on a connection of its own; done gives the
// connection back once the transaction is over.
func (p *pool) begin(ctx context.Context) (tx *sqlx.Tx, done func(), err error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, func() {}, err
	}
	tx, err = c.BeginTxx(ctx, nil)
	if err != nil {
		c.Close()
		return nil, func() {}, err
	}
	return tx, func() { c.Close() }, nil
}

// pgOverloaded reports a PostgreSQL error of class 53, insufficient
// resources: too many connections (53300, when replicas together exceed
// max_connections), out of memory or disk. The statement may succeed
// later, so it is UNAVAILABLE, not INTERNAL.
func pgOverloaded(pe *pgconn.PgError) bool {
	return len(pe.Code) == 5 && pe.Code[:2] == "53"
}

// createPrivate creates the SQLite file at path, unless it exists, readable
// and writable by its owner only (0600): it holds every customer's revenue
// and contracts. SQLite gives the -wal and -shm files the mode of the
// database file, so they are private too. An existing file keeps its mode.
func createPrivate(path string) error {
	if path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	return f.Close()
}
