package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const simulateUsage = `Usage: impactctl simulate [flags]

What would an outage cost? Adds one hypothetical outage window
[--start, --start + duration) to every selected contract's service, for
each --duration, and prints per customer the lost revenue, churn exposure
and the marginal SLA credit (the statement's credit with the outage and
every stored window, minus with the stored windows alone), totals per
currency and the --top customers. Nothing is written. The figures are the
engine's: the same outage stored as an incident estimates to the same.

Selection (all given criteria must hold; none selects every contract):
  --labels k=v,k=v   the contract's labels, or its customer's for a key the
                     contract does not carry
  --customer ID      contracts of this customer (repeatable)
  --service NAME     contracts of this service (repeatable)

Directly on --db, or through impactd with --server HOST:PORT (a viewer's
token in --token or IMPACTCTL_TOKEN). --json prints the API's JSON
(SimulateOutageResponse); --csv streams one row per customer and duration:
every customer on --db, the --top ones (at most 10000) through --server.

  impactctl simulate --labels region=eu-west-1 --start 2025-07-14T14:00:00Z --duration 30m,2h,4h
`

func runSimulate(c *cli, args []string) error {
	f := c.flags("simulate", simulateUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT; empty reads --db directly")
	token := f.string("token", "", "bearer token sent to --server")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	labels := f.string("labels", "", "select contracts by labels, k=v[,k=v...]")
	var customers, services, fx stringList
	f.fs.Var(&customers, "customer", "select this customer's contracts (repeatable)")
	f.fs.Var(&services, "service", "select contracts of this service (repeatable)")
	start := f.string("start", "", "start of the outage, RFC 3339 (default now)")
	durs := f.string("duration", "1h", "outage durations, comma-separated Go durations (30m,2h,4h), at most 10")
	fraction := f.string("fraction", "", "impact fraction in (0, 1] (default 1)")
	cause := f.string("cause", "", "cause of the outage: UNKNOWN (default), POWER_FAILURE, NETWORK_FAILURE, …")
	top := f.string("top", "100", "customers listed per duration, at most 10000")
	reporting := f.string("reporting-currency", "", "ISO 4217 currency of the reporting totals and of the ranking")
	f.fs.Var(&fx, "fx-rate", "FROM:TO=RATE, a rate into the reporting currency (repeatable)")
	asJSON := f.bool("json", "print the proto3 JSON of SimulateOutageResponse")
	asCSV := f.bool("csv", "stream one CSV row per customer and duration")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return usagef("simulate", "--json and --csv exclude each other")
	}
	req := &impactv1.SimulateOutageRequest{Selector: &impactv1.ContractSelector{CustomerIds: customers, Services: services},
		ImpactFraction: *fraction, ReportingCurrency: *reporting}
	if *labels != "" {
		m, err := parseLabels(strings.ReplaceAll(*labels, ",", ";"))
		if err != nil {
			return &invalidInput{problems: []string{"--labels: " + err.Error()}}
		}
		req.Selector.Labels = m
	}
	st := time.Now() // the operator's "now": impactctl is its own process
	if *start != "" {
		t, err := time.Parse(time.RFC3339Nano, *start)
		if err != nil {
			return usagef("simulate", "--start %q is not an RFC 3339 instant", *start)
		}
		st = t
	}
	req.StartTime = timestamppb.New(st)
	for _, s := range strings.Split(*durs, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return usagef("simulate", "--duration %q: %v", s, err)
		}
		req.Durations = append(req.Durations, durationpb.New(d))
	}
	if *cause != "" {
		v, ok := impactv1.Incident_Cause_value[strings.ToUpper(*cause)]
		if !ok || v == 0 {
			return usagef("simulate", "--cause %q is not a cause", *cause)
		}
		req.Cause = impactv1.Incident_Cause(v)
	}
	n, err := strconv.Atoi(*top)
	if err != nil {
		return usagef("simulate", "--top %q is not a number", *top)
	}
	req.TopN = int32(n)
	for _, r := range fx {
		pair, rate, ok := strings.Cut(r, "=")
		from, to, ok2 := strings.Cut(pair, ":")
		if !ok || !ok2 {
			return usagef("simulate", "--fx-rate %q: want FROM:TO=RATE", r)
		}
		req.FxRates = append(req.FxRates, &impactv1.FxRate{FromCurrency: from, ToCurrency: to, Rate: rate})
	}

	var out *csv.Writer
	if *asCSV {
		out = csv.NewWriter(c.stdout)
		if err := out.Write([]string{"duration", "customer_id", "currency_code", "lost_revenue_gross", "lost_revenue_net",
			"lost_revenue_recaptured", "churn_exposure", "marginal_credit", "marginal_credits"}); err != nil {
			return err
		}
	}
	var resp *impactv1.SimulateOutageResponse
	if *addr == "" {
		resp, err = simulateDB(c, *dsn, req, out)
	} else {
		resp, err = simulateRemote(c, *addr, *token, *caFile, req)
		if err == nil && out != nil {
			for _, r := range resp.GetResults() {
				for _, cu := range r.GetTop() {
					if err := out.Write(simulatedRow(r.GetDuration().AsDuration(), cu)); err != nil {
						return err
					}
				}
			}
		}
	}
	if err != nil {
		return err
	}
	switch {
	case out != nil:
		out.Flush()
		return out.Error()
	case *asJSON:
		b, err := server.JSONOptions.Marshal.Marshal(resp)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	return printSimulation(c.stdout, st, resp)
}

// simulateDB runs the simulation in process on --db, with the server's
// code; with out it writes every customer as its chunk is done.
func simulateDB(c *cli, dsn string, req *impactv1.SimulateOutageRequest, out *csv.Writer) (*impactv1.SimulateOutageResponse, error) {
	sim, err := server.SimulationFromProto(req)
	if err != nil {
		return nil, problems(err, "")
	}
	db, err := store.Open(c.ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var each func(int, []impact.SimulatedCustomer) error
	if out != nil {
		each = func(i int, cs []impact.SimulatedCustomer) error {
			for j := range cs {
				if err := out.Write(simulatedRow(sim.Durations[i], server.SimulatedCustomerToProto(&cs[j]))); err != nil {
					return err
				}
			}
			out.Flush()
			return out.Error()
		}
	}
	rs, err := estimating.Simulate(c.ctx, db, sim, estimating.Options{}, each)
	if err != nil {
		return nil, problems(err, "")
	}
	return server.SimulationToProto(rs), nil
}

func simulateRemote(c *cli, addr, token, caFile string, req *impactv1.SimulateOutageRequest) (*impactv1.SimulateOutageResponse, error) {
	conn, ctx, err := dialServer(c.ctx, addr, token, caFile)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := impactv1.NewExposureServiceClient(conn).SimulateOutage(ctx, req)
	if err == nil {
		return resp, nil
	}
	return nil, remoteError(addr, err)
}

// simulatedRow is one CSV row; marginal_credits lists
// service@period:before>after.
func simulatedRow(d time.Duration, c *impactv1.SimulatedCustomer) []string {
	var parts []string
	for _, m := range c.GetMarginalCredits() {
		parts = append(parts, m.GetService()+"@"+m.GetPeriod()+":"+m.GetCreditBefore().GetAmount()+">"+m.GetCreditAfter().GetAmount())
	}
	lr := c.GetLostRevenue()
	return []string{d.String(), c.GetCustomerId(), lr.GetGross().GetCurrencyCode(), lr.GetGross().GetAmount(), lr.GetNet().GetAmount(),
		lr.GetRecaptured().GetAmount(), c.GetChurnExposure().GetAmount(), c.GetMarginalCredit().GetAmount(), strings.Join(parts, ";")}
}

// printSimulation writes one table per duration: totals, then the top
// customers.
func printSimulation(w io.Writer, start time.Time, r *impactv1.SimulateOutageResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	for _, res := range r.GetResults() {
		fmt.Fprintf(tw, "Outage of %s from %s: %d contracts of %d customers\n\n", res.GetDuration().AsDuration(),
			start.UTC().Format(time.RFC3339), res.GetSelectedContracts(), res.GetSelectedCustomers())
		row("  TOTALS", "LOST GROSS", "LOST NET", "RECAPTURED", "CHURN EXPOSURE", "MARGINAL CREDIT")
		totals := res.GetTotals()
		if rt := res.GetReportingTotals(); rt != nil {
			totals = append(totals[:len(totals):len(totals)], rt)
		}
		for i, t := range totals {
			label := "  " + t.GetCurrencyCode()
			if i == len(res.GetTotals()) {
				label += " (reporting)"
			}
			row(label, t.GetLostRevenueGross(), t.GetLostRevenueNet(), t.GetLostRevenueRecaptured(), t.GetChurnExposure(), t.GetMarginalCredit())
		}
		fmt.Fprintln(tw)
		if len(res.GetTop()) > 0 {
			row("  CUSTOMER", "LOST GROSS", "LOST NET", "CHURN EXPOSURE", "MARGINAL CREDIT", "CREDITS (SERVICE PERIOD: BEFORE → AFTER)")
			for _, cu := range res.GetTop() {
				var parts []string
				for _, m := range cu.GetMarginalCredits() {
					parts = append(parts, fmt.Sprintf("%s %s: %s → %s", m.GetService(), m.GetPeriod(), m.GetCreditBefore().GetAmount(), m.GetCreditAfter().GetAmount()))
				}
				if len(parts) == 0 {
					parts = []string{"-"}
				}
				row("  "+cu.GetCustomerId(), money(cu.GetLostRevenue().GetGross()), money(cu.GetLostRevenue().GetNet()),
					money(cu.GetChurnExposure()), money(cu.GetMarginalCredit()), strings.Join(parts, ", "))
			}
			fmt.Fprintln(tw)
		}
	}
	return tw.Flush()
}
