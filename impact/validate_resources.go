package impact

// Per-resource validation: the checks the engine makes of one customer,
// contract, incident or batch of windows when it compiles a scenario, run
// on that resource alone, with paths relative to it (Path, and Field spelled
// from it). A resource that passes is one the engine accepts in any
// scenario that satisfies the checks between resources (a window naming a
// customer of the scenario, a recovery item a customer with a window, the
// request's size limits), which these leave to the scenario.

// ValidateCustomer checks c and its contracts: paths such as
// "baseline.weekly_profile[3]" or "contracts[0].tiers[1].uptime_below".
func ValidateCustomer(c *Customer, lim Limits) []FieldViolation {
	v := &violations{}
	compileCustomer(v, c, path{index: -1}, lim)
	return v.list
}

// ValidateContract checks k on its own: paths such as "tiers[1].uptime_below".
func ValidateContract(k *Contract, lim Limits) []FieldViolation {
	v := &violations{}
	compileContract(v, &cCustomer{}, k, &path{index: -1}, lim)
	return v.list
}

// ValidateIncident checks in's own fields and its recovery currency and
// items, not its windows (ValidateWindows) nor whether a recovery item's
// customer has a window in it: paths such as "recovery_items[0].labor.hours".
func ValidateIncident(in *Incident, lim Limits) []FieldViolation {
	v := &violations{}
	inc := compileIncidentFields(v, in, path{index: -1}, lim)
	compileRecovery(v, inc, in, path{index: -1}, lim, nil)
	return v.list
}

// ValidateWindows checks each window's own fields, not whether its
// customer exists: paths such as "windows[3].end_time".
func ValidateWindows(ws []OutageWindow, lim Limits) []FieldViolation {
	v := &violations{}
	for j := range ws {
		checkWindow(v, nil, &ws[j], rootElem("windows", j), lim)
	}
	return v.list
}
