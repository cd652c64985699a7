package impact

import (
	"math/big"
	"math/bits"
	"sort"

	"github.com/shopspring/decimal"
)

// revenueNumerator returns Σ rate × seconds × fraction over disjoint spans
// (model.md §3). Divided by 3600 it is the exact gross lost revenue; the
// caller divides once, when rounding. Cost grows with local hours and
// seasonal segments, never with seconds: plain hours only add whole seconds
// to an integer per profile index and fraction, and the decimal products
// are formed once per fraction and index at the end (the sum is exact, so
// its order does not matter).
func (c *cCustomer) revenueNumerator(spans []fracSpan) decimal.Decimal {
	z := newZoneCursor(c.loc)
	var accs []*fractionSeconds
	for _, sp := range spans {
		acc := findFraction(&accs, sp.frac)
		si := sort.Search(len(c.seasons), func(i int) bool { return c.seasons[i].end > sp.start })
		for t := sp.start; t < sp.end; {
			b := z.bucketAt(t)
			e := min(b.end, sp.end)
			if amount, ok := c.overrides[b.start]; ok {
				// An override is the whole rate of its hour (doc.go).
				acc.extra = acc.extra.Add(parseChecked(amount).Mul(decimal.NewFromInt(e - t)))
				t = e
				continue
			}
			plain := e - t
			for si < len(c.seasons) && c.seasons[si].start < e {
				seg := c.seasons[si]
				if lo, hi := max(seg.start, t), min(seg.end, e); lo < hi {
					plain -= hi - lo
					acc.extra = acc.extra.Add(c.rate(b.index).Mul(seg.mult).Mul(decimal.NewFromInt(hi - lo)))
				}
				if seg.end > e {
					break // it goes on into the next hour
				}
				si++
			}
			if plain > 0 {
				acc.add(b.index, plain)
			}
			t = e
		}
	}
	total := decZero
	for _, acc := range accs {
		total = total.Add(acc.extra.Add(c.plainSum(acc)).Mul(acc.frac))
	}
	return total
}

// plainSum is Σ rate(index) × seconds over the touched profile indexes,
// exact. Rates are non-negative; those with at most 18 digits are summed as
// coefficient × seconds in 128-bit accumulators, one per exponent (no
// allocation, no overflow: coefficients below 2^60 times seconds below 2^40
// give products below 2^100, and 168 of them stay below 2^108); the rest go
// through decimal arithmetic.
func (c *cCustomer) plainSum(acc *fractionSeconds) decimal.Decimal {
	var hi, lo [MaxFractionDigits + 1]uint64 // by −exponent
	sum := decZero
	for _, idx := range acc.touched {
		coef, exp, ok := c.smallRate(idx)
		secs := acc.secs[idx]
		if !ok || coef < 0 || exp > 0 || -exp > MaxFractionDigits || secs < 0 || secs >= 1<<40 {
			sum = sum.Add(c.rate(idx).Mul(decimal.NewFromInt(secs)))
			continue
		}
		ph, pl := bits.Mul64(uint64(coef), uint64(secs))
		var carry uint64
		lo[-exp], carry = bits.Add64(lo[-exp], pl, 0)
		hi[-exp] += ph + carry
	}
	for k := range lo {
		if hi[k] == 0 && lo[k] == 0 {
			continue
		}
		v := new(big.Int).SetUint64(hi[k])
		v.Lsh(v, 64).Or(v, new(big.Int).SetUint64(lo[k]))
		sum = sum.Add(decimal.NewFromBigInt(v, -int32(k)))
	}
	return sum
}

// fractionSeconds accumulates, for one impact fraction, the seconds at the
// plain profile rate per profile index and the already-priced rest.
type fractionSeconds struct {
	frac    decimal.Decimal
	secs    [168]int64
	touched []int
	extra   decimal.Decimal // override hours and seasonally scaled seconds, × rate
}

func (a *fractionSeconds) add(index int, secs int64) {
	if a.secs[index] == 0 {
		a.touched = append(a.touched, index)
	}
	a.secs[index] += secs
}

// findFraction returns the accumulator of frac, adding one if needed. A
// customer's windows carry few distinct fractions: a linear scan is cheapest.
func findFraction(accs *[]*fractionSeconds, frac decimal.Decimal) *fractionSeconds {
	for _, a := range *accs {
		if a.frac.Equal(frac) {
			return a
		}
	}
	a := &fractionSeconds{frac: frac, extra: decZero}
	*accs = append(*accs, a)
	return a
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
