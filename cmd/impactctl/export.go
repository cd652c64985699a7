package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const exportUsage = `Usage: impactctl export estimates [flags]

Writes the latest stored estimate of every incident in --db to stdout, by
ascending incident id, streamed: incidents are read a page at a time and each
estimate is written before the next is read, so memory stays bounded by one
page and one incident's estimate however many rows the export has.

--format csv: one row per (incident, affected customer), with a header row:
  incident_id, revision, compute_time, model_version, inputs_digest,
  customer_id, currency_code, impact_seconds, lost_revenue_gross,
  lost_revenue_net, lost_revenue_recaptured, recovery_cost,
  recovery_currency_code, sla_credits, churn_exposure
Amounts are exact decimal strings with their currency's minor-unit digits;
sla_credits sums the credits attributed to the incident (customer currency);
recovery_cost is empty when the incident has no recovery currency.

--format json: a JSON array of IncidentEstimate objects, each exactly as
GET /v1/incidents/{id}/estimate returns it.

--since and --until (RFC 3339) keep the estimates computed in
[since, until). Only the latest revision of each incident is exported: the
store offers no query over all revisions.
`

func runExport(c *cli, args []string) error {
	f := c.flags("export", exportUsage)
	dsn := f.db()
	format := f.string("format", "csv", "output format: csv or json")
	sinceS := f.string("since", "", "keep estimates computed at or after this RFC 3339 time")
	untilS := f.string("until", "", "keep estimates computed before this RFC 3339 time")
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	if pos[0] != "estimates" {
		return usagef("export", "unknown export %q: only \"estimates\" can be exported", pos[0])
	}
	if *format != "csv" && *format != "json" {
		return usagef("export", "--format %q: want csv or json", *format)
	}
	since, err := parseTimeFlag("since", *sinceS)
	if err != nil {
		return err
	}
	until, err := parseTimeFlag("until", *untilS)
	if err != nil {
		return err
	}

	db, err := store.Open(c.ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	bw := bufio.NewWriter(c.stdout)
	var w estimateWriter
	if *format == "csv" {
		w = newCSVEstimates(bw)
	} else {
		w = &jsonEstimates{w: bw}
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
			e, err := db.GetEstimate(c.ctx, page.Items[i].ID, 0)
			if impact.ErrorCode(err) == impact.ENOTFOUND {
				continue // never estimated
			}
			if err != nil {
				return err
			}
			if (!since.IsZero() && e.ComputeTime.Before(since)) || (!until.IsZero() && !e.ComputeTime.Before(until)) {
				continue
			}
			if err := w.write(e); err != nil {
				return err
			}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	if err := w.end(); err != nil {
		return err
	}
	return bw.Flush()
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
	write(*impact.StoredEstimate) error
	end() error
}

type csvEstimates struct{ w *csv.Writer }

func newCSVEstimates(w io.Writer) *csvEstimates { return &csvEstimates{w: csv.NewWriter(w)} }

func (x *csvEstimates) begin() error {
	return x.w.Write([]string{"incident_id", "revision", "compute_time", "model_version", "inputs_digest",
		"customer_id", "currency_code", "impact_seconds", "lost_revenue_gross", "lost_revenue_net",
		"lost_revenue_recaptured", "recovery_cost", "recovery_currency_code", "sla_credits", "churn_exposure"})
}

func (x *csvEstimates) write(e *impact.StoredEstimate) error {
	for i := range e.Customers {
		ce := &e.Customers[i]
		cur := ce.LostRevenue.Gross.Currency
		credits := decimal.Zero
		for _, a := range ce.SLACredits {
			if a.Credit.Currency != cur {
				return fmt.Errorf("incident %s, customer %s: a credit in %s, not the customer's %s",
					e.IncidentID, ce.CustomerID, a.Credit.Currency, cur)
			}
			credits = credits.Add(a.Credit.Amount)
		}
		var recovery, recoveryCur string
		if ce.RecoveryCost != nil {
			recovery, recoveryCur = ce.RecoveryCost.String(), ce.RecoveryCost.Currency
		}
		if err := x.w.Write([]string{e.IncidentID, strconv.FormatInt(e.Revision, 10),
			e.ComputeTime.UTC().Format(time.RFC3339Nano), e.ModelVersion, e.InputsDigest,
			ce.CustomerID, cur, impact.FormatDecimal(ce.ImpactSeconds),
			ce.LostRevenue.Gross.String(), ce.LostRevenue.Net.String(), ce.LostRevenue.Recaptured.String(),
			recovery, recoveryCur, impact.FormatAmount(cur, credits), ce.ChurnExposure.String()}); err != nil {
			return err
		}
	}
	// Flushed per estimate: csv.Writer buffers, and a write error (a
	// closed pipe) should stop the export early.
	x.w.Flush()
	return x.w.Error()
}

func (x *csvEstimates) end() error { x.w.Flush(); return x.w.Error() }

// jsonEstimates writes a JSON array one element at a time.
type jsonEstimates struct {
	w *bufio.Writer
	n int
}

func (x *jsonEstimates) begin() error { _, err := x.w.WriteString("["); return err }

func (x *jsonEstimates) write(e *impact.StoredEstimate) error {
	b, err := server.JSONOptions.Marshal.Marshal(server.StoredEstimateToProto(e))
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

func (x *jsonEstimates) end() error {
	end := "\n]\n"
	if x.n == 0 {
		end = "]\n"
	}
	_, err := x.w.WriteString(end)
	return err
}
