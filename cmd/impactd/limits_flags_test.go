package main

import (
	"io"
	"testing"
	"time"

	"github.com/impact-svc/impact/server"
)

// The limit flags: defaults, environment, the flag winning, byte sizes
// with units, and values that would disable a bound refused.
func TestLimitFlags(t *testing.T) {
	none := func(string) string { return "" }
	c, err := parseFlags(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := limitsConfig{maxConns: DefaultMaxConns, grpcMaxStreams: server.DefaultMaxConcurrentStreams,
		maxHeaderBytes: server.DefaultMaxHeaderBytes, keepaliveMinTime: 5 * time.Second, idleTimeout: 2 * time.Minute,
		readHeaderTimeout: 10 * time.Second, maxConnAge: time.Hour, maxConnAgeGrace: time.Minute,
		maxInflightBytes: byteSize(defaultInflightBytes()), grpcRecvBytes: server.DefaultReceivingBytes,
		dbMaxConns: 20, dbConnWait: 5 * time.Second}
	if c.limits != want {
		t.Errorf("defaults %+v, want %+v", c.limits, want)
	}
	if b := c.limits.maxInflightBytes; b < server.MaxMessageBytes || b > 1<<30 {
		t.Errorf("default --max-inflight-bytes %d, want between 64 MiB and 1 GiB", b)
	}
	if c.limits.keepaliveMinTime > 10*time.Second {
		t.Errorf("--keepalive-min-time %s would send away a client pinging every 10 s", c.limits.keepaliveMinTime)
	}

	env := map[string]string{"IMPACTD_MAX_CONNS": "50", "IMPACTD_GRPC_MAX_STREAMS": "7", "IMPACTD_MAX_HEADER_BYTES": "8192",
		"IMPACTD_KEEPALIVE_MIN_TIME": "1s", "IMPACTD_IDLE_TIMEOUT": "3s", "IMPACTD_READ_HEADER_TIMEOUT": "4s",
		"IMPACTD_MAX_CONN_AGE": "5m", "IMPACTD_MAX_CONN_AGE_GRACE": "6s", "IMPACTD_MAX_INFLIGHT_BYTES": "96MiB",
		"IMPACTD_DB_MAX_CONNS": "3", "IMPACTD_DB_CONN_WAIT": "700ms", "IMPACTD_GRPC_MAX_RECEIVING_BYTES": "128MiB"}
	getenv := func(k string) string { return env[k] }
	c, err = parseFlags(nil, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = limitsConfig{maxConns: 50, grpcMaxStreams: 7, maxHeaderBytes: 8192, keepaliveMinTime: time.Second,
		idleTimeout: 3 * time.Second, readHeaderTimeout: 4 * time.Second, maxConnAge: 5 * time.Minute,
		maxConnAgeGrace: 6 * time.Second, maxInflightBytes: 96 << 20, grpcRecvBytes: 128 << 20, dbMaxConns: 3,
		dbConnWait: 700 * time.Millisecond}
	if c.limits != want {
		t.Errorf("environment %+v, want %+v", c.limits, want)
	}
	c, err = parseFlags([]string{"--max-conns", "60", "--max-inflight-bytes", "1GiB", "--db-max-conns", "9"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.limits.maxConns != 60 || c.limits.maxInflightBytes != 1<<30 || c.limits.dbMaxConns != 9 || c.limits.grpcMaxStreams != 7 {
		t.Errorf("flags over environment: %+v", c.limits)
	}

	for _, args := range [][]string{
		{"--max-conns", "1"}, {"--grpc-max-streams", "0"}, {"--max-header-bytes", "100"},
		{"--idle-timeout", "0s"}, {"--max-inflight-bytes", "1MiB"}, {"--max-inflight-bytes", "lots"},
		{"--db-max-conns", "0"}, {"--db-conn-wait", "0s"}, {"--keepalive-min-time", "-1s"},
		{"--grpc-max-receiving-bytes", "32MiB"},
	} {
		if _, err := parseFlags(args, none, io.Discard); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
	if _, err := parseFlags(nil, func(k string) string {
		if k == "IMPACTD_MAX_CONNS" {
			return "many"
		}
		return ""
	}, io.Discard); err == nil {
		t.Error("IMPACTD_MAX_CONNS=many accepted")
	}
}

// The default soft memory limit is half the memory, never below 256 MiB,
// and none when the memory is unknown.
func TestDefaultMemoryLimit(t *testing.T) {
	for _, tc := range []struct{ mem, want int64 }{
		{8 << 30, 4 << 30},     // 8 GiB / 2
		{256 << 20, 256 << 20}, // 128 MiB is below the floor
		{0, 1<<63 - 1},
	} {
		if got := defaultMemoryLimit(tc.mem); got != tc.want {
			t.Errorf("defaultMemoryLimit(%d) = %d, want %d", tc.mem, got, tc.want)
		}
	}
}
