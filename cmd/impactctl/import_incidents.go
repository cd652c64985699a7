package main

import (
	"fmt"
	"strings"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// Incidents, with their recovery items in one cell.

var incidentColumns = []csvColumn{
	{"incident_id", true}, {"title", false}, {"cause", false}, {"recovery_currency", false},
	{"allocation", false}, {"recovery_items", false},
}

type incidentImport struct{ incs []impact.Incident }

func (*incidentImport) columns() (required, optional []string) { return splitColumns(incidentColumns) }

// parseRecoveryItems reads "labor:sre:3.5:142.17;expense:hotel:2:180.00@acme":
// labor:ROLE:HOURS:HOURLY_RATE[:ENGAGEMENT] and
// expense:DESCRIPTION:QUANTITY:UNIT_COST, each optionally followed by
// @CUSTOMER_ID (the item is that customer's alone). Empty parts take the
// API's defaults (quantity and engagement 1).
func parseRecoveryItems(s string) ([]*impactv1.RecoveryItem, error) {
	var items []*impactv1.RecoveryItem
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		body, cust, _ := strings.Cut(part, "@")
		f := strings.Split(body, ":")
		item := &impactv1.RecoveryItem{CustomerId: cust}
		switch {
		case f[0] == "labor" && (len(f) == 4 || len(f) == 5):
			l := &impactv1.LaborItem{Role: f[1], Hours: f[2], HourlyRate: f[3]}
			if len(f) == 5 {
				l.Engagement = f[4]
			}
			item.Kind = &impactv1.RecoveryItem_Labor{Labor: l}
		case f[0] == "expense" && len(f) == 4:
			item.Kind = &impactv1.RecoveryItem_Expense{Expense: &impactv1.ExpenseItem{Description: f[1], Quantity: f[2], UnitCost: f[3]}}
		default:
			return nil, fmt.Errorf("item %q: want labor:ROLE:HOURS:HOURLY_RATE[:ENGAGEMENT] or expense:DESCRIPTION:QUANTITY:UNIT_COST, "+
				"optionally followed by @CUSTOMER_ID", part)
		}
		items = append(items, item)
	}
	return items, nil
}

// formatRecoveryItems writes items as parseRecoveryItems reads them.
func formatRecoveryItems(items []impact.RecoveryItem) string {
	parts := make([]string, len(items))
	for i, r := range items {
		switch {
		case r.Labor != nil:
			parts[i] = "labor:" + r.Labor.Role + ":" + r.Labor.Hours + ":" + r.Labor.HourlyRate
			if r.Labor.Engagement != "" {
				parts[i] += ":" + r.Labor.Engagement
			}
		case r.Expense != nil:
			parts[i] = "expense:" + r.Expense.Description + ":" + r.Expense.Quantity + ":" + r.Expense.UnitCost
		}
		if r.CustomerID != "" {
			parts[i] += "@" + r.CustomerID
		}
	}
	return strings.Join(parts, ";")
}

func (x *incidentImport) check(im *importRun) error {
	t := im.t
	for _, r := range t.rows {
		p := &impactv1.Incident{
			IncidentId:       t.get(r, "incident_id"),
			Title:            t.get(r, "title"),
			RecoveryCurrency: t.get(r, "recovery_currency"),
			Cause:            enumValue[impactv1.Incident_Cause](im, r, "cause", impactv1.Incident_Cause_value),
			Allocation:       enumValue[impactv1.Incident_Allocation](im, r, "allocation", impactv1.Incident_Allocation_value),
		}
		items, err := parseRecoveryItems(t.get(r, "recovery_items"))
		if err != nil {
			im.fail(r, "recovery_items", "%v", err)
		}
		p.RecoveryItems = items
		sc, err := server.ScenarioFromProto(&impactv1.Scenario{Incidents: []*impactv1.Incident{p}})
		if err != nil {
			return err // every enum was parsed from its name: a bug, not input
		}
		x.incs = append(x.incs, sc.Incidents[0])
		if id := p.IncidentId; id != "" {
			im.again(r, "incident_id", "i\x00"+id, fmt.Sprintf("incident %q", id))
		}
	}
	// Checked as CreateIncident checks one (impact.ValidateIncident), and
	// each customer its recovery items name must be stored.
	check := make([]impact.Incident, len(x.incs))
	exists := map[string]bool{}
	for i := range x.incs {
		in := x.incs[i]
		r := t.rows[i]
		check[i] = in
		check[i].Windows = nil
		seen := map[string]bool{}
		for _, item := range in.RecoveryItems {
			id := item.CustomerID
			if id == "" || seen[id] {
				continue
			}
			seen[id] = true
			ok, known := exists[id]
			if !known && !strings.Contains(id, "/") {
				_, _, err := im.target.getCustomer(im.ctx, id)
				if internal(err) {
					return err
				}
				ok = err == nil
				exists[id] = ok
			}
			if !ok {
				im.fail(r, "recovery_items", "no customer %q in the database", id)
			}
		}
		if in.ID == "" || strings.Contains(in.ID, "/") {
			continue // the engine reports the id
		}
		stored, err := im.target.getIncident(im.ctx, in.ID)
		switch {
		case internal(err):
			return err
		case err != nil: // not there: to be created
		case sameIncident(stored, &x.incs[i]):
			im.present[i] = true
		default:
			im.fail(r, "incident_id", "incident %q already exists with other values", in.ID)
		}
	}
	// Each incident as CreateIncident checks it (impact.ValidateIncident).
	lim := importLimits(len(t.rows))
	for i := range check {
		for _, v := range impact.ValidateIncident(&check[i], lim) {
			col := column(v.Path)
			if col == "id" {
				col = "incident_id"
			}
			im.engineFail(t.rows[i], col, within(v.Path, v.Description))
		}
	}
	return nil
}

// write creates the incidents one call each: a file of incidents is short
// beside its windows (which BatchCreateIncidentWindows writes 10,000 a call).
func (x *incidentImport) write(im *importRun) (int, error) {
	n := 0
	for i := range x.incs {
		if im.present[i] {
			continue
		}
		line := im.t.rows[i].line
		if err := im.target.createIncident(im.ctx, &x.incs[i], im.requestID(fmt.Sprintf("row-%d", line))); err != nil {
			return n, fmt.Errorf("row %d: %w (rows before it were imported; run the same file again)", line, err)
		}
		n++
	}
	return n, nil
}
