package server

import (
	"context"
	"sync"
	"time"

	"github.com/impact-svc/impact/impact"
)

// watchHub shares the reads of WatchRecomputeJob: all the watches of one
// job in this process are fed by one poller, which reads the job every
// poll with a short-lived statement of its own, so a thousand watches of
// a job cost one read per poll and hold no database connection while they
// wait; the poller stops when its last watch ends.
type watchHub struct {
	mu      sync.Mutex
	pollers map[string]*jobPoller
}

// watchReadTimeout bounds one read of a poller.
const watchReadTimeout = 5 * time.Second

// jobPoller polls one job for its watchers.
type jobPoller struct {
	watchers int
	stop     context.CancelFunc

	mu      sync.Mutex
	job     *impact.RecomputeJob // the latest read, nil before the first
	err     error                // the latest read's error
	changed chan struct{}        // closed when job or err is replaced
}

// subscribe returns the poller of id, starting it (polling jobs every
// poll) if it has no watcher yet; unsubscribe must be called when the
// watch ends.
func (h *watchHub) subscribe(jobs impact.JobStore, id string, poll time.Duration) *jobPoller {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pollers == nil {
		h.pollers = map[string]*jobPoller{}
	}
	p := h.pollers[id]
	if p == nil {
		ctx, stop := context.WithCancel(context.Background())
		p = &jobPoller{stop: stop, changed: make(chan struct{})}
		h.pollers[id] = p
		go p.run(ctx, jobs, id, poll)
	}
	p.watchers++
	return p
}

func (h *watchHub) unsubscribe(id string, p *jobPoller) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p.watchers--; p.watchers == 0 {
		p.stop()
		delete(h.pollers, id)
	}
}

func (p *jobPoller) run(ctx context.Context, jobs impact.JobStore, id string, poll time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, watchReadTimeout)
		j, err := jobs.GetJob(rctx, id)
		cancel()
		if ctx.Err() != nil {
			return // no watcher left
		}
		p.mu.Lock()
		p.job, p.err = j, err
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// latest returns the latest read (nil, nil before the first) and a
// channel closed when there is a newer one.
func (p *jobPoller) latest() (*impact.RecomputeJob, error, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.job, p.err, p.changed
}
