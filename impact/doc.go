// Package impact is the domain of the impact service and its pure estimation
// engine: given a Scenario (customers with revenue baselines and contracts,
// incidents with outage windows and recovery costs) it computes, exactly,
// what each incident cost each customer — lost revenue, recovery cost, SLA
// credits, churn exposure — and the SLA statement of every contract and
// billing period the windows touch. It does no I/O; the same inputs give
// byte-identical results, whatever the order of customers, incidents,
// windows or any other list.
//
// The rules are those of the product contract (shared/spec/model.md). This
// documentation restates each rule the code implements and, marked
// "Decision:", each choice taken where model.md is silent. Every decision is
// tested.
//
// # Arithmetic (§1)
//
// Money and ratios are exact decimals (shopspring/decimal); no float64 is on
// any path to a figure. Inputs are plain decimals -?[0-9]+(\.[0-9]+)? with at
// most 30 integer and 12 fractional digits, checked byte by byte before any
// parsing. Non-terminating quotients (per-second rates, pro-rata shares,
// uptime) are never materialised with finite precision: the engine keeps the
// exact numerator and denominator and rounds the rational once (roundRat),
// which is stronger than the 34 significant digits model.md asks for. A money
// figure is rounded once to its currency's ISO 4217 minor unit; tier
// decisions compare exact rationals (100·(T−D) < bound·T).
//
// Decision: hourly_amount is optional: a customer without a baseline (one
// followed for its SLA only) loses 0 revenue. Every money input (rates, fees, costs, lifetime value, minimum
// credit, FX rates) must be ≥ 0; FX rates and the THRESHOLD
// downtime_threshold must be > 0; seasonal multipliers must be ≥ 0.
//
// # Time (§2)
//
// Instants are truncated to whole seconds toward the past; windows are
// [start, end) and end must be after start after truncation. Windows lie in
// [1970-01-01, 2200-01-01) and last at most 366 days. Where windows of one
// customer overlap, the impact at an instant is the maximum fraction over
// the windows covering it, so nothing is counted twice. Cost grows with hour
// buckets, billing periods and windows, never with seconds.
//
// Decision: the same time range bounds every other instant of the input
// (seasonal factors, overrides, maintenance windows, period fees, active
// dates). The sum over all windows of their length in whole hours (rounded
// up) is bounded by Limits.MaxWindowHours, so no request can ask for
// unbounded work through many long windows.
//
// # Local hours (§3)
//
// A local hour of a customer's zone is a maximal run of instants with the
// same local wall-clock hour and the same UTC offset. Decisions, following
// from that definition: on a fall-back day the repeated hour is two local
// hours of 3,600 s each (a 25-hour day), both with the same weekly-profile
// index; on a spring-forward day the skipped hour does not exist (a 23-hour
// day); a zone transition that is not on a whole hour (Australia/Lord_Howe)
// cuts the local hour at the transition. Zones with 30- and 45-minute offsets
// (Asia/Kolkata, Asia/Kathmandu) have local hours that start at :30 or :45
// UTC. The weekly-profile index is 24·weekday + hour of the local wall clock,
// Monday = 0.
//
// Rate of a local hour h: the override whose hour_start is exactly h's first
// instant, else the weekly profile entry (or hourly_amount) multiplied by
// every seasonal factor containing the instant. Decision: an override is the
// whole rate of its hour — seasonal factors do not multiply it. Seasonal
// factors apply per instant, so a factor that starts mid-hour changes the
// rate mid-hour. An override's hour_start must be the first instant of a
// local hour, and one hour has at most one override.
//
// gross = Σ rate × seconds × fraction / 3600 over the customer's windows of
// the incident (all services together, maximum fraction at each instant);
// net = gross × (1 − recapture). Each is rounded once, half-even, to the
// customer's currency; recaptured = gross − net of the rounded figures.
//
// # Recovery cost (§4)
//
// Labour costs hours × hourly_rate × engagement (default 1), expenses
// quantity (default 1) × unit_cost, in the incident's recovery_currency.
// Items naming a customer are summed exactly per customer and rounded once;
// shared items are summed exactly, rounded once and allocated in minor units
// by largest remainder, ties by ascending customer id (byte order), EVEN or
// BY_IMPACT (weights ∫ f dt of each customer in the incident).
//
// Decisions: an incident without recovery_currency has no recovery cost
// (CustomerEstimate.RecoveryCost is nil) and may carry no items; an item may
// only name a customer with a window in the incident; shared items in an
// incident without windows cannot be allocated and are rejected. Affected
// customers are the customers with at least one window in the incident; only
// they appear in its estimate.
//
// # SLA credits (§5)
//
// Per contract (customer, service) and billing period, from all windows of
// that customer and service over all incidents: drop windows whose cause is
// excluded; remove maintenance windows when exclude_maintenance is set;
// THRESHOLD: instants at ≥ downtime_threshold are down, merged into maximal
// intervals over the whole timeline, intervals shorter than
// min_downtime_seconds dropped; PROPORTIONAL: downtime = ∫ f dt. Then clip to
// the period (and, with DEPLOYED, to [active_from, active_until)), count D
// with the granularity, T = measured seconds, uptime = 100·(T−D)/T exact
// (reported half-even to 6 decimals), tier with the lowest bound whose
// condition holds, credit_percent = min(tier, cap), computed_credit =
// percent/100 × fee rounded with the contract's mode, minimum credit, and
// attribution of the owed credit to incidents by largest remainder.
//
// Decisions:
//   - A billing period starts at the first instant whose local wall clock
//     (contract zone) reads at least 00:00 on the 1st of its month (of the
//     quarter's first month for QUARTERLY); this is well defined even where
//     midnight is skipped or repeated by a DST change.
//   - Clock minutes are those of the contract's zone. Granularity applies
//     to the downtime after clipping to the period (and the deployed
//     range): MINUTES_TOUCHED counts 60 s for every clock minute containing
//     any of it, MINUTES_FULL 60 s for every clock minute entirely inside
//     it. A touched minute cut by a DEPLOYED edge that is not on a whole
//     minute still counts 60 s, so in the degenerate case of a measured
//     range shorter than its touched minutes D is capped at T, keeping
//     uptime in [0, 100].
//   - The statement's fee is shown rounded to the currency's minor unit with
//     the contract's rounding mode (it is the contract's figure); the credit
//     is computed from the exact fee, so nothing is rounded twice.
//   - monthly_fee is optional (0); a period_fee whose period_start is not the
//     first instant of a period is never used; two period_fees with the same
//     period_start are rejected. Without tiers the credit is 0.
//   - With DEPLOYED, an unset active_from means "since always" and an unset
//     active_until "still active". PERIOD ignores the active dates.
//   - A statement lists every incident with a window of its customer and
//     service overlapping the period — also incidents whose windows were
//     excluded — with that incident's own counted downtime (steps 1–5 on its
//     windows alone) and its share of credit_amount. If credit is owed but no
//     incident has downtime of its own (two short outages of different
//     incidents that only together pass min_downtime_seconds), the credit is
//     attributed by each incident's overlap with the counted down intervals;
//     if credit is owed with no downtime at all (an inclusive tier at 100),
//     it is split evenly among the incidents whose cause the contract does
//     not exclude (among all of them if it excludes every one).
//   - A CustomerEstimate lists one AttributedCredit for every statement of
//     that customer in which the incident appears, sorted by service and
//     period start, zero credits included.
//
// # Churn exposure (§6)
//
// churn_probability × lifetime_value, rounded once half-even, per affected
// customer and incident. Decision: with either value unset the exposure is 0
// in the customer's currency.
//
// # Totals and currencies (§7)
//
// Totals per currency are sums of the rounded per-customer figures, sorted by
// currency code; the currencies of an incident are its affected customers'
// and its recovery currency. With a reporting currency every other currency
// of any incident's totals needs a direct rate (from → reporting); each
// reporting figure is Σ total × rate, exact, rounded once half-even.
// Decision: rates are > 0, a pair may appear once, and rates the report does
// not need are ignored.
//
// # Reproducibility (§8)
//
// ModelVersion names these rules. InputsDigest is "sha256:" and the hex
// SHA-256 of a canonical encoding of the scenario: every list sorted, every
// decimal in its shortest spelling, every instant truncated to seconds, every
// default applied — so the digest changes exactly when a figure could.
// Decision: ModelVersion must move with every change of a rule that can
// change a figure; a recompute relies on it (below).
//
// # Defaults on read (stored resources)
//
// Decision: a stored customer, contract or incident is returned with the
// defaults in force filled in for its unset fields (Customer.WithDefaults,
// Contract.WithDefaults, Incident.WithDefaults): time zone UTC, recapture
// 0, MONTHLY, THRESHOLD with threshold 1 (PROPORTIONAL keeps no
// threshold), SECONDS, PERIOD, HALF_EVEN, cap 100, minimum credit 0,
// monthly fee 0, cause UNKNOWN, allocation EVEN. What is stored is left as
// written; since the engine applies the same defaults and the inputs
// digest encodes them, no figure or digest depends on whether a default was
// spelled out.
//
// # Recompute jobs (stored estimates)
//
// The model is silent on recomputation; these are the decisions
// (recompute.go):
//
//   - A job recomputes the incidents its filter selects now; the filter's
//     criteria are ANDed and each is about some window of the incident (a
//     window overlapping [since, until), half-open; a window of one of the
//     customers; or the incident id). A customer criterion recomputes the
//     whole incident, since its recovery allocation spans all its customers.
//     An empty filter is every incident, those never estimated included:
//     they get their first revision.
//   - A recomputed estimate keeps the reporting currency and FX rates its
//     latest revision was computed with.
//   - Unchanged: same ModelVersion and InputsDigest as the latest revision
//     (SameComputation) — same rules, same inputs, so the same figures,
//     which are then not read — or, failing that, every figure equal as a
//     number (CompareEstimates), as when only a display name changed. Only
//     a changed estimate gets a new revision; the earlier ones are kept. The
//     inputs digest alone never makes a change.
//   - Differences are new minus old of each figure of the incident's totals,
//     per currency, summed over the job's changed incidents; an incident's
//     first estimate counts from zero. Reporting-currency totals are not
//     differenced: rates may change between revisions.
//   - An incident whose stored data the engine refuses (a recovery item
//     naming a customer without a window, a rate missing for a new
//     currency) is a failed estimate: recorded with its reason, counted in
//     Failed and Done, and the job ends FAILED once every chunk is done,
//     everything else written. A database error instead fails the chunk,
//     which is retried. An incident deleted after planning is done,
//     unchanged.
//   - A chunk is done exactly once: its writes, its changes and its counts
//     are one transaction with its "done" mark, under a lease that a worker
//     must still hold to commit. A statement rewritten by a recompute gets a
//     new revision only if its body changed, so the revision counts after an
//     interrupted and resumed job equal a clean run's.
package impact
