package impact

import (
	"time"

	"github.com/shopspring/decimal"
)

// Headroom (model.md §11): how much more downtime before a contract's
// credit steps up, and what it would cost. It reuses the statement's
// compiled contract, timeline and counting (sla.go), so D, T, the tier and
// the credit are those of the statement of the same period.

// ContractHeadroom is the headroom of one contract in one billing period.
type ContractHeadroom struct {
	CustomerID       string
	Service          string
	PeriodStart      time.Time
	PeriodEnd        time.Time
	PeriodSeconds    int64           // T
	DowntimeSeconds  decimal.Decimal // D, counted as the statement counts it
	RemainingSeconds decimal.Decimal // T − D
	UptimePercent    decimal.Decimal // half-even to 6 decimals, display only
	CurrentTier      *CreditTier     // the tier that applies now; nil when none
	CreditPercent    decimal.Decimal // min(tier, cap)
	CreditAmount     Money           // as the statement's credit_amount
	Tiers            []TierHeadroom  // every more severe tier, least severe first
}

// TierHeadroom is how far one more severe tier is.
type TierHeadroom struct {
	UptimeBelow   decimal.Decimal
	Inclusive     bool
	CreditPercent decimal.Decimal // the tier's percent, capped
	Reachable     bool
	// AdditionalSeconds is Δ: the least whole seconds of one further full
	// outage that make the tier's condition hold. 0 when not reachable.
	AdditionalSeconds int64
	CreditAmount      Money // what the contract would owe at this tier
}

// NextReachable returns the least severe reachable tier, or nil: it needs
// the fewest seconds, since more downtime never raises uptime.
func (h *ContractHeadroom) NextReachable() *TierHeadroom {
	for i := range h.Tiers {
		if h.Tiers[i].Reachable {
			return &h.Tiers[i]
		}
	}
	return nil
}

// Headroom computes the headroom of the contract of customerID and service
// in the billing period containing at. s must hold that customer with that
// contract and the incidents whose windows (of any service; others are
// ignored) count for it; it is validated within lim like any scenario.
// EINVALID if s is not valid or holds no such contract; EFAILEDPRECOND when
// the period has no deployed part (no statement exists for it).
func Headroom(s *Scenario, customerID, service string, at time.Time, lim Limits) (*ContractHeadroom, error) {
	m, err := compile(s, lim, nil) // one contract: bounded by lim
	if err != nil {
		return nil, err
	}
	c := m.byID[customerID]
	if c == nil || c.contracts[service] == nil {
		return nil, Errorf(EINVALID, "the scenario has no contract %s", ContractName(customerID, service))
	}
	k := c.contracts[service]
	var ws []*cWindow
	for _, inc := range m.incidents {
		for i := range inc.windows {
			if w := &inc.windows[i]; w.cust == c && w.service == service {
				ws = append(ws, w)
			}
		}
	}
	z := newZoneCursor(k.loc)
	ps, pe := periodBounds(z, k.quarterly, at.Unix())
	rs, re := ps, pe
	if k.deployed {
		rs, re = max(rs, k.activeFrom), min(re, k.activeUntil)
		if rs >= re {
			return nil, Errorf(EFAILEDPRECOND, "%s is not deployed in the billing period starting %s",
				ContractName(customerID, service), unixUTC(ps).Format(time.RFC3339))
		}
	}
	tl := k.timeline(ws, nil)
	T := re - rs
	D := k.count(tl.down, tl.prop, rs, re, z)
	Tdec := decimal.NewFromInt(T)
	h := &ContractHeadroom{
		CustomerID: customerID, Service: service,
		PeriodStart: unixUTC(ps), PeriodEnd: unixUTC(pe),
		PeriodSeconds: T, DowntimeSeconds: D, RemainingSeconds: Tdec.Sub(D),
	}
	up := decHundred.Mul(Tdec.Sub(D)) // 100·(T−D); uptime = up / T
	h.UptimePercent = roundRat(up, T, 6, HalfEven)
	cur := len(k.tiers) // index of the tier that applies; len when none
	for i := range k.tiers {
		if k.tiers[i].holds(up, T) {
			cur = i
			break
		}
	}
	pct := decZero
	if cur < len(k.tiers) {
		t := &k.tiers[cur]
		pct = t.percent
		h.CurrentTier = &CreditTier{UptimeBelow: FormatDecimal(t.bound), CreditPercent: FormatDecimal(t.percent), Inclusive: t.inclusive}
	}
	h.CreditPercent, h.CreditAmount = k.creditAt(pct, ps)
	// Tiers are sorted by ascending bound: those before cur are the more
	// severe ones, and cur−1 is the next.
	for i := cur - 1; i >= 0; i-- {
		t := &k.tiers[i]
		th := TierHeadroom{UptimeBelow: t.bound, Inclusive: t.inclusive}
		th.CreditPercent, th.CreditAmount = k.creditAt(t.percent, ps)
		delta := k.additionalSeconds(t, Tdec, D)
		if decimal.NewFromInt(delta).Cmp(h.RemainingSeconds) <= 0 {
			th.Reachable, th.AdditionalSeconds = true, delta
		}
		h.Tiers = append(h.Tiers, th)
	}
	return h, nil
}

// additionalSeconds is Δ of §11 for tier t: the least whole Δ such that
// 100·(T − D − counted(Δ)) < bound·T (≤ when inclusive). With
// X = T − D − bound·T/100 that is counted(Δ) > X (≥ X when inclusive), so
// the least counted value is c = ⌊X⌋ + 1 (⌈X⌉ when inclusive). counted(Δ)
// is Δ for SECONDS and PROPORTIONAL; for MINUTES_* it is Δ rounded up to
// whole minutes, so the least Δ counting 60·⌈c/60⌉ seconds is one second
// more than the minutes before it. Below min_downtime_seconds an outage
// counts nothing, so Δ is at least that. X ≥ 0 here (the tier does not
// hold at Δ = 0), so Δ ≥ 1.
func (k *cContract) additionalSeconds(t *cTier, T, D decimal.Decimal) int64 {
	x := T.Sub(D).Sub(t.bound.Mul(T).Shift(-2))
	var c decimal.Decimal
	if t.inclusive {
		c = x.Ceil()
	} else {
		c = x.Floor().Add(decOne)
	}
	delta := c.IntPart()
	if delta < 1 {
		delta = 1
	}
	if !k.proportional && (k.gran == MinutesTouched || k.gran == MinutesFull) {
		minutes := (delta + 59) / 60
		delta = 60*(minutes-1) + 1
	}
	return max(delta, k.minDowntime)
}

// creditAt is the credit percent and owed amount of the period starting at
// periodStart at a tier granting percent: capped, on the period's fee,
// rounded once with the contract's mode, and 0 when not above the minimum
// (§5 steps 9–10, as statementsFor computes them).
func (k *cContract) creditAt(percent decimal.Decimal, periodStart int64) (decimal.Decimal, Money) {
	c := k.customer
	pct := decimal.Min(percent, k.capPercent)
	computed := decZero
	if pct.Sign() != 0 {
		computed = roundDec(pct.Mul(k.fee(periodStart)).Shift(-2), c.exp, k.rounding)
	}
	if computed.Sign() > 0 && computed.Cmp(k.minCredit) <= 0 {
		computed = decZero
	}
	return pct, Money{c.currency, computed}
}
