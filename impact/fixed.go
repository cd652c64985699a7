package impact

import (
	"math"
	"math/bits"

	"github.com/shopspring/decimal"
)

// Fixed-point arithmetic for the hot paths. shopspring/decimal allocates a
// big.Int for every operation; nearly every figure of a real scenario fits
// an int64 coefficient at a scale of at most 18 digits, and there the same
// exact operations are done in machine integers (products and quotients in
// 128 bits through math/bits). Every operation reports whether it stayed in
// range; a caller that sees false recomputes the figure with decimal.Decimal,
// so the result is the same exact value either way (differential_test.go
// compares both paths with big.Rat, including at the overflow boundaries).

// fixed is the exact value c × 10^-s, 0 ≤ s ≤ maxFixedScale. The
// coefficient and scale follow decimal.Decimal's rules (a sum has the larger
// scale, a product the sum of the scales), so a fixed converted back is the
// same coefficient and exponent the decimal operations would have made.
type fixed struct {
	c int64
	s int32
}

const maxFixedScale = 18

// fixedOf returns d as a fixed when its coefficient fits.
func fixedOf(d decimal.Decimal) (fixed, bool) {
	c, exp, ok := smallDecimal(d)
	if !ok {
		return fixed{}, false
	}
	if exp > 0 {
		v, ok := mulInt64(c, int64(pow10Uint64[exp]))
		return fixed{v, 0}, ok
	}
	return fixed{c, -exp}, true
}

// fixedStr parses a checked decimal ("" is def) into a fixed.
func fixedStr(s string, def fixed) (fixed, bool) {
	if s == "" {
		return def, true
	}
	c, exp, ok := parseSmall(s)
	if !ok || -exp > maxFixedScale {
		return fixed{}, false
	}
	return fixed{c, -exp}, true
}

func fixedInt(n int64) fixed { return fixed{n, 0} }

// dec is f as a decimal.Decimal, the one allocation of a figure.
func (f fixed) dec() decimal.Decimal {
	if f.c == 0 && f.s < int32(len(zeroAt)) {
		return zeroAt[f.s]
	}
	return decimal.New(f.c, -f.s)
}

// zeroAt[s] is 0 at exponent -s: decimals are immutable, so the zero
// figures (most credits, many totals) share one value each.
var zeroAt = func() (z [maxFixedScale + 1]decimal.Decimal) {
	for i := range z {
		z[i] = decimal.New(0, -int32(i))
	}
	return z
}()

func (f fixed) sign() int {
	switch {
	case f.c < 0:
		return -1
	case f.c > 0:
		return 1
	}
	return 0
}

// cmp compares a and b (false when scaling out of range).
func (a fixed) cmp(b fixed) (int, bool) {
	s := max(a.s, b.s)
	x, ok1 := a.at(s)
	y, ok2 := b.at(s)
	if !ok1 || !ok2 {
		return 0, false
	}
	switch {
	case x < y:
		return -1, true
	case x > y:
		return 1, true
	}
	return 0, true
}

// at returns the coefficient of f at scale s ≥ f.s.
func (f fixed) at(s int32) (int64, bool) {
	if s == f.s {
		return f.c, true
	}
	if s < f.s || s > maxFixedScale {
		return 0, false
	}
	return mulInt64(f.c, int64(pow10Uint64[s-f.s]))
}

func (a fixed) add(b fixed) (fixed, bool) {
	s := max(a.s, b.s)
	x, ok1 := a.at(s)
	y, ok2 := b.at(s)
	if !ok1 || !ok2 {
		return fixed{}, false
	}
	sum, ok := addInt64(x, y)
	return fixed{sum, s}, ok
}

func (a fixed) sub(b fixed) (fixed, bool) {
	if b.c == math.MinInt64 {
		return fixed{}, false
	}
	return a.add(fixed{-b.c, b.s})
}

func (a fixed) mul(b fixed) (fixed, bool) {
	s := a.s + b.s
	if s > maxFixedScale {
		return fixed{}, false
	}
	c, ok := mulInt64(a.c, b.c)
	return fixed{c, s}, ok
}

// round is f / den rounded to places fractional digits with mode, exactly
// as roundRat: the quotient and remainder of a 128-bit division, never a
// finite-precision intermediate. den must be positive.
func (f fixed) round(den int64, places int32, mode Rounding) (fixed, bool) {
	if f.c == math.MinInt64 || den <= 0 || places > maxFixedScale {
		return fixed{}, false
	}
	neg := f.c < 0
	n := uint64(f.c)
	if neg {
		n = uint64(-f.c)
	}
	d := uint64(den)
	var hi, lo uint64
	switch k := places - f.s; {
	case k >= 0:
		if k > maxFixedScale {
			return fixed{}, false
		}
		hi, lo = bits.Mul64(n, pow10Uint64[k])
	default:
		if -k > maxFixedScale {
			return fixed{}, false
		}
		dh, dl := bits.Mul64(d, pow10Uint64[-k])
		if dh != 0 {
			return fixed{}, false
		}
		hi, lo, d = 0, n, dl
	}
	if hi >= d {
		return fixed{}, false // the quotient would pass 64 bits
	}
	q, r := bits.Div64(hi, lo, d)
	switch { // r > d−r is 2r > d without overflow
	case r > d-r:
		q++
	case r == d-r && (mode == HalfUp || q%2 == 1):
		q++
	}
	if q > math.MaxInt64 {
		return fixed{}, false
	}
	c := int64(q)
	if neg {
		c = -c
	}
	return fixed{c, places}, true
}

// roundTo is roundDec in fixed point: f unchanged when it has at most
// places digits, else rounded once.
func (f fixed) roundTo(places int32, mode Rounding) (fixed, bool) {
	if f.s <= places {
		return f, true
	}
	return f.round(1, places, mode)
}

func mulInt64(a, b int64) (int64, bool) {
	if a == math.MinInt64 || b == math.MinInt64 {
		return 0, false
	}
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = uint64(-a)
	}
	if b < 0 {
		ub = uint64(-b)
	}
	hi, lo := bits.Mul64(ua, ub)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(lo), true
	}
	return int64(lo), true
}

func addInt64(a, b int64) (int64, bool) {
	s := a + b
	if (a^s)&(b^s) < 0 {
		return 0, false
	}
	return s, true
}

// u128 is an unsigned 128-bit accumulator.
type u128 struct{ hi, lo uint64 }

func (u *u128) addMul(a, b uint64) {
	ph, pl := bits.Mul64(a, b)
	var carry uint64
	u.lo, carry = bits.Add64(u.lo, pl, 0)
	u.hi += ph + carry
}

// int64 returns u when it fits.
func (u u128) int64() (int64, bool) {
	return int64(u.lo), u.hi == 0 && u.lo <= math.MaxInt64
}

// cmpDec is a.Cmp(b) without allocating when both fit a fixed (decimal's
// Cmp rescales one operand into a new big.Int when the exponents differ).
func cmpDec(a, b decimal.Decimal) int {
	if x, ok := fixedOf(a); ok {
		if y, ok := fixedOf(b); ok {
			if c, ok := x.cmp(y); ok {
				return c
			}
		}
	}
	return a.Cmp(b)
}
