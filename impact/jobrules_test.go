package impact_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// ChunkPlan with a chunk size of 10 estimates: a chunk closes once its
// customers reach 10, an incident of 25 customers is a chunk alone, and
// the rest is the last chunk.
func TestChunkPlan(t *testing.T) {
	p := impact.ChunkPlan{Size: 10}
	var got []string
	add := func(c impact.PlannedChunk, ok bool) {
		if ok {
			got = append(got, fmt.Sprintf("%v:%d", c.IncidentIDs, c.Customers))
		}
	}
	for _, in := range []struct {
		id string
		n  int64
	}{{"a", 4}, {"b", 5}, {"c", 1}, {"d", 25}, {"e", 0}, {"f", 3}} {
		add(p.Add(in.id, in.n))
	}
	add(p.End())
	// a+b = 9 < 10, +c = 10 closes; d alone is 25; e and f are left.
	if want := "[[a b c]:10 [d]:25 [e f]:3]"; fmt.Sprint(got) != want {
		t.Errorf("chunks %v, want %s", got, want)
	}
	if p.Incidents != 6 || p.Customers != 38 {
		t.Errorf("counted %d incidents, %d customers; want 6, 38", p.Incidents, p.Customers)
	}
	if _, ok := p.End(); ok {
		t.Error("a second End returned a chunk")
	}
}

// A chunk closes at MaxPageSize incidents, however few customers they
// have (a chunk's incidents are read in one batch).
func TestChunkPlanMaxIncidents(t *testing.T) {
	p := impact.ChunkPlan{Size: 1_000_000}
	closed := 0
	for i := range impact.MaxPageSize + 1 {
		if c, ok := p.Add(fmt.Sprintf("i%05d", i), 1); ok {
			closed++
			if len(c.IncidentIDs) != impact.MaxPageSize || c.Customers != int64(impact.MaxPageSize) {
				t.Errorf("closed a chunk of %d incidents, %d customers", len(c.IncidentIDs), c.Customers)
			}
		}
	}
	if c, ok := p.End(); closed != 1 || !ok || len(c.IncidentIDs) != 1 {
		t.Errorf("%d full chunks and a last of %d, want 1 and 1", closed, len(c.IncidentIDs))
	}
}

// CompleteChunk: the job-ending rule.
func TestCompleteChunk(t *testing.T) {
	first := &impact.FirstFailure{IncidentID: "inc-7", Error: "the stored data cannot be estimated"}
	for _, c := range []struct {
		name             string
		done, total      int64
		failed           int64
		jobMV, chunkMV   string
		first            *impact.FirstFailure
		state            impact.JobState
		ended            bool
		msg, mv          string
		askedFirstFailed bool
	}{
		{"chunks remain: RUNNING", 1, 3, 2, "m1", "m2", first, impact.JobRunning, false, "", "m2", false},
		{"last, no failure: SUCCEEDED", 2, 3, 0, "m1", "m2", first, impact.JobSucceeded, true, "", "m2", false},
		{"last, 2 failed: FAILED naming the first", 2, 3, 2, "m1", "m2", first, impact.JobFailed, true,
			"2 estimates failed; first: inc-7: the stored data cannot be estimated", "m2", true},
		{"last, failures not found: the count alone", 0, 1, 1, "m1", "", nil, impact.JobFailed, true,
			"1 estimates failed", "m1", true},
		{"a chunk without a model version keeps the job's", 0, 2, 0, "m1", "", nil, impact.JobRunning, false, "", "m1", false},
	} {
		asked := false
		out, err := impact.CompleteChunk(c.done, c.total, impact.JobCounts{Failed: c.failed}, c.jobMV, c.chunkMV,
			func() (*impact.FirstFailure, error) { asked = true; return c.first, nil })
		if err != nil {
			t.Fatal(err)
		}
		if out.State != c.state || out.Ended != c.ended || out.Message != c.msg || out.ModelVersion != c.mv || asked != c.askedFirstFailed {
			t.Errorf("%s: %+v (asked %v), want %v ended %v %q %q (asked %v)", c.name, out, asked, c.state, c.ended, c.msg, c.mv, c.askedFirstFailed)
		}
	}
	boom := errors.New("boom")
	if _, err := impact.CompleteChunk(0, 1, impact.JobCounts{Failed: 1}, "", "", func() (*impact.FirstFailure, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("the first failure's read error: %v", err)
	}
}
