package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"google.golang.org/grpc"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// The credit ledger's billing hand-off: export credit notes, record what
// the billing system issued (README "Credit ledger").

// creditNoteColumns is the CSV of `export credit-notes`; issue-credits
// reads credit_line (and idempotency_key, when present) from it.
var creditNoteColumns = []string{"idempotency_key", "credit_line", "customer_id", "contract", "period",
	"currency_code", "amount", "amount_minor", "memo", "etag"}

// exportCreditNotes streams the APPROVED lines as credit notes, from db or
// through the API's ExportCreditNotes.
func exportCreditNotes(ctx context.Context, db *store.DB, conn *grpc.ClientConn, filter, format string, bw *bufio.Writer) error {
	var write func(*impactv1.CreditNote) error
	var end func() error
	if format == "json" {
		arr := &jsonArray{w: bw}
		if err := arr.begin(); err != nil {
			return err
		}
		write = func(n *impactv1.CreditNote) error { return arr.add(n) }
		end = arr.end
	} else {
		cw := csv.NewWriter(bw)
		if err := cw.Write(creditNoteColumns); err != nil {
			return err
		}
		write = func(n *impactv1.CreditNote) error {
			return cw.Write([]string{n.GetIdempotencyKey(), n.GetCreditLine(), n.GetCustomerId(), n.GetContract(),
				n.GetPeriod(), n.GetCurrencyCode(), n.GetAmount(), strconv.FormatInt(n.GetAmountMinor(), 10), n.GetMemo(), n.GetEtag()})
		}
		end = func() error { cw.Flush(); return cw.Error() }
	}
	if conn != nil {
		stream, err := impactv1.NewLedgerServiceClient(conn).ExportCreditNotes(ctx, &impactv1.ExportCreditNotesRequest{Filter: filter})
		if err != nil {
			return err
		}
		for {
			n, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return end()
			}
			if err != nil {
				return err
			}
			if err := write(n); err != nil {
				return err
			}
		}
	}
	f, err := server.ParseCreditLineFilter("customers/-", filter)
	if err != nil {
		return err
	}
	f.States = []impact.CreditState{impact.Approved}
	for token := ""; ; {
		page, err := db.ListCreditLines(ctx, f, impact.PageRequest{Size: impact.MaxPageSize, Token: token})
		if err != nil {
			return err
		}
		for i := range page.Items {
			if err := write(server.CreditNote(&page.Items[i])); err != nil {
				return err
			}
		}
		if token = page.NextPageToken; token == "" {
			return end()
		}
	}
}

const issueUsage = `Usage: impactctl issue-credits [flags] FILE.csv

Records what the billing system issued for APPROVED credit lines, on --db
or through impactd's API with --server HOST:PORT (an admin's token from
--token or IMPACTCTL_TOKEN; --tls-ca for TLS). FILE.csv ("-" reads stdin)
has a header row; columns (any order, * required):

  credit_line*        customers/{customer}/contracts/{contract}/creditLines/{period}
  amount*             the amount issued, a decimal in the line's currency
  currency_code*      the currency issued
  billing_reference*  the billing system's credit note id
  idempotency_key     the key of the exported note it issued

An exported credit-notes CSV with a billing_reference column added is such
a file (its amount and currency_code columns are what was asked for). Every
row is checked first (exit 3, nothing written, one problem a line); then
each line is issued in its own transaction with a request id derived from
the row, so running the file again writes nothing twice.

Reconciliation: at the end, every line whose issued amount differs from
the amount impact computed is listed ("computed … issued …"), as is every
row whose idempotency_key is not the line's current one (its amount changed
after the export). A row the ledger refuses (the line is not APPROVED, the
currency is not the line's) is reported and the command exits 1 after the
other rows are done.
`

func runIssueCredits(c *cli, args []string) error {
	f := c.flags("issue-credits", issueUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT: issue through the API instead of --db")
	token := f.string("token", "", "bearer token sent to --server (an admin's)")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	var in io.Reader = c.stdin
	if pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	}
	rows, err := csv.NewReader(in).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if len(rows) == 0 {
		return &invalidInput{problems: []string{"row 1: the file has no header"}}
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var problems []string
	for _, name := range []string{"credit_line", "amount", "currency_code", "billing_reference"} {
		if _, ok := col[name]; !ok {
			problems = append(problems, fmt.Sprintf("row 1: column %s is required", name))
		}
	}
	if len(problems) > 0 {
		return &invalidInput{problems: problems}
	}
	get := func(r []string, name string) string {
		if i, ok := col[name]; ok && i < len(r) {
			return r[i]
		}
		return ""
	}
	type issue struct {
		line                  int
		customer, svc, period string
		req                   impact.TransitionRequest
		key                   string
	}
	var issues []issue
	for n, r := range rows[1:] {
		line := n + 2
		is := issue{line: line, key: get(r, "idempotency_key"), req: impact.TransitionRequest{Transition: impact.IssueTransition,
			IssuedCurrency: get(r, "currency_code"), IssuedAmount: get(r, "amount"), BillingReference: get(r, "billing_reference")}}
		parts := strings.Split(get(r, "credit_line"), "/")
		if len(parts) != 6 || parts[0] != "customers" || parts[2] != "contracts" || parts[4] != "creditLines" ||
			parts[1] == "" || parts[3] == "" || parts[5] == "" {
			problems = append(problems, fmt.Sprintf("row %d, column credit_line: %q is not customers/{customer}/contracts/{contract}/creditLines/{period}", line, get(r, "credit_line")))
		} else {
			is.customer, is.svc, is.period = parts[1], parts[3], parts[5]
		}
		if d, err := impact.ParseDecimal(is.req.IssuedAmount); err != nil || d.IsNegative() {
			problems = append(problems, fmt.Sprintf("row %d, column amount: %q is not a plain decimal ≥ 0", line, is.req.IssuedAmount))
		} else if _, err := impact.ToMinor(is.req.IssuedCurrency, d); err != nil {
			col := "amount"
			if _, ok := impact.MinorUnits(is.req.IssuedCurrency); !ok {
				col = "currency_code"
			}
			problems = append(problems, fmt.Sprintf("row %d, column %s: %v", line, col, err))
		}
		if is.req.BillingReference == "" {
			problems = append(problems, fmt.Sprintf("row %d, column billing_reference: is required", line))
		}
		h := sha256.Sum256([]byte(get(r, "credit_line") + "\x00" + is.req.IssuedCurrency + "\x00" + is.req.IssuedAmount + "\x00" + is.req.BillingReference))
		is.req.RequestID = "issue-credits-" + hex.EncodeToString(h[:16])
		issues = append(issues, is)
	}
	if len(problems) > 0 {
		return &invalidInput{problems: problems}
	}

	// One issue: through the API or on the database; the line as it is after.
	var do func(ctx context.Context, is issue) (*impact.CreditLine, *impactv1.CreditLine, error)
	ctx := c.ctx
	if *addr != "" {
		conn, cctx, err := dialServer(c.ctx, *addr, *token, *caFile)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx = cctx
		cl := impactv1.NewLedgerServiceClient(conn)
		do = func(ctx context.Context, is issue) (*impact.CreditLine, *impactv1.CreditLine, error) {
			p, err := cl.IssueCredit(ctx, &impactv1.IssueCreditRequest{Name: impact.CreditLineName(is.customer, is.svc, is.period),
				RequestId: is.req.RequestID, BillingReference: is.req.BillingReference,
				IssuedAmount: &impactv1.Money{CurrencyCode: is.req.IssuedCurrency, Amount: is.req.IssuedAmount}})
			return nil, p, err
		}
	} else {
		db, err := store.Open(c.ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		do = func(ctx context.Context, is issue) (*impact.CreditLine, *impactv1.CreditLine, error) {
			l, err := db.TransitionCreditLine(ctx, is.customer, is.svc, is.period, is.req)
			return l, nil, err
		}
	}
	var failed, differ []string
	done := 0
	for _, is := range issues {
		l, p, err := do(ctx, is)
		if err != nil {
			failed = append(failed, fmt.Sprintf("row %d: %v", is.line, err))
			continue
		}
		done++
		name, cur := impact.CreditLineName(is.customer, is.svc, is.period), ""
		var computed, issued string
		var key string
		if l != nil {
			cur, computed, issued = l.Currency, impact.FormatMinor(l.Currency, l.Amount), impact.FormatMinor(l.Currency, l.IssuedAmount)
			key = impact.CreditNoteKey(l)
		} else {
			cur, computed, issued = p.GetAmount().GetCurrencyCode(), p.GetAmount().GetAmount(), p.GetIssuedAmount().GetAmount()
			a, _ := impact.ParseDecimal(computed)
			m, _ := impact.ToMinor(cur, a)
			key = impact.CreditNoteKey(&impact.CreditLine{Name: name, Currency: cur, Amount: m})
		}
		if computed != issued {
			differ = append(differ, fmt.Sprintf("%s: computed %s %s, issued %s %s (%s)", name, cur, computed, cur, issued, is.req.BillingReference))
		}
		if is.key != "" && is.key != key {
			differ = append(differ, fmt.Sprintf("%s: idempotency_key %s is not the line's (%s): its amount changed after the export", name, is.key, key))
		}
	}
	fmt.Fprintf(c.stdout, "issued %d credit line(s)\n", done)
	if len(differ) > 0 {
		fmt.Fprintf(c.stdout, "%d difference(s) between computed and issued:\n", len(differ))
		for _, d := range differ {
			fmt.Fprintln(c.stdout, "  "+d)
		}
	}
	for _, f := range failed {
		fmt.Fprintln(c.stderr, f)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d row(s) not issued", len(failed))
	}
	return nil
}
