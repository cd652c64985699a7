package impact

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
)

// plainSum's 128-bit accumulation must equal plain decimal arithmetic, also
// with 18-digit rates, mixed exponents, huge second counts and rates too long
// for the fast path.
func TestPlainSumAgreesWithDecimal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 300; trial++ {
		profile := make([]string, 168)
		for i := range profile {
			intDigits, fracDigits := 1+r.IntN(18), r.IntN(13)
			if r.IntN(10) == 0 {
				intDigits = 19 + r.IntN(12) // beyond int64: the decimal path
			}
			s := fmt.Sprint(1 + r.IntN(9))
			for len(s) < intDigits {
				s += fmt.Sprint(r.IntN(10))
			}
			if fracDigits > 0 {
				s += "."
				for k := 0; k < fracDigits; k++ {
					s += fmt.Sprint(r.IntN(10))
				}
			}
			profile[i] = s
		}
		c := &cCustomer{profile: profile}
		acc := &fractionSeconds{frac: decOne}
		want := decZero
		for k := 0; k < 1+r.IntN(168); k++ {
			idx := r.IntN(168)
			secs := 1 + r.Int64N(1<<uint(1+r.IntN(40))) // add is never called with 0
			acc.add(idx, secs)
		}
		for k, idx := range acc.touched {
			want = want.Add(decimal.RequireFromString(profile[idx]).Mul(decimal.NewFromInt(acc.secs[k])))
		}
		if got := c.plainSum(acc); !got.Equal(want) {
			t.Fatalf("trial %d: plainSum = %s, want %s", trial, got, want)
		}
	}
}
