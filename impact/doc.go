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
// # Time zones
//
// Decision: zone names are resolved against the IANA database embedded in
// this package (zoneinfo.zip, release TZDataVersion), never the host's:
// with the host's database, a machine without /usr/share/zoneinfo knew no
// zone, and two hosts with different releases could give different figures
// for the same inputs. The binaries also embed Go's time/tzdata for any
// other zone lookup. The release is an input of the inputs digest of every
// scenario in which a customer or contract names a zone other than UTC (a
// UTC-only scenario depends on no release, and its digest does not name
// one), so the same digest means the same figures on every host; updating
// the database moves TZDataVersion, and a recompute then gives zoned
// estimates a new revision. ModelVersion does not move with it: the rules
// are the same.
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
//   - A recomputed estimate reports with the stored ReportingSettings; when
//     they name no reporting currency, it keeps the currency and FX rates
//     its latest revision was computed with (see "Fresh stored figures").
//   - Unchanged: same ModelVersion and InputsDigest as the latest revision
//     (SameComputation) — same rules, same inputs, so the same figures,
//     which are then not read — or, failing that, every figure equal as a
//     number (CompareEstimates), as when only a display name changed. The
//     inputs digest alone never makes a change of the job; but an estimate
//     whose inputs digest moved gets a revision even with equal figures, so
//     that its revision names the inputs it reflects (and it reads CURRENT).
//     The earlier revisions are kept.
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
//   - Decision: every computation from stored data (an estimate, a
//     statement, a simulation, headroom) reads the incidents of the windows
//     it read the same way: one deleted in between is left out with its
//     windows, rather than failing the call (a retry would read without it
//     anyway).
//   - A chunk is done exactly once: its writes, its changes and its counts
//     are one transaction with its "done" mark, under a lease that a worker
//     must still hold to commit. A statement rewritten by a recompute gets a
//     new revision only if its body changed, so the revision counts after an
//     interrupted and resumed job equal a clean run's.
//
// # Hostile input: bounded work, ids and text
//
// The model is silent on what a careless or hostile caller may send; these
// are the decisions (cancel.go, cost.go, text.go):
//
//   - Decision: the engine observes its caller's cancellation
//     (EstimateScenarioContext): it looks at the context every 1,024 units
//     of work (hour buckets, spans swept, intervals cut, periods and
//     incidents attributed, windows validated and digested), so a call
//     stops within milliseconds of its deadline or of the client hanging
//     up, and returns the context's error, which the server reports as
//     DEADLINE_EXCEEDED or CANCELLED. EstimateScenario is the same with
//     context.Background(). The engine reads no clock.
//   - Decision: the engine is O(n log n) in windows and hour buckets
//     whatever the shape of the input: distinct impact fractions are found
//     by their canonical spelling, maintenance is cut from the merged cover
//     rather than from every window, attribution by overlap searches the
//     counted intervals, each period's incidents come from the periods each
//     window touches, seasonal factor products are kept in a product tree.
//     Figures are those of the direct definitions, digit for digit.
//   - Decision: Limits.MaxCost bounds Cost(scenario), the engine's work in
//     cost units computed from sizes alone: every window 1 + its hours
//     (rounded up), every customer 1 + its seasonal factors and overrides,
//     every contract 1 + its tiers, maintenance windows and period fees,
//     every incident 1 + its recovery items, every FX rate 1. The default
//     is 4,000,000 (ten times that for stored estimates). Above it the
//     scenario is EINVALID with one violation on the scenario itself (field
//     ""), decided after the counts and before anything else is looked at.
//   - Decision: ids of new stored resources (customers, contract services,
//     incidents, outage windows; job ids are the server's) are 1–63
//     characters of ASCII letters, digits and - . _ ~, starting with a
//     letter or a digit (CheckResourceID). Ids stored before the rule keep
//     working: they are read, updated and deleted as they are. A
//     scenario's ids (stateless) keep their bound of Limits.MaxIDBytes.
//   - Decision: no id, reference, code or other text field holds a control
//     character (C0, DEL, C1) or invalid UTF-8 (CheckText); free text
//     (display names, titles, labour roles, expense descriptions) may hold
//     tab and newline. A NUL byte in any field of any stored-resource
//     request is INVALID_ARGUMENT before the request is handled.
//   - Decision: a request id is at most 128 printable ASCII characters
//     without spaces (0x21–0x7e), the rule of x-request-id
//     (CheckRequestID), and is bound to its request: the store keeps with
//     it a SHA-256 of the method, the parent, the caller (token name) and
//     the body. A retry of the same request returns the first result; the
//     id reused with anything different — another body, parent, caller or
//     method — is ECONFLICT (ALREADY_EXISTS) naming the id, and writes
//     nothing. Ids recorded before digests were (no digest) match any
//     retry of their method, as before: a retry in flight across an
//     upgrade still gets its first result.
//   - Decision: update_mask "*" is a full replacement (AIP-134): every
//     mutable field the body omits is cleared; the id and output-only
//     fields (name, etag, create and update times) are kept. The resource
//     validated is the one stored: the transport and the store apply the
//     same table (CustomerMask, ContractMask, IncidentMask) to the same
//     stored value.
//   - Decision: a customer, contract, incident or batch of windows written
//     on its own is checked by the engine's own checks of that resource
//     (ValidateCustomer, ValidateContract, ValidateIncident,
//     ValidateWindows), with paths relative to it; the checks between
//     resources (a window's customer, a recovery item's window) and the
//     request's size limits are made when a scenario is estimated.
//   - Decision: etags are opaque, `"` + 16 hex digits + `"`: the first 8
//     bytes of a SHA-256 of the resource name, its create time (to the
//     microsecond) and its revision. They differ between resources, between
//     revisions and between incarnations of one name (a resource deleted
//     and created again has a later create time), so a stale etag from
//     before a delete never matches the recreated resource. A stale etag is
//     EABORTED; one of the earlier form `"r<revision>"` is simply stale (no
//     migration: a client holding one reads again); anything else is
//     EINVALID.
//
// # Labels, headroom and what-if exposure (§11)
//
// Labels (labels.go) are AIP-style key/value pairs on stored customers and
// contracts, for selectors such as region=eu-west-1. Decisions: a key is 1
// to 63 characters of lowercase letters, digits, "_" and "-", starting with
// a letter; a value is up to 63 of the same characters and may be empty;
// a resource has at most 64 labels. A bad key or value is EINVALID at
// labels["key"]. A contract's label overrides its customer's for the same
// key (EffectiveLabel). Labels never enter a figure or the inputs digest.
//
// A ContractSelector (customer ids, services, labels) selects a contract
// when every criterion given holds; the empty selector selects every
// contract. Decision: each id list holds at most 1,000 entries.
//
// Headroom (headroom.go) counts D and T exactly as the statement of the
// same period does and reports the statement's tier, percent and owed
// credit. For every more severe tier, Δ is the least whole number of
// seconds with 100·(T − D − counted(Δ)) < bound·T (≤ when inclusive):
// with X = T − D − bound·T/100 the least counted value is ⌊X⌋ + 1 (⌈X⌉
// inclusive); counted(Δ) is Δ for SECONDS and PROPORTIONAL, and Δ rounded
// up to whole minutes for MINUTES_TOUCHED and MINUTES_FULL, so there Δ is
// 60·(m − 1) + 1 for the least sufficient m minutes; Δ is at least
// min_downtime_seconds. Decisions:
//   - For MINUTES_FULL the rule is model.md's to the letter: an outage
//     aligned to clock minutes counts counted(Δ), i.e. Δ rounded up (a
//     literal full outage of Δ seconds would count only its whole
//     minutes; §11 fixes the rounded-up figure, and the tests check it
//     with an outage of counted(Δ) seconds).
//   - Reachable means Δ ≤ T − D ("what is left of T outside counted
//     downtime", remaining_seconds); an unreachable tier has no seconds.
//   - A tier's credit_amount is at that tier's own percent (capped), on the
//     period's fee, rounded with the contract's mode, 0 when not above the
//     minimum — also when the same Δ would reach a more severe tier too.
//   - Tiers are listed least severe first; a tier with the same percent as
//     the current one is still listed.
//   - The default period is the one containing the server clock's now, in
//     the contract's zone. A period without a deployed part has no
//     headroom (FAILED_PRECONDITION, as it has no statement).
//   - ListContractHeadroom orders contracts by the seconds of their least
//     severe reachable tier, ascending, ties by contract name; contracts
//     with no reachable tier (or no more severe tier at all) come last, by
//     name; contracts not deployed in the period are left out. Its period
//     names one month or quarter for every contract: a contract billed the
//     other way is measured in its period containing that one's first
//     day. A page token pins the clock reading of the first page.
//
// What-if (simulate.go) adds one hypothetical incident (cause as asked,
// default UNKNOWN) with a window [start, start + duration) of the asked
// fraction (default 1) on every selected contract's service, and prices it
// with the engine, with every stored window of those contracts in the
// periods it touches (closed under overlap as for :estimate). Lost revenue
// and churn are those of the hypothetical incident (§3, §6); marginal
// credit is credit_amount with it minus without it, per statement.
// Decisions:
//   - Marginal credits are listed for every statement of a selected
//     contract whose period the hypothetical window overlaps, zeros
//     included, plus any other whose credit moved all the same (an
//     interval the outage extends across a period edge).
//   - Start and durations are truncated to whole seconds; a duration is 1 s
//     to 31 days; at most 10 durations; start in [1970-01-01, 2200-01-01)
//     and start + duration at most 2200-01-01. top_n 0 means 100; more
//     than 10,000 is EINVALID.
//   - Totals are per currency of the selected customers. With a reporting
//     currency every other currency met needs a direct rate (EINVALID on
//     fx_rates otherwise, never a silent zero); reporting totals are
//     Σ total × rate, exact, rounded once half-even. The request's
//     reporting currency and rates are used; stored reporting settings,
//     where a build has them, are the default.
//   - The top ranks by marginal credit × rate, then lost revenue net ×
//     rate, exact, then ascending id; without a reporting currency the
//     amounts compare as numbers in their own currencies.
//   - The selection is read in chunks of customers and only the totals
//     and the top N are kept, so memory does not grow with the book and
//     time is linear in the selected contracts.
//
// # The credit ledger (§12)
//
// ledger.go. A CreditLine exists per (customer, contract, billing period)
// whose statement credit_amount is or has ever been positive; until it is
// issued its amount, incidents and the contract's claim policy follow the
// stored statement and contract. Claim policy: AUTOMATIC (default) or
// ON_REQUEST with exactly one of deadline_days (local midnight of
// period_end + N days, in the contract's zone) or deadline_billing_periods
// (the end of the Nth billing period after the credit's: the start of the
// (N+1)th). States are derived at read from the clock (StateAt): recorded
// ISSUED, REJECTED, APPROVED, CLAIMED first, then ACCRUING before the
// period's end, APPROVED for AUTOMATIC, CLAIMABLE before the deadline,
// EXPIRED from it. A line books its amount while it is live (ACCRUING,
// CLAIMABLE, CLAIMED, APPROVED) and 0 otherwise; every change of what it
// books is one entry (Booking): ACCRUAL for the first, TRUE_UP for a move
// of a live line, RELEASE on expiry or rejection, ISSUE on issue. A line's
// booked amount is the sum of its entries.
//
// Decisions:
//   - Money in the ledger is integer minor units of the line's currency
//     (credits are already rounded to them); entry sums are exact.
//   - Transitions: a claim needs an ON_REQUEST line that is ACCRUING or
//     CLAIMABLE (a claim on an AUTOMATIC line is refused: nothing to
//     claim); approve and reject need CLAIMED; issue needs APPROVED (an
//     AUTOMATIC line from its period's end). Anything else is
//     FAILED_PRECONDITION naming the state. The etag is checked before the
//     state. A claim records its time, reference and actor; a rejection its
//     reason; an issue its amount (the line's currency, ≥ 0, at most the
//     currency's minor-unit digits) and billing reference. An issued line is
//     frozen: later statements do not move it.
//   - The ISSUE entry settles what the line booked, whatever amount billing
//     issued; a difference between issued and computed amounts is reported
//     by reconciliation (impactctl issue-credits), not booked.
//   - A line that is created already EXPIRED or REJECTED books nothing; a
//     line whose amount falls to 0 stays, with a TRUE_UP to 0.
//   - The claim policy followed is the contract's current one, for every
//     line not issued: a contract update re-derives deadlines and books
//     what the new states need (a longer deadline can make an EXPIRED line
//     CLAIMABLE again: booked back as a TRUE_UP). A deleted contract's
//     lines stay as they were.
//   - A customer whose currency changes: the old currency's booking goes
//     to 0 (TRUE_UP) and the new one is booked (TRUE_UP) in the new
//     currency; each entry carries its currency.
//   - Accounting periods are calendar months of the ledger's zone (UTC
//     unless impactd's --ledger-zone says otherwise); an entry belongs to
//     the month of the change (EntryPeriod), or, if that month is closed,
//     to the first open month after the last closed one.
//   - Releases by expiry happen by time alone. They are booked without a
//     clock job: every ledger call, statement write and contract update
//     first books the releases due by now (the store's settle), each dated
//     to its deadline and booked in the deadline's month if open, else the
//     first open one. A close books them before it closes.
//   - Months close in calendar order: the first close names the first
//     month with entries (or, before any, any ended month) and closes every
//     earlier month with it; each later close must name the month right
//     after the last closed one. Closing a closed month, a month that has
//     not ended, or out of that order is FAILED_PRECONDITION.
//   - Accrual report of month P: opening = Σ entries before P; accruals,
//     true-ups (signed), releases (−Σ RELEASE) and issued (−Σ ISSUE) in P;
//     closing = opening + accruals + true-ups − releases − issued. The
//     expected liability takes each line's state at P's end (or now, if
//     earlier) and what it booked through P, and is rounded once
//     half-even; with p = 1 it equals closing. claim_probability is in
//     [0, 1], default 1.
//   - A credit note's idempotency key is a digest of the line's name,
//     currency and amount (CreditNoteKey): the same on every export of the
//     same line and amount, new when the amount moved.
//   - Decision: a watch of a job sends the job as last read, and every
//     watch of one job in a process shares one read per poll, so a state
//     that lasted less than a poll may be skipped; the first state sent and
//     the terminal one never are, and states never go back.
//
// # Customer impact statements
//
// An impact statement is one customer's account of one incident, computed
// from the stored data as the incident's estimate is (same assembly, same
// engine), never stored. Its periods are the statements of the billing
// periods the incident's own windows touch, with this incident's share of
// the counted downtime and of the credit; its exclusions come from
// Exclusions (exclusions.go), which applies the contract rules of §5 to
// each of the customer's windows. Decisions:
//
//   - Exclusions are listed by window and time, and each excluded second
//     gets the first reason that applies, in the order the engine applies
//     the rules: no contract for
//     the service, a cause the contract excludes, outside the contract's
//     active range (DEPLOYED), a maintenance window, an impact fraction
//     below the downtime threshold, and last a down interval shorter than
//     min_downtime_seconds — judged on the intervals merged over every
//     incident's windows of that contract, so a blip that touches another
//     outage is not excluded. A window part not listed counted (before
//     granularity rounding). PROPORTIONAL contracts have no threshold or
//     minimum, so only the first four reasons apply to them.
//   - The tier named is the one the engine applied: the lowest bound whose
//     condition holds on the exact uptime (ReachedTier), before the cap.
//   - Claim mode and deadline are those of the contract's claim policy;
//     while contracts have none, the mode is unspecified and the statement
//     says to ask the account manager.
//
// # Paged estimate customers
//
// Decision: ListCustomerEstimates sorts amounts in different currencies by
// their value in the estimate's reporting currency (amount × the
// estimate's own rate, exact); without a rate an amount compares as it
// stands. Ties, and customers without the figure (no recovery currency,
// last), go by customer id.
// # Fresh stored figures (§10)
//
// A stored estimate records what its computation read (EstimateDeps): each
// affected customer with the range of its windows read, the other
// incidents whose windows it read, every window read, and the reporting
// settings it used. It reads STALE exactly while something it read differs
// from what is stored now, and names what (StaleReasons); the figures shown
// are the last computed.
//
//   - Decision: "differs" is by fingerprint, not by history: a change
//     undone (a window added and deleted, a value set back) makes the
//     estimate CURRENT again, since its inputs are again those it was
//     computed from. An update that stores the same values changes nothing.
//   - Decision: what an estimate depends on is what the inputs digest
//     covers, read as :estimate reads it: the incident (every field), each
//     affected customer (every field, display name included) with all its
//     contracts, every window of those customers touching the billing
//     periods the incident touches, closed under overlap (no margin beyond
//     the periods), and of the other incidents of those windows their title,
//     cause and allocation (their recovery items are not read). So a display name
//     makes an estimate STALE; its refresh then writes a revision with the
//     same figures and the new digest.
//   - Decision: reporting settings. :estimate without reporting_currency
//     and fx_rates uses the stored settings; with either, the request's
//     options, for that revision only. A revision records the currency and
//     the rates it used: those into the reporting currency from the
//     currencies its figures are in (customers' and the incident's recovery
//     currency); NeededRates drops the others, so they are not in the
//     inputs digest either. A settings change makes STALE the estimates
//     that used the settings and whose currency or used rates differ now; a
//     refresh or recompute uses the settings, except that an estimate whose
//     latest revision had its own currency from :estimate keeps it while the
//     settings name none. Stored settings lacking a needed rate are
//     FAILED_PRECONDITION naming reportingSettings.
//   - Decision: a revision other than the latest reads STALE naming the
//     estimate itself, unless it has the latest's model version and inputs
//     digest (then the latest's state).
//   - Decision: the refresh recomputes an estimate once its newest change is
//     older than the quiet delay; one whose stored data cannot be estimated
//     stays STALE with the engine's reason (RefreshError) and is not retried
//     until a later write touches it. No revision is written when the
//     figures, model version and inputs digest are unchanged (any save:
//     :estimate, refresh, recompute); a statement keeps its revision while
//     its body is unchanged.
//   - Decision: a statement of a period no window overlaps, inside the
//     contract's active range [active_from, active_until) (unset: open), is
//     QuietStatement: downtime 0, uptime 100, the tier 100 % meets. Outside
//     that range there is none.
//
// Impact statements and the incident list (the console's reads):
//   - Decision: an impact statement's period reports the contract's current
//     claim policy (AUTOMATIC when unset) and, ON_REQUEST, the deadline
//     ClaimDeadline gives its period — the one its credit line carries — so
//     the statement's "claim it before" and the ledger's refusal agree; the
//     words give it in the contract's zone, labelled.
//   - Decision: an incident's span (StoredIncident.StartTime, EndTime) is
//     the first start and the last end of its stored windows; the incident
//     list filters on it (a bound never matches an incident without
//     windows) and orders by StartTime, incidents without windows last when
//     newest first, ties by id. A cause filter of UNKNOWN also matches an
//     unset cause (its default).
package impact
