package server

import (
	"context"
	"fmt"
	"math/rand/v2"
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
	got, err := windowsCovering(context.Background(), m, ranges)
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

// closedRange equals the fixed point of widening by every touching window,
// on random windows.
func TestClosedRangeIsTheFixedPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int64) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	for trial := 0; trial < 2000; trial++ {
		var ws []impact.StoredWindow
		for i := r.IntN(12); i >= 0; i-- {
			s := r.Int64N(200)
			ws = append(ws, impact.StoredWindow{OutageWindow: impact.OutageWindow{Start: at(s), End: at(s + 1 + r.Int64N(20))}})
		}
		s := r.Int64N(200)
		rg := impact.CustomerRange{From: at(s), To: at(s + r.Int64N(20))}
		want := rg
		for grew := true; grew; {
			grew = false
			for _, w := range ws {
				if w.End.Before(want.From) || w.Start.After(want.To) {
					continue
				}
				if w.Start.Before(want.From) {
					want.From, grew = w.Start, true
				}
				if w.End.After(want.To) {
					want.To, grew = w.End, true
				}
			}
		}
		if got := closedRange(rg, ws); !got.From.Equal(want.From) || !got.To.Equal(want.To) {
			t.Fatalf("trial %d: closedRange = [%v, %v], want [%v, %v]", trial, got.From, got.To, want.From, want.To)
		}
	}
}
