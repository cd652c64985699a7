package impact

import "fmt"

// The rules of a recompute job that do not depend on where it is stored:
// how its incidents are cut into chunks, and what completing a chunk makes
// of the job. The store applies them inside its transactions.

// PlannedChunk is one chunk of a job being planned: consecutive incidents
// (by id) and their (incident, customer) estimates.
type PlannedChunk struct {
	IncidentIDs []string
	Customers   int64
}

// ChunkPlan cuts a job's incidents, added in id order, into chunks as
// JobStore.CreateJob says: a chunk closes once its affected customers reach
// Size or it holds MaxPageSize incidents, so an incident larger than Size
// is a chunk of its own. The zero value with Size set is ready to use.
type ChunkPlan struct {
	Size int
	// Incidents and Customers count everything added: the job's
	// Counts.Total and Counts.CustomersTotal.
	Incidents, Customers int64
	cur                  PlannedChunk
}

// Add adds incident id with its affected customers. It returns the chunk
// this closes, if any.
func (p *ChunkPlan) Add(id string, customers int64) (PlannedChunk, bool) {
	p.Incidents++
	p.Customers += customers
	p.cur.IncidentIDs = append(p.cur.IncidentIDs, id)
	p.cur.Customers += customers
	if p.cur.Customers >= int64(p.Size) || len(p.cur.IncidentIDs) == MaxPageSize {
		return p.take(), true
	}
	return PlannedChunk{}, false
}

// End returns the last chunk, if any incident is left in it.
func (p *ChunkPlan) End() (PlannedChunk, bool) {
	if len(p.cur.IncidentIDs) == 0 {
		return PlannedChunk{}, false
	}
	return p.take(), true
}

func (p *ChunkPlan) take() PlannedChunk {
	c := p.cur
	p.cur = PlannedChunk{}
	return c
}

// FirstFailure is the failed estimate a FAILED job's message names: the
// first by incident id.
type FirstFailure struct {
	IncidentID, Error string
}

// ChunkOutcome is what completing one more chunk makes of its job.
type ChunkOutcome struct {
	State        JobState // RUNNING, or SUCCEEDED or FAILED with the last chunk
	Ended        bool     // the last chunk: the job's end time is set
	Message      string   // a FAILED job's error
	ModelVersion string   // the job's model version from now on
}

// CompleteChunk is the job-ending rule: a job whose chunksDone of
// chunksTotal chunks were done before this one stays RUNNING while chunks
// remain; with the last one it ends SUCCEEDED, or FAILED when any estimate
// failed (counts are the job's sums with this chunk's), its message naming
// how many and the first failure (firstFailure is asked only then; nil when
// none is found). The job carries the model version of the last chunk that
// names one (chunkModel), else keeps its own (jobModel).
func CompleteChunk(chunksDone, chunksTotal int64, counts JobCounts, jobModel, chunkModel string,
	firstFailure func() (*FirstFailure, error)) (ChunkOutcome, error) {
	o := ChunkOutcome{State: JobRunning, ModelVersion: jobModel}
	if chunkModel != "" {
		o.ModelVersion = chunkModel
	}
	if chunksDone+1 < chunksTotal {
		return o, nil
	}
	o.State, o.Ended = JobSucceeded, true
	if counts.Failed == 0 {
		return o, nil
	}
	o.State = JobFailed
	first, err := firstFailure()
	if err != nil {
		return ChunkOutcome{}, err
	}
	if first != nil {
		o.Message = fmt.Sprintf("%d estimates failed; first: %s: %s", counts.Failed, first.IncidentID, first.Error)
	} else {
		o.Message = fmt.Sprintf("%d estimates failed", counts.Failed)
	}
	return o, nil
}
