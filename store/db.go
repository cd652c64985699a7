// Package store keeps the stored resources of impact (customers, contracts,
// incidents, outage windows, estimates, statements) in SQLite or PostgreSQL.
// It implements impact.Store.
//
// Both engines run the same Go code: shared row structs and mapping, SQL
// written once with "?" placeholders (rebound to $n for PostgreSQL) where
// the engines agree, and engine-specific SQL as constants next to the code
// that runs it where they do not. Database errors are translated into
// *impact.Error in one place (translate).
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/impact-svc/impact/impact"
)

func init() {
	// sqlx knows the bind type of "sqlite3" but not of modernc's "sqlite";
	// declare it rather than rely on the unknown-driver fallback.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// Engine names a database engine.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// DB is an open impact database. It is safe for concurrent use.
type DB struct {
	db     *pool
	engine Engine
	// now is the clock of create/update/audit times; tests may replace it.
	now func() time.Time
	// writers queues this process's SQLite writers, one transaction at a
	// time. Without it each waits in SQLite's busy handler, which polls
	// rather than queues: under a steady stream of writes an unlucky writer
	// can lose for the whole busy timeout and fail (scripts/soak.sh saw
	// 503 "database busy" after 11 s). SQLite has one writer anyway; the
	// busy timeout still covers other processes on the same file. nil on
	// PostgreSQL, whose row locks queue writers themselves.
	writers chan struct{}
	// ledgerLoc is the zone of accounting periods (SetLedgerZone); nil is UTC.
	ledgerLoc *time.Location
}

var _ impact.Store = (*DB)(nil)

// Open opens the database named by dsn and applies pending migrations:
// "sqlite:PATH" (a file, created if missing) or a "postgres://" (or
// "postgresql://") URL.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		db     *sqlx.DB
		engine Engine
		err    error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		engine = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, fmt.Errorf("store: empty sqlite path in %q", dsn)
		}
		if err := createPrivate(path); err != nil {
			return nil, err
		}
		db, err = sqlx.Open("sqlite", sqliteDSN(path))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		engine = Postgres
		db, err = openPostgres(dsn)
	default:
		return nil, fmt.Errorf("store: database %q is neither sqlite:PATH nor a postgres:// URL", redact(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	// database/sql keeps 2 idle connections by default: under more
	// concurrent callers (impactd's calls, a recompute's workers, its lease
	// renewals) every extra one is closed after use and reopened for the
	// next, a new PostgreSQL backend each time (several ms) or a fresh
	// SQLite handle with its pragmas. Keep enough idle, and let them go
	// after a quiet spell.
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{db: &pool{DB: db}, engine: engine, now: time.Now}
	d.SetPool(DefaultMaxConns, DefaultConnWait)
	if engine == SQLite {
		d.writers = make(chan struct{}, 1)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if err := d.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// openPostgres opens a pgx pool with JIT compilation off unless the URL
// sets it: every query here is short and index-driven, and PostgreSQL's JIT,
// which starts above a plan cost that a 1,000-range WindowsInRanges plan
// passes, costs several times the query itself (6.8 ms without, 60 ms with,
// on 100,000 windows).
func openPostgres(dsn string) (*sqlx.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", redact(dsn), err)
	}
	if _, ok := cfg.RuntimeParams["jit"]; !ok {
		cfg.RuntimeParams["jit"] = "off"
	}
	return sqlx.NewDb(stdlib.OpenDB(*cfg), "pgx"), nil
}

// maxIdleConns is the pool's idle connections kept for reuse.
const maxIdleConns = 32

// sqliteDSN sets, on every connection of the pool: WAL so that readers do
// not block the writer; foreign keys, which SQLite leaves off by default;
// a busy timeout so that concurrent writers wait instead of failing; and
// BEGIN IMMEDIATE for transactions, because a deferred transaction that
// reads and then writes cannot wait out a busy lock and fails at once.
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// redact drops a password from a URL before it reaches an error message.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxx")
			return u.String()
		}
	}
	return dsn
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Engine returns the engine of d.
func (d *DB) Engine() Engine { return d.engine }

// SQL returns the underlying handle, for tests and operator tools.
func (d *DB) SQL() *sqlx.DB { return d.db.DB }

// SetClock replaces the clock of create, update, compute and audit times.
func (d *DB) SetClock(now func() time.Time) { d.now = now }

// q rebinds a query written with "?" to the engine's placeholders.
func (d *DB) q(query string) string { return d.db.Rebind(query) }

// pick returns the SQL of the engine of d.
func (d *DB) pick(sqliteSQL, postgresSQL string) string {
	if d.engine == Postgres {
		return d.db.Rebind(postgresSQL)
	}
	return sqliteSQL
}

// ts is the argument for an instant column: unix microseconds in SQLite
// (INTEGER, so ranges compare as numbers), a UTC time in PostgreSQL
// (TIMESTAMPTZ). Both keep microseconds, so both engines read back the same.
func (d *DB) ts(t time.Time) any {
	if d.engine == Postgres {
		return t.UTC().Truncate(time.Microsecond)
	}
	return t.UnixMicro()
}

// instant scans an instant column of either engine.
type instant struct{ time.Time }

func (t *instant) Scan(v any) error {
	switch x := v.(type) {
	case int64:
		t.Time = time.UnixMicro(x).UTC()
	case time.Time:
		t.Time = x.UTC()
	default:
		return fmt.Errorf("store: cannot scan %T into an instant", v)
	}
	return nil
}

// inTx runs fn in one transaction and commits once; any error rolls it
// all back. The error of fn is returned translated.
func (d *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if d.writers != nil {
		select {
		case d.writers <- struct{}{}:
			defer func() { <-d.writers }()
		case <-ctx.Done():
			return impact.Errorf(impact.EUNAVAILABLE, "database busy, retry").WithReason(impact.ReasonDatabaseBusy)
		}
	}
	tx, done, err := d.db.begin(ctx)
	if err != nil {
		return translate(err)
	}
	defer done()
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return translate(err)
	}
	return translate(tx.Commit())
}

// audit writes the audit row of a mutation: before is the resource's row
// as rowJSON read it before the write ("" for a create), after names the
// row(s) to read now (nil for a delete). See audit.go.
func (d *DB) audit(ctx context.Context, tx *sqlx.Tx, now time.Time, action, resource, detail, before string, after *rowRef) error {
	afterJSON, err := d.rowJSON(ctx, tx, after)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, d.q(`INSERT INTO audit_log (actor, action, resource, detail, time, before_value, after_value)
		VALUES (?, ?, ?, ?, ?, ?, ?)`),
		impact.ActorFrom(ctx), action, resource, detail, d.ts(now), before, afterJSON)
	return err
}

// Idempotency of Create (AIP-155). The request id row is inserted first in
// the Create's own transaction: a concurrent retry blocks on its key until
// the first commits (PostgreSQL) or waits for the write lock (SQLite), then
// finds it and returns the first result. Nothing else is written twice.

// claimRequest records requestID for method with result, bound to the
// request by digest (requestDigest). It returns the result recorded by an
// earlier call of the same request, or "" when this call is the first; a
// request id used before by a different request (another method, parent,
// body or caller) is ECONFLICT. A row from before digests were recorded
// (digest "") matches any request of its method, as it always did.
func (d *DB) claimRequest(ctx context.Context, tx *sqlx.Tx, method, requestID, result, digest string, now time.Time) (string, error) {
	if requestID == "" {
		return "", nil
	}
	if msg := impact.CheckRequestID(requestID); msg != "" {
		return "", invalid("request_id", msg)
	}
	reused := impact.Errorf(impact.ECONFLICT, "request id %q was already used by a different request (another method, parent, body or caller); use a new request id", requestID)
	res, err := tx.ExecContext(ctx, d.q(`INSERT INTO request_ids (method, request_id, result, create_time, digest) VALUES (?, ?, ?, ?, ?) ON CONFLICT (method, request_id) DO NOTHING`),
		method, requestID, result, d.ts(now), digest)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", err
	} else if n == 1 {
		var other int
		if err := tx.GetContext(ctx, &other, d.q(`SELECT COUNT(*) FROM request_ids WHERE request_id = ? AND method <> ?`), requestID, method); err != nil {
			return "", err
		}
		if other > 0 {
			return "", reused
		}
		return "", nil
	}
	var first struct {
		Result string `db:"result"`
		Digest string `db:"digest"`
	}
	if err := tx.GetContext(ctx, &first, d.q(`SELECT result, digest FROM request_ids WHERE method = ? AND request_id = ?`), method, requestID); err != nil {
		return "", err
	}
	if first.Digest != "" && first.Digest != digest {
		return "", reused
	}
	return first.Result, nil
}

// requestDigest is what binds a request id to its request: a SHA-256 of
// the method, the parent, the caller and the request's body as the store
// received it (its JSON encoding: struct fields in a fixed order).
func requestDigest(ctx context.Context, method, parent string, body any) (string, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", method, parent, impact.ActorFrom(ctx))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errRetried ends a Create's transaction without writing when its request id
// was seen before; the caller then reads and returns the first result.
type errRetried struct{ result string }

func (e *errRetried) Error() string { return "request already handled" }

// translate turns database errors into *impact.Error once, at the store
// boundary. Callers that know the resource name give a better message for
// "no rows" themselves (notFound); errors it does not know stay internal.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var ie *impact.Error
	var re *errRetried
	if errors.As(err, &ie) || errors.As(err, &re) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return impact.Errorf(impact.ENOTFOUND, "not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return impact.Errorf(impact.ECONFLICT, "already exists")
		case "23503": // foreign_key_violation
			return impact.Errorf(impact.EFAILEDPRECOND, "a referenced resource does not exist or is still referenced").WithReason(impact.ReasonReference)
		case "40001", "40P01": // serialization failure, deadlock
			return impact.Errorf(impact.EABORTED, "concurrent update, retry").WithReason(impact.ReasonConcurrentUpdate)
		}
		if pgOverloaded(pe) {
			return impact.Errorf(impact.EUNAVAILABLE, "database busy, retry")
		}
		if connLost(err) {
			return unavailable()
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return impact.Errorf(impact.ECONFLICT, "already exists")
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return impact.Errorf(impact.EFAILEDPRECOND, "a referenced resource does not exist or is still referenced").WithReason(impact.ReasonReference)
		case sqlite3.SQLITE_BUSY:
			return impact.Errorf(impact.EUNAVAILABLE, "database busy, retry").WithReason(impact.ReasonDatabaseBusy)
		}
		if err := sqliteUnwritable(se); err != nil {
			return err
		}
	}
	if connLost(err) {
		return unavailable()
	}
	return err
}

// notFound is the ENOTFOUND of a named resource.
func notFound(name string) error {
	return impact.Errorf(impact.ENOTFOUND, "%s not found", name)
}

// noRows maps sql.ErrNoRows to notFound(name) and leaves other errors.
func noRows(err error, name string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(name)
	}
	return err
}

// checkID rejects ids that cannot be one segment of a resource name.
func checkID(field, id string) error {
	if id == "" {
		return invalid(field, "must not be empty")
	}
	if strings.ContainsAny(id, "/") || len(id) > 256 {
		return invalid(field, "must be at most 256 bytes and contain no \"/\"")
	}
	if msg := impact.CheckText(id, false); msg != "" {
		return invalid(field, msg)
	}
	return nil
}

// checkNewID is checkID for the id of a resource being created: the
// syntax of impact.CheckResourceID. Existing ids that predate it (spaces,
// longer ones) are still read, updated and deleted through checkID.
func checkNewID(field, id string) error {
	if msg := impact.CheckResourceID(id); msg != "" {
		return invalid(field, msg)
	}
	return nil
}

func invalid(field, desc string) error {
	return &impact.Error{Code: impact.EINVALID, Message: "invalid argument",
		Violations: []impact.FieldViolation{{Field: field, Description: desc}}}
}

// etag is opaque (doc.go, "Etags"): the first 8 bytes of a SHA-256 of the
// resource name, its create time (µs) and its revision, hex, quoted. Every
// update bumps the revision; a resource deleted and created again has a
// new create time: so an etag names one revision of one incarnation.
func etag(name string, created time.Time, rev int64) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", name, created.UnixMicro(), rev))
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

// etagSyntax is what etag produces; legacyEtag what impactd issued before
// (`"r<revision>"`), which is now simply stale.
var (
	etagSyntax = regexp.MustCompile(`^"[0-9a-f]{16}"$`)
	legacyEtag = regexp.MustCompile(`^"r[0-9]{1,19}"$`)
)

// checkEtag returns nil for no etag or the current one, EINVALID for
// something that is not an etag, EABORTED for a stale one (an older
// revision, another incarnation, a legacy etag).
func checkEtag(given, name string, created time.Time, rev int64) error {
	switch {
	case given == "" || given == etag(name, created, rev):
		return nil
	case !etagSyntax.MatchString(given) && !legacyEtag.MatchString(given):
		return invalid("etag", `is not an etag of this service (a quoted string as read from the resource, e.g. "0123456789abcdef")`)
	}
	return impact.Errorf(impact.EABORTED, "%s was modified: etag %s is stale", name, given).WithReason(impact.ReasonEtagMismatch)
}
