package impact_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

func lutc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestClaimDeadline(t *testing.T) {
	days := func(n int32) impact.ClaimPolicy { return impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineDays: n} }
	periods := func(n int32) impact.ClaimPolicy {
		return impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineBillingPeriods: n}
	}
	for _, tc := range []struct {
		name   string
		in     string // an instant inside the credit's billing period
		tz     string
		bp     impact.BillingPeriod
		policy impact.ClaimPolicy
		want   string
	}{
		// July 2025 ends 2025-08-01 00:00; + 30 days = 08-31 00:00 (claims
		// accepted through 08-30).
		{"days, 31-day month", "2025-07-14T13:05:00Z", "", impact.Monthly, days(30), "2025-08-31T00:00:00Z"},
		// January ends 02-01; + 30 days: 2024 is a leap year (Feb has 29
		// days) → 03-02; 2025 → 03-03.
		{"days, leap February", "2024-01-20T00:00:00Z", "UTC", impact.Monthly, days(30), "2024-03-02T00:00:00Z"},
		{"days, common February", "2025-01-20T00:00:00Z", "UTC", impact.Monthly, days(30), "2025-03-03T00:00:00Z"},
		// Berlin (east of UTC): February ends 03-01 00:00 CET = 02-28 23:00Z;
		// + 30 days = 03-31 00:00 local, after the spring-forward of 03-30:
		// CEST, 03-30 22:00Z. The 30 local days hold 719 hours, not 720.
		{"days, across spring DST, east", "2025-02-10T00:00:00Z", "Europe/Berlin", impact.Monthly, days(30), "2025-03-30T22:00:00Z"},
		// New York (west of UTC): October ends 11-01 00:00 EDT = 04:00Z;
		// + 2 days = 11-03 00:00 EST (fall-back on 11-02) = 05:00Z.
		{"days, across fall DST, west", "2025-10-10T00:00:00Z", "America/New_York", impact.Monthly, days(2), "2025-11-03T05:00:00Z"},
		// Santiago skips midnight on 2025-09-07 (00:00 -04 → 01:00 -03):
		// August ends 09-01 00:00 -04 = 04:00Z; + 6 days = the first instant
		// of 09-07, which is 01:00 -03 = 04:00Z.
		{"days, skipped local midnight", "2025-08-10T00:00:00Z", "America/Santiago", impact.Monthly, days(6), "2025-09-07T04:00:00Z"},
		// Kolkata (+05:30): December ends 2026-01-01 00:00 IST = 2025-12-31
		// 18:30Z; + 31 days = 02-01 00:00 IST = 01-31 18:30Z.
		{"days, half-hour zone, year end", "2025-12-24T00:00:00Z", "Asia/Kolkata", impact.Monthly, days(31), "2026-01-31T18:30:00Z"},
		// Quarterly Q3 2025 ends 10-01; + 30 days = 10-31.
		{"days, quarter end", "2025-08-01T00:00:00Z", "", impact.Quarterly, days(30), "2025-10-31T00:00:00Z"},
		// AWS "by the end of the second billing cycle": July's credit →
		// end of September.
		{"periods, AWS style", "2025-07-14T13:05:00Z", "", impact.Monthly, periods(2), "2025-10-01T00:00:00Z"},
		// November → end of January of the next year.
		{"periods, year wrap", "2025-11-30T23:59:59Z", "", impact.Monthly, periods(2), "2026-02-01T00:00:00Z"},
		// Tokyo (+09): January 2024 → end of February (leap) = 03-01 00:00
		// JST = 02-29 15:00Z.
		{"periods, leap month end, east", "2024-01-15T00:00:00Z", "Asia/Tokyo", impact.Monthly, periods(1), "2024-02-29T15:00:00Z"},
		// Los Angeles: February 2024 → end of March = 04-01 00:00 PDT =
		// 07:00Z (March's spring-forward in between).
		{"periods, west, across DST", "2024-02-15T00:00:00Z", "America/Los_Angeles", impact.Monthly, periods(1), "2024-04-01T07:00:00Z"},
		// Quarterly Q3 2025 → end of Q4 = 2026-01-01; Q4 with 2 → end of
		// Q2 2026 = 07-01.
		{"periods, quarter", "2025-08-01T00:00:00Z", "", impact.Quarterly, periods(1), "2026-01-01T00:00:00Z"},
		{"periods, quarters over a year end", "2025-11-01T00:00:00Z", "", impact.Quarterly, periods(2), "2026-07-01T00:00:00Z"},
		// Berlin Q1 2025 → end of Q2 = 07-01 00:00 CEST = 06-30 22:00Z.
		{"periods, quarter, east", "2025-02-01T00:00:00Z", "Europe/Berlin", impact.Quarterly, periods(1), "2025-06-30T22:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, err := impact.PeriodBounds(lutc(tc.in), tc.tz, tc.bp)
			if err != nil {
				t.Fatal(err)
			}
			got, ok, err := impact.ClaimDeadline(start, end, tc.tz, tc.bp, tc.policy)
			if err != nil || !ok {
				t.Fatalf("ClaimDeadline: %v, %v", ok, err)
			}
			if !got.Equal(lutc(tc.want)) {
				t.Errorf("deadline %s, want %s (period [%s, %s))", got.UTC().Format(time.RFC3339), tc.want,
					start.Format(time.RFC3339), end.Format(time.RFC3339))
			}
		})
	}
	if _, ok, _ := impact.ClaimDeadline(lutc("2025-07-01T00:00:00Z"), lutc("2025-08-01T00:00:00Z"), "", impact.Monthly,
		impact.ClaimPolicy{}); ok {
		t.Error("AUTOMATIC has a deadline")
	}
}

func TestValidateClaimPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      impact.ClaimPolicy
		fields []string // violations, in order; none: valid
	}{
		{"default", impact.ClaimPolicy{}, nil},
		{"automatic", impact.ClaimPolicy{Mode: impact.Automatic}, nil},
		{"days", impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineDays: 30}, nil},
		{"periods", impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineBillingPeriods: 2}, nil},
		{"on request without rule", impact.ClaimPolicy{Mode: impact.OnRequest}, []string{"p.deadline_days"}},
		{"both rules", impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineDays: 30, DeadlineBillingPeriods: 2},
			[]string{"p.deadline_days", "p.deadline_billing_periods"}},
		{"automatic with a deadline", impact.ClaimPolicy{Mode: impact.Automatic, DeadlineDays: 30}, []string{"p.deadline_days"}},
		{"unspecified with periods", impact.ClaimPolicy{DeadlineBillingPeriods: 1}, []string{"p.deadline_billing_periods"}},
		{"negative", impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineDays: -1}, []string{"p.deadline_days"}},
		{"too many periods", impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineBillingPeriods: 121}, []string{"p.deadline_billing_periods"}},
		{"unknown mode", impact.ClaimPolicy{Mode: 7}, []string{"p.mode"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := impact.ValidateClaimPolicy("p", tc.p)
			if len(tc.fields) == 0 {
				if err != nil {
					t.Fatalf("valid policy refused: %v", err)
				}
				return
			}
			e, ok := err.(*impact.Error)
			if !ok || e.Code != impact.EINVALID {
				t.Fatalf("got %v, want EINVALID", err)
			}
			var got []string
			for _, v := range e.Violations {
				got = append(got, v.Field)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("violations %v, want %v (%v)", got, tc.fields, e)
			}
		})
	}
}

// The engine validates a contract's claim policy with the rest of it.
func TestScenarioClaimPolicyIsValidated(t *testing.T) {
	sc := &impact.Scenario{Customers: []impact.Customer{{ID: "c", Currency: "USD", Contracts: []impact.Contract{
		{Service: "api", ClaimPolicy: impact.ClaimPolicy{Mode: impact.OnRequest}}}}}}
	_, err := impact.EstimateScenario(sc, impact.DefaultLimits())
	e, ok := err.(*impact.Error)
	if !ok || len(e.Violations) != 1 || e.Violations[0].Field != "customers[0].contracts[0].claim_policy.deadline_days" {
		t.Fatalf("got %v", err)
	}
}

// july is a July 2025 UTC line: period end 08-01, deadline 08-31.
func july(mode impact.ClaimMode) *impact.CreditLine {
	l := &impact.CreditLine{Name: "customers/c/contracts/api/creditLines/2025-07", Currency: "USD", Amount: 123457,
		PeriodStart: lutc("2025-07-01T00:00:00Z"), PeriodEnd: lutc("2025-08-01T00:00:00Z"), Policy: impact.ClaimPolicy{Mode: mode}}
	if mode == impact.OnRequest {
		l.Policy.DeadlineDays = 30
		l.ClaimDeadline = lutc("2025-08-31T00:00:00Z")
	}
	return l
}

func TestCreditLineStateAt(t *testing.T) {
	onReq, auto := july(impact.OnRequest), july(impact.Automatic)
	claimed := july(impact.OnRequest)
	claimed.ClaimTime = lutc("2025-07-20T09:00:00Z") // a claim while ACCRUING
	approved := *claimed
	approved.ApproveTime = lutc("2025-08-05T00:00:00Z")
	rejected := *claimed
	rejected.RejectTime = lutc("2025-08-06T00:00:00Z")
	issued := approved
	issued.IssueTime = lutc("2025-09-02T00:00:00Z")
	autoIssued := *auto
	autoIssued.IssueTime = lutc("2025-08-10T00:00:00Z")
	for _, tc := range []struct {
		l    *impact.CreditLine
		at   string
		want impact.CreditState
	}{
		{onReq, "2025-07-31T23:59:59Z", impact.Accruing},
		{onReq, "2025-08-01T00:00:00Z", impact.Claimable},
		{onReq, "2025-08-30T23:59:59Z", impact.Claimable},
		{onReq, "2025-08-31T00:00:00Z", impact.Expired},
		{auto, "2025-07-31T23:59:59Z", impact.Accruing},
		{auto, "2025-08-01T00:00:00Z", impact.Approved},
		{auto, "2030-01-01T00:00:00Z", impact.Approved},
		{claimed, "2025-07-20T08:59:59Z", impact.Accruing},
		{claimed, "2025-07-20T09:00:00Z", impact.Claimed},
		{claimed, "2025-09-30T00:00:00Z", impact.Claimed}, // a claim does not expire
		{&approved, "2025-08-04T00:00:00Z", impact.Claimed},
		{&approved, "2025-08-05T00:00:00Z", impact.Approved},
		{&rejected, "2025-08-06T00:00:00Z", impact.Rejected},
		{&issued, "2025-09-01T23:59:59Z", impact.Approved},
		{&issued, "2025-09-02T00:00:00Z", impact.Issued},
		{&autoIssued, "2025-08-10T00:00:00Z", impact.Issued},
	} {
		if got := tc.l.StateAt(lutc(tc.at)); got != tc.want {
			t.Errorf("state at %s = %v, want %v (%+v)", tc.at, got, tc.want, tc.l)
		}
	}
}

func TestCheckTransition(t *testing.T) {
	onReq, auto := july(impact.OnRequest), july(impact.Automatic)
	claimed := july(impact.OnRequest)
	claimed.ClaimTime = lutc("2025-08-02T00:00:00Z")
	approved := *claimed
	approved.ApproveTime = lutc("2025-08-03T00:00:00Z")
	rejected := *claimed
	rejected.RejectTime = lutc("2025-08-03T00:00:00Z")
	issued := approved
	issued.IssueTime = lutc("2025-08-04T00:00:00Z")
	for _, tc := range []struct {
		name string
		l    *impact.CreditLine
		tr   impact.Transition
		at   string
		want string // "" allowed, else a part of the message
	}{
		{"claim while accruing", onReq, impact.ClaimTransition, "2025-07-15T00:00:00Z", ""},
		{"claim when claimable", onReq, impact.ClaimTransition, "2025-08-30T23:59:59Z", ""},
		{"claim after the deadline", onReq, impact.ClaimTransition, "2025-08-31T00:00:00Z", "the claim deadline 2025-08-31T00:00:00Z has passed"},
		{"claim an automatic line", auto, impact.ClaimTransition, "2025-07-15T00:00:00Z", "credits automatically"},
		{"claim twice", claimed, impact.ClaimTransition, "2025-08-05T00:00:00Z", "is CLAIMED"},
		{"approve unclaimed", onReq, impact.ApproveTransition, "2025-08-05T00:00:00Z", "only a CLAIMED line can be approved"},
		{"approve automatic", auto, impact.ApproveTransition, "2025-08-05T00:00:00Z", "is APPROVED"},
		{"approve claimed", claimed, impact.ApproveTransition, "2025-08-05T00:00:00Z", ""},
		{"reject claimed", claimed, impact.RejectTransition, "2025-08-05T00:00:00Z", ""},
		{"reject approved", &approved, impact.RejectTransition, "2025-08-05T00:00:00Z", "only a CLAIMED line can be rejected"},
		{"issue before approval", claimed, impact.IssueTransition, "2025-08-05T00:00:00Z", "only an APPROVED line can be issued"},
		{"issue a rejected line", &rejected, impact.IssueTransition, "2025-08-05T00:00:00Z", "is REJECTED"},
		{"issue approved", &approved, impact.IssueTransition, "2025-08-05T00:00:00Z", ""},
		{"issue automatic after the period", auto, impact.IssueTransition, "2025-08-01T00:00:00Z", ""},
		{"issue automatic while accruing", auto, impact.IssueTransition, "2025-07-31T00:00:00Z", "is ACCRUING"},
		{"issue twice", &issued, impact.IssueTransition, "2025-08-05T00:00:00Z", "is ISSUED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := impact.CheckTransition(tc.l, tc.tr, lutc(tc.at))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if impact.ErrorCode(err) != impact.EFAILEDPRECOND || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want FAILED_PRECONDITION with %q", err, tc.want)
			}
		})
	}
}

func TestBooking(t *testing.T) {
	for _, tc := range []struct {
		name    string
		booked  int64
		accrued bool
		state   impact.CreditState
		amount  int64
		kind    impact.EntryKind
		delta   int64 // 0: no entry
	}{
		{"first booking", 0, false, impact.Accruing, 123457, impact.Accrual, 123457},
		// 1,234.57 → 1,500.00: +265.43.
		{"recompute moves it", 123457, true, impact.Claimable, 150000, impact.TrueUp, 26543},
		{"unchanged", 150000, true, impact.Claimed, 150000, 0, 0},
		{"expired", 150000, true, impact.Expired, 150000, impact.Release, -150000},
		{"rejected", 150000, true, impact.Rejected, 150000, impact.Release, -150000},
		{"issued", 150000, true, impact.Issued, 150000, impact.IssueEntry, -150000},
		{"fell to zero", 100, true, impact.Approved, 0, impact.TrueUp, -100},
		{"back from zero", 0, true, impact.Approved, 250, impact.TrueUp, 250},
		{"born expired", 0, false, impact.Expired, 100, 0, 0},
		{"moves after release", 0, true, impact.Expired, 999, 0, 0},
		{"first positive after zero", 0, false, impact.Approved, 5, impact.Accrual, 5},
	} {
		kind, delta, ok := impact.Booking(tc.booked, tc.accrued, tc.state, tc.amount)
		if ok != (tc.delta != 0) || kind != tc.kind || delta != tc.delta {
			t.Errorf("%s: Booking = %v %d %v, want %v %d", tc.name, kind, delta, ok, tc.kind, tc.delta)
		}
	}
}

func TestAccountingPeriods(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		t      string
		loc    *time.Location
		closed string
		want   string
	}{
		{"2025-07-31T23:59:59Z", time.UTC, "", "2025-07"},
		{"2025-07-31T22:00:00Z", berlin, "", "2025-08"}, // 00:00 CEST on 08-01
		{"2025-07-15T00:00:00Z", time.UTC, "2025-07", "2025-08"},
		{"2025-07-15T00:00:00Z", time.UTC, "2025-12", "2026-01"},
		{"2025-09-15T00:00:00Z", time.UTC, "2025-07", "2025-09"},
	} {
		if got := impact.EntryPeriod(lutc(tc.t), tc.loc, tc.closed); got != tc.want {
			t.Errorf("EntryPeriod(%s, %v, %q) = %s, want %s", tc.t, tc.loc, tc.closed, got, tc.want)
		}
	}
	s, e, err := impact.AccountingPeriodBounds("2025-10", berlin)
	if err != nil || !s.Equal(lutc("2025-09-30T22:00:00Z")) || !e.Equal(lutc("2025-10-31T23:00:00Z")) {
		t.Errorf("2025-10 in Berlin: [%s, %s) %v", s, e, err)
	}
	for _, bad := range []string{"2025-13", "2025-7", "25-07", "2025/07", "1969-12", "2200-01", "+025-07", "2025-+7", ""} {
		if _, _, err := impact.ParseAccountingPeriod(bad); impact.ErrorCode(err) != impact.EINVALID {
			t.Errorf("ParseAccountingPeriod(%q) = %v", bad, err)
		}
	}
	if got := impact.NextAccountingPeriod("2025-12"); got != "2026-01" {
		t.Errorf("next of 2025-12: %s", got)
	}
}

func TestToMinor(t *testing.T) {
	for _, tc := range []struct {
		cur, amount string
		want        int64
		err         bool
	}{
		{"USD", "1234.57", 123457, false},
		{"USD", "1234.5", 123450, false},
		{"USD", "1234.567", 0, true}, // three digits in a two-digit currency
		{"JPY", "1235", 1235, false},
		{"JPY", "1235.0", 1235, false}, // a zero digit is not a fraction
		{"JPY", "1235.5", 0, true},
		{"KWD", "308.642", 308642, false},
		{"XXX", "1", 0, true},
	} {
		got, err := impact.ToMinor(tc.cur, decimal.RequireFromString(tc.amount))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ToMinor(%s %s) = %d, %v", tc.cur, tc.amount, got, err)
		}
	}
	if s := impact.FormatMinor("KWD", -308642); s != "-308.642" {
		t.Errorf("FormatMinor: %s", s)
	}
}

func TestAccrualReportArithmetic(t *testing.T) {
	totals := []impact.EntryTotal{
		{Currency: "USD", Kind: impact.Accrual, Delta: 100000},
		{Currency: "USD", Kind: impact.Accrual, InPeriod: true, Delta: 50000},
		{Currency: "USD", Kind: impact.TrueUp, InPeriod: true, Delta: -2000},
		{Currency: "USD", Kind: impact.Release, InPeriod: true, Delta: -30000},
		{Currency: "USD", Kind: impact.IssueEntry, InPeriod: true, Delta: -40000},
		{Currency: "JPY", Kind: impact.Accrual, InPeriod: true, Delta: 12},
	}
	lines := []impact.LineLiability{
		{Currency: "USD", State: impact.Approved, Mode: impact.Automatic, Booked: 20000},
		{Currency: "USD", State: impact.Claimed, Mode: impact.OnRequest, Booked: 10000},
		{Currency: "USD", State: impact.Accruing, Mode: impact.Automatic, Booked: 8000},
		{Currency: "USD", State: impact.Claimable, Mode: impact.OnRequest, Booked: 25000},
		{Currency: "USD", State: impact.Accruing, Mode: impact.OnRequest, Booked: 15000},
		{Currency: "JPY", State: impact.Approved, Mode: impact.Automatic, Booked: 5},
		{Currency: "JPY", State: impact.Claimable, Mode: impact.OnRequest, Booked: 7},
	}
	got := impact.AccrualReport(totals, lines, decimal.RequireFromString("0.35"))
	if len(got) != 2 || got[0].Currency != "JPY" || got[1].Currency != "USD" {
		t.Fatalf("rows %+v", got)
	}
	usd := got[1]
	// closing = 1,000.00 + 500.00 − 20.00 − 300.00 − 400.00 = 780.00, which
	// is also Σ of the live lines (200 + 100 + 80 + 250 + 150).
	if usd.Opening != 100000 || usd.Accruals != 50000 || usd.TrueUps != -2000 || usd.Releases != 30000 ||
		usd.Issued != 40000 || usd.Closing != 78000 {
		t.Errorf("USD %+v", usd)
	}
	// expected = 200 + 100 + 80 + 0.35 × (250 + 150) = 380 + 140 = 520.00.
	if !usd.Expected.Equal(decimal.RequireFromString("520")) {
		t.Errorf("USD expected %s", usd.Expected)
	}
	// JPY: 5 + 0.35 × 7 = 7.45 → 7 (rounded once, to whole yen).
	if jpy := got[0]; jpy.Closing != 12 || !jpy.Expected.Equal(decimal.NewFromInt(7)) {
		t.Errorf("JPY %+v", jpy)
	}
	// Half-even once: 5 + 0.5 × 5 = 7.5 → 8; 5 + 0.5 × 3 = 6.5 → 6.
	for _, tc := range []struct {
		uncertain int64
		want      int64
	}{{5, 8}, {3, 6}} {
		r := impact.AccrualReport(nil, []impact.LineLiability{{Currency: "JPY", State: impact.Approved, Booked: 5},
			{Currency: "JPY", State: impact.Claimable, Booked: tc.uncertain}}, decimal.RequireFromString("0.5"))
		if !r[0].Expected.Equal(decimal.NewFromInt(tc.want)) {
			t.Errorf("JPY 5 + 0.5 × %d = %s, want %d", tc.uncertain, r[0].Expected, tc.want)
		}
	}
}

func TestCreditNoteKey(t *testing.T) {
	a := july(impact.Automatic)
	b := *a
	if impact.CreditNoteKey(a) != impact.CreditNoteKey(&b) {
		t.Error("same line and amount, different keys")
	}
	b.Amount++
	if impact.CreditNoteKey(a) == impact.CreditNoteKey(&b) {
		t.Error("a changed amount kept its key")
	}
	b = *a
	b.Name = "customers/c/contracts/api/creditLines/2025-08"
	if impact.CreditNoteKey(a) == impact.CreditNoteKey(&b) {
		t.Error("two lines share a key")
	}
}
