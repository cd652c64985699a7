package impact

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Error codes. The transport maps each to its own status in one table; any
// error that is not an *Error is internal and must not be shown to clients.
const (
	EINVALID         = "invalid"   // bad input; Violations says where
	ENOTFOUND        = "not_found" // the named resource does not exist
	ECONFLICT        = "conflict"  // it already exists
	EFAILEDPRECOND   = "failed_precondition"
	EUNAUTHENTICATED = "unauthenticated"
	EFORBIDDEN       = "forbidden"
	EUNAVAILABLE     = "unavailable"
	EINTERNAL        = "internal"
	EABORTED         = "aborted" // a stale etag or a concurrent update won
)

// Error is a domain error whose Message is safe to show to a client.
type Error struct {
	Code       string
	Message    string
	Violations []FieldViolation
	// Reason is a specific, stable UPPER_SNAKE_CASE reason a client can
	// branch on (the ErrorInfo reason); "" takes the code's own. The
	// transport's error table lists them all.
	Reason string
}

// Specific reasons (Error.Reason).
const (
	ReasonEtagMismatch       = "ETAG_MISMATCH"        // EABORTED: the etag sent is not the current one
	ReasonConcurrentUpdate   = "CONCURRENT_UPDATE"    // EABORTED: another write won; retry
	ReasonCustomerHasWindows = "CUSTOMER_HAS_WINDOWS" // EFAILEDPRECOND: delete its windows first
	ReasonIncidentHasWindows = "INCIDENT_HAS_WINDOWS" // EFAILEDPRECOND: delete them or set force
	ReasonReference          = "REFERENCE_VIOLATION"  // EFAILEDPRECOND: a referenced resource is missing, or a resource is still referenced
	ReasonJobEnded           = "JOB_ENDED"            // EFAILEDPRECOND: the recompute job has already ended
	ReasonJobRunning         = "JOB_ALREADY_RUNNING"  // ECONFLICT: an open job has the same filter
	ReasonFXRateMissing      = "FX_RATE_MISSING"      // EINVALID: a currency has no rate to the reporting currency
	ReasonStoredDataInvalid  = "STORED_DATA_INVALID"  // EFAILEDPRECOND: the stored data cannot be estimated together
	ReasonDatabaseBusy       = "DATABASE_BUSY"        // EUNAVAILABLE: retry
	ReasonDatabaseReadOnly   = "DATABASE_READ_ONLY"   // EUNAVAILABLE: writes are refused
	ReasonDatabaseFull       = "DATABASE_FULL"        // EUNAVAILABLE: writes are refused
	ReasonMissingCredentials = "MISSING_CREDENTIALS"  // EUNAUTHENTICATED: no bearer token
	ReasonInvalidToken       = "INVALID_TOKEN"        // EUNAUTHENTICATED: the token is not known
)

// WithReason sets e's Reason and returns e.
func (e *Error) WithReason(reason string) *Error {
	e.Reason = reason
	return e
}

// FieldViolation names one problem with one input field. Field is a path
// relative to the scenario (or to the resource a validator was given),
// e.g. "incidents[0].windows[3].end_time"; Path is the same path as
// elements, set by the engine's validation, so that a caller re-rooting it
// under its own request need not parse Field. Violations built elsewhere
// may carry Field alone.
type FieldViolation struct {
	Field       string
	Description string
	Path        Path
}

// PathElem is one element of a field path: a field name, and when Index ≥ 0
// the element of that list field.
type PathElem struct {
	Name  string
	Index int
}

// Path is a field path, outermost element first.
type Path []PathElem

// String spells p as FieldViolation.Field does: "windows[3].end_time".
func (p Path) String() string {
	var b []byte
	for _, e := range p {
		if len(b) > 0 {
			b = append(b, '.')
		}
		b = append(b, e.Name...)
		if e.Index >= 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(e.Index), 10)
			b = append(b, ']')
		}
	}
	return string(b)
}

// Under returns the violations with every path prefixed by at (Field and
// Path both), for a caller that validated a part of its request.
func Under(at Path, vs []FieldViolation) []FieldViolation {
	out := make([]FieldViolation, len(vs))
	for i, v := range vs {
		rel := v.Path
		if rel == nil && v.Field != "" {
			rel = Path{{Name: v.Field, Index: -1}} // built without elements: kept as spelled
		}
		p := append(append(Path{}, at...), rel...)
		out[i] = FieldViolation{Field: p.String(), Description: v.Description, Path: p}
	}
	return out
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for i, v := range e.Violations {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(v.Field)
		b.WriteString(": ")
		b.WriteString(v.Description)
	}
	return b.String()
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err when it is (or wraps) an *Error, and
// EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}
