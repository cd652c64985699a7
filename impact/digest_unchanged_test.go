package impact_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// TestDigestUnchanged: the digest, now written with reused buffers, is
// byte-for-byte the former encoding's (impact.RefDigest) on generated
// scenarios (FX rates, seasonal factors, overrides, period fees,
// maintenance windows, excluded causes, recovery items, several incidents)
// and on the benchmark shapes, and is what the estimate reports.
func TestDigestUnchanged(t *testing.T) {
	lim := impact.DefaultLimits()
	check := func(name string, s *impact.Scenario) bool {
		t.Helper()
		est, err := impact.EstimateScenario(s, lim)
		if err != nil {
			return false // the digest is of valid scenarios only
		}
		got, want := impact.Digest(s), impact.RefDigest(s)
		if got != want || est.InputsDigest != want || !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+64 {
			t.Errorf("%s: digest %s, estimate %s, former encoding %s", name, got, est.InputsDigest, want)
		}
		return true
	}
	valid := 0
	for seed := uint64(0); seed < 400; seed++ {
		if check("seed "+strconv.FormatUint(seed, 10), genScenario(seed)) {
			valid++
		}
	}
	if valid < 300 {
		t.Fatalf("only %d of 400 generated scenarios are valid: the comparison covers too little", valid)
	}
	for name, s := range map[string]*impact.Scenario{"typical": typicalScenario(), "heavy": heavyScenario(20)} {
		if !check(name, s) {
			t.Fatalf("%s: the benchmark scenario is invalid", name)
		}
	}
}

// BenchmarkDigest: the digest of the typical scenario, now and in the
// former encoding, in the same run.
func BenchmarkDigest(b *testing.B) {
	s := typicalScenario()
	for name, f := range map[string]func(*impact.Scenario) string{"now": impact.Digest, "former": impact.RefDigest} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				f(s)
			}
		})
	}
}
