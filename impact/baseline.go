package impact

import (
	"sort"

	"github.com/shopspring/decimal"
)

// revenueNumerator returns Σ rate × seconds × fraction over disjoint spans
// (model.md §3). Divided by 3600 it is the exact gross lost revenue; the
// caller divides once, when rounding. Cost grows with local hours and
// seasonal segments, never with seconds.
func (c *cCustomer) revenueNumerator(spans []fracSpan) decimal.Decimal {
	total := decZero
	z := newZoneCursor(c.loc)
	var secs [168]int64 // seconds at the plain profile rate, per profile index
	touched := make([]int, 0, 8)
	for _, sp := range spans {
		extra := decZero // override hours and seasonally scaled seconds, already × rate
		si := sort.Search(len(c.seasons), func(i int) bool { return c.seasons[i].end > sp.start })
		for t := sp.start; t < sp.end; {
			b := z.bucketAt(t)
			e := min(b.end, sp.end)
			if amount, ok := c.overrides[b.start]; ok {
				// An override is the whole rate of its hour (doc.go).
				extra = extra.Add(parseChecked(amount).Mul(decimal.NewFromInt(e - t)))
				t = e
				continue
			}
			plain := e - t
			for si < len(c.seasons) && c.seasons[si].start < e {
				seg := c.seasons[si]
				if lo, hi := max(seg.start, t), min(seg.end, e); lo < hi {
					plain -= hi - lo
					extra = extra.Add(c.rate(b.index).Mul(seg.mult).Mul(decimal.NewFromInt(hi - lo)))
				}
				if seg.end > e {
					break // it goes on into the next hour
				}
				si++
			}
			if plain > 0 {
				if secs[b.index] == 0 {
					touched = append(touched, b.index)
				}
				secs[b.index] += plain
			}
			t = e
		}
		for _, idx := range touched {
			extra = extra.Add(c.rate(idx).Mul(decimal.NewFromInt(secs[idx])))
			secs[idx] = 0
		}
		touched = touched[:0]
		total = total.Add(extra.Mul(sp.frac))
	}
	return total
}

// lostRevenue rounds the exact figures of §3 once each: gross, net =
// gross × (1 − recapture), recaptured = gross − net of the rounded values.
func (c *cCustomer) lostRevenue(spans []fracSpan) LostRevenue {
	num := c.revenueNumerator(spans)
	recapture := decimalOr(c.recapture, decZero)
	gross := roundRat(num, 3600, c.exp, HalfEven)
	net := roundRat(num.Mul(decOne.Sub(recapture)), 3600, c.exp, HalfEven)
	return LostRevenue{
		Gross:      Money{c.currency, gross},
		Net:        Money{c.currency, net},
		Recaptured: Money{c.currency, gross.Sub(net)},
	}
}
