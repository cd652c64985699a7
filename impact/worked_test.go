package impact_test

// Worked examples: every expected figure below was computed by hand from
// shared/spec/model.md and the decisions of doc.go; the arithmetic is in the
// comment of each case. Assertions are on the strings clients see
// (Money.String, FormatDecimal, FormatFixed(uptime, 6)).

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

// ---------------------------------------------------------------------------
// Input helpers (shared by every test file of the package).

// ts parses an RFC 3339 instant (sub-second digits allowed).
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// win is a window of fraction 1 (default) for [start, end).
func win(cust, svc, start, end string) impact.OutageWindow {
	return impact.OutageWindow{CustomerID: cust, Service: svc, Start: ts(start), End: ts(end)}
}

// winF is a window with an explicit impact fraction.
func winF(cust, svc, start, end, f string) impact.OutageWindow {
	w := win(cust, svc, start, end)
	w.ImpactFraction = f
	return w
}

// winD is a window of fraction 1 lasting secs seconds from start.
func winD(cust, svc, start string, secs int64) impact.OutageWindow {
	s := ts(start)
	return impact.OutageWindow{CustomerID: cust, Service: svc, Start: s, End: s.Add(time.Duration(secs) * time.Second)}
}

// tiers builds credit tiers from "99.9:10" (strict <) and "<=99.9:10"
// (inclusive ≤) specs.
func tiers(specs ...string) []impact.CreditTier {
	var out []impact.CreditTier
	for _, s := range specs {
		incl := strings.HasPrefix(s, "<=")
		s = strings.TrimPrefix(s, "<=")
		b, p, ok := strings.Cut(s, ":")
		if !ok {
			panic("bad tier spec " + s)
		}
		out = append(out, impact.CreditTier{UptimeBelow: b, CreditPercent: p, Inclusive: incl})
	}
	return out
}

// cust is a customer with a flat hourly baseline in UTC.
func cust(id, currency, hourly string, contracts ...impact.Contract) impact.Customer {
	return impact.Customer{ID: id, Currency: currency, Baseline: impact.Baseline{HourlyAmount: hourly}, Contracts: contracts}
}

// contract is a monthly UTC contract with the given fee and tiers.
func contract(svc, fee string, t []impact.CreditTier) impact.Contract {
	return impact.Contract{Service: svc, MonthlyFee: fee, Tiers: t}
}

// indexProfile is a weekly profile whose entry i is the amount i, so a lost
// revenue figure names exactly which local hours of the week were counted.
func indexProfile() []string {
	p := make([]string, 168)
	for i := range p {
		p[i] = strconv.Itoa(i)
	}
	return p
}

// zeroProfile is a weekly profile of zeros with the given entries set.
func zeroProfile(set map[int]string) []string {
	p := make([]string, 168)
	for i := range p {
		p[i] = "0"
	}
	for i, v := range set {
		p[i] = v
	}
	return p
}

func inc(id string, ws ...impact.OutageWindow) impact.Incident {
	return impact.Incident{ID: id, Windows: ws}
}

// ---------------------------------------------------------------------------
// Output helpers.

// amountString spells an amount with the currency's minor digits, or marks
// it when the engine returned more digits than the currency has (which
// FormatFixed would refuse).
func amountString(currency string, d decimal.Decimal) string {
	exp, ok := impact.MinorUnits(currency)
	if !ok || d.Exponent() < -exp {
		return impact.FormatDecimal(d) + "(unrounded)"
	}
	return impact.FormatAmount(currency, d)
}

// ms spells a Money as "USD 1234.57".
func ms(m impact.Money) string { return m.Currency + " " + amountString(m.Currency, m.Amount) }

func fixed6(d decimal.Decimal) string {
	if d.Exponent() < -6 {
		return impact.FormatDecimal(d) + "(unrounded)"
	}
	return impact.FormatFixed(d, 6)
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// estimate runs the engine with the default limits and fails the test on error.
func estimate(t testing.TB, s *impact.Scenario) *impact.Estimate {
	t.Helper()
	e, err := impact.EstimateScenario(s, impact.DefaultLimits())
	if err != nil {
		t.Fatalf("EstimateScenario: %v", err)
	}
	if e == nil {
		t.Fatalf("EstimateScenario returned nil estimate and nil error")
	}
	return e
}

// ---------------------------------------------------------------------------
// Expectations. Empty strings are "not checked"; everything else is.

type wantStmt struct {
	cust, svc  string
	start, end string // RFC 3339 UTC
	t          int64  // period seconds (T); 0 = unchecked
	d          string // FormatDecimal(DowntimeSeconds)
	uptime     string // FormatFixed(UptimePercent, 6)
	pct        string // FormatDecimal(CreditPercent)
	fee        string // "USD 1000.00"
	computed   string
	credit     string
	below      bool     // always checked
	shares     []string // "inc-1 d=3000 USD 1234.57"; nil = unchecked
}

type wantCust struct {
	inc, cust   string
	impact      string // FormatDecimal(ImpactSeconds)
	gross, net  string // "USD 3060.00"
	recaptured  string
	recovery    string // "EUR 33.34", "nil" for no recovery cost
	churn       string
	credits     []string // "api@2025-06-01T00:00:00Z=USD 100.00"
	checkCredit bool
}

type wantTotals struct {
	inc, cur                        string
	gross, net, rec, credits, churn string // amounts without currency
}

type workedCase struct {
	name      string
	sc        func() *impact.Scenario
	stmts     []wantStmt
	nStmts    int  // number of statements when > 0
	noStmts   bool // no statement at all
	custs     []wantCust
	totals    []wantTotals // also checks the list of currencies of each named incident
	reporting []wantTotals // cur = reporting currency
}

func runWorked(t *testing.T, cases []workedCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.sc()
			e := estimate(t, s)
			checkWorked(t, c, e)
			checkInvariants(t, s, e)
			checkLostRevenueOracle(t, s, e)
			checkSLAOracle(t, s, e)
		})
	}
}

func findStmt(e *impact.Estimate, custID, svc, start string) *impact.SLAStatement {
	for i := range e.Statements {
		s := &e.Statements[i]
		if s.CustomerID == custID && s.Service == svc && utc(s.PeriodStart) == start {
			return s
		}
	}
	return nil
}

func findInc(e *impact.Estimate, id string) *impact.IncidentEstimate {
	for i := range e.Incidents {
		if e.Incidents[i].IncidentID == id {
			return &e.Incidents[i]
		}
	}
	return nil
}

func findCust(e *impact.Estimate, incID, custID string) *impact.CustomerEstimate {
	ie := findInc(e, incID)
	if ie == nil {
		return nil
	}
	for i := range ie.Customers {
		if ie.Customers[i].CustomerID == custID {
			return &ie.Customers[i]
		}
	}
	return nil
}

func stmtKeys(e *impact.Estimate) []string {
	var k []string
	for _, s := range e.Statements {
		k = append(k, s.CustomerID+"/"+s.Service+"@"+utc(s.PeriodStart))
	}
	return k
}

func totalsLine(cur string, ct impact.CurrencyTotals) string {
	return fmt.Sprintf("%s gross=%s net=%s rec=%s credits=%s churn=%s", ct.Currency,
		amountString(cur, ct.LostRevenueGross), amountString(cur, ct.LostRevenueNet),
		amountString(cur, ct.RecoveryCost), amountString(cur, ct.SLACredits), amountString(cur, ct.ChurnExposure))
}

func wantTotalsLine(w wantTotals) string {
	return fmt.Sprintf("%s gross=%s net=%s rec=%s credits=%s churn=%s", w.cur, w.gross, w.net, w.rec, w.credits, w.churn)
}

func checkField(t *testing.T, what, got, want string) {
	t.Helper()
	if want != "" && got != want {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func checkWorked(t *testing.T, c workedCase, e *impact.Estimate) {
	t.Helper()
	if c.noStmts && len(e.Statements) != 0 {
		t.Errorf("statements = %v, want none", stmtKeys(e))
	}
	if c.nStmts > 0 && len(e.Statements) != c.nStmts {
		t.Errorf("statements = %v, want %d of them", stmtKeys(e), c.nStmts)
	}
	for _, w := range c.stmts {
		s := findStmt(e, w.cust, w.svc, w.start)
		name := w.cust + "/" + w.svc + "@" + w.start
		if s == nil {
			t.Errorf("no statement %s; have %v", name, stmtKeys(e))
			continue
		}
		checkField(t, name+" period_end", utc(s.PeriodEnd), w.end)
		if w.t != 0 && s.PeriodSeconds != w.t {
			t.Errorf("%s period_seconds = %d, want %d", name, s.PeriodSeconds, w.t)
		}
		checkField(t, name+" downtime_seconds", impact.FormatDecimal(s.DowntimeSeconds), w.d)
		checkField(t, name+" uptime_percent", fixed6(s.UptimePercent), w.uptime)
		checkField(t, name+" credit_percent", impact.FormatDecimal(s.CreditPercent), w.pct)
		checkField(t, name+" fee", ms(s.Fee), w.fee)
		checkField(t, name+" computed_credit", ms(s.ComputedCredit), w.computed)
		checkField(t, name+" credit_amount", ms(s.CreditAmount), w.credit)
		if s.BelowMinimum != w.below {
			t.Errorf("%s below_minimum = %v, want %v", name, s.BelowMinimum, w.below)
		}
		if w.shares != nil {
			var got []string
			for _, sh := range s.Incidents {
				got = append(got, fmt.Sprintf("%s d=%s %s", sh.IncidentID, impact.FormatDecimal(sh.DowntimeSeconds), ms(sh.Credit)))
			}
			if strings.Join(got, " | ") != strings.Join(w.shares, " | ") {
				t.Errorf("%s incidents =\n  %q\nwant\n  %q", name, got, w.shares)
			}
		}
	}
	for _, w := range c.custs {
		ce := findCust(e, w.inc, w.cust)
		name := w.inc + "/" + w.cust
		if ce == nil {
			t.Errorf("no customer estimate %s", name)
			continue
		}
		checkField(t, name+" impact_seconds", impact.FormatDecimal(ce.ImpactSeconds), w.impact)
		checkField(t, name+" gross", ms(ce.LostRevenue.Gross), w.gross)
		checkField(t, name+" net", ms(ce.LostRevenue.Net), w.net)
		checkField(t, name+" recaptured", ms(ce.LostRevenue.Recaptured), w.recaptured)
		rec := "nil"
		if ce.RecoveryCost != nil {
			rec = ms(*ce.RecoveryCost)
		}
		checkField(t, name+" recovery_cost", rec, w.recovery)
		checkField(t, name+" churn_exposure", ms(ce.ChurnExposure), w.churn)
		if w.checkCredit || w.credits != nil {
			var got []string
			for _, ac := range ce.SLACredits {
				got = append(got, ac.Service+"@"+utc(ac.PeriodStart)+"="+ms(ac.Credit))
			}
			if strings.Join(got, " | ") != strings.Join(w.credits, " | ") {
				t.Errorf("%s sla_credits = %q, want %q", name, got, w.credits)
			}
		}
	}
	byInc := map[string][]string{}
	for _, w := range c.totals {
		byInc[w.inc] = append(byInc[w.inc], wantTotalsLine(w))
	}
	for id, want := range byInc {
		ie := findInc(e, id)
		if ie == nil {
			t.Errorf("no incident %s", id)
			continue
		}
		var got []string
		for _, ct := range ie.Totals {
			got = append(got, totalsLine(ct.Currency, ct))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s totals =\n  %s\nwant\n  %s", id, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	for _, w := range c.reporting {
		ie := findInc(e, w.inc)
		if ie == nil {
			t.Errorf("no incident %s", w.inc)
			continue
		}
		if ie.ReportingTotals == nil {
			t.Errorf("%s reporting_totals missing", w.inc)
			continue
		}
		got := totalsLine(w.cur, *ie.ReportingTotals)
		if got != wantTotalsLine(w) {
			t.Errorf("%s reporting_totals =\n  %s\nwant\n  %s", w.inc, got, wantTotalsLine(w))
		}
	}
}

// ---------------------------------------------------------------------------
// The three public worked examples of model.md.

func TestWorkedPublicExamples(t *testing.T) {
	aws := tiers("99.99:10", "99.0:30", "95.0:100")
	inst := tiers("99.5:10", "99.0:30", "95.0:100")
	instance := func(mins int64) func() *impact.Scenario {
		return func() *impact.Scenario {
			return &impact.Scenario{
				Customers: []impact.Customer{cust("c1", "USD", "0", contract("vm", "730.00", inst))},
				Incidents: []impact.Incident{inc("inc-1", winD("c1", "vm", "2025-06-10T00:00:00Z", mins*60))},
			}
		}
	}
	runWorked(t, []workedCase{
		{
			// July 2025 (UTC) has 31 days: T = 31·86400 = 2,678,400 s.
			// Outages 47 min + 3 min = 2,820 + 180 = 3,000 s = D.
			// uptime = 100·(2,678,400 − 3,000)/2,678,400 = 99.8879928315…%
			// → 99.887993. 99.887993 < 99.99 but not < 99.0 → 10 %.
			// 10 % × 12,345.67 = 1,234.567 → half-even → 1,234.57.
			name: "aws-regional-31-day-month",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", contract("ec2", "12345.67", aws))},
					Incidents: []impact.Incident{inc("inc-1",
						win("c1", "ec2", "2025-07-10T10:00:00Z", "2025-07-10T10:47:00Z"),
						win("c1", "ec2", "2025-07-20T05:00:00Z", "2025-07-20T05:03:00Z"))},
				}
			},
			nStmts: 1,
			stmts: []wantStmt{{cust: "c1", svc: "ec2", start: "2025-07-01T00:00:00Z", end: "2025-08-01T00:00:00Z",
				t: 2678400, d: "3000", uptime: "99.887993", pct: "10", fee: "USD 12345.67",
				computed: "USD 1234.57", credit: "USD 1234.57", shares: []string{"inc-1 d=3000 USD 1234.57"}}},
			custs: []wantCust{{inc: "inc-1", cust: "c1", impact: "3000", gross: "USD 0.00",
				credits: []string{"ec2@2025-07-01T00:00:00Z=USD 1234.57"}}},
		},
		{
			// June 2025: T = 30·86400 = 2,592,000. 216 min = 12,960 s.
			// uptime = 100·(2,592,000 − 12,960)/2,592,000 = 100·2,579,040/2,592,000
			// = 99.5 exactly; "< 99.5" does not hold → 0 %, credit 0.00.
			name:  "instance-216-minutes-exactly-99.5",
			sc:    instance(216),
			stmts: []wantStmt{{cust: "c1", svc: "vm", start: "2025-06-01T00:00:00Z", end: "2025-07-01T00:00:00Z", t: 2592000, d: "12960", uptime: "99.500000", pct: "0", fee: "USD 730.00", computed: "USD 0.00", credit: "USD 0.00", shares: []string{"inc-1 d=12960 USD 0.00"}}},
		},
		{
			// 217 min = 13,020 s: uptime = 100·2,578,980/2,592,000 = 99.4976851…
			// < 99.5 → 10 % × 730.00 = 73.00.
			name:  "instance-217-minutes",
			sc:    instance(217),
			stmts: []wantStmt{{cust: "c1", svc: "vm", start: "2025-06-01T00:00:00Z", t: 2592000, d: "13020", uptime: "99.497685", pct: "10", computed: "USD 73.00", credit: "USD 73.00", shares: []string{"inc-1 d=13020 USD 73.00"}}},
		},
		{
			// 432 min = 25,920 s: uptime = 100·2,566,080/2,592,000 = 99.0 exactly;
			// < 99.5 holds, < 99.0 does not → still 10 % → 73.00.
			name:  "instance-432-minutes-exactly-99.0",
			sc:    instance(432),
			stmts: []wantStmt{{cust: "c1", svc: "vm", start: "2025-06-01T00:00:00Z", t: 2592000, d: "25920", uptime: "99.000000", pct: "10", computed: "USD 73.00", credit: "USD 73.00"}},
		},
		{
			// Monday 2025-07-07 09:00–12:00 UTC = weekly indices 9, 10, 11 with
			// 2,400.00, 2,700.00, 2,550.00; fraction 0.4.
			// gross = 0.4·(2,400 + 2,700 + 2,550) = 0.4·7,650 = 3,060.00
			// net = 3,060 × (1 − 0.25) = 2,295.00; recaptured = 3,060.00 − 2,295.00 = 765.00
			// impact_seconds = 0.4 × 10,800 = 4,320.
			name: "lost-revenue-weekly-profile",
			sc: func() *impact.Scenario {
				c := cust("c1", "USD", "")
				c.Baseline.WeeklyProfile = zeroProfile(map[int]string{9: "2400.00", 10: "2700.00", 11: "2550.00"})
				c.Baseline.RecaptureRate = "0.25"
				return &impact.Scenario{
					Customers: []impact.Customer{c},
					Incidents: []impact.Incident{inc("inc-1", winF("c1", "web", "2025-07-07T09:00:00Z", "2025-07-07T12:00:00Z", "0.4"))},
				}
			},
			noStmts: true,
			custs:   []wantCust{{inc: "inc-1", cust: "c1", impact: "4320", gross: "USD 3060.00", net: "USD 2295.00", recaptured: "USD 765.00", recovery: "nil", churn: "USD 0.00", checkCredit: true}},
		},
		{
			// Same three hours as overrides of a zero flat baseline: same figures.
			name: "lost-revenue-overrides",
			sc: func() *impact.Scenario {
				c := cust("c1", "USD", "0")
				c.Baseline.Overrides = []impact.HourlyOverride{
					{HourStart: ts("2025-07-07T09:00:00Z"), Amount: "2400.00"},
					{HourStart: ts("2025-07-07T10:00:00Z"), Amount: "2700.00"},
					{HourStart: ts("2025-07-07T11:00:00Z"), Amount: "2550.00"},
				}
				c.Baseline.RecaptureRate = "0.25"
				return &impact.Scenario{
					Customers: []impact.Customer{c},
					Incidents: []impact.Incident{inc("inc-1", winF("c1", "web", "2025-07-07T09:00:00Z", "2025-07-07T12:00:00Z", "0.4"))},
				}
			},
			custs: []wantCust{{inc: "inc-1", cust: "c1", impact: "4320", gross: "USD 3060.00", net: "USD 2295.00", recaptured: "USD 765.00"}},
		},
	})
}

// ---------------------------------------------------------------------------
// Tier bounds: exactly at each bound and one second beside it.

func TestWorkedTierBounds(t *testing.T) {
	// June 2025, UTC: T = 2,592,000 s; fee 1,000.00.
	// Strict:    <99.99 → 10, <99.9 → 25, <99.0 → 50, <95.0 → 100.
	// Inclusive: the same bounds with ≤.
	// D at a bound b: D = T·(100 − b)/100 → 99.9: 2,592; 99.0: 25,920;
	// 95.0: 129,600; 99.99: 259.2 (only reachable with PROPORTIONAL).
	strict := tiers("99.99:10", "99.9:25", "99.0:50", "95.0:100")
	incl := tiers("<=99.99:10", "<=99.9:25", "<=99.0:50", "<=95.0:100")
	type row struct {
		name   string
		t      []impact.CreditTier
		d      int64  // window seconds from 2025-06-10T00:00:00Z
		f      string // fraction; "" = 1
		prop   bool
		wantD  string
		uptime string
		pct    string
		credit string
	}
	rows := []row{
		// 259 s: 100·(2,592,000−259)/2,592,000 = 99.9900077… ≥ 99.99 → 0 %.
		{"strict-99.99-above-259s", strict, 259, "", false, "259", "99.990008", "0", "0.00"},
		// 260 s: 99.9899691… < 99.99 → 10 % → 100.00.
		{"strict-99.99-below-260s", strict, 260, "", false, "260", "99.989969", "10", "100.00"},
		// 2,591 s: 99.9000385… ≥ 99.9, < 99.99 → 10 %.
		{"strict-99.9-above", strict, 2591, "", false, "2591", "99.900039", "10", "100.00"},
		// 2,592 s: exactly 99.9, not < 99.9 → 10 %.
		{"strict-99.9-at", strict, 2592, "", false, "2592", "99.900000", "10", "100.00"},
		// 2,593 s: 99.8999614… < 99.9 → 25 % → 250.00.
		{"strict-99.9-below", strict, 2593, "", false, "2593", "99.899961", "25", "250.00"},
		// 25,919 s: 99.0000385… → 25 %.
		{"strict-99.0-above", strict, 25919, "", false, "25919", "99.000039", "25", "250.00"},
		// 25,920 s: exactly 99.0 → not < 99.0 → 25 %.
		{"strict-99.0-at", strict, 25920, "", false, "25920", "99.000000", "25", "250.00"},
		// 25,921 s: 98.9999614… → 50 % → 500.00.
		{"strict-99.0-below", strict, 25921, "", false, "25921", "98.999961", "50", "500.00"},
		// 129,599 s: 95.0000385… → 50 %.
		{"strict-95.0-above", strict, 129599, "", false, "129599", "95.000039", "50", "500.00"},
		// 129,600 s: exactly 95.0 → 50 %.
		{"strict-95.0-at", strict, 129600, "", false, "129600", "95.000000", "50", "500.00"},
		// 129,601 s: 94.9999614… → 100 % → 1,000.00.
		{"strict-95.0-below", strict, 129601, "", false, "129601", "94.999961", "100", "1000.00"},
		// Inclusive: at the bound the tier applies.
		{"incl-99.99-above-259s", incl, 259, "", false, "259", "99.990008", "0", "0.00"},
		{"incl-99.99-below-260s", incl, 260, "", false, "260", "99.989969", "10", "100.00"},
		{"incl-99.9-above", incl, 2591, "", false, "2591", "99.900039", "10", "100.00"},
		{"incl-99.9-at", incl, 2592, "", false, "2592", "99.900000", "25", "250.00"},
		{"incl-99.9-below", incl, 2593, "", false, "2593", "99.899961", "25", "250.00"},
		{"incl-99.0-above", incl, 25919, "", false, "25919", "99.000039", "25", "250.00"},
		{"incl-99.0-at", incl, 25920, "", false, "25920", "99.000000", "50", "500.00"},
		{"incl-99.0-below", incl, 25921, "", false, "25921", "98.999961", "50", "500.00"},
		{"incl-95.0-above", incl, 129599, "", false, "129599", "95.000039", "50", "500.00"},
		{"incl-95.0-at", incl, 129600, "", false, "129600", "95.000000", "100", "1000.00"},
		{"incl-95.0-below", incl, 129601, "", false, "129601", "94.999961", "100", "1000.00"},
		// PROPORTIONAL at fraction 0.2: D = 0.2 × seconds.
		// 1,296 s → D = 259.2 → uptime = 100·(2,592,000 − 259.2)/2,592,000 = 99.99 exactly.
		{"prop-strict-99.99-at", strict, 1296, "0.2", true, "259.2", "99.990000", "0", "0.00"},
		{"prop-incl-99.99-at", incl, 1296, "0.2", true, "259.2", "99.990000", "10", "100.00"},
		// 1,295 s → D = 259 → 99.9900077… → 0 %; 1,297 s → D = 259.4 → 99.9899922… → 10 %.
		{"prop-strict-99.99-above", strict, 1295, "0.2", true, "259", "99.990008", "0", "0.00"},
		{"prop-strict-99.99-below", strict, 1297, "0.2", true, "259.4", "99.989992", "10", "100.00"},
		// Bound 100 (strict, 5 %): 1 s down → 99.9999614… < 100 → 5 % → 50.00.
		{"strict-100-one-second", tiers("100:5"), 1, "", false, "1", "99.999961", "5", "50.00"},
		// Fraction 0.5 under THRESHOLD (default threshold 1) counts nothing:
		// D = 0, uptime exactly 100 → not < 100 → 0 %.
		{"strict-100-no-downtime", tiers("100:5"), 3600, "0.5", false, "0", "100.000000", "0", "0.00"},
		// Inclusive 100: 100 ≤ 100 holds → 5 % even without downtime.
		{"incl-100-no-downtime", tiers("<=100:5"), 3600, "0.5", false, "0", "100.000000", "5", "50.00"},
	}
	var cases []workedCase
	for _, r := range rows {
		cases = append(cases, workedCase{
			name: r.name,
			sc: func() *impact.Scenario {
				k := contract("api", "1000.00", r.t)
				if r.prop {
					k.Degradation = impact.Proportional
				}
				w := winD("c1", "api", "2025-06-10T00:00:00Z", r.d)
				w.ImpactFraction = r.f
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", k)},
					Incidents: []impact.Incident{inc("inc-1", w)},
				}
			},
			nStmts: 1,
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", end: "2025-07-01T00:00:00Z",
				t: 2592000, d: r.wantD, uptime: r.uptime, pct: r.pct, fee: "USD 1000.00",
				computed: "USD " + r.credit, credit: "USD " + r.credit,
				shares: []string{"inc-1 d=" + r.wantD + " USD " + r.credit}}},
		})
	}
	runWorked(t, cases)
}

// ---------------------------------------------------------------------------
// Lost revenue: local hours, DST, half-hour zones, overlaps, overrides,
// seasonal factors, recapture, rounding and minor units.

func TestWorkedLostRevenue(t *testing.T) {
	// profileCust has the weekly profile entry i = i (index 144 + h is Sunday
	// hour h, Monday 00:00 is index 0) in zone tz.
	profileCust := func(tz string) impact.Customer {
		c := cust("c1", "USD", "")
		c.TimeZone = tz
		c.Baseline.WeeklyProfile = indexProfile()
		return c
	}
	one := func(c impact.Customer, ws ...impact.OutageWindow) func() *impact.Scenario {
		return func() *impact.Scenario {
			return &impact.Scenario{Customers: []impact.Customer{c}, Incidents: []impact.Incident{inc("inc-1", ws...)}}
		}
	}
	withOverride := func(c impact.Customer, at, amount string) impact.Customer {
		c.Baseline.Overrides = append(c.Baseline.Overrides, impact.HourlyOverride{HourStart: ts(at), Amount: amount})
		return c
	}
	flat := func(id, currency, hourly string) impact.Customer { return cust(id, currency, hourly) }
	lr := func(custID, impactSecs, gross string) wantCust {
		return wantCust{inc: "inc-1", cust: custID, impact: impactSecs, gross: gross, net: gross, recaptured: gross[:4] + zeroLike(gross[4:])}
	}
	runWorked(t, []workedCase{
		{
			// America/New_York, Sunday 2025-03-09 (spring forward 02:00 EST → 03:00 EDT).
			// Local day = 05:00Z .. next 04:00Z = 23 hours; local hour 02 does not exist.
			// gross = Σ_{h=0..23, h≠2} (144 + h) = (24·144 + 276) − 146 = 3,732 − 146 = 3,586.00
			// impact = 23 × 3,600 = 82,800.
			name:  "new-york-spring-forward-23h-day",
			sc:    one(profileCust("America/New_York"), win("c1", "web", "2025-03-09T05:00:00Z", "2025-03-10T04:00:00Z")),
			custs: []wantCust{lr("c1", "82800", "USD 3586.00")},
		},
		{
			// 06:30Z = 01:30 EST (idx 145) for 30 min; 07:00Z = 03:00 EDT (idx 147)
			// for 60 min; 08:00Z = 04:00 EDT (idx 148) for 30 min.
			// gross = 145/2 + 147 + 148/2 = 72.5 + 147 + 74 = 293.50.
			name:  "new-york-spring-forward-across-gap",
			sc:    one(profileCust("America/New_York"), win("c1", "web", "2025-03-09T06:30:00Z", "2025-03-09T08:30:00Z")),
			custs: []wantCust{lr("c1", "7200", "USD 293.50")},
		},
		{
			// Sunday 2025-11-02 (fall back 02:00 EDT → 01:00 EST): local day =
			// 04:00Z .. next 05:00Z = 25 hours; hour 01 occurs twice (idx 145 twice).
			// gross = 3,732 + 145 = 3,877.00; impact = 25 × 3,600 = 90,000.
			name:  "new-york-fall-back-25h-day",
			sc:    one(profileCust("America/New_York"), win("c1", "web", "2025-11-02T04:00:00Z", "2025-11-03T05:00:00Z")),
			custs: []wantCust{lr("c1", "90000", "USD 3877.00")},
		},
		{
			// 05:00Z = 01:00 EDT, 06:00Z = 01:00 EST: two local hours, both idx 145.
			// gross = 145 + 145 = 290.00.
			name:  "new-york-fall-back-repeated-hour",
			sc:    one(profileCust("America/New_York"), win("c1", "web", "2025-11-02T05:00:00Z", "2025-11-02T07:00:00Z")),
			custs: []wantCust{lr("c1", "7200", "USD 290.00")},
		},
		{
			// Europe/Berlin, Sunday 2025-03-30 (02:00 CET → 03:00 CEST at 01:00Z):
			// local day = 2025-03-29T23:00Z .. 2025-03-30T22:00Z = 23 h.
			// gross = 3,732 − 146 = 3,586.00.
			name:  "berlin-spring-forward-23h-day",
			sc:    one(profileCust("Europe/Berlin"), win("c1", "web", "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z")),
			custs: []wantCust{lr("c1", "82800", "USD 3586.00")},
		},
		{
			// 00:30Z = 01:30 CET (idx 145) for 30 min; 01:00Z = 03:00 CEST (idx 147)
			// for 30 min. gross = 145/2 + 147/2 = 72.5 + 73.5 = 146.00.
			name:  "berlin-spring-forward-half-hours",
			sc:    one(profileCust("Europe/Berlin"), win("c1", "web", "2025-03-30T00:30:00Z", "2025-03-30T01:30:00Z")),
			custs: []wantCust{lr("c1", "3600", "USD 146.00")},
		},
		{
			// Sunday 2025-10-26 (03:00 CEST → 02:00 CET at 01:00Z): local day =
			// 2025-10-25T22:00Z .. 2025-10-26T23:00Z = 25 h; hour 02 twice (idx 146).
			// gross = 3,732 + 146 = 3,878.00.
			name:  "berlin-fall-back-25h-day",
			sc:    one(profileCust("Europe/Berlin"), win("c1", "web", "2025-10-25T22:00:00Z", "2025-10-26T23:00:00Z")),
			custs: []wantCust{lr("c1", "90000", "USD 3878.00")},
		},
		{
			// 00:00Z = 02:00 CEST (idx 146, rate 146); 01:00Z = 02:00 CET, the second
			// 02:00 hour, has an override of 1,000 (a valid local hour start).
			// gross = 146 + 1,000 = 1,146.00.
			name: "berlin-fall-back-override-on-repeated-hour",
			sc: one(withOverride(profileCust("Europe/Berlin"), "2025-10-26T01:00:00Z", "1000"),
				win("c1", "web", "2025-10-26T00:00:00Z", "2025-10-26T02:00:00Z")),
			custs: []wantCust{lr("c1", "7200", "USD 1146.00")},
		},
		{
			// Asia/Kolkata (UTC+5:30), Monday 2025-07-07: 04:00Z = 09:30 IST.
			// 04:00–04:30Z is local hour 09 (idx 9), 04:30–05:00Z local hour 10 (idx 10).
			// gross = 9/2 + 10/2 = 9.50.
			name:  "kolkata-local-hours-start-at-half-past",
			sc:    one(profileCust("Asia/Kolkata"), win("c1", "web", "2025-07-07T04:00:00Z", "2025-07-07T05:00:00Z")),
			custs: []wantCust{lr("c1", "3600", "USD 9.50")},
		},
		{
			// 2025-07-06T18:00Z = Sunday 23:30 IST (idx 167); 18:30Z = Monday 00:00
			// IST (idx 0). gross = 167/2 + 0/2 = 83.50 (the week wraps in local time).
			name:  "kolkata-week-wraps-at-local-midnight",
			sc:    one(profileCust("Asia/Kolkata"), win("c1", "web", "2025-07-06T18:00:00Z", "2025-07-06T19:00:00Z")),
			custs: []wantCust{lr("c1", "3600", "USD 83.50")},
		},
		{
			// Override at 04:30Z = 10:00 IST of 1,000: 04:00–04:30Z idx 9 → 4.5;
			// 04:30–05:00Z half of 1,000 → 500. gross = 504.50.
			name: "kolkata-override",
			sc: one(withOverride(profileCust("Asia/Kolkata"), "2025-07-07T04:30:00Z", "1000"),
				win("c1", "web", "2025-07-07T04:00:00Z", "2025-07-07T05:00:00Z")),
			custs: []wantCust{lr("c1", "3600", "USD 504.50")},
		},
		{
			// Australia/Lord_Howe leaves DST (+11 → +10:30) at 2025-04-05T15:00Z, when
			// the wall clock goes from 02:00 back to 01:30 (Sunday 2025-04-06 local).
			// Local hours (doc.go: cut at the transition): 14:00–15:00Z hour 01 (+11),
			// 15:00–15:30Z hour 01 (+10:30, 30 min), 15:30–16:00Z half of hour 02.
			// gross = 145 + 145·1,800/3,600 + 146·1,800/3,600 = 145 + 72.5 + 73 = 290.50.
			name:  "lord-howe-half-hour-transition",
			sc:    one(profileCust("Australia/Lord_Howe"), win("c1", "web", "2025-04-05T14:00:00Z", "2025-04-05T16:00:00Z")),
			custs: []wantCust{lr("c1", "7200", "USD 290.50")},
		},
		{
			// Same window; the cut hour starting at 15:00Z (a local hour start) has an
			// override of 1,000: 145 + 1,000·1,800/3,600 + 73 = 145 + 500 + 73 = 718.00.
			name: "lord-howe-override-on-cut-hour",
			sc: one(withOverride(profileCust("Australia/Lord_Howe"), "2025-04-05T15:00:00Z", "1000"),
				win("c1", "web", "2025-04-05T14:00:00Z", "2025-04-05T16:00:00Z")),
			custs: []wantCust{lr("c1", "7200", "USD 718.00")},
		},
		{
			// Plain decimals may have up to 30 integer digits. 19-digit amounts beyond
			// int64 (2^63 = 9,223,372,036,854,775,808) for 1 h at fraction 1:
			// gross = the amount itself, with 2 decimals.
			name: "nineteen-digit-amounts",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{flat("a", "USD", "9223372036854775808"), flat("b", "USD", "9999999999999999999"), flat("c", "USD", "123456789012345678901234567890")},
					Incidents: []impact.Incident{inc("inc-1",
						win("a", "web", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z"),
						win("b", "web", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z"),
						win("c", "web", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z"))},
				}
			},
			custs: []wantCust{
				lr("a", "3600", "USD 9223372036854775808.00"),
				lr("b", "3600", "USD 9999999999999999999.00"),
				lr("c", "3600", "USD 123456789012345678901234567890.00"),
			},
		},
		{
			// doc.go: hourly_amount is optional; without it and without a profile the
			// customer loses 0 revenue (its SLA still counts).
			name:  "no-baseline-loses-nothing",
			sc:    one(flat("c1", "USD", ""), win("c1", "web", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z")),
			custs: []wantCust{lr("c1", "3600", "USD 0.00")},
		},
		{
			// 433 s at 2,400.00/h: 2,400 × 433 / 3,600 = 1,039,200/3,600 = 288.666… → 288.67.
			name:  "per-second-rate",
			sc:    one(flat("c1", "USD", "2400.00"), win("c1", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:07:13Z")),
			custs: []wantCust{lr("c1", "433", "USD 288.67")},
		},
		{
			// 10:00:00.7 .. 10:00:05.2 truncates to 10:00:00 .. 10:00:05 = 5 s;
			// 3,600.00/h = 1 per s → 5.00.
			name:  "sub-second-truncation",
			sc:    one(flat("c1", "USD", "3600.00"), win("c1", "web", "2025-07-07T10:00:00.7Z", "2025-07-07T10:00:05.2Z")),
			custs: []wantCust{lr("c1", "5", "USD 5.00")},
		},
		{
			// Overlap: A [10:00,11:00) 0.5, B [10:30,12:00) 0.8 → max:
			// 1,800·0.5 + 5,400·0.8 = 900 + 4,320 = 5,220 s (summed would be 6,120).
			// 1 per s → 5,220.00.
			name: "overlap-takes-max-not-sum",
			sc: one(flat("c1", "USD", "3600.00"),
				winF("c1", "web", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z", "0.5"),
				winF("c1", "web", "2025-07-07T10:30:00Z", "2025-07-07T12:00:00Z", "0.8")),
			custs: []wantCust{lr("c1", "5220", "USD 5220.00")},
		},
		{
			// A [10:00,12:00) 0.3, B [10:30,11:00) 0.9, C [10:45,11:15) 0.6:
			// 10:00–10:30 0.3 → 540; 10:30–11:00 0.9 → 1,620; 11:00–11:15 0.6 → 540;
			// 11:15–12:00 0.3 → 810. Σ = 3,510.
			name: "overlap-nested-three-fractions",
			sc: one(flat("c1", "USD", "3600.00"),
				winF("c1", "web", "2025-07-07T10:00:00Z", "2025-07-07T12:00:00Z", "0.3"),
				winF("c1", "web", "2025-07-07T10:30:00Z", "2025-07-07T11:00:00Z", "0.9"),
				winF("c1", "web", "2025-07-07T10:45:00Z", "2025-07-07T11:15:00Z", "0.6")),
			custs: []wantCust{lr("c1", "3510", "USD 3510.00")},
		},
		{
			// Two services of one customer: api [10:00,11:00) 0.5, db [10:30,11:30) 1.
			// Revenue is the customer's: max per instant → 1,800·0.5 + 3,600·1 = 4,500.
			name: "two-services-max-fraction",
			sc: one(flat("c1", "USD", "3600.00"),
				winF("c1", "api", "2025-07-07T10:00:00Z", "2025-07-07T11:00:00Z", "0.5"),
				win("c1", "db", "2025-07-07T10:30:00Z", "2025-07-07T11:30:00Z")),
			custs: []wantCust{lr("c1", "4500", "USD 4500.00")},
		},
		{
			// Hourly 100; factors ×1.5 for December and ×2 for 2025-12-24 (both apply);
			// override 50 at 10:00Z is the whole rate of that hour (not multiplied).
			// 09:30–10:00: 100·1.5·2 = 300/h → 150; 10:00–11:00: 50; 11:00–11:30: 150.
			// gross = 350.00.
			name: "seasonal-factors-and-override",
			sc: func() *impact.Scenario {
				c := flat("c1", "USD", "100")
				c.Baseline.SeasonalFactors = []impact.SeasonalFactor{
					{Start: ts("2025-12-01T00:00:00Z"), End: ts("2026-01-01T00:00:00Z"), Multiplier: "1.5"},
					{Start: ts("2025-12-24T00:00:00Z"), End: ts("2025-12-25T00:00:00Z"), Multiplier: "2"},
				}
				c = withOverride(c, "2025-12-24T10:00:00Z", "50")
				return one(c, win("c1", "web", "2025-12-24T09:30:00Z", "2025-12-24T11:30:00Z"))()
			},
			custs: []wantCust{lr("c1", "7200", "USD 350.00")},
		},
		{
			// A factor ×2 for [10:15, 10:45) inside one hour at 100/h:
			// 15 min·100 + 30 min·200 + 15 min·100 = 25 + 100 + 25 = 150.00.
			name: "seasonal-factor-mid-hour",
			sc: func() *impact.Scenario {
				c := flat("c1", "USD", "100")
				c.Baseline.SeasonalFactors = []impact.SeasonalFactor{{Start: ts("2025-11-15T10:15:00Z"), End: ts("2025-11-15T10:45:00Z"), Multiplier: "2"}}
				return one(c, win("c1", "web", "2025-11-15T10:00:00Z", "2025-11-15T11:00:00Z"))()
			},
			custs: []wantCust{lr("c1", "3600", "USD 150.00")},
		},
		{
			// Factor 1.5 from 2025-12-01T00:00Z: 23:00–00:00 at 100, 00:00–01:00 at 150
			// → 250.00.
			name: "seasonal-factor-boundary",
			sc: func() *impact.Scenario {
				c := flat("c1", "USD", "100")
				c.Baseline.SeasonalFactors = []impact.SeasonalFactor{{Start: ts("2025-12-01T00:00:00Z"), End: ts("2026-01-01T00:00:00Z"), Multiplier: "1.5"}}
				return one(c, win("c1", "web", "2025-11-30T23:00:00Z", "2025-12-01T01:00:00Z"))()
			},
			custs: []wantCust{lr("c1", "7200", "USD 250.00")},
		},
		{
			// 20.25/h for 30 min: gross exact 10.125 → half-even 10.12;
			// net exact 10.125 × 0.7 = 7.0875 → 7.09; recaptured = 10.12 − 7.09 = 3.03
			// (not round(3.0375) = 3.04): the three rounded figures add up.
			name: "recapture-from-rounded-figures",
			sc: func() *impact.Scenario {
				c := flat("c1", "USD", "20.25")
				c.Baseline.RecaptureRate = "0.3"
				return one(c, win("c1", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:30:00Z"))()
			},
			custs: []wantCust{{inc: "inc-1", cust: "c1", impact: "1800", gross: "USD 10.12", net: "USD 7.09", recaptured: "USD 3.03"}},
		},
		{
			// Half-even ties in lost revenue: 2.25/h × ½ h = 1.125 → 1.12 (2 even);
			// 2.35/h × ½ h = 1.175 → 1.18 (7 odd → up). Half-up would give 1.13.
			name: "lost-revenue-half-even-ties",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{flat("a", "USD", "2.25"), flat("b", "USD", "2.35")},
					Incidents: []impact.Incident{inc("inc-1",
						win("a", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:30:00Z"),
						win("b", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:30:00Z"))},
				}
			},
			custs: []wantCust{lr("a", "1800", "USD 1.12"), lr("b", "1800", "USD 1.18")},
		},
		{
			// JPY has no minor unit: 12,345/h × ½ h = 6,172.5 → half-even 6,172;
			// 12,347 × ½ = 6,173.5 → 6,174.
			name: "jpy-zero-decimals",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{flat("a", "JPY", "12345"), flat("b", "JPY", "12347")},
					Incidents: []impact.Incident{inc("inc-1",
						win("a", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:30:00Z"),
						win("b", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:30:00Z"))},
				}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "a", gross: "JPY 6172", net: "JPY 6172", recaptured: "JPY 0"},
				{inc: "inc-1", cust: "b", gross: "JPY 6174", net: "JPY 6174", recaptured: "JPY 0"},
			},
		},
		{
			// KWD has 3 decimals: 10.001/h × 20 min = 10.001/3 = 3.333666… → 3.334.
			// CLF has 4: 1.2339/h × 10 min = 1.2339/6 = 0.20565 → half-even 0.2056.
			name: "kwd-and-clf-minor-units",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{flat("k", "KWD", "10.001"), flat("u", "CLF", "1.2339")},
					Incidents: []impact.Incident{inc("inc-1",
						win("k", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:20:00Z"),
						win("u", "web", "2025-07-07T10:00:00Z", "2025-07-07T10:10:00Z"))},
				}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "k", gross: "KWD 3.334", net: "KWD 3.334", recaptured: "KWD 0.000"},
				{inc: "inc-1", cust: "u", gross: "CLF 0.2056", net: "CLF 0.2056", recaptured: "CLF 0.0000"},
			},
		},
	})
}

// zeroLike turns "3586.00" into "0.00" (same minor digits).
func zeroLike(amount string) string {
	i := strings.IndexByte(amount, '.')
	if i < 0 {
		return "0"
	}
	return "0." + strings.Repeat("0", len(amount)-i-1)
}

// ---------------------------------------------------------------------------
// SLA statements.

func TestWorkedSLA(t *testing.T) {
	t1 := tiers("99.99:10")
	single := func(k impact.Contract, ws ...impact.OutageWindow) func() *impact.Scenario {
		return func() *impact.Scenario {
			return &impact.Scenario{
				Customers: []impact.Customer{cust("c1", "USD", "0", k)},
				Incidents: []impact.Incident{inc("inc-1", ws...)},
			}
		}
	}
	zoned := func(k impact.Contract, tz string) impact.Contract { k.TimeZone = tz; return k }
	quarterly := func(k impact.Contract) impact.Contract { k.BillingPeriod = impact.Quarterly; return k }
	with := func(k impact.Contract, f func(*impact.Contract)) impact.Contract { f(&k); return k }

	runWorked(t, []workedCase{
		{
			// Europe/Berlin March 2025: 2025-02-28T23:00Z .. 2025-03-31T22:00Z,
			// T = 31·86,400 − 3,600 = 2,674,800. D = 2,675 s.
			// uptime = 100·(2,674,800 − 2,675)/2,674,800 = 99.8999925… < 99.9 → 10 % of
			// 100.00 = 10.00. (With a naive T of 2,678,400 it would be 99.90012 → 0.)
			name: "berlin-march-is-31-days-minus-an-hour",
			sc:   single(zoned(contract("api", "100.00", tiers("99.9:10")), "Europe/Berlin"), winD("c1", "api", "2025-03-10T00:00:00Z", 2675)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-02-28T23:00:00Z", end: "2025-03-31T22:00:00Z",
				t: 2674800, d: "2675", uptime: "99.899993", pct: "10", credit: "USD 10.00"}},
		},
		{
			// Berlin October 2025: 2025-09-30T22:00Z .. 2025-10-31T23:00Z,
			// T = 31·86,400 + 3,600 = 2,682,000. D = 2,680:
			// uptime = 100·2,679,320/2,682,000 = 99.9000746… ≥ 99.9 → 0 %.
			// (A naive T of 2,678,400 would give 99.89994 → 10 %.)
			name: "berlin-october-is-31-days-plus-an-hour",
			sc:   single(zoned(contract("api", "100.00", tiers("99.9:10")), "Europe/Berlin"), winD("c1", "api", "2025-10-10T00:00:00Z", 2680)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-09-30T22:00:00Z", end: "2025-10-31T23:00:00Z",
				t: 2682000, d: "2680", uptime: "99.900075", pct: "0", credit: "USD 0.00"}},
		},
		{
			// America/New_York March 2025: 05:00Z .. 2025-04-01T04:00Z, T = 2,674,800.
			// D = 2,675 → 99.899993 → 10 % → 10.00.
			name: "new-york-march",
			sc:   single(zoned(contract("api", "100.00", tiers("99.9:10")), "America/New_York"), winD("c1", "api", "2025-03-10T00:00:00Z", 2675)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-03-01T05:00:00Z", end: "2025-04-01T04:00:00Z",
				t: 2674800, d: "2675", uptime: "99.899993", pct: "10", credit: "USD 10.00"}},
		},
		{
			// New York November 2025: 2025-11-01T04:00Z .. 2025-12-01T05:00Z,
			// T = 30·86,400 + 3,600 = 2,595,600. D = 2,595:
			// uptime = 100·2,593,005/2,595,600 = 99.9000231… ≥ 99.9 → 0 %.
			name: "new-york-november",
			sc:   single(zoned(contract("api", "100.00", tiers("99.9:10")), "America/New_York"), winD("c1", "api", "2025-11-10T00:00:00Z", 2595)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-11-01T04:00:00Z", end: "2025-12-01T05:00:00Z",
				t: 2595600, d: "2595", uptime: "99.900023", pct: "0", credit: "USD 0.00"}},
		},
		{
			// America/Asuncion skipped local midnight on 2017-10-01 (00:00 −04 → 01:00 −03
			// at 04:00Z). October starts at the first instant reading ≥ 00:00 on the 1st:
			// 01:00 −03 = 04:00Z. September: 2017-09-01T04:00Z..10-01T04:00Z = 2,592,000 s;
			// October: ..11-01T03:00Z = 31·86,400 − 3,600 = 2,674,800 s.
			// Window 03:30Z–04:30Z: 1,800 s in each.
			// Sept 100·2,590,200/2,592,000 = 99.930556; Oct 100·2,673,000/2,674,800 = 99.9327052… → 99.932705.
			name:   "asuncion-skipped-midnight-on-the-first",
			sc:     single(zoned(contract("api", "1000.00", t1), "America/Asuncion"), win("c1", "api", "2017-10-01T03:30:00Z", "2017-10-01T04:30:00Z")),
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2017-09-01T04:00:00Z", end: "2017-10-01T04:00:00Z", t: 2592000, d: "1800", uptime: "99.930556", credit: "USD 100.00"},
				{cust: "c1", svc: "api", start: "2017-10-01T04:00:00Z", end: "2017-11-01T03:00:00Z", t: 2674800, d: "1800", uptime: "99.932705", credit: "USD 100.00"},
			},
		},
		{
			// Berlin Q1 2025: 2024-12-31T23:00Z .. 2025-03-31T22:00Z = 90·86,400 − 3,600
			// = 7,772,400 s. D = 3,600 → 100·7,768,800/7,772,400 = 99.9536823… → 99.953682;
			// < 99.99 → 10 % of 3 × 100.00 = 30.00.
			name:  "berlin-quarter-with-spring-forward",
			sc:    single(quarterly(zoned(contract("api", "100.00", t1), "Europe/Berlin")), win("c1", "api", "2025-02-10T10:00:00Z", "2025-02-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2024-12-31T23:00:00Z", end: "2025-03-31T22:00:00Z", t: 7772400, d: "3600", uptime: "99.953682", fee: "USD 300.00", credit: "USD 30.00"}},
		},
		{
			// Asia/Kolkata contract: July starts 2025-06-30T18:30Z. Window
			// 18:00Z–19:00Z: 1,800 s in June (2025-05-31T18:30Z.., T = 2,592,000) and
			// 1,800 s in July (T = 2,678,400).
			// June: 100·(2,592,000 − 1,800)/2,592,000 = 99.9305555… → 99.930556, 10 % → 100.00.
			// July: 100·(2,678,400 − 1,800)/2,678,400 = 99.9327956… → 99.932796 → 100.00.
			name:   "kolkata-month-starts-at-1830-utc",
			sc:     single(zoned(contract("api", "1000.00", t1), "Asia/Kolkata"), win("c1", "api", "2025-06-30T18:00:00Z", "2025-06-30T19:00:00Z")),
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-05-31T18:30:00Z", end: "2025-06-30T18:30:00Z", t: 2592000, d: "1800", uptime: "99.930556", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=1800 USD 100.00"}},
				{cust: "c1", svc: "api", start: "2025-06-30T18:30:00Z", end: "2025-07-31T18:30:00Z", t: 2678400, d: "1800", uptime: "99.932796", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=1800 USD 100.00"}},
			},
			custs: []wantCust{{inc: "inc-1", cust: "c1", credits: []string{"api@2025-05-31T18:30:00Z=USD 100.00", "api@2025-06-30T18:30:00Z=USD 100.00"}}},
		},
		{
			// UTC window 2025-06-30T23:00Z–07-01T01:00Z counts 3,600 s in each month.
			// June: 100·(2,592,000 − 3,600)/2,592,000 = 99.8611111… → 10 % of 1,000 = 100.00.
			// July: 100·(2,678,400 − 3,600)/2,678,400 = 99.8655913… → 100.00.
			name:   "window-across-month-boundary",
			sc:     single(contract("api", "1000.00", t1), win("c1", "api", "2025-06-30T23:00:00Z", "2025-07-01T01:00:00Z")),
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", end: "2025-07-01T00:00:00Z", t: 2592000, d: "3600", uptime: "99.861111", pct: "10", fee: "USD 1000.00", credit: "USD 100.00", shares: []string{"inc-1 d=3600 USD 100.00"}},
				{cust: "c1", svc: "api", start: "2025-07-01T00:00:00Z", end: "2025-08-01T00:00:00Z", t: 2678400, d: "3600", uptime: "99.865591", pct: "10", fee: "USD 1000.00", credit: "USD 100.00", shares: []string{"inc-1 d=3600 USD 100.00"}},
			},
			custs: []wantCust{{inc: "inc-1", cust: "c1", credits: []string{"api@2025-06-01T00:00:00Z=USD 100.00", "api@2025-07-01T00:00:00Z=USD 100.00"}}},
		},
		{
			// QUARTERLY, fee = 3 × 1,000.00 = 3,000.00. Window 2025-06-30T22:00Z..
			// 07-01T02:00Z: 7,200 s in Q2 and 7,200 s in Q3.
			// Q2: T = 91·86,400 = 7,862,400; uptime = 100·7,855,200/7,862,400 = 99.9084249…
			// Q3: T = 92·86,400 = 7,948,800; uptime = 100·7,941,600/7,948,800 = 99.9094202…
			// Both < 99.95 → 10 % of 3,000.00 = 300.00.
			name:   "window-across-quarter-boundary",
			sc:     single(quarterly(contract("api", "1000.00", tiers("99.95:10"))), win("c1", "api", "2025-06-30T22:00:00Z", "2025-07-01T02:00:00Z")),
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-04-01T00:00:00Z", end: "2025-07-01T00:00:00Z", t: 7862400, d: "7200", uptime: "99.908425", pct: "10", fee: "USD 3000.00", computed: "USD 300.00", credit: "USD 300.00"},
				{cust: "c1", svc: "api", start: "2025-07-01T00:00:00Z", end: "2025-10-01T00:00:00Z", t: 7948800, d: "7200", uptime: "99.909420", pct: "10", fee: "USD 3000.00", computed: "USD 300.00", credit: "USD 300.00"},
			},
		},
		{
			// A month boundary inside a quarter is not a period boundary: one Q2
			// statement with D = 7,200 → 99.908425.
			name:   "quarterly-month-boundary-inside-quarter",
			sc:     single(quarterly(contract("api", "1000.00", tiers("99.95:10"))), win("c1", "api", "2025-05-31T23:00:00Z", "2025-06-01T01:00:00Z")),
			nStmts: 1,
			stmts:  []wantStmt{{cust: "c1", svc: "api", start: "2025-04-01T00:00:00Z", t: 7862400, d: "7200", uptime: "99.908425", credit: "USD 300.00"}},
		},
		{
			// min_downtime_seconds 5,400 (90 min), judged on the whole timeline:
			// inc-1 [06-30 23:00, 07-01 01:00) is 120 min ≥ 90 → kept, 3,600 s in each month;
			// inc-2 [07-15 10:00, 11:00) is 60 min → dropped;
			// inc-3 [05-31 23:20, 06-01 00:40) is 80 min → dropped in both May and June.
			// May: D 0 → 100 %, 0. June: D 3,600 → 99.861111 → 100.00.
			// July: D 3,600 → 99.865591 → 100.00.
			// Shares (each incident alone): inc-1 3,600; inc-2 and inc-3 0.
			name: "min-downtime-judges-straddling-outage-whole",
			sc: func() *impact.Scenario {
				k := with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.MinDowntimeSeconds = 5400 })
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", k)},
					Incidents: []impact.Incident{
						inc("inc-1", win("c1", "api", "2025-06-30T23:00:00Z", "2025-07-01T01:00:00Z")),
						inc("inc-2", win("c1", "api", "2025-07-15T10:00:00Z", "2025-07-15T11:00:00Z")),
						inc("inc-3", win("c1", "api", "2025-05-31T23:20:00Z", "2025-06-01T00:40:00Z")),
					},
				}
			},
			nStmts: 3,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-05-01T00:00:00Z", t: 2678400, d: "0", uptime: "100.000000", pct: "0", credit: "USD 0.00", shares: []string{"inc-3 d=0 USD 0.00"}},
				{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", t: 2592000, d: "3600", uptime: "99.861111", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=3600 USD 100.00", "inc-3 d=0 USD 0.00"}},
				{cust: "c1", svc: "api", start: "2025-07-01T00:00:00Z", t: 2678400, d: "3600", uptime: "99.865591", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=3600 USD 100.00", "inc-2 d=0 USD 0.00"}},
			},
			custs: []wantCust{
				{inc: "inc-2", cust: "c1", credits: []string{"api@2025-07-01T00:00:00Z=USD 0.00"}},
				{inc: "inc-3", cust: "c1", credits: []string{"api@2025-05-01T00:00:00Z=USD 0.00", "api@2025-06-01T00:00:00Z=USD 0.00"}},
			},
		},
		{
			// exclude_maintenance: maintenance [10:00,10:30) removed from the window
			// [10:00,11:00) → D = 1,800 → 100·(2,592,000 − 1,800)/2,592,000 = 99.930556.
			name: "maintenance-excluded",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) {
				k.ExcludeMaintenance = true
				k.MaintenanceWindows = []impact.TimeWindow{{Start: ts("2025-06-10T10:00:00Z"), End: ts("2025-06-10T10:30:00Z")}}
			}), win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "1800", uptime: "99.930556", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=1800 USD 100.00"}}},
		},
		{
			// The same maintenance window without exclude_maintenance: D = 3,600 → 99.861111.
			name: "maintenance-listed-but-not-excluded",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) {
				k.MaintenanceWindows = []impact.TimeWindow{{Start: ts("2025-06-10T10:00:00Z"), End: ts("2025-06-10T10:30:00Z")}}
			}), win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "3600", uptime: "99.861111", pct: "10", credit: "USD 100.00"}},
		},
		{
			// excluded_causes NATURAL_DISASTER: inc-nd (1 h) does not count;
			// inc-sw (30 min) does → D = 1,800 → 99.930556 → 100.00, all to inc-sw.
			// c2 has only the excluded window: a statement still exists with D 0.
			// Lost revenue is not affected by the exclusion: 100/h → 100.00 and 50.00.
			name: "cause-excluded",
			sc: func() *impact.Scenario {
				k := with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.ExcludedCauses = []impact.Cause{impact.NaturalDisaster} })
				nd := inc("inc-nd", win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"), win("c2", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))
				nd.Cause = impact.NaturalDisaster
				sw := inc("inc-sw", win("c1", "api", "2025-06-12T10:00:00Z", "2025-06-12T10:30:00Z"))
				sw.Cause = impact.SoftwareDefect
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "100", k), cust("c2", "USD", "100", k)},
					Incidents: []impact.Incident{nd, sw},
				}
			},
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "1800", uptime: "99.930556", pct: "10", credit: "USD 100.00", shares: []string{"inc-nd d=0 USD 0.00", "inc-sw d=1800 USD 100.00"}},
				{cust: "c2", svc: "api", start: "2025-06-01T00:00:00Z", d: "0", uptime: "100.000000", pct: "0", computed: "USD 0.00", credit: "USD 0.00", shares: []string{"inc-nd d=0 USD 0.00"}},
			},
			custs: []wantCust{
				{inc: "inc-nd", cust: "c1", gross: "USD 100.00", credits: []string{"api@2025-06-01T00:00:00Z=USD 0.00"}},
				{inc: "inc-sw", cust: "c1", gross: "USD 50.00", credits: []string{"api@2025-06-01T00:00:00Z=USD 100.00"}},
			},
		},
		{
			// Two contracts, active_from 2025-06-11T00:00Z, window 06-10 23:00–06-11 01:00.
			// PERIOD: T = 2,592,000, D = 7,200 → 100·2,584,800/2,592,000 = 99.7222222 → 99.722222.
			// DEPLOYED: T = 20·86,400 = 1,728,000 (06-11..07-01), D = 3,600 →
			// 100·1,724,400/1,728,000 = 99.7916666… → 99.791667.
			name: "deployed-vs-period-denominator",
			sc: func() *impact.Scenario {
				p := with(contract("period", "1000.00", t1), func(k *impact.Contract) {
					k.Denominator = impact.PeriodDenominator
					k.ActiveFrom = ts("2025-06-11T00:00:00Z")
				})
				d := with(contract("deployed", "1000.00", t1), func(k *impact.Contract) {
					k.Denominator = impact.Deployed
					k.ActiveFrom = ts("2025-06-11T00:00:00Z")
				})
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", p, d)},
					Incidents: []impact.Incident{inc("inc-1",
						win("c1", "period", "2025-06-10T23:00:00Z", "2025-06-11T01:00:00Z"),
						win("c1", "deployed", "2025-06-10T23:00:00Z", "2025-06-11T01:00:00Z"))},
				}
			},
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "deployed", start: "2025-06-01T00:00:00Z", t: 1728000, d: "3600", uptime: "99.791667", pct: "10", credit: "USD 100.00"},
				{cust: "c1", svc: "period", start: "2025-06-01T00:00:00Z", t: 2592000, d: "7200", uptime: "99.722222", pct: "10", credit: "USD 100.00"},
			},
		},
		{
			// DEPLOYED with active_until 2025-07-01T00:00Z: the July part of the window
			// is outside the deployment, so July has no statement. June: T = 2,592,000
			// (active_from unset = since always), D = 3,600 → 99.861111.
			name: "deployed-empty-period-has-no-statement",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) {
				k.Denominator = impact.Deployed
				k.ActiveUntil = ts("2025-07-01T00:00:00Z")
			}), win("c1", "api", "2025-06-30T23:00:00Z", "2025-07-01T01:00:00Z")),
			nStmts: 1,
			stmts:  []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", t: 2592000, d: "3600", uptime: "99.861111", credit: "USD 100.00"}},
		},
		{
			// DEPLOYED from 2025-06-10T10:00:30Z (mid-minute); window 10:00:00–10:02:00.
			// T = 07-01T00:00 − 06-10T10:00:30 = 20·86,400 + 13·3,600 + 59·60 + 30 = 1,778,370.
			// Clipped downtime [10:00:30, 10:02:00).
			// MINUTES_TOUCHED (doc.go: a touched minute cut by a DEPLOYED edge still
			// counts 60 s): 10:00, 10:01 → 120 → 100·1,778,250/1,778,370 = 99.9932522… → 99.993252.
			// MINUTES_FULL: only 10:01 lies entirely inside → 60 → 99.9966261… → 99.996626.
			name: "deployed-edge-mid-minute",
			sc: func() *impact.Scenario {
				mk := func(svc string, g impact.Granularity) impact.Contract {
					return with(contract(svc, "1000.00", t1), func(k *impact.Contract) {
						k.Denominator = impact.Deployed
						k.ActiveFrom = ts("2025-06-10T10:00:30Z")
						k.Granularity = g
					})
				}
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", mk("touched", impact.MinutesTouched), mk("full", impact.MinutesFull))},
					Incidents: []impact.Incident{inc("inc-1",
						win("c1", "touched", "2025-06-10T10:00:00Z", "2025-06-10T10:02:00Z"),
						win("c1", "full", "2025-06-10T10:00:00Z", "2025-06-10T10:02:00Z"))},
				}
			},
			stmts: []wantStmt{
				{cust: "c1", svc: "touched", start: "2025-06-01T00:00:00Z", t: 1778370, d: "120", uptime: "99.993252", pct: "0", credit: "USD 0.00"},
				{cust: "c1", svc: "full", start: "2025-06-01T00:00:00Z", t: 1778370, d: "60", uptime: "99.996626", pct: "0", credit: "USD 0.00"},
			},
		},
		{
			// Granularity on the same windows (2025-06-10):
			// w1 [10:00:10,10:00:50) 40 s, w2 [10:05:30,10:07:15) 105 s,
			// w3 [10:20:00,10:20:30) 30 s, w4 [10:20:30,10:21:00) 30 s.
			// SECONDS = 40+105+30+30 = 205 → 99.9920910… → 99.992091 ≥ 99.99 → 0.
			// MINUTES_TOUCHED: minutes 10:00, 10:05, 10:06, 10:07, 10:20 = 5·60 = 300
			//   → 99.9884259… → 99.988426 < 99.99 → 10 % → 100.00.
			// MINUTES_FULL: 10:06 entirely, 10:20 entirely (w3∪w4) = 120 → 99.995370 → 0.
			name: "granularity-seconds-touched-full",
			sc: func() *impact.Scenario {
				var ks []impact.Contract
				var ws []impact.OutageWindow
				for _, g := range []struct {
					svc string
					g   impact.Granularity
				}{{"full", impact.MinutesFull}, {"sec", impact.Seconds}, {"touched", impact.MinutesTouched}} {
					k := contract(g.svc, "1000.00", t1)
					k.Granularity = g.g
					ks = append(ks, k)
					ws = append(ws,
						win("c1", g.svc, "2025-06-10T10:00:10Z", "2025-06-10T10:00:50Z"),
						win("c1", g.svc, "2025-06-10T10:05:30Z", "2025-06-10T10:07:15Z"),
						win("c1", g.svc, "2025-06-10T10:20:00Z", "2025-06-10T10:20:30Z"),
						win("c1", g.svc, "2025-06-10T10:20:30Z", "2025-06-10T10:21:00Z"))
				}
				return &impact.Scenario{Customers: []impact.Customer{cust("c1", "USD", "0", ks...)}, Incidents: []impact.Incident{inc("inc-1", ws...)}}
			},
			nStmts: 3,
			stmts: []wantStmt{
				{cust: "c1", svc: "sec", start: "2025-06-01T00:00:00Z", d: "205", uptime: "99.992091", pct: "0", credit: "USD 0.00"},
				{cust: "c1", svc: "touched", start: "2025-06-01T00:00:00Z", d: "300", uptime: "99.988426", pct: "10", credit: "USD 100.00"},
				{cust: "c1", svc: "full", start: "2025-06-01T00:00:00Z", d: "120", uptime: "99.995370", pct: "0", credit: "USD 0.00"},
			},
			custs: []wantCust{{inc: "inc-1", cust: "c1", impact: "205"}},
		},
		{
			// PROPORTIONAL: [10:00,14:00) at 0.25 and [13:00,13:30) at 0.5 (max, not sum):
			// D = 0.25·14,400 + (0.5 − 0.25)·1,800 = 3,600 + 450 = 4,050
			// → 100·(2,592,000 − 4,050)/2,592,000 = 99.84375 → 10 % → 100.00.
			name: "proportional-degradation",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.Degradation = impact.Proportional }),
				winF("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T14:00:00Z", "0.25"),
				winF("c1", "api", "2025-06-10T13:00:00Z", "2025-06-10T13:30:00Z", "0.5")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "4050", uptime: "99.843750", pct: "10", credit: "USD 100.00", shares: []string{"inc-1 d=4050 USD 100.00"}}},
		},
		{
			// PROPORTIONAL with a fractional D: 0.3 × 1,001 s = 300.3 →
			// 100·(2,592,000 − 300.3)/2,592,000 = 99.9884143… → 99.988414 → 10 %.
			name: "proportional-fractional-downtime",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.Degradation = impact.Proportional }),
				func() impact.OutageWindow {
					w := winD("c1", "api", "2025-06-10T10:00:00Z", 1001)
					w.ImpactFraction = "0.3"
					return w
				}()),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "300.3", uptime: "99.988414", pct: "10", credit: "USD 100.00"}},
			custs: []wantCust{{inc: "inc-1", cust: "c1", impact: "300.3"}},
		},
		{
			// THRESHOLD 0.5: [10:00,11:00) 0.3 and [10:30,11:30) 0.6 → down where
			// max ≥ 0.5: [10:30,11:30) = 3,600; [12:00,12:10) at exactly 0.5 counts
			// ("at least") = 600. D = 4,200 → 99.8379629… → 99.837963.
			name: "threshold-partial-impact",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.DowntimeThreshold = "0.5" }),
				winF("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z", "0.3"),
				winF("c1", "api", "2025-06-10T10:30:00Z", "2025-06-10T11:30:00Z", "0.6"),
				winF("c1", "api", "2025-06-10T12:00:00Z", "2025-06-10T12:10:00Z", "0.5")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "4200", uptime: "99.837963", pct: "10", credit: "USD 100.00"}},
		},
		{
			// period_fees: June 2,000.00 (starts exactly at the period start) → 10 % = 200.00;
			// a fee at 2025-07-02 is not a period start → July uses monthly_fee 1,000.00 → 100.00.
			name: "period-fee-per-period",
			sc: single(with(contract("api", "1000.00", t1), func(k *impact.Contract) {
				k.PeriodFees = []impact.PeriodFee{{PeriodStart: ts("2025-06-01T00:00:00Z"), Fee: "2000.00"}, {PeriodStart: ts("2025-07-02T00:00:00Z"), Fee: "5000.00"}}
			}), win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"), win("c1", "api", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z")),
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", fee: "USD 2000.00", computed: "USD 200.00", credit: "USD 200.00"},
				{cust: "c1", svc: "api", start: "2025-07-01T00:00:00Z", fee: "USD 1000.00", computed: "USD 100.00", credit: "USD 100.00"},
			},
		},
		{
			// QUARTERLY: Q2 fee = 3 × 1,000.00 = 3,000.00 → 300.00; Q3 has a period fee
			// at 2025-07-01 of 9,000.00 → 900.00 (the 2025-08-01 fee is not a quarter start).
			name: "quarterly-fee-three-months-and-period-fee",
			sc: single(with(quarterly(contract("api", "1000.00", t1)), func(k *impact.Contract) {
				k.PeriodFees = []impact.PeriodFee{{PeriodStart: ts("2025-07-01T00:00:00Z"), Fee: "9000.00"}, {PeriodStart: ts("2025-08-01T00:00:00Z"), Fee: "1.00"}}
			}), win("c1", "api", "2025-05-10T10:00:00Z", "2025-05-10T11:00:00Z"), win("c1", "api", "2025-08-10T10:00:00Z", "2025-08-10T11:00:00Z")),
			nStmts: 2,
			stmts: []wantStmt{
				{cust: "c1", svc: "api", start: "2025-04-01T00:00:00Z", fee: "USD 3000.00", computed: "USD 300.00", credit: "USD 300.00"},
				{cust: "c1", svc: "api", start: "2025-07-01T00:00:00Z", fee: "USD 9000.00", computed: "USD 900.00", credit: "USD 900.00"},
			},
		},
		{
			// Kolkata contract: the July period starts 2025-06-30T18:30Z, so the fee at
			// that instant (500.00) applies → 50.00; one at 2025-07-01T00:00Z is ignored.
			name: "kolkata-period-fee-at-local-month-start",
			sc: single(with(zoned(contract("api", "100.00", t1), "Asia/Kolkata"), func(k *impact.Contract) {
				k.PeriodFees = []impact.PeriodFee{{PeriodStart: ts("2025-07-01T00:00:00Z"), Fee: "7777.00"}, {PeriodStart: ts("2025-06-30T18:30:00Z"), Fee: "500.00"}}
			}), win("c1", "api", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-30T18:30:00Z", fee: "USD 500.00", computed: "USD 50.00", credit: "USD 50.00"}},
		},
		{
			// Cap 25: D = 30,000 → 100·2,562,000/2,592,000 = 98.8425925… < 99.0 → tier 100 %,
			// capped: credit_percent 25, 25 % × 1,000.00 = 250.00.
			name: "credit-cap",
			sc: single(with(contract("api", "1000.00", tiers("99.99:10", "99.0:100")), func(k *impact.Contract) { k.CreditCapPercent = "25" }),
				winD("c1", "api", "2025-06-10T00:00:00Z", 30000)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "30000", uptime: "98.842593", pct: "25", computed: "USD 250.00", credit: "USD 250.00"}},
		},
		{
			// min_credit_amount 5.00: 10 % × 50.00 = 5.00 is positive but not greater
			// than 5.00 → shown, not owed: credit 0.00, below_minimum. Shares are 0.
			name: "below-minimum-equal-to-minimum",
			sc: single(with(contract("api", "50.00", t1), func(k *impact.Contract) { k.MinCreditAmount = "5.00" }),
				win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", pct: "10", computed: "USD 5.00", credit: "USD 0.00", below: true, shares: []string{"inc-1 d=3600 USD 0.00"}}},
			custs: []wantCust{{inc: "inc-1", cust: "c1", credits: []string{"api@2025-06-01T00:00:00Z=USD 0.00"}}},
		},
		{
			// 10 % × 50.10 = 5.01 > 5.00 → owed.
			name: "above-minimum",
			sc: single(with(contract("api", "50.10", t1), func(k *impact.Contract) { k.MinCreditAmount = "5.00" }),
				win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", computed: "USD 5.01", credit: "USD 5.01", below: false}},
		},
		{
			// No tier applies (1 s → 99.999961 ≥ 99.99): computed 0 is not "positive",
			// so below_minimum stays false.
			name: "zero-credit-is-not-below-minimum",
			sc: single(with(contract("api", "50.00", t1), func(k *impact.Contract) { k.MinCreditAmount = "5.00" }),
				winD("c1", "api", "2025-06-10T10:00:00Z", 1)),
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", uptime: "99.999961", pct: "0", computed: "USD 0.00", credit: "USD 0.00", below: false}},
		},
		{
			// Ties: 10 % × 12.25 = 1.225 → HALF_EVEN 1.22 (default and explicit), HALF_UP 1.23.
			// 10 % × 12.35 = 1.235 → 1.24 under both modes.
			name: "half-even-vs-half-up-usd",
			sc: func() *impact.Scenario {
				def := contract("def", "12.25", t1)
				he := contract("he", "12.25", t1)
				he.Rounding = impact.HalfEven
				hu := contract("hu", "12.25", t1)
				hu.Rounding = impact.HalfUp
				he2 := contract("he2", "12.35", t1)
				hu2 := contract("hu2", "12.35", t1)
				hu2.Rounding = impact.HalfUp
				var ws []impact.OutageWindow
				for _, s := range []string{"def", "he", "hu", "he2", "hu2"} {
					ws = append(ws, win("c1", s, "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))
				}
				return &impact.Scenario{Customers: []impact.Customer{cust("c1", "USD", "0", def, he, hu, he2, hu2)}, Incidents: []impact.Incident{inc("inc-1", ws...)}}
			},
			stmts: []wantStmt{
				{cust: "c1", svc: "def", start: "2025-06-01T00:00:00Z", computed: "USD 1.22", credit: "USD 1.22"},
				{cust: "c1", svc: "he", start: "2025-06-01T00:00:00Z", computed: "USD 1.22", credit: "USD 1.22"},
				{cust: "c1", svc: "hu", start: "2025-06-01T00:00:00Z", computed: "USD 1.23", credit: "USD 1.23"},
				{cust: "c1", svc: "he2", start: "2025-06-01T00:00:00Z", computed: "USD 1.24", credit: "USD 1.24"},
				{cust: "c1", svc: "hu2", start: "2025-06-01T00:00:00Z", computed: "USD 1.24", credit: "USD 1.24"},
			},
		},
		{
			// A fee with more digits than the currency: 12.345 USD. It is shown
			// rounded in the contract's mode (model.md §1: the contract produces it):
			// HALF_EVEN 12.34, HALF_UP 12.35. The credit uses the exact fee:
			// 10 % × 12.345 = 1.2345 → 1.23 in both modes (from the rounded 12.35
			// it would be 1.235 → 1.24 half-up).
			name: "fee-with-sub-minor-digits",
			sc: func() *impact.Scenario {
				he := contract("he", "12.345", t1)
				hu := contract("hu", "12.345", t1)
				hu.Rounding = impact.HalfUp
				return &impact.Scenario{Customers: []impact.Customer{cust("c1", "USD", "0", he, hu)}, Incidents: []impact.Incident{inc("inc-1",
					win("c1", "he", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
					win("c1", "hu", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))}}
			},
			stmts: []wantStmt{
				{cust: "c1", svc: "he", start: "2025-06-01T00:00:00Z", pct: "10", fee: "USD 12.34", computed: "USD 1.23", credit: "USD 1.23"},
				{cust: "c1", svc: "hu", start: "2025-06-01T00:00:00Z", pct: "10", fee: "USD 12.35", computed: "USD 1.23", credit: "USD 1.23"},
			},
		},
		{
			// JPY: 10 % × 123,457 = 12,345.7 → 12,346; 10 % × 123,445 = 12,344.5 →
			// HALF_EVEN 12,344, HALF_UP 12,345.
			// KWD: 10 % × 3,086.42 = 308.642; 10 % × 3,086.425 = 308.6425 → HE 308.642, HU 308.643.
			// CLF: 10 % × 12.3465 = 1.23465 → HE 1.2346, HU 1.2347.
			name: "credits-in-jpy-kwd-clf",
			sc: func() *impact.Scenario {
				hu := func(k impact.Contract) impact.Contract { k.Rounding = impact.HalfUp; return k }
				j := cust("j", "JPY", "0", contract("a", "123457", t1), contract("b", "123445", t1), hu(contract("c", "123445", t1)))
				k := cust("k", "KWD", "0", contract("a", "3086.42", t1), contract("b", "3086.425", t1), hu(contract("c", "3086.425", t1)))
				u := cust("u", "CLF", "0", contract("b", "12.3465", t1), hu(contract("c", "12.3465", t1)))
				var ws []impact.OutageWindow
				for _, c := range []string{"j", "k", "u"} {
					for _, s := range []string{"a", "b", "c"} {
						if c == "u" && s == "a" {
							continue
						}
						ws = append(ws, win(c, s, "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))
					}
				}
				return &impact.Scenario{Customers: []impact.Customer{j, k, u}, Incidents: []impact.Incident{inc("inc-1", ws...)}}
			},
			stmts: []wantStmt{
				{cust: "j", svc: "a", start: "2025-06-01T00:00:00Z", fee: "JPY 123457", computed: "JPY 12346", credit: "JPY 12346"},
				{cust: "j", svc: "b", start: "2025-06-01T00:00:00Z", computed: "JPY 12344", credit: "JPY 12344"},
				{cust: "j", svc: "c", start: "2025-06-01T00:00:00Z", computed: "JPY 12345", credit: "JPY 12345"},
				{cust: "k", svc: "a", start: "2025-06-01T00:00:00Z", fee: "KWD 3086.420", computed: "KWD 308.642", credit: "KWD 308.642"},
				{cust: "k", svc: "b", start: "2025-06-01T00:00:00Z", computed: "KWD 308.642", credit: "KWD 308.642"},
				{cust: "k", svc: "c", start: "2025-06-01T00:00:00Z", computed: "KWD 308.643", credit: "KWD 308.643"},
				{cust: "u", svc: "b", start: "2025-06-01T00:00:00Z", fee: "CLF 12.3465", computed: "CLF 1.2346", credit: "CLF 1.2346"},
				{cust: "u", svc: "c", start: "2025-06-01T00:00:00Z", computed: "CLF 1.2347", credit: "CLF 1.2347"},
			},
		},
		{
			// inc-a 1,000 s and inc-b 2,000 s in June: D = 3,000 → 99.884259 < 99.9 →
			// 10 % × 1,000.00 = 100.00 = 10,000 cents. Shares: 10,000·1,000/3,000 =
			// 3,333.33 → 3,333; 10,000·2,000/3,000 = 6,666.67 → 6,666; 1 cent left goes
			// to the larger remainder (.67, inc-b) → 33.33 / 66.67.
			name: "attribution-largest-remainder",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", contract("api", "1000.00", tiers("99.9:10")))},
					Incidents: []impact.Incident{
						inc("inc-b", winD("c1", "api", "2025-06-12T10:00:00Z", 2000)),
						inc("inc-a", winD("c1", "api", "2025-06-10T10:00:00Z", 1000)),
					},
				}
			},
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "3000", uptime: "99.884259", pct: "10", credit: "USD 100.00",
				shares: []string{"inc-a d=1000 USD 33.33", "inc-b d=2000 USD 66.67"}}},
			custs: []wantCust{
				{inc: "inc-a", cust: "c1", credits: []string{"api@2025-06-01T00:00:00Z=USD 33.33"}},
				{inc: "inc-b", cust: "c1", credits: []string{"api@2025-06-01T00:00:00Z=USD 66.67"}},
			},
		},
		{
			// Three incidents of 1,000 s each: 100.00 / 3 = 33.333… each; the spare cent
			// goes to the lowest id in byte order: "i10" < "i2" < "i9".
			name: "attribution-tie-by-incident-id-byte-order",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", contract("api", "1000.00", tiers("99.9:10")))},
					Incidents: []impact.Incident{
						inc("i9", winD("c1", "api", "2025-06-14T10:00:00Z", 1000)),
						inc("i2", winD("c1", "api", "2025-06-12T10:00:00Z", 1000)),
						inc("i10", winD("c1", "api", "2025-06-10T10:00:00Z", 1000)),
					},
				}
			},
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "3000", credit: "USD 100.00",
				shares: []string{"i10 d=1000 USD 33.34", "i2 d=1000 USD 33.33", "i9 d=1000 USD 33.33"}}},
		},
		{
			// Overlapping incidents: inc-a [10:00,11:00), inc-b [10:30,11:30) → D = 5,400
			// (not 7,200) → 99.791667. Own downtime 3,600 each; credit 10 % × 0.10 = 0.01:
			// one cent, tie → lower id inc-a.
			name: "attribution-overlapping-incidents",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", contract("api", "0.10", t1))},
					Incidents: []impact.Incident{
						inc("inc-b", win("c1", "api", "2025-06-10T10:30:00Z", "2025-06-10T11:30:00Z")),
						inc("inc-a", win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
					},
				}
			},
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "5400", uptime: "99.791667", credit: "USD 0.01",
				shares: []string{"inc-a d=3600 USD 0.01", "inc-b d=3600 USD 0.00"}}},
		},
		{
			// min_downtime_seconds 600: inc-a [10:00,10:04) and inc-b [10:04,10:12) merge
			// into one 12-min interval ≥ 10 min → D = 720 → 99.972222 → 10 % → 100.00.
			// Alone each is < 10 min, so each incident's own downtime is 0; doc.go: the
			// credit is then attributed by overlap with the counted intervals,
			// 240 : 480 → 10,000 cents × 1/3 = 3,333.33, × 2/3 = 6,666.67 → 33.33 / 66.67.
			name: "attribution-by-overlap-when-no-own-downtime",
			sc: func() *impact.Scenario {
				k := with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.MinDowntimeSeconds = 600 })
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", k)},
					Incidents: []impact.Incident{
						inc("inc-a", win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T10:04:00Z")),
						inc("inc-b", win("c1", "api", "2025-06-10T10:04:00Z", "2025-06-10T10:12:00Z")),
					},
				}
			},
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "720", uptime: "99.972222", pct: "10", credit: "USD 100.00",
				shares: []string{"inc-a d=0 USD 33.33", "inc-b d=0 USD 66.67"}}},
		},
		{
			// min_downtime_seconds 600: inc-a [10:00,10:20) alone is 1,200 s; inc-b
			// [10:15,10:20) alone is 300 s < 600 → 0. Merged D = 1,200 → 99.953704 →
			// 100.00, all attributed to inc-a (own downtime 1,200 vs 0).
			name: "attribution-by-own-downtime",
			sc: func() *impact.Scenario {
				k := with(contract("api", "1000.00", t1), func(k *impact.Contract) { k.MinDowntimeSeconds = 600 })
				return &impact.Scenario{
					Customers: []impact.Customer{cust("c1", "USD", "0", k)},
					Incidents: []impact.Incident{
						inc("inc-a", win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T10:20:00Z")),
						inc("inc-b", win("c1", "api", "2025-06-10T10:15:00Z", "2025-06-10T10:20:00Z")),
					},
				}
			},
			stmts: []wantStmt{{cust: "c1", svc: "api", start: "2025-06-01T00:00:00Z", d: "1200", uptime: "99.953704", credit: "USD 100.00",
				shares: []string{"inc-a d=1200 USD 100.00", "inc-b d=0 USD 0.00"}}},
		},
		{
			// A window for a service without a contract: valid, counts for lost revenue
			// (100/h × 1 h = 100.00), no statement.
			name:    "window-without-contract",
			sc:      single(contract("api", "1000.00", t1), win("c1", "other", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
			noStmts: true,
			custs:   []wantCust{{inc: "inc-1", cust: "c1", impact: "3600", checkCredit: true}},
		},
	})
}

// ---------------------------------------------------------------------------
// Recovery cost and its allocation.

func TestWorkedRecovery(t *testing.T) {
	three := func(alloc impact.Allocation, currency string, items ...impact.RecoveryItem) func() *impact.Scenario {
		return func() *impact.Scenario {
			i := inc("inc-1",
				win("c2", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
				win("c3", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
				win("c10", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))
			i.RecoveryCurrency = currency
			i.RecoveryItems = items
			i.Allocation = alloc
			return &impact.Scenario{
				Customers: []impact.Customer{cust("c2", "USD", "0"), cust("c10", "USD", "0"), cust("c3", "USD", "0")},
				Incidents: []impact.Incident{i},
			}
		}
	}
	exp := func(cost string) impact.RecoveryItem {
		return impact.RecoveryItem{Expense: &impact.ExpenseItem{Description: "x", UnitCost: cost}}
	}
	rec := func(c, v string) wantCust { return wantCust{inc: "inc-1", cust: c, recovery: v} }
	runWorked(t, []workedCase{
		{
			// 100.00 = 10,000 cents in 3: 3,333 each, remainders equal, 1 cent left →
			// first id in byte order: "c10" < "c2" < "c3" → 33.34 / 33.33 / 33.33.
			name:   "even-100-in-3-byte-order-ties",
			sc:     three(impact.AllocationUnspecified, "USD", exp("100.00")),
			custs:  []wantCust{rec("c10", "USD 33.34"), rec("c2", "USD 33.33"), rec("c3", "USD 33.33")},
			totals: []wantTotals{{inc: "inc-1", cur: "USD", gross: "0.00", net: "0.00", rec: "100.00", credits: "0.00", churn: "0.00"}},
		},
		{
			// 200.00 = 20,000 cents: 6,666 each, 2 cents left → c10, c2 → 66.67/66.67/66.66.
			name:  "even-200-in-3",
			sc:    three(impact.Even, "USD", exp("200.00")),
			custs: []wantCust{rec("c10", "USD 66.67"), rec("c2", "USD 66.67"), rec("c3", "USD 66.66")},
		},
		{
			// Shared items summed exactly, then rounded once: labour 2.5 h × 40.002 × 1
			// = 100.005 plus expense 0.005 → 100.01 (rounding each would give
			// 100.00 + 0.00). 10,001 cents: 3,333 each + 2 left → c10, c2.
			name: "shared-items-summed-before-rounding",
			sc: three(impact.Even, "USD",
				impact.RecoveryItem{Labor: &impact.LaborItem{Role: "sre", Hours: "2.5", HourlyRate: "40.002"}},
				exp("0.005")),
			custs:  []wantCust{rec("c10", "USD 33.34"), rec("c2", "USD 33.34"), rec("c3", "USD 33.33")},
			totals: []wantTotals{{inc: "inc-1", cur: "USD", gross: "0.00", net: "0.00", rec: "100.01", credits: "0.00", churn: "0.00"}},
		},
		{
			// Shared: labour 1.5 × 80.00 × 0.5 = 60.00; expense 2 × 50.00 = 100.00;
			// Σ 160.00 → 16,000 cents / 3 = 5,333 r 1 → c10 53.34, c2 53.33, c3 53.33.
			// c2's own items: 10.005 + 0.0049 = 10.0099 → 10.01 (rounded separately:
			// 10.00 + 0.00). c2 = 53.33 + 10.01 = 63.34. Total = 53.34 + 63.34 + 53.33 = 170.01.
			name: "customer-specific-items",
			sc: three(impact.Even, "USD",
				impact.RecoveryItem{Labor: &impact.LaborItem{Role: "sre", Hours: "1.5", HourlyRate: "80.00", Engagement: "0.5"}},
				impact.RecoveryItem{Expense: &impact.ExpenseItem{Description: "parts", Quantity: "2", UnitCost: "50.00"}},
				impact.RecoveryItem{CustomerID: "c2", Expense: &impact.ExpenseItem{Description: "a", UnitCost: "10.005"}},
				impact.RecoveryItem{CustomerID: "c2", Expense: &impact.ExpenseItem{Description: "b", UnitCost: "0.0049"}}),
			custs:  []wantCust{rec("c10", "USD 53.34"), rec("c2", "USD 63.34"), rec("c3", "USD 53.33")},
			totals: []wantTotals{{inc: "inc-1", cur: "USD", gross: "0.00", net: "0.00", rec: "170.01", credits: "0.00", churn: "0.00"}},
		},
		{
			// JPY recovery: 1,000 / 3 = 333 r 1 → c10 334, c2 333, c3 333.
			name:  "even-jpy",
			sc:    three(impact.Even, "JPY", exp("1000")),
			custs: []wantCust{rec("c10", "JPY 334"), rec("c2", "JPY 333"), rec("c3", "JPY 333")},
			totals: []wantTotals{
				{inc: "inc-1", cur: "JPY", gross: "0", net: "0", rec: "1000", credits: "0", churn: "0"},
				{inc: "inc-1", cur: "USD", gross: "0.00", net: "0.00", rec: "0.00", credits: "0.00", churn: "0.00"},
			},
		},
		{
			// KWD recovery: 1.000 = 1,000 fils / 3 → 0.334, 0.333, 0.333.
			name:  "even-kwd",
			sc:    three(impact.Even, "KWD", exp("1")),
			custs: []wantCust{rec("c10", "KWD 0.334"), rec("c2", "KWD 0.333"), rec("c3", "KWD 0.333")},
		},
		{
			// BY_IMPACT with equal ∫f dt: c10 2 h × 0.5, c2 1 h × 1, c3 4 h × 0.25 =
			// 3,600 each → tie → 33.34 (c10), 33.33, 33.33.
			name: "by-impact-equal-weights",
			sc: func() *impact.Scenario {
				i := inc("inc-1",
					winF("c10", "web", "2025-06-10T10:00:00Z", "2025-06-10T12:00:00Z", "0.5"),
					win("c2", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
					winF("c3", "web", "2025-06-10T10:00:00Z", "2025-06-10T14:00:00Z", "0.25"))
				i.RecoveryCurrency = "USD"
				i.RecoveryItems = []impact.RecoveryItem{exp("100.00")}
				i.Allocation = impact.ByImpact
				return &impact.Scenario{Customers: []impact.Customer{cust("c2", "USD", "0"), cust("c10", "USD", "0"), cust("c3", "USD", "0")}, Incidents: []impact.Incident{i}}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "c10", impact: "3600", recovery: "USD 33.34"},
				{inc: "inc-1", cust: "c2", impact: "3600", recovery: "USD 33.33"},
				{inc: "inc-1", cust: "c3", impact: "3600", recovery: "USD 33.33"},
			},
		},
		{
			// BY_IMPACT: a ∫f = 3,600 (1 h at 1), b ∫f = 1,800 (1 h at 0.5); 10,000 cents
			// × 2/3 = 6,666.67, × 1/3 = 3,333.33 → 6,666 + 3,333 + 1 to the larger
			// remainder (a) → a 66.67, b 33.33.
			// c: two overlapping windows [10:00,11:00) and [10:30,11:30) → ∫f = 5,400
			// (not 7,200). Second incident: c 5,400 vs b 3,600 of 50.00 → 30.00 / 20.00.
			name: "by-impact-proportional",
			sc: func() *impact.Scenario {
				i := inc("inc-1",
					win("a", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
					winF("b", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z", "0.5"))
				i.RecoveryCurrency = "USD"
				i.RecoveryItems = []impact.RecoveryItem{exp("100.00")}
				i.Allocation = impact.ByImpact
				j := inc("inc-2",
					win("c", "web", "2025-06-11T10:00:00Z", "2025-06-11T11:00:00Z"),
					win("c", "web", "2025-06-11T10:30:00Z", "2025-06-11T11:30:00Z"),
					win("b", "web", "2025-06-11T10:00:00Z", "2025-06-11T11:00:00Z"))
				j.RecoveryCurrency = "USD"
				j.RecoveryItems = []impact.RecoveryItem{exp("50.00")}
				j.Allocation = impact.ByImpact
				return &impact.Scenario{Customers: []impact.Customer{cust("a", "USD", "0"), cust("b", "USD", "0"), cust("c", "USD", "0")}, Incidents: []impact.Incident{i, j}}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "a", impact: "3600", recovery: "USD 66.67"},
				{inc: "inc-1", cust: "b", impact: "1800", recovery: "USD 33.33"},
				{inc: "inc-2", cust: "b", impact: "3600", recovery: "USD 20.00"},
				{inc: "inc-2", cust: "c", impact: "5400", recovery: "USD 30.00"},
			},
		},
		{
			// No recovery currency and no items: no recovery cost at all.
			name:  "no-recovery-currency",
			sc:    three(impact.Even, ""),
			custs: []wantCust{rec("c10", "nil"), rec("c2", "nil"), rec("c3", "nil")},
		},
	})
}

// ---------------------------------------------------------------------------
// Churn exposure, per-currency totals and reporting totals.

func TestWorkedChurnAndTotals(t *testing.T) {
	withChurn := func(c impact.Customer, ltv, p string) impact.Customer {
		c.LifetimeValue, c.ChurnProbability = ltv, p
		return c
	}
	runWorked(t, []workedCase{
		{
			// churn = p × LTV, rounded once half-even, per incident:
			// USD 12,345.67 × 0.0125 = 154.320875 → 154.32 (in both incidents);
			// JPY 1,000,000 × 0.00015 = 150; KWD 1,234.567 × 0.3333 = 411.4811811 → 411.481;
			// no LTV → 0.00.
			name: "churn-exposure",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{
						withChurn(cust("u", "USD", "0"), "12345.67", "0.0125"),
						withChurn(cust("j", "JPY", "0"), "1000000", "0.00015"),
						withChurn(cust("k", "KWD", "0"), "1234.567", "0.3333"),
						cust("n", "USD", "0"),
					},
					Incidents: []impact.Incident{
						inc("inc-1",
							win("u", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
							win("j", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
							win("k", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
							win("n", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")),
						inc("inc-2", win("u", "web", "2025-06-20T10:00:00Z", "2025-06-20T11:00:00Z")),
					},
				}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "u", churn: "USD 154.32"},
				{inc: "inc-2", cust: "u", churn: "USD 154.32"},
				{inc: "inc-1", cust: "j", churn: "JPY 150"},
				{inc: "inc-1", cust: "k", churn: "KWD 411.481"},
				{inc: "inc-1", cust: "n", churn: "USD 0.00"},
			},
			// Totals: USD churn 154.32 + 0.00; JPY 150; KWD 411.481.
			totals: []wantTotals{
				{inc: "inc-1", cur: "JPY", gross: "0", net: "0", rec: "0", credits: "0", churn: "150"},
				{inc: "inc-1", cur: "KWD", gross: "0.000", net: "0.000", rec: "0.000", credits: "0.000", churn: "411.481"},
				{inc: "inc-1", cur: "USD", gross: "0.00", net: "0.00", rec: "0.00", credits: "0.00", churn: "154.32"},
			},
		},
		{
			// One incident, customers in USD, EUR and GBP, recovery in GBP, reporting in USD.
			// u1: 100/h × 1 h = 100.00, recapture 0.1 → net 90.00; churn 1,000 × 0.01 = 10.00;
			//     credit: D 3,600 in June → 99.861111 < 99.99 → 10 % × 100.00 = 10.00.
			// u2: 50.50/h × 30 min = 25.25. e1: 80.04/h × 15 min = 20.01.
			// g1: 40.04/h × 15 min = 10.01. Recovery GBP 40.00 EVEN in 4 = 10.00 each.
			// Totals (sums of rounded figures, sorted by code):
			//   EUR gross 20.01 net 20.01; GBP gross 10.01 net 10.01 recovery 40.00;
			//   USD gross 125.25 net 115.25 credits 10.00 churn 10.00.
			// Reporting USD, rates EUR→USD 1.0825, GBP→USD 1.2712 (JPY→USD unused):
			//   gross = 125.25 + 20.01·1.0825 + 10.01·1.2712 = 125.25 + 21.660825 + 12.724712
			//         = 159.635537 → 159.64 (converting and rounding each: 159.63);
			//   net = 115.25 + 21.660825 + 12.724712 = 149.635537 → 149.64;
			//   recovery = 40.00 × 1.2712 = 50.848 → 50.85; credits 10.00; churn 10.00.
			name: "per-currency-and-reporting-totals",
			sc: func() *impact.Scenario {
				u1 := withChurn(cust("u1", "USD", "100", contract("api", "100.00", tiers("99.99:10"))), "1000", "0.01")
				u1.Baseline.RecaptureRate = "0.1"
				i := inc("inc-1",
					win("u1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
					win("u2", "web", "2025-06-10T10:00:00Z", "2025-06-10T10:30:00Z"),
					win("e1", "web", "2025-06-10T10:00:00Z", "2025-06-10T10:15:00Z"),
					win("g1", "web", "2025-06-10T10:00:00Z", "2025-06-10T10:15:00Z"))
				i.RecoveryCurrency = "GBP"
				i.RecoveryItems = []impact.RecoveryItem{{Expense: &impact.ExpenseItem{Description: "x", UnitCost: "40.00"}}}
				return &impact.Scenario{
					Customers:         []impact.Customer{u1, cust("u2", "USD", "50.50"), cust("e1", "EUR", "80.04"), cust("g1", "GBP", "40.04")},
					Incidents:         []impact.Incident{i},
					ReportingCurrency: "USD",
					FXRates: []impact.FXRate{
						{From: "GBP", To: "USD", Rate: "1.2712"},
						{From: "EUR", To: "USD", Rate: "1.0825"},
						{From: "JPY", To: "USD", Rate: "0.0066"},
					},
				}
			},
			custs: []wantCust{
				{inc: "inc-1", cust: "u1", gross: "USD 100.00", net: "USD 90.00", recaptured: "USD 10.00", recovery: "GBP 10.00", churn: "USD 10.00", credits: []string{"api@2025-06-01T00:00:00Z=USD 10.00"}},
				{inc: "inc-1", cust: "u2", gross: "USD 25.25", net: "USD 25.25", recovery: "GBP 10.00", churn: "USD 0.00", checkCredit: true},
				{inc: "inc-1", cust: "e1", gross: "EUR 20.01", recovery: "GBP 10.00", churn: "EUR 0.00"},
				{inc: "inc-1", cust: "g1", gross: "GBP 10.01", recovery: "GBP 10.00", churn: "GBP 0.00"},
			},
			totals: []wantTotals{
				{inc: "inc-1", cur: "EUR", gross: "20.01", net: "20.01", rec: "0.00", credits: "0.00", churn: "0.00"},
				{inc: "inc-1", cur: "GBP", gross: "10.01", net: "10.01", rec: "40.00", credits: "0.00", churn: "0.00"},
				{inc: "inc-1", cur: "USD", gross: "125.25", net: "115.25", rec: "0.00", credits: "10.00", churn: "10.00"},
			},
			reporting: []wantTotals{{inc: "inc-1", cur: "USD", gross: "159.64", net: "149.64", rec: "50.85", credits: "10.00", churn: "10.00"}},
		},
		{
			// Reporting in JPY: u USD 12.34/h × 1 h = 12.34 → × 151.37 = 1,867.9058;
			// j JPY 1,000/h × 1 h = 1,000. gross = 2,867.9058 → 2,868 (0 decimals).
			name: "reporting-in-jpy",
			sc: func() *impact.Scenario {
				return &impact.Scenario{
					Customers: []impact.Customer{cust("u", "USD", "12.34"), cust("j", "JPY", "1000")},
					Incidents: []impact.Incident{inc("inc-1",
						win("u", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
						win("j", "web", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"))},
					ReportingCurrency: "JPY",
					FXRates:           []impact.FXRate{{From: "USD", To: "JPY", Rate: "151.37"}},
				}
			},
			totals: []wantTotals{
				{inc: "inc-1", cur: "JPY", gross: "1000", net: "1000", rec: "0", credits: "0", churn: "0"},
				{inc: "inc-1", cur: "USD", gross: "12.34", net: "12.34", rec: "0.00", credits: "0.00", churn: "0.00"},
			},
			reporting: []wantTotals{{inc: "inc-1", cur: "JPY", gross: "2868", net: "2868", rec: "0", credits: "0", churn: "0"}},
		},
	})
}

// TestWorkedDeterministicAndOrderIndependent: the same scenario with every
// list reversed gives the same figures and the same digest (doc.go: "whatever
// the order of customers, incidents, windows or any other list").
func TestWorkedDeterministicAndOrderIndependent(t *testing.T) {
	build := func(rev bool) *impact.Scenario {
		k1 := contract("api", "1000.00", tiers("99.99:10", "99.0:30"))
		k2 := contract("db", "500.00", tiers("99.9:5"))
		cs := []impact.Customer{cust("c1", "USD", "100", k1, k2), cust("c2", "EUR", "250", k1)}
		i1 := inc("inc-1",
			win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z"),
			winF("c1", "db", "2025-06-10T10:30:00Z", "2025-06-10T12:00:00Z", "0.5"),
			win("c2", "api", "2025-06-30T23:00:00Z", "2025-07-01T01:00:00Z"))
		i1.RecoveryCurrency = "USD"
		i1.RecoveryItems = []impact.RecoveryItem{
			{Expense: &impact.ExpenseItem{Description: "a", UnitCost: "100"}},
			{Labor: &impact.LaborItem{Role: "b", Hours: "3", HourlyRate: "33.33"}},
		}
		i2 := inc("inc-2", win("c1", "api", "2025-06-10T10:30:00Z", "2025-06-10T13:00:00Z"))
		is := []impact.Incident{i1, i2}
		if rev {
			for _, c := range cs {
				slices.Reverse(c.Contracts)
			}
			slices.Reverse(cs)
			slices.Reverse(is)
			for _, i := range is {
				slices.Reverse(i.Windows)
				slices.Reverse(i.RecoveryItems)
			}
		}
		return &impact.Scenario{Customers: cs, Incidents: is, ReportingCurrency: "USD", FXRates: []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}}}
	}
	a := renderEstimate(estimate(t, build(false)))
	b := renderEstimate(estimate(t, build(false)))
	c := renderEstimate(estimate(t, build(true)))
	if a != b {
		t.Errorf("two runs differ:\n%s\n---\n%s", a, b)
	}
	if a != c {
		t.Errorf("reordered input gives different output:\n%s\n---\n%s", a, c)
	}
	e := estimate(t, build(false))
	if e.ModelVersion != impact.ModelVersion {
		t.Errorf("model_version = %q, want %q", e.ModelVersion, impact.ModelVersion)
	}
	if !strings.HasPrefix(e.InputsDigest, "sha256:") || len(e.InputsDigest) != len("sha256:")+64 {
		t.Errorf("inputs_digest = %q, want sha256:<64 hex>", e.InputsDigest)
	}
	// Changing a figure-relevant input changes the digest.
	s := build(false)
	s.Customers[0].Baseline.HourlyAmount = "101"
	if d := estimate(t, s).InputsDigest; d == e.InputsDigest {
		t.Errorf("digest unchanged after changing hourly_amount")
	}
}

// renderEstimate spells every figure of an estimate, in order.
func renderEstimate(e *impact.Estimate) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", e.ModelVersion, e.InputsDigest)
	for _, ie := range e.Incidents {
		fmt.Fprintf(&b, "incident %s\n", ie.IncidentID)
		for _, c := range ie.Customers {
			rec := "nil"
			if c.RecoveryCost != nil {
				rec = ms(*c.RecoveryCost)
			}
			fmt.Fprintf(&b, " %s impact=%s gross=%s net=%s recap=%s rec=%s churn=%s\n", c.CustomerID,
				impact.FormatDecimal(c.ImpactSeconds), ms(c.LostRevenue.Gross), ms(c.LostRevenue.Net),
				ms(c.LostRevenue.Recaptured), rec, ms(c.ChurnExposure))
			for _, ac := range c.SLACredits {
				fmt.Fprintf(&b, "  credit %s@%s=%s\n", ac.Service, utc(ac.PeriodStart), ms(ac.Credit))
			}
		}
		for _, ct := range ie.Totals {
			fmt.Fprintf(&b, " total %s\n", totalsLine(ct.Currency, ct))
		}
		if ie.ReportingTotals != nil {
			fmt.Fprintf(&b, " reporting %s\n", impact.FormatDecimal(ie.ReportingTotals.LostRevenueGross)+"/"+
				impact.FormatDecimal(ie.ReportingTotals.LostRevenueNet)+"/"+impact.FormatDecimal(ie.ReportingTotals.RecoveryCost)+"/"+
				impact.FormatDecimal(ie.ReportingTotals.SLACredits)+"/"+impact.FormatDecimal(ie.ReportingTotals.ChurnExposure)+" "+ie.ReportingTotals.Currency)
		}
	}
	for _, s := range e.Statements {
		fmt.Fprintf(&b, "stmt %s/%s %s..%s T=%d D=%s up=%s pct=%s fee=%s comp=%s credit=%s below=%v\n",
			s.CustomerID, s.Service, utc(s.PeriodStart), utc(s.PeriodEnd), s.PeriodSeconds,
			impact.FormatDecimal(s.DowntimeSeconds), fixed6(s.UptimePercent), impact.FormatDecimal(s.CreditPercent),
			ms(s.Fee), ms(s.ComputedCredit), ms(s.CreditAmount), s.BelowMinimum)
		for _, sh := range s.Incidents {
			fmt.Fprintf(&b, "  %s d=%s %s\n", sh.IncidentID, impact.FormatDecimal(sh.DowntimeSeconds), ms(sh.Credit))
		}
	}
	return b.String()
}

// TestWorkedEngineErrorsAreDomainErrors: an invalid scenario yields an
// *impact.Error (never a panic or a bare error).
func TestWorkedEngineErrorsAreDomainErrors(t *testing.T) {
	_, err := impact.EstimateScenario(&impact.Scenario{Customers: []impact.Customer{{ID: "c1", Currency: "XXX"}}}, impact.DefaultLimits())
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID {
		t.Fatalf("err = %v, want *impact.Error with code %q", err, impact.EINVALID)
	}
}

// TestWorkedDigestCanonical: doc.go §8 — the digest is of a canonical
// encoding (defaults applied, shortest decimals, instants truncated to
// seconds), so spelling the same inputs differently keeps it, and changing a
// figure-relevant input changes it.
func TestWorkedDigestCanonical(t *testing.T) {
	build := func(explicit bool) *impact.Scenario {
		k := contract("api", "100.50", tiers("99.9:10"))
		c := cust("c1", "USD", "2400.00", k)
		w := win("c1", "api", "2025-06-10T10:00:00Z", "2025-06-10T11:00:00Z")
		if explicit {
			k.TimeZone, k.Rounding, k.BillingPeriod, k.Degradation = "UTC", impact.HalfEven, impact.Monthly, impact.Threshold
			k.Granularity, k.Denominator, k.CreditCapPercent, k.MinCreditAmount = impact.Seconds, impact.PeriodDenominator, "100", "0"
			k.MonthlyFee = "100.500"
			c = cust("c1", "USD", "2400", k)
			c.TimeZone, c.Baseline.RecaptureRate = "UTC", "0"
			w = win("c1", "api", "2025-06-10T10:00:00.999Z", "2025-06-10T11:00:00.5Z")
			w.ImpactFraction = "1.0"
		}
		i := inc("inc-1", w)
		if explicit {
			i.Cause, i.Allocation = impact.UnknownCause, impact.Even
		}
		return &impact.Scenario{Customers: []impact.Customer{c}, Incidents: []impact.Incident{i}}
	}
	a, b := estimate(t, build(false)), estimate(t, build(true))
	if a.InputsDigest != b.InputsDigest {
		t.Errorf("digest differs between default and explicit spellings:\n%s\n%s", a.InputsDigest, b.InputsDigest)
	}
	if ra, rb := renderEstimate(a), renderEstimate(b); ra != rb {
		t.Errorf("figures differ between default and explicit spellings:\n%s\n---\n%s", ra, rb)
	}
	for name, mut := range map[string]func(s *impact.Scenario){
		"fraction":  func(s *impact.Scenario) { s.Incidents[0].Windows[0].ImpactFraction = "0.5" },
		"end_time":  func(s *impact.Scenario) { s.Incidents[0].Windows[0].End = ts("2025-06-10T11:00:01Z") },
		"fee":       func(s *impact.Scenario) { s.Customers[0].Contracts[0].MonthlyFee = "100.51" },
		"rounding":  func(s *impact.Scenario) { s.Customers[0].Contracts[0].Rounding = impact.HalfUp },
		"time_zone": func(s *impact.Scenario) { s.Customers[0].TimeZone = "Europe/Berlin" },
		"cause":     func(s *impact.Scenario) { s.Incidents[0].Cause = impact.Cyberattack },
	} {
		s := build(false)
		mut(s)
		if d := estimate(t, s).InputsDigest; d == a.InputsDigest {
			t.Errorf("digest unchanged after changing %s", name)
		}
	}
}
