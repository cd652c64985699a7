package estimating

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/impact-svc/impact/impact"
)

// DefaultChunkSize is the (incident, customer) estimates of one chunk: big
// enough that a chunk's queries and its one transaction are amortised over
// many estimates, small enough that a killed worker loses little work and
// a chunk's data fits easily in memory.
const DefaultChunkSize = 2000

// RecomputeOptions configure a Recomputer. Zero values take the defaults.
type RecomputeOptions struct {
	Worker   string        // lease holder name; default "host:pid"
	Workers  int           // goroutines; default 1
	LeaseTTL time.Duration // default 30s; renewed every third of it while a chunk runs
	Poll     time.Duration // wait when no chunk is free; default 1s
	Limits   impact.Limits // default StoredLimits()
	Logger   *slog.Logger
	// Observe, when set, is told how long each run of the engine took
	// (Options.Observe).
	Observe func(call string, took time.Duration)
	// OnChunk is called after each chunk this process completes, with the
	// job as it is then and what the chunk did. It may be nil.
	OnChunk func(job *impact.RecomputeJob, r *impact.ChunkResult)
	// Now is the clock of compute times; default time.Now.
	Now func() time.Time
	// Refresh makes Serve's workers, when no job chunk is free, refresh
	// stale estimates whose newest mark is older than RefreshDelay
	// (README "Fresh figures"). OnRefresh, when set, is called after each
	// refresh lease this process completes.
	Refresh      bool
	RefreshDelay time.Duration
	OnRefresh    func(RefreshReport)
}

// Recomputer runs recompute jobs: it leases chunks in the database,
// recomputes their incidents with the same code as :estimate
// (Service.Compute), and completes each chunk in one transaction.
// Several Recomputers, in this process or others, share a job safely.
type Recomputer struct {
	store impact.Store
	jobs  impact.JobStore
	svc   *Service
	o     RecomputeOptions
}

// NewRecomputer returns a Recomputer over st and jobs (usually the same
// *store.DB).
func NewRecomputer(st impact.Store, jobs impact.JobStore, o RecomputeOptions) *Recomputer {
	if o.Worker == "" {
		host, _ := os.Hostname()
		o.Worker = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Limits == (impact.Limits{}) {
		o.Limits = StoredLimits()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	svc := New(st, Options{Limits: o.Limits, Now: o.Now, Observe: o.Observe})
	return &Recomputer{store: st, jobs: jobs, svc: svc, o: o}
}

// Serve leases chunks of any open job, with Workers goroutines, until ctx
// ends; it then returns nil. A chunk interrupted by the end of ctx is not
// completed: its lease expires and another worker redoes it.
func (r *Recomputer) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				worked, err := r.step(ctx, "")
				if err != nil && ctx.Err() == nil {
					r.o.Logger.Warn("recompute chunk failed, it will be retried", "error", err)
				}
				if !worked && err == nil && r.o.Refresh {
					var rep *RefreshReport
					rep, err = r.refreshStep(ctx)
					worked = rep != nil
					if err != nil && ctx.Err() == nil {
						r.o.Logger.Warn("refresh failed, it will be retried", "error", err)
					}
				}
				if !worked || err != nil {
					sleep(ctx, r.o.Poll)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

// maxChunkFailures is how many times in a row Run lets a chunk fail (a
// database error, say) before it gives up and reports the error. The job
// stays open: running again resumes it.
const maxChunkFailures = 3

// Run works on job jobID with Workers goroutines until the job is
// terminal, and returns it as it ended. Chunks leased by other workers are
// waited for (or taken over when their leases expire). It returns ctx's
// error when ctx ends first; the job stays open and a later Run resumes it.
func (r *Recomputer) Run(ctx context.Context, jobID string) (*impact.RecomputeJob, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range r.o.Workers {
		wg.Go(func() {
			failures := 0
			for ctx.Err() == nil {
				worked, err := r.step(ctx, jobID)
				switch {
				case err != nil && ctx.Err() == nil:
					failures++
					r.o.Logger.Warn("recompute chunk failed", "job", impact.JobName(jobID), "error", err, "attempt", failures)
					if failures >= maxChunkFailures {
						cancel(err)
						return
					}
					sleep(ctx, r.o.Poll)
				case err != nil:
					return
				case worked:
					failures = 0
				default:
					// No free chunk: the job is over, or others hold the rest.
					job, err := r.jobs.GetJob(ctx, jobID)
					if err == nil && job.State.Terminal() {
						cancel(errJobOver)
						return
					}
					sleep(ctx, r.o.Poll)
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, errJobOver) {
		return nil, err
	}
	return r.jobs.GetJob(context.WithoutCancel(ctx), jobID)
}

var errJobOver = errors.New("job over")

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// keepLease renews a lease every third of its TTL while the returned
// context lives; a failed renewal cancels that context with lost as the
// cause, so the work under the lease stops.
func (r *Recomputer) keepLease(ctx context.Context, renew func(context.Context) error, lost string) (context.Context, context.CancelCauseFunc) {
	cctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(r.o.LeaseTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-cctx.Done():
				return
			case <-t.C:
				if err := renew(cctx); err != nil && cctx.Err() == nil {
					cancel(fmt.Errorf("%s: %w", lost, err))
					return
				}
			}
		}
	}()
	return cctx, cancel
}

// step leases one chunk of jobID (of any job when "") and does it. It
// reports whether there was a chunk.
func (r *Recomputer) step(ctx context.Context, jobID string) (bool, error) {
	c, err := r.jobs.LeaseChunk(ctx, jobID, r.o.Worker, r.o.LeaseTTL)
	if err != nil || c == nil {
		return false, err
	}
	// Keep the lease while the chunk runs; losing it (the job cancelled,
	// or this process stalled past the TTL and another took the chunk)
	// abandons the chunk.
	cctx, cancel := r.keepLease(ctx, func(ctx context.Context) error { return r.jobs.RenewLease(ctx, c, r.o.LeaseTTL) },
		fmt.Sprintf("lease of chunk %d lost", c.Seq))
	defer cancel(nil)
	res, err := r.recompute(cctx, c)
	if err != nil {
		if cause := context.Cause(cctx); cause != nil && ctx.Err() == nil {
			return true, cause
		}
		r.release(ctx, c)
		return true, err
	}
	job, err := r.jobs.CompleteChunk(cctx, c, res)
	if err != nil {
		r.release(ctx, c)
		return true, err
	}
	if r.o.OnChunk != nil {
		r.o.OnChunk(job, res)
	}
	return true, nil
}

// release hands a chunk back when this worker stops (ctx ended) before
// completing it, so that the next run or another worker takes it at once
// rather than when its lease expires. After a kill -9 nothing runs: the
// lease expires.
func (r *Recomputer) release(ctx context.Context, c *impact.Chunk) {
	if ctx.Err() == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = r.jobs.RenewLease(rctx, c, 0)
}

// recompute computes every incident of the chunk and compares it with its
// latest stored estimate. An incident whose stored data cannot be
// estimated (FAILED_PRECONDITION, INVALID_ARGUMENT: a recovery item naming
// a customer without a window, a reporting currency whose rate no longer
// covers every currency) is a failed estimate of the job, recorded with
// its reason; any other error (the database) fails the chunk, which is
// then retried.
//
// Stored figures are read only for the estimates that may have changed:
// one computed by the same model version from the same inputs digest as
// the stored one has the same figures (impact.SameComputation), which is
// most estimates of a month-end recompute, and decoding stored figures
// costs about as much as computing them.
func (r *Recomputer) recompute(ctx context.Context, c *impact.Chunk) (*impact.ChunkResult, error) {
	heads, err := r.jobs.LatestEstimateHeads(ctx, c.IncidentIDs)
	if err != nil {
		return nil, err
	}
	// The change sequence before any input is read, and the reporting
	// settings (README "Fresh figures").
	seq, err := ReadSeq(ctx, r.store)
	if err != nil {
		return nil, err
	}
	settings, err := StoredSettings(ctx, r.store)
	if err != nil {
		return nil, err
	}
	b, err := loadBatch(ctx, r.store, c.IncidentIDs)
	if err != nil {
		return nil, err
	}
	now := r.o.Now()
	res := &impact.ChunkResult{ModelVersion: impact.ModelVersion}
	type computed struct {
		e   *impact.StoredEstimate
		sts []impact.StoredStatement
	}
	var maybe []string // changed, or unknown until compared
	fresh := map[string]computed{}
	for _, id := range c.IncidentIDs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.Counts.Done++
		head := heads[id]
		var reporting string
		var fx []impact.FXRate
		if head != nil {
			reporting, fx = head.ReportingCurrency, head.FXRates
		}
		e, sts, err := r.svc.estimate(ctx, b, id, refreshOptions(settings, reporting, fx, false), seq, now)
		var ie *impact.Error
		switch {
		case errors.As(err, &ie) && ie.Code == impact.ENOTFOUND:
			continue // deleted since the job was planned: nothing to recompute
		case errors.As(err, &ie) && (ie.Code == impact.EFAILEDPRECOND || ie.Code == impact.EINVALID):
			res.Counts.Failed++
			ch := impact.RecomputeChange{IncidentID: id, Error: failureText(ie)}
			if head != nil {
				ch.OldRevision, ch.OldModelVersion, ch.OldInputsDigest = head.Revision, head.ModelVersion, head.InputsDigest
			}
			res.Changes = append(res.Changes, ch)
			continue
		case err != nil:
			return nil, err
		}
		e.IncidentID = id
		res.Counts.CustomersDone += int64(len(e.Customers))
		if impact.SameComputation(head, e) {
			continue
		}
		maybe = append(maybe, id)
		fresh[id] = computed{e, sts}
	}
	var prev map[string]*impact.StoredEstimate
	if len(maybe) > 0 {
		if prev, err = r.jobs.LatestEstimates(ctx, maybe); err != nil {
			return nil, err
		}
	}
	for _, id := range maybe {
		e, old := fresh[id].e, prev[id]
		d := impact.CompareEstimates(old, e)
		if !d.Changed {
			// Same figures from other inputs (a display name): not a
			// change of the job, but a revision with the inputs it now
			// reflects, which also makes the estimate CURRENT (README
			// "Fresh figures").
			if !c.DryRun {
				res.Saves = append(res.Saves, impact.EstimateSave{Estimate: e, Statements: fresh[id].sts})
			}
			continue
		}
		res.Counts.Changed++
		res.Counts.CustomersChanged += d.CustomersChanged
		res.Differences = impact.AddDifferences(res.Differences, d.Differences)
		ch := impact.RecomputeChange{IncidentID: id, NewInputsDigest: e.InputsDigest,
			CustomersChanged: d.CustomersChanged, Differences: d.Differences}
		if old != nil {
			ch.OldRevision, ch.OldModelVersion, ch.OldInputsDigest = old.Revision, old.ModelVersion, old.InputsDigest
		}
		res.Changes = append(res.Changes, ch)
		if !c.DryRun {
			res.Saves = append(res.Saves, impact.EstimateSave{Estimate: e, Statements: fresh[id].sts})
		}
	}
	return res, nil
}
