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
func (c *cCustomer) revenueNumerator(spans []fracSpan, stop *stopper) decimal.Decimal {
	return c.numeratorDec(c.revenueSeconds(spans, stop), stop)
}

// revenueSeconds walks the spans hour by hour into per-fraction seconds.
func (c *cCustomer) revenueSeconds(spans []fracSpan, stop *stopper) *fractionIndex {
	var z zoneCursor
	z.loc = c.loc
	accs := &fractionIndex{}
	for _, sp := range spans {
		stop.tick()
		acc := accs.find(sp.frac)
		si := sort.Search(len(c.seasons), func(i int) bool { return c.seasons[i].end > sp.start })
		for t := sp.start; t < sp.end; {
			stop.tick()
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
	return accs
}

// numeratorDec is Σ (extra + plain seconds × rate) × fraction in decimals.
func (c *cCustomer) numeratorDec(accs *fractionIndex, stop *stopper) decimal.Decimal {
	total := decZero
	for _, acc := range accs.list {
		stop.tick()
		total = total.Add(acc.extra.Add(c.plainSum(acc)).Mul(acc.frac))
	}
	return total
}

// numeratorFixed is numeratorDec in fixed point, false when any part is
// out of its range (the caller then takes numeratorDec: the same value).
func (c *cCustomer) numeratorFixed(accs *fractionIndex, stop *stopper) (fixed, bool) {
	var total fixed
	for _, acc := range accs.list {
		stop.tick()
		sum, ok := c.plainSumFixed(acc)
		if !ok {
			return fixed{}, false
		}
		if acc.extra.Sign() != 0 {
			x, ok := fixedOf(acc.extra)
			if !ok {
				return fixed{}, false
			}
			if sum, ok = sum.add(x); !ok {
				return fixed{}, false
			}
		}
		fr, ok := fixedOf(acc.frac)
		if !ok {
			return fixed{}, false
		}
		if sum, ok = sum.mul(fr); !ok {
			return fixed{}, false
		}
		if total, ok = total.add(sum); !ok {
			return fixed{}, false
		}
	}
	return total, true
}

// plainSumFixed is plainSum in fixed point: the same 128-bit accumulators
// per exponent, then brought to the smallest exponent in int64.
func (c *cCustomer) plainSumFixed(acc *fractionSeconds) (fixed, bool) {
	var sums [MaxFractionDigits + 1]u128 // by −exponent
	used := -1
	for k, idx := range acc.touched {
		coef, exp, ok := c.smallRate(int(idx))
		secs := acc.secs[k]
		if !ok || coef < 0 || exp > 0 || -exp > MaxFractionDigits || secs < 0 || secs >= 1<<40 {
			return fixed{}, false
		}
		sums[-exp].addMul(uint64(coef), uint64(secs))
		used = max(used, int(-exp))
	}
	var total fixed
	for k := 0; k <= used; k++ {
		v, ok := sums[k].int64()
		if !ok {
			return fixed{}, false
		}
		if v == 0 {
			continue
		}
		if total, ok = total.add(fixed{v, int32(k)}); !ok {
			return fixed{}, false
		}
	}
	return total, true
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
	for k, idx := range acc.touched {
		coef, exp, ok := c.smallRate(int(idx))
		secs := acc.secs[k]
		if !ok || coef < 0 || exp > 0 || -exp > MaxFractionDigits || secs < 0 || secs >= 1<<40 {
			sum = sum.Add(c.rate(int(idx)).Mul(decimal.NewFromInt(secs)))
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
// plain profile rate per touched profile index and the already-priced rest.
// It is sparse: a request may carry one fraction per window, each touching
// an hour or two, and 100,000 dense 168-entry tables would be 134 MB.
type fractionSeconds struct {
	frac    decimal.Decimal
	touched []uint8 // profile indexes, in order of first use
	secs    []int64 // seconds per touched index
	pos     *[168]int16
	extra   decimal.Decimal // override hours and seasonally scaled seconds, × rate
}

// densePos is how many indexes a fraction touches before a position table
// replaces the linear scan.
const densePos = 8

func (a *fractionSeconds) add(index int, secs int64) {
	if a.pos != nil {
		if p := a.pos[index]; p > 0 {
			a.secs[p-1] += secs
			return
		}
	} else {
		for k, idx := range a.touched {
			if int(idx) == index {
				a.secs[k] += secs
				return
			}
		}
	}
	if len(a.touched) == cap(a.touched) {
		// Two sizes: a few hours, or the whole week.
		n := densePos + 1
		if len(a.touched) > densePos {
			n = 168
		}
		a.touched = append(make([]uint8, 0, n), a.touched...)
		a.secs = append(make([]int64, 0, n), a.secs...)
	}
	a.touched = append(a.touched, uint8(index))
	a.secs = append(a.secs, secs)
	switch {
	case a.pos != nil:
		a.pos[index] = int16(len(a.touched))
	case len(a.touched) > densePos:
		a.pos = new([168]int16)
		for k, idx := range a.touched {
			a.pos[idx] = int16(k + 1)
		}
	}
}

// fractionIndex finds the accumulator of a fraction: the last one used
// (windows of a customer mostly share a fraction), else by the fraction's
// canonical spelling, so many distinct fractions cost O(1) each, not a scan.
type fractionIndex struct {
	list []*fractionSeconds
	last *fractionSeconds
	by   map[string]*fractionSeconds
}

func (x *fractionIndex) find(frac decimal.Decimal) *fractionSeconds {
	if x.last != nil && cmpDec(x.last.frac, frac) == 0 {
		return x.last
	}
	if x.by == nil {
		x.by = map[string]*fractionSeconds{}
		for _, a := range x.list {
			x.by[a.frac.String()] = a
		}
	}
	key := frac.String() // shortest spelling: equal values, equal keys
	a := x.by[key]
	if a == nil {
		a = &fractionSeconds{frac: frac, extra: decZero}
		x.list = append(x.list, a)
		x.by[key] = a
	}
	x.last = a
	return a
}

// lostRevenue rounds the exact figures of §3 once each: gross, net =
// gross × (1 − recapture), recaptured = gross − net of the rounded values.
func (c *cCustomer) lostRevenue(spans []fracSpan, stop *stopper) LostRevenue {
	accs := c.revenueSeconds(spans, stop)
	if lr, ok := c.lostRevenueFixed(accs, stop); ok {
		return lr
	}
	num := c.numeratorDec(accs, stop)
	recapture := decimalOr(c.recapture, decZero)
	gross := roundRat(num, 3600, c.exp, HalfEven)
	net := roundRat(num.Mul(decOne.Sub(recapture)), 3600, c.exp, HalfEven)
	return LostRevenue{
		Gross:      Money{c.currency, gross},
		Net:        Money{c.currency, net},
		Recaptured: Money{c.currency, gross.Sub(net)},
	}
}

// lostRevenueFixed is lostRevenue in fixed point, false when out of range.
func (c *cCustomer) lostRevenueFixed(accs *fractionIndex, stop *stopper) (LostRevenue, bool) {
	num, ok := c.numeratorFixed(accs, stop)
	if !ok {
		return LostRevenue{}, false
	}
	recapture, ok1 := fixedStr(c.recapture, fixed{})
	keep, ok2 := fixedInt(1).sub(recapture)
	kept, ok3 := num.mul(keep)
	gross, ok4 := num.round(3600, c.exp, HalfEven)
	net, ok5 := kept.round(3600, c.exp, HalfEven)
	recaptured, ok6 := gross.sub(net)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return LostRevenue{}, false
	}
	return LostRevenue{
		Gross:      Money{c.currency, gross.dec()},
		Net:        Money{c.currency, net.dec()},
		Recaptured: Money{c.currency, recaptured.dec()},
	}, true
}
