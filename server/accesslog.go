package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// HTTPAccessLog writes one log line per HTTP request h answers: method,
// route (the gateway's matched pattern, the fixed path of /healthz,
// /metrics and /openapi.json, or "other"), status, response bytes,
// duration, client address and request id. It sits outside everything
// else, so requests refused before gRPC (bad JSON, an unknown field, 405,
// 413, no route, and 401 from HTTP-level auth) get their line too; those
// that reach gRPC also get the gRPC "finished call" line, with the same
// request id.
func HTTPAccessLog(log *slog.Logger, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		route := otherRoute
		cw := &countingWriter{statusWriter: statusWriter{ResponseWriter: w, code: http.StatusOK}}
		h.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), routeKey{}, &route)))
		if route == otherRoute {
			switch r.URL.Path {
			case "/healthz", "/metrics", "/openapi.json":
				route = r.URL.Path
			}
		}
		level := slog.LevelInfo
		switch {
		case cw.code >= 500:
			level = slog.LevelError
		case cw.code >= 400:
			level = slog.LevelWarn
		}
		log.LogAttrs(r.Context(), level, "http request",
			slog.String("http.method", r.Method),
			slog.String("http.route", route),
			slog.Int("http.status", cw.code),
			slog.Int64("http.bytes", cw.bytes),
			slog.Float64("http.time_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("http.client", r.RemoteAddr),
			slog.String("request_id", w.Header().Get(requestIDHTTPHeader)),
		)
	})
}

// countingWriter is a statusWriter that also counts the body bytes.
type countingWriter struct {
	statusWriter
	bytes int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.statusWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}
