package impact

import (
	"cmp"
	"slices"
	"sort"

	"github.com/shopspring/decimal"
)

// mergeIntervals returns the union of spans as sorted, disjoint, non-touching
// intervals ([a,b) and [b,c) become [a,c)).
func mergeIntervals(spans []interval) []interval {
	if len(spans) == 0 {
		return nil
	}
	s := append([]interval(nil), spans...)
	slices.SortFunc(s, func(a, b interval) int { return cmp.Compare(a.start, b.start) })
	out := s[:1]
	for _, iv := range s[1:] {
		last := &out[len(out)-1]
		if iv.start <= last.end {
			if iv.end > last.end {
				last.end = iv.end
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// subtract removes the sorted disjoint intervals cut from each span, keeping
// each remaining piece's fraction.
func subtract(spans []fracSpan, cut []interval, stop *stopper) []fracSpan {
	if len(cut) == 0 {
		return spans
	}
	var out []fracSpan
	for _, sp := range spans {
		stop.tick()
		// First cut interval that can overlap sp.
		i := sort.Search(len(cut), func(i int) bool { return cut[i].end > sp.start })
		start := sp.start
		for ; i < len(cut) && cut[i].start < sp.end; i++ {
			stop.tick()
			if cut[i].start > start {
				out = append(out, fracSpan{start, cut[i].start, sp.frac})
			}
			if cut[i].end > start {
				start = cut[i].end
			}
		}
		if start < sp.end {
			out = append(out, fracSpan{start, sp.end, sp.frac})
		}
	}
	return out
}

// subtractIntervals removes the sorted disjoint intervals cut from the
// sorted disjoint ivs: one pass over both.
func subtractIntervals(ivs, cut []interval, stop *stopper) []interval {
	if len(cut) == 0 || len(ivs) == 0 {
		return ivs
	}
	var out []interval
	j := 0
	for _, iv := range ivs {
		stop.tick()
		for j < len(cut) && cut[j].end <= iv.start {
			stop.tick()
			j++
		}
		start := iv.start
		for c := j; c < len(cut) && cut[c].start < iv.end; c++ {
			stop.tick()
			if cut[c].start > start {
				out = append(out, interval{start, cut[c].start})
			}
			start = max(start, cut[c].end)
		}
		if start < iv.end {
			out = append(out, interval{start, iv.end})
		}
	}
	return out
}

// maxCover turns possibly overlapping spans into sorted disjoint spans where
// the fraction at each instant is the maximum over the spans covering it
// (model.md §2: never double counted). Adjacent spans with equal fractions
// are joined. Cost O(n log n).
func maxCover(spans []fracSpan, stop *stopper) []fracSpan {
	switch len(spans) {
	case 0:
		return nil
	case 1:
		return spans
	}
	s := append([]fracSpan(nil), spans...)
	slices.SortFunc(s, func(a, b fracSpan) int { return cmp.Compare(a.start, b.start) })
	points := make([]int64, 0, 2*len(s))
	for _, sp := range s {
		points = append(points, sp.start, sp.end)
	}
	slices.Sort(points)

	var out []fracSpan
	active := make(spanHeap, 0, len(s))
	next := 0
	for pi := 0; pi < len(points)-1; pi++ {
		stop.tick()
		t, u := points[pi], points[pi+1]
		if t == u {
			continue
		}
		for next < len(s) && s[next].start <= t {
			active.push(s[next])
			next++
		}
		for len(active) > 0 && active[0].end <= t {
			active.pop()
		}
		// Lazily drop expired spans that are not on top: the top is the max
		// fraction among spans with start ≤ t; an expired top is popped above.
		if len(active) == 0 {
			continue
		}
		f := active[0].frac
		if n := len(out); n > 0 && out[n-1].end == t && cmpDec(out[n-1].frac, f) == 0 {
			out[n-1].end = u
		} else {
			out = append(out, fracSpan{t, u, f})
		}
	}
	return out
}

// spanHeap is a max-heap of spans by fraction: container/heap's sift-up
// and sift-down on the typed slice, so no span is boxed in an interface.
type spanHeap []fracSpan

func (h spanHeap) less(i, j int) bool { return cmpDec(h[i].frac, h[j].frac) > 0 }

func (h *spanHeap) push(sp fracSpan) {
	*h = append(*h, sp)
	q := *h
	for j := len(q) - 1; j > 0; {
		i := (j - 1) / 2
		if !q.less(j, i) {
			break
		}
		q[i], q[j] = q[j], q[i]
		j = i
	}
}

func (h *spanHeap) pop() {
	q := *h
	n := len(q) - 1
	q[0], q[n] = q[n], q[0]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if j2 := j + 1; j2 < n && q.less(j2, j) {
			j = j2
		}
		if !q.less(j, i) {
			break
		}
		q[i], q[j] = q[j], q[i]
		i = j
	}
	*h = q[:n]
}

// seasonSegments splits the timeline at every seasonal factor edge and keeps
// the spans covered by at least one factor with the product of their
// multipliers. A sweep over the sorted edges keeps the product of the
// covering factors in a product tree (a factor not covering is 1 there),
// so f overlapping factors cost O(f log f) multiplications, not f².
func seasonSegments(fs []seasonalFactor) []seasonSeg {
	if len(fs) == 0 {
		return nil
	}
	type edge struct {
		at    int64
		i     int
		start bool
	}
	edges := make([]edge, 0, 2*len(fs))
	for i, f := range fs {
		edges = append(edges, edge{f.start, i, true}, edge{f.end, i, false})
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.at, b.at) })
	size := 1
	for size < len(fs) {
		size *= 2
	}
	tree := make([]decimal.Decimal, 2*size)
	for i := range tree {
		tree[i] = decOne
	}
	set := func(i int, v decimal.Decimal) {
		i += size
		tree[i] = v
		for i /= 2; i >= 1; i /= 2 {
			tree[i] = tree[2*i].Mul(tree[2*i+1])
		}
	}
	var out []seasonSeg
	covering := 0
	for k := 0; k < len(edges); {
		at := edges[k].at
		for ; k < len(edges) && edges[k].at == at; k++ {
			if e := edges[k]; e.start {
				set(e.i, fs[e.i].mult)
				covering++
			} else {
				set(e.i, decOne)
				covering--
			}
		}
		if covering > 0 && k < len(edges) {
			out = append(out, seasonSeg{at, edges[k].at, tree[1]})
		}
	}
	return out
}

// integral returns ∫ f dt of disjoint spans: Σ length × fraction, exact.
func integral(spans []fracSpan) decimal.Decimal {
	if f, ok := integralFixed(spans); ok {
		return f.dec()
	}
	sum := decZero
	for _, sp := range spans {
		sum = sum.Add(sp.frac.Mul(decimal.NewFromInt(sp.end - sp.start)))
	}
	return sum
}

// integralFixed is integral in fixed point, false when out of range.
func integralFixed(spans []fracSpan) (fixed, bool) {
	var sum fixed
	for _, sp := range spans {
		fr, ok := fixedOf(sp.frac)
		if !ok {
			return fixed{}, false
		}
		p, ok := fr.mul(fixedInt(sp.end - sp.start))
		if !ok {
			return fixed{}, false
		}
		if sum, ok = sum.add(p); !ok {
			return fixed{}, false
		}
	}
	return sum, true
}
