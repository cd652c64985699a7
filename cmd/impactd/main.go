// Command impactd serves the impact API: gRPC on --grpc-addr and the JSON
// gateway (plus /healthz and /openapi.json) on --http-addr, with the stored
// resources in the database of --db. With --auth-tokens every call needs a
// bearer token of the method's role; without it impactd serves loopback
// only. --tls-cert and --tls-key turn on TLS on both listeners. Unless
// --recompute-workers is 0, it also works on recompute jobs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/server/console"
	"github.com/impact-svc/impact/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(server.Version("impactd")) // on stdout, for scripts; run prints it on stderr
		return
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "impactd:", err)
		if errors.As(err, new(usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// Addrs are the addresses impactd actually listens on (useful with port 0).
type Addrs struct {
	GRPC, HTTP string
}

// shutdownGrace bounds how long in-flight calls may take to finish after
// SIGINT/SIGTERM before they are cut off.
const shutdownGrace = 20 * time.Second

type config struct {
	grpcAddr string
	httpAddr string
	db       string
	tokens   string // --auth-tokens file; "" disables authentication
	tlsCert  string
	tlsKey   string
	// callTimeout bounds every call server-side; 0 turns the bound off.
	callTimeout time.Duration
	logFormat   string // text or json
	logLevel    string // debug, info, warn or error
	// recomputeWorkers is the goroutines working on recompute jobs; 0 makes
	// an API-only replica (jobs are then run by other replicas or impactctl).
	recomputeWorkers int
	recomputeLease   time.Duration
	clockStart       string       // --clock-start, for testing only (clock.go)
	clockFile        string       // --clock-file, for testing only (clock.go)
	ledgerZone       string       // zone of accounting periods
	limits           limitsConfig // connections, streams, bytes, pool (limits.go)
	// refresh makes the recompute workers refresh stale estimates after
	// refreshDelay without writes to them (README "Fresh figures").
	refresh      bool
	refreshDelay time.Duration
}

// parseFlags reads the flags; each defaults to its environment variable,
// then to the built-in default, so an explicit flag always wins.
func parseFlags(args []string, getenv func(string) string, out io.Writer) (config, error) {
	envOr := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("impactd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.grpcAddr, "grpc-addr", envOr("IMPACTD_GRPC_ADDR", "127.0.0.1:9090"),
		"gRPC listen address (env IMPACTD_GRPC_ADDR)")
	fs.StringVar(&c.httpAddr, "http-addr", envOr("IMPACTD_HTTP_ADDR", "127.0.0.1:8080"),
		"HTTP JSON gateway listen address (env IMPACTD_HTTP_ADDR)")
	fs.StringVar(&c.db, "db", envOr("IMPACTD_DB", "sqlite:impact.db"),
		"database: sqlite:PATH (created if missing) or a postgres:// URL (env IMPACTD_DB)")
	fs.StringVar(&c.tokens, "auth-tokens", envOr("IMPACTD_AUTH_TOKENS", ""),
		"file of \"<sha256-hex-of-token> <role> <name>\" lines; without it there is no authentication\n"+
			"and impactd only listens on loopback (env IMPACTD_AUTH_TOKENS)")
	fs.StringVar(&c.tlsCert, "tls-cert", envOr("IMPACTD_TLS_CERT", ""),
		"PEM certificate (chain) for TLS on both listeners; needs --tls-key (env IMPACTD_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", envOr("IMPACTD_TLS_KEY", ""),
		"PEM private key of --tls-cert (env IMPACTD_TLS_KEY)")
	callTimeout := server.DefaultCallTimeout
	if v := getenv("IMPACTD_CALL_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("IMPACTD_CALL_TIMEOUT: %w", err)
		}
		callTimeout = d
	}
	fs.DurationVar(&c.callTimeout, "call-timeout", callTimeout,
		"longest time any call may run, whatever deadline the client sends; 0 for none (env IMPACTD_CALL_TIMEOUT)")
	recomputeWorkers := 1
	if v := getenv("IMPACTD_RECOMPUTE_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, fmt.Errorf("IMPACTD_RECOMPUTE_WORKERS: %w", err)
		}
		recomputeWorkers = n
	}
	fs.IntVar(&c.recomputeWorkers, "recompute-workers", recomputeWorkers,
		"goroutines working on recompute jobs in this replica; 0 for none, an API-only replica (env IMPACTD_RECOMPUTE_WORKERS)")
	recomputeLease := 30 * time.Second
	if v := getenv("IMPACTD_RECOMPUTE_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("IMPACTD_RECOMPUTE_LEASE: %w", err)
		}
		recomputeLease = d
	}
	fs.DurationVar(&c.recomputeLease, "recompute-lease", recomputeLease,
		"how long a worker holds a chunk of a recompute job without renewing it; a crashed replica's\n"+
			"chunk goes to another worker after this (env IMPACTD_RECOMPUTE_LEASE)")
	refresh := true
	if v := getenv("IMPACTD_REFRESH"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("IMPACTD_REFRESH: %w", err)
		}
		refresh = b
	}
	fs.BoolVar(&c.refresh, "refresh", refresh,
		"refresh stale stored estimates with this replica's recompute workers; false leaves them STALE\n"+
			"until recomputed (env IMPACTD_REFRESH)")
	refreshDelay := estimating.DefaultRefreshDelay
	if v := getenv("IMPACTD_REFRESH_DELAY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("IMPACTD_REFRESH_DELAY: %w", err)
		}
		refreshDelay = d
	}
	fs.DurationVar(&c.refreshDelay, "refresh-delay", refreshDelay,
		"how long a stale estimate waits without further writes to it before the refresh recomputes it\n"+
			"(env IMPACTD_REFRESH_DELAY)")
	fs.StringVar(&c.logFormat, "log-format", envOr("IMPACTD_LOG_FORMAT", "json"),
		"log format on stderr: text or json (env IMPACTD_LOG_FORMAT)")
	fs.StringVar(&c.logLevel, "log-level", envOr("IMPACTD_LOG_LEVEL", "info"),
		"lowest level logged: debug, info, warn or error (env IMPACTD_LOG_LEVEL)")
	fs.StringVar(&c.clockStart, "clock-start", envOr("IMPACTD_CLOCK_START", ""),
		"FOR TESTING ONLY: start impactd's clock at this RFC 3339 instant; it then advances in real time (env IMPACTD_CLOCK_START)")
	fs.StringVar(&c.clockFile, "clock-file", envOr("IMPACTD_CLOCK_FILE", ""),
		"FOR TESTING ONLY: read impactd's clock from the RFC 3339 instant in this file, whenever it changes,\n"+
			"advancing in real time from it (env IMPACTD_CLOCK_FILE)")
	fs.StringVar(&c.ledgerZone, "ledger-zone", envOr("IMPACTD_LEDGER_ZONE", ""),
		"IANA time zone of the credit ledger's accounting months; empty is UTC (env IMPACTD_LEDGER_ZONE)")
	if err := limitFlags(fs, getenv, &c.limits); err != nil {
		return c, err
	}
	version := fs.Bool("version", false, "print the version (from the build information) and exit")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *version {
		fmt.Fprintln(out, server.Version("impactd"))
		return c, flag.ErrHelp // exit 0 without serving, as for --help
	}
	if err := c.limits.check(); err != nil {
		return c, err
	}
	if _, err := newLogger(c.logFormat, c.logLevel, io.Discard); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.recomputeWorkers < 0 {
		return c, fmt.Errorf("--recompute-workers %d: want 0 or more", c.recomputeWorkers)
	}
	if _, err := newClock(c.clockStart, c.clockFile); err != nil {
		return c, err
	}
	if _, err := impact.LedgerZone(c.ledgerZone); c.ledgerZone != "" && err != nil {
		return c, fmt.Errorf("--ledger-zone %q: want an IANA time zone", c.ledgerZone)
	}
	if c.recomputeLease < time.Second {
		return c, fmt.Errorf("--recompute-lease %s: want at least 1s", c.recomputeLease)
	}
	if c.refreshDelay < 0 {
		return c, fmt.Errorf("--refresh-delay %s: want 0 or more", c.refreshDelay)
	}
	return c, nil
}

// run serves until ctx ends, then shuts down gracefully. ready, when not
// nil, is called with the bound addresses once both listeners accept
// connections; tests start run on 127.0.0.1:0 and learn the ports from it.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(Addrs)) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	tuneGC(getenv)
	log, _ := newLogger(cfg.logFormat, cfg.logLevel, stderr) // checked by parseFlags
	fileLimit := raiseFileLimit()

	// Credentials are read before anything listens: a typo in a token
	// line must stop the server, not open it.
	var sec server.Security
	if cfg.tokens != "" {
		if sec.Tokens, err = server.LoadTokens(cfg.tokens); err != nil {
			return err
		}
	}
	if cfg.tlsCert != "" {
		if sec.TLS, err = credentials.NewServerTLSFromFile(cfg.tlsCert, cfg.tlsKey); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
	}

	remoteOK := sec.Tokens != nil
	grpcLn, err := listen("--grpc-addr", cfg.grpcAddr, remoteOK)
	if err != nil {
		return err
	}
	defer grpcLn.Close()
	httpLn, err := listen("--http-addr", cfg.httpAddr, remoteOK)
	if err != nil {
		return err
	}
	defer httpLn.Close()
	// Each listener holds at most maxConns connections, so a flood cannot
	// take the descriptors that health checks and the database need.
	maxConns := fitConns(log, cfg.limits.maxConns, cfg.limits.dbMaxConns, fileLimit)
	grpcLn, httpLn = boundListener(grpcLn, maxConns), boundListener(httpLn, maxConns)
	if sec.TLS == nil && (!isLoopback(grpcLn) || !isLoopback(httpLn)) {
		log.Warn("serving a non-loopback address without TLS: bearer tokens cross the network in clear text; use --tls-cert and --tls-key")
	}

	// Migrations run here, before anything listens: a server that cannot
	// use its database must not report SERVING.
	db, err := store.Open(ctx, cfg.db)
	if err != nil {
		return err
	}
	// Closed when run returns, which is after both servers have drained.
	defer db.Close()
	clock, err := newClock(cfg.clockStart, cfg.clockFile) // checked by parseFlags; the file may have gone since
	if err != nil {
		return err
	}
	db.SetClock(clock)
	if err := db.SetLedgerZone(cfg.ledgerZone); err != nil {
		return err
	}
	db.SetPool(cfg.limits.dbMaxConns, cfg.limits.dbConnWait)
	budget := server.NewBudget(int64(cfg.limits.maxInflightBytes), server.DefaultBudgetWait)
	lc := cfg.limits
	transport := server.Transport{
		MaxConcurrentStreams: uint32(lc.grpcMaxStreams), MaxHeaderBytes: uint32(lc.maxHeaderBytes),
		KeepaliveMinTime: lc.keepaliveMinTime, IdleTimeout: lc.idleTimeout, HandshakeTimeout: lc.readHeaderTimeout,
		MaxConnAge: lc.maxConnAge, MaxConnAgeGrace: lc.maxConnAgeGrace, Budget: budget,
		ReceivingBytes: int64(lc.grpcRecvBytes),
	}

	est, stored := server.NewEstimator(log), server.NewStored(log, db)
	stored.SetClock(clock)
	// Ends open streams once unary calls have drained at shutdown, on both
	// servers.
	drainer := server.NewDrainer()
	// One set of service values, served by the public gRPC server and by
	// the gateway's link.
	services := slices.Clip([]server.Registrar{stored,
		server.NewRecomputeService(log, db, estimating.DefaultChunkSize), server.NewLedger(log, db),
		server.NewExposure(log, db, clock), server.NewImpactStatements(log, db), server.NewAuditService(log, db),
		server.CallTimeout(cfg.callTimeout), drainer})
	grpcSrv, health := server.NewGRPCServer(log, sec, est, append(services, transport)...)
	// The gateway calls the same services on a server of its own, over an
	// in-process pipe (gatewaylink.go).
	link := newGatewayLink(log, sec.Tokens, lc, est, services...)
	conn, err := link.dial()
	if err != nil {
		return fmt.Errorf("dialing gRPC for the gateway: %w", err)
	}
	defer conn.Close()
	// The gateway's context outlives ctx: in-flight HTTP calls must be able
	// to finish during shutdown.
	handler, err := server.NewHTTPHandler(context.WithoutCancel(ctx), conn)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		// The console is outermost: its session cookie becomes the bearer
		// token that every handler inside sees, the guard included. The
		// access log sees every request, those the guard refuses too.
		// The request id and the access log are outside even the console,
		// so that every answer, a refusal of any layer too (the console's
		// cross-site refusal, its 405), carries X-Request-Id and has its
		// access line.
		Handler: server.HTTPRequestID(server.HTTPAccessLog(log, console.New(console.Options{Tokens: sec.Tokens, Secure: sec.TLS != nil, Now: clock}).Wrap(
			withMetrics(server.GuardHTTP(handler, log, sec.Tokens, budget), db)))),
		ReadHeaderTimeout: lc.readHeaderTimeout,
		MaxHeaderBytes:    lc.maxHeaderBytes,
		// The gRPC deadline starts only once the gateway has read the body:
		// this bounds a client trickling one (64 MiB at 0.5 MB/s still fits).
		ReadTimeout: 2 * time.Minute,
		IdleTimeout: lc.idleTimeout,
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	errc := make(chan error, 3)
	go func() { errc <- grpcSrv.Serve(grpcLn) }()
	go func() { errc <- link.serve() }()
	go func() {
		if sec.TLS != nil {
			errc <- httpSrv.ServeTLS(httpLn, cfg.tlsCert, cfg.tlsKey)
			return
		}
		errc <- httpSrv.Serve(httpLn)
	}()
	// Recompute workers live as long as the servers; they stop first on
	// shutdown, leaving an interrupted chunk to expire and be redone.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	workDone := make(chan struct{})
	if cfg.recomputeWorkers > 0 {
		rc := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{
			Workers:  cfg.recomputeWorkers,
			LeaseTTL: cfg.recomputeLease,
			Now:      clock,
			Logger:   log,
			OnChunk:  server.RecomputeChunkDone,
			Observe:  server.ObserveEstimate,
			// Refresh of stale estimates (README "Fresh figures").
			Refresh:      cfg.refresh,
			RefreshDelay: cfg.refreshDelay,
			OnRefresh:    server.RefreshDone,
		})
		go func() {
			defer close(workDone)
			if err := rc.Serve(workCtx); err != nil {
				log.Error("recompute workers stopped", "err", err)
			}
		}()
	} else {
		close(workDone)
	}
	defer reloadOnHUP(log, cfg.tokens, sec.Tokens)()
	addrs := Addrs{GRPC: grpcLn.Addr().String(), HTTP: httpLn.Addr().String()}
	log.Info("impactd serving", "grpc_addr", addrs.GRPC, "http_addr", addrs.HTTP,
		"auth", sec.Tokens != nil, "tls", sec.TLS != nil, "recompute_workers", cfg.recomputeWorkers, "refresh", cfg.refresh && cfg.recomputeWorkers > 0)
	if ready != nil {
		ready(addrs)
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		serveErr = fmt.Errorf("serving: %w", serveErr)
	}

	log.Info("impactd shutting down")
	// Fail health checks first so load balancers stop sending work, then
	// drain HTTP (whose calls still need gRPC), then gRPC.
	health.Shutdown()
	link.health.Shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	stopWork()
	defer func() {
		// The database closes when run returns: the workers must be out.
		select {
		case <-workDone:
		case <-sctx.Done():
			log.Warn("recompute workers did not stop in time")
		}
	}()
	// Open streams (watches) end once the unary calls in flight are done,
	// instead of holding both servers until the grace period runs out.
	go drainer.Drain(sctx)
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("HTTP shutdown cut in-flight requests", "err", err)
	}
	stopped := make(chan struct{})
	go func() {
		grpcSrv.GracefulStop()
		link.srv.GracefulStop() // after HTTP, whose calls it serves
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-sctx.Done():
		log.Warn("gRPC graceful stop timed out; stopping")
		grpcSrv.Stop()
		link.srv.Stop()
		<-stopped
	}
	log.Info("impactd stopped")
	return serveErr
}

// listen listens on addr. Unless remoteOK (impactd has a tokens file), it
// refuses anything but a loopback address: without authentication anyone
// who could reach impactd could read and change the stored data. The bound
// address is checked, so "localhost" is fine and ":8080" (every interface)
// is not.
func listen(flagName, addr string, remoteOK bool) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	if !remoteOK && !isLoopback(ln) {
		ln.Close()
		return nil, fmt.Errorf("%s %s: refusing to listen on a non-loopback address without --auth-tokens: "+
			"without authentication anyone who can reach impactd could read and change its data "+
			"(use 127.0.0.1 or ::1, or give --auth-tokens)", flagName, addr)
	}
	return ln, nil
}

func isLoopback(ln net.Listener) bool {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}
