package server

import (
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Proto types stop here: the request is mapped into impact types before the
// engine sees it, and the engine's results are mapped back. Semantic checks
// are the engine's; this file only rejects what cannot be represented in the
// domain types at all (enum numbers the API does not define, timestamps
// outside what google.protobuf.Timestamp allows), with paths relative to the
// scenario like the engine's.

// decoder collects the violations found while mapping a scenario.
type decoder struct {
	violations []impact.FieldViolation
}

func (d *decoder) fail(field, format string, args ...any) {
	d.violations = append(d.violations, impact.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// time maps an optional timestamp; nil is the zero time.Time ("unset").
func (d *decoder) time(field string, ts *timestamppb.Timestamp) time.Time {
	t, ok := timeOf(ts)
	if !ok {
		d.fail(field, "is not a valid timestamp")
	}
	return t
}

// timeOf maps an optional timestamp, reporting false when it is invalid.
// Lists that can be long (windows, overrides) call it directly, so that a
// field path is built only for a value that needs one.
func timeOf(ts *timestamppb.Timestamp) (time.Time, bool) {
	if ts == nil {
		return time.Time{}, true
	}
	if ts.CheckValid() != nil {
		return time.Time{}, false
	}
	return ts.AsTime(), true
}

// Field paths are built only for a value that fails: a valid request maps
// without a string operation per field.

// enumField is enumToDomain of the field path+suffix.
func enumField[P, D ~int32](d *decoder, t enumTable[P, D], path, suffix string, p P) D {
	v, ok := t.toDomain(p)
	if !ok {
		d.fail(path+suffix, "has unknown enum value %d", int32(p))
	}
	return v
}

// timeField is time of the field path+suffix.
func (d *decoder) timeField(path, suffix string, ts *timestamppb.Timestamp) time.Time {
	t, ok := timeOf(ts)
	if !ok {
		d.fail(path+suffix, "is not a valid timestamp")
	}
	return t
}

func (d *decoder) labelsField(path string, m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return d.labels(path+".labels", m)
}

func (d *decoder) claimPolicyField(path string, p *impactv1.ClaimPolicy) impact.ClaimPolicy {
	if p == nil {
		return impact.ClaimPolicy{}
	}
	return d.claimPolicy(path+".claim_policy", p)
}

func enumToDomain[P, D ~int32](d *decoder, t enumTable[P, D], field string, p P) D {
	v, ok := t.toDomain(p)
	if !ok {
		d.fail(field, "has unknown enum value %d", int32(p))
	}
	return v
}

// scenarioFromProto maps a request scenario to the domain, or returns an
// EINVALID *impact.Error listing what could not be mapped.
func scenarioFromProto(p *impactv1.Scenario) (*impact.Scenario, error) {
	var d decoder
	s := &impact.Scenario{
		ReportingCurrency: p.GetReportingCurrency(),
	}
	if n := len(p.GetCustomers()); n > 0 {
		s.Customers = make([]impact.Customer, n)
		for i, c := range p.GetCustomers() {
			s.Customers[i] = d.customer("customers["+strconv.Itoa(i)+"]", c)
		}
	}
	if n := len(p.GetIncidents()); n > 0 {
		s.Incidents = make([]impact.Incident, n)
		for i, in := range p.GetIncidents() {
			s.Incidents[i] = d.incident("incidents["+strconv.Itoa(i)+"]", in)
		}
	}
	for _, r := range p.GetFxRates() {
		s.FXRates = append(s.FXRates, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	if len(d.violations) > 0 {
		return nil, &impact.Error{Code: impact.EINVALID, Message: "invalid scenario", Violations: d.violations}
	}
	return s, nil
}

func (d *decoder) customer(path string, p *impactv1.Customer) impact.Customer {
	b := p.GetBaseline()
	c := impact.Customer{
		ID:          p.GetCustomerId(),
		DisplayName: p.GetDisplayName(),
		Currency:    p.GetCurrencyCode(),
		TimeZone:    p.GetTimeZone(),
		Baseline: impact.Baseline{
			HourlyAmount:  b.GetHourlyAmount(),
			WeeklyProfile: b.GetWeeklyProfile(),
			RecaptureRate: b.GetRecaptureRate(),
		},
		LifetimeValue:    p.GetLifetimeValue(),
		ChurnProbability: p.GetChurnProbability(),
		Labels:           d.labelsField(path, p.GetLabels()),
	}
	for i, f := range b.GetSeasonalFactors() {
		start, okStart := timeOf(f.GetStartTime())
		end, okEnd := timeOf(f.GetEndTime())
		fp := func() string { return fmt.Sprintf("%s.baseline.seasonal_factors[%d]", path, i) }
		if !okStart {
			d.fail(fp()+".start_time", "is not a valid timestamp")
		}
		if !okEnd {
			d.fail(fp()+".end_time", "is not a valid timestamp")
		}
		c.Baseline.SeasonalFactors = append(c.Baseline.SeasonalFactors, impact.SeasonalFactor{
			Start: start, End: end, Multiplier: f.GetMultiplier(),
		})
	}
	for i, o := range b.GetOverrides() {
		hour, ok := timeOf(o.GetHourStart())
		if !ok {
			d.fail(fmt.Sprintf("%s.baseline.overrides[%d].hour_start", path, i), "is not a valid timestamp")
		}
		c.Baseline.Overrides = append(c.Baseline.Overrides, impact.HourlyOverride{HourStart: hour, Amount: o.GetAmount()})
	}
	if n := len(p.GetContracts()); n > 0 {
		c.Contracts = make([]impact.Contract, n)
		for i, k := range p.GetContracts() {
			c.Contracts[i] = d.contract(path+".contracts["+strconv.Itoa(i)+"]", k)
		}
	}
	return c
}

func (d *decoder) contract(path string, p *impactv1.Contract) impact.Contract {
	c := impact.Contract{
		Service:            p.GetService(),
		MonthlyFee:         p.GetMonthlyFee(),
		BillingPeriod:      enumField(d, billingPeriods, path, ".billing_period", p.GetBillingPeriod()),
		TimeZone:           p.GetTimeZone(),
		CreditCapPercent:   p.GetCreditCapPercent(),
		MinCreditAmount:    p.GetMinCreditAmount(),
		Degradation:        enumField(d, degradations, path, ".degradation", p.GetDegradation()),
		DowntimeThreshold:  p.GetDowntimeThreshold(),
		Granularity:        enumField(d, granularities, path, ".granularity", p.GetGranularity()),
		MinDowntimeSeconds: p.GetMinDowntimeSeconds(),
		ExcludeMaintenance: p.GetExcludeMaintenance(),
		Denominator:        enumField(d, denominators, path, ".denominator", p.GetDenominator()),
		ActiveFrom:         d.timeField(path, ".active_from", p.GetActiveFrom()),
		ActiveUntil:        d.timeField(path, ".active_until", p.GetActiveUntil()),
		Rounding:           enumField(d, roundings, path, ".rounding", p.GetRounding()),
		Labels:             d.labelsField(path, p.GetLabels()),
		ClaimPolicy:        d.claimPolicyField(path, p.GetClaimPolicy()),
	}
	for i, f := range p.GetPeriodFees() {
		start, ok := timeOf(f.GetPeriodStart())
		if !ok {
			d.fail(fmt.Sprintf("%s.period_fees[%d].period_start", path, i), "is not a valid timestamp")
		}
		c.PeriodFees = append(c.PeriodFees, impact.PeriodFee{PeriodStart: start, Fee: f.GetFee()})
	}
	if n := len(p.GetTiers()); n > 0 {
		c.Tiers = make([]impact.CreditTier, n)
		for i, t := range p.GetTiers() {
			c.Tiers[i] = impact.CreditTier{
				UptimeBelow:   t.GetUptimeBelow(),
				CreditPercent: t.GetCreditPercent(),
				Inclusive:     t.GetInclusive(),
			}
		}
	}
	for i, w := range p.GetMaintenanceWindows() {
		start, okStart := timeOf(w.GetStartTime())
		end, okEnd := timeOf(w.GetEndTime())
		wp := func() string { return fmt.Sprintf("%s.maintenance_windows[%d]", path, i) }
		if !okStart {
			d.fail(wp()+".start_time", "is not a valid timestamp")
		}
		if !okEnd {
			d.fail(wp()+".end_time", "is not a valid timestamp")
		}
		c.MaintenanceWindows = append(c.MaintenanceWindows, impact.TimeWindow{Start: start, End: end})
	}
	for i, cause := range p.GetExcludedCauses() {
		v, ok := causes.toDomain(cause)
		if !ok {
			d.fail(fmt.Sprintf("%s.excluded_causes[%d]", path, i), "has unknown enum value %d", int32(cause))
		}
		c.ExcludedCauses = append(c.ExcludedCauses, v)
	}
	return c
}

func (d *decoder) incident(path string, p *impactv1.Incident) impact.Incident {
	in := impact.Incident{
		ID:               p.GetIncidentId(),
		Title:            p.GetTitle(),
		Cause:            enumField(d, causes, path, ".cause", p.GetCause()),
		RecoveryCurrency: p.GetRecoveryCurrency(),
		Allocation:       enumField(d, allocations, path, ".allocation", p.GetAllocation()),
	}
	if n := len(p.GetWindows()); n > 0 {
		in.Windows = make([]impact.OutageWindow, n)
		for i, w := range p.GetWindows() {
			start, okStart := timeOf(w.GetStartTime())
			end, okEnd := timeOf(w.GetEndTime())
			if !okStart || !okEnd {
				wp := path + ".windows[" + strconv.Itoa(i) + "]"
				if !okStart {
					d.fail(wp+".start_time", "is not a valid timestamp")
				}
				if !okEnd {
					d.fail(wp+".end_time", "is not a valid timestamp")
				}
			}
			in.Windows[i] = impact.OutageWindow{
				CustomerID:     w.GetCustomerId(),
				Service:        w.GetService(),
				Start:          start,
				End:            end,
				ImpactFraction: w.GetImpactFraction(),
			}
		}
	}
	for _, r := range p.GetRecoveryItems() {
		item := impact.RecoveryItem{CustomerID: r.GetCustomerId()}
		// Neither kind set is left to the engine, which owns the rule
		// "exactly one of labor and expense".
		if l := r.GetLabor(); l != nil {
			item.Labor = &impact.LaborItem{
				Role:       l.GetRole(),
				Hours:      l.GetHours(),
				HourlyRate: l.GetHourlyRate(),
				Engagement: l.GetEngagement(),
			}
		}
		if e := r.GetExpense(); e != nil {
			item.Expense = &impact.ExpenseItem{
				Description: e.GetDescription(),
				Quantity:    e.GetQuantity(),
				UnitCost:    e.GetUnitCost(),
			}
		}
		in.RecoveryItems = append(in.RecoveryItems, item)
	}
	return in
}

// estimateToProto maps the engine's result to the response, spelling every
// figure as api.md requires: money with exactly its minor-unit digits, other
// decimals without exponent or trailing zeros, uptime with 6 decimals.
func estimateToProto(e *impact.Estimate) *impactv1.EstimateResponse {
	r := &impactv1.EstimateResponse{
		ModelVersion:  e.ModelVersion,
		InputsDigest:  e.InputsDigest,
		Incidents:     make([]*impactv1.IncidentEstimate, len(e.Incidents)),
		SlaStatements: make([]*impactv1.ContractStatement, len(e.Statements)),
	}
	for i := range e.Incidents {
		r.Incidents[i] = incidentEstimateToProto(&e.Incidents[i])
	}
	for i := range e.Statements {
		r.SlaStatements[i] = statementToProto(&e.Statements[i])
	}
	return r
}

func incidentEstimateToProto(e *impact.IncidentEstimate) *impactv1.IncidentEstimate {
	p := &impactv1.IncidentEstimate{
		IncidentId: e.IncidentID,
		Customers:  make([]*impactv1.CustomerEstimate, len(e.Customers)),
		Totals:     make([]*impactv1.CurrencyTotals, len(e.Totals)),
	}
	for i := range e.Customers {
		c := &e.Customers[i]
		pc := &impactv1.CustomerEstimate{
			CustomerId:    c.CustomerID,
			ImpactSeconds: impact.FormatDecimal(c.ImpactSeconds),
			LostRevenue: &impactv1.LostRevenue{
				Gross:      moneyToProto(c.LostRevenue.Gross),
				Net:        moneyToProto(c.LostRevenue.Net),
				Recaptured: moneyToProto(c.LostRevenue.Recaptured),
			},
			SlaCredits:    make([]*impactv1.AttributedCredit, len(c.SLACredits)),
			ChurnExposure: moneyToProto(c.ChurnExposure),
		}
		if c.RecoveryCost != nil {
			pc.RecoveryCost = moneyToProto(*c.RecoveryCost)
		}
		for j, a := range c.SLACredits {
			pc.SlaCredits[j] = &impactv1.AttributedCredit{
				Service:     a.Service,
				PeriodStart: timestamppb.New(a.PeriodStart),
				Credit:      moneyToProto(a.Credit),
			}
		}
		p.Customers[i] = pc
	}
	for i := range e.Totals {
		p.Totals[i] = totalsToProto(&e.Totals[i])
	}
	if e.ReportingTotals != nil {
		p.ReportingTotals = totalsToProto(e.ReportingTotals)
	}
	return p
}

func totalsToProto(t *impact.CurrencyTotals) *impactv1.CurrencyTotals {
	return &impactv1.CurrencyTotals{
		CurrencyCode:     t.Currency,
		LostRevenueGross: impact.FormatAmount(t.Currency, t.LostRevenueGross),
		LostRevenueNet:   impact.FormatAmount(t.Currency, t.LostRevenueNet),
		RecoveryCost:     impact.FormatAmount(t.Currency, t.RecoveryCost),
		SlaCredits:       impact.FormatAmount(t.Currency, t.SLACredits),
		ChurnExposure:    impact.FormatAmount(t.Currency, t.ChurnExposure),
	}
}

func statementToProto(s *impact.SLAStatement) *impactv1.ContractStatement {
	p := &impactv1.ContractStatement{
		CustomerId:      s.CustomerID,
		Service:         s.Service,
		PeriodStart:     timestamppb.New(s.PeriodStart),
		PeriodEnd:       timestamppb.New(s.PeriodEnd),
		PeriodSeconds:   strconv.FormatInt(s.PeriodSeconds, 10),
		DowntimeSeconds: impact.FormatDecimal(s.DowntimeSeconds),
		UptimePercent:   impact.FormatFixed(s.UptimePercent, 6),
		CreditPercent:   impact.FormatDecimal(s.CreditPercent),
		Fee:             moneyToProto(s.Fee),
		ComputedCredit:  moneyToProto(s.ComputedCredit),
		CreditAmount:    moneyToProto(s.CreditAmount),
		BelowMinimum:    s.BelowMinimum,
		Incidents:       make([]*impactv1.IncidentShare, len(s.Incidents)),
	}
	for i, sh := range s.Incidents {
		p.Incidents[i] = &impactv1.IncidentShare{
			IncidentId:      sh.IncidentID,
			DowntimeSeconds: impact.FormatDecimal(sh.DowntimeSeconds),
			Credit:          moneyToProto(sh.Credit),
		}
	}
	return p
}

func moneyToProto(m impact.Money) *impactv1.Money {
	return &impactv1.Money{CurrencyCode: m.Currency, Amount: m.String()}
}
