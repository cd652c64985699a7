package impact

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// randFixed draws coefficients across every magnitude, with extra weight at
// the int64 boundaries where the fixed-point operations must give up.
func randFixed(r *rand.Rand) fixed {
	var c int64
	switch r.IntN(6) {
	case 0:
		c = math.MaxInt64 - r.Int64N(1000)
	case 1:
		c = math.MinInt64 + r.Int64N(1000)
	case 2:
		c = r.Int64N(1000)
	default:
		c = r.Int64N(1 << uint(1+r.IntN(62)))
	}
	if r.IntN(2) == 0 && c != math.MinInt64 {
		c = -c
	}
	return fixed{c, int32(r.IntN(maxFixedScale + 1))}
}

func ratOf(f fixed) *big.Rat {
	return new(big.Rat).SetFrac(big.NewInt(f.c), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(f.s)), nil))
}

// Every fixed-point operation is either refused or exact: checked against
// big.Rat, including sums and products at and past the int64 boundary.
func TestFixedArithmeticIsExactOrRefused(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 1))
	refused := map[string]int{}
	for i := 0; i < 200000; i++ {
		a, b := randFixed(r), randFixed(r)
		if s, ok := a.add(b); ok {
			if want := new(big.Rat).Add(ratOf(a), ratOf(b)); ratOf(s).Cmp(want) != 0 || s.s != max(a.s, b.s) {
				t.Fatalf("%v + %v = %v, want %s", a, b, s, want.RatString())
			}
		} else {
			refused["add"]++
		}
		if s, ok := a.sub(b); ok {
			if want := new(big.Rat).Sub(ratOf(a), ratOf(b)); ratOf(s).Cmp(want) != 0 {
				t.Fatalf("%v - %v = %v, want %s", a, b, s, want.RatString())
			}
		}
		if p, ok := a.mul(b); ok {
			if want := new(big.Rat).Mul(ratOf(a), ratOf(b)); ratOf(p).Cmp(want) != 0 || p.s != a.s+b.s {
				t.Fatalf("%v × %v = %v, want %s", a, b, p, want.RatString())
			}
		} else {
			refused["mul"]++
		}
		if c, ok := a.cmp(b); ok {
			if want := ratOf(a).Cmp(ratOf(b)); c != want {
				t.Fatalf("cmp(%v, %v) = %d, want %d", a, b, c, want)
			}
		}
		// Rounding: the same figure as roundRat's big-integer rule.
		den := 1 + r.Int64N(1<<uint(r.IntN(63)))
		places := int32(r.IntN(13))
		mode := HalfEven
		if r.IntN(2) == 0 {
			mode = HalfUp
		}
		if q, ok := a.round(den, places, mode); ok {
			want := roundRat(decimal.New(a.c, -a.s), den, places, mode)
			if !q.dec().Equal(want) || q.s != places {
				t.Fatalf("round(%v / %d, %d, %v) = %v, want %s", a, den, places, mode, q, want)
			}
		} else {
			refused["round"]++
		}
	}
	// The boundaries were reached: each operation refused some input.
	for _, op := range []string{"add", "mul", "round"} {
		if refused[op] == 0 {
			t.Errorf("%s never refused: the overflow boundary was not exercised", op)
		}
	}
}

func TestFixedBoundaries(t *testing.T) {
	maxF := fixed{math.MaxInt64, 0}
	if _, ok := maxF.add(fixed{1, 0}); ok {
		t.Error("MaxInt64 + 1 accepted")
	}
	if s, ok := maxF.add(fixed{-1, 0}); !ok || s.c != math.MaxInt64-1 {
		t.Errorf("MaxInt64 - 1 = %v %v", s, ok)
	}
	if _, ok := (fixed{math.MinInt64, 0}).sub(fixed{0, 0}); !ok {
		t.Error("MinInt64 - 0 refused")
	}
	if _, ok := (fixed{0, 0}).sub(fixed{math.MinInt64, 0}); ok {
		t.Error("0 - MinInt64 accepted")
	}
	if _, ok := (fixed{3037000500, 0}).mul(fixed{3037000500, 0}); ok { // > 2^63
		t.Error("3037000500² accepted")
	}
	if p, ok := (fixed{3037000499, 0}).mul(fixed{3037000499, 0}); !ok || p.c != 3037000499*3037000499 {
		t.Errorf("3037000499² = %v %v", p, ok)
	}
	if _, ok := (fixed{1, 10}).mul(fixed{1, 9}); ok {
		t.Error("scale 19 accepted")
	}
	// 10^18 at scale 0 brought to scale 1 passes int64.
	if _, ok := (fixed{1e18, 0}).add(fixed{1, 1}); ok {
		t.Error("10^19 accepted")
	}
	// round: a quotient past 64 bits is refused, one just below is exact.
	if _, ok := (fixed{math.MaxInt64, 0}).round(1, 1, HalfEven); ok {
		t.Error("MaxInt64 × 10 accepted as a quotient")
	}
	if q, ok := (fixed{math.MaxInt64, 0}).round(10, 1, HalfEven); !ok || q.c != math.MaxInt64 {
		t.Errorf("MaxInt64/10 at 1 place = %v %v", q, ok)
	}
	// Ties: half-even and half-up differ only on an exact half.
	for _, c := range []struct {
		v    fixed
		mode Rounding
		want int64
	}{
		{fixed{25, 1}, HalfEven, 2}, {fixed{25, 1}, HalfUp, 3}, {fixed{35, 1}, HalfEven, 4},
		{fixed{-25, 1}, HalfEven, -2}, {fixed{-25, 1}, HalfUp, -3}, {fixed{251, 2}, HalfEven, 3},
	} {
		if q, ok := c.v.round(1, 0, c.mode); !ok || q.c != c.want {
			t.Errorf("round(%v, %v) = %v, want %d", c.v, c.mode, q, c.want)
		}
	}
	// fixedOf refuses what does not fit and keeps positive exponents exact.
	if _, ok := fixedOf(decimal.RequireFromString("12345678901234567890")); ok {
		t.Error("20 digits accepted")
	}
	if f, ok := fixedOf(decimal.New(7, 3)); !ok || f != (fixed{7000, 0}) {
		t.Errorf("7e3 = %v %v", f, ok)
	}
}

// largestRemainderFixed gives the same split as the big-integer path, and
// refuses (so the big path runs) when units × weight would not fit.
func TestLargestRemainderFixedAgreesWithBig(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 2))
	for i := 0; i < 20000; i++ {
		n := 2 + r.IntN(8)
		exp := int32(r.IntN(4))
		total := decimal.New(r.Int64N(1<<uint(1+r.IntN(62))), -exp)
		weights := make([]decimal.Decimal, n)
		for k := range weights {
			switch r.IntN(4) {
			case 0:
				weights[k] = decZero
			case 1:
				weights[k] = decimal.New(r.Int64N(1<<uint(1+r.IntN(62))), -int32(r.IntN(7)))
			default:
				weights[k] = decimal.New(r.Int64N(100), -int32(r.IntN(3)))
			}
		}
		got, ok := largestRemainderFixed(total, exp, weights, make([]decimal.Decimal, n))
		if !ok {
			continue
		}
		want := largestRemainderBig(total, exp, weights)
		for k := range want {
			if !got[k].Equal(want[k]) {
				t.Fatalf("split of %s by %v: share %d = %s, want %s", total, weights, k, got[k], want[k])
			}
		}
	}
}

// creditFixed sets the same figures as the decimal credit, for random
// downtimes (whole and fractional seconds), tiers, caps, fees, minimums and
// rounding modes, including fees too long for int64 (creditFixed refuses).
func TestCreditFixedAgreesWithDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 3))
	dec := func(maxInt, maxFrac int) decimal.Decimal {
		return decimal.New(r.Int64N(int64(pow10Uint64[1+r.IntN(maxInt)])), -int32(r.IntN(maxFrac+1)))
	}
	refused := 0
	for i := 0; i < 50000; i++ {
		T := 1 + r.Int64N(92*86400)
		D := decimal.NewFromInt(r.Int64N(T + 1))
		if r.IntN(3) == 0 { // PROPORTIONAL: fractional seconds
			D = decimal.New(r.Int64N(T*1000+1), -3)
		}
		k := &cContract{customer: &cCustomer{currency: "X", exp: int32(r.IntN(4))}, rounding: HalfEven,
			capPercent: decimal.New(r.Int64N(101), 0), minCredit: dec(4, 2)}
		if r.IntN(2) == 0 {
			k.rounding = HalfUp
		}
		bound := decimal.New(100, 0)
		for j := 0; j < r.IntN(4); j++ {
			bound = bound.Sub(decimal.New(r.Int64N(500), -2))
			k.tiers = append(k.tiers, cTier{bound: bound, percent: decimal.New(r.Int64N(1001), -1), inclusive: r.IntN(2) == 0})
		}
		// tiers ascend by bound
		for a, b := 0, len(k.tiers)-1; a < b; a, b = a+1, b-1 {
			k.tiers[a], k.tiers[b] = k.tiers[b], k.tiers[a]
		}
		fee := dec(12, 6)
		if r.IntN(20) == 0 {
			fee = decimal.RequireFromString("123456789012345678901234.5")
		}
		want := SLAStatement{PeriodSeconds: T}
		k.credit(&want, D, fee)
		got := SLAStatement{PeriodSeconds: T}
		if !k.creditFixed(&got, D, fee) {
			refused++
			continue
		}
		for _, f := range []struct {
			name      string
			got, want decimal.Decimal
		}{
			{"uptime", got.UptimePercent, want.UptimePercent},
			{"credit percent", got.CreditPercent, want.CreditPercent},
			{"fee", got.Fee.Amount, want.Fee.Amount},
			{"computed", got.ComputedCredit.Amount, want.ComputedCredit.Amount},
			{"credit", got.CreditAmount.Amount, want.CreditAmount.Amount},
		} {
			if !f.got.Equal(f.want) {
				t.Fatalf("T=%d D=%s fee=%s %+v: %s = %s, want %s", T, D, fee, k.tiers, f.name, f.got, f.want)
			}
		}
		if got.BelowMinimum != want.BelowMinimum {
			t.Fatalf("below minimum %v, want %v", got.BelowMinimum, want.BelowMinimum)
		}
	}
	if refused == 0 {
		t.Error("creditFixed never refused: the out-of-range fees were not exercised")
	}
}

// cmpDec orders exactly as decimal.Cmp, inside the fixed range and past it
// (coefficients beyond int64, exponents beyond ±18), at equal values of
// different exponents, and with signs.
func TestCmpDecIsCmp(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 4))
	draw := func() decimal.Decimal {
		switch r.IntN(5) {
		case 0: // beyond int64
			c := new(big.Int).Lsh(big.NewInt(r.Int64N(1000)+1), uint(60+r.IntN(10)))
			if r.IntN(2) == 0 {
				c.Neg(c)
			}
			return decimal.NewFromBigInt(c, int32(r.IntN(41)-20))
		case 1: // exponent past the fixed scale
			return decimal.New(r.Int64N(2000)-1000, int32(r.IntN(10)-25))
		default:
			f := randFixed(r)
			return decimal.New(f.c, -f.s)
		}
	}
	for i := 0; i < 200000; i++ {
		a, b := draw(), draw()
		if r.IntN(4) == 0 { // the same value at another exponent
			b = decimal.NewFromBigInt(new(big.Int).Mul(a.Coefficient(), big.NewInt(10)), a.Exponent()-1)
		}
		if got, want := cmpDec(a, b), a.Cmp(b); got != want {
			t.Fatalf("cmpDec(%s, %s) = %d, Cmp = %d", a, b, got, want)
		}
	}
}
