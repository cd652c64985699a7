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
