package impact

import (
	"context"
	"fmt"
	"time"
)

// Stored resources (api.md "Stored resources"). They reuse the scenario
// types so that a stored estimate is computed by the same engine, figure for
// figure, as the stateless one: the estimate path rebuilds a Scenario from
// them. Decimal fields keep the caller's plain-notation strings; the store
// writes them in a canonical spelling (no leading zeros, no negative zero,
// fractional digits as given) that both database engines read back byte for
// byte. Instants are stored in UTC with microsecond precision.

// StoredCustomer is a Customer resource, "customers/{ID}". Customer.Contracts
// is not part of it (contracts are their own resources) and is always nil.
type StoredCustomer struct {
	Customer
	Name       string // customers/{ID}
	CreateTime time.Time
	UpdateTime time.Time
	Etag       string
}

// StoredContract is a Contract resource,
// "customers/{CustomerID}/contracts/{Service}": its id is the service.
type StoredContract struct {
	CustomerID string
	Contract
	Name       string
	CreateTime time.Time
	UpdateTime time.Time
	Etag       string
}

// StoredIncident is an Incident resource, "incidents/{ID}". Windows are
// their own resources: Incident.Windows is always nil.
type StoredIncident struct {
	Incident
	Name       string
	CreateTime time.Time
	UpdateTime time.Time
	Etag       string
	// StartTime and EndTime span the incident's stored windows: the first
	// window's start and the last one's end; zero without windows.
	StartTime, EndTime time.Time
}

// IncidentOrder is the order of ListIncidentsBy.
type IncidentOrder int

const (
	// IncidentsByID: ascending id.
	IncidentsByID IncidentOrder = iota
	// IncidentsNewestFirst: descending StartTime, ties by ascending id;
	// incidents without windows last.
	IncidentsNewestFirst
	// IncidentsOldestFirst: ascending StartTime, ties by ascending id;
	// incidents without windows first.
	IncidentsOldestFirst
)

// TimeBound is one bound on an instant: Op is "<", "<=", ">" or ">=".
type TimeBound struct {
	Op string
	At time.Time
}

// IncidentFilter narrows ListIncidentsBy; a zero field does not filter.
// A time bound never matches an incident without windows.
type IncidentFilter struct {
	Causes []Cause     // any of them (UnknownCause also matches an unset cause)
	Start  []TimeBound // on StartTime, all of them
	End    []TimeBound // on EndTime, all of them
	Order  IncidentOrder
}

// StoredWindow is an OutageWindow resource, "incidents/{IncidentID}/windows/{ID}".
// On create, ID may be empty: the store then assigns one. Windows are
// immutable (create and delete only), so they carry no etag.
type StoredWindow struct {
	IncidentID string
	ID         string
	OutageWindow
	Name       string
	CreateTime time.Time
}

// StoredEstimate is the IncidentEstimate resource, "incidents/{id}/estimate":
// one revision of the estimate of a stored incident. Saving a new estimate
// adds a revision and keeps the earlier ones.
type StoredEstimate struct {
	IncidentEstimate
	Name         string
	ModelVersion string
	InputsDigest string
	ComputeTime  time.Time
	Revision     int64 // 1, 2, …; assigned by the store
	// The request options it was computed with, kept so that a recompute
	// reports in the same currency at the same rates.
	ReportingCurrency string
	FXRates           []FXRate
	// What wrote this revision and for whom, set by the store: Source is
	// "EstimateIncident" (the :estimate method, Actor its caller) or
	// "recomputeJobs/{id}" (a recompute job, Actor the job's creator).
	// Both are empty on revisions stored before they were recorded.
	Source string
	Actor  string

	// Freshness, set on reads (see fresh.go): State, and when STALE the
	// names of the changed resources and, when the refresh could not
	// compute the estimate, why (a FAILED_PRECONDITION).
	State        EstimateState
	StaleReasons []string
	RefreshError string
	// Deps is what the computation read; SaveEstimate records it. Nil
	// records no dependencies beyond the incident itself.
	Deps *EstimateDeps
}

// StoredStatement is an SlaStatement resource,
// "customers/{customer}/contracts/{service}/statements/{Period}". The latest
// computation of a (customer, service, period) replaces the previous one;
// Revision counts them.
type StoredStatement struct {
	SLAStatement
	Period      string // "2025-07" (MONTHLY) or "2025-Q3" (QUARTERLY); see StatementPeriod
	Name        string
	ComputeTime time.Time
	Revision    int64 // assigned by the store
}

// Resource names.

func CustomerName(id string) string { return "customers/" + id }
func ContractName(customerID, service string) string {
	return "customers/" + customerID + "/contracts/" + service
}
func IncidentName(id string) string           { return "incidents/" + id }
func WindowName(incidentID, id string) string { return "incidents/" + incidentID + "/windows/" + id }
func EstimateName(incidentID string) string   { return "incidents/" + incidentID + "/estimate" }
func StatementName(customerID, service, period string) string {
	return ContractName(customerID, service) + "/statements/" + period
}

// StatementPeriod is the resource id of the billing period starting at
// start: the year and month ("2025-07") or quarter ("2025-Q3") of the
// period's first instant on the wall clock of the contract's zone (tz, ""
// meaning UTC). A period starts on the 1st of its month locally (§5), so that
// local date names it even across DST changes.
func StatementPeriod(start time.Time, tz string, bp BillingPeriod) (string, error) {
	loc, ok := loadZone(tz) // cached: callers name a statement per customer
	if !ok {
		return "", Errorf(EINVALID, "unknown time zone %q", tz)
	}
	l := start.In(loc)
	if bp == Quarterly {
		return fmt.Sprintf("%04d-Q%d", l.Year(), (int(l.Month())-1)/3+1), nil
	}
	return fmt.Sprintf("%04d-%02d", l.Year(), int(l.Month())), nil
}

// Lists.

// Page size bounds of every List (AIP-158): 0 means DefaultPageSize, larger
// than MaxPageSize is coerced down, negative is EINVALID.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageRequest asks for one page of a List. Token is the NextPageToken of the
// previous page of the same List with the same parent and filters, or empty
// for the first page.
type PageRequest struct {
	Size  int
	Token string
}

// Page is one page of a List. NextPageToken is empty on the last page. It is
// opaque: it encodes the last key returned (keyset pagination, so a page
// costs the same anywhere in a list of any length) and a hash of the parent
// and filters, so reusing it with other filters is EINVALID.
type Page[T any] struct {
	Items         []T
	NextPageToken string
}

// WindowFilter narrows ListWindows. An empty field does not filter.
type WindowFilter struct {
	CustomerID string
}

// FieldMask lists the fields an Update replaces, as snake_case paths of the
// proto resource ("display_name", "baseline.hourly_amount", "tiers"). "*"
// replaces every mutable field. An empty mask is EINVALID: the transport
// turns an omitted update_mask into the paths the request populated
// (AIP-134) before calling the store. Ids and names are immutable.
type FieldMask []string

// Actors. Every mutation records who made it in an audit row.

type actorKey struct{}

// Anonymous is the actor of mutations made without an authenticated caller.
const Anonymous = "anonymous"

// WithActor returns a context whose mutations are recorded as made by name
// (the caller's token name).
func WithActor(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, actorKey{}, name)
}

// ActorFrom returns the actor recorded with ctx, or Anonymous.
func ActorFrom(ctx context.Context) string {
	if s, ok := ctx.Value(actorKey{}).(string); ok && s != "" {
		return s
	}
	return Anonymous
}

// Store is what the server needs from persistence. Every method returns
// *Error with a code listed in its documentation, or an internal error.
// Every mutation is one transaction that also writes an audit row (actor
// from ActorFrom(ctx), action, resource name, time); a failure leaves
// nothing written.
//
// Common to all methods: EINVALID for an empty id or one containing "/",
// an invalid decimal string, a negative page size, a malformed page token or
// one reused with another parent or filter, or a bad update mask.
//
// requestID (Create methods) is optional. A retry with the same requestID
// and method returns the resource as it is now, without writing anything
// again — also when the first call's resource has been deleted since
// (ENOTFOUND then).
type Store interface {
	CustomerStore
	ContractStore
	IncidentStore
	WindowStore
	EstimateStore
}

// CustomerStore stores customers.
type CustomerStore interface {
	// CreateCustomer stores c (c.Contracts is ignored). Returns ECONFLICT
	// if the customer already exists.
	CreateCustomer(ctx context.Context, c *Customer, requestID string) (*StoredCustomer, error)
	// GetCustomer returns ENOTFOUND if the customer does not exist.
	GetCustomer(ctx context.Context, id string) (*StoredCustomer, error)
	// ListCustomers lists customers by ascending id.
	ListCustomers(ctx context.Context, page PageRequest) (*Page[StoredCustomer], error)
	// UpdateCustomer replaces the fields of mask with those of c (c.ID
	// names the customer). Returns ENOTFOUND if it does not exist, EABORTED
	// if etag is set and is not the current one (or a concurrent update won).
	UpdateCustomer(ctx context.Context, c *Customer, mask FieldMask, etag string) (*StoredCustomer, error)
	// DeleteCustomer deletes the customer with its contracts and
	// statements. Returns ENOTFOUND if it does not exist, EABORTED on a
	// stale etag, EFAILEDPRECOND if any incident still has a window of it.
	DeleteCustomer(ctx context.Context, id, etag string) error
}

// ContractStore stores contracts, one per (customer, service).
type ContractStore interface {
	// CreateContract returns ENOTFOUND if the customer does not exist,
	// ECONFLICT if it already has a contract for k.Service.
	CreateContract(ctx context.Context, customerID string, k *Contract, requestID string) (*StoredContract, error)
	// GetContract returns ENOTFOUND if the contract does not exist.
	GetContract(ctx context.Context, customerID, service string) (*StoredContract, error)
	// ListContracts lists a customer's contracts by ascending service.
	// Returns ENOTFOUND if the customer does not exist.
	ListContracts(ctx context.Context, customerID string, page PageRequest) (*Page[StoredContract], error)
	// UpdateContract: as UpdateCustomer; k.Service names the contract.
	UpdateContract(ctx context.Context, customerID string, k *Contract, mask FieldMask, etag string) (*StoredContract, error)
	// DeleteContract deletes the contract and its statements. Returns
	// ENOTFOUND, or EABORTED on a stale etag.
	DeleteContract(ctx context.Context, customerID, service, etag string) error
}

// IncidentStore stores incidents (without their windows).
type IncidentStore interface {
	// CreateIncident returns EINVALID if in.Windows is not empty, ECONFLICT
	// if the incident already exists.
	CreateIncident(ctx context.Context, in *Incident, requestID string) (*StoredIncident, error)
	// GetIncident returns ENOTFOUND if the incident does not exist.
	GetIncident(ctx context.Context, id string) (*StoredIncident, error)
	// BatchGetIncidents returns the incidents with the given ids (at most
	// MaxPageSize), in the order asked. Returns ENOTFOUND if one is missing.
	BatchGetIncidents(ctx context.Context, ids []string) ([]StoredIncident, error)
	// ListIncidents lists incidents by ascending id.
	ListIncidents(ctx context.Context, page PageRequest) (*Page[StoredIncident], error)
	// ListIncidentsBy lists the incidents f selects in f's order; a page
	// token works only with the filter and order it came from.
	ListIncidentsBy(ctx context.Context, f IncidentFilter, page PageRequest) (*Page[StoredIncident], error)
	// UpdateIncident: as UpdateCustomer; in.ID names the incident.
	UpdateIncident(ctx context.Context, in *Incident, mask FieldMask, etag string) (*StoredIncident, error)
	// DeleteIncident returns ENOTFOUND, EABORTED on a stale etag, and
	// EFAILEDPRECOND if the incident has windows and force is false
	// (AIP-135); with force its windows and estimates go with it.
	DeleteIncident(ctx context.Context, id, etag string, force bool) error
}

// MaxBatchWindows is the most windows one BatchCreateWindows takes.
const MaxBatchWindows = 10000

// WindowStore stores outage windows under their incident.
type WindowStore interface {
	// BatchCreateWindows stores ws (at most MaxBatchWindows) under the
	// incident, all or nothing, and returns them in request order with
	// their ids and names. Only ID and OutageWindow of each are read.
	// Returns ENOTFOUND if the incident does not exist, EINVALID if a
	// window names a customer that does not exist (one violation per
	// window, "requests[i].outage_window.customer_id") or the batch is
	// empty or too large,
	// ECONFLICT if a window id already exists.
	BatchCreateWindows(ctx context.Context, incidentID string, ws []StoredWindow, requestID string) ([]StoredWindow, error)
	// GetWindow returns ENOTFOUND if the window does not exist.
	GetWindow(ctx context.Context, incidentID, id string) (*StoredWindow, error)
	// ListWindows lists an incident's windows by ascending id. Returns
	// ENOTFOUND if the incident does not exist.
	ListWindows(ctx context.Context, incidentID string, f WindowFilter, page PageRequest) (*Page[StoredWindow], error)
	// DeleteWindow returns ENOTFOUND if the window does not exist.
	DeleteWindow(ctx context.Context, incidentID, id string) error
}

// AffectedCustomer is a customer with a window in an incident, with all its
// contracts and the span of its windows in that incident.
type AffectedCustomer struct {
	Customer             // Contracts filled, sorted by service
	FirstStart time.Time // earliest start of its windows in the incident
	LastEnd    time.Time // latest end of its windows in the incident
}

// CustomerRange asks for the windows of one customer, of any incident, that
// overlap or touch [From, To].
type CustomerRange struct {
	CustomerID string
	From, To   time.Time
}

// EstimateStore holds what the :estimate path reads and writes. The read
// side works in batches so that an incident with 50,000 affected customers
// costs a few queries per MaxPageSize customers, never one per customer:
//
//  1. AffectedCustomers, keyset-paged by customer id: customers, contracts
//     and window spans of one batch in a fixed number of queries;
//  2. from each customer's span and contracts the caller works out the
//     billing periods touched (in the contracts' zones) and asks
//     WindowsInRanges for every window of those customers, in any incident,
//     that overlaps them — these decide the SLA credits (§5);
//  3. BatchGetIncidents for the incidents of those windows (their causes).
//
// SaveEstimate then stores the result in one transaction.
type EstimateStore interface {
	// AffectedCustomers returns up to limit (at most MaxPageSize) of the
	// incident's affected customers with id > after, by ascending id.
	// Returns ENOTFOUND if the incident does not exist.
	AffectedCustomers(ctx context.Context, incidentID, after string, limit int) ([]AffectedCustomer, error)
	// AffectedCustomersOf returns the affected customers of each of
	// incidentIDs (at most MaxPageSize) that has any, keyed by incident id,
	// in no particular order: all of them, so the caller bounds the number
	// of (incident, customer) pairs it asks for (a recompute chunk does).
	AffectedCustomersOf(ctx context.Context, incidentIDs []string) (map[string][]AffectedCustomer, error)
	// WindowsInRanges returns the windows of every range (at most
	// MaxPageSize ranges): those of the range's customer, in any incident,
	// with End >= From and Start <= To — touching windows included, so that
	// an interval straddling a period edge is merged whole. Sorted by
	// customer, incident and id; each window once even if several ranges
	// hold it.
	WindowsInRanges(ctx context.Context, ranges []CustomerRange) ([]StoredWindow, error)
	// SaveEstimate stores e as a new revision of the incident's estimate
	// (earlier revisions are kept) and replaces the statements given, in one
	// transaction. It sets Name and Revision on the result. Returns
	// ENOTFOUND if the incident does not exist, EFAILEDPRECOND if a
	// statement's contract does not exist.
	SaveEstimate(ctx context.Context, e *StoredEstimate, statements []StoredStatement) (*StoredEstimate, error)
	// GetEstimate returns revision rev of the incident's estimate, or the
	// latest when rev is 0. Returns ENOTFOUND if there is none.
	GetEstimate(ctx context.Context, incidentID string, rev int64) (*StoredEstimate, error)
	// ListEstimateRevisions returns the revisions of the incident's
	// estimate, newest first. Returns ENOTFOUND if the incident does not
	// exist; an empty page if it has no estimate.
	ListEstimateRevisions(ctx context.Context, incidentID string, page PageRequest) (*Page[StoredEstimate], error)
	// GetStatement returns ENOTFOUND if no statement is stored for that
	// contract and period.
	GetStatement(ctx context.Context, customerID, service, period string) (*StoredStatement, error)
}
