package impact

// ModelVersion names the rules of this package; it moves whenever a figure
// for the same inputs could change, and every stored estimate records it.
const ModelVersion = "impact-model/1"

// Limits bound the work of one estimate; anything beyond them is EINVALID,
// decided before any computation.
type Limits struct {
	MaxCustomers            int
	MaxIncidents            int
	MaxWindows              int // over all incidents
	MaxContractsPerCustomer int
	MaxOverrides            int // per customer
	MaxSeasonalFactors      int // per customer
	MaxTiers                int // per contract
	MaxMaintenanceWindows   int // per contract
	MaxPeriodFees           int // per contract
	MaxRecoveryItems        int // per incident
	MaxFXRates              int
	// MaxWindowHours bounds the sum over all windows of their length in
	// hours, rounded up: the engine's cost grows with hour buckets.
	MaxWindowHours int64
	MaxIDBytes     int // ids, services, names, titles, descriptions
}

// DefaultLimits are the limits of the stateless Estimate API.
func DefaultLimits() Limits {
	return Limits{
		MaxCustomers:            10000,
		MaxIncidents:            1000,
		MaxWindows:              100000,
		MaxContractsPerCustomer: 100,
		MaxOverrides:            10000,
		MaxSeasonalFactors:      1000,
		MaxTiers:                100,
		MaxMaintenanceWindows:   10000,
		MaxPeriodFees:           1000,
		MaxRecoveryItems:        10000,
		MaxFXRates:              1000,
		MaxWindowHours:          2000000,
		MaxIDBytes:              256,
	}
}

// EstimateScenario validates s within lim and computes every figure of
// model.md. It returns an *Error with code EINVALID and one FieldViolation
// per problem when s is not valid; s is not modified.
func EstimateScenario(s *Scenario, lim Limits) (*Estimate, error) {
	return nil, Errorf(EINTERNAL, "engine not implemented yet")
}
