package impact

import (
	"time"

	"github.com/shopspring/decimal"
)

// model is a validated scenario in the engine's terms: instants as Unix
// seconds, zones loaded, lists sorted by id, defaults applied.
type model struct {
	customers []*cCustomer // sorted by id
	byID      map[string]*cCustomer
	declared  map[string]bool // every customer id of the input, valid or not
	incidents []*cIncident    // sorted by id
	reporting string
	fx        map[string]decimal.Decimal // currency → rate into reporting
	stop      *stopper                   // the caller's cancellation; nil for none
}

type cCustomer struct {
	id       string
	currency string
	exp      int32
	loc      *time.Location
	zoneName string

	flat        string            // hourly_amount, checked; "" is 0
	profile     []string          // 0 or 168 checked entries
	rates       []decimal.Decimal // parsed profile entries, allocated on first use
	parsed      [168 / 8]uint8
	smallCoef   [168]int64 // the same entries as int64 coefficients, where they fit
	smallExp    [168]int32
	smallOK     [168]bool
	smallParsed [168 / 8]uint8
	flatRate    decimal.Decimal
	flatParsed  bool
	overrides   map[int64]string // local hour start → checked amount
	seasonalRaw []seasonalFactor
	seasons     []seasonSeg // elementary segments where some factor applies
	recapture   string
	ltv, churn  string

	contracts map[string]*cContract // by service
}

// smallRate returns the rate of a weekly-profile index as coefficient and
// exponent when it has at most 18 digits (ok false otherwise), parsing the
// entry once.
func (c *cCustomer) smallRate(index int) (coef int64, exp int32, ok bool) {
	if c.profile == nil {
		if c.flat == "" {
			return 0, 0, true
		}
		return parseSmall(c.flat)
	}
	if c.smallParsed[index/8]&(1<<(index%8)) == 0 {
		c.smallCoef[index], c.smallExp[index], c.smallOK[index] = parseSmall(c.profile[index])
		c.smallParsed[index/8] |= 1 << (index % 8)
	}
	return c.smallCoef[index], c.smallExp[index], c.smallOK[index]
}

// rate returns the profile (or flat) rate of a weekly-profile index, parsing
// each entry at most once and only when an outage touches its hour.
func (c *cCustomer) rate(index int) decimal.Decimal {
	if c.profile == nil {
		if !c.flatParsed {
			c.flatRate = decimalOr(c.flat, decZero)
			c.flatParsed = true
		}
		return c.flatRate
	}
	if c.rates == nil {
		c.rates = make([]decimal.Decimal, 168)
	}
	if c.parsed[index/8]&(1<<(index%8)) == 0 {
		c.rates[index] = parseChecked(c.profile[index])
		c.parsed[index/8] |= 1 << (index % 8)
	}
	return c.rates[index]
}

type seasonalFactor struct {
	start, end int64
	mult       decimal.Decimal
}

// seasonSeg is a maximal span with one set of covering seasonal factors;
// mult is the product of their multipliers.
type seasonSeg struct {
	start, end int64
	mult       decimal.Decimal
}

type cContract struct {
	customer   *cCustomer
	service    string
	monthlyFee decimal.Decimal
	periodFees map[int64]decimal.Decimal
	quarterly  bool
	loc        *time.Location
	zoneName   string

	tiers      []cTier // ascending bound
	capPercent decimal.Decimal
	minCredit  decimal.Decimal

	proportional bool
	threshold    decimal.Decimal
	gran         Granularity
	minDowntime  int64

	excludeMaintenance bool
	maintenance        []interval // merged; only when excluded
	excluded           [UnknownCause + 1]bool

	deployed                bool
	activeFrom, activeUntil int64
	rounding                Rounding
}

type cTier struct {
	bound, percent decimal.Decimal
	inclusive      bool
	index          int // position in the input, for error paths
}

type cIncident struct {
	id         string
	cause      Cause
	windows    []cWindow
	allocation Allocation

	recoveryCurrency string
	recoveryExp      int32
	perCustomer      map[string]decimal.Decimal // exact sums of customer items
	shared           decimal.Decimal            // exact sum of shared items
	hasShared        bool
}

type cWindow struct {
	cust       *cCustomer
	service    string
	start, end int64
	frac       decimal.Decimal
	inc        *cIncident
}

// interval is a half-open span [start, end) of Unix seconds.
type interval struct{ start, end int64 }

// fracSpan is a span with an impact fraction.
type fracSpan struct {
	start, end int64
	frac       decimal.Decimal
}
