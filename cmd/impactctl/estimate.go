package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

const estimateUsage = `Usage: impactctl estimate [flags] FILE.json

Estimates the scenario in FILE.json ("-" reads stdin): the proto3 JSON of
impact.v1.EstimateRequest, as POST /v1/scenarios:estimate takes it (see
examples/seed-outage.json). Unknown fields are errors, as in the API.

Without --server the scenario is estimated offline by the same engine and
limits as impactd; with --server HOST:PORT it is sent to impactd over gRPC.

The output is a table per incident (each affected customer's lost revenue
gross and net, recovery cost, SLA credits and churn exposure; totals per
currency), then the SLA statements. --json prints instead exactly the JSON
the API returns.

An invalid scenario exits 3 and prints one line per problem, e.g.
  scenario.incidents[0].windows[3].end_time: must be after start_time
`

func runEstimate(c *cli, args []string) error {
	f := c.flags("estimate", estimateUsage)
	asJSON := f.bool("json", "print the proto3 JSON of the EstimateResponse instead of tables")
	addr := f.string("server", "", "impactd gRPC address HOST:PORT; empty estimates offline")
	token := f.string("token", "", "bearer token sent to --server")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	data, err := readInput(c, pos[0])
	if err != nil {
		return err
	}
	req := &impactv1.EstimateRequest{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, req); err != nil {
		return &invalidInput{problems: []string{fmt.Sprintf("%s: %v", pos[0], err)}}
	}

	var resp *impactv1.EstimateResponse
	if *addr == "" {
		resp, err = estimateOffline(req)
	} else {
		resp, err = estimateRemote(c, *addr, *token, *caFile, req)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		b, err := server.JSONOptions.Marshal.Marshal(resp)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		return err
	}
	return printEstimate(c.stdout, resp)
}

func readInput(c *cli, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(c.stdin)
	}
	return os.ReadFile(name)
}

// estimateOffline does what EstimatorService.Estimate does, in process.
func estimateOffline(req *impactv1.EstimateRequest) (*impactv1.EstimateResponse, error) {
	if req.GetScenario() == nil {
		return nil, &invalidInput{problems: []string{"scenario: is required"}}
	}
	sc, err := server.ScenarioFromProto(req.GetScenario())
	if err != nil {
		return nil, scenarioProblems(err)
	}
	est, err := impact.EstimateScenario(sc, impact.DefaultLimits())
	if err != nil {
		return nil, scenarioProblems(err)
	}
	return server.EstimateToProto(est), nil
}

// scenarioProblems turns the engine's EINVALID into one problem per
// violation, with paths of the request as the API reports them.
func scenarioProblems(err error) error { return problems(err, "scenario") }

// problems turns an EINVALID error into one problem per violation, each
// field path under root when root is set; other errors pass through.
func problems(err error, root string) error {
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID {
		return err
	}
	ii := &invalidInput{}
	for _, v := range e.Violations {
		field := v.Field
		if root != "" && field != "" {
			field = root + "." + field
		} else if field == "" {
			field = root
		}
		ii.problems = append(ii.problems, field+": "+v.Description)
	}
	if len(ii.problems) == 0 {
		ii.problems = []string{root + ": " + e.Message}
	}
	return ii
}

func estimateRemote(c *cli, addr, token, caFile string, req *impactv1.EstimateRequest) (*impactv1.EstimateResponse, error) {
	conn, ctx, err := dialServer(c.ctx, addr, token, caFile)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := impactv1.NewEstimatorServiceClient(conn).Estimate(ctx, req)
	if err == nil {
		return resp, nil
	}
	return nil, remoteError(addr, err)
}

// remoteError is err of a call to --server addr: INVALID_ARGUMENT as the
// usage problems it names (one per field violation), anything else with
// its code.
func remoteError(addr string, err error) error {
	st := status.Convert(err)
	if st.Code() == codes.InvalidArgument {
		ii := &invalidInput{}
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					ii.problems = append(ii.problems, v.GetField()+": "+v.GetDescription())
				}
			}
		}
		if len(ii.problems) == 0 {
			ii.problems = []string{st.Message()}
		}
		return ii
	}
	return fmt.Errorf("--server %s: %s: %s", addr, st.Code(), st.Message())
}

// money spells an amount with its currency first ("USD 1234.57"), so that
// columns mixing currencies (recovery is in the incident's currency) stay
// unambiguous.
func money(m *impactv1.Money) string {
	if m == nil {
		return "-"
	}
	return m.GetCurrencyCode() + " " + m.GetAmount()
}

// printEstimate writes the human-readable form of an estimate.
func printEstimate(w io.Writer, r *impactv1.EstimateResponse) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")) }
	for _, inc := range r.GetIncidents() {
		fmt.Fprintf(tw, "Incident %s\n\n", inc.GetIncidentId())
		row("  CUSTOMER", "LOST GROSS", "LOST NET", "RECOVERY", "SLA CREDITS", "CHURN EXPOSURE")
		for _, ce := range inc.GetCustomers() {
			credits := make([]string, 0, len(ce.GetSlaCredits()))
			for _, a := range ce.GetSlaCredits() {
				credits = append(credits, money(a.GetCredit())+" ("+a.GetService()+")")
			}
			if len(credits) == 0 {
				credits = append(credits, "-")
			}
			row("  "+ce.GetCustomerId(), money(ce.GetLostRevenue().GetGross()), money(ce.GetLostRevenue().GetNet()),
				money(ce.GetRecoveryCost()), strings.Join(credits, ", "), money(ce.GetChurnExposure()))
		}
		fmt.Fprintln(tw)
		row("  TOTALS", "LOST GROSS", "LOST NET", "RECOVERY", "SLA CREDITS", "CHURN EXPOSURE")
		totals := inc.GetTotals()
		if rt := inc.GetReportingTotals(); rt != nil {
			totals = append(totals[:len(totals):len(totals)], rt)
		}
		for i, t := range totals {
			label := "  " + t.GetCurrencyCode()
			if i == len(inc.GetTotals()) {
				label += " (reporting)"
			}
			row(label, t.GetLostRevenueGross(), t.GetLostRevenueNet(), t.GetRecoveryCost(), t.GetSlaCredits(), t.GetChurnExposure())
		}
		fmt.Fprintln(tw)
	}
	if len(r.GetSlaStatements()) > 0 {
		fmt.Fprint(tw, "SLA statements\n\n")
		row("  CUSTOMER", "SERVICE", "PERIOD", "UPTIME %", "DOWNTIME S", "CREDIT %", "FEE", "CREDIT", "")
		for _, s := range r.GetSlaStatements() {
			period := s.GetPeriodStart().AsTime().Format("2006-01-02T15:04Z07:00") + " – " +
				s.GetPeriodEnd().AsTime().Format("2006-01-02T15:04Z07:00")
			note := ""
			if s.GetBelowMinimum() {
				note = "below minimum: computed " + money(s.GetComputedCredit())
			}
			row("  "+s.GetCustomerId(), s.GetService(), period, s.GetUptimePercent(), s.GetDowntimeSeconds(),
				s.GetCreditPercent(), money(s.GetFee()), money(s.GetCreditAmount()), note)
		}
	}
	return tw.Flush()
}
