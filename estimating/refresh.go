package estimating

import (
	"context"
	"errors"
	"time"

	"github.com/impact-svc/impact/impact"
)

// The refresh (README "Fresh figures"): the recompute workers, when no job
// chunk is free, lease stale estimates whose newest mark is older than the
// quiet delay and recompute them with the code of :estimate
// (Service.Compute), storing each as a revision with
// source REFRESH only when something moved. Leases are rows in the database
// as for job chunks: replicas share the work, and a killed worker's
// estimates are taken again when its lease expires.

// DefaultRefreshDelay is --refresh-delay's default: a burst of writes
// within it costs one recompute.
const DefaultRefreshDelay = 5 * time.Second

// refreshBatch is the most stale estimates one refresh lease takes: their
// data is loaded in one batch, and their writes are one transaction.
const refreshBatch = 100

// RefreshActor is the actor of the refresh's revisions and audit rows.
const RefreshActor = "impactd refresh"

// RefreshReport is what one refresh lease did, for logs and metrics.
type RefreshReport struct {
	Estimates int // leased
	impact.RefreshResult
	Duration time.Duration
}

// refreshStep leases stale estimates and refreshes them. It returns nil
// when there were none.
func (r *Recomputer) refreshStep(ctx context.Context) (*RefreshReport, error) {
	f := freshStore(r.jobs)
	if f == nil {
		return nil, nil
	}
	start := time.Now()
	l, err := f.LeaseRefresh(ctx, r.o.Worker, refreshBatch, r.o.RefreshDelay, r.o.LeaseTTL)
	if err != nil || l == nil {
		return nil, err
	}
	cctx, cancel := r.keepLease(ctx, func(ctx context.Context) error { return f.RenewRefresh(ctx, l, r.o.LeaseTTL) },
		"refresh lease lost")
	defer cancel(nil)
	res, err := r.refresh(impact.WithActor(cctx, RefreshActor), f, l)
	if err != nil {
		if cause := context.Cause(cctx); cause != nil && ctx.Err() == nil {
			err = cause
		}
		if ctx.Err() != nil {
			// Stopping: hand the estimates back at once.
			rctx, c := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = f.RenewRefresh(rctx, l, 0)
			c()
		}
		return &RefreshReport{Estimates: len(l.Items)}, err
	}
	rep := RefreshReport{Estimates: len(l.Items), RefreshResult: *res, Duration: time.Since(start)}
	r.o.Logger.Info("refreshed stale estimates", "estimates", rep.Estimates, "revisions", rep.Revisions,
		"unchanged", rep.Unchanged, "failed", rep.Failed, "lost", rep.Lost, "time_ms", rep.Duration.Milliseconds())
	if r.o.OnRefresh != nil {
		r.o.OnRefresh(rep)
	}
	return &rep, nil
}

// refresh computes the leased estimates from the data stored now and
// completes the lease. An estimate whose stored data cannot be estimated
// (FAILED_PRECONDITION, INVALID_ARGUMENT) is recorded as failed, with why,
// and stays STALE; the others go on. Any other error fails the lease,
// which is then retried.
func (r *Recomputer) refresh(ctx context.Context, f impact.FreshStore, l *impact.RefreshLease) (*impact.RefreshResult, error) {
	seq, err := ReadSeq(ctx, r.store)
	if err != nil {
		return nil, err
	}
	settings, err := StoredSettings(ctx, r.store)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(l.Items))
	for i, it := range l.Items {
		ids[i] = it.IncidentID
	}
	b, err := loadBatch(ctx, r.store, ids)
	if err != nil {
		return nil, err
	}
	now := r.o.Now()
	var saves []impact.EstimateSave
	var failures []impact.RefreshFailure
	for _, it := range l.Items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		opt := refreshOptions(settings, it.ReportingCurrency, it.FXRates, it.UsesSettings)
		e, sts, err := r.svc.estimate(ctx, b, it.IncidentID, opt, seq, now)
		var ie *impact.Error
		switch {
		case errors.As(err, &ie) && ie.Code == impact.ENOTFOUND:
			continue // deleted meanwhile: its estimate went with it
		case errors.As(err, &ie) && (ie.Code == impact.EFAILEDPRECOND || ie.Code == impact.EINVALID):
			failures = append(failures, impact.RefreshFailure{IncidentID: it.IncidentID, Error: failureText(ie), ReadSeq: seq})
			continue
		case err != nil:
			return nil, err
		}
		e.IncidentID = it.IncidentID
		saves = append(saves, impact.EstimateSave{Estimate: e, Statements: sts})
	}
	return f.CompleteRefresh(ctx, l, saves, failures)
}

// RefreshPending refreshes every stale estimate due now (as the workers
// would, whether or not a job chunk is free) until none is left, and
// returns what it did. Tests drive the refresh with it instead of
// sleeping; the quiet delay still applies.
func (r *Recomputer) RefreshPending(ctx context.Context) (RefreshReport, error) {
	var total RefreshReport
	for {
		got, err := r.refreshStep(ctx)
		if err != nil || got == nil {
			return total, err
		}
		total.Estimates += got.Estimates
		total.Revisions += got.Revisions
		total.Unchanged += got.Unchanged
		total.Failed += got.Failed
		total.Lost += got.Lost
		total.Duration += got.Duration
	}
}
