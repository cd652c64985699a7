package impact

import "testing"

func TestCanonParts(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "-0": "0", "-0.000": "0", "007": "7", "100": "100", "100.00": "100",
		"0.50": "0.5", "-00.0100": "-0.01", "12.340": "12.34", "-5": "-5", "10.01": "10.01",
		"000000000000000000000000000000.000000000001": "0.000000000001",
	} {
		neg, i, f := canonParts(in)
		got := string(appendCanonical(nil, neg, i, f))
		if got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

// isCanonical holds only when canonParts would spell a value unchanged (it
// may say false for a canonical negative value: that one takes canonParts).
func TestIsCanonicalMatchesCanonParts(t *testing.T) {
	for _, s := range []string{"0", "0.5", "00", "007", "1.50", "1.05", "10", "100.000", "-0", "-1", "-0.0", "0.0",
		"1234.5", "0001.1", "9.000000000001", "5"} {
		neg, intPart, frac := canonParts(s)
		same := string(appendCanonical(nil, neg, intPart, frac)) == s
		if got := isCanonical(s); got && !same || !got && same && s[0] != '-' {
			t.Errorf("isCanonical(%q) = %v, canonParts spells it %q", s, got, appendCanonical(nil, neg, intPart, frac))
		}
	}
}
