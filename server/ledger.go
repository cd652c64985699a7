package server

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/grpc"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Ledger implements impact.v1.LedgerService over an impact.LedgerStore. The
// store holds the process clock: states, deadlines and bookings are all
// decided there, at the instant of the call.
type Ledger struct {
	impactv1.UnimplementedLedgerServiceServer

	log   *slog.Logger
	store impact.LedgerStore
}

// NewLedger returns the ledger service over st.
func NewLedger(log *slog.Logger, st impact.LedgerStore) *Ledger {
	return &Ledger{log: log, store: st}
}

// Register registers LedgerService on r.
func (s *Ledger) Register(r grpc.ServiceRegistrar) { impactv1.RegisterLedgerServiceServer(r, s) }

// SetClock replaces the clock of compute times (impactd passes its one
// process clock).
func (s *Stored) SetClock(now func() time.Time) { s.now = now }

func (s *Ledger) fail(ctx context.Context, err error) error { return toStatus(ctx, s.log, err, "") }

var claimModes = enumTable[impactv1.ClaimPolicy_Mode, impact.ClaimMode]{
	{impactv1.ClaimPolicy_MODE_UNSPECIFIED, impact.ClaimModeUnspecified},
	{impactv1.ClaimPolicy_AUTOMATIC, impact.Automatic},
	{impactv1.ClaimPolicy_ON_REQUEST, impact.OnRequest},
}

var creditStates = enumTable[impactv1.CreditLine_State, impact.CreditState]{
	{impactv1.CreditLine_STATE_UNSPECIFIED, impact.CreditStateUnspecified},
	{impactv1.CreditLine_ACCRUING, impact.Accruing},
	{impactv1.CreditLine_CLAIMABLE, impact.Claimable},
	{impactv1.CreditLine_CLAIMED, impact.Claimed},
	{impactv1.CreditLine_APPROVED, impact.Approved},
	{impactv1.CreditLine_REJECTED, impact.Rejected},
	{impactv1.CreditLine_ISSUED, impact.Issued},
	{impactv1.CreditLine_EXPIRED, impact.Expired},
}

var entryKinds = enumTable[impactv1.LedgerEntry_Kind, impact.EntryKind]{
	{impactv1.LedgerEntry_KIND_UNSPECIFIED, impact.EntryKindUnspecified},
	{impactv1.LedgerEntry_ACCRUAL, impact.Accrual},
	{impactv1.LedgerEntry_TRUE_UP, impact.TrueUp},
	{impactv1.LedgerEntry_RELEASE, impact.Release},
	{impactv1.LedgerEntry_ISSUE, impact.IssueEntry},
}

// claimPolicy maps a contract's claim_policy; the engine validates it.
func (d *decoder) claimPolicy(path string, p *impactv1.ClaimPolicy) impact.ClaimPolicy {
	if p == nil {
		return impact.ClaimPolicy{}
	}
	return impact.ClaimPolicy{
		Mode:                   enumToDomain(d, claimModes, path+".mode", p.GetMode()),
		DeadlineDays:           p.GetDeadlineDays(),
		DeadlineBillingPeriods: p.GetDeadlineBillingPeriods(),
	}
}

// wholeClaimPolicy makes an update naming any field of claim_policy (the
// gateway derives "claim_policy.mode" from a JSON body) replace the policy
// whole: its fields are only valid together.
func wholeClaimPolicy(mask impact.FieldMask) impact.FieldMask {
	out := make(impact.FieldMask, 0, len(mask))
	seen := false
	for _, p := range mask {
		if p == "claim_policy" || strings.HasPrefix(p, "claim_policy.") {
			if seen {
				continue
			}
			seen, p = true, "claim_policy"
		}
		out = append(out, p)
	}
	return out
}

func claimPolicyToProto(p impact.ClaimPolicy) *impactv1.ClaimPolicy {
	if p == (impact.ClaimPolicy{}) {
		return nil
	}
	return &impactv1.ClaimPolicy{Mode: enumToProto(claimModes, p.Mode), DeadlineDays: p.DeadlineDays,
		DeadlineBillingPeriods: p.DeadlineBillingPeriods}
}

func minorMoney(currency string, minor int64) *impactv1.Money {
	return &impactv1.Money{CurrencyCode: currency, Amount: impact.FormatMinor(currency, minor)}
}

func creditLineToProto(l *impact.CreditLine) *impactv1.CreditLine {
	p := &impactv1.CreditLine{
		Name:             l.Name,
		CustomerId:       l.CustomerID,
		Contract:         l.Service,
		Period:           l.Period,
		State:            enumToProto(creditStates, l.State),
		Amount:           minorMoney(l.Currency, l.Amount),
		ClaimMode:        enumToProto(claimModes, l.Policy.EffectiveMode()),
		ClaimDeadline:    tsOrNil(l.ClaimDeadline),
		PeriodStart:      tsOrNil(l.PeriodStart),
		PeriodEnd:        tsOrNil(l.PeriodEnd),
		BookedAmount:     minorMoney(l.Currency, l.Booked),
		ClaimTime:        tsOrNil(l.ClaimTime),
		ClaimReference:   l.ClaimReference,
		ClaimedBy:        l.ClaimedBy,
		ApproveTime:      tsOrNil(l.ApproveTime),
		ApprovedBy:       l.ApprovedBy,
		RejectTime:       tsOrNil(l.RejectTime),
		RejectedBy:       l.RejectedBy,
		RejectReason:     l.RejectReason,
		IssueTime:        tsOrNil(l.IssueTime),
		IssuedBy:         l.IssuedBy,
		BillingReference: l.BillingReference,
		CreateTime:       tsOrNil(l.CreateTime),
		UpdateTime:       tsOrNil(l.UpdateTime),
		Etag:             l.Etag,
	}
	if !l.IssueTime.IsZero() {
		p.IssuedAmount = minorMoney(l.Currency, l.IssuedAmount)
	}
	for _, e := range l.Entries {
		p.Entries = append(p.Entries, &impactv1.LedgerEntry{
			AccountingPeriod: e.AccountingPeriod, Delta: impact.FormatMinor(e.Currency, e.Delta),
			Kind: enumToProto(entryKinds, e.Kind), CurrencyCode: e.Currency, DeltaMinor: e.Delta, Time: tsOrNil(e.Time),
		})
	}
	p.Incidents = sharesToProto(l.Incidents)
	return p
}

func sharesToProto(shares []impact.IncidentShare) []*impactv1.IncidentShare {
	var out []*impactv1.IncidentShare
	for _, sh := range shares {
		out = append(out, &impactv1.IncidentShare{IncidentId: sh.IncidentID, DowntimeSeconds: sh.DowntimeSeconds.String(),
			Credit: moneyToProto(sh.Credit)})
	}
	return out
}

// creditLineName parses "customers/{c}/contracts/{s}/creditLines/{period}".
func creditLineName(field, name string) ([]string, error) {
	return parseName(field, name, "customers", "contracts", "creditLines")
}

func (s *Ledger) GetCreditLine(ctx context.Context, req *impactv1.GetCreditLineRequest) (*impactv1.CreditLine, error) {
	ids, err := creditLineName("name", req.GetName())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	l, err := s.store.GetCreditLine(ctx, ids[0], ids[1], ids[2])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return creditLineToProto(l), nil
}

// lineFilterTerm is one term of a credit line filter (AIP-160 subset).
var lineFilterTerm = regexp.MustCompile(`^\s*(state|customer_id|contract|claim_deadline)\s*(<=|>=|=|<|>)\s*(?:"([^"]*)"|([A-Za-z0-9._~:+-]+))\s*$`)

const lineFilterHelp = `must be terms joined by AND: state = CLAIMABLE (states also joined by OR), customer_id = "c1", ` +
	`contract = "api", claim_deadline < "2025-09-01T00:00:00Z" (<, <=, >, >=)`

// ParseCreditLineFilter parses a ListCreditLines parent and filter into
// the store's filter; EINVALID with a violation per bad term.
func ParseCreditLineFilter(parent, filter string) (impact.CreditLineFilter, error) {
	return lineFilter(parent, filter)
}

// lineFilter parses parent and filter into the store's filter.
func lineFilter(parent, filter string) (impact.CreditLineFilter, error) {
	var f impact.CreditLineFilter
	parts := strings.Split(parent, "/")
	switch {
	case len(parts) == 2 && parts[0] == "customers" && parts[1] != "":
		f.CustomerID = parts[1]
	case len(parts) == 4 && parts[0] == "customers" && parts[1] != "" && parts[2] == "contracts" && parts[3] != "":
		f.CustomerID, f.Service = parts[1], parts[3]
	default:
		return f, invalidField("parent", `must be customers/{customer}, customers/{customer}/contracts/{contract} or customers/-, got %q`, parent)
	}
	if strings.TrimSpace(filter) == "" {
		return f, nil
	}
	var violations []impact.FieldViolation
	bad := func(format string, args ...any) {
		violations = append(violations, impact.FieldViolation{Field: "filter", Description: fmt.Sprintf(format, args...)})
	}
	var terms []string
	for _, term := range strings.Split(filter, " AND ") {
		// A disjunction of states: (state = CLAIMABLE OR state = CLAIMED).
		t := strings.TrimSpace(term)
		if strings.HasPrefix(t, "(") && strings.HasSuffix(t, ")") {
			t = t[1 : len(t)-1]
		}
		if alts := strings.Split(t, " OR "); len(alts) > 1 {
			for _, a := range alts {
				if m := lineFilterTerm.FindStringSubmatch(a); m == nil || m[1] != "state" {
					bad("%q: only state terms can be joined by OR", strings.TrimSpace(a))
				}
			}
			terms = append(terms, alts...)
			continue
		}
		terms = append(terms, term)
	}
	for _, term := range terms {
		m := lineFilterTerm.FindStringSubmatch(term)
		if m == nil {
			bad("%q: %s", strings.TrimSpace(term), lineFilterHelp)
			continue
		}
		field, op, val := m[1], m[2], m[3]+m[4]
		if field != "claim_deadline" && op != "=" {
			bad("%s takes only =", field)
			continue
		}
		switch field {
		case "state":
			st, ok := impact.ParseCreditState(val)
			if !ok {
				bad("unknown state %q: one of ACCRUING, CLAIMABLE, CLAIMED, APPROVED, REJECTED, ISSUED, EXPIRED", val)
				continue
			}
			f.States = append(f.States, st)
		case "customer_id":
			if f.CustomerID != "" && f.CustomerID != "-" && f.CustomerID != val {
				bad("customer_id %q contradicts the parent", val)
			}
			f.CustomerID = val
		case "contract":
			if f.Service != "" && f.Service != val {
				bad("contract %q contradicts the parent", val)
			}
			f.Service = val
		case "claim_deadline":
			t, err := time.Parse(time.RFC3339, val)
			if err != nil {
				bad("claim_deadline %q is not an RFC 3339 instant", val)
				continue
			}
			switch op {
			case "<":
				f.DeadlineBefore = t
			case ">":
				f.DeadlineAfter = t
			case "<=":
				f.DeadlineAtMost = t
			case ">=":
				f.DeadlineAtLeast = t
			default:
				bad("claim_deadline takes <, <=, > or >=")
			}
		}
	}
	if len(violations) > 0 {
		return f, &impact.Error{Code: impact.EINVALID, Message: "invalid filter", Violations: violations}
	}
	return f, nil
}

func (s *Ledger) ListCreditLines(ctx context.Context, req *impactv1.ListCreditLinesRequest) (*impactv1.ListCreditLinesResponse, error) {
	f, err := lineFilter(req.GetParent(), req.GetFilter())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.ListCreditLines(ctx, f, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListCreditLinesResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.CreditLines = append(resp.CreditLines, creditLineToProto(&page.Items[i]))
	}
	return resp, nil
}

// maxReference bounds references and reasons: they are free text kept in
// the line and its audit row.
const maxReference = 1024

func (s *Ledger) transition(ctx context.Context, name string, r impact.TransitionRequest, violations []impact.FieldViolation) (*impactv1.CreditLine, error) {
	ids, err := creditLineName("name", name)
	if err != nil {
		violations = append(err.(*impact.Error).Violations, violations...)
	}
	if len(violations) > 0 {
		return nil, s.fail(ctx, &impact.Error{Code: impact.EINVALID, Message: "invalid request", Violations: violations})
	}
	l, err := s.store.TransitionCreditLine(ctx, ids[0], ids[1], ids[2], r)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return creditLineToProto(l), nil
}

func textViolation(field, v string, required bool, max int) []impact.FieldViolation {
	switch {
	case required && strings.TrimSpace(v) == "":
		return []impact.FieldViolation{{Field: field, Description: "is required"}}
	case len(v) > max:
		return []impact.FieldViolation{{Field: field, Description: fmt.Sprintf("must be at most %d bytes", max)}}
	}
	return nil
}

func (s *Ledger) ClaimCredit(ctx context.Context, req *impactv1.ClaimCreditRequest) (*impactv1.CreditLine, error) {
	return s.transition(ctx, req.GetName(), impact.TransitionRequest{Transition: impact.ClaimTransition,
		Etag: req.GetEtag(), RequestID: req.GetRequestId(), Reference: req.GetReference()},
		textViolation("reference", req.GetReference(), false, maxReference))
}

func (s *Ledger) ApproveCredit(ctx context.Context, req *impactv1.ApproveCreditRequest) (*impactv1.CreditLine, error) {
	return s.transition(ctx, req.GetName(), impact.TransitionRequest{Transition: impact.ApproveTransition,
		Etag: req.GetEtag(), RequestID: req.GetRequestId()}, nil)
}

func (s *Ledger) RejectCredit(ctx context.Context, req *impactv1.RejectCreditRequest) (*impactv1.CreditLine, error) {
	return s.transition(ctx, req.GetName(), impact.TransitionRequest{Transition: impact.RejectTransition,
		Etag: req.GetEtag(), RequestID: req.GetRequestId(), Reason: req.GetReason()},
		textViolation("reason", req.GetReason(), true, maxReference))
}

func (s *Ledger) IssueCredit(ctx context.Context, req *impactv1.IssueCreditRequest) (*impactv1.CreditLine, error) {
	var vs []impact.FieldViolation
	m := req.GetIssuedAmount()
	switch {
	case m == nil:
		vs = append(vs, impact.FieldViolation{Field: "issued_amount", Description: "is required: what the billing system issued"})
	default:
		if m.GetCurrencyCode() == "" {
			vs = append(vs, impact.FieldViolation{Field: "issued_amount.currency_code", Description: "is required"})
		}
		if d, err := impact.ParseDecimal(m.GetAmount()); err != nil || d.IsNegative() {
			vs = append(vs, impact.FieldViolation{Field: "issued_amount.amount",
				Description: "must be a plain decimal ≥ 0 with at most the currency's minor-unit digits"})
		}
	}
	vs = append(vs, textViolation("billing_reference", req.GetBillingReference(), true, 256)...)
	return s.transition(ctx, req.GetName(), impact.TransitionRequest{Transition: impact.IssueTransition,
		Etag: req.GetEtag(), RequestID: req.GetRequestId(), IssuedCurrency: m.GetCurrencyCode(),
		IssuedAmount: m.GetAmount(), BillingReference: req.GetBillingReference()}, vs)
}

func ledgerPeriodToProto(p *impact.LedgerPeriod) *impactv1.LedgerPeriod {
	st := impactv1.LedgerPeriod_OPEN
	if p.Closed {
		st = impactv1.LedgerPeriod_CLOSED
	}
	return &impactv1.LedgerPeriod{Name: p.Name, StartTime: tsOrNil(p.Start), EndTime: tsOrNil(p.End), State: st,
		CloseTime: tsOrNil(p.CloseTime), ClosedBy: p.ClosedBy}
}

func (s *Ledger) GetLedgerPeriod(ctx context.Context, req *impactv1.GetLedgerPeriodRequest) (*impactv1.LedgerPeriod, error) {
	ids, err := parseName("name", req.GetName(), "ledgerPeriods")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	p, err := s.store.GetLedgerPeriod(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return ledgerPeriodToProto(p), nil
}

func (s *Ledger) CloseLedgerPeriod(ctx context.Context, req *impactv1.CloseLedgerPeriodRequest) (*impactv1.LedgerPeriod, error) {
	ids, err := parseName("name", req.GetName(), "ledgerPeriods")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	p, err := s.store.CloseLedgerPeriod(ctx, ids[0], req.GetRequestId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return ledgerPeriodToProto(p), nil
}

func (s *Ledger) GetAccrualReport(ctx context.Context, req *impactv1.GetAccrualReportRequest) (*impactv1.AccrualReport, error) {
	name := strings.TrimSuffix(req.GetName(), "/accrualReport")
	ids, err := parseName("name", name, "ledgerPeriods")
	var vs []impact.FieldViolation
	if err != nil {
		vs = append(vs, impact.FieldViolation{Field: "name", Description: "must be ledgerPeriods/{YYYY-MM}/accrualReport"})
	}
	prob := decimal.NewFromInt(1)
	probText := "1"
	if ps := req.GetClaimProbability(); ps != "" {
		p, err := impact.ParseDecimal(ps)
		if err != nil || p.IsNegative() || p.GreaterThan(decimal.NewFromInt(1)) {
			vs = append(vs, impact.FieldViolation{Field: "claim_probability", Description: "must be a plain decimal in [0, 1]"})
		}
		prob, probText = p, ps
	}
	if len(vs) > 0 {
		return nil, s.fail(ctx, &impact.Error{Code: impact.EINVALID, Message: "invalid request", Violations: vs})
	}
	per, rows, err := s.store.AccrualReport(ctx, ids[0], prob)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &impactv1.AccrualReport{Name: per.Name + "/accrualReport", Period: ledgerPeriodToProto(per),
		ClaimProbability: probText, AsOfTime: tsOrNil(per.AsOf)}
	for _, r := range rows {
		c := r.Currency
		out.Currencies = append(out.Currencies, &impactv1.AccrualFigures{
			CurrencyCode: c,
			Opening:      impact.FormatMinor(c, r.Opening), Accruals: impact.FormatMinor(c, r.Accruals),
			TrueUps: impact.FormatMinor(c, r.TrueUps), Releases: impact.FormatMinor(c, r.Releases),
			Issued: impact.FormatMinor(c, r.Issued), Closing: impact.FormatMinor(c, r.Closing),
			ExpectedLiability: impact.FormatAmount(c, r.Expected),
			Approved:          impact.FormatMinor(c, r.Approved), Claimed: impact.FormatMinor(c, r.ClaimedSum),
			AutomaticAccruing: impact.FormatMinor(c, r.AutomaticAccruing), Claimable: impact.FormatMinor(c, r.Claimable),
			OnRequestAccruing: impact.FormatMinor(c, r.OnRequestAccruing),
		})
	}
	return out, nil
}

// CreditNote is the credit note of an APPROVED line (§12 "Billing
// hand-off"): the memo names the contract, the period and each incident's
// attributed share.
func CreditNote(l *impact.CreditLine) *impactv1.CreditNote {
	var memo strings.Builder
	fmt.Fprintf(&memo, "SLA credit %s %s", l.Service, l.Period)
	for i, sh := range l.Incidents {
		if i == 0 {
			memo.WriteString(": ")
		} else {
			memo.WriteString(", ")
		}
		fmt.Fprintf(&memo, "%s %s %s", sh.IncidentID, sh.Credit.String(), sh.Credit.Currency)
	}
	return &impactv1.CreditNote{
		IdempotencyKey: impact.CreditNoteKey(l), CreditLine: l.Name, CustomerId: l.CustomerID, Contract: l.Service,
		Period: l.Period, CurrencyCode: l.Currency, Amount: impact.FormatMinor(l.Currency, l.Amount),
		AmountMinor: l.Amount, Memo: memo.String(), Incidents: sharesToProto(l.Incidents),
		PeriodStart: tsOrNil(l.PeriodStart), PeriodEnd: tsOrNil(l.PeriodEnd), Etag: l.Etag,
	}
}

func (s *Ledger) ExportCreditNotes(req *impactv1.ExportCreditNotesRequest, stream impactv1.LedgerService_ExportCreditNotesServer) error {
	ctx := stream.Context()
	parent := req.GetParent()
	if parent == "" {
		parent = "customers/-"
	}
	f, err := lineFilter(parent, req.GetFilter())
	if err != nil {
		return s.fail(ctx, err)
	}
	// Only APPROVED lines are notes: a state filter can only narrow to them.
	approved := len(f.States) == 0
	for _, st := range f.States {
		approved = approved || st == impact.Approved
	}
	if !approved {
		return nil
	}
	f.States = []impact.CreditState{impact.Approved}
	token := ""
	for {
		page, err := s.store.ListCreditLines(ctx, f, impact.PageRequest{Size: impact.MaxPageSize, Token: token})
		if err != nil {
			return s.fail(ctx, err)
		}
		for i := range page.Items {
			if err := stream.Send(CreditNote(&page.Items[i])); err != nil {
				return err
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		token = page.NextPageToken
	}
}
