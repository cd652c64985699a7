package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/impact-svc/impact/server"
)

// limitsConfig are the bounds on what clients may hold of impactd:
// connections, streams, header bytes, request bytes in flight, idle and
// connection ages, and database connections. Every default is far above
// what a small deployment uses and far below what exhausts the machine.
type limitsConfig struct {
	maxConns          int // per listener
	grpcMaxStreams    int // per gRPC connection
	maxHeaderBytes    int
	keepaliveMinTime  time.Duration
	idleTimeout       time.Duration
	readHeaderTimeout time.Duration
	maxConnAge        time.Duration
	maxConnAgeGrace   time.Duration
	maxInflightBytes  byteSize
	grpcRecvBytes     byteSize // the receive gate's allowance
	dbMaxConns        int
	dbConnWait        time.Duration
}

// DefaultMaxConns is the connections each listener keeps open at most.
const DefaultMaxConns = 1000

// limitFlags registers the flags of lc on fs, each defaulting to its
// environment variable, then to the built-in default.
func limitFlags(fs *flag.FlagSet, getenv func(string) string, lc *limitsConfig) error {
	var errs []error
	envInt := func(key string, def int) int {
		if v := getenv(key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
			return n
		}
		return def
	}
	envDur := func(key string, def time.Duration) time.Duration {
		if v := getenv(key); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
			return d
		}
		return def
	}
	fs.IntVar(&lc.maxConns, "max-conns", envInt("IMPACTD_MAX_CONNS", DefaultMaxConns),
		"connections each listener (gRPC, HTTP) keeps open at most; past it the longest-idle one is closed\n"+
			"for a new one (env IMPACTD_MAX_CONNS)")
	fs.IntVar(&lc.grpcMaxStreams, "grpc-max-streams", envInt("IMPACTD_GRPC_MAX_STREAMS", server.DefaultMaxConcurrentStreams),
		"concurrent calls (streams) per gRPC connection (env IMPACTD_GRPC_MAX_STREAMS)")
	fs.IntVar(&lc.maxHeaderBytes, "max-header-bytes", envInt("IMPACTD_MAX_HEADER_BYTES", server.DefaultMaxHeaderBytes),
		"largest header list of a gRPC call or HTTP request, in bytes (env IMPACTD_MAX_HEADER_BYTES)")
	fs.DurationVar(&lc.keepaliveMinTime, "keepalive-min-time", envDur("IMPACTD_KEEPALIVE_MIN_TIME", server.DefaultKeepaliveMinTime),
		"shortest interval between a gRPC client's keepalive pings; one pinging more often is sent away\n"+
			"(env IMPACTD_KEEPALIVE_MIN_TIME)")
	fs.DurationVar(&lc.idleTimeout, "idle-timeout", envDur("IMPACTD_IDLE_TIMEOUT", server.DefaultIdleTimeout),
		"a connection without calls for this long is closed, on both listeners (env IMPACTD_IDLE_TIMEOUT)")
	fs.DurationVar(&lc.readHeaderTimeout, "read-header-timeout", envDur("IMPACTD_READ_HEADER_TIMEOUT", 10*time.Second),
		"time an HTTP client has to send a request's headers, and a gRPC client its connection preface\n"+
			"(env IMPACTD_READ_HEADER_TIMEOUT)")
	fs.DurationVar(&lc.maxConnAge, "max-conn-age", envDur("IMPACTD_MAX_CONN_AGE", server.DefaultMaxConnAge),
		"a gRPC connection is asked to reconnect (GOAWAY) after about this long (env IMPACTD_MAX_CONN_AGE)")
	fs.DurationVar(&lc.maxConnAgeGrace, "max-conn-age-grace", envDur("IMPACTD_MAX_CONN_AGE_GRACE", server.DefaultMaxConnAgeGrace),
		"time the calls of a connection past --max-conn-age have to finish (env IMPACTD_MAX_CONN_AGE_GRACE)")
	lc.maxInflightBytes = byteSize(defaultInflightBytes())
	if v := getenv("IMPACTD_MAX_INFLIGHT_BYTES"); v != "" {
		if err := lc.maxInflightBytes.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("IMPACTD_MAX_INFLIGHT_BYTES: %w", err))
		}
	}
	fs.Var(&lc.maxInflightBytes, "max-inflight-bytes",
		"request bytes worked on at once over gRPC and HTTP (e.g. 512MiB; at least 64MiB); past it a request\n"+
			"waits up to 2s, then gets RESOURCE_EXHAUSTED (HTTP 429); default: 1/64 of the memory\n"+
			"(env IMPACTD_MAX_INFLIGHT_BYTES)")
	lc.grpcRecvBytes = byteSize(server.DefaultReceivingBytes)
	if v := getenv("IMPACTD_GRPC_MAX_RECEIVING_BYTES"); v != "" {
		if err := lc.grpcRecvBytes.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("IMPACTD_GRPC_MAX_RECEIVING_BYTES: %w", err))
		}
	}
	fs.Var(&lc.grpcRecvBytes, "grpc-max-receiving-bytes",
		"bytes of gRPC requests still arriving, before they are decoded (at least 64MiB, default 256MiB):\n"+
			"a call reserves 64MiB, the largest message, while its request is read; one finding no room\n"+
			"within 2s is cancelled (env IMPACTD_GRPC_MAX_RECEIVING_BYTES)")
	fs.IntVar(&lc.dbMaxConns, "db-max-conns", envInt("IMPACTD_DB_MAX_CONNS", 20),
		"database connections open at most (env IMPACTD_DB_MAX_CONNS)")
	fs.DurationVar(&lc.dbConnWait, "db-conn-wait", envDur("IMPACTD_DB_CONN_WAIT", 5*time.Second),
		"longest a call waits for a free database connection before UNAVAILABLE (HTTP 503), within its\n"+
			"deadline (env IMPACTD_DB_CONN_WAIT)")
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// check validates lc after parsing.
func (lc *limitsConfig) check() error {
	switch {
	case lc.maxConns < 2:
		return fmt.Errorf("--max-conns %d: want at least 2", lc.maxConns)
	case lc.grpcMaxStreams < 1:
		return fmt.Errorf("--grpc-max-streams %d: want at least 1", lc.grpcMaxStreams)
	case lc.maxHeaderBytes < 4<<10:
		return fmt.Errorf("--max-header-bytes %d: want at least 4096", lc.maxHeaderBytes)
	case lc.keepaliveMinTime <= 0 || lc.idleTimeout <= 0 || lc.readHeaderTimeout <= 0 ||
		lc.maxConnAge <= 0 || lc.maxConnAgeGrace <= 0 || lc.dbConnWait <= 0:
		return fmt.Errorf("--keepalive-min-time, --idle-timeout, --read-header-timeout, --max-conn-age, " +
			"--max-conn-age-grace and --db-conn-wait must be positive")
	case lc.maxInflightBytes < server.MaxMessageBytes:
		return fmt.Errorf("--max-inflight-bytes %d: want at least %d (one largest request)", lc.maxInflightBytes, server.MaxMessageBytes)
	case lc.grpcRecvBytes < server.MaxMessageBytes:
		return fmt.Errorf("--grpc-max-receiving-bytes %d: want at least %d (one largest request)", lc.grpcRecvBytes, server.MaxMessageBytes)
	case lc.dbMaxConns < 1:
		return fmt.Errorf("--db-max-conns %d: want at least 1", lc.dbMaxConns)
	}
	return nil
}

// byteSize is a flag of bytes: a number with an optional KiB, MiB or GiB
// (or K, M, G, KB, MB, GB, all binary) suffix.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	s = strings.TrimSpace(s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	unit := strings.ToUpper(strings.TrimSpace(s[len(num):]))
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return fmt.Errorf("%q: want bytes such as 536870912 or 512MiB", s)
	}
	shift := map[string]uint{"": 0, "B": 0, "K": 10, "KB": 10, "KIB": 10, "M": 20, "MB": 20, "MIB": 20, "G": 30, "GB": 30, "GIB": 30}
	sh, ok := shift[unit]
	if !ok || n > (1<<62)>>sh {
		return fmt.Errorf("%q: want bytes such as 536870912 or 512MiB", s)
	}
	*b = byteSize(n << sh)
	return nil
}

// machineMemory is the memory impactd may use: its cgroup's limit when it
// has one, else the machine's; 0 when neither can be read.
func machineMemory() int64 {
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 {
			return n
		}
	}
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// defaultInflightBytes is a sixty-fourth of the memory, between 64 MiB (one
// largest request) and 1 GiB: a request takes several times its size while
// it is decoded, forwarded by the gateway and estimated (twelve 62 MB JSON
// bodies took 4.8 GB only to be decoded), so 1/64 keeps a burst's peak to
// a fraction of the memory.
func defaultInflightBytes() int64 {
	mem := machineMemory()
	if mem == 0 {
		mem = 4 << 30
	}
	return min(max(mem/64, server.MaxMessageBytes), 1<<30)
}
