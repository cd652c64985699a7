package impact

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Recompute jobs (issue 5). A job recomputes the stored estimates of the
// incidents its filter selects, from the data stored now, with the engine
// of this build. Its work is split into chunks of incidents leased in the
// database, so that several processes can share a job and a crashed one's
// chunk goes to another when its lease expires. A chunk's writes — new
// estimate revisions, statements, the chunk's changes, its counts added to
// the job — are one transaction together with marking the chunk done: a
// chunk is done exactly once, whatever is killed when.

// JobState is the state of a recompute job.
type JobState int

const (
	JobStateUnspecified JobState = iota
	JobQueued                    // created, no chunk leased yet
	JobRunning                   // a chunk has been leased
	JobSucceeded                 // every chunk done, no estimate failed
	JobFailed                    // every chunk done, some estimates failed (Error says which)
	JobCancelled                 // cancelled; chunks done before stay done
)

// Terminal reports whether no chunk of a job in state s will run again.
func (s JobState) Terminal() bool { return s == JobSucceeded || s == JobFailed || s == JobCancelled }

func (s JobState) String() string {
	switch s {
	case JobQueued:
		return "QUEUED"
	case JobRunning:
		return "RUNNING"
	case JobSucceeded:
		return "SUCCEEDED"
	case JobFailed:
		return "FAILED"
	case JobCancelled:
		return "CANCELLED"
	}
	return "STATE_UNSPECIFIED"
}

// RecomputeFilter selects the incidents of a job. Every criterion given
// must hold (AND); an empty filter selects every incident.
//
//   - Since/Until: the incident has a window overlapping [Since, Until)
//     (a zero bound is open);
//   - CustomerIDs: the incident has a window of one of these customers —
//     the whole incident is recomputed, since its recovery allocation
//     spans all its customers;
//   - IncidentIDs: the incident is one of these.
type RecomputeFilter struct {
	Since, Until time.Time
	CustomerIDs  []string
	IncidentIDs  []string
}

// Empty reports whether f selects every incident.
func (f *RecomputeFilter) Empty() bool {
	return f.Since.IsZero() && f.Until.IsZero() && len(f.CustomerIDs) == 0 && len(f.IncidentIDs) == 0
}

// MaxFilterIDs bounds the ids of each list of a RecomputeFilter.
const MaxFilterIDs = 1000

// Validate checks f: bounded, well-formed id lists (no duplicates), and
// Since before Until when both are set.
func (f *RecomputeFilter) Validate() error {
	var vs []FieldViolation
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		vs = append(vs, FieldViolation{Field: "filter.until", Description: "must be after filter.since"})
	}
	for _, l := range []struct {
		field string
		ids   []string
	}{{"filter.customer_ids", f.CustomerIDs}, {"filter.incident_ids", f.IncidentIDs}} {
		if len(l.ids) > MaxFilterIDs {
			vs = append(vs, FieldViolation{Field: l.field, Description: "at most 1000 ids"})
			continue
		}
		seen := make(map[string]bool, len(l.ids))
		for i, id := range l.ids {
			p := rootElem(l.field, i).String()
			switch {
			case id == "" || len(id) > 256 || containsSlash(id):
				vs = append(vs, FieldViolation{Field: p, Description: "must be a non-empty id without \"/\", at most 256 bytes"})
			case seen[id]:
				vs = append(vs, FieldViolation{Field: p, Description: "duplicate id " + id})
			}
			seen[id] = true
		}
	}
	if len(vs) > 0 {
		return &Error{Code: EINVALID, Message: "invalid recompute filter", Violations: vs}
	}
	return nil
}

func containsSlash(s string) bool { return strings.IndexByte(s, '/') >= 0 }

// JobCounts counts a job's incident estimates. Done counts every estimate
// processed, failed ones included, so Done == Total when the job ends
// (unless cancelled). Changed counts the estimates that changed (or, in a
// dry run, would change); CustomersChanged the (incident, customer)
// estimates among them whose figures moved.
type JobCounts struct {
	Total, Done, Changed, Failed int64
	CustomersTotal               int64 // (incident, customer) estimates in the job's incidents when planned
	CustomersDone                int64 // (incident, customer) estimates computed
	CustomersChanged             int64
}

// Add adds o to c.
func (c *JobCounts) Add(o JobCounts) {
	c.Total += o.Total
	c.Done += o.Done
	c.Changed += o.Changed
	c.Failed += o.Failed
	c.CustomersTotal += o.CustomersTotal
	c.CustomersDone += o.CustomersDone
	c.CustomersChanged += o.CustomersChanged
}

// FigureDifferences is, in one currency, new minus old of each figure of
// an incident's totals (model.md §7): what a recompute moves. It has the
// shape of the totals it is the difference of.
type FigureDifferences = CurrencyTotals

func (d *FigureDifferences) zero() bool {
	return d.LostRevenueGross.IsZero() && d.LostRevenueNet.IsZero() && d.RecoveryCost.IsZero() &&
		d.SLACredits.IsZero() && d.ChurnExposure.IsZero()
}

// AddDifferences returns a + b by currency, sorted by currency, dropping
// currencies where every figure sums to zero. Neither input is modified.
func AddDifferences(a, b []FigureDifferences) []FigureDifferences {
	at := map[string]int{}
	var out []FigureDifferences
	for _, l := range [][]FigureDifferences{a, b} {
		for _, d := range l {
			i, ok := at[d.Currency]
			if !ok {
				i = len(out)
				at[d.Currency] = i
				out = append(out, FigureDifferences{Currency: d.Currency})
			}
			s := &out[i]
			s.LostRevenueGross = s.LostRevenueGross.Add(d.LostRevenueGross)
			s.LostRevenueNet = s.LostRevenueNet.Add(d.LostRevenueNet)
			s.RecoveryCost = s.RecoveryCost.Add(d.RecoveryCost)
			s.SLACredits = s.SLACredits.Add(d.SLACredits)
			s.ChurnExposure = s.ChurnExposure.Add(d.ChurnExposure)
		}
	}
	kept := out[:0]
	for _, d := range out {
		if !d.zero() {
			kept = append(kept, d)
		}
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].Currency < kept[j].Currency })
	return kept
}

// RecomputeJob is a stored recompute job, "recomputeJobs/{ID}".
type RecomputeJob struct {
	ID           string
	Name         string
	Filter       RecomputeFilter
	DryRun       bool
	State        JobState
	Counts       JobCounts
	Differences  []FigureDifferences // summed over the job's changes, by currency
	Error        string              // why the job failed; empty otherwise
	ModelVersion string              // the engine that ran it (of the last chunk done)
	Creator      string              // actor that created it
	CreateTime   time.Time
	StartTime    time.Time // first chunk leased; zero before
	EndTime      time.Time // reached a terminal state; zero before
	UpdateTime   time.Time
}

// RecomputeChange is one estimate a job changed (or, in a dry run, would
// change) or failed to compute: "recomputeJobs/{job}/changes/{IncidentID}".
type RecomputeChange struct {
	IncidentID       string
	OldRevision      int64 // latest revision before the job; 0 if there was none
	NewRevision      int64 // revision the job stored; 0 in a dry run or on failure
	OldModelVersion  string
	OldInputsDigest  string
	NewInputsDigest  string
	CustomersChanged int64
	Differences      []FigureDifferences
	Error            string // set when the estimate could not be computed
}

// Chunk is a leased piece of a job: the incidents to recompute, by
// ascending id. Token proves the lease: renewing and completing need it,
// and fail with EABORTED once another worker has taken the chunk.
type Chunk struct {
	JobID       string
	Seq         int64
	IncidentIDs []string
	DryRun      bool
	Token       string
	Expires     time.Time
}

// EstimateSave is one new estimate revision with its statements, as
// SaveEstimate takes them.
type EstimateSave struct {
	Estimate   *StoredEstimate
	Statements []StoredStatement
}

// ChunkResult is what a worker did with a chunk. Saves is empty in a dry
// run. Changes lists the changed and the failed estimates; their
// NewRevision is filled in by CompleteChunk.
type ChunkResult struct {
	Saves        []EstimateSave
	Changes      []RecomputeChange
	Counts       JobCounts // Total and CustomersTotal are ignored
	Differences  []FigureDifferences
	ModelVersion string
}

// JobStore keeps recompute jobs and their chunks. As for Store, every
// method returns *Error with a documented code or an internal error.
type JobStore interface {
	// CreateJob stores a QUEUED job over the incidents f selects now, in one
	// transaction. They are split into chunks of consecutive incidents (by
	// id) holding about chunkSize (incident, customer) estimates each: a
	// chunk closes once its affected customers reach chunkSize or it holds
	// MaxPageSize incidents, so an incident larger than chunkSize is a
	// chunk of its own. Counts.Total and Counts.CustomersTotal are set.
	// requestID as in Store. When join is true and a job with the same
	// filter and dry run is still QUEUED or RUNNING, that job is returned
	// instead (created false); when join is false that is ECONFLICT.
	// EINVALID for a bad filter or chunk size.
	CreateJob(ctx context.Context, f RecomputeFilter, dryRun bool, chunkSize int, requestID string, join bool) (job *RecomputeJob, created bool, err error)
	// GetJob returns ENOTFOUND if the job does not exist.
	GetJob(ctx context.Context, id string) (*RecomputeJob, error)
	// ListJobs lists jobs, newest first.
	ListJobs(ctx context.Context, page PageRequest) (*Page[RecomputeJob], error)
	// CancelJob cancels a QUEUED or RUNNING job: no chunk is leased or
	// completed after it. Cancelling a cancelled job returns it unchanged;
	// EFAILEDPRECOND if it has succeeded or failed.
	CancelJob(ctx context.Context, id string) (*RecomputeJob, error)
	// LeaseChunk leases the next chunk of job jobID (any non-terminal job,
	// oldest first, when jobID is "") that is not done and not under an
	// unexpired lease, until now+ttl, and marks its job RUNNING. It returns
	// nil when there is none. Concurrent callers, in this process or
	// others, never get the same chunk under overlapping leases.
	LeaseChunk(ctx context.Context, jobID, worker string, ttl time.Duration) (*Chunk, error)
	// RenewLease extends c's lease to now+ttl; a ttl of 0 hands the chunk
	// back to any worker. EABORTED if the lease was lost or the job is no
	// longer running.
	RenewLease(ctx context.Context, c *Chunk, ttl time.Duration) error
	// CompleteChunk, in one transaction: checks c's lease (EABORTED if it
	// was lost or the job is no longer running, writing nothing), stores
	// each of r.Saves as a new revision (as SaveEstimate), records
	// r.Changes, adds r.Counts and r.Differences to the job, marks the
	// chunk done, and when it was the last one ends the job (SUCCEEDED, or
	// FAILED when any estimate failed). Returns the job as it is then.
	CompleteChunk(ctx context.Context, c *Chunk, r *ChunkResult) (*RecomputeJob, error)
	// ListChanges lists a job's changes by ascending incident id.
	// ENOTFOUND if the job does not exist.
	ListChanges(ctx context.Context, jobID string, page PageRequest) (*Page[RecomputeChange], error)
	// LatestEstimates returns the latest stored revision of each incident
	// that has one (at most MaxPageSize ids), keyed by incident id, with
	// the reporting options it was computed with.
	LatestEstimates(ctx context.Context, incidentIDs []string) (map[string]*StoredEstimate, error)
	// LatestEstimateHeads is LatestEstimates without the figures
	// (IncidentEstimate is zero): what a recompute needs to tell an
	// unchanged estimate (same model version, same inputs digest) from one
	// that needs comparing.
	LatestEstimateHeads(ctx context.Context, incidentIDs []string) (map[string]*StoredEstimate, error)
}

// JobName is the resource name of a recompute job.
func JobName(id string) string { return "recomputeJobs/" + id }

// EstimateChange compares a recomputed estimate with the stored one.
type EstimateChange struct {
	Changed          bool  // a figure, the set of customers or the model version differs
	CustomersChanged int64 // (incident, customer) estimates whose figures differ, added or removed
	Differences      []FigureDifferences
}

// SameComputation reports whether next was computed by the same rules
// (model version) from the same inputs (inputs digest, which covers the
// reporting options too) as prev: then its figures are prev's, since the
// engine is deterministic, and a recompute need not read prev's figures to
// know. The model version must move whenever a rule changes a figure.
func SameComputation(prev, next *StoredEstimate) bool {
	return prev != nil && prev.ModelVersion == next.ModelVersion && prev.InputsDigest == next.InputsDigest && prev.InputsDigest != ""
}

// CompareEstimates compares next with prev (nil when the incident has no
// stored estimate). Figures are compared as numbers, so a stored "1.5" and
// a computed 1.50 are equal; the inputs digest alone never makes a change,
// since inputs that move no figure (a display name) change nothing a
// finance user reads.
func CompareEstimates(prev *StoredEstimate, next *StoredEstimate) EstimateChange {
	var ch EstimateChange
	var old *IncidentEstimate
	if prev != nil {
		old = &prev.IncidentEstimate
	} else {
		old = &IncidentEstimate{}
	}
	neu := &next.IncidentEstimate
	ch.Differences = totalsDifferences(old.Totals, neu.Totals)
	i, j := 0, 0
	for i < len(old.Customers) || j < len(neu.Customers) {
		switch {
		case j == len(neu.Customers) || (i < len(old.Customers) && old.Customers[i].CustomerID < neu.Customers[j].CustomerID):
			ch.CustomersChanged++
			i++
		case i == len(old.Customers) || neu.Customers[j].CustomerID < old.Customers[i].CustomerID:
			ch.CustomersChanged++
			j++
		default:
			if !sameCustomerEstimate(&old.Customers[i], &neu.Customers[j]) {
				ch.CustomersChanged++
			}
			i++
			j++
		}
	}
	ch.Changed = prev == nil || ch.CustomersChanged > 0 || len(ch.Differences) > 0 ||
		prev.ModelVersion != next.ModelVersion || !sameTotals(old.ReportingTotals, neu.ReportingTotals)
	return ch
}

func totalsDifferences(old, neu []CurrencyTotals) []FigureDifferences {
	neg := make([]FigureDifferences, len(old))
	for i, t := range old {
		neg[i] = FigureDifferences{Currency: t.Currency, LostRevenueGross: t.LostRevenueGross.Neg(),
			LostRevenueNet: t.LostRevenueNet.Neg(), RecoveryCost: t.RecoveryCost.Neg(),
			SLACredits: t.SLACredits.Neg(), ChurnExposure: t.ChurnExposure.Neg()}
	}
	return AddDifferences(neg, neu)
}

func sameMoney(a, b Money) bool { return a.Currency == b.Currency && a.Amount.Equal(b.Amount) }

func sameCustomerEstimate(a, b *CustomerEstimate) bool {
	if a.CustomerID != b.CustomerID || !a.ImpactSeconds.Equal(b.ImpactSeconds) ||
		!sameMoney(a.LostRevenue.Gross, b.LostRevenue.Gross) || !sameMoney(a.LostRevenue.Net, b.LostRevenue.Net) ||
		!sameMoney(a.LostRevenue.Recaptured, b.LostRevenue.Recaptured) || !sameMoney(a.ChurnExposure, b.ChurnExposure) ||
		(a.RecoveryCost == nil) != (b.RecoveryCost == nil) || len(a.SLACredits) != len(b.SLACredits) {
		return false
	}
	if a.RecoveryCost != nil && !sameMoney(*a.RecoveryCost, *b.RecoveryCost) {
		return false
	}
	for k := range a.SLACredits {
		x, y := &a.SLACredits[k], &b.SLACredits[k]
		if x.Service != y.Service || !x.PeriodStart.Equal(y.PeriodStart) || !sameMoney(x.Credit, y.Credit) {
			return false
		}
	}
	return true
}

func sameTotals(a, b *CurrencyTotals) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Currency == b.Currency && a.LostRevenueGross.Equal(b.LostRevenueGross) &&
		a.LostRevenueNet.Equal(b.LostRevenueNet) && a.RecoveryCost.Equal(b.RecoveryCost) &&
		a.SLACredits.Equal(b.SLACredits) && a.ChurnExposure.Equal(b.ChurnExposure)
}
