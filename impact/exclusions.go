package impact

import (
	"fmt"
	"sort"
	"time"

	"github.com/shopspring/decimal"
)

// ExclusionReason is why part of an outage window does not count as
// downtime under the customer's contract for its service (model.md §5,
// steps 1–3 and 6), in the order the engine applies them.
type ExclusionReason int32

const (
	ExclusionUnspecified ExclusionReason = iota
	// NoContract: the customer has no contract for the window's service, so
	// the window costs revenue but earns no credit.
	NoContract
	// CauseExcluded: the contract excludes the incident's cause.
	CauseExcluded
	// OutsideDeployedRange: with the DEPLOYED denominator, the part before
	// the contract's active_from or from its active_until on.
	OutsideDeployedRange
	// MaintenanceWindow: the part inside a maintenance window the contract
	// excludes.
	MaintenanceWindow
	// BelowDowntimeThreshold: THRESHOLD degradation, the window's impact
	// fraction is under the contract's downtime threshold.
	BelowDowntimeThreshold
	// ShorterThanMinDowntime: THRESHOLD degradation, the part would count
	// but belongs to a down interval (merged over every incident) shorter
	// than min_downtime_seconds.
	ShorterThanMinDowntime
)

// Exclusion is one excluded part [Start, End) of an outage window.
type Exclusion struct {
	Service        string
	WindowStart    time.Time // the window the part belongs to
	WindowEnd      time.Time
	Start, End     time.Time
	Reason         ExclusionReason
	Description    string // the reason in words, for the customer
	ImpactFraction string // the window's fraction as given ("" is 1)
}

// Seconds is the excluded part's length.
func (e *Exclusion) Seconds() int64 { return int64(e.End.Sub(e.Start) / time.Second) }

// Exclusions lists, for every window of incident incidentID and customer
// customerID in s, the parts that the contract of its service does not
// count as downtime, each with its reason, in window order then time. It
// compiles s as EstimateScenario does (the same validation and the same
// contract rules), and judges min_downtime_seconds on the down intervals
// merged over every window of s for that contract, as the engine does. The
// counted downtime of a period is the statement's; a window part that is
// not listed here counted (before granularity rounding).
//
// Each excluded second has one reason, the first that applies in the
// engine's order (impact/doc.go, "Customer impact statements").
func Exclusions(s *Scenario, incidentID, customerID string, lim Limits) ([]Exclusion, error) {
	m, err := compile(s, lim, nil) // bounded by lim.MaxCost, like the estimate it explains
	if err != nil {
		return nil, err
	}
	var inc *cIncident
	for _, in := range m.incidents {
		if in.id == incidentID {
			inc = in
		}
	}
	c := m.byID[customerID]
	if inc == nil || c == nil {
		return nil, nil
	}
	// Counted down intervals of each contract over every window of s, as
	// the statements see them.
	down := map[string][]interval{}
	for svc, k := range c.contracts {
		if k.proportional {
			continue
		}
		var ws []*cWindow
		for _, in := range m.incidents {
			for i := range in.windows {
				if w := &in.windows[i]; w.cust == c && w.service == svc {
					ws = append(ws, w)
				}
			}
		}
		down[svc] = k.timeline(ws, nil).down
	}

	var out []Exclusion
	for i := range inc.windows {
		w := &inc.windows[i]
		if w.cust != c {
			continue
		}
		base := Exclusion{Service: w.service, WindowStart: unixUTC(w.start), WindowEnd: unixUTC(w.end),
			ImpactFraction: FormatDecimal(w.frac)}
		add := func(ivs []interval, r ExclusionReason, why string) {
			for _, iv := range ivs {
				e := base
				e.Start, e.End, e.Reason, e.Description = unixUTC(iv.start), unixUTC(iv.end), r, why
				out = append(out, e)
			}
		}
		whole := []interval{{w.start, w.end}}
		k, ok := c.contracts[w.service]
		if !ok {
			add(whole, NoContract, fmt.Sprintf("there is no SLA contract for %s, so this outage earns no service credit", w.service))
			continue
		}
		if k.excluded[inc.cause] {
			add(whole, CauseExcluded, fmt.Sprintf("the contract for %s excludes outages caused by %s", w.service, causeWords(inc.cause)))
			continue
		}
		rest := whole
		if k.deployed {
			var outside []interval
			rest, outside = split(rest, []interval{{k.activeFrom, k.activeUntil}})
			add(outside, OutsideDeployedRange, fmt.Sprintf("the contract for %s was not in force then (it counts only its active range)", w.service))
		}
		if len(k.maintenance) > 0 {
			var maint []interval
			maint, rest = split(rest, k.maintenance)
			add(maint, MaintenanceWindow, "this time falls in a maintenance window, which the contract does not count")
		}
		if k.proportional {
			continue
		}
		if cmpDec(w.frac, k.threshold) < 0 {
			add(rest, BelowDowntimeThreshold, fmt.Sprintf("the service was degraded to %s%% impact, below the contract's %s%% downtime threshold",
				FormatDecimal(w.frac.Shift(2)), FormatDecimal(k.threshold.Shift(2))))
			continue
		}
		if k.minDowntime > 0 {
			_, short := split(rest, down[w.service])
			add(short, ShorterThanMinDowntime, fmt.Sprintf("the interruption lasted less than the %d seconds the contract requires before downtime counts", k.minDowntime))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].WindowStart.Equal(out[j].WindowStart) {
			return out[i].WindowStart.Before(out[j].WindowStart)
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out, nil
}

// split returns the parts of ivs inside cut (sorted, disjoint) and the
// parts outside it.
func split(ivs []interval, cut []interval) (in, outside []interval) {
	spans := make([]fracSpan, len(ivs))
	for i, iv := range ivs {
		spans[i] = fracSpan{start: iv.start, end: iv.end}
	}
	for _, sp := range subtract(spans, cut, nil) {
		outside = append(outside, interval{sp.start, sp.end})
	}
	for _, iv := range ivs {
		for _, c := range cut {
			if s, e := max(iv.start, c.start), min(iv.end, c.end); s < e {
				in = append(in, interval{s, e})
			}
		}
	}
	return in, outside
}

// causeWords is a cause in plain words.
func causeWords(c Cause) string {
	switch c {
	case HardwareFailure:
		return "a hardware failure"
	case SoftwareDefect:
		return "a software defect"
	case Cyberattack:
		return "a cyberattack"
	case NaturalDisaster:
		return "a natural disaster (force majeure)"
	case PowerFailure:
		return "a power failure"
	case NetworkFailure:
		return "a network failure"
	case CustomerCaused:
		return "the customer"
	}
	return "an unknown cause"
}

// CauseWords is the cause in plain words, for statements to customers.
func CauseWords(c Cause) string { return causeWords(c) }

// ReachedTier is the tier of tiers that a period of periodSeconds with
// downtime seconds of counted downtime falls in, as the engine decides it
// (the lowest bound that holds, compared exactly), or -1 when none holds.
// The index is into tiers as given.
func ReachedTier(tiers []CreditTier, periodSeconds int64, downtime decimal.Decimal) int {
	if periodSeconds <= 0 {
		return -1
	}
	order := make([]int, len(tiers))
	bounds := make([]decimal.Decimal, len(tiers))
	for i := range tiers {
		order[i] = i
		bounds[i] = decimalOr(tiers[i].UptimeBelow, decZero)
	}
	sort.SliceStable(order, func(a, b int) bool { return bounds[order[a]].Cmp(bounds[order[b]]) < 0 })
	T := decimal.NewFromInt(periodSeconds)
	up := decHundred.Mul(T.Sub(downtime)) // 100·(T−D); uptime = up / T
	for _, i := range order {
		cmp := up.Cmp(bounds[i].Mul(T))
		if cmp < 0 || (cmp == 0 && tiers[i].Inclusive) {
			return i
		}
	}
	return -1
}
