package impact_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// ClosedRange equals the fixed point of widening by every touching window,
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
		if got := impact.ClosedRange(rg, ws); !got.From.Equal(want.From) || !got.To.Equal(want.To) {
			t.Fatalf("trial %d: impact.ClosedRange = [%v, %v], want [%v, %v]", trial, got.From, got.To, want.From, want.To)
		}
	}
}
