package main

import (
	"math"
	"runtime/debug"
)

// gcPercent is the collector's target when the operator sets no GOGC. An
// Estimate allocates many small, short-lived objects against a live heap of
// a few MB, so with the default of 100 the collector runs every few dozen
// requests: BenchmarkEstimateHandler costs 215–223 µs at GOGC=100 and
// 153–157 µs at 400 (same run, interleaved). 400 trades a few MB of heap for
// that CPU; GOGC (and GOMEMLIMIT) set by the operator still win.
const gcPercent = 400

func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit(machineMemory()))
	}
}

// defaultMemoryLimit is the soft memory limit when the operator sets no
// GOMEMLIMIT: half the memory (of the cgroup, else the machine), at least
// 256 MiB. Without one, GOGC 400 lets the heap grow to five times what a
// burst of large requests left live, and the runtime keeps that memory
// long after the burst; with one, the collector works harder near the
// limit and the scavenger returns what is above it to the OS. Half leaves
// the rest for the page cache (SQLite) and other processes; the in-flight
// budget (--max-inflight-bytes, 1/64 of the memory by default) keeps the live heap
// well under it.
func defaultMemoryLimit(mem int64) int64 {
	if mem <= 0 {
		return math.MaxInt64 // unknown: the runtime's default, no limit
	}
	return max(mem/2, 256<<20)
}
