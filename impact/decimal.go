package impact

import (
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// Input decimals are plain notation only: -?[0-9]+(\.[0-9]+)? with at most
// MaxIntegerDigits before the point and MaxFractionDigits after it. The
// syntax is checked byte by byte before any big-integer work, so a hostile
// "1e999999999" never reaches an allocator.
const (
	MaxIntegerDigits  = 30
	MaxFractionDigits = 12
)

// checkDecimal reports why s is not an acceptable input decimal, or "".
func checkDecimal(s string) string {
	if s == "" {
		return "a decimal value is required"
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		intDigits++
	}
	if intDigits == 0 {
		return "must be a plain decimal such as 12.34 (digits, optional '-' and '.')"
	}
	if intDigits > MaxIntegerDigits {
		return "has more than 30 integer digits"
	}
	if i == len(s) {
		return ""
	}
	if s[i] != '.' {
		return "must be a plain decimal such as 12.34 (digits, optional '-' and '.')"
	}
	i++
	fracDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		fracDigits++
	}
	if fracDigits == 0 || i != len(s) {
		return "must be a plain decimal such as 12.34 (digits, optional '-' and '.')"
	}
	if fracDigits > MaxFractionDigits {
		return "has more than 12 fractional digits"
	}
	return ""
}

// ParseDecimal parses an input decimal in plain notation within the bounds
// above, or returns an EINVALID error.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if msg := checkDecimal(s); msg != "" {
		return decimal.Decimal{}, &Error{Code: EINVALID, Message: msg}
	}
	return parseChecked(s), nil
}

// parseChecked parses a string that checkDecimal accepted. Short values (the
// common case) are built from an int64 without going through big.Int.SetString.
func parseChecked(s string) decimal.Decimal {
	if c, exp, ok := parseSmall(s); ok {
		return decimal.New(c, exp)
	}
	d, err := decimal.NewFromString(s)
	if err != nil { // unreachable: checkDecimal accepted s
		panic("impact: checked decimal did not parse: " + err.Error())
	}
	return d
}

// parseSmall parses a checked decimal of at most 18 digits into its
// coefficient and exponent without allocating.
func parseSmall(s string) (coef int64, exp int32, ok bool) {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) > 19 || (len(s) == 19 && strings.IndexByte(s, '.') < 0) { // > 18 digits could overflow
		return 0, 0, false
	}
	seenPoint := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			seenPoint = true
			continue
		}
		coef = coef*10 + int64(c-'0')
		if seenPoint {
			exp--
		}
	}
	if neg {
		coef = -coef
	}
	return coef, exp, true
}

// decimalOr parses s, or returns def when s is empty. s must have been checked.
func decimalOr(s string, def decimal.Decimal) decimal.Decimal {
	if s == "" {
		return def
	}
	return parseChecked(s)
}

// FormatDecimal spells d in plain notation without trailing zeros, never
// with an exponent ("1.5", "1000", "0").
func FormatDecimal(d decimal.Decimal) string {
	if c, exp, ok := smallDecimal(d); ok && exp <= 0 {
		for exp < 0 && c%10 == 0 { // trim trailing fractional zeros
			c /= 10
			exp++
		}
		return formatScaled(c, -exp)
	}
	if d.Exponent() >= 0 {
		return d.Coefficient().Mul(d.Coefficient(), pow10(d.Exponent())).String()
	}
	s := d.StringFixed(-d.Exponent())
	// Trim trailing fractional zeros and a dangling point.
	end := len(s)
	for end > 0 && s[end-1] == '0' {
		end--
	}
	if end > 0 && s[end-1] == '.' {
		end--
	}
	s = s[:end]
	if s == "-0" {
		return "0"
	}
	return s
}

// FormatFixed spells d with exactly places fractional digits. d must already
// have at most places significant fractional digits; nothing is rounded here.
func FormatFixed(d decimal.Decimal, places int32) string {
	if c, exp, ok := smallDecimal(d); ok && places <= 18 {
		switch {
		case exp == -places:
			return formatScaled(c, places)
		case exp > -places && int(exp+places)+d.NumDigits() <= 18:
			return formatScaled(c*int64(pow10Uint64[exp+places]), places)
		}
	}
	if d.Exponent() < -places && !d.Equal(d.Truncate(places)) {
		panic("impact: FormatFixed would round") // a figure was not rounded once, as it must be
	}
	s := d.StringFixed(places)
	if len(s) > 0 && s[0] == '-' && d.Sign() == 0 {
		s = s[1:]
	}
	return s
}

// smallDecimal returns d's coefficient and exponent when the coefficient has
// at most 18 digits, without allocating: the common case of every figure.
func smallDecimal(d decimal.Decimal) (coef int64, exp int32, ok bool) {
	if d.NumDigits() > 18 || d.Exponent() < -18 || d.Exponent() > 18 {
		return 0, 0, false
	}
	return d.CoefficientInt64(), d.Exponent(), true
}

var pow10Uint64 = func() [19]uint64 {
	var p [19]uint64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// formatScaled spells c × 10^-places with exactly places fractional digits.
func formatScaled(c int64, places int32) string {
	var buf [48]byte
	b := buf[:0]
	if c < 0 {
		b = append(b, '-')
		c = -c
	}
	var digits [20]byte
	ds := strconv.AppendInt(digits[:0], c, 10)
	n := len(ds)
	if int(places) >= n { // 0.000ddd
		b = append(b, '0', '.')
		for i := 0; i < int(places)-n; i++ {
			b = append(b, '0')
		}
		b = append(b, ds...)
		return string(b)
	}
	b = append(b, ds[:n-int(places)]...)
	if places > 0 {
		b = append(b, '.')
		b = append(b, ds[n-int(places):]...)
	}
	return string(b)
}

var bigTen = big.NewInt(10)

// pow10 returns 10^n. Callers must not modify the result.
func pow10(n int32) *big.Int {
	if n >= 0 && int(n) < len(powersOfTen) {
		return powersOfTen[n]
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

var powersOfTen = func() []*big.Int {
	p := make([]*big.Int, 64)
	p[0] = big.NewInt(1)
	for i := 1; i < len(p); i++ {
		p[i] = new(big.Int).Mul(p[i-1], bigTen)
	}
	return p
}()

// roundRat rounds num/den to places fractional digits with mode, exactly:
// the quotient is never materialised with finite precision, so nothing is
// rounded twice. den must be positive. Values that fit in int64 (nearly
// all) take an allocation-free path; the big-integer path is the same rule.
func roundRat(num decimal.Decimal, den int64, places int32, mode Rounding) decimal.Decimal {
	if c, exp, ok := smallDecimal(num); ok {
		if n, d, ok := scaleForDivision(c, num.NumDigits(), exp+places, den); ok {
			neg := n < 0
			if neg {
				n = -n
			}
			q, r := n/d, n%d
			switch { // r > d−r is 2r > d without overflow
			case r > d-r:
				q++
			case r == d-r && (mode == HalfUp || q%2 == 1):
				q++
			}
			if neg {
				q = -q
			}
			return decimal.New(q, -places)
		}
	}
	n := new(big.Int).Set(num.Coefficient())
	d := big.NewInt(den)
	k := num.Exponent() + places
	if k >= 0 {
		n.Mul(n, pow10(k))
	} else {
		d.Mul(d, pow10(-k))
	}
	neg := n.Sign() < 0
	if neg {
		n.Neg(n)
	}
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	r.Lsh(r, 1)
	switch c := r.Cmp(d); {
	case c > 0:
		q.Add(q, bigOne)
	case c == 0:
		if mode == HalfUp || q.Bit(0) == 1 {
			q.Add(q, bigOne)
		}
	}
	if neg {
		q.Neg(q)
	}
	return decimal.NewFromBigInt(q, -places)
}

// scaleForDivision returns c·10^k and den (or c and den·10^-k when k < 0)
// when both fit in int64.
func scaleForDivision(c int64, digits int, k int32, den int64) (n, d int64, ok bool) {
	switch {
	case k >= 0:
		if int(k)+digits > 18 {
			return 0, 0, false
		}
		return c * int64(pow10Uint64[k]), den, true
	case -k > 18 || uint64(den) > uint64(math.MaxInt64)/pow10Uint64[-k]:
		return 0, 0, false
	default:
		return c, den * int64(pow10Uint64[-k]), true
	}
}

var bigOne = big.NewInt(1)

// roundDec rounds an exact decimal to places fractional digits with mode.
func roundDec(d decimal.Decimal, places int32, mode Rounding) decimal.Decimal {
	if d.Exponent() >= -places {
		return d
	}
	return roundRat(d, 1, places, mode)
}
