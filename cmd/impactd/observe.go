package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// usageError is a bad flag or environment variable: main exits 2 for it,
// as impactctl does, so that scripts can tell it from a runtime failure.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// newLogger returns the logger of --log-format (text or json) and
// --log-level (debug, info, warn or error) writing to w.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "info":
		lvl = slog.LevelInfo
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
}

// withMetrics serves GET /metrics (the server package's metrics, the Go
// runtime and process, db's connection pool and its open recompute jobs)
// beside h. It is on the
// HTTP listener and, like /healthz, needs no token: scrapers rarely carry
// one, and it reveals call counts, not data.
func withMetrics(h http.Handler, db *store.DB) http.Handler {
	reg := server.NewMetricsRegistry(collectors.NewDBStatsCollector(db.SQL().DB, string(db.Engine())),
		server.NewRecomputeCollector(db), server.NewFreshCollector(db, nil))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", server.MetricsHandler(reg))
	mux.Handle("/", h)
	return mux
}
