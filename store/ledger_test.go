package store_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// ledgerBook is a store with a movable clock, one USD customer and its
// contracts: api (ON_REQUEST, 30 days), db (AUTOMATIC), cdn (ON_REQUEST,
// 10 days).
type ledgerBook struct {
	t     *testing.T
	db    *store.DB
	clock time.Time
}

func newLedgerBook(t *testing.T, db *store.DB) *ledgerBook {
	b := &ledgerBook{t: t, db: db, clock: ts("2025-07-15T12:00:00Z")}
	db.SetClock(func() time.Time { return b.clock })
	ctx := context.Background()
	must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "acme", Currency: "USD"}, ""))
	for svc, p := range map[string]impact.ClaimPolicy{
		"api": {Mode: impact.OnRequest, DeadlineDays: 30},
		"db":  {},
		"cdn": {Mode: impact.OnRequest, DeadlineDays: 10},
	} {
		must[*impact.StoredContract](t)(db.CreateContract(ctx, "acme", &impact.Contract{Service: svc, MonthlyFee: "1000.00",
			ClaimPolicy: p}, ""))
	}
	must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i1"}, ""))
	return b
}

func (b *ledgerBook) at(s string) { b.clock = ts(s) }

// save stores statements of acme as :estimate does: "svc period credit".
func (b *ledgerBook) save(stmts ...string) {
	b.t.Helper()
	var sts []impact.StoredStatement
	for _, s := range stmts {
		f := strings.Fields(s)
		start, end, err := impact.PeriodBounds(ts(f[1]+"-01T00:00:00Z"), "", impact.Monthly)
		if err != nil {
			b.t.Fatal(err)
		}
		cr := impact.Money{Currency: "USD", Amount: decimal.RequireFromString(f[2])}
		sts = append(sts, impact.StoredStatement{Period: f[1], SLAStatement: impact.SLAStatement{CustomerID: "acme",
			Service: f[0], PeriodStart: start, PeriodEnd: end, CreditAmount: cr, ComputedCredit: cr,
			Incidents: []impact.IncidentShare{{IncidentID: "i1", DowntimeSeconds: decimal.NewFromInt(3000), Credit: cr}}}})
	}
	if _, err := b.db.SaveEstimate(context.Background(), &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: "i1"}}, sts); err != nil {
		b.t.Fatal(err)
	}
}

func (b *ledgerBook) line(svc, period string) *impact.CreditLine {
	b.t.Helper()
	l, err := b.db.GetCreditLine(context.Background(), "acme", svc, period)
	if err != nil {
		b.t.Fatal(err)
	}
	return l
}

func (b *ledgerBook) move(svc, period string, r impact.TransitionRequest) (*impact.CreditLine, error) {
	if r.Etag == "" {
		r.Etag = b.line(svc, period).Etag
	}
	return b.db.TransitionCreditLine(context.Background(), "acme", svc, period, r)
}

// journal spells a line's entries: "2025-07 ACCRUAL 1234.57, …".
func journal(l *impact.CreditLine) string {
	var parts []string
	for _, e := range l.Entries {
		parts = append(parts, e.AccountingPeriod+" "+e.Kind.String()+" "+impact.FormatMinor(e.Currency, e.Delta))
	}
	return strings.Join(parts, ", ")
}

func (b *ledgerBook) want(svc, period string, state impact.CreditState, amount, booked, entries string) *impact.CreditLine {
	b.t.Helper()
	l := b.line(svc, period)
	if l.State != state || impact.FormatMinor(l.Currency, l.Amount) != amount ||
		impact.FormatMinor(l.Currency, l.Booked) != booked || journal(l) != entries {
		b.t.Fatalf("at %s %s: %v amount %s booked %s [%s], want %v %s %s [%s]", b.clock.Format(time.RFC3339), l.Name,
			l.State, impact.FormatMinor(l.Currency, l.Amount), impact.FormatMinor(l.Currency, l.Booked), journal(l),
			state, amount, booked, entries)
	}
	return l
}

// report spells one accounting period's USD row.
func (b *ledgerBook) report(period, p string) string {
	b.t.Helper()
	per, rows, err := b.db.AccrualReport(context.Background(), period, decimal.RequireFromString(p))
	if err != nil {
		b.t.Fatal(err)
	}
	if per.ID != period {
		b.t.Fatalf("report of %s names %s", period, per.ID)
	}
	for _, r := range rows {
		if r.Currency == "USD" {
			f := func(m int64) string { return impact.FormatMinor("USD", m) }
			return fmt.Sprintf("opening %s accruals %s true-ups %s releases %s issued %s closing %s expected %s",
				f(r.Opening), f(r.Accruals), f(r.TrueUps), f(r.Releases), f(r.Issued), f(r.Closing),
				impact.FormatAmount("USD", r.Expected))
		}
	}
	return "none"
}

// checkBooked: every line's booked amount is the sum of its entries.
func (b *ledgerBook) checkBooked() {
	b.t.Helper()
	page, err := b.db.ListCreditLines(context.Background(), impact.CreditLineFilter{CustomerID: "-"}, impact.PageRequest{Size: 1000})
	if err != nil {
		b.t.Fatal(err)
	}
	for _, l := range page.Items {
		var sum int64
		for _, e := range l.Entries {
			sum += e.Delta
		}
		if sum != l.Booked {
			b.t.Errorf("%s: booked %d, entries sum to %d", l.Name, l.Booked, sum)
		}
	}
}

// The life of a small book across July, August and September 2025, with
// every transition, a recompute after a close and an expiry nobody looked
// at, and the accrual report rolling forward over the three months.
func TestLedgerLifecycle(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := newLedgerBook(t, db)
		const (
			A, C, CL, AP = impact.Accruing, impact.Claimable, impact.Claimed, impact.Approved
		)

		// 07-15: July's credits appear; a zero credit makes no line.
		b.save("api 2025-07 1234.57", "db 2025-07 100.00", "cdn 2025-07 0.00")
		l := b.want("api", "2025-07", A, "1234.57", "1234.57", "2025-07 ACCRUAL 1234.57")
		if !l.ClaimDeadline.Equal(ts("2025-08-31T00:00:00Z")) {
			t.Errorf("api July deadline %s", l.ClaimDeadline)
		}
		b.want("db", "2025-07", A, "100.00", "100.00", "2025-07 ACCRUAL 100.00")
		wantCode(t, second(db.GetCreditLine(ctx, "acme", "cdn", "2025-07")), impact.ENOTFOUND)
		// An AUTOMATIC line needs no claim.
		wantCode(t, second(b.move("db", "2025-07", impact.TransitionRequest{Transition: impact.ClaimTransition})), impact.EFAILEDPRECOND)

		// 08-02: July has ended; a recompute moves api to 1,500.00:
		// TRUE_UP +265.43 in August. Then July is closed.
		b.at("2025-08-02T09:00:00Z")
		b.want("db", "2025-07", AP, "100.00", "100.00", "2025-07 ACCRUAL 100.00")
		b.save("api 2025-07 1500.00")
		b.want("api", "2025-07", C, "1500.00", "1500.00", "2025-07 ACCRUAL 1234.57, 2025-08 TRUE_UP 265.43")
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-07", ""))
		wantCode(t, second(db.CloseLedgerPeriod(ctx, "2025-07", "")), impact.EFAILEDPRECOND)
		wantCode(t, second(db.CloseLedgerPeriod(ctx, "2025-08", "")), impact.EFAILEDPRECOND) // not ended

		// 08-10: claim (a stale etag first), approve, issue.
		b.at("2025-08-10T10:00:00Z")
		wantCode(t, second(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.ApproveTransition})), impact.EFAILEDPRECOND)
		wantCode(t, second(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.ClaimTransition, Etag: `"r999"`})), impact.EABORTED)
		claim := impact.TransitionRequest{Transition: impact.ClaimTransition, RequestID: "claim-1", Reference: "ticket 42",
			Etag: b.line("api", "2025-07").Etag}
		claimed := must[*impact.CreditLine](t)(b.move("api", "2025-07", claim))
		if claimed.State != CL || !claimed.ClaimTime.Equal(b.clock) || claimed.ClaimReference != "ticket 42" || claimed.ClaimedBy != impact.Anonymous {
			t.Fatalf("claimed %+v", claimed)
		}
		// The retry (the same request) returns the line and records nothing
		// twice; the id reused with another body is a conflict.
		again := must[*impact.CreditLine](t)(db.TransitionCreditLine(ctx, "acme", "api", "2025-07", claim))
		other := claim
		other.Reference = "ticket 43"
		wantCode(t, second(db.TransitionCreditLine(ctx, "acme", "api", "2025-07", other)), impact.ECONFLICT)
		if again.Etag != claimed.Etag || count(t, db, "audit_log", "action = 'ClaimCredit'") != 1 {
			t.Fatalf("retry: etag %s vs %s, %d claim audits", again.Etag, claimed.Etag, count(t, db, "audit_log", "action = 'ClaimCredit'"))
		}
		wantCode(t, second(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.ClaimTransition})), impact.EFAILEDPRECOND)
		wantCode(t, second(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.IssueTransition,
			IssuedCurrency: "USD", IssuedAmount: "1500.00", BillingReference: "INV-1"})), impact.EFAILEDPRECOND)
		must[*impact.CreditLine](t)(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.ApproveTransition}))
		before := count(t, db, "ledger_entries", "")
		for _, bad := range []struct{ cur, amount, field string }{
			{"EUR", "1500.00", "issued_amount.currency_code"},
			{"USD", "1500.001", "issued_amount.amount"},
		} {
			_, err := b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.IssueTransition,
				IssuedCurrency: bad.cur, IssuedAmount: bad.amount, BillingReference: "INV-1"})
			wantCode(t, err, impact.EINVALID)
			if e := err.(*impact.Error); len(e.Violations) != 1 || e.Violations[0].Field != bad.field {
				t.Errorf("%s %s: %v", bad.cur, bad.amount, err)
			}
		}
		if n := count(t, db, "ledger_entries", ""); n != before || b.line("api", "2025-07").State != AP {
			t.Fatalf("a refused issue wrote: %d entries (was %d)", n, before)
		}
		issued := must[*impact.CreditLine](t)(b.move("api", "2025-07", impact.TransitionRequest{Transition: impact.IssueTransition,
			IssuedCurrency: "USD", IssuedAmount: "1500", BillingReference: "INV-1"}))
		if issued.IssuedAmount != 150000 || issued.BillingReference != "INV-1" {
			t.Fatalf("issued %+v", issued)
		}
		b.want("api", "2025-07", impact.Issued, "1500.00", "0.00",
			"2025-07 ACCRUAL 1234.57, 2025-08 TRUE_UP 265.43, 2025-08 ISSUE -1500.00")

		// 08-20: August's credits; an issued line no longer follows.
		b.at("2025-08-20T00:00:00Z")
		b.save("api 2025-08 50.00", "cdn 2025-08 80.00", "api 2025-07 2000.00")
		b.want("api", "2025-07", impact.Issued, "1500.00", "0.00",
			"2025-07 ACCRUAL 1234.57, 2025-08 TRUE_UP 265.43, 2025-08 ISSUE -1500.00")
		// A claim while ACCRUING.
		must[*impact.CreditLine](t)(b.move("api", "2025-08", impact.TransitionRequest{Transition: impact.ClaimTransition}))
		cdn := b.want("cdn", "2025-08", A, "80.00", "80.00", "2025-08 ACCRUAL 80.00")
		if !cdn.ClaimDeadline.Equal(ts("2025-09-11T00:00:00Z")) {
			t.Errorf("cdn August deadline %s", cdn.ClaimDeadline)
		}

		// 09-02: reject (a reason), close August, then a recompute of the
		// closed July moves db to 120.00: TRUE_UP in September.
		b.at("2025-09-02T00:00:00Z")
		must[*impact.CreditLine](t)(b.move("api", "2025-08", impact.TransitionRequest{Transition: impact.RejectTransition, Reason: "outside SLA scope"}))
		rej := b.want("api", "2025-08", impact.Rejected, "50.00", "0.00", "2025-08 ACCRUAL 50.00, 2025-09 RELEASE -50.00")
		if rej.RejectReason != "outside SLA scope" {
			t.Errorf("reason %q", rej.RejectReason)
		}
		wantCode(t, second(b.move("api", "2025-08", impact.TransitionRequest{Transition: impact.IssueTransition,
			IssuedCurrency: "USD", IssuedAmount: "50.00", BillingReference: "INV-2"})), impact.EFAILEDPRECOND)
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-08", "close-aug"))
		// Retried with its request id: the period, not an error.
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-08", "close-aug"))
		julyEntries := count(t, db, "ledger_entries", "accounting_period = '2025-07'")
		b.save("db 2025-07 120.00")
		b.want("db", "2025-07", AP, "120.00", "120.00", "2025-07 ACCRUAL 100.00, 2025-09 TRUE_UP 20.00")

		// 10-03: nobody looked at cdn since its deadline (09-11). The first
		// read books its release, dated to the deadline, in September.
		b.at("2025-10-03T00:00:00Z")
		exp := b.want("cdn", "2025-08", impact.Expired, "80.00", "0.00", "2025-08 ACCRUAL 80.00, 2025-09 RELEASE -80.00")
		if !exp.Entries[1].Time.Equal(ts("2025-09-11T00:00:00Z")) {
			t.Errorf("release dated %s", exp.Entries[1].Time)
		}
		// The etag is checked before the state.
		wantCode(t, second(b.move("cdn", "2025-08", impact.TransitionRequest{Transition: impact.ClaimTransition, Etag: `"r0"`})), impact.EABORTED)
		_, err := b.move("cdn", "2025-08", impact.TransitionRequest{Transition: impact.ClaimTransition})
		if code(err) != impact.EFAILEDPRECOND || !strings.Contains(err.Error(), "deadline 2025-09-11T00:00:00Z has passed") {
			t.Fatalf("late claim: %v", err)
		}
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-09", ""))
		if n := count(t, db, "ledger_entries", "accounting_period = '2025-07'"); n != julyEntries {
			t.Errorf("closed July's entries changed: %d, were %d", n, julyEntries)
		}

		// The accrual reports roll forward (p = 0.5):
		//   July: accruals 1,234.57 + 100.00; at 08-01 api was CLAIMABLE,
		//     db APPROVED: expected 100 + 0.5 × 1,234.57 = 717.285 → 717.28.
		//   August: 1,334.57 + 130.00 + 265.43 − 1,500.00 = 230.00; at 09-01
		//     db APPROVED 100, api CLAIMED 50, cdn CLAIMABLE 80: 150 + 40.
		//   September: 230 + 20 − (50 + 80) = 120.00, db APPROVED.
		for _, tc := range []struct{ period, want string }{
			{"2025-07", "opening 0.00 accruals 1334.57 true-ups 0.00 releases 0.00 issued 0.00 closing 1334.57 expected 717.28"},
			{"2025-08", "opening 1334.57 accruals 130.00 true-ups 265.43 releases 0.00 issued 1500.00 closing 230.00 expected 190.00"},
			{"2025-09", "opening 230.00 accruals 0.00 true-ups 20.00 releases 130.00 issued 0.00 closing 120.00 expected 120.00"},
			{"2025-10", "opening 120.00 accruals 0.00 true-ups 0.00 releases 0.00 issued 0.00 closing 120.00 expected 120.00"},
		} {
			if got := b.report(tc.period, "0.5"); got != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.period, got, tc.want)
			}
		}
		b.checkBooked()

		// A longer deadline on cdn makes its August line CLAIMABLE again
		// (10 → 60 days: 10-31): booked again as a TRUE_UP in October.
		must[*impact.StoredContract](t)(db.UpdateContract(ctx, "acme", &impact.Contract{Service: "cdn",
			ClaimPolicy: impact.ClaimPolicy{Mode: impact.OnRequest, DeadlineDays: 60}}, impact.FieldMask{"claim_policy"}, ""))
		b.want("cdn", "2025-08", C, "80.00", "80.00", "2025-08 ACCRUAL 80.00, 2025-09 RELEASE -80.00, 2025-10 TRUE_UP 80.00")
		b.checkBooked()

		// Lists: every customer, by state, by deadline, paged.
		claimable := must[*impact.Page[impact.CreditLine]](t)(db.ListCreditLines(ctx,
			impact.CreditLineFilter{CustomerID: "-", States: []impact.CreditState{C}}, impact.PageRequest{}))
		if len(claimable.Items) != 1 || claimable.Items[0].Service != "cdn" {
			t.Errorf("claimable: %+v", claimable.Items)
		}
		soon := must[*impact.Page[impact.CreditLine]](t)(db.ListCreditLines(ctx,
			impact.CreditLineFilter{DeadlineAfter: b.clock, DeadlineBefore: b.clock.Add(30 * 24 * time.Hour)}, impact.PageRequest{}))
		if len(soon.Items) != 1 || soon.Items[0].Service != "cdn" {
			t.Errorf("deadline within 30 days: %+v", soon.Items)
		}
		var names []string
		p := impact.PageRequest{Size: 2}
		for {
			page := must[*impact.Page[impact.CreditLine]](t)(db.ListCreditLines(ctx, impact.CreditLineFilter{CustomerID: "acme"}, p))
			for _, l := range page.Items {
				names = append(names, l.Service+"/"+l.Period)
			}
			if page.NextPageToken == "" {
				break
			}
			p.Token = page.NextPageToken
		}
		if strings.Join(names, " ") != "api/2025-07 api/2025-08 cdn/2025-08 db/2025-07" {
			t.Errorf("pages: %v", names)
		}
		wantCode(t, second(db.ListCreditLines(ctx, impact.CreditLineFilter{CustomerID: "other"}, p)), impact.EINVALID)
	})
}

// Accounting months close in order: the first close may be any ended
// month (and closes every one before it), each later one the month after
// the last closed.
func TestLedgerPeriodsCloseInOrder(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := newLedgerBook(t, db)
		b.at("2025-12-05T00:00:00Z")
		p := must[*impact.LedgerPeriod](t)(db.GetLedgerPeriod(ctx, "2025-10"))
		if p.Closed || !p.Start.Equal(ts("2025-10-01T00:00:00Z")) || !p.End.Equal(ts("2025-11-01T00:00:00Z")) {
			t.Fatalf("open period %+v", p)
		}
		p = must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-10", ""))
		if !p.Closed || !p.CloseTime.Equal(b.clock) || p.ClosedBy != impact.Anonymous {
			t.Fatalf("closed %+v", p)
		}
		if p := must[*impact.LedgerPeriod](t)(db.GetLedgerPeriod(ctx, "2025-09")); !p.Closed || !p.CloseTime.IsZero() {
			t.Errorf("a month before the first close: %+v", p)
		}
		for _, tc := range []struct{ id, code, msg string }{
			{"2025-10", impact.EFAILEDPRECOND, "already closed"},
			{"2025-09", impact.EFAILEDPRECOND, "already closed"},
			{"2025-12", impact.EFAILEDPRECOND, "has not ended"},
			{"2025-13", impact.EINVALID, "YYYY-MM"},
		} {
			_, err := db.CloseLedgerPeriod(ctx, tc.id, "")
			if code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("close %s: %v, want %s %q", tc.id, err, tc.code, tc.msg)
			}
		}
		b.at("2026-02-02T00:00:00Z")
		// Entries in 2026-01 do not block 2025-11: it is next in order.
		b.save("db 2026-01 5.00")
		_, err := db.CloseLedgerPeriod(ctx, "2026-01", "")
		if code(err) != impact.EFAILEDPRECOND || !strings.Contains(err.Error(), "ledgerPeriods/2025-11 first") &&
			!strings.Contains(err.Error(), "before ledgerPeriods/2025-11") {
			t.Errorf("out of order: %v", err)
		}
		for _, id := range []string{"2025-11", "2025-12", "2026-01"} {
			must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, id, ""))
		}
		if n := count(t, db, "audit_log", "action = 'CloseLedgerPeriod'"); n != 4 {
			t.Errorf("%d close audits", n)
		}
	})
}

// Property: over random books driven through random recomputes,
// transitions, closes and time, every line's booked amount is the sum of
// its entries, each month's closing is the next one's opening, and closed
// months never change.
func TestLedgerProperties(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := newLedgerBook(t, db)
		rng := rand.New(rand.NewSource(16))
		b.at("2025-01-03T00:00:00Z")
		svcs := []string{"api", "db", "cdn"}
		frozen := map[string]string{} // closed month → its report
		closed := ""
		for step := 0; step < 120; step++ {
			b.clock = b.clock.Add(time.Duration(rng.Intn(96)) * time.Hour)
			month := b.clock.Format("2006-01")
			prev := b.clock.AddDate(0, -rng.Intn(3), 0).Format("2006-01")
			svc := svcs[rng.Intn(len(svcs))]
			switch rng.Intn(6) {
			case 0, 1:
				b.save(fmt.Sprintf("%s %s %d.%02d", svc, []string{month, prev}[rng.Intn(2)], rng.Intn(500), rng.Intn(100)))
			case 2:
				tr := impact.Transition(1 + rng.Intn(4))
				_, err := db.TransitionCreditLine(ctx, "acme", svc, prev, impact.TransitionRequest{Transition: tr,
					Reason: "r", IssuedCurrency: "USD", IssuedAmount: "1.00", BillingReference: "x"})
				if c := code(err); err != nil && c != impact.EFAILEDPRECOND && c != impact.ENOTFOUND {
					t.Fatal(err)
				}
			case 3:
				next := "2025-01" // the first month with entries
				if closed != "" {
					next = impact.NextAccountingPeriod(closed)
				}
				if _, err := db.CloseLedgerPeriod(ctx, next, ""); err == nil {
					closed = next
					frozen[next] = b.report(next, "0.3")
				}
			default:
				must[*impact.Page[impact.CreditLine]](t)(db.ListCreditLines(ctx, impact.CreditLineFilter{}, impact.PageRequest{}))
			}
		}
		b.checkBooked()
		for m, want := range frozen {
			if got := b.report(m, "0.3"); got != want {
				t.Errorf("closed %s changed:\n got %s\nwant %s", m, got, want)
			}
		}
		var lastClosing string
		for m := "2025-01"; m <= b.clock.Format("2006-01"); m = impact.NextAccountingPeriod(m) {
			got := b.report(m, "1")
			if got == "none" {
				continue
			}
			var open, closing string
			fields := strings.Fields(got)
			open, closing = fields[1], fields[11]
			if lastClosing != "" && open != lastClosing {
				t.Errorf("%s opens at %s, the month before closed at %s", m, open, lastClosing)
			}
			lastClosing = closing
		}
		if len(frozen) < 2 {
			t.Errorf("only %d months closed: the walk proves little", len(frozen))
		}
	})
}

// A credit that falls to 0 keeps its line; a deleted contract keeps its
// lines; the ledger's zone decides the accounting month.
func TestLedgerZeroDeletedAndZone(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.SetLedgerZone("Asia/Tokyo"); err != nil {
			t.Fatal(err)
		}
		b := newLedgerBook(t, db)
		// 07-31 16:00Z is 08-01 01:00 in Tokyo: August's books.
		b.at("2025-07-31T16:00:00Z")
		b.save("db 2025-07 40.00")
		b.want("db", "2025-07", impact.Accruing, "40.00", "40.00", "2025-08 ACCRUAL 40.00")
		b.at("2025-08-03T00:00:00Z")
		b.save("db 2025-07 0.00")
		b.want("db", "2025-07", impact.Approved, "0.00", "0.00", "2025-08 ACCRUAL 40.00, 2025-08 TRUE_UP -40.00")
		b.save("db 2025-07 12.50")
		b.want("db", "2025-07", impact.Approved, "12.50", "12.50", "2025-08 ACCRUAL 40.00, 2025-08 TRUE_UP -40.00, 2025-08 TRUE_UP 12.50")
		if err := db.DeleteContract(ctx, "acme", "db", ""); err != nil {
			t.Fatal(err)
		}
		b.want("db", "2025-07", impact.Approved, "12.50", "12.50", "2025-08 ACCRUAL 40.00, 2025-08 TRUE_UP -40.00, 2025-08 TRUE_UP 12.50")
		if err := db.SetLedgerZone("Mars/Olympus"); impact.ErrorCode(err) != impact.EINVALID {
			t.Errorf("unknown zone: %v", err)
		}
	})
}

// The first close is the first month with entries: closing a later one
// first is out of order.
func TestLedgerFirstCloseIsTheFirstMonthWithEntries(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := newLedgerBook(t, db)
		b.save("db 2025-07 10.00")
		b.at("2025-09-03T00:00:00Z")
		_, err := db.CloseLedgerPeriod(ctx, "2025-08", "")
		if code(err) != impact.EFAILEDPRECOND || !strings.Contains(err.Error(), "before ledgerPeriods/2025-07") {
			t.Fatalf("closing August before July: %v", err)
		}
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-07", ""))
		must[*impact.LedgerPeriod](t)(db.CloseLedgerPeriod(ctx, "2025-08", ""))
	})
}
