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
		checkLostRevenueOracle(t, s, e)
		checkSLAOracle(t, s, e)
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

// ---------------------------------------------------------------------------
// An independent oracle for lost revenue (model.md §3, doc.go "Local hours"):
// cut each customer's windows at every breakpoint where the rate or the
// fraction can change — window and seasonal-factor edges and every quarter
// hour UTC (local hours of every zone the fuzzer uses, Kathmandu's :45 and
// Lord Howe's half-hour transition included, start on a UTC quarter hour) —
// and sum rate × seconds × max fraction / 3600 exactly with big.Rat.

func ratOf(s, def string) *big.Rat {
	if s == "" {
		s = def
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("oracle: bad decimal " + s)
	}
	return r
}

// sameLocalHour reports whether instants a and h lie in one local hour of
// loc: the same wall-clock date and hour at the same UTC offset, less than
// an hour apart, h not after a.
func sameLocalHour(a, h time.Time, loc *time.Location) bool {
	if h.After(a) || a.Sub(h) >= time.Hour {
		return false
	}
	la, lh := a.In(loc), h.In(loc)
	_, oa := la.Zone()
	_, oh := lh.Zone()
	return oa == oh && la.Hour() == lh.Hour() && la.YearDay() == lh.YearDay()
}

// oracleLostRevenue returns ∫ f dt and the exact gross of one customer's
// windows in one incident.
func oracleLostRevenue(c *impact.Customer, ws []impact.OutageWindow) (impactSecs, gross *big.Rat) {
	loc, err := time.LoadLocation(c.TimeZone)
	if c.TimeZone == "" {
		loc, err = time.UTC, nil
	}
	if err != nil {
		panic(err)
	}
	type seg struct {
		a, b time.Time
		f    *big.Rat
	}
	var cuts []time.Time
	lo, hi := ws[0].Start.Truncate(time.Second), ws[0].End.Truncate(time.Second)
	for _, w := range ws {
		s, e := w.Start.Truncate(time.Second), w.End.Truncate(time.Second)
		cuts = append(cuts, s, e)
		for q := s.Truncate(15 * time.Minute); q.Before(e); q = q.Add(15 * time.Minute) {
			cuts = append(cuts, q)
		}
		if s.Before(lo) {
			lo = s
		}
		if e.After(hi) {
			hi = e
		}
	}
	for _, sf := range c.Baseline.SeasonalFactors {
		cuts = append(cuts, sf.Start.Truncate(time.Second), sf.End.Truncate(time.Second))
	}
	slices.SortFunc(cuts, func(x, y time.Time) int { return x.Compare(y) })
	cuts = slices.CompactFunc(cuts, func(x, y time.Time) bool { return x.Equal(y) })
	impactSecs, gross = new(big.Rat), new(big.Rat)
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if a.Before(lo) || !b.After(a) || b.After(hi) {
			continue
		}
		var f *big.Rat
		for _, w := range ws {
			if !a.Before(w.Start.Truncate(time.Second)) && a.Before(w.End.Truncate(time.Second)) {
				if wf := ratOf(w.ImpactFraction, "1"); f == nil || wf.Cmp(f) > 0 {
					f = wf
				}
			}
		}
		if f == nil {
			continue
		}
		secs := new(big.Rat).SetInt64(int64(b.Sub(a) / time.Second))
		fs := new(big.Rat).Mul(f, secs)
		impactSecs.Add(impactSecs, fs)
		var rate *big.Rat
		for _, o := range c.Baseline.Overrides {
			if sameLocalHour(a, o.HourStart.Truncate(time.Second), loc) {
				rate = ratOf(o.Amount, "")
			}
		}
		if rate == nil {
			if len(c.Baseline.WeeklyProfile) == 168 {
				l := a.In(loc)
				rate = ratOf(c.Baseline.WeeklyProfile[24*((int(l.Weekday())+6)%7)+l.Hour()], "")
			} else {
				rate = ratOf(c.Baseline.HourlyAmount, "0")
			}
			for _, sf := range c.Baseline.SeasonalFactors {
				if !a.Before(sf.Start.Truncate(time.Second)) && a.Before(sf.End.Truncate(time.Second)) {
					rate = new(big.Rat).Mul(rate, ratOf(sf.Multiplier, ""))
				}
			}
		}
		g := new(big.Rat).Mul(rate, fs)
		gross.Add(gross, g.Quo(g, big.NewRat(3600, 1)))
	}
	return impactSecs, gross
}

// checkLostRevenueOracle compares every customer estimate with the oracle.
func checkLostRevenueOracle(t *testing.T, s *impact.Scenario, e *impact.Estimate) {
	t.Helper()
	custs := map[string]*impact.Customer{}
	for i := range s.Customers {
		custs[s.Customers[i].ID] = &s.Customers[i]
	}
	for _, in := range s.Incidents {
		ie := findInc(e, in.ID)
		if ie == nil {
			t.Errorf("incident %s missing", in.ID)
			continue
		}
		byCust := map[string][]impact.OutageWindow{}
		for _, w := range in.Windows {
			byCust[w.CustomerID] = append(byCust[w.CustomerID], w)
		}
		if len(byCust) != len(ie.Customers) {
			t.Errorf("%s: %d affected customers, estimate lists %d", in.ID, len(byCust), len(ie.Customers))
		}
		for id, ws := range byCust {
			ce := findCust(e, in.ID, id)
			if ce == nil {
				t.Errorf("%s/%s missing", in.ID, id)
				continue
			}
			c := custs[id]
			secs, gross := oracleLostRevenue(c, ws)
			if ce.ImpactSeconds.Rat().Cmp(secs) != 0 {
				t.Errorf("%s/%s impact_seconds = %s, oracle %s", in.ID, id, ce.ImpactSeconds, secs.FloatString(12))
			}
			exp, _ := impact.MinorUnits(c.Currency)
			if want := ratHalfEven(gross, int(exp)); amountString(c.Currency, ce.LostRevenue.Gross.Amount) != want {
				t.Errorf("%s/%s gross = %s, oracle %s (exact %s)", in.ID, id, ms(ce.LostRevenue.Gross), want, gross.FloatString(20))
			}
			net := new(big.Rat).Mul(gross, new(big.Rat).Sub(big.NewRat(1, 1), ratOf(c.Baseline.RecaptureRate, "0")))
			if want := ratHalfEven(net, int(exp)); amountString(c.Currency, ce.LostRevenue.Net.Amount) != want {
				t.Errorf("%s/%s net = %s, oracle %s", in.ID, id, ms(ce.LostRevenue.Net), want)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// An independent oracle for SLA statements (model.md §5 steps 1–10 and the
// period decisions of doc.go), on whole seconds with big.Rat. It assumes
// zones whose offsets are whole minutes (every zone the fuzzer uses), so
// clock minutes are UTC minutes.

type opiece struct {
	a, b int64 // unix seconds, [a, b)
	f    *big.Rat
	inc  string
	cs   impact.Cause
}

func secs(t time.Time) int64 { return t.Truncate(time.Second).Unix() }

// oraclePeriodStart is the first instant whose wall clock in loc reads at
// least 00:00 on the 1st of (y, m) (doc.go), found by bisection.
func oraclePeriodStart(y int, m time.Month, loc *time.Location) int64 {
	target := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	wall := func(u int64) time.Time {
		l := time.Unix(u, 0).In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
	}
	lo, hi := target.Unix()-20*3600, target.Unix()+20*3600
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if wall(mid).Before(target) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

func oraclePeriods(a, b int64, loc *time.Location, quarterly bool) [][2]int64 {
	step := 1
	l := time.Unix(a, 0).In(loc)
	y, m := l.Year(), int(l.Month())
	if quarterly {
		step = 3
		m = (m-1)/3*3 + 1
	}
	add := func(y, m, n int) (int, int) {
		m += n
		for m > 12 {
			m -= 12
			y++
		}
		for m < 1 {
			m += 12
			y--
		}
		return y, m
	}
	y, m = add(y, m, -step)
	var out [][2]int64
	for {
		s := oraclePeriodStart(y, time.Month(m), loc)
		y2, m2 := add(y, m, step)
		e := oraclePeriodStart(y2, time.Month(m2), loc)
		if s >= b {
			return out
		}
		if e > a {
			out = append(out, [2]int64{s, e})
		}
		y, m = y2, m2
	}
}

// subtract removes the union of ms from p.
func subtract(p opiece, ms [][2]int64) []opiece {
	out := []opiece{p}
	for _, m := range ms {
		var next []opiece
		for _, q := range out {
			if m[1] <= q.a || m[0] >= q.b {
				next = append(next, q)
				continue
			}
			if q.a < m[0] {
				r := q
				r.b = m[0]
				next = append(next, r)
			}
			if m[1] < q.b {
				r := q
				r.a = m[1]
				next = append(next, r)
			}
		}
		out = next
	}
	return out
}

// maxFractionIntegral is ∫ max f dt of ps over [ra, rb).
func maxFractionIntegral(ps []opiece, ra, rb int64) *big.Rat {
	var cuts []int64
	for _, p := range ps {
		cuts = append(cuts, max(p.a, ra), min(p.b, rb))
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	sum := new(big.Rat)
	for i := 0; i+1 < len(cuts); i++ {
		a, b := cuts[i], cuts[i+1]
		if a < ra || b > rb || b <= a {
			continue
		}
		var f *big.Rat
		for _, p := range ps {
			if p.a <= a && a < p.b && (f == nil || p.f.Cmp(f) > 0) {
				f = p.f
			}
		}
		if f != nil {
			sum.Add(sum, new(big.Rat).Mul(f, big.NewRat(b-a, 1)))
		}
	}
	return sum
}

// oracleDowntime runs steps 1–5 of model.md §5 on ws for the range [ra, rb).
func oracleDowntime(k *impact.Contract, ws []opiece, ra, rb int64) *big.Rat {
	var ps []opiece
	var maint [][2]int64
	if k.ExcludeMaintenance {
		for _, m := range k.MaintenanceWindows {
			maint = append(maint, [2]int64{secs(m.Start), secs(m.End)})
		}
	}
	for _, w := range ws {
		if slices.Contains(k.ExcludedCauses, w.cs) {
			continue
		}
		ps = append(ps, subtract(w, maint)...)
	}
	if k.Degradation == impact.Proportional {
		return maxFractionIntegral(ps, ra, rb)
	}
	thr := ratOf(k.DowntimeThreshold, "1")
	var down [][2]int64
	for _, p := range ps {
		if p.f.Cmp(thr) >= 0 {
			down = append(down, [2]int64{p.a, p.b})
		}
	}
	slices.SortFunc(down, func(x, y [2]int64) int { return int(x[0] - y[0]) })
	var merged [][2]int64
	for _, d := range down {
		if n := len(merged); n > 0 && d[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], d[1])
		} else {
			merged = append(merged, d)
		}
	}
	var clipped [][2]int64
	for _, d := range merged {
		if d[1]-d[0] < k.MinDowntimeSeconds {
			continue
		}
		if a, b := max(d[0], ra), min(d[1], rb); b > a {
			clipped = append(clipped, [2]int64{a, b})
		}
	}
	floorMin := func(x int64) int64 { return x - ((x%60)+60)%60 }
	var total int64
	switch k.Granularity {
	case impact.MinutesTouched:
		var last int64 = -1 << 62
		for _, c := range clipped {
			a, b := floorMin(c[0]), floorMin(c[1]+59)
			a = max(a, last)
			if b > a {
				total += b - a
			}
			last = max(last, b)
		}
		total = min(total, rb-ra)
	case impact.MinutesFull:
		for _, c := range clipped {
			a, b := floorMin(c[0]+59), floorMin(c[1])
			if b > a {
				total += b - a
			}
		}
	default:
		for _, c := range clipped {
			total += c[1] - c[0]
		}
	}
	return big.NewRat(total, 1)
}

// ratRound rounds r to places decimals, half-up (away from zero) or half-even.
func ratRound(r *big.Rat, places int, halfUp bool) string {
	if !halfUp {
		return ratHalfEven(r, places)
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(places)), nil)
	n := new(big.Int).Mul(r.Num(), scale)
	q, m := new(big.Int).QuoRem(n, r.Denom(), new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		if n.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return decimal.NewFromBigInt(q, int32(-places)).StringFixed(int32(places))
}

func checkSLAOracle(t *testing.T, s *impact.Scenario, e *impact.Estimate) {
	t.Helper()
	for ci := range s.Customers {
		c := &s.Customers[ci]
		exp, _ := impact.MinorUnits(c.Currency)
		for ki := range c.Contracts {
			k := &c.Contracts[ki]
			loc := time.UTC
			if k.TimeZone != "" {
				var err error
				if loc, err = time.LoadLocation(k.TimeZone); err != nil {
					panic(err)
				}
			}
			var ws []opiece
			for _, in := range s.Incidents {
				cs := in.Cause
				if cs == impact.CauseUnspecified {
					cs = impact.UnknownCause
				}
				for _, w := range in.Windows {
					if w.CustomerID == c.ID && w.Service == k.Service {
						ws = append(ws, opiece{a: secs(w.Start), b: secs(w.End), f: ratOf(w.ImpactFraction, "1"), inc: in.ID, cs: cs})
					}
				}
			}
			periods := map[[2]int64]bool{}
			for _, w := range ws {
				for _, p := range oraclePeriods(w.a, w.b, loc, k.BillingPeriod == impact.Quarterly) {
					periods[p] = true
				}
			}
			want := 0
			for p := range periods {
				ra, rb := p[0], p[1]
				if k.Denominator == impact.Deployed {
					if !k.ActiveFrom.IsZero() {
						ra = max(ra, secs(k.ActiveFrom))
					}
					if !k.ActiveUntil.IsZero() {
						rb = min(rb, secs(k.ActiveUntil))
					}
					if rb <= ra {
						continue
					}
				}
				want++
				start := utc(time.Unix(p[0], 0))
				name := c.ID + "/" + k.Service + "@" + start
				st := findStmt(e, c.ID, k.Service, start)
				if st == nil {
					t.Errorf("oracle: statement %s missing; have %v", name, stmtKeys(e))
					continue
				}
				if got := secs(st.PeriodEnd); got != p[1] {
					t.Errorf("oracle: %s period_end %s, want %s", name, utc(st.PeriodEnd), utc(time.Unix(p[1], 0)))
				}
				T := rb - ra
				if st.PeriodSeconds != T {
					t.Errorf("oracle: %s period_seconds %d, want %d", name, st.PeriodSeconds, T)
				}
				D := oracleDowntime(k, ws, ra, rb)
				if st.DowntimeSeconds.Rat().Cmp(D) != 0 {
					t.Errorf("oracle: %s downtime %s, want %s", name, impact.FormatDecimal(st.DowntimeSeconds), D.FloatString(6))
				}
				// Tier, cap, fee, rounding, minimum.
				up := new(big.Rat).Quo(new(big.Rat).Mul(big.NewRat(100, 1), new(big.Rat).Sub(big.NewRat(T, 1), D)), big.NewRat(T, 1))
				pct := new(big.Rat)
				var best *big.Rat
				for _, tr := range k.Tiers {
					b := ratOf(tr.UptimeBelow, "")
					c := up.Cmp(b)
					if (c < 0 || tr.Inclusive && c == 0) && (best == nil || b.Cmp(best) < 0) {
						best, pct = b, ratOf(tr.CreditPercent, "")
					}
				}
				if capP := ratOf(k.CreditCapPercent, "100"); pct.Cmp(capP) > 0 {
					pct = capP
				}
				if st.CreditPercent.Rat().Cmp(pct) != 0 {
					t.Errorf("oracle: %s credit_percent %s, want %s", name, impact.FormatDecimal(st.CreditPercent), pct.FloatString(6))
				}
				fee := new(big.Rat).Mul(ratOf(k.MonthlyFee, "0"), big.NewRat(map[bool]int64{true: 3, false: 1}[k.BillingPeriod == impact.Quarterly], 1))
				for _, pf := range k.PeriodFees {
					if secs(pf.PeriodStart) == p[0] {
						fee = ratOf(pf.Fee, "")
					}
				}
				// The fee is the contract's figure: shown in the contract's mode
				// (model.md §1); the credit uses the exact fee.
				if got, w := amountString(c.Currency, st.Fee.Amount), ratRound(fee, int(exp), k.Rounding == impact.HalfUp); got != w {
					t.Errorf("oracle: %s fee %s, want %s", name, got, w)
				}
				comp := ratRound(new(big.Rat).Quo(new(big.Rat).Mul(pct, fee), big.NewRat(100, 1)), int(exp), k.Rounding == impact.HalfUp)
				if got := amountString(c.Currency, st.ComputedCredit.Amount); got != comp {
					t.Errorf("oracle: %s computed_credit %s, want %s (%s%% of %s)", name, got, comp, pct.FloatString(4), fee.FloatString(6))
				}
				compR := ratOf(comp, "")
				below := compR.Sign() > 0 && compR.Cmp(ratOf(k.MinCreditAmount, "0")) <= 0
				if st.BelowMinimum != below {
					t.Errorf("oracle: %s below_minimum %v, want %v", name, st.BelowMinimum, below)
				}
				// Incidents listed: every incident with a window overlapping the
				// period; own downtime from that incident's windows alone.
				incs := map[string][]opiece{}
				for _, w := range ws {
					if w.a < p[1] && w.b > p[0] {
						incs[w.inc] = append(incs[w.inc], w)
					}
				}
				if len(st.Incidents) != len(incs) {
					t.Errorf("oracle: %s lists %d incidents, want %d", name, len(st.Incidents), len(incs))
				}
				for _, sh := range st.Incidents {
					own, ok := incs[sh.IncidentID]
					if !ok {
						t.Errorf("oracle: %s lists incident %s without a window in the period", name, sh.IncidentID)
						continue
					}
					if d := oracleDowntime(k, own, ra, rb); sh.DowntimeSeconds.Rat().Cmp(d) != 0 {
						t.Errorf("oracle: %s incident %s downtime %s, want %s", name, sh.IncidentID, impact.FormatDecimal(sh.DowntimeSeconds), d.FloatString(6))
					}
				}
			}
			got := 0
			for _, st := range e.Statements {
				if st.CustomerID == c.ID && st.Service == k.Service {
					got++
				}
			}
			if got != want {
				t.Errorf("oracle: %s/%s has %d statements, want %d", c.ID, k.Service, got, want)
			}
		}
	}
}
