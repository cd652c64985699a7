package estimating

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// windowsInMemory answers WindowsInRanges from a slice, counting calls.
type windowsInMemory struct {
	impact.EstimateStore
	ws    []impact.StoredWindow
	calls int
}

func (m *windowsInMemory) WindowsInRanges(_ context.Context, ranges []impact.CustomerRange) ([]impact.StoredWindow, error) {
	m.calls++
	var out []impact.StoredWindow
	for _, r := range ranges {
		for _, w := range m.ws {
			if w.CustomerID == r.CustomerID && !w.End.Before(r.From) && !w.Start.After(r.To) {
				out = append(out, w)
			}
		}
	}
	return out, nil
}

// A chain of 4,000 touching one-hour windows reaching far beyond the
// first range is complete after a logarithmic number of fetches (the
// margin doubles), where widening by the windows found took one per
// window.
func TestWindowsCoveringChainFetchesLogarithmically(t *testing.T) {
	base := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	m := &windowsInMemory{}
	for i := 0; i < 4000; i++ {
		st := base.Add(time.Duration(i) * time.Hour)
		m.ws = append(m.ws, impact.StoredWindow{ID: fmt.Sprint(i), IncidentID: "chain",
			OutageWindow: impact.OutageWindow{CustomerID: "c", Service: "api", Start: st, End: st.Add(time.Hour)}})
	}
	// A window far from the chain is not part of it.
	far := base.AddDate(2, 0, 0)
	m.ws = append(m.ws, impact.StoredWindow{ID: "far", IncidentID: "other",
		OutageWindow: impact.OutageWindow{CustomerID: "c", Service: "api", Start: far, End: far.Add(time.Hour)}})
	ranges := []impact.CustomerRange{{CustomerID: "c", From: base.Add(-24 * time.Hour), To: base.Add(48 * time.Hour)}}
	got, err := WindowsCovering(context.Background(), m, ranges)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4000 {
		t.Fatalf("%d windows, want the 4000 of the chain", len(got))
	}
	// 4,000 hours past the first range of 3 days: margins 1, 2, 4, … 128
	// days reach it in 8 rounds, plus the first and the last.
	if m.calls > 10 {
		t.Fatalf("%d fetches, want at most 10", m.calls)
	}
	if want := base.Add(4000 * time.Hour); !ranges[0].To.Equal(want) {
		t.Fatalf("range ends %v, want %v", ranges[0].To, want)
	}
}

// incidentsInMemory answers the incident reads from a map, as the store
// does: BatchGetIncidents fails with ENOTFOUND when one is missing.
type incidentsInMemory struct {
	impact.IncidentStore
	have map[string]impact.Incident
}

func (m *incidentsInMemory) BatchGetIncidents(_ context.Context, ids []string) ([]impact.StoredIncident, error) {
	var out []impact.StoredIncident
	for _, id := range ids {
		in, ok := m.have[id]
		if !ok {
			return nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
		}
		out = append(out, impact.StoredIncident{Incident: in})
	}
	return out, nil
}

func (m *incidentsInMemory) GetIncident(_ context.Context, id string) (*impact.StoredIncident, error) {
	in, ok := m.have[id]
	if !ok {
		return nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
	}
	return &impact.StoredIncident{Incident: in}, nil
}

// Every scenario assembled from stored data reads incidents one way: an
// incident deleted since its windows were read is left out with its
// windows; the target keeps its recovery items, the others lose theirs.
func TestScenarioLeavesOutDeletedIncidents(t *testing.T) {
	t0 := time.Date(2025, 7, 14, 13, 0, 0, 0, time.UTC)
	st := &incidentsInMemory{have: map[string]impact.Incident{
		"a": {ID: "a", Cause: impact.PowerFailure, RecoveryCurrency: "EUR"},
		"b": {ID: "b", Cause: impact.NetworkFailure, RecoveryCurrency: "EUR"},
	}}
	w := func(inc string, h int) impact.StoredWindow {
		return impact.StoredWindow{IncidentID: inc, OutageWindow: impact.OutageWindow{CustomerID: "c", Service: "api",
			Start: t0.Add(time.Duration(h) * time.Hour), End: t0.Add(time.Duration(h+1) * time.Hour)}}
	}
	sc, err := Scenario(context.Background(), st, "a", []impact.Customer{{ID: "c"}},
		[]impact.StoredWindow{w("b", 0), w("gone", 1), w("a", 2), w("b", 3)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range sc.Incidents {
		got = append(got, fmt.Sprintf("%s:%d:%s", in.ID, len(in.Windows), in.RecoveryCurrency))
	}
	if want := "[a:1:EUR b:2:]"; fmt.Sprint(got) != want {
		t.Errorf("incidents %v, want %s", got, want)
	}
}
