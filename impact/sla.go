package impact

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/shopspring/decimal"
)

// slaResult is every statement of the scenario plus, per incident and
// customer, the credits attributed to that incident.
type slaResult struct {
	statements []SLAStatement
	credits    map[incCust][]AttributedCredit
}

type incCust struct{ incident, customer string }

type custService struct{ customer, service string }

// statements computes model.md §5 for every contract the windows touch.
func (m *model) statements() slaResult {
	res := slaResult{credits: map[incCust][]AttributedCredit{}}
	byContract := map[custService][]*cWindow{}
	for _, inc := range m.incidents {
		for i := range inc.windows {
			w := &inc.windows[i]
			if _, ok := w.cust.contracts[w.service]; ok {
				key := custService{w.cust.id, w.service}
				byContract[key] = append(byContract[key], w)
			}
		}
	}
	keys := make([]custService, 0, len(byContract))
	for k := range byContract {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b custService) int {
		if c := strings.Compare(a.customer, b.customer); c != 0 {
			return c
		}
		return strings.Compare(a.service, b.service)
	})
	for _, key := range keys {
		m.stop.tick()
		k := m.byID[key.customer].contracts[key.service]
		k.statementsFor(byContract[key], &res, m.stop)
	}
	return res
}

// contractTimeline is a contract's downtime over the whole timeline (steps
// 1–3), for all its incidents together and for each alone.
type contractTimeline struct {
	down        []interval                   // THRESHOLD: counted down intervals
	prop        []fracSpan                   // PROPORTIONAL: max-fraction spans
	perIncident map[string]*incidentTimeline // with several incidents

	// With one incident (the common case), its timeline, without a map.
	oneID string
	one   *incidentTimeline
}

// of is the timeline of the incident id, one of the contract's.
func (ct *contractTimeline) of(id string) *incidentTimeline {
	if ct.one != nil && id == ct.oneID {
		return ct.one
	}
	return ct.perIncident[id]
}

type incidentTimeline struct {
	down    []interval
	prop    []fracSpan
	passing []interval // THRESHOLD: its down instants before min_downtime, for the fallback
}

func (k *cContract) timeline(ws []*cWindow, stop *stopper) contractTimeline {
	all := make([]fracSpan, 0, len(ws))
	if single(ws) {
		// One incident: its spans are all the spans, so the contract's
		// timeline is the incident's, computed once.
		for _, w := range ws {
			if !k.excluded[w.inc.cause] { // step 1
				all = append(all, fracSpan{w.start, w.end, w.frac})
			}
		}
		it := &incidentTimeline{}
		ct := contractTimeline{oneID: ws[0].inc.id, one: it}
		if k.proportional {
			it.prop = k.proportionalSpans(all, stop)
			ct.prop = it.prop
		} else {
			it.passing = k.passing(all, stop)
			it.down = dropShort(it.passing, k.minDowntime)
			ct.down = it.down
		}
		return ct
	}
	byInc := map[string][]fracSpan{}
	for _, w := range ws {
		byInc[w.inc.id] = byInc[w.inc.id] // every incident gets an entry, excluded or not
		if k.excluded[w.inc.cause] {
			continue // step 1
		}
		sp := fracSpan{w.start, w.end, w.frac}
		all = append(all, sp)
		byInc[w.inc.id] = append(byInc[w.inc.id], sp)
	}
	ct := contractTimeline{perIncident: make(map[string]*incidentTimeline, len(byInc))}
	if k.proportional {
		ct.prop = k.proportionalSpans(all, stop)
	} else {
		ct.down = k.downIntervals(all, stop)
	}
	for id, spans := range byInc {
		it := &incidentTimeline{}
		if k.proportional {
			it.prop = k.proportionalSpans(spans, stop)
		} else {
			it.passing = k.passing(spans, stop)
			it.down = dropShort(it.passing, k.minDowntime)
		}
		ct.perIncident[id] = it
	}
	return ct
}

// single reports whether the windows ws (at least one) are all of one
// incident.
func single(ws []*cWindow) bool {
	if len(ws) == 0 {
		return false
	}
	for _, w := range ws[1:] {
		if w.inc != ws[0].inc {
			return false
		}
	}
	return true
}

// proportionalSpans is the max-fraction cover of spans outside maintenance
// (steps 2–3). The cover is taken first and maintenance cut from its
// disjoint spans: the same spans as cutting every window first (cuts leave
// gaps, so no two pieces of equal fraction end up adjacent), but in
// O((n + m) log n) instead of windows × maintenance windows.
func (k *cContract) proportionalSpans(spans []fracSpan, stop *stopper) []fracSpan {
	return subtract(maxCover(spans, stop), k.maintenance, stop)
}

// passing is the union of the parts of spans at or above the threshold,
// outside maintenance (steps 2–3), as sorted, disjoint, non-touching
// intervals. Merged first, then cut: the same intervals as cutting each
// span and merging, at O((n + m) log n).
func (k *cContract) passing(spans []fracSpan, stop *stopper) []interval {
	var ivs []interval
	for _, sp := range spans {
		stop.tick()
		if cmpDec(sp.frac, k.threshold) >= 0 {
			ivs = append(ivs, interval{sp.start, sp.end})
		}
	}
	return subtractIntervals(mergeIntervals(ivs), k.maintenance, stop)
}

func (k *cContract) downIntervals(spans []fracSpan, stop *stopper) []interval {
	return dropShort(k.passing(spans, stop), k.minDowntime)
}

// dropShort removes merged intervals shorter than min seconds (step 3).
func dropShort(ivs []interval, minLen int64) []interval {
	if minLen <= 0 {
		return ivs
	}
	out := make([]interval, 0, len(ivs))
	for _, iv := range ivs {
		if iv.end-iv.start >= minLen {
			out = append(out, iv)
		}
	}
	return out
}

type period struct{ start, end int64 }

// periodIncs is a billing period and the incidents with a window
// overlapping it, in order of first appearance.
type periodIncs struct {
	period
	incs []*cIncident
}

// periods returns the billing periods that any window overlaps, sorted,
// each with its incidents. Cost: the periods each window touches. A
// period is found by the last one seen, then by a scan of the few found
// so far, and by a map only once there are many.
func (k *cContract) periods(ws []*cWindow, stop *stopper) []periodIncs {
	const scanMax = 8
	z := newZoneCursor(k.loc)
	type periodIncident struct {
		start int64
		inc   *cIncident
	}
	var has map[periodIncident]bool // once a period has many incidents
	var byStart map[int64]int       // index into out, once out is long
	var out []periodIncs
	lastIdx := -1
	find := func(p period) int {
		if byStart != nil {
			if i, ok := byStart[p.start]; ok {
				return i
			}
		} else {
			for i := range out {
				if out[i].start == p.start {
					return i
				}
			}
		}
		out = append(out, periodIncs{period: p})
		i := len(out) - 1
		switch {
		case byStart != nil:
			byStart[p.start] = i
		case len(out) > scanMax:
			byStart = make(map[int64]int, 2*len(out))
			for j := range out {
				byStart[out[j].start] = j
			}
		}
		return i
	}
	for _, w := range ws {
		t := w.start
		for t < w.end {
			stop.tick()
			idx := lastIdx
			if idx < 0 || !(t >= out[idx].start && t < out[idx].end) {
				var p period
				p.start, p.end = periodBounds(z, k.quarterly, t)
				idx = find(p)
				lastIdx = idx
			}
			pe := &out[idx]
			pi := periodIncident{pe.start, w.inc}
			switch {
			case has != nil:
				if !has[pi] {
					has[pi] = true
					pe.incs = append(pe.incs, w.inc)
				}
			case !slices.Contains(pe.incs, w.inc):
				pe.incs = append(pe.incs, w.inc)
				if len(pe.incs) > scanMax {
					has = map[periodIncident]bool{}
					for _, e := range out {
						for _, inc := range e.incs {
							has[periodIncident{e.start, inc}] = true
						}
					}
				}
			}
			t = pe.end
		}
	}
	slices.SortFunc(out, func(a, b periodIncs) int { return cmp.Compare(a.start, b.start) })
	return out
}

func (k *cContract) statementsFor(ws []*cWindow, res *slaResult, stop *stopper) {
	k.statementsIn(ws, k.periods(ws, stop), res, stop)
}

// statementsIn computes the statements of the periods ps (sorted) from the
// windows ws, whose incidents overlapping each period are listed with it.
func (k *cContract) statementsIn(ws []*cWindow, ps []periodIncs, res *slaResult, stop *stopper) {
	c := k.customer
	tl := k.timeline(ws, stop)
	z := newZoneCursor(k.loc)
	for _, p := range ps {
		stop.tick()
		rs, re := p.start, p.end
		if k.deployed {
			rs, re = max(rs, k.activeFrom), min(re, k.activeUntil)
			if rs >= re {
				continue // step 6: no deployed part, no statement
			}
		}
		T := re - rs
		D := k.count(tl.down, tl.prop, rs, re, z)

		// Incidents with a window overlapping the period, in id order.
		incs := p.incs // built for this call: sorted in place
		slices.SortFunc(incs, func(a, b *cIncident) int { return strings.Compare(a.id, b.id) })

		st := SLAStatement{
			CustomerID: c.id, Service: k.service,
			PeriodStart: unixUTC(p.start), PeriodEnd: unixUTC(p.end),
			PeriodSeconds: T, DowntimeSeconds: D,
		}
		fee := k.fee(p.start)
		if !k.creditFixed(&st, D, fee) {
			k.credit(&st, D, fee)
		}
		owed := st.CreditAmount.Amount

		weights := make([]decimal.Decimal, len(incs))
		positive := false
		for i, inc := range incs {
			stop.tick()
			it := tl.of(inc.id)
			weights[i] = k.count(it.down, it.prop, rs, re, z)
			positive = positive || weights[i].Sign() > 0
		}
		shareWeights := weights
		if owed.Sign() > 0 && !positive {
			// Only together did the incidents pass min_downtime_seconds:
			// attribute by each one's part of the counted down intervals.
			shareWeights = make([]decimal.Decimal, len(incs))
			overlaps := false
			counted := clip(tl.down, rs, re)
			for i, inc := range incs {
				stop.tick()
				shareWeights[i] = decimal.NewFromInt(overlapSeconds(tl.of(inc.id).passing, counted, stop))
				overlaps = overlaps || shareWeights[i].Sign() > 0
			}
			if !overlaps {
				// Credit without downtime (an inclusive tier at 100): share it
				// evenly among the incidents the contract does not exclude,
				// or among all when it excludes every one.
				for i, inc := range incs {
					shareWeights[i] = decZero
					if !k.excluded[inc.cause] {
						shareWeights[i] = decOne
					}
				}
			}
		}
		shares := largestRemainder(owed, c.exp, shareWeights)
		st.Incidents = make([]IncidentShare, len(incs))
		for i, inc := range incs {
			id := inc.id
			credit := Money{c.currency, shares[i]}
			st.Incidents[i] = IncidentShare{IncidentID: id, DowntimeSeconds: weights[i], Credit: credit}
			key := incCust{id, c.id}
			res.credits[key] = append(res.credits[key], AttributedCredit{Service: k.service, PeriodStart: st.PeriodStart, Credit: credit})
		}
		res.statements = append(res.statements, st)
	}
}

// credit sets the uptime, credit percent, fee and credits of st from its
// period's downtime D and fee (steps 7–10), in decimals.
func (k *cContract) credit(st *SLAStatement, D, fee decimal.Decimal) {
	c := k.customer
	T := st.PeriodSeconds
	up := decHundred.Mul(decimal.NewFromInt(T).Sub(D)) // 100·(T−D); uptime = up / T
	st.UptimePercent = roundRat(up, T, 6, HalfEven)
	tierPercent := decZero
	for i := range k.tiers { // ascending bound: the first that holds is the lowest
		if tier := &k.tiers[i]; tier.holds(up, T) {
			tierPercent = tier.percent
			break
		}
	}
	st.CreditPercent = decimal.Min(tierPercent, k.capPercent)
	// Display only, in the contract's mode (the fee is the contract's
	// figure); the credit is computed from the exact fee.
	st.Fee = Money{c.currency, roundDec(fee, c.exp, k.rounding)}
	computed := decZero
	if st.CreditPercent.Sign() != 0 {
		computed = roundDec(st.CreditPercent.Mul(fee).Shift(-2), c.exp, k.rounding)
	}
	st.ComputedCredit = Money{c.currency, computed}
	owed := computed
	if computed.Sign() > 0 && computed.Cmp(k.minCredit) <= 0 {
		owed = decZero
		st.BelowMinimum = true
	}
	st.CreditAmount = Money{c.currency, owed}
}

// creditFixed is credit in fixed point, the same figures; false (st
// untouched) when any step is out of range.
func (k *cContract) creditFixed(st *SLAStatement, D, fee decimal.Decimal) bool {
	c := k.customer
	T := st.PeriodSeconds
	d, ok := fixedOf(D)
	if !ok {
		return false
	}
	up, ok := fixedInt(T).sub(d)
	if ok {
		up, ok = up.mul(fixedInt(100))
	}
	var uptime fixed
	if ok {
		uptime, ok = up.round(T, 6, HalfEven)
	}
	if !ok {
		return false
	}
	tierPercent := decZero
	for i := range k.tiers {
		tier := &k.tiers[i]
		holds, ok := tier.holdsFixed(up, T)
		if !ok {
			return false
		}
		if holds {
			tierPercent = tier.percent
			break
		}
	}
	tp, ok1 := fixedOf(tierPercent)
	cp, ok2 := fixedOf(k.capPercent)
	ff, ok3 := fixedOf(fee)
	mc, ok4 := fixedOf(k.minCredit)
	less, ok5 := tp.cmp(cp)
	if !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return false
	}
	creditPercent, cpf := k.capPercent, cp
	if less <= 0 { // decimal.Min keeps the first of equals
		creditPercent, cpf = tierPercent, tp
	}
	shown, ok := ff.roundTo(c.exp, k.rounding)
	if !ok {
		return false
	}
	var computed fixed
	if cpf.sign() != 0 {
		prod, ok := cpf.mul(ff)
		if !ok || prod.s+2 > maxFixedScale {
			return false
		}
		if computed, ok = (fixed{prod.c, prod.s + 2}).roundTo(c.exp, k.rounding); !ok {
			return false
		}
	}
	below := false
	if computed.sign() > 0 {
		cmp, ok := computed.cmp(mc)
		if !ok {
			return false
		}
		below = cmp <= 0
	}
	st.UptimePercent = uptime.dec()
	st.CreditPercent = creditPercent
	if shown == ff {
		st.Fee = Money{c.currency, fee}
	} else {
		st.Fee = Money{c.currency, shown.dec()}
	}
	computedDec := decZero
	if cpf.sign() != 0 {
		computedDec = computed.dec()
	}
	st.ComputedCredit = Money{c.currency, computedDec}
	st.BelowMinimum = below
	if below {
		st.CreditAmount = Money{c.currency, decZero}
	} else {
		st.CreditAmount = Money{c.currency, computedDec}
	}
	return true
}

// holdsFixed is holds in fixed point: up < bound·T (≤ when inclusive).
func (t *cTier) holdsFixed(up fixed, T int64) (bool, bool) {
	b, ok := fixedOf(t.bound)
	if !ok {
		return false, false
	}
	bt, ok := b.mul(fixedInt(T))
	if !ok {
		return false, false
	}
	cmp, ok := up.cmp(bt)
	if !ok {
		return false, false
	}
	return cmp < 0 || (cmp == 0 && t.inclusive), true
}

// holds reports whether the tier's condition holds for uptime = up/T, i.e.
// up < bound·T (≤ when inclusive), compared exactly. Whole-second downtime
// (every granularity but PROPORTIONAL's) compares in 128-bit integers.
func (t *cTier) holds(up decimal.Decimal, T int64) bool {
	cmp, ok := cmpScaledProduct(up, t.bound, T)
	if !ok {
		cmp = up.Cmp(t.bound.Mul(decimal.NewFromInt(T)))
	}
	return cmp < 0 || (cmp == 0 && t.inclusive)
}

// cmpScaledProduct compares a with b·T for non-negative a and b whose
// coefficients fit in int64 and exponents in [-18, 0], without allocating.
func cmpScaledProduct(a, b decimal.Decimal, T int64) (int, bool) {
	ac, ae, ok1 := smallDecimal(a)
	bc, be, ok2 := smallDecimal(b)
	if !ok1 || !ok2 || ac < 0 || bc < 0 || ae > 0 || be > 0 {
		return 0, false
	}
	// Bring both to exponent min(ae, be): a·10^(ae−e) vs b·T·10^(be−e).
	e := min(ae, be)
	ahi, alo := bits.Mul64(uint64(ac), pow10Uint64[ae-e])
	bhi, blo := bits.Mul64(uint64(bc), uint64(T))
	if bhi != 0 && be-e > 0 {
		return 0, false // b·T·10^(be−e) could pass 128 bits; take the exact slow path
	}
	if be-e > 0 {
		bhi, blo = bits.Mul64(blo, pow10Uint64[be-e])
	}
	switch {
	case ahi != bhi:
		return cmpUint(ahi, bhi), true
	default:
		return cmpUint(alo, blo), true
	}
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// fee is fee(period) of step 9.
func (k *cContract) fee(periodStart int64) decimal.Decimal {
	if f, ok := k.periodFees[periodStart]; ok {
		return f
	}
	if k.quarterly {
		return k.monthlyFee.Mul(decimal.NewFromInt(3))
	}
	return k.monthlyFee
}

// count is D of step 5 within the measured range [rs, re).
func (k *cContract) count(down []interval, prop []fracSpan, rs, re int64, z *zoneCursor) decimal.Decimal {
	if k.proportional {
		sum := decZero
		i := sort.Search(len(prop), func(i int) bool { return prop[i].end > rs })
		for ; i < len(prop) && prop[i].start < re; i++ {
			sp := &prop[i]
			if lo, hi := max(sp.start, rs), min(sp.end, re); lo < hi {
				sum = sum.Add(sp.frac.Mul(decimal.NewFromInt(hi - lo)))
			}
		}
		return sum
	}
	ivs := clip(down, rs, re)
	var d int64
	switch k.gran {
	case MinutesTouched, MinutesFull:
		var buf [4]minutePiece
		for _, pc := range minutePieces(buf[:0], z, rs, re) {
			d += countMinutes(clip(ivs, pc.start, pc.end), pc, k.gran == MinutesFull)
		}
		// A touched minute cut by a DEPLOYED edge counts 60 s although only
		// part of it is measured; downtime never exceeds the measured time.
		d = min(d, re-rs)
	default:
		for _, iv := range ivs {
			d += iv.end - iv.start
		}
	}
	return decimal.NewFromInt(d)
}

// clip returns the parts of sorted disjoint intervals inside [rs, re).
func clip(ivs []interval, rs, re int64) []interval {
	i := sort.Search(len(ivs), func(i int) bool { return ivs[i].end > rs })
	j := i
	for j < len(ivs) && ivs[j].start < re {
		j++
	}
	if i == j || (ivs[i].start >= rs && ivs[j-1].end <= re) {
		return ivs[i:j:j] // nothing to cut: the caller only reads it
	}
	var out []interval
	for ; i < len(ivs) && ivs[i].start < re; i++ {
		out = append(out, interval{max(ivs[i].start, rs), min(ivs[i].end, re)})
	}
	return out
}

// overlapSeconds is the length of the intersection of two lists of sorted
// disjoint intervals: O(|a| log |b| + pairs that overlap), where the
// pairs are at most |a| + |b| (not |a| × |b|).
func overlapSeconds(a, b []interval, stop *stopper) int64 {
	var sum int64
	for _, x := range a {
		stop.tick()
		j := sort.Search(len(b), func(j int) bool { return b[j].end > x.start })
		for ; j < len(b) && b[j].start < x.end; j++ {
			stop.tick()
			if lo, hi := max(x.start, b[j].start), min(x.end, b[j].end); lo < hi {
				sum += hi - lo
			}
		}
	}
	return sum
}

// minutePiece is a part of the measured range on one clock-minute grid:
// minute boundaries are the instants t with (t + phase) mod 60 = 0. An edge
// that is a zone transition (cut) is also a minute edge: the clock jumped
// there, so the minute it cuts has only the instants on this side.
type minutePiece struct {
	start, end       int64
	phase            int64
	startCut, endCut bool
}

// minutePieces cuts [rs, re) where the zone's offset changes its seconds
// (only zones with sub-minute offsets do), so each piece has one grid.
func minutePieces(out []minutePiece, z *zoneCursor, rs, re int64) []minutePiece {
	off, _, ze := z.at(rs)
	pc := minutePiece{start: rs, phase: floorMod(off, 60)}
	for ze < re {
		off2, _, ze2 := z.at(ze)
		if ph := floorMod(off2, 60); ph != pc.phase {
			pc.end, pc.endCut = ze, true
			out = append(out, pc)
			pc = minutePiece{start: ze, phase: ph, startCut: true}
		}
		ze = ze2
	}
	pc.end = re
	return append(out, pc)
}

// countMinutes counts MINUTES_TOUCHED or MINUTES_FULL downtime of sorted
// disjoint intervals (already clipped to the measured range) inside one
// piece: every clock minute containing any downtime counts 60 s, or only
// the minutes entirely down count 60 s (model.md §5.5, to the letter).
func countMinutes(ivs []interval, pc minutePiece, full bool) int64 {
	floorMin := func(t int64) int64 { return t - floorMod(t+pc.phase, 60) }
	ceilMin := func(t int64) int64 {
		if f := floorMin(t); f != t {
			return f + 60
		}
		return t
	}
	var d int64
	prevEnd := int64(math.MinInt64)
	for _, iv := range ivs {
		if full {
			s, e := ceilMin(iv.start), floorMin(iv.end)
			if e > s {
				d += e - s
			}
			// A minute cut short by a zone transition is entirely down when
			// all the instants it has on this side are.
			if first := min(ceilMin(pc.start), pc.end); pc.startCut && first != pc.start && iv.start == pc.start && iv.end >= first {
				d += 60
			}
			if last := max(floorMin(pc.end), pc.start); pc.endCut && last != pc.end && iv.end == pc.end && iv.start <= last &&
				!(pc.startCut && last == pc.start) { // one cut minute spanning the whole piece counts once
				d += 60
			}
			continue
		}
		// Two intervals may touch the same minute: count it once.
		s := max(floorMin(iv.start), prevEnd)
		e := ceilMin(iv.end)
		if e > s {
			d += e - s
		}
		prevEnd = max(prevEnd, e)
	}
	return d
}
