package impact

import (
	"time"

	"github.com/shopspring/decimal"
)

// Inputs. Decimal inputs are kept as the caller's strings in plain notation
// (see ParseDecimal): Validate checks their syntax and bounds without
// allocating, and the engine parses only the values a scenario actually uses
// (a 168-entry weekly profile is mostly never read). An empty string means
// "unset" and takes the default of model.md §9 where the field has one.
// A zero time.Time means "unset" for optional instants.

// Scenario is everything one stateless estimate needs.
type Scenario struct {
	Customers         []Customer
	Incidents         []Incident
	ReportingCurrency string // optional ISO 4217 code
	FXRates           []FXRate
}

// FXRate converts an amount in From into To: amount × Rate.
type FXRate struct {
	From, To string
	Rate     string
}

// Customer is a customer of the provider with its revenue baseline and its
// contracts (one per service).
type Customer struct {
	ID          string
	DisplayName string
	Currency    string // ISO 4217; lost revenue, credits and churn are in it
	TimeZone    string // IANA; default UTC
	Baseline    Baseline

	LifetimeValue    string // optional money
	ChurnProbability string // optional, in [0, 1]

	Contracts []Contract

	// Labels select stored customers for exposure questions (labels.go);
	// the engine ignores them.
	Labels map[string]string
}

// Baseline is the revenue the customer expects per local hour (model.md §3).
type Baseline struct {
	HourlyAmount    string   // flat rate used when WeeklyProfile is empty
	WeeklyProfile   []string // empty, or 168 entries; index 0 = Monday 00:00 local
	SeasonalFactors []SeasonalFactor
	Overrides       []HourlyOverride
	RecaptureRate   string // in [0, 1]; default 0
}

// SeasonalFactor multiplies the profile rate for instants in [Start, End).
type SeasonalFactor struct {
	Start, End time.Time
	Multiplier string
}

// HourlyOverride replaces the rate of exactly one local hour.
type HourlyOverride struct {
	HourStart time.Time
	Amount    string
}

// Contract is the SLA of one service for one customer. Its id is Service.
type Contract struct {
	Service            string
	MonthlyFee         string
	PeriodFees         []PeriodFee
	BillingPeriod      BillingPeriod
	TimeZone           string // IANA; default UTC
	Tiers              []CreditTier
	CreditCapPercent   string // default 100
	MinCreditAmount    string // default 0
	Degradation        Degradation
	DowntimeThreshold  string // THRESHOLD only; default 1
	Granularity        Granularity
	MinDowntimeSeconds int64 // THRESHOLD only
	ExcludeMaintenance bool
	MaintenanceWindows []TimeWindow
	ExcludedCauses     []Cause
	Denominator        Denominator
	ActiveFrom         time.Time // DEPLOYED: zero means "since always"
	ActiveUntil        time.Time // DEPLOYED: zero means "still active"
	Rounding           Rounding
	// Labels select stored contracts (labels.go); they override the
	// customer's for the same key. The engine ignores them.
	Labels      map[string]string
	ClaimPolicy ClaimPolicy // the credit ledger's; no figure depends on it
}

// PeriodFee is the fee of the billing period starting exactly at PeriodStart.
type PeriodFee struct {
	PeriodStart time.Time
	Fee         string
}

// CreditTier grants CreditPercent when uptime < UptimeBelow (≤ when Inclusive).
type CreditTier struct {
	UptimeBelow   string
	CreditPercent string
	Inclusive     bool
}

// TimeWindow is a half-open interval [Start, End).
type TimeWindow struct {
	Start, End time.Time
}

// Incident is one outage event with its windows and recovery costs.
type Incident struct {
	ID               string
	Title            string
	Cause            Cause
	Windows          []OutageWindow
	RecoveryCurrency string
	RecoveryItems    []RecoveryItem
	Allocation       Allocation
}

// OutageWindow is a period [Start, End) during which Service was impaired for
// CustomerID at ImpactFraction (default 1).
type OutageWindow struct {
	CustomerID     string
	Service        string
	Start, End     time.Time
	ImpactFraction string
}

// RecoveryItem is a labour or an expense item; exactly one of Labor and
// Expense is set. A non-empty CustomerID charges the item to that customer
// alone; otherwise it is shared by the incident's affected customers.
type RecoveryItem struct {
	CustomerID string
	Labor      *LaborItem
	Expense    *ExpenseItem
}

// LaborItem costs Hours × HourlyRate × Engagement.
type LaborItem struct {
	Role       string
	Hours      string
	HourlyRate string
	Engagement string // in (0, 1]; default 1
}

// ExpenseItem costs Quantity × UnitCost.
type ExpenseItem struct {
	Description string
	Quantity    string // default 1
	UnitCost    string
}

// Enums. Zero is "unspecified" and takes the default of model.md §9; the
// numbering matches the proto enums of api.md.

type BillingPeriod int32

const (
	BillingPeriodUnspecified BillingPeriod = iota
	Monthly
	Quarterly
)

type Degradation int32

const (
	DegradationUnspecified Degradation = iota
	Threshold
	Proportional
)

type Granularity int32

const (
	GranularityUnspecified Granularity = iota
	Seconds
	MinutesTouched
	MinutesFull
)

type Denominator int32

const (
	DenominatorUnspecified Denominator = iota
	PeriodDenominator
	Deployed
)

type Rounding int32

const (
	RoundingUnspecified Rounding = iota
	HalfEven
	HalfUp
)

type Allocation int32

const (
	AllocationUnspecified Allocation = iota
	Even
	ByImpact
)

type Cause int32

const (
	CauseUnspecified Cause = iota
	HardwareFailure
	SoftwareDefect
	Cyberattack
	NaturalDisaster
	PowerFailure
	NetworkFailure
	CustomerCaused
	UnknownCause
)

// Results. Money amounts are already rounded to their currency's minor unit;
// Money.String and FormatDecimal give the wire spelling of api.md.

// Money is an amount in a currency, rounded to the currency's minor unit.
type Money struct {
	Currency string
	Amount   decimal.Decimal
}

// Estimate is the result of estimating a scenario.
type Estimate struct {
	ModelVersion string
	InputsDigest string
	Incidents    []IncidentEstimate // sorted by incident id
	Statements   []SLAStatement     // sorted by customer id, service, period start
}

// IncidentEstimate is the cost of one incident.
type IncidentEstimate struct {
	IncidentID      string
	Customers       []CustomerEstimate // sorted by customer id
	Totals          []CurrencyTotals   // one per currency, sorted by code
	ReportingTotals *CurrencyTotals    // set when the scenario asks for a reporting currency
}

// CustomerEstimate is what one incident cost for one affected customer.
type CustomerEstimate struct {
	CustomerID    string
	ImpactSeconds decimal.Decimal // ∫ f(t) dt over the customer's windows of the incident
	LostRevenue   LostRevenue
	RecoveryCost  *Money // nil when the incident has no recovery currency
	SLACredits    []AttributedCredit
	ChurnExposure Money
}

// LostRevenue holds the rounded figures of model.md §3; Gross = Net + Recaptured.
type LostRevenue struct {
	Gross, Net, Recaptured Money
}

// AttributedCredit is the part of one SLA statement's owed credit attributed
// to an incident.
type AttributedCredit struct {
	Service     string
	PeriodStart time.Time
	Credit      Money
}

// CurrencyTotals sums the rounded per-customer figures of one currency.
type CurrencyTotals struct {
	Currency         string
	LostRevenueGross decimal.Decimal
	LostRevenueNet   decimal.Decimal
	RecoveryCost     decimal.Decimal
	SLACredits       decimal.Decimal
	ChurnExposure    decimal.Decimal
}

// SLAStatement is the SLA outcome of one contract for one billing period.
type SLAStatement struct {
	CustomerID      string
	Service         string
	PeriodStart     time.Time
	PeriodEnd       time.Time
	PeriodSeconds   int64           // the denominator T
	DowntimeSeconds decimal.Decimal // D
	UptimePercent   decimal.Decimal // rounded half-even to 6 decimals (display only)
	CreditPercent   decimal.Decimal
	Fee             Money
	ComputedCredit  Money
	CreditAmount    Money
	BelowMinimum    bool
	Incidents       []IncidentShare // sorted by incident id
}

// IncidentShare is one incident's own counted downtime in a statement's
// period and its share of the owed credit.
type IncidentShare struct {
	IncidentID      string
	DowntimeSeconds decimal.Decimal
	Credit          Money
}
