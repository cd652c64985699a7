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
