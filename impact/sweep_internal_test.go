package impact

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
)

func TestOverlapSeconds(t *testing.T) {
	for _, tc := range []struct {
		a, b []interval
		want int64
	}{
		{nil, []interval{{0, 10}}, 0},
		// [0,30)∩[0,60) = 30; [120,150)∩[120,180) = 30: 60.
		{[]interval{{0, 30}, {120, 150}}, []interval{{0, 60}, {120, 180}}, 60},
		// One interval of a across three of b: 5 + 10 + 5 = 20.
		{[]interval{{5, 45}}, []interval{{0, 10}, {20, 30}, {40, 50}}, 20},
		// Touching is not overlapping.
		{[]interval{{0, 10}}, []interval{{10, 20}}, 0},
	} {
		if got := overlapSeconds(tc.a, tc.b, nil); got != tc.want {
			t.Errorf("overlapSeconds(%v, %v) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestSubtractIntervals(t *testing.T) {
	// [0,100) minus [10,20) and [90,120): [0,10) [20,90); [200,300) minus
	// nothing overlapping stays.
	got := subtractIntervals([]interval{{0, 100}, {200, 300}}, []interval{{10, 20}, {90, 120}}, nil)
	want := []interval{{0, 10}, {20, 90}, {200, 300}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A cut covering several intervals removes them all.
	if got := subtractIntervals([]interval{{0, 10}, {20, 30}}, []interval{{0, 30}}, nil); len(got) != 0 {
		t.Fatalf("got %v, want nothing", got)
	}
}

// The new order of operations (cover or merge first, then cut maintenance)
// gives exactly the spans of the old one (cut every window, then cover or
// merge), on random inputs.
func TestCutAfterCoverEqualsCutBefore(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	fracs := []decimal.Decimal{decimal.RequireFromString("0.5"), decimal.RequireFromString("0.50"), decOne, decimal.RequireFromString("0.25")}
	for trial := 0; trial < 2000; trial++ {
		var spans []fracSpan
		for i := r.IntN(8); i >= 0; i-- {
			s := r.Int64N(100)
			spans = append(spans, fracSpan{s, s + 1 + r.Int64N(30), fracs[r.IntN(len(fracs))]})
		}
		var raw []interval
		for i := r.IntN(4); i > 0; i-- {
			s := r.Int64N(120)
			raw = append(raw, interval{s, s + 1 + r.Int64N(10)})
		}
		cut := mergeIntervals(raw)
		oldProp := maxCover(subtract(spans, cut, nil), nil)
		newProp := subtract(maxCover(spans, nil), cut, nil)
		if len(oldProp) != len(newProp) {
			t.Fatalf("trial %d: proportional %v, want %v", trial, newProp, oldProp)
		}
		for i := range oldProp {
			if oldProp[i].start != newProp[i].start || oldProp[i].end != newProp[i].end || !oldProp[i].frac.Equal(newProp[i].frac) {
				t.Fatalf("trial %d: proportional %v, want %v", trial, newProp, oldProp)
			}
		}
		k := &cContract{threshold: decimal.RequireFromString("0.5"), maintenance: cut}
		var oldPass []interval
		for _, sp := range subtract(spans, cut, nil) {
			if sp.frac.Cmp(k.threshold) >= 0 {
				oldPass = append(oldPass, interval{sp.start, sp.end})
			}
		}
		oldPass = mergeIntervals(oldPass)
		if newPass := k.passing(spans, nil); !reflect.DeepEqual(oldPass, newPass) && !(len(oldPass) == 0 && len(newPass) == 0) {
			t.Fatalf("trial %d: passing %v, want %v", trial, newPass, oldPass)
		}
	}
}

// seasonSegments: factors ×2 on [0,100) and ×3 on [50,150): [0,50) ×2,
// [50,100) ×6, [100,150) ×3; a gap, then ×0.5 on [200,210).
func TestSeasonSegments(t *testing.T) {
	d := decimal.RequireFromString
	got := seasonSegments([]seasonalFactor{{0, 100, d("2")}, {50, 150, d("3")}, {200, 210, d("0.5")}})
	want := []seasonSeg{{0, 50, d("2")}, {50, 100, d("6")}, {100, 150, d("3")}, {200, 210, d("0.5")}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].start != want[i].start || got[i].end != want[i].end || !got[i].mult.Equal(want[i].mult) {
			t.Fatalf("segment %d: got %v, want %v", i, got[i], want[i])
		}
	}
}

// fractionIndex keeps one accumulator per value, whatever its spelling.
func TestFractionIndex(t *testing.T) {
	x := fractionIndex{}
	a := x.find(decimal.RequireFromString("0.5"))
	b := x.find(decimal.RequireFromString("0.25"))
	if x.find(decimal.RequireFromString("0.50")) != a || x.find(decimal.RequireFromString("0.250")) != b || len(x.list) != 2 {
		t.Fatal("equal fractions got different accumulators")
	}
	// The sparse seconds table: 20 indexes (past the linear scan) add up.
	for i := 0; i < 40; i++ {
		a.add(i%20, int64(i))
	}
	for k, idx := range a.touched {
		if want := int64(idx) + int64(idx) + 20; a.secs[k] != want { // i and i+20
			t.Fatalf("index %d: %d seconds, want %d", idx, a.secs[k], want)
		}
	}
}
