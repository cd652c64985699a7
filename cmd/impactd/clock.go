package main

import (
	"fmt"
	"time"
)

// newClock returns impactd's one process clock, which every component that
// depends on "now" is given (the store, the stored-resource services, the
// recompute workers): credit-line states, claim deadlines and accounting
// periods are decided by it. start is --clock-start, FOR TESTING ONLY: an
// RFC 3339 instant at which the clock starts when impactd starts, from
// which it advances with real (monotonic) time; "" is the real clock.
func newClock(start string) (func() time.Time, error) {
	if start == "" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return nil, fmt.Errorf("--clock-start %q: want an RFC 3339 instant, e.g. 2025-08-01T00:00:00Z", start)
	}
	base := time.Now()
	return func() time.Time { return t.Add(time.Since(base)).UTC() }, nil
}
