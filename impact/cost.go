package impact

import "fmt"

// Cost is the engine's work for a scenario in cost units, computed from
// the input's sizes alone, before any validation or computation: every
// window costs 1 plus its length in hours rounded up (its hour buckets),
// every customer 1 plus its seasonal factors and overrides, every contract
// 1 plus its tiers, maintenance windows and period fees, every incident 1
// plus its recovery items, every FX rate 1. The engine is O(n log n) in
// these units (doc.go), so bounding their sum (Limits.MaxCost) bounds its
// time, whatever the shape of the input; the counts of Limits alone would
// let a request combine every maximum at once.
func Cost(s *Scenario) int64 {
	cost := int64(len(s.FXRates))
	for i := range s.Customers {
		c := &s.Customers[i]
		cost += 1 + int64(len(c.Baseline.SeasonalFactors)) + int64(len(c.Baseline.Overrides))
		for j := range c.Contracts {
			k := &c.Contracts[j]
			cost += 1 + int64(len(k.Tiers)) + int64(len(k.MaintenanceWindows)) + int64(len(k.PeriodFees))
		}
	}
	for i := range s.Incidents {
		in := &s.Incidents[i]
		cost += 1 + int64(len(in.RecoveryItems))
		for j := range in.Windows {
			w := &in.Windows[j]
			cost++
			// An invalid span costs nothing here: validation refuses it.
			if secs := w.End.Unix() - w.Start.Unix(); secs > 0 && secs <= maxWindowSeconds {
				cost += (secs + 3599) / 3600
			}
		}
	}
	return cost
}

// checkCost refuses a scenario whose Cost exceeds lim.MaxCost.
func checkCost(v *violations, s *Scenario, lim Limits) bool {
	if cost := Cost(s); cost > lim.MaxCost {
		v.add(path{index: -1}, fmt.Sprintf("would cost %d units of work (windows and their hours, customers, contracts and their entries; see Cost); at most %d are allowed per request", cost, lim.MaxCost))
		return false
	}
	return true
}
