package impact

import (
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// The allocation-free formatting paths must spell every value exactly as
// the big-integer path does.
func TestFormatFastPathsAgreeWithBigPath(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	slowFixed := func(d decimal.Decimal, places int32) string {
		s := d.StringFixed(places)
		if s[0] == '-' && d.Sign() == 0 {
			s = s[1:]
		}
		return s
	}
	slowPlain := func(d decimal.Decimal) string {
		s := d.StringFixed(max(0, -d.Exponent()))
		if strings.Contains(s, ".") {
			s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
		}
		if s == "-0" {
			s = "0"
		}
		return s
	}
	for i := 0; i < 20000; i++ {
		digits := r.IntN(19)
		c := r.Int64N(1 << 62)
		for c >= int64(pow10Uint64[digits]) && digits < 18 {
			c /= 10
		}
		if r.IntN(2) == 0 {
			c = -c
		}
		places := int32(r.IntN(7))
		exp := -places + int32(r.IntN(3)) // at or above the minor unit, as rounded figures are
		d := decimal.New(c, exp)
		if got, want := FormatFixed(d, places), slowFixed(d, places); got != want {
			t.Fatalf("FormatFixed(%s, %d) = %q, want %q", d, places, got, want)
		}
		if got, want := FormatDecimal(d), slowPlain(d); got != want {
			t.Fatalf("FormatDecimal(%s) = %q, want %q", d, got, want)
		}
	}
	for _, c := range []struct {
		d      string
		places int32
		want   string
	}{{"0", 2, "0.00"}, {"0.05", 2, "0.05"}, {"1234.57", 2, "1234.57"}, {"123457", 0, "123457"}, {"308.642", 3, "308.642"}, {"1.5", 4, "1.5000"}, {"-0.001", 3, "-0.001"}} {
		if got := FormatFixed(decimal.RequireFromString(c.d), c.places); got != c.want {
			t.Errorf("FormatFixed(%s, %d) = %q, want %q", c.d, c.places, got, c.want)
		}
	}
}

// roundRat's int64 path and the tier comparison's 128-bit path must agree
// with exact big.Rat arithmetic everywhere, including at their limits.
func TestFastArithmeticAgreesWithExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	randDec := func() decimal.Decimal {
		c := r.Int64N(1<<62) >> r.IntN(62)
		if r.IntN(4) == 0 {
			c = -c
		}
		return decimal.New(c, -int32(r.IntN(19)))
	}
	for i := 0; i < 50000; i++ {
		num := randDec()
		den := r.Int64N(1<<62)>>r.IntN(62) + 1
		places := int32(r.IntN(8))
		mode := HalfEven
		if r.IntN(2) == 0 {
			mode = HalfUp
		}
		got := roundRat(num, den, places, mode)
		// Exact: q = num/den as a rational, rounded by hand.
		q := new(big.Rat).Quo(num.Rat(), new(big.Rat).SetInt64(den))
		scaled := new(big.Rat).Mul(q, new(big.Rat).SetInt(pow10(places)))
		neg := scaled.Sign() < 0
		scaled.Abs(scaled)
		fl := new(big.Int).Quo(scaled.Num(), scaled.Denom())
		rem := new(big.Rat).Sub(scaled, new(big.Rat).SetInt(fl))
		switch c := rem.Cmp(big.NewRat(1, 2)); {
		case c > 0, c == 0 && (mode == HalfUp || fl.Bit(0) == 1):
			fl.Add(fl, bigOne)
		}
		if neg {
			fl.Neg(fl)
		}
		if want := decimal.NewFromBigInt(fl, -places); !got.Equal(want) {
			t.Fatalf("roundRat(%s, %d, %d, %v) = %s, want %s", num, den, places, mode, got, want)
		}

		a, b := randDec().Abs(), randDec().Abs()
		T := r.Int64N(1<<40) + 1
		if c, ok := cmpScaledProduct(a, b, T); ok {
			if want := a.Cmp(b.Mul(decimal.NewFromInt(T))); c != want {
				t.Fatalf("cmpScaledProduct(%s, %s, %d) = %d, want %d", a, b, T, c, want)
			}
		}
	}
}
