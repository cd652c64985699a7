package main

import "runtime/debug"

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
}
