package impact

import (
	"math/big"
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
