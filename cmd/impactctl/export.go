package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shopspring/decimal"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const exportUsage = `Usage: impactctl export customers|contracts|windows|estimates|credit-notes [flags]

Writes stored resources to stdout (or to -o FILE, which appears complete or
not at all), streamed: the store, or impactd's API with --server, is read a
page of 1,000 at a time and each page is written before the next is read, so
memory stays bounded however many rows the export has.

customers, contracts, windows (from --db, or --server HOST:PORT with a
viewer's token from --token or IMPACTCTL_TOKEN; --tls-ca for TLS):

  --format csv writes exactly the file "impactctl import" reads: the same
  header and columns (see "impactctl import --help"), amounts as the exact
  decimal strings stored, instants in RFC 3339 UTC, tiers as
  "99.99:10;99:30;95:100:inclusive", enums by their API names, and an empty
  cell for a value left to its default. A cell a spreadsheet would run as
  a formula (starting with =, +, -, @, a tab or CR; plain numbers aside)
  or that starts with ' gets a leading ', which import removes again.
  Customers by id, contracts by
  customer and service, windows by incident and window id (--incident ID
  keeps one incident's). A resource with fields that have no column (a
  customer's weekly profile, a contract's maintenance windows, …) is still
  written, and named on stderr: importing the file would not restore them.

  --format json writes a JSON array of the API's resources (Customer,
  Contract, IncidentWindow), each as GET returns it, every field included.

  The spreadsheet round trip, into the same database:
    impactctl export customers -o c.csv
    (edit c.csv)
    impactctl import customers c.csv --update
  With --update, import updates the customers and contracts whose rows were
  edited (only the fields the file has columns for), creates the new rows
  and leaves the others alone; without it, a row whose id is stored with
  other values is refused. Outage windows cannot be changed: delete one
  through the API, then import it (see "impactctl import --help").

estimates (from --db only):

  --format csv: one row per (incident, affected customer), with a header:
    incident_id, revision, compute_time, model_version, inputs_digest,
    customer_id, currency_code, impact_seconds, lost_revenue_gross,
    lost_revenue_net, lost_revenue_recaptured, recovery_cost,
    recovery_currency_code, sla_credits, churn_exposure
  Amounts are exact decimal strings with their currency's minor-unit digits;
  sla_credits sums the credits attributed to the incident (customer
  currency); recovery_cost is empty when the incident has no recovery
  currency. The latest estimate of every incident, by ascending incident id.

  --format json: a JSON array of IncidentEstimate objects, each exactly as
  GET /v1/incidents/{id}/estimate returns it.

  Filters (each RFC 3339; any combination):
    --computed-since, --computed-until  estimates computed in [since, until)
    --outage-since, --outage-until      incidents whose outage (first window
                                        start to last window end) overlaps
                                        [since, until), as recompute selects
    --billing-period YYYY-MM            only the SLA credits of billing periods
                                        starting in that month (in the
                                        contract's time zone): sla_credits sums
                                        those, and customers with none are left
                                        out (json: the customers' credits; the
                                        totals stay the estimate's)
  The old --since and --until are refused: they meant compute time here and
  outage time in recompute; say which. Only the latest revision of each
  incident is exported: the store offers no query over all revisions.

  Memory: --format csv reads one estimate's stored document at a time and
  decodes and writes its customers one at a time, so memory is bounded by
  the largest stored document (about 450 bytes a customer), not by the
  export; --format json decodes one estimate at a time.

credit-notes (from --db, or --server with a viewer's token): the APPROVED
credit lines as credit notes for the billing system. --format csv has the
columns idempotency_key, credit_line, customer_id, contract, period,
currency_code, amount (decimal), amount_minor (integer minor units), memo
(the contract, period and each incident's share) and etag; --format json an
array of the API's CreditNote. The idempotency key is the same on every
export of the same line with the same amount. --filter takes the filter of
ListCreditLines (customer_id = "acme" AND contract = "api", …). After
billing, "impactctl issue-credits" records what was issued.
`

func runExport(c *cli, args []string) (err error) {
	f := c.flags("export", exportUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT: export through the API instead of --db (not estimates)")
	token := f.string("token", "", "bearer token sent to --server (a viewer's)")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	format := f.string("format", "csv", "output format: csv or json")
	// -o has no IMPACTCTL_ variable: where output goes is not an environment setting.
	outFile := f.fs.String("o", "", "write to this `FILE` instead of stdout (created complete or not at all)")
	incident := f.string("incident", "", "windows: export only this incident's")
	sinceS := f.string("since", "", "refused: use --computed-since or --outage-since")
	untilS := f.string("until", "", "refused: use --computed-until or --outage-until")
	compSinceS := f.string("computed-since", "", "estimates: keep those computed at or after this RFC 3339 time")
	compUntilS := f.string("computed-until", "", "estimates: keep those computed before this RFC 3339 time")
	outSinceS := f.string("outage-since", "", "estimates: keep incidents with a window ending after this RFC 3339 time")
	outUntilS := f.string("outage-until", "", "estimates: keep incidents with a window starting before this RFC 3339 time")
	billingS := f.string("billing-period", "", "estimates: only the credits of billing periods starting in this month (YYYY-MM)")
	filter := f.string("filter", "", "credit-notes: a ListCreditLines filter")
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	kind := pos[0]
	switch kind {
	case "customers", "contracts", "windows", "estimates", "credit-notes":
	default:
		return usagef("export", "unknown export %q: want customers, contracts, windows, estimates or credit-notes", kind)
	}
	if *format != "csv" && *format != "json" {
		return usagef("export", "--format %q: want csv or json", *format)
	}
	if *incident != "" && kind != "windows" {
		return usagef("export", "--incident filters windows, not %s", kind)
	}
	if *sinceS != "" || *untilS != "" {
		return usagef("export", "--since and --until are ambiguous (compute time here, outage time in recompute): "+
			"use --computed-since/--computed-until for when the estimates were computed, or --outage-since/--outage-until for when the outage was")
	}
	var ef estimateFilter
	if kind != "estimates" && (*compSinceS != "" || *compUntilS != "" || *outSinceS != "" || *outUntilS != "" || *billingS != "") {
		return usagef("export", "--computed-*, --outage-* and --billing-period filter estimates, not %s", kind)
	}
	for _, x := range []struct {
		name string
		s    string
		dst  *time.Time
	}{{"computed-since", *compSinceS, &ef.computedSince}, {"computed-until", *compUntilS, &ef.computedUntil},
		{"outage-since", *outSinceS, &ef.outageSince}, {"outage-until", *outUntilS, &ef.outageUntil}} {
		if *x.dst, err = parseTimeFlag(x.name, x.s); err != nil {
			return err
		}
	}
	if *billingS != "" {
		m, err := time.Parse("2006-01", *billingS)
		if err != nil {
			return usagef("export", "--billing-period %q: want a month YYYY-MM such as 2025-07", *billingS)
		}
		ef.billing = m.Format("2006-01")
	}
	if kind == "estimates" && *addr != "" {
		return usagef("export", "estimates are exported from --db only, not through --server (check IMPACTCTL_SERVER)")
	}

	if *filter != "" && kind != "credit-notes" {
		return usagef("export", "--filter filters credit-notes, not %s", kind)
	}

	var src resourceSource
	ctx := c.ctx
	var db *store.DB
	var conn *grpc.ClientConn
	if *addr != "" {
		var cctx context.Context
		conn, cctx, err = dialServer(c.ctx, *addr, *token, *caFile)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, src = cctx, newAPISource(*addr, conn)
	} else {
		db, err = store.Open(c.ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		src = dbSource{db}
	}

	out, err := openOutput(c, *outFile)
	if err != nil {
		return err
	}
	defer func() { err = out.close(err) }()
	bw := bufio.NewWriter(out.w)
	if kind == "estimates" {
		err = exportEstimates(c, db, *format, ef, bw)
	} else if kind == "credit-notes" {
		err = exportCreditNotes(ctx, db, conn, *filter, *format, bw)
	} else {
		kinds := map[string]*resourceKind{"customers": &customerKind, "contracts": &contractKind, "windows": &windowKind}
		err = exportResources(ctx, src, kind, *incident, newResourceWriter(kinds[kind], *format, bw, c.stderr))
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// estimateFilter is export estimates' selection.
type estimateFilter struct {
	computedSince, computedUntil time.Time
	outageSince, outageUntil     time.Time
	billing                      string // "2006-01": credits of periods starting in that month
}

func (f *estimateFilter) computed(t time.Time) bool {
	return (f.computedSince.IsZero() || !t.Before(f.computedSince)) && (f.computedUntil.IsZero() || t.Before(f.computedUntil))
}

// credits are the customer's credits the filter keeps.
func (f *estimateFilter) credits(ce *impact.CustomerEstimate) []impact.AttributedCredit {
	if f.billing == "" {
		return ce.SLACredits
	}
	var out []impact.AttributedCredit
	for _, a := range ce.SLACredits {
		if periodMonth(a.PeriodStart) == f.billing {
			out = append(out, a)
		}
	}
	return out
}

// periodMonth is the month a billing period starts in, in its contract's
// time zone: a period starts at midnight on the 1st of a month there,
// which is within 14 hours of that midnight in UTC either way (offsets run
// from -12:00 to +14:00), so 14 hours after the instant is always within
// the same month in UTC.
func periodMonth(start time.Time) string {
	return start.UTC().Add(14 * time.Hour).Format("2006-01")
}

func exportEstimates(c *cli, db *store.DB, format string, f estimateFilter, bw *bufio.Writer) error {
	var w estimateWriter
	if format == "csv" {
		w = newCSVEstimates(bw, &f)
	} else {
		w = &jsonEstimates{jsonArray{w: bw}, &f}
	}
	if err := w.begin(); err != nil {
		return err
	}
	// There is no store query over stored estimates, so the export pages
	// through the incidents and reads each one's latest estimate.
	for token := ""; ; {
		page, err := db.ListIncidents(c.ctx, impact.PageRequest{Size: impact.MaxPageSize, Token: token})
		if err != nil {
			return err
		}
		for i := range page.Items {
			id := page.Items[i].ID
			if !f.outageSince.IsZero() || !f.outageUntil.IsZero() {
				start, end, n, err := db.IncidentSpan(c.ctx, id)
				if err != nil {
					return err
				}
				if n == 0 || (!f.outageSince.IsZero() && !end.After(f.outageSince)) || (!f.outageUntil.IsZero() && !start.Before(f.outageUntil)) {
					continue
				}
			}
			err := w.write(c.ctx, db, id)
			if impact.ErrorCode(err) == impact.ENOTFOUND {
				continue // never estimated
			}
			if err != nil {
				return err
			}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	return w.end()
}

func parseTimeFlag(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("export", "--%s %q: want an RFC 3339 time such as 2025-07-01T00:00:00Z", name, s)
	}
	return t, nil
}

type estimateWriter interface {
	begin() error
	write(ctx context.Context, db *store.DB, incidentID string) error // ENOTFOUND: no estimate
	end() error
}

type csvEstimates struct {
	w *csv.Writer
	f *estimateFilter
}

func newCSVEstimates(w io.Writer, f *estimateFilter) *csvEstimates {
	return &csvEstimates{w: csv.NewWriter(w), f: f}
}

func (x *csvEstimates) begin() error {
	return x.w.Write([]string{"incident_id", "revision", "compute_time", "model_version", "inputs_digest",
		"customer_id", "currency_code", "impact_seconds", "lost_revenue_gross", "lost_revenue_net",
		"lost_revenue_recaptured", "recovery_cost", "recovery_currency_code", "sla_credits", "churn_exposure"})
}

// write streams the customers of the incident's latest estimate out of
// its stored document, decoding one at a time.
func (x *csvEstimates) write(ctx context.Context, db *store.DB, incidentID string) error {
	e, body, err := db.EstimateDocument(ctx, incidentID, 0)
	if err != nil {
		return err
	}
	if !x.f.computed(e.ComputeTime) {
		return nil
	}
	err = eachCustomer(body, func(ce *impact.CustomerEstimate) error {
		cur := ce.LostRevenue.Gross.Currency
		credits := x.f.credits(ce)
		if x.f.billing != "" && len(credits) == 0 {
			return nil
		}
		sum := decimal.Zero
		for _, a := range credits {
			if a.Credit.Currency != cur {
				return fmt.Errorf("incident %s, customer %s: a credit in %s, not the customer's %s",
					incidentID, ce.CustomerID, a.Credit.Currency, cur)
			}
			sum = sum.Add(a.Credit.Amount)
		}
		var recovery, recoveryCur string
		if ce.RecoveryCost != nil {
			recovery, recoveryCur = ce.RecoveryCost.String(), ce.RecoveryCost.Currency
		}
		return x.w.Write(guardRecord([]string{incidentID, strconv.FormatInt(e.Revision, 10),
			e.ComputeTime.UTC().Format(time.RFC3339Nano), e.ModelVersion, e.InputsDigest,
			ce.CustomerID, cur, impact.FormatDecimal(ce.ImpactSeconds),
			ce.LostRevenue.Gross.String(), ce.LostRevenue.Net.String(), ce.LostRevenue.Recaptured.String(),
			recovery, recoveryCur, impact.FormatAmount(cur, sum), ce.ChurnExposure.String()}))
	})
	if err != nil {
		return err
	}
	// Flushed per estimate: csv.Writer buffers, and a write error (a
	// closed pipe) should stop the export early.
	x.w.Flush()
	return x.w.Error()
}

// eachCustomer decodes the Customers array of a stored estimate document
// (impact.IncidentEstimate as the store encodes it) one element at a time.
func eachCustomer(body []byte, fn func(*impact.CustomerEstimate) error) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("stored estimate: not a JSON object (%v)", err)
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return fmt.Errorf("stored estimate: %w", err)
		}
		if key != "Customers" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return fmt.Errorf("stored estimate: %w", err)
			}
			continue
		}
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("stored estimate: %w", err)
		}
		if t == nil {
			continue // no customers
		}
		for dec.More() {
			var ce impact.CustomerEstimate
			if err := dec.Decode(&ce); err != nil {
				return fmt.Errorf("stored estimate: a customer: %w", err)
			}
			if err := fn(&ce); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return fmt.Errorf("stored estimate: %w", err)
		}
	}
	return nil
}

func (x *csvEstimates) end() error { x.w.Flush(); return x.w.Error() }

// jsonArray writes a JSON array of API resources one element at a time.
type jsonArray struct {
	w *bufio.Writer
	n int
}

func (x *jsonArray) begin() error { _, err := x.w.WriteString("["); return err }

func (x *jsonArray) add(m proto.Message) error {
	b, err := server.JSONOptions.Marshal.Marshal(m)
	if err != nil {
		return err
	}
	sep := ",\n"
	if x.n == 0 {
		sep = "\n"
	}
	x.n++
	if _, err := x.w.WriteString(sep); err != nil {
		return err
	}
	_, err = x.w.Write(b)
	return err
}

func (x *jsonArray) end() error {
	end := "\n]\n"
	if x.n == 0 {
		end = "]\n"
	}
	_, err := x.w.WriteString(end)
	return err
}

// jsonEstimates writes the estimates as IncidentEstimate objects.
type jsonEstimates struct {
	jsonArray
	f *estimateFilter
}

func (x *jsonEstimates) write(ctx context.Context, db *store.DB, incidentID string) error {
	e, err := db.GetEstimate(ctx, incidentID, 0)
	if err != nil {
		return err
	}
	if !x.f.computed(e.ComputeTime) {
		return nil
	}
	if x.f.billing != "" {
		kept := e.Customers[:0]
		for i := range e.Customers {
			if cs := x.f.credits(&e.Customers[i]); len(cs) > 0 {
				e.Customers[i].SLACredits = cs
				kept = append(kept, e.Customers[i])
			}
		}
		e.Customers = kept
	}
	return x.add(server.StoredEstimateToProto(e))
}
