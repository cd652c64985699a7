package impact_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/shopspring/decimal"
)

// June 2025 has 30 days: T = 2,592,000 s. A tier "< b" holds once
// 100·(T − D − Δ) < b·T, i.e. Δ > X = T − D − b·T/100:
//
//	b = 99.9 → b·T/100 = 2,589,408, X = 2,592 − D
//	b = 99.5 → 2,579,040, X = 12,960 − D
//	b = 99.0 → 2,566,080, X = 25,920 − D
//	b = 95.0 → 2,462,400, X = 129,600 − D
//
// Fee 730.00: 10 % = 73.00, 30 % = 219.00, 100 % = 730.00.

const june = "2025-06-15T00:00:00Z"

// headroomString spells every figure of h on one line per tier.
func headroomString(h *impact.ContractHeadroom) string {
	var b strings.Builder
	cur := "none"
	if h.CurrentTier != nil {
		cur = h.CurrentTier.UptimeBelow
	}
	fmt.Fprintf(&b, "T=%d D=%s up=%s tier=%s pct=%s credit=%s", h.PeriodSeconds, impact.FormatDecimal(h.DowntimeSeconds),
		fixed6(h.UptimePercent), cur, impact.FormatDecimal(h.CreditPercent), ms(h.CreditAmount))
	for _, t := range h.Tiers {
		op := "<"
		if t.Inclusive {
			op = "<="
		}
		reach := "unreachable"
		if t.Reachable {
			reach = fmt.Sprintf("+%d", t.AdditionalSeconds)
		}
		fmt.Fprintf(&b, "; %s%s %s pct=%s credit=%s", op, impact.FormatDecimal(t.UptimeBelow), reach,
			impact.FormatDecimal(t.CreditPercent), ms(t.CreditAmount))
	}
	return b.String()
}

func headroom(t *testing.T, c impact.Customer, at string, incs ...impact.Incident) *impact.ContractHeadroom {
	t.Helper()
	s := &impact.Scenario{Customers: []impact.Customer{c}, Incidents: incs}
	h, err := impact.Headroom(s, c.ID, c.Contracts[0].Service, ts(at), impact.DefaultLimits())
	if err != nil {
		t.Fatalf("Headroom: %v", err)
	}
	// The current figures are the statement's, whenever one exists.
	if len(incs) > 0 {
		if st := findStmt(estimate(t, s), c.ID, c.Contracts[0].Service, utc(h.PeriodStart)); st != nil {
			if !st.DowntimeSeconds.Equal(h.DowntimeSeconds) || !st.CreditAmount.Amount.Equal(h.CreditAmount.Amount) ||
				!st.CreditPercent.Equal(h.CreditPercent) || st.PeriodSeconds != h.PeriodSeconds {
				t.Errorf("headroom %s differs from statement D=%s pct=%s credit=%s", headroomString(h),
					st.DowntimeSeconds, st.CreditPercent, ms(st.CreditAmount))
			}
		}
	}
	return h
}

func TestHeadroomWorked(t *testing.T) {
	aws := tiers("99.5:10", "99.0:30", "95.0:100")
	base := func(mod func(k *impact.Contract)) impact.Customer {
		k := contract("compute", "730.00", aws)
		if mod != nil {
			mod(&k)
		}
		return cust("c1", "USD", "100", k)
	}
	cases := []struct {
		name string
		c    impact.Customer
		incs []impact.Incident
		want string
	}{
		{
			// D = 0: Δ = X + 1 for each strict tier (12,961 = 216 min + 1 s:
			// 216 min is exactly 99.5 %, model.md's worked example).
			name: "seconds, no downtime",
			c:    base(nil),
			want: "T=2592000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.5 +12961 pct=10 credit=USD 73.00; " +
				"<99 +25921 pct=30 credit=USD 219.00; <95 +129601 pct=100 credit=USD 730.00",
		},
		{
			// D = 12,961 (already < 99.5): 99.0 needs 25,921 − 12,961 = 12,960;
			// 95.0 needs 129,601 − 12,961 = 116,640.
			name: "seconds, in the first tier",
			c:    base(nil),
			incs: []impact.Incident{inc("i1", winD("c1", "compute", "2025-06-02T00:00:00Z", 12961))},
			want: "T=2592000 D=12961 up=99.499961 tier=99.5 pct=10 credit=USD 73.00; <99 +12960 pct=30 credit=USD 219.00; " +
				"<95 +116640 pct=100 credit=USD 730.00",
		},
		{
			// Inclusive ≤ 99.5: counted ≥ X = 12,960 suffices.
			name: "inclusive tier",
			c:    base(func(k *impact.Contract) { k.Tiers = tiers("<=99.5:10") }),
			want: "T=2592000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <=99.5 +12960 pct=10 credit=USD 73.00",
		},
		{
			// < 99.9: counted > 2,592. MINUTES_TOUCHED counts ⌈Δ/60⌉ minutes:
			// 44 minutes = 2,640 > 2,592 but 43 = 2,580 is not, so the least Δ
			// is 43·60 + 1 = 2,581.
			name: "minutes touched",
			c: base(func(k *impact.Contract) {
				k.Granularity = impact.MinutesTouched
				k.Tiers = tiers("99.9:10")
			}),
			want: "T=2592000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.9 +2581 pct=10 credit=USD 73.00",
		},
		{
			// MINUTES_FULL: counted(Δ) is Δ rounded up to minutes as well
			// (model.md §11); D = 1,800 (30 full minutes): X = 792, 14 minutes
			// (840) pass, 13 (780) do not: Δ = 13·60 + 1 = 781.
			name: "minutes full with downtime",
			c: base(func(k *impact.Contract) {
				k.Granularity = impact.MinutesFull
				k.Tiers = tiers("99.9:10")
			}),
			incs: []impact.Incident{inc("i1", winD("c1", "compute", "2025-06-02T00:00:00Z", 1800))},
			want: "T=2592000 D=1800 up=99.930556 tier=none pct=0 credit=USD 0.00; <99.9 +781 pct=10 credit=USD 73.00",
		},
		{
			// min_downtime 3,600 s: 2,593 s would count 0, so Δ = 3,600.
			name: "min downtime",
			c: base(func(k *impact.Contract) {
				k.MinDowntimeSeconds = 3600
				k.Tiers = tiers("99.9:10")
			}),
			want: "T=2592000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.9 +3600 pct=10 credit=USD 73.00",
		},
		{
			// PROPORTIONAL: an hour at 0.5 is D = 1,800; X = 2,592 − 1,800 =
			// 792, Δ = 793.
			name: "proportional",
			c: base(func(k *impact.Contract) {
				k.Degradation = impact.Proportional
				k.Tiers = tiers("99.9:10")
			}),
			incs: []impact.Incident{inc("i1", winF("c1", "compute", "2025-06-02T00:00:00Z", "2025-06-02T01:00:00Z", "0.5"))},
			want: "T=2592000 D=1800 up=99.930556 tier=none pct=0 credit=USD 0.00; <99.9 +793 pct=10 credit=USD 73.00",
		},
		{
			// DEPLOYED from June 30: T = 86,400. < 99.0: X = 86,400 − 85,536 =
			// 864, Δ = 865. A cause the contract excludes counts nothing.
			name: "deployed, excluded cause",
			c: base(func(k *impact.Contract) {
				k.Denominator = impact.Deployed
				k.ActiveFrom = ts("2025-06-30T00:00:00Z")
				k.ExcludedCauses = []impact.Cause{impact.NaturalDisaster}
				k.Tiers = tiers("99.0:30")
			}),
			incs: []impact.Incident{{ID: "quake", Cause: impact.NaturalDisaster,
				Windows: []impact.OutageWindow{winD("c1", "compute", "2025-06-30T01:00:00Z", 3600)}}},
			want: "T=86400 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99 +865 pct=30 credit=USD 219.00",
		},
		{
			// Cap 20 %: the 30 % and 100 % tiers owe 20 % = 146.00; minimum
			// credit 73.00: the 10 % tier (73.00, not above it) owes 0.
			name: "cap and minimum",
			c: base(func(k *impact.Contract) {
				k.CreditCapPercent = "20"
				k.MinCreditAmount = "73.00"
			}),
			want: "T=2592000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.5 +12961 pct=10 credit=USD 0.00; " +
				"<99 +25921 pct=20 credit=USD 146.00; <95 +129601 pct=20 credit=USD 146.00",
		},
		{
			// Deployed for one day (T = 86,400) with min_downtime 90,000: no
			// outage inside the period can count, every tier is unreachable.
			name: "unreachable",
			c: base(func(k *impact.Contract) {
				k.Denominator = impact.Deployed
				k.ActiveFrom = ts("2025-06-30T00:00:00Z")
				k.MinDowntimeSeconds = 90000
			}),
			want: "T=86400 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.5 unreachable pct=10 credit=USD 73.00; " +
				"<99 unreachable pct=30 credit=USD 219.00; <95 unreachable pct=100 credit=USD 730.00",
		},
		{
			// Quarterly Q3 2025 (92 days): T = 7,948,800, fee 3 × 730 = 2,190;
			// < 99.9: X = 7,948.8, Δ = 7,949; 10 % = 219.00.
			name: "quarterly",
			c: base(func(k *impact.Contract) {
				k.BillingPeriod = impact.Quarterly
				k.Tiers = tiers("99.9:10")
			}),
			want: "T=7948800 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.9 +7949 pct=10 credit=USD 219.00",
		},
		{
			// October 2025 in Europe/Berlin has 25 hours on the 26th: T =
			// 31 × 86,400 + 3,600 = 2,682,000; < 99.9: X = 2,682,000 −
			// 2,679,318 = 2,682, Δ = 2,683.
			name: "DST month",
			c: base(func(k *impact.Contract) {
				k.TimeZone = "Europe/Berlin"
				k.Tiers = tiers("99.9:10")
			}),
			want: "T=2682000 D=0 up=100.000000 tier=none pct=0 credit=USD 0.00; <99.9 +2683 pct=10 credit=USD 73.00",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := june
			switch {
			case tc.c.Contracts[0].BillingPeriod == impact.Quarterly:
				at = "2025-08-15T00:00:00Z"
			case tc.c.Contracts[0].TimeZone == "Europe/Berlin":
				at = "2025-10-15T00:00:00Z"
			}
			if got := headroomString(headroom(t, tc.c, at, tc.incs...)); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Decision: a period without a deployed part has no headroom (as it has no
// statement).
func TestHeadroomNotDeployed(t *testing.T) {
	k := contract("compute", "730.00", tiers("99.9:10"))
	k.Denominator, k.ActiveFrom = impact.Deployed, ts("2025-07-01T00:00:00Z")
	s := &impact.Scenario{Customers: []impact.Customer{cust("c1", "USD", "1", k)}}
	_, err := impact.Headroom(s, "c1", "compute", ts(june), impact.DefaultLimits())
	if impact.ErrorCode(err) != impact.EFAILEDPRECOND {
		t.Fatalf("got %v, want EFAILEDPRECOND", err)
	}
}

// TestHeadroomIsLeast checks on random contracts that Δ is the least: with
// one further outage counting counted(Δ) the tier holds in the statement,
// with counted(Δ − 1) it does not. The outage is placed after every stored
// window, a minute-aligned gap away, so it overlaps and touches nothing.
// For MINUTES_FULL the outage is counted(Δ) long: model.md §11 counts Δ
// rounded up to whole minutes for both minute granularities.
func TestHeadroomIsLeast(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	grans := []impact.Granularity{impact.Seconds, impact.MinutesTouched, impact.MinutesFull}
	checked := 0
	for iter := 0; iter < 300; iter++ {
		k := contract("svc", fmt.Sprintf("%d.%02d", rng.IntN(5000), rng.IntN(100)), nil)
		bounds := []string{"99.99", "99.95", "99.9", "99.5", "99", "98.75", "95"}
		pct := 5
		for _, b := range bounds {
			if rng.IntN(2) == 0 {
				continue
			}
			spec := fmt.Sprintf("%s:%d", b, min(pct, 100))
			if rng.IntN(3) == 0 {
				spec = "<=" + spec
			}
			k.Tiers = append(tiers(spec), k.Tiers...)
			pct += 5 + rng.IntN(20)
		}
		if len(k.Tiers) == 0 {
			continue
		}
		proportional := rng.IntN(6) == 0
		if proportional {
			k.Degradation = impact.Proportional
		} else {
			k.Granularity = grans[rng.IntN(3)]
			if rng.IntN(3) == 0 {
				k.MinDowntimeSeconds = int64(rng.IntN(900))
			}
		}
		if rng.IntN(3) == 0 {
			k.Denominator, k.ActiveFrom = impact.Deployed, ts("2025-06-10T00:00:00Z").Add(time.Duration(rng.IntN(86400))*time.Second)
		}
		if rng.IntN(3) == 0 {
			k.CreditCapPercent = fmt.Sprint(10 + rng.IntN(90))
		}
		c := cust("c1", "EUR", "10", k)
		var ws []impact.OutageWindow
		at := ts("2025-06-11T00:00:00Z")
		for range rng.IntN(4) {
			d := int64(1 + rng.IntN(4000))
			w := impact.OutageWindow{CustomerID: "c1", Service: "svc", Start: at, End: at.Add(time.Duration(d) * time.Second)}
			if proportional {
				w.ImpactFraction = fmt.Sprintf("0.%d", 1+rng.IntN(9))
			}
			ws = append(ws, w)
			at = w.End.Add(time.Duration(1+rng.IntN(3000)) * time.Second)
		}
		stored := []impact.Incident{inc("stored", ws...)}
		if len(ws) == 0 {
			stored = nil
		}
		h := headroom(t, c, june, stored...)
		gapStart := at.Truncate(time.Minute).Add(2 * time.Minute)
		for _, th := range h.Tiers {
			if !th.Reachable {
				continue
			}
			length := func(delta int64) int64 {
				if k.Granularity == impact.MinutesFull {
					return (delta + 59) / 60 * 60
				}
				return delta
			}
			if !gapStart.Add(time.Duration(length(th.AdditionalSeconds)) * time.Second).Before(h.PeriodEnd) {
				continue // the gap after the stored windows is too short to check it here
			}
			holds := func(delta int64) bool {
				if delta <= 0 {
					return false
				}
				w := impact.OutageWindow{CustomerID: "c1", Service: "svc", Start: gapStart, End: gapStart.Add(time.Duration(length(delta)) * time.Second)}
				s := &impact.Scenario{Customers: []impact.Customer{c}, Incidents: append(append([]impact.Incident{}, stored...), inc("what-if", w))}
				st := findStmt(estimate(t, s), "c1", "svc", utc(h.PeriodStart))
				return !belowTier(st, th)
			}
			if !holds(th.AdditionalSeconds) {
				t.Fatalf("iter %d: %s: +%d does not reach %s", iter, headroomString(h), th.AdditionalSeconds, th.UptimeBelow)
			}
			if th.AdditionalSeconds > max(1, k.MinDowntimeSeconds) && holds(th.AdditionalSeconds-1) {
				t.Fatalf("iter %d: %s: +%d already reaches %s", iter, headroomString(h), th.AdditionalSeconds-1, th.UptimeBelow)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d tiers checked", checked)
	}
}

// belowTier reports whether the statement's uptime is not yet at tier th:
// the condition 100·(T−D) < bound·T (≤ inclusive), computed exactly from
// the statement's D and T.
func belowTier(st *impact.SLAStatement, th impact.TierHeadroom) bool {
	T := decimal.NewFromInt(st.PeriodSeconds)
	up := T.Sub(st.DowntimeSeconds).Mul(decimal.NewFromInt(100))
	bT := th.UptimeBelow.Mul(T)
	cmp := up.Cmp(bT)
	return !(cmp < 0 || (cmp == 0 && th.Inclusive))
}
