package impact

import "time"

// QuietStatement is the statement of contract k of customer c (c's own
// Contracts are ignored) for the billing period containing at, when no
// window overlaps it: downtime 0, uptime 100, the credit of whichever tier
// 100 % meets (an inclusive tier at 100), no incidents. It is what the
// engine computes for that period, by the same code. ok is false when the
// period has no deployed part (DEPLOYED denominator): such a period has no
// statement. EINVALID when c or k is not valid.
func QuietStatement(c Customer, k Contract, at time.Time, lim Limits) (st SLAStatement, ok bool, err error) {
	c.Contracts = []Contract{k}
	m, err := compile(&Scenario{Customers: []Customer{c}}, lim, nil)
	if err != nil {
		return SLAStatement{}, false, err
	}
	ck := m.byID[c.ID].contracts[k.Service]
	var p period
	p.start, p.end = periodBounds(newZoneCursor(ck.loc), ck.quarterly, at.Unix())
	res := slaResult{credits: map[incCust][]AttributedCredit{}}
	ck.statementsIn(nil, []periodIncs{{period: p}}, &res, nil)
	if len(res.statements) == 0 {
		return SLAStatement{}, false, nil
	}
	return res.statements[0], true, nil
}
