package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/impact-svc/impact/impact"
)

// connLost reports whether err means the database connection went away
// (the server terminated the backend, restarted, or the network broke)
// rather than that the statement was wrong. Such a call may succeed when
// retried on a new connection, which database/sql opens on demand, so the
// client is told UNAVAILABLE, not INTERNAL. A transaction cut this way is
// rolled back by the server: nothing of it was committed, unless the cut
// came during COMMIT itself, whose outcome the client then cannot know
// (UNAVAILABLE says "retry"; idempotent creates make that safe).
func connLost(err error) bool {
	// A deadline or a cancelled call also breaks the connection off, but
	// that is the call's own outcome, which the server reports as such.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", // admin_shutdown: pg_terminate_backend, smart/fast shutdown
			"57P02", // crash_shutdown
			"57P03": // cannot_connect_now: starting up or shutting down
			return true
		}
		// Class 08: connection exception.
		return len(pe.Code) == 5 && pe.Code[:2] == "08"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}

// unavailable is the EUNAVAILABLE of a lost connection. The cause is not
// shown (it names hosts and ports); the server logs nothing for it either,
// as it is an expected, transient outcome the access log already records.
func unavailable() error {
	return impact.Errorf(impact.EUNAVAILABLE, "database unavailable, retry")
}

// sqliteUnwritable is the EUNAVAILABLE of a SQLite database that cannot be
// written: a read-only file (or directory) or a full disk. Reads still
// work, so the server keeps running; the message says what an operator
// must fix, and holds no path. It returns nil for other errors.
func sqliteUnwritable(se *sqlite.Error) error {
	// Extended codes (SQLITE_READONLY_DBMOVED, …) share the primary code
	// in their low byte.
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_READONLY:
		return impact.Errorf(impact.EUNAVAILABLE, "database is read-only: writes are refused").WithReason(impact.ReasonDatabaseReadOnly)
	case sqlite3.SQLITE_FULL:
		return impact.Errorf(impact.EUNAVAILABLE, "database or disk is full: writes are refused").WithReason(impact.ReasonDatabaseFull)
	}
	return nil
}
