package main

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/examples"
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const demoUsage = `Usage: impactctl demo [flags]

Loads the story of examples/seed-outage.json into --db: a power failure in
Frankfurt zone B on 2025-07-14 hits an online shop (Lindenhof, EUR, weekly
revenue profile), a bank (Northwind, USD, monthly SLA) and a data-centre
tenant (Polar Compute, EUR, quarterly SLA), with their baselines, contracts
and the incident's recovery costs. It then computes and stores the
incident's estimate, so that every endpoint of impactd answers something
real: customers, contracts, incidents, windows, incidents/…/estimate and the
SLA statements.

The scenario's reporting currency and FX rates (USD, from EUR) become the
stored reporting settings when those name no reporting currency yet; the
estimate uses the stored settings.

Running it again changes nothing, not even a new estimate revision: every
write carries a fixed request id, which the store treats as a retry, and an
estimate computed from the same inputs is the revision already stored.
`

func runDemo(c *cli, args []string) error {
	f := c.flags("demo", demoUsage)
	dsn := f.db()
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(examples.SeedOutage, req); err != nil {
		return fmt.Errorf("embedded demo data: %w", err)
	}
	sc, err := server.ScenarioFromProto(req.GetScenario())
	if err != nil {
		return fmt.Errorf("embedded demo data: %w", err)
	}
	db, err := store.Open(c.ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := impact.WithActor(c.ctx, "impactctl demo")

	// Fixed request ids make a second run a no-op for the store.
	for i := range sc.Customers {
		cust := sc.Customers[i]
		contracts := cust.Contracts
		cust.Contracts = nil
		if _, err := db.CreateCustomer(ctx, &cust, "impactctl-demo-customer-"+cust.ID); err != nil {
			return fmt.Errorf("customer %s: %w", cust.ID, err)
		}
		for j := range contracts {
			k := &contracts[j]
			if _, err := db.CreateContract(ctx, cust.ID, k, "impactctl-demo-contract-"+cust.ID+"-"+k.Service); err != nil {
				return fmt.Errorf("contract %s/%s: %w", cust.ID, k.Service, err)
			}
		}
	}
	settings, err := db.GetReportingSettings(ctx)
	if err != nil {
		return err
	}
	if settings.ReportingCurrency == "" {
		if _, err := db.UpdateReportingSettings(ctx, &impact.ReportingSettings{ReportingCurrency: sc.ReportingCurrency,
			FXRates: sc.FXRates}, nil, settings.Etag); err != nil {
			return fmt.Errorf("reporting settings: %w", err)
		}
	}
	for i := range sc.Incidents {
		in := sc.Incidents[i]
		windows := in.Windows
		in.Windows = nil
		if _, err := db.CreateIncident(ctx, &in, "impactctl-demo-incident-"+in.ID); err != nil {
			return fmt.Errorf("incident %s: %w", in.ID, err)
		}
		ws := make([]impact.StoredWindow, len(windows))
		for j, w := range windows {
			ws[j] = impact.StoredWindow{ID: fmt.Sprintf("w%d", j+1), OutageWindow: w}
		}
		if _, err := db.BatchCreateWindows(ctx, in.ID, ws, "impactctl-demo-windows-"+in.ID); err != nil {
			return fmt.Errorf("windows of incident %s: %w", in.ID, err)
		}
		// The stored estimate is computed exactly as POST
		// /v1/incidents/…:estimate computes it without reporting options:
		// by the application, with the stored reporting settings.
		est, _, err := estimating.New(db, estimating.Options{}).Estimate(ctx, in.ID, estimating.Reporting{})
		if err != nil {
			return fmt.Errorf("estimating incident %s: %w", in.ID, err)
		}
		fmt.Fprintf(c.stdout, "incident %s: %d window(s), estimate revision %d\n", in.ID, len(ws), est.Revision)
	}
	// The DSN is not echoed: a postgres:// URL may hold a password.
	fmt.Fprintf(c.stdout, "loaded %d customers and %d incident(s); try: impactctl export estimates --format csv\n",
		len(sc.Customers), len(sc.Incidents))
	return nil
}
