package impact_test

// Fuzz tests: ParseDecimal against an independent oracle, and whole
// scenarios built from fuzz bytes, checked for invariants that hold for every
// valid scenario (model.md and doc.go), determinism and order independence.

import (
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

// plainDecimalOK is an independent statement of model.md §1's syntax:
// -?[0-9]+(\.[0-9]+)? with ≤ 30 integer and ≤ 12 fractional digits.
func plainDecimalOK(s string) bool {
	if strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	digits := func(p string) bool {
		if p == "" {
			return false
		}
		for _, c := range []byte(p) {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	}
	if !digits(intPart) || len(intPart) > 30 {
		return false
	}
	if hasPoint && (!digits(frac) || len(frac) > 12) {
		return false
	}
	return true
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "1", "-1", "1.5", "00012.3400", "-0.000000000001",
		"123456789012345678901234567890", "1234567890123456789012345678901",
		"0.123456789012", "0.1234567890123", "999999999999999999999999999999.999999999999",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616.5",
		"1e5", "1E-5", "NaN", "Inf", "", "-", ".", ".5", "5.", "+1", " 1", "1 ", "1,000", "1_000",
		"0x1f", "--1", "1.2.3", "\u0661", "1e999999999", "-.5", "0.", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := plainDecimalOK(s)
		d, err := impact.ParseDecimal(s)
		if (err == nil) != want {
			t.Fatalf("ParseDecimal(%q) err = %v, want accepted=%v", s, err, want)
		}
		if err != nil {
			var ie *impact.Error
			if !errors.As(err, &ie) || ie.Code != impact.EINVALID {
				t.Fatalf("ParseDecimal(%q) error %v is not EINVALID", s, err)
			}
			if len(ie.Message) > 200 {
				t.Errorf("ParseDecimal(%q) message echoes the input: %d bytes", s, len(ie.Message))
			}
			// Rejection is a byte scan: no big-integer work, whatever the length.
			if allocs := testing.AllocsPerRun(1, func() { _, _ = impact.ParseDecimal(s) }); allocs > 2 {
				t.Errorf("rejecting %d bytes made %v allocations", len(s), allocs)
			}
			return
		}
		// The value is exactly the one written (independent parse by big.Rat).
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			t.Fatalf("big.Rat cannot parse accepted %q", s)
		}
		if d.Rat().Cmp(r) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, want %s", s, d.String(), r.FloatString(12))
		}
		// Round trip: the canonical spelling parses back to the same value and
		// is itself canonical (no exponent, no trailing zeros, no "-0").
		c := impact.FormatDecimal(d)
		d2, err := impact.ParseDecimal(c)
		if err != nil {
			t.Fatalf("FormatDecimal(%q) = %q does not parse: %v", s, c, err)
		}
		if !d2.Equal(d) {
			t.Fatalf("round trip %q → %q → %s", s, c, d2.String())
		}
		if c2 := impact.FormatDecimal(d2); c2 != c {
			t.Fatalf("FormatDecimal not canonical: %q then %q", c, c2)
		}
		if strings.ContainsAny(c, "eE+") || c == "-0" || (strings.Contains(c, ".") && strings.HasSuffix(c, "0")) || strings.HasSuffix(c, ".") {
			t.Fatalf("FormatDecimal(%q) = %q is not canonical plain notation", s, c)
		}
		// FormatFixed with enough places spells the same value.
		if exp := -d.Exponent(); exp >= 0 {
			if fx := impact.FormatFixed(d, exp); !mustDec(t, fx).Equal(d) {
				t.Fatalf("FormatFixed(%q, %d) = %q", s, exp, fx)
			}
		}
	})
}

func mustDec(t *testing.T, s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return d
}

// ---------------------------------------------------------------------------
// Scenario interpreter: reads fuzz bytes into a bounded scenario. Running out
// of bytes reads zeros, so every input builds something. Most choices are
// valid; a few rare choices (never the zero one, so short inputs stay valid)
// are invalid so the error path is fuzzed too.

type fuzzReader struct {
	b []byte
	i int
}

func (r *fuzzReader) u8() int {
	if r.i >= len(r.b) {
		return 0
	}
	v := r.b[r.i]
	r.i++
	return int(v)
}

func (r *fuzzReader) pick(n int) int { return r.u8() % n }

func pickS(r *fuzzReader, xs ...string) string { return xs[r.pick(len(xs))] }

var (
	fzCurrencies = []string{"USD", "JPY", "KWD", "CLF", "EUR"}
	fzZones      = []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu", "America/Asuncion", ""}
	fzAmounts    = []string{"0", "1", "2400.00", "0.01", "12345.67", "3.333", "100", "0.000000000001", "999999999", "7.005"}
	fzAnchors    = []string{
		"2025-03-09T04:00:00Z", // New York spring forward
		"2025-11-02T03:00:00Z", // New York fall back
		"2025-03-29T20:00:00Z", // Berlin spring forward
		"2025-10-25T20:00:00Z", // Berlin fall back
		"2025-06-30T12:00:00Z", // month and quarter end
		"2025-12-31T12:00:00Z", // year end
		"2017-09-30T20:00:00Z", // Asuncion skipped midnight
		"2025-04-05T10:00:00Z", // Lord Howe half-hour transition
		"2025-06-30T17:00:00Z", // Kolkata month start at 18:30Z
	}
	fzTiers = [][]impact.CreditTier{
		nil,
		tiers("99.99:10", "99.0:30", "95.0:100"),
		tiers("<=99.9:10", "99.0:25"),
		tiers("100:5"),
		tiers("<=100:0", "50:100"),
		tiers("99.9:10", "99.0:5"), // invalid: a more severe tier grants less
	}
)

func fzInstant(r *fuzzReader) time.Time {
	a := ts(fzAnchors[r.pick(len(fzAnchors))])
	return a.Add(time.Duration(r.u8()*7)*time.Minute + time.Duration(r.u8())*time.Second + time.Duration(r.pick(4))*250*time.Millisecond)
}

func fzDuration(r *fuzzReader) time.Duration {
	n := time.Duration(1 + r.u8())
	switch r.pick(5) {
	case 0:
		return n * time.Second
	case 1:
		return n * time.Minute
	case 2:
		return n * time.Hour / 4
	case 3:
		return n * time.Hour
	default:
		return n * 4 * time.Hour // up to ~43 days
	}
}

// buildFuzzScenario is deterministic in data.
func buildFuzzScenario(data []byte) *impact.Scenario {
	r := &fuzzReader{b: data}
	s := &impact.Scenario{}
	ids := []string{"c1", "c2", "c10"}
	nCust := 1 + r.pick(3)
	services := []string{"api", "db", "web"}
	for i := 0; i < nCust; i++ {
		c := impact.Customer{ID: ids[i], Currency: fzCurrencies[r.pick(len(fzCurrencies))], TimeZone: fzZones[r.pick(len(fzZones))]}
		if r.pick(2) == 0 {
			c.Baseline.HourlyAmount = fzAmounts[r.pick(len(fzAmounts))]
		} else {
			p := make([]string, 168)
			off := r.u8()
			for h := range p {
				p[h] = fzAmounts[(h+off)%len(fzAmounts)]
			}
			c.Baseline.WeeklyProfile = p
		}
		c.Baseline.RecaptureRate = pickS(r, "", "0", "0.25", "1", "0.333333333333")
		for n := r.pick(3); n > 0; n-- {
			// The start of the local hour containing an instant; rarely a
			// UTC hour start instead, which is mid-hour in some zones.
			at := fzInstant(r)
			if loc, err := time.LoadLocation(c.TimeZone); err == nil && r.pick(16) != 15 {
				l := at.In(loc)
				at = l.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond()))
			} else {
				at = at.Truncate(time.Hour)
			}
			c.Baseline.Overrides = append(c.Baseline.Overrides, impact.HourlyOverride{HourStart: at, Amount: fzAmounts[r.pick(len(fzAmounts))]})
		}
		if r.pick(3) == 0 {
			st := fzInstant(r)
			c.Baseline.SeasonalFactors = append(c.Baseline.SeasonalFactors, impact.SeasonalFactor{Start: st, End: st.Add(fzDuration(r)), Multiplier: pickS(r, "1.5", "0", "2", "0.333")})
		}
		if r.pick(2) == 0 {
			c.LifetimeValue = fzAmounts[r.pick(len(fzAmounts))]
			c.ChurnProbability = pickS(r, "0", "0.0125", "1", "0.5", "")
		}
		for n, used := r.pick(3), 0; n > 0; n-- {
			k := impact.Contract{
				Service:       services[used],
				MonthlyFee:    pickS(r, "", "0", "730.00", "12345.67", "12.25", "123457", "3086.425"),
				BillingPeriod: impact.BillingPeriod(r.pick(3)),
				TimeZone:      fzZones[r.pick(len(fzZones))],
				Tiers:         fzTiers[r.pick(len(fzTiers))%(len(fzTiers)-1)],
				Granularity:   impact.Granularity(r.pick(4)),
				Denominator:   impact.Denominator(r.pick(3)),
				Rounding:      impact.Rounding(r.pick(3)),
				Degradation:   impact.Degradation(r.pick(3)),
			}
			used++
			if k.Degradation != impact.Proportional {
				k.DowntimeThreshold = pickS(r, "", "1", "0.5", "0.25")
				k.MinDowntimeSeconds = []int64{0, 0, 60, 5400}[r.pick(4)]
			} else if k.Granularity > impact.Seconds {
				k.Granularity = impact.Seconds
			}
			k.CreditCapPercent = pickS(r, "", "100", "25", "0")
			k.MinCreditAmount = pickS(r, "", "0", "5.00", "100")
			if r.pick(3) == 0 {
				st := fzInstant(r)
				k.ExcludeMaintenance = r.pick(2) == 0
				k.MaintenanceWindows = []impact.TimeWindow{{Start: st, End: st.Add(fzDuration(r))}}
			}
			if r.pick(32) == 31 {
				k.Tiers = fzTiers[len(fzTiers)-1] // invalid
			}
			if r.pick(3) == 0 {
				k.ExcludedCauses = []impact.Cause{impact.Cause(1 + r.pick(8))}
			}
			if k.Denominator == impact.Deployed {
				if r.pick(2) == 0 {
					k.ActiveFrom = fzInstant(r)
				}
				if r.pick(2) == 0 {
					from := k.ActiveFrom
					if from.IsZero() {
						from = fzInstant(r)
					}
					k.ActiveUntil = from.Add(fzDuration(r))
				}
			}
			if r.pick(3) == 0 {
				k.PeriodFees = []impact.PeriodFee{{PeriodStart: ts(pickS(r, "2025-07-01T00:00:00Z", "2025-06-30T18:30:00Z", "2025-10-01T00:00:00Z", "2025-03-01T05:00:00Z")), Fee: fzAmounts[r.pick(len(fzAmounts))]}}
			}
			c.Contracts = append(c.Contracts, k)
		}
		s.Customers = append(s.Customers, c)
	}
	for n, i := 1+r.pick(2), 0; i < n; i++ {
		in := impact.Incident{ID: []string{"inc-1", "inc-2"}[i], Cause: impact.Cause(r.pick(9)), Allocation: impact.Allocation(r.pick(3))}
		for w := r.pick(6); w > 0; w-- {
			cid := ids[r.pick(nCust)]
			if r.pick(64) == 63 {
				cid = "nobody" // invalid
			}
			st := fzInstant(r)
			in.Windows = append(in.Windows, impact.OutageWindow{
				CustomerID: cid, Service: services[r.pick(3)], Start: st, End: st.Add(fzDuration(r)),
				ImpactFraction: pickS(r, "", "1", "0.5", "0.25", "0.4", "0.999999999999", "0.2", "0.75"),
			})
			if r.pick(64) == 63 {
				in.Windows[len(in.Windows)-1].ImpactFraction = "1.5" // invalid
			}
		}
		if r.pick(3) > 0 && (len(in.Windows) > 0 || r.pick(16) == 15) {
			in.RecoveryCurrency = fzCurrencies[r.pick(len(fzCurrencies))]
			for k := r.pick(4); k > 0; k-- {
				item := impact.RecoveryItem{}
				if r.pick(2) == 0 {
					item.Labor = &impact.LaborItem{Role: "sre", Hours: pickS(r, "1", "2.5", "0.25"), HourlyRate: fzAmounts[r.pick(len(fzAmounts))], Engagement: pickS(r, "", "1", "0.5")}
				} else {
					item.Expense = &impact.ExpenseItem{Description: "x", Quantity: pickS(r, "", "1", "3"), UnitCost: fzAmounts[r.pick(len(fzAmounts))]}
				}
				if r.pick(3) == 0 && len(in.Windows) > 0 {
					item.CustomerID = in.Windows[r.pick(len(in.Windows))].CustomerID
				}
				in.RecoveryItems = append(in.RecoveryItems, item)
			}
		}
		s.Incidents = append(s.Incidents, in)
	}
	if rep := pickS(r, "", "", "USD", "EUR", "JPY"); rep != "" {
		s.ReportingCurrency = rep
		for _, c := range fzCurrencies {
			if c != rep && r.pick(32) != 31 { // rarely a rate is missing: invalid
				s.FXRates = append(s.FXRates, impact.FXRate{From: c, To: rep, Rate: pickS(r, "1.0825", "151.37", "0.0066", "3.25", "1")})
			}
		}
	}
	return s
}

// reverseScenario reverses every list of s in place (results must not change).
func reverseScenario(s *impact.Scenario) {
	slices.Reverse(s.Customers)
	for i := range s.Customers {
		c := &s.Customers[i]
		slices.Reverse(c.Contracts)
		slices.Reverse(c.Baseline.Overrides)
		for j := range c.Contracts {
			slices.Reverse(c.Contracts[j].Tiers)
		}
	}
	slices.Reverse(s.Incidents)
	for i := range s.Incidents {
		slices.Reverse(s.Incidents[i].Windows)
		slices.Reverse(s.Incidents[i].RecoveryItems)
	}
	slices.Reverse(s.FXRates)
}

func FuzzEstimate(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 0, 3, 1, 7, 2, 1, 1, 1, 2, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 3, 2, 5, 4, 40, 1, 3, 9})
	f.Add([]byte("the quick brown fox jumps over the lazy dog; 0123456789 impact"))
	f.Add([]byte{1, 2, 2, 1, 168, 3, 2, 1, 9, 9, 0, 2, 1, 0, 4, 3, 2, 1, 2, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 200, 100, 50})
	lim := impact.DefaultLimits()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		s := buildFuzzScenario(data)
		e, err := impact.EstimateScenario(s, lim)
		if err != nil {
			var ie *impact.Error
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T) is not an *impact.Error", err, err)
			}
			if ie.Code != impact.EINVALID {
				t.Fatalf("code %q, want %q: %v", ie.Code, impact.EINVALID, err)
			}
			if len(ie.Violations) == 0 {
				t.Fatalf("EINVALID without violations: %v", err)
			}
			for _, v := range ie.Violations {
				if v.Field == "" || v.Description == "" {
					t.Fatalf("empty violation %+v", v)
				}
			}
			return
		}
		checkInvariants(t, s, e)
		// Deterministic and independent of list order.
		s2 := buildFuzzScenario(data)
		reverseScenario(s2)
		e2, err := impact.EstimateScenario(s2, lim)
		if err != nil {
			t.Fatalf("reordered scenario rejected: %v", err)
		}
		if a, b := renderEstimate(e), renderEstimate(e2); a != b {
			t.Fatalf("reordered scenario gives a different estimate:\n%s\n---\n%s", a, b)
		}
	})
}

// ---------------------------------------------------------------------------
// Invariants of every estimate (also checked on every worked example).

func checkInvariants(t *testing.T, s *impact.Scenario, e *impact.Estimate) {
	t.Helper()
	custCur := map[string]string{}
	for _, c := range s.Customers {
		custCur[c.ID] = c.Currency
	}
	recCur := map[string]string{}
	for _, in := range s.Incidents {
		recCur[in.ID] = in.RecoveryCurrency
	}
	rounded := func(what string, m impact.Money, cur string) {
		t.Helper()
		if m.Currency != cur {
			t.Errorf("%s currency = %q, want %q", what, m.Currency, cur)
			return
		}
		if exp, ok := impact.MinorUnits(cur); !ok || m.Amount.Exponent() < -exp && !m.Amount.Equal(m.Amount.Truncate(exp)) {
			t.Errorf("%s = %s is not rounded to %s's minor unit", what, m.Amount.String(), cur)
		}
	}
	nonNeg := func(what string, d decimal.Decimal) {
		t.Helper()
		if d.Sign() < 0 {
			t.Errorf("%s = %s is negative", what, d.String())
		}
	}
	hundred := decimal.NewFromInt(100)

	// Statements: sorted, 0 ≤ D ≤ T, uptime = round6(100(T−D)/T), shares add up.
	credits := map[string]decimal.Decimal{} // incident|customer|service|period → attributed
	for i, st := range e.Statements {
		name := fmt.Sprintf("statement %s/%s@%s", st.CustomerID, st.Service, utc(st.PeriodStart))
		if i > 0 {
			p := e.Statements[i-1]
			if cmpStmt(p, st) >= 0 {
				t.Errorf("statements not sorted: %s/%s@%s then %s", p.CustomerID, p.Service, utc(p.PeriodStart), name)
			}
		}
		cur := custCur[st.CustomerID]
		if !st.PeriodEnd.After(st.PeriodStart) {
			t.Errorf("%s: period_end %v not after start", name, st.PeriodEnd)
		}
		if st.PeriodSeconds <= 0 || st.PeriodSeconds > int64(st.PeriodEnd.Sub(st.PeriodStart)/time.Second) {
			t.Errorf("%s: period_seconds %d outside (0, %v]", name, st.PeriodSeconds, st.PeriodEnd.Sub(st.PeriodStart))
		}
		T := decimal.NewFromInt(st.PeriodSeconds)
		nonNeg(name+" downtime", st.DowntimeSeconds)
		if st.DowntimeSeconds.GreaterThan(T) {
			t.Errorf("%s: downtime %s > T %d", name, st.DowntimeSeconds.String(), st.PeriodSeconds)
		}
		if st.UptimePercent.Sign() < 0 || st.UptimePercent.GreaterThan(hundred) {
			t.Errorf("%s: uptime %s outside [0, 100]", name, st.UptimePercent.String())
		}
		if st.PeriodSeconds > 0 {
			exact := new(big.Rat).Quo(new(big.Rat).Mul(big.NewRat(100, 1), T.Sub(st.DowntimeSeconds).Rat()), T.Rat())
			if want := ratHalfEven(exact, 6); fixed6(st.UptimePercent) != want {
				t.Errorf("%s: uptime %s, want %s = round6(100·(T−D)/T)", name, fixed6(st.UptimePercent), want)
			}
		}
		if st.CreditPercent.Sign() < 0 || st.CreditPercent.GreaterThan(hundred) {
			t.Errorf("%s: credit_percent %s outside [0, 100]", name, st.CreditPercent.String())
		}
		rounded(name+" fee", st.Fee, cur)
		rounded(name+" computed_credit", st.ComputedCredit, cur)
		rounded(name+" credit_amount", st.CreditAmount, cur)
		nonNeg(name+" computed_credit", st.ComputedCredit.Amount)
		if st.BelowMinimum {
			if st.CreditAmount.Amount.Sign() != 0 || st.ComputedCredit.Amount.Sign() <= 0 {
				t.Errorf("%s: below_minimum with computed %s and credit %s", name, st.ComputedCredit.Amount, st.CreditAmount.Amount)
			}
		} else if !st.CreditAmount.Amount.Equal(st.ComputedCredit.Amount) {
			t.Errorf("%s: credit %s differs from computed %s without below_minimum", name, st.CreditAmount.Amount, st.ComputedCredit.Amount)
		}
		if st.ComputedCredit.Amount.GreaterThan(st.Fee.Amount) {
			t.Errorf("%s: computed credit %s exceeds the fee %s", name, st.ComputedCredit.Amount, st.Fee.Amount)
		}
		sum := decimal.Zero
		for j, sh := range st.Incidents {
			if j > 0 && st.Incidents[j-1].IncidentID >= sh.IncidentID {
				t.Errorf("%s: incidents not sorted by id", name)
			}
			nonNeg(name+" share downtime", sh.DowntimeSeconds)
			nonNeg(name+" share credit", sh.Credit.Amount)
			rounded(name+" share "+sh.IncidentID, sh.Credit, cur)
			sum = sum.Add(sh.Credit.Amount)
			credits[sh.IncidentID+"|"+st.CustomerID+"|"+st.Service+"|"+utc(st.PeriodStart)] = sh.Credit.Amount
		}
		if !sum.Equal(st.CreditAmount.Amount) {
			t.Errorf("%s: shares add up to %s, credit is %s", name, sum, st.CreditAmount.Amount)
		}
		if st.CreditAmount.Amount.Sign() > 0 && len(st.Incidents) == 0 {
			t.Errorf("%s: credit owed but attributed to no incident", name)
		}
	}

	for i, ie := range e.Incidents {
		if i > 0 && e.Incidents[i-1].IncidentID >= ie.IncidentID {
			t.Errorf("incidents not sorted: %s then %s", e.Incidents[i-1].IncidentID, ie.IncidentID)
		}
		type sums struct{ gross, net, rec, credits, churn decimal.Decimal }
		byCur := map[string]*sums{}
		get := func(c string) *sums {
			if byCur[c] == nil {
				byCur[c] = &sums{}
			}
			return byCur[c]
		}
		for j, ce := range ie.Customers {
			name := ie.IncidentID + "/" + ce.CustomerID
			if j > 0 && ie.Customers[j-1].CustomerID >= ce.CustomerID {
				t.Errorf("%s: customers not sorted by id", ie.IncidentID)
			}
			cur := custCur[ce.CustomerID]
			lr := ce.LostRevenue
			rounded(name+" gross", lr.Gross, cur)
			rounded(name+" net", lr.Net, cur)
			rounded(name+" recaptured", lr.Recaptured, cur)
			rounded(name+" churn", ce.ChurnExposure, cur)
			if !lr.Gross.Amount.Equal(lr.Net.Amount.Add(lr.Recaptured.Amount)) {
				t.Errorf("%s: gross %s ≠ net %s + recaptured %s", name, lr.Gross.Amount, lr.Net.Amount, lr.Recaptured.Amount)
			}
			nonNeg(name+" net", lr.Net.Amount)
			nonNeg(name+" recaptured", lr.Recaptured.Amount)
			nonNeg(name+" churn", ce.ChurnExposure.Amount)
			if ce.ImpactSeconds.Sign() <= 0 {
				t.Errorf("%s: impact_seconds %s, want > 0 for an affected customer", name, ce.ImpactSeconds)
			}
			sm := get(cur)
			sm.gross = sm.gross.Add(lr.Gross.Amount)
			sm.net = sm.net.Add(lr.Net.Amount)
			sm.churn = sm.churn.Add(ce.ChurnExposure.Amount)
			if rc := recCur[ie.IncidentID]; rc == "" {
				if ce.RecoveryCost != nil {
					t.Errorf("%s: recovery cost without a recovery currency", name)
				}
			} else if ce.RecoveryCost == nil {
				t.Errorf("%s: no recovery cost though the incident has a recovery currency", name)
			} else {
				rounded(name+" recovery", *ce.RecoveryCost, rc)
				nonNeg(name+" recovery", ce.RecoveryCost.Amount)
				get(rc).rec = get(rc).rec.Add(ce.RecoveryCost.Amount)
			}
			for k, ac := range ce.SLACredits {
				if k > 0 {
					p := ce.SLACredits[k-1]
					if p.Service > ac.Service || p.Service == ac.Service && !p.PeriodStart.Before(ac.PeriodStart) {
						t.Errorf("%s: sla_credits not sorted by service and period", name)
					}
				}
				rounded(name+" sla credit", ac.Credit, cur)
				key := ie.IncidentID + "|" + ce.CustomerID + "|" + ac.Service + "|" + utc(ac.PeriodStart)
				if want, ok := credits[key]; !ok {
					t.Errorf("%s: attributed credit %s@%s has no statement share", name, ac.Service, utc(ac.PeriodStart))
				} else if !want.Equal(ac.Credit.Amount) {
					t.Errorf("%s: attributed credit %s, statement share %s", name, ac.Credit.Amount, want)
				}
				delete(credits, key)
				sm.credits = sm.credits.Add(ac.Credit.Amount)
			}
		}
		var curs []string
		for c := range byCur {
			curs = append(curs, c)
		}
		slices.Sort(curs)
		var got []string
		for k, ct := range ie.Totals {
			if k > 0 && ie.Totals[k-1].Currency >= ct.Currency {
				t.Errorf("%s: totals not sorted by currency", ie.IncidentID)
			}
			got = append(got, ct.Currency)
			w := get(ct.Currency)
			for _, p := range []struct {
				what      string
				got, want decimal.Decimal
			}{{"gross", ct.LostRevenueGross, w.gross}, {"net", ct.LostRevenueNet, w.net}, {"recovery", ct.RecoveryCost, w.rec}, {"credits", ct.SLACredits, w.credits}, {"churn", ct.ChurnExposure, w.churn}} {
				if !p.got.Equal(p.want) {
					t.Errorf("%s %s total %s = %s, want the sum of rounded figures %s", ie.IncidentID, ct.Currency, p.what, p.got, p.want)
				}
			}
		}
		for _, c := range curs {
			if !slices.Contains(got, c) {
				t.Errorf("%s: no totals for currency %s", ie.IncidentID, c)
			}
		}
		if (s.ReportingCurrency != "") != (ie.ReportingTotals != nil) {
			t.Errorf("%s: reporting totals present = %v with reporting currency %q", ie.IncidentID, ie.ReportingTotals != nil, s.ReportingCurrency)
		}
	}
	for key := range credits {
		t.Errorf("statement share %s missing from the incident's customer estimate", key)
	}
}

func cmpStmt(a, b impact.SLAStatement) int {
	if c := strings.Compare(a.CustomerID, b.CustomerID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Service, b.Service); c != 0 {
		return c
	}
	return a.PeriodStart.Compare(b.PeriodStart)
}

// ratHalfEven spells r rounded half-even to places decimals, independently
// of the engine's rounding code.
func ratHalfEven(r *big.Rat, places int) string {
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := new(big.Int).Mul(r.Num(), scale)
	q, m := new(big.Int).QuoRem(n, r.Denom(), new(big.Int))
	twice := new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2))
	switch c := twice.Cmp(r.Denom()); {
	case c > 0 || c == 0 && q.Bit(0) == 1:
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(q, int32(-places)).StringFixed(int32(places))
}
