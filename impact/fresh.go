package impact

import (
	"context"
	"time"
)

// Fresh stored figures (model.md §10; see the package documentation, "Fresh
// stored figures"). A stored estimate is derived data: it records what its
// latest computation read (EstimateDeps), every committed write that changes
// one of those inputs marks it STALE in the write's own transaction, and
// the refresh recomputes the marked estimates after a quiet delay.

// EstimateState is whether a stored estimate reflects the stored data.
type EstimateState int

const (
	StateUnspecified EstimateState = iota
	StateCurrent                   // no committed write has changed its inputs since it was computed
	StateStale                     // some have; StaleReasons names what changed
)

func (s EstimateState) String() string {
	switch s {
	case StateCurrent:
		return "CURRENT"
	case StateStale:
		return "STALE"
	}
	return "STATE_UNSPECIFIED"
}

// SourceRefresh is the source of a revision written by the refresh.
const SourceRefresh = "REFRESH"

// SettingsName is the resource name of the reporting settings singleton.
const SettingsName = "reportingSettings"

// EstimateDeps is what one computation of an estimate read, recorded with
// the estimate so that a later write can tell whether it moved an input.
type EstimateDeps struct {
	// ReadSeq is the store's change sequence (FreshStore.ChangeSeq) read
	// before any input: a write with a later sequence may not be in the
	// figures.
	ReadSeq int64
	// Customers are the affected customers, each with the range of its
	// windows read (of any incident: the billing periods the incident
	// touches, closed under overlap).
	Customers []CustomerRange
	// Incidents are the other incidents whose windows (and cause) were read.
	Incidents []string
	// Windows are every window read, of any incident: the store records a
	// fingerprint of them, so that a change undone (a window added, then
	// deleted) leaves the estimate CURRENT again.
	Windows []StoredWindow
	// UsesSettings is set when the reporting options came from the stored
	// ReportingSettings; SettingsCurrency and SettingsRates are then what
	// of them the estimate used.
	UsesSettings     bool
	SettingsCurrency string
	SettingsRates    []FXRate
}

// ReportingSettings is the stored singleton "reportingSettings": the
// reporting currency and FX rates that :estimate without reporting
// options, the refresh and recompute jobs use.
type ReportingSettings struct {
	ReportingCurrency string
	FXRates           []FXRate
	Etag              string
	UpdateTime        time.Time
}

// NeededRates returns the rates of fx that an estimate reporting in
// reporting needs when its figures are in currencies: the direct rate from
// each of them into reporting. Any other rate is ignored (model.md §10: a
// rate for a currency no estimate needs is stored and ignored).
func NeededRates(reporting string, fx []FXRate, currencies map[string]bool) []FXRate {
	if reporting == "" {
		return nil
	}
	var out []FXRate
	for _, r := range fx {
		if r.To == reporting && r.From != reporting && currencies[r.From] {
			out = append(out, r)
		}
	}
	return out
}

// SameRates reports whether a and b hold the same rates, in any order.
func SameRates(a, b []FXRate) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[FXRate]int, len(a))
	for _, r := range a {
		m[r]++
	}
	for _, r := range b {
		if m[r] == 0 {
			return false
		}
		m[r]--
	}
	return true
}

// RefreshItem is an estimate the refresh leased: its incident, and the
// reporting options of its latest revision.
type RefreshItem struct {
	IncidentID        string
	UsesSettings      bool
	ReportingCurrency string
	FXRates           []FXRate
}

// RefreshLease is a set of stale estimates leased by one refresh worker.
type RefreshLease struct {
	Token   string
	Items   []RefreshItem
	Expires time.Time
}

// RefreshFailure is an estimate the refresh could not compute, with why.
type RefreshFailure struct {
	IncidentID string
	Error      string
	ReadSeq    int64
}

// RefreshResult is what CompleteRefresh stored.
type RefreshResult struct {
	Revisions int // new revisions written
	Unchanged int // recomputed to the same figures and inputs: no revision
	Failed    int
	Lost      int // leases taken over by another worker: nothing written
}

// FreshStore is the store side of freshness. As for Store, every method
// returns *Error with a documented code or an internal error.
type FreshStore interface {
	// ChangeSeq returns the change sequence of the last committed write.
	ChangeSeq(ctx context.Context) (int64, error)
	// LeaseRefresh leases up to limit STALE estimates whose newest mark is
	// older than delay and newer than their last failed refresh, oldest
	// mark first, that no unexpired lease holds, until now+ttl. It returns
	// nil when there is none. Concurrent callers never get the same
	// estimate under overlapping leases.
	LeaseRefresh(ctx context.Context, worker string, limit int, delay, ttl time.Duration) (*RefreshLease, error)
	// RenewRefresh extends l's lease to now+ttl.
	RenewRefresh(ctx context.Context, l *RefreshLease, ttl time.Duration) error
	// CompleteRefresh stores, in one transaction, the saves (each as
	// SaveEstimate stores it, with source SourceRefresh: a revision only
	// when a figure, the model version or the inputs digest moved) and the
	// failures of the estimates l still holds, and ends their lease.
	CompleteRefresh(ctx context.Context, l *RefreshLease, saves []EstimateSave, failures []RefreshFailure) (*RefreshResult, error)
	// FreshnessStats returns how many stored estimates are STALE and when
	// the oldest of their marks was made (zero when none).
	FreshnessStats(ctx context.Context) (stale int64, oldest time.Time, err error)
}

// SettingsStore keeps the reporting settings.
type SettingsStore interface {
	GetReportingSettings(ctx context.Context) (*ReportingSettings, error)
	// UpdateReportingSettings replaces the fields of mask
	// ("reporting_currency", "fx_rates"; empty for both). ABORTED when etag
	// is set and stale. Every estimate that used the settings and whose
	// currency or used rates change is marked STALE.
	UpdateReportingSettings(ctx context.Context, s *ReportingSettings, mask FieldMask, etag string) (*ReportingSettings, error)
}
