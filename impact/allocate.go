package impact

import (
	"math"
	"math/big"
	"math/bits"
	"sort"

	"github.com/shopspring/decimal"
)

// largestRemainder splits total — an amount already rounded to exp minor
// digits — in proportion to weights, in whole minor units, so the shares add
// up exactly to total (model.md §4, §5.11). Each share gets the floor of its
// exact quota; the units left go one each to the largest remainders, ties
// to the lower index: callers pass weights in ascending id order. Weights
// are non-negative; when they are all zero the split is even.
func largestRemainder(total decimal.Decimal, exp int32, weights []decimal.Decimal) []decimal.Decimal {
	n := len(weights)
	out := make([]decimal.Decimal, n)
	switch {
	case n == 0:
		return out
	case n == 1:
		out[0] = total
		return out
	case total.Sign() == 0:
		for i := range out {
			out[i] = total
		}
		return out
	}
	if out, ok := largestRemainderFixed(total, exp, weights, out); ok {
		return out
	}
	return largestRemainderBig(total, exp, weights)
}

// largestRemainderBig is largestRemainder in big integers, for any size.
func largestRemainderBig(total decimal.Decimal, exp int32, weights []decimal.Decimal) []decimal.Decimal {
	n := len(weights)
	out := make([]decimal.Decimal, n)
	units := total.Shift(exp).BigInt() // exact: total has at most exp decimals
	minExp := int32(0)
	for _, w := range weights {
		minExp = min(minExp, w.Exponent())
	}
	ws := make([]*big.Int, n)
	sum := new(big.Int)
	for i, w := range weights {
		ws[i] = w.Coefficient()
		if d := w.Exponent() - minExp; d > 0 {
			ws[i].Mul(ws[i], pow10(d))
		}
		sum.Add(sum, ws[i])
	}
	if sum.Sign() == 0 {
		for i := range ws {
			ws[i].SetInt64(1)
		}
		sum.SetInt64(int64(n))
	}
	quotas := make([]*big.Int, n)
	rems := make([]*big.Int, n)
	given := new(big.Int)
	for i := range ws {
		prod := new(big.Int).Mul(units, ws[i])
		quotas[i], rems[i] = new(big.Int).QuoRem(prod, sum, new(big.Int))
		given.Add(given, quotas[i])
	}
	left := new(big.Int).Sub(units, given).Int64() // < n
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]].Cmp(rems[order[b]]) > 0 })
	for k := int64(0); k < left; k++ {
		quotas[order[k]].Add(quotas[order[k]], bigOne)
	}
	for i := range out {
		out[i] = decimal.NewFromBigInt(quotas[i], -exp)
	}
	return out
}

// largestRemainderFixed is largestRemainder in machine integers: units and
// weights in int64, each units × weight in 128 bits divided by the sum of
// the weights. False when any of them is out of range.
func largestRemainderFixed(total decimal.Decimal, exp int32, weights []decimal.Decimal, out []decimal.Decimal) ([]decimal.Decimal, bool) {
	n := len(weights)
	tf, ok := fixedOf(total)
	if !ok || n > 64 {
		return nil, false
	}
	units, ok := tf.at(exp)
	if !ok || units < 0 {
		return nil, false
	}
	var wsBuf, quotaBuf, remBuf [64]uint64
	ws, quotas, rems := wsBuf[:n], quotaBuf[:n], remBuf[:n]
	scale := int32(0)
	var fsBuf [64]fixed
	fs := fsBuf[:n]
	for i, w := range weights {
		if fs[i], ok = fixedOf(w); !ok || fs[i].c < 0 {
			return nil, false
		}
		scale = max(scale, fs[i].s)
	}
	var sum uint64
	for i := range fs {
		c, ok := fs[i].at(scale)
		if !ok {
			return nil, false
		}
		ws[i] = uint64(c)
		var carry uint64
		if sum, carry = bits.Add64(sum, ws[i], 0); carry != 0 || sum > math.MaxInt64 {
			return nil, false
		}
	}
	if sum == 0 {
		for i := range ws {
			ws[i] = 1
		}
		sum = uint64(n)
	}
	var given uint64
	for i := range ws {
		hi, lo := bits.Mul64(uint64(units), ws[i])
		if hi >= sum {
			return nil, false // unreachable: the quota is at most units
		}
		quotas[i], rems[i] = bits.Div64(hi, lo, sum)
		given += quotas[i]
	}
	left := uint64(units) - given // < n
	// The units left go to the largest remainders, ties to the lower index.
	for ; left > 0; left-- {
		best := -1
		for i := range rems {
			if rems[i] != noRemainder && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		quotas[best]++
		rems[best] = noRemainder
	}
	for i := range out {
		out[i] = fixed{int64(quotas[i]), exp}.dec()
	}
	return out, true
}

// noRemainder marks a remainder already given its unit; real remainders are
// below the sum of the weights, which is at most math.MaxInt64.
const noRemainder = math.MaxUint64
