package store

import (
	"database/sql"
	"encoding/json"
	"strings"
	"time"

	"github.com/impact-svc/impact/impact"
)

// Shared mapping between domain types and rows. Scalars that someone may
// query or that are money live in columns; the lists inside a resource live
// in one JSON document whose field names are fixed here (json tags), not
// derived from Go field names, so renaming a domain field cannot silently
// orphan stored data.

// dec validates a decimal string and returns its canonical spelling, NULL
// for "" (unset). Canonical: no leading zeros, no negative zero, the
// fractional digits as given. PostgreSQL's NUMERIC reads back exactly this
// text (it keeps the scale and drops leading zeros), so both engines return
// the same string.
func dec(field, s string) (sql.NullString, error) {
	if s == "" {
		return sql.NullString{}, nil
	}
	if _, err := impact.ParseDecimal(s); err != nil {
		return sql.NullString{}, invalid(field, "must be a plain decimal with at most 30 integer and 12 fractional digits")
	}
	return sql.NullString{String: canonical(s), Valid: true}, nil
}

func canonical(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, hasFrac := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	if strings.Trim(intPart+frac, "0") == "" {
		neg = false
	}
	out := intPart
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "-" + out
	}
	return out
}

// decs canonicalises a decimal held in a JSON document.
func decs(field, s string, errs *[]impact.FieldViolation) string {
	v, err := dec(field, s)
	if err != nil {
		*errs = append(*errs, err.(*impact.Error).Violations...)
	}
	return v.String
}

func violations(errs []impact.FieldViolation) error {
	if len(errs) == 0 {
		return nil
	}
	return &impact.Error{Code: impact.EINVALID, Message: "invalid argument", Violations: errs}
}

// jsonTime is an optional instant in a document: null when zero.
type jsonTime struct{ t time.Time }

func jt(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	return &jsonTime{t.UTC().Truncate(time.Microsecond)}
}

func (j *jsonTime) get() time.Time {
	if j == nil {
		return time.Time{}
	}
	return j.t
}

func (j jsonTime) MarshalJSON() ([]byte, error) { return json.Marshal(j.t.Format(time.RFC3339Nano)) }
func (j *jsonTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	j.t = t.UTC()
	return err
}

// Customer.

type customerRow struct {
	ID               string         `db:"id"`
	DisplayName      string         `db:"display_name"`
	Currency         string         `db:"currency_code"`
	TimeZone         string         `db:"time_zone"`
	HourlyAmount     sql.NullString `db:"hourly_amount"`
	RecaptureRate    sql.NullString `db:"recapture_rate"`
	LifetimeValue    sql.NullString `db:"lifetime_value"`
	ChurnProbability sql.NullString `db:"churn_probability"`
	Baseline         []byte         `db:"baseline"`
	Labels           string         `db:"labels"`
	Revision         int64          `db:"revision"`
	CreateTime       instant        `db:"create_time"`
	UpdateTime       instant        `db:"update_time"`
}

type baselineDoc struct {
	WeeklyProfile   []string    `json:"weekly_profile,omitempty"`
	SeasonalFactors []seasonDoc `json:"seasonal_factors,omitempty"`
	Overrides       []overDoc   `json:"overrides,omitempty"`
}

type seasonDoc struct {
	Start      *jsonTime `json:"start_time"`
	End        *jsonTime `json:"end_time"`
	Multiplier string    `json:"multiplier"`
}

type overDoc struct {
	HourStart *jsonTime `json:"hour_start"`
	Amount    string    `json:"amount"`
}

func customerToRow(c *impact.Customer) (*customerRow, error) {
	var errs []impact.FieldViolation
	r := &customerRow{ID: c.ID, DisplayName: c.DisplayName, Currency: c.Currency, TimeZone: c.TimeZone}
	b := &c.Baseline
	for _, f := range []struct {
		dst   *sql.NullString
		field string
		v     string
	}{
		{&r.HourlyAmount, "baseline.hourly_amount", b.HourlyAmount},
		{&r.RecaptureRate, "baseline.recapture_rate", b.RecaptureRate},
		{&r.LifetimeValue, "lifetime_value", c.LifetimeValue},
		{&r.ChurnProbability, "churn_probability", c.ChurnProbability},
	} {
		v, err := dec(f.field, f.v)
		if err != nil {
			errs = append(errs, err.(*impact.Error).Violations...)
		}
		*f.dst = v
	}
	var doc baselineDoc
	for i, p := range b.WeeklyProfile {
		doc.WeeklyProfile = append(doc.WeeklyProfile, decs(fieldf("baseline.weekly_profile", i, ""), p, &errs))
	}
	for i, s := range b.SeasonalFactors {
		doc.SeasonalFactors = append(doc.SeasonalFactors, seasonDoc{jt(s.Start), jt(s.End),
			decs(fieldf("baseline.seasonal_factors", i, ".multiplier"), s.Multiplier, &errs)})
	}
	for i, o := range b.Overrides {
		doc.Overrides = append(doc.Overrides, overDoc{jt(o.HourStart), decs(fieldf("baseline.overrides", i, ".amount"), o.Amount, &errs)})
	}
	if err := violations(errs); err != nil {
		return nil, err
	}
	var err error
	if r.Labels, err = labelsToText(c.Labels); err != nil {
		return nil, err
	}
	r.Baseline, err = json.Marshal(doc)
	return r, err
}

func (r *customerRow) toDomain() (*impact.StoredCustomer, error) {
	var doc baselineDoc
	if err := json.Unmarshal(r.Baseline, &doc); err != nil {
		return nil, err
	}
	labels, err := labelsFromText(r.Labels)
	if err != nil {
		return nil, err
	}
	c := &impact.StoredCustomer{
		Customer: impact.Customer{
			Labels: labels,
			ID:     r.ID, DisplayName: r.DisplayName, Currency: r.Currency, TimeZone: r.TimeZone,
			Baseline: impact.Baseline{
				HourlyAmount:  r.HourlyAmount.String,
				WeeklyProfile: doc.WeeklyProfile,
				RecaptureRate: r.RecaptureRate.String,
			},
			LifetimeValue:    r.LifetimeValue.String,
			ChurnProbability: r.ChurnProbability.String,
		},
		Name:       impact.CustomerName(r.ID),
		CreateTime: r.CreateTime.Time,
		UpdateTime: r.UpdateTime.Time,
		Etag:       etag(impact.CustomerName(r.ID), r.CreateTime.Time, r.Revision),
	}
	for _, s := range doc.SeasonalFactors {
		c.Baseline.SeasonalFactors = append(c.Baseline.SeasonalFactors, impact.SeasonalFactor{Start: s.Start.get(), End: s.End.get(), Multiplier: s.Multiplier})
	}
	for _, o := range doc.Overrides {
		c.Baseline.Overrides = append(c.Baseline.Overrides, impact.HourlyOverride{HourStart: o.HourStart.get(), Amount: o.Amount})
	}
	return c, nil
}

// Contract.

type contractRow struct {
	CustomerID      string         `db:"customer_id"`
	Service         string         `db:"service"`
	MonthlyFee      sql.NullString `db:"monthly_fee"`
	MinCreditAmount sql.NullString `db:"min_credit_amount"`
	BillingPeriod   int32          `db:"billing_period"`
	TimeZone        string         `db:"time_zone"`
	Terms           []byte         `db:"terms"`
	Labels          string         `db:"labels"`
	Revision        int64          `db:"revision"`
	CreateTime      instant        `db:"create_time"`
	UpdateTime      instant        `db:"update_time"`
}

// termsDoc holds the contract fields that are not columns.
type termsDoc struct {
	PeriodFees         []periodFeeDoc `json:"period_fees,omitempty"`
	Tiers              []tierDoc      `json:"tiers,omitempty"`
	CreditCapPercent   string         `json:"credit_cap_percent,omitempty"`
	Degradation        int32          `json:"degradation,omitempty"`
	DowntimeThreshold  string         `json:"downtime_threshold,omitempty"`
	Granularity        int32          `json:"granularity,omitempty"`
	MinDowntimeSeconds int64          `json:"min_downtime_seconds,omitempty"`
	ExcludeMaintenance bool           `json:"exclude_maintenance,omitempty"`
	MaintenanceWindows []spanDoc      `json:"maintenance_windows,omitempty"`
	ExcludedCauses     []int32        `json:"excluded_causes,omitempty"`
	Denominator        int32          `json:"denominator,omitempty"`
	ActiveFrom         *jsonTime      `json:"active_from,omitempty"`
	ActiveUntil        *jsonTime      `json:"active_until,omitempty"`
	Rounding           int32          `json:"rounding,omitempty"`
	ClaimPolicy        *claimDoc      `json:"claim_policy,omitempty"`
}

type periodFeeDoc struct {
	PeriodStart *jsonTime `json:"period_start"`
	Fee         string    `json:"fee"`
}

type tierDoc struct {
	UptimeBelow   string `json:"uptime_below"`
	CreditPercent string `json:"credit_percent"`
	Inclusive     bool   `json:"inclusive,omitempty"`
}

type spanDoc struct {
	Start *jsonTime `json:"start_time"`
	End   *jsonTime `json:"end_time"`
}

func contractToRow(customerID string, k *impact.Contract) (*contractRow, error) {
	var errs []impact.FieldViolation
	r := &contractRow{CustomerID: customerID, Service: k.Service, BillingPeriod: int32(k.BillingPeriod), TimeZone: k.TimeZone}
	var err error
	if r.MonthlyFee, err = dec("monthly_fee", k.MonthlyFee); err != nil {
		errs = append(errs, err.(*impact.Error).Violations...)
	}
	if r.MinCreditAmount, err = dec("min_credit_amount", k.MinCreditAmount); err != nil {
		errs = append(errs, err.(*impact.Error).Violations...)
	}
	doc := termsDoc{
		CreditCapPercent:   decs("credit_cap_percent", k.CreditCapPercent, &errs),
		Degradation:        int32(k.Degradation),
		DowntimeThreshold:  decs("downtime_threshold", k.DowntimeThreshold, &errs),
		Granularity:        int32(k.Granularity),
		MinDowntimeSeconds: k.MinDowntimeSeconds,
		ExcludeMaintenance: k.ExcludeMaintenance,
		Denominator:        int32(k.Denominator),
		ActiveFrom:         jt(k.ActiveFrom),
		ActiveUntil:        jt(k.ActiveUntil),
		Rounding:           int32(k.Rounding),
		ClaimPolicy:        claimPolicyDoc(k.ClaimPolicy),
	}
	for i, p := range k.PeriodFees {
		doc.PeriodFees = append(doc.PeriodFees, periodFeeDoc{jt(p.PeriodStart), decs(fieldf("period_fees", i, ".fee"), p.Fee, &errs)})
	}
	for i, t := range k.Tiers {
		doc.Tiers = append(doc.Tiers, tierDoc{
			decs(fieldf("tiers", i, ".uptime_below"), t.UptimeBelow, &errs),
			decs(fieldf("tiers", i, ".credit_percent"), t.CreditPercent, &errs), t.Inclusive})
	}
	for _, m := range k.MaintenanceWindows {
		doc.MaintenanceWindows = append(doc.MaintenanceWindows, spanDoc{jt(m.Start), jt(m.End)})
	}
	for _, c := range k.ExcludedCauses {
		doc.ExcludedCauses = append(doc.ExcludedCauses, int32(c))
	}
	if err := violations(errs); err != nil {
		return nil, err
	}
	if r.Labels, err = labelsToText(k.Labels); err != nil {
		return nil, err
	}
	r.Terms, err = json.Marshal(doc)
	return r, err
}

func (r *contractRow) toDomain() (*impact.StoredContract, error) {
	var doc termsDoc
	if err := json.Unmarshal(r.Terms, &doc); err != nil {
		return nil, err
	}
	labels, err := labelsFromText(r.Labels)
	if err != nil {
		return nil, err
	}
	k := &impact.StoredContract{
		CustomerID: r.CustomerID,
		Contract: impact.Contract{
			Labels:             labels,
			Service:            r.Service,
			MonthlyFee:         r.MonthlyFee.String,
			BillingPeriod:      impact.BillingPeriod(r.BillingPeriod),
			TimeZone:           r.TimeZone,
			CreditCapPercent:   doc.CreditCapPercent,
			MinCreditAmount:    r.MinCreditAmount.String,
			Degradation:        impact.Degradation(doc.Degradation),
			DowntimeThreshold:  doc.DowntimeThreshold,
			Granularity:        impact.Granularity(doc.Granularity),
			MinDowntimeSeconds: doc.MinDowntimeSeconds,
			ExcludeMaintenance: doc.ExcludeMaintenance,
			Denominator:        impact.Denominator(doc.Denominator),
			ActiveFrom:         doc.ActiveFrom.get(),
			ActiveUntil:        doc.ActiveUntil.get(),
			Rounding:           impact.Rounding(doc.Rounding),
			ClaimPolicy:        doc.ClaimPolicy.get(),
		},
		Name:       impact.ContractName(r.CustomerID, r.Service),
		CreateTime: r.CreateTime.Time,
		UpdateTime: r.UpdateTime.Time,
		Etag:       etag(impact.ContractName(r.CustomerID, r.Service), r.CreateTime.Time, r.Revision),
	}
	for _, p := range doc.PeriodFees {
		k.PeriodFees = append(k.PeriodFees, impact.PeriodFee{PeriodStart: p.PeriodStart.get(), Fee: p.Fee})
	}
	for _, t := range doc.Tiers {
		k.Tiers = append(k.Tiers, impact.CreditTier{UptimeBelow: t.UptimeBelow, CreditPercent: t.CreditPercent, Inclusive: t.Inclusive})
	}
	for _, m := range doc.MaintenanceWindows {
		k.MaintenanceWindows = append(k.MaintenanceWindows, impact.TimeWindow{Start: m.Start.get(), End: m.End.get()})
	}
	for _, c := range doc.ExcludedCauses {
		k.ExcludedCauses = append(k.ExcludedCauses, impact.Cause(c))
	}
	return k, nil
}

// Incident.

type incidentRow struct {
	ID               string  `db:"id"`
	Title            string  `db:"title"`
	Cause            int32   `db:"cause"`
	RecoveryCurrency string  `db:"recovery_currency"`
	Allocation       int32   `db:"allocation"`
	RecoveryItems    []byte  `db:"recovery_items"`
	Revision         int64   `db:"revision"`
	CreateTime       instant `db:"create_time"`
	UpdateTime       instant `db:"update_time"`
	// The span of its windows (incidentSpan); NULL without windows.
	StartTime nullInstant `db:"start_time"`
	EndTime   nullInstant `db:"end_time"`
}

type itemDoc struct {
	CustomerID string      `json:"customer_id,omitempty"`
	Labor      *laborDoc   `json:"labor,omitempty"`
	Expense    *expenseDoc `json:"expense,omitempty"`
}

type laborDoc struct {
	Role       string `json:"role"`
	Hours      string `json:"hours"`
	HourlyRate string `json:"hourly_rate"`
	Engagement string `json:"engagement,omitempty"`
}

type expenseDoc struct {
	Description string `json:"description"`
	Quantity    string `json:"quantity,omitempty"`
	UnitCost    string `json:"unit_cost"`
}

func incidentToRow(in *impact.Incident) (*incidentRow, error) {
	var errs []impact.FieldViolation
	items := []itemDoc{}
	for i, it := range in.RecoveryItems {
		d := itemDoc{CustomerID: it.CustomerID}
		f := fieldf("recovery_items", i, "")
		switch {
		case it.Labor != nil && it.Expense == nil:
			l := it.Labor
			d.Labor = &laborDoc{l.Role, decs(f+".labor.hours", l.Hours, &errs),
				decs(f+".labor.hourly_rate", l.HourlyRate, &errs), decs(f+".labor.engagement", l.Engagement, &errs)}
		case it.Expense != nil && it.Labor == nil:
			e := it.Expense
			d.Expense = &expenseDoc{e.Description, decs(f+".expense.quantity", e.Quantity, &errs), decs(f+".expense.unit_cost", e.UnitCost, &errs)}
		default:
			errs = append(errs, impact.FieldViolation{Field: f, Description: "exactly one of labor and expense must be set"})
		}
		items = append(items, d)
	}
	if err := violations(errs); err != nil {
		return nil, err
	}
	b, err := json.Marshal(items)
	return &incidentRow{ID: in.ID, Title: in.Title, Cause: int32(in.Cause), RecoveryCurrency: in.RecoveryCurrency,
		Allocation: int32(in.Allocation), RecoveryItems: b}, err
}

func (r *incidentRow) toDomain() (*impact.StoredIncident, error) {
	var items []itemDoc
	if err := json.Unmarshal(r.RecoveryItems, &items); err != nil {
		return nil, err
	}
	in := &impact.StoredIncident{
		Incident: impact.Incident{ID: r.ID, Title: r.Title, Cause: impact.Cause(r.Cause),
			RecoveryCurrency: r.RecoveryCurrency, Allocation: impact.Allocation(r.Allocation)},
		Name:       impact.IncidentName(r.ID),
		CreateTime: r.CreateTime.Time,
		UpdateTime: r.UpdateTime.Time,
		Etag:       etag(impact.IncidentName(r.ID), r.CreateTime.Time, r.Revision),
		StartTime:  r.StartTime.Time,
		EndTime:    r.EndTime.Time,
	}
	for _, d := range items {
		it := impact.RecoveryItem{CustomerID: d.CustomerID}
		if d.Labor != nil {
			it.Labor = &impact.LaborItem{Role: d.Labor.Role, Hours: d.Labor.Hours, HourlyRate: d.Labor.HourlyRate, Engagement: d.Labor.Engagement}
		}
		if d.Expense != nil {
			it.Expense = &impact.ExpenseItem{Description: d.Expense.Description, Quantity: d.Expense.Quantity, UnitCost: d.Expense.UnitCost}
		}
		in.RecoveryItems = append(in.RecoveryItems, it)
	}
	return in, nil
}

// Window.

type windowRow struct {
	IncidentID     string         `db:"incident_id"`
	ID             string         `db:"id"`
	CustomerID     string         `db:"customer_id"`
	Service        string         `db:"service"`
	Start          instant        `db:"start_time"`
	End            instant        `db:"end_time"`
	ImpactFraction sql.NullString `db:"impact_fraction"`
	CreateTime     instant        `db:"create_time"`
}

func (r *windowRow) toDomain() impact.StoredWindow {
	return impact.StoredWindow{
		IncidentID: r.IncidentID,
		ID:         r.ID,
		OutageWindow: impact.OutageWindow{CustomerID: r.CustomerID, Service: r.Service,
			Start: r.Start.Time, End: r.End.Time, ImpactFraction: r.ImpactFraction.String},
		Name:       impact.WindowName(r.IncidentID, r.ID),
		CreateTime: r.CreateTime.Time,
	}
}

func fieldf(list string, i int, suffix string) string {
	return list + "[" + itoa(i) + "]" + suffix
}

// labelsToText is the labels column: a JSON object, "{}" when empty (keys
// sorted by encoding/json, so equal labels are equal text). The service
// validated them; the store checks again so that nothing else can store a
// label a selector could not name.
func labelsToText(labels map[string]string) (string, error) {
	if vs := impact.LabelViolations("labels", labels); len(vs) > 0 {
		return "", violations(vs)
	}
	if len(labels) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(labels)
	return string(b), err
}

// labelsFromText reads the labels column; nil when there are none.
func labelsFromText(s string) (map[string]string, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]string
	err := json.Unmarshal([]byte(s), &m)
	return m, err
}
