package impact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
)

// The credit ledger (doc.go, "The credit ledger"): claim policies, credit
// lines and their states, claim deadlines, journal entries, accounting
// periods and the accrual report. Everything here is a pure function of its
// arguments; "now" is always passed in.

// ClaimMode is how a contract's credits reach the customer.
type ClaimMode int32

const (
	ClaimModeUnspecified ClaimMode = iota // AUTOMATIC
	Automatic                             // the provider credits without a claim
	OnRequest                             // the customer must claim before a deadline
)

func (m ClaimMode) String() string {
	switch m {
	case Automatic, ClaimModeUnspecified:
		return "AUTOMATIC"
	case OnRequest:
		return "ON_REQUEST"
	}
	return "ClaimMode(" + strconv.Itoa(int(m)) + ")"
}

// ClaimPolicy is a contract's claim_policy. ON_REQUEST needs exactly one of
// DeadlineDays and DeadlineBillingPeriods (> 0); AUTOMATIC neither.
type ClaimPolicy struct {
	Mode                   ClaimMode
	DeadlineDays           int32
	DeadlineBillingPeriods int32
}

// EffectiveMode is the mode with its default applied.
func (p ClaimPolicy) EffectiveMode() ClaimMode {
	if p.Mode == OnRequest {
		return OnRequest
	}
	return Automatic
}

// maxDeadline bounds both deadline rules: ten years of days or of monthly
// periods keeps every deadline inside the engine's time range.
const (
	maxDeadlineDays    = 3660
	maxDeadlinePeriods = 120
)

// checkClaimPolicy adds the violations of a contract's claim policy.
func checkClaimPolicy(v *violations, p path, cp ClaimPolicy) {
	if !validEnum(cp.Mode, OnRequest) {
		v.add(p.at("mode"), "is not a known claim mode (AUTOMATIC or ON_REQUEST)")
		return
	}
	days, periods := cp.DeadlineDays, cp.DeadlineBillingPeriods
	if days < 0 || days > maxDeadlineDays {
		v.add(p.at("deadline_days"), fmt.Sprintf("must be in [1, %d]", maxDeadlineDays))
	}
	if periods < 0 || periods > maxDeadlinePeriods {
		v.add(p.at("deadline_billing_periods"), fmt.Sprintf("must be in [1, %d]", maxDeadlinePeriods))
	}
	switch {
	case cp.Mode == OnRequest && days != 0 && periods != 0:
		v.add(p.at("deadline_days"), "ON_REQUEST takes one deadline rule: deadline_days or deadline_billing_periods, not both")
		v.add(p.at("deadline_billing_periods"), "ON_REQUEST takes one deadline rule: deadline_days or deadline_billing_periods, not both")
	case cp.Mode == OnRequest && days == 0 && periods == 0:
		v.add(p.at("deadline_days"), "ON_REQUEST needs a deadline rule: deadline_days or deadline_billing_periods (> 0)")
	case cp.Mode != OnRequest && days != 0:
		v.add(p.at("deadline_days"), "only ON_REQUEST takes a deadline; AUTOMATIC credits need no claim")
	case cp.Mode != OnRequest && periods != 0:
		v.add(p.at("deadline_billing_periods"), "only ON_REQUEST takes a deadline; AUTOMATIC credits need no claim")
	}
}

// ValidateClaimPolicy returns EINVALID with one violation per problem of
// cp, with field paths under prefix ("contract.claim_policy").
func ValidateClaimPolicy(prefix string, cp ClaimPolicy) error {
	var v violations
	checkClaimPolicy(&v, root(prefix), cp)
	if len(v.list) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid claim policy", Violations: v.list}
}

// ClaimDeadline is the instant from which an ON_REQUEST credit of the
// billing period [periodStart, periodEnd) of a contract in zone tz can no
// longer be claimed; false for AUTOMATIC (no deadline).
//
//   - deadline_days N: local midnight of the day N days after the local date
//     of periodEnd (periodEnd + N days, the start of the day after the last
//     day on which a claim is accepted);
//   - deadline_billing_periods N: the end of the Nth billing period after
//     the credit's period, i.e. the start of the (N+1)th.
//
// Local midnight where a DST change skips it is the first instant whose
// wall clock reads at least 00:00 (as for billing periods).
func ClaimDeadline(periodStart, periodEnd time.Time, tz string, bp BillingPeriod, cp ClaimPolicy) (time.Time, bool, error) {
	if cp.EffectiveMode() != OnRequest {
		return time.Time{}, false, nil
	}
	loc, ok := loadZone(tz)
	if !ok {
		return time.Time{}, false, Errorf(EINVALID, "unknown time zone %q", tz)
	}
	z := newZoneCursor(loc)
	switch {
	case cp.DeadlineDays > 0:
		y, m, d := periodEnd.In(loc).Date()
		wall := time.Date(y, m, d+int(cp.DeadlineDays), 0, 0, 0, 0, time.UTC).Unix()
		return unixUTC(firstInstantAtOrAfterWall(z, wall)), true, nil
	case cp.DeadlineBillingPeriods > 0:
		y, m, _ := periodStart.In(loc).Date()
		step := 1
		if bp == Quarterly {
			step = 3
			m = time.Month((int(m)-1)/3*3 + 1)
		}
		// time.Date normalises months past December.
		first := time.Date(y, m+time.Month(step*(int(cp.DeadlineBillingPeriods)+1)), 1, 0, 0, 0, 0, time.UTC)
		return unixUTC(firstInstantAtOrAfterWall(z, first.Unix())), true, nil
	}
	return time.Time{}, false, Errorf(EINVALID, "ON_REQUEST claim policy without a deadline rule")
}

// CreditState is a credit line's state, derived from time at read.
type CreditState int32

const (
	CreditStateUnspecified CreditState = iota
	Accruing                           // the period has not ended
	Claimable                          // ON_REQUEST, ended, before the deadline, not claimed
	Claimed                            // a claim is recorded
	Approved                           // approved, or AUTOMATIC and the period ended
	Rejected                           // the claim was rejected
	Issued                             // the billing system issued it
	Expired                            // ON_REQUEST, not claimed by the deadline
)

var creditStateNames = [...]string{"CREDIT_STATE_UNSPECIFIED", "ACCRUING", "CLAIMABLE", "CLAIMED", "APPROVED",
	"REJECTED", "ISSUED", "EXPIRED"}

func (s CreditState) String() string {
	if s >= 0 && int(s) < len(creditStateNames) {
		return creditStateNames[s]
	}
	return "CreditState(" + strconv.Itoa(int(s)) + ")"
}

// ParseCreditState reads a state name ("CLAIMABLE").
func ParseCreditState(name string) (CreditState, bool) {
	for i, n := range creditStateNames {
		if i > 0 && n == name {
			return CreditState(i), true
		}
	}
	return 0, false
}

// live is whether the ledger carries a line's amount as a liability in
// state s: until it is released (expired, rejected) or settled (issued).
func (s CreditState) live() bool {
	return s == Accruing || s == Claimable || s == Claimed || s == Approved
}

// CreditLine is the ledger's record of what one contract's credit of one
// billing period is owed, "customers/{c}/contracts/{s}/creditLines/{period}".
// Amounts are in minor units of Currency (int64), so that sums are exact
// in SQL on both engines; AmountString and friends spell them.
type CreditLine struct {
	CustomerID string
	Service    string
	Period     string // "2025-07" or "2025-Q3", as the statement
	Name       string

	Currency    string
	Amount      int64 // follows the statement's credit_amount until issued
	PeriodStart time.Time
	PeriodEnd   time.Time
	// Policy, TimeZone and BillingPeriod are the contract's, which the
	// line follows while it is not issued; ClaimDeadline is derived from
	// them (zero: none).
	Policy        ClaimPolicy
	TimeZone      string
	BillingPeriod BillingPeriod
	ClaimDeadline time.Time
	Incidents     []IncidentShare // the statement's attribution, for the memo

	// Recorded transitions; a zero time means "not happened".
	ClaimTime        time.Time
	ClaimReference   string
	ClaimedBy        string
	ApproveTime      time.Time
	ApprovedBy       string
	RejectTime       time.Time
	RejectedBy       string
	RejectReason     string
	IssueTime        time.Time
	IssuedBy         string
	IssuedAmount     int64
	BillingReference string

	Booked  int64 // Σ Entries: the liability carried now
	Accrued bool  // an ACCRUAL has been booked
	Entries []LedgerEntry
	State   CreditState // at the time of the read

	Revision   int64
	CreateTime time.Time
	UpdateTime time.Time
	Etag       string
}

// CreditLineName is the resource name of a line.
func CreditLineName(customerID, service, period string) string {
	return ContractName(customerID, service) + "/creditLines/" + period
}

// StateAt derives the line's state at t (§12): recorded transitions at or
// before t first (ISSUED, REJECTED, APPROVED, CLAIMED), then time: ACCRUING
// before the period's end, then APPROVED for AUTOMATIC, CLAIMABLE before the
// deadline and EXPIRED from it. Nothing but t moves a line between the
// time-derived states, so no clock job can be late.
func (l *CreditLine) StateAt(t time.Time) CreditState {
	at := func(x time.Time) bool { return !x.IsZero() && !x.After(t) }
	switch {
	case at(l.IssueTime):
		return Issued
	case at(l.RejectTime):
		return Rejected
	case at(l.ApproveTime):
		return Approved
	case at(l.ClaimTime):
		return Claimed
	case t.Before(l.PeriodEnd):
		return Accruing
	case l.Policy.EffectiveMode() == Automatic:
		return Approved
	case t.Before(l.ClaimDeadline):
		return Claimable
	}
	return Expired
}

// CreditNoteKey is the idempotency key of the credit note of l: a digest of
// its name, currency and amount, so every export of the same line with the
// same amount carries the same key, and a changed amount gets a new one.
func CreditNoteKey(l *CreditLine) string {
	h := sha256.Sum256([]byte(l.Name + "\x00" + l.Currency + "\x00" + strconv.FormatInt(l.Amount, 10)))
	return "impact-cn-" + hex.EncodeToString(h[:16])
}

// Transition is a call that moves a line.
type Transition int

const (
	ClaimTransition Transition = iota + 1
	ApproveTransition
	RejectTransition
	IssueTransition
)

func (t Transition) String() string {
	switch t {
	case ClaimTransition:
		return "claim"
	case ApproveTransition:
		return "approve"
	case RejectTransition:
		return "reject"
	case IssueTransition:
		return "issue"
	}
	return "Transition(" + strconv.Itoa(int(t)) + ")"
}

// CheckTransition returns EFAILEDPRECOND, with a message saying why, when
// the line's state at now does not allow tr: a claim needs an ON_REQUEST
// line that is ACCRUING or CLAIMABLE (before the deadline), approve and
// reject a CLAIMED line, issue an APPROVED one.
func CheckTransition(l *CreditLine, tr Transition, now time.Time) error {
	s := l.StateAt(now)
	refuse := func(format string, args ...any) error {
		return Errorf(EFAILEDPRECOND, "%s is %s: %s", l.Name, s, fmt.Sprintf(format, args...))
	}
	switch tr {
	case ClaimTransition:
		if l.Policy.EffectiveMode() == Automatic {
			return refuse("its contract credits automatically (claim_policy AUTOMATIC); there is nothing to claim")
		}
		if s == Expired {
			return refuse("the claim deadline %s has passed", l.ClaimDeadline.UTC().Format(time.RFC3339))
		}
		if s != Accruing && s != Claimable {
			return refuse("only an ACCRUING or CLAIMABLE line can be claimed")
		}
	case ApproveTransition, RejectTransition:
		if s != Claimed {
			return refuse("only a CLAIMED line can be %s", map[Transition]string{ApproveTransition: "approved", RejectTransition: "rejected"}[tr])
		}
	case IssueTransition:
		if s != Approved {
			return refuse("only an APPROVED line can be issued")
		}
	default:
		return Errorf(EINVALID, "unknown transition %v", tr)
	}
	return nil
}

// EntryKind is the kind of a journal entry.
type EntryKind int32

const (
	EntryKindUnspecified EntryKind = iota
	Accrual                        // the first booking of a line
	TrueUp                         // the booked amount moved while live
	Release                        // expired or rejected: the booking reversed
	IssueEntry                     // issued: the booking settled
)

var entryKindNames = [...]string{"ENTRY_KIND_UNSPECIFIED", "ACCRUAL", "TRUE_UP", "RELEASE", "ISSUE"}

func (k EntryKind) String() string {
	if k >= 0 && int(k) < len(entryKindNames) {
		return entryKindNames[k]
	}
	return "EntryKind(" + strconv.Itoa(int(k)) + ")"
}

// LedgerEntry is one change of a line's booked amount, in the line's
// currency's minor units. Time is when the change happened (for a release
// by expiry: the deadline); AccountingPeriod where it is booked.
type LedgerEntry struct {
	AccountingPeriod string
	Kind             EntryKind
	Delta            int64
	Currency         string
	Time             time.Time
}

// Booking is the entry that brings a line's booked amount (booked, of
// which some was accrued before when accrued) to what state s and amount
// require: the amount while the line is live, 0 once it is released or
// issued. ok is false when nothing is to be booked. The kind: ACCRUAL for
// the first booking, TRUE_UP for a move of a live line, RELEASE when the
// line expired or was rejected, ISSUE when it was issued.
func Booking(booked int64, accrued bool, s CreditState, amount int64) (kind EntryKind, delta int64, ok bool) {
	target := int64(0)
	if s.live() {
		target = amount
	}
	delta = target - booked
	if delta == 0 {
		return 0, 0, false
	}
	switch {
	case s == Issued:
		return IssueEntry, delta, true
	case !s.live():
		return Release, delta, true
	case !accrued:
		return Accrual, delta, true
	}
	return TrueUp, delta, true
}

// Accounting periods: calendar months of the ledger's zone, "YYYY-MM".

// AccountingPeriodOf is the accounting month containing t in loc.
func AccountingPeriodOf(t time.Time, loc *time.Location) string {
	y, m, _ := t.In(loc).Date()
	return fmt.Sprintf("%04d-%02d", y, int(m))
}

// ParseAccountingPeriod checks a "YYYY-MM" id (years 1970–2199).
func ParseAccountingPeriod(id string) (year int, month time.Month, err error) {
	bad := Errorf(EINVALID, "accounting period %q must be YYYY-MM (a month between 1970-01 and 2199-12)", id)
	if len(id) != 7 || id[4] != '-' {
		return 0, 0, bad
	}
	y, err1 := strconv.Atoi(id[:4])
	m, err2 := strconv.Atoi(id[5:])
	if err1 != nil || err2 != nil || y < 1970 || y > 2199 || m < 1 || m > 12 || id[0] == '+' || id[5] == '+' {
		return 0, 0, bad
	}
	return y, time.Month(m), nil
}

// AccountingPeriodBounds is the accounting month [start, end) of id in loc:
// from the first instant whose wall clock reads at least 00:00 on the 1st.
func AccountingPeriodBounds(id string, loc *time.Location) (start, end time.Time, err error) {
	y, m, err := ParseAccountingPeriod(id)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	z := newZoneCursor(loc)
	s := firstInstantAtOrAfterWall(z, time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Unix())
	e := firstInstantAtOrAfterWall(z, time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).Unix())
	return unixUTC(s), unixUTC(e), nil
}

// NextAccountingPeriod is the month after id ("2025-12" → "2026-01"); id
// must be valid.
func NextAccountingPeriod(id string) string {
	y, m, _ := ParseAccountingPeriod(id)
	n := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("%04d-%02d", n.Year(), int(n.Month()))
}

// EntryPeriod is the accounting period of a change at t: the month of t,
// unless that month is closed (closedThrough, "" when none is), then the
// first open month after the closed ones. Closed months are never written.
func EntryPeriod(t time.Time, loc *time.Location, closedThrough string) string {
	p := AccountingPeriodOf(t, loc)
	if closedThrough != "" && p <= closedThrough {
		return NextAccountingPeriod(closedThrough)
	}
	return p
}

// LedgerZone returns the location of a ledger zone name ("" is UTC), or
// EINVALID.
func LedgerZone(name string) (*time.Location, error) {
	loc, ok := loadZone(name)
	if !ok {
		return nil, Errorf(EINVALID, "unknown time zone %q", name)
	}
	return loc, nil
}

// Money in minor units.

// ToMinor converts an amount of currency to integer minor units. It returns
// EINVALID when the amount has more fractional digits than the currency
// allows or does not fit an int64.
func ToMinor(currency string, amount decimal.Decimal) (int64, error) {
	exp, ok := MinorUnits(currency)
	if !ok {
		return 0, Errorf(EINVALID, "unknown currency %q", currency)
	}
	m := amount.Shift(exp)
	if !m.IsInteger() {
		return 0, Errorf(EINVALID, "%s has more than %d fractional digits, which %s does not allow", amount, exp, currency)
	}
	if m.Abs().GreaterThan(decimal.NewFromInt(1 << 62)) {
		return 0, Errorf(EINVALID, "%s %s is too large", currency, amount)
	}
	return m.IntPart(), nil
}

// FormatMinor spells minor units of currency as a decimal with exactly its
// minor-unit digits (USD 123457 → "1234.57").
func FormatMinor(currency string, minor int64) string {
	exp, _ := MinorUnits(currency)
	return FormatFixed(decimal.New(minor, -exp), exp)
}

// The accrual report.

// EntryTotal is the sum of the entries of one currency and kind, in the
// report's period (InPeriod) or before it.
type EntryTotal struct {
	Currency string
	Kind     EntryKind
	InPeriod bool
	Delta    int64
}

// LineLiability is one line as the expected liability sees it: its state
// at the report's instant, its claim mode and what it has booked through
// the report's period.
type LineLiability struct {
	Currency string
	State    CreditState
	Mode     ClaimMode
	Booked   int64
}

// AccrualFigures is one currency's row of the accrual report, in minor
// units except Expected, which is p × minor units rounded once half-even.
type AccrualFigures struct {
	Currency                                                              string
	Opening, Accruals, TrueUps, Releases, Issued, Closing                 int64
	Expected                                                              decimal.Decimal // in currency units, rounded to its minor unit
	Approved, ClaimedSum, AutomaticAccruing, Claimable, OnRequestAccruing int64
}

// AccrualReport computes the report of one accounting period from the sums
// of the entries through it and the lines' liabilities (§12):
//
//	opening  = Σ entries before the period
//	accruals = Σ ACCRUAL, true-ups = Σ TRUE_UP (signed), releases = −Σ RELEASE,
//	issued   = −Σ ISSUE, all in the period
//	closing  = opening + accruals + true-ups − releases − issued
//	expected = Σ APPROVED + Σ CLAIMED + Σ AUTOMATIC ACCRUING
//	           + p × Σ (CLAIMABLE + ON_REQUEST ACCRUING)
//
// one row per currency that has any entry or liability, by code. p must be
// in [0, 1].
func AccrualReport(totals []EntryTotal, lines []LineLiability, p decimal.Decimal) []AccrualFigures {
	rows := map[string]*AccrualFigures{}
	row := func(c string) *AccrualFigures {
		r := rows[c]
		if r == nil {
			r = &AccrualFigures{Currency: c}
			rows[c] = r
		}
		return r
	}
	for _, t := range totals {
		r := row(t.Currency)
		if !t.InPeriod {
			r.Opening += t.Delta
			continue
		}
		switch t.Kind {
		case Accrual:
			r.Accruals += t.Delta
		case TrueUp:
			r.TrueUps += t.Delta
		case Release:
			r.Releases -= t.Delta
		case IssueEntry:
			r.Issued -= t.Delta
		}
	}
	for _, l := range lines {
		r := row(l.Currency)
		switch {
		case l.State == Approved:
			r.Approved += l.Booked
		case l.State == Claimed:
			r.ClaimedSum += l.Booked
		case l.State == Accruing && l.Mode == Automatic:
			r.AutomaticAccruing += l.Booked
		case l.State == Claimable:
			r.Claimable += l.Booked
		case l.State == Accruing:
			r.OnRequestAccruing += l.Booked
		}
	}
	out := make([]AccrualFigures, 0, len(rows))
	for _, r := range rows {
		r.Closing = r.Opening + r.Accruals + r.TrueUps - r.Releases - r.Issued
		exp, _ := MinorUnits(r.Currency)
		certain := decimal.New(r.Approved+r.ClaimedSum+r.AutomaticAccruing, -exp)
		uncertain := decimal.New(r.Claimable+r.OnRequestAccruing, -exp)
		r.Expected = certain.Add(p.Mul(uncertain)).RoundBank(exp)
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// The ledger's store.

// CreditLineFilter narrows ListCreditLines; a zero field does not filter.
type CreditLineFilter struct {
	CustomerID      string // "" or "-": every customer
	Service         string
	States          []CreditState // any of them, at now
	DeadlineBefore  time.Time     // claim_deadline < this
	DeadlineAfter   time.Time     // claim_deadline > this
	DeadlineAtMost  time.Time     // claim_deadline <= this
	DeadlineAtLeast time.Time     // claim_deadline >= this
}

// TransitionRequest is what a transition call records besides its actor
// and time. Reference is the claim's reference, Reason a rejection's,
// IssuedAmount and BillingReference an issue's.
type TransitionRequest struct {
	Transition       Transition
	Etag             string
	RequestID        string
	Reference        string
	Reason           string
	IssuedCurrency   string
	IssuedAmount     string
	BillingReference string
}

// LedgerPeriod is an accounting period, "ledgerPeriods/{YYYY-MM}".
type LedgerPeriod struct {
	ID        string
	Name      string
	Start     time.Time
	End       time.Time
	Closed    bool
	CloseTime time.Time // zero while open, or when closed by a later close
	ClosedBy  string
	// AsOf is, in an accrual report, the instant of the line states of its
	// expected liability: the period's end, or now if that is earlier.
	AsOf time.Time
}

// LedgerPeriodName is the resource name of an accounting period.
func LedgerPeriodName(id string) string { return "ledgerPeriods/" + id }

// LedgerStore is the ledger's persistence. Lines are written by the store
// itself as statements are stored (SaveEstimate, recompute chunks); the
// methods below read them and record transitions. Every method first books
// what time alone has changed (releases of lines that expired since the
// last call, dated to their deadline).
type LedgerStore interface {
	// GetCreditLine returns ENOTFOUND if there is no such line.
	GetCreditLine(ctx context.Context, customerID, service, period string) (*CreditLine, error)
	// ListCreditLines lists lines by customer, service and period.
	ListCreditLines(ctx context.Context, f CreditLineFilter, page PageRequest) (*Page[CreditLine], error)
	// TransitionCreditLine records a claim, approval, rejection or issue:
	// ENOTFOUND, EABORTED on a stale etag, EFAILEDPRECOND when the state
	// does not allow it (CheckTransition), EINVALID for an issued amount
	// in another currency or with too many digits. A retry with the same
	// request id returns the line as it is now and writes nothing.
	TransitionCreditLine(ctx context.Context, customerID, service, period string, r TransitionRequest) (*CreditLine, error)
	// GetLedgerPeriod returns EINVALID for a malformed id.
	GetLedgerPeriod(ctx context.Context, id string) (*LedgerPeriod, error)
	// CloseLedgerPeriod closes id: EFAILEDPRECOND if it is closed already,
	// has not ended, or is not the month after the last closed one.
	CloseLedgerPeriod(ctx context.Context, id, requestID string) (*LedgerPeriod, error)
	// AccrualReport reports period id with claim probability p.
	AccrualReport(ctx context.Context, id string, p decimal.Decimal) (*LedgerPeriod, []AccrualFigures, error)
}
