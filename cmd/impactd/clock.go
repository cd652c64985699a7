package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// newClock returns impactd's one process clock, which every component that
// depends on "now" is given (the store, the stored-resource services, the
// recompute workers): credit-line states, claim deadlines and accounting
// periods are decided by it. Both options are FOR TESTING ONLY:
//
//   - start (--clock-start), an RFC 3339 instant: the clock starts there
//     when impactd starts and advances with real (monotonic) time;
//   - file (--clock-file), a file holding an RFC 3339 instant: the clock
//     reads that instant whenever the file changes and advances from it in
//     real time, so a test suite moves impactd's time by rewriting the file.
//
// Neither: the real clock.
func newClock(start, file string) (func() time.Time, error) {
	switch {
	case start != "" && file != "":
		return nil, errors.New("--clock-start and --clock-file: give one or neither")
	case file != "":
		c := &fileClock{path: file}
		if _, err := c.read(); err != nil {
			return nil, err
		}
		return c.now, nil
	case start == "":
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return nil, fmt.Errorf("--clock-start %q: want an RFC 3339 instant, e.g. 2025-08-01T00:00:00Z", start)
	}
	base := time.Now()
	return func() time.Time { return t.Add(time.Since(base)).UTC() }, nil
}

// fileClock is --clock-file: the instant in the file, plus the real time
// elapsed since it was read. The file is stat'ed on every reading and read
// again when its modification time or size changed.
type fileClock struct {
	path string

	mu    sync.Mutex
	mod   time.Time
	size  int64
	at    time.Time // the file's instant
	since time.Time // when it was read (monotonic)
}

func (c *fileClock) read() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil {
		return time.Time{}, fmt.Errorf("--clock-file: %w", err)
	}
	if c.since.IsZero() || !fi.ModTime().Equal(c.mod) || fi.Size() != c.size {
		b, err := os.ReadFile(c.path)
		if err != nil {
			return time.Time{}, fmt.Errorf("--clock-file: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(string(b)))
		if err != nil {
			return time.Time{}, fmt.Errorf("--clock-file %s: want an RFC 3339 instant, got %q", c.path, strings.TrimSpace(string(b)))
		}
		c.mod, c.size, c.at, c.since = fi.ModTime(), fi.Size(), t, time.Now()
	}
	return c.at.Add(time.Since(c.since)).UTC(), nil
}

// now keeps the last good reading when the file is briefly unreadable (a
// test rewriting it), so time never jumps to zero.
func (c *fileClock) now() time.Time {
	t, err := c.read()
	if err != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.at.Add(time.Since(c.since)).UTC()
	}
	return t
}
