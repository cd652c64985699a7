package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/impact-svc/impact/impact"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error this API
// returns on purpose.
const ErrorDomain = "impact.v1"

// errorStatus is how one domain error code appears on the wire.
type errorStatus struct {
	code   codes.Code
	reason string // google.rpc.ErrorInfo reason, UPPER_SNAKE and stable
}

// errorTable is the one place domain error codes become gRPC codes; the
// gateway turns those into HTTP statuses (INVALID_ARGUMENT 400, NOT_FOUND
// 404, ALREADY_EXISTS 409, …). EINTERNAL is deliberately absent: internal
// errors never show their message.
//
// The reason here is the ErrorInfo reason of an error without a specific
// one. Every reason a client may see (README "Errors"):
//
//	code                 HTTP  reasons
//	INVALID_ARGUMENT     400   INVALID_ARGUMENT (BadRequest lists the fields), FX_RATE_MISSING;
//	                           gateway: MALFORMED_BODY, UNKNOWN_FIELD, INVALID_FIELD_VALUE,
//	                           UNKNOWN_QUERY_PARAMETER, INVALID_QUERY_PARAMETER
//	NOT_FOUND            404   NOT_FOUND; gateway: NO_ROUTE
//	ALREADY_EXISTS       409   ALREADY_EXISTS, JOB_ALREADY_RUNNING
//	ABORTED              409   ETAG_MISMATCH, CONCURRENT_UPDATE, ABORTED
//	FAILED_PRECONDITION  400   CUSTOMER_HAS_WINDOWS, INCIDENT_HAS_WINDOWS, REFERENCE_VIOLATION,
//	                           JOB_ENDED, STORED_DATA_INVALID, FAILED_PRECONDITION
//	UNAUTHENTICATED      401   MISSING_CREDENTIALS, INVALID_TOKEN
//	PERMISSION_DENIED    403   PERMISSION_DENIED
//	UNAVAILABLE          503   DATABASE_BUSY, DATABASE_READ_ONLY, DATABASE_FULL, UNAVAILABLE,
//	                           SHUTTING_DOWN (a stream ended by shutdown, drain.go)
//	RESOURCE_EXHAUSTED   413   REQUEST_TOO_LARGE (gateway)
//	UNIMPLEMENTED        405   METHOD_NOT_ALLOWED (gateway)
//	DEADLINE_EXCEEDED    504   DEADLINE_EXCEEDED
//	CANCELLED            499   CANCELED
//	INTERNAL             500   INTERNAL
var errorTable = map[string]errorStatus{
	impact.EINVALID:  {codes.InvalidArgument, "INVALID_ARGUMENT"},
	impact.ENOTFOUND: {codes.NotFound, "NOT_FOUND"},
	// ECONFLICT is "already exists"; a stale etag is EABORTED. Both are
	// HTTP 409 through the gateway.
	impact.ECONFLICT:        {codes.AlreadyExists, "ALREADY_EXISTS"},
	impact.EABORTED:         {codes.Aborted, "ABORTED"},
	impact.EFAILEDPRECOND:   {codes.FailedPrecondition, "FAILED_PRECONDITION"},
	impact.EUNAUTHENTICATED: {codes.Unauthenticated, "UNAUTHENTICATED"},
	impact.EFORBIDDEN:       {codes.PermissionDenied, "PERMISSION_DENIED"},
	impact.EUNAVAILABLE:     {codes.Unavailable, "UNAVAILABLE"},
}

// errInternal is all a client learns about an unexpected failure: the
// bare message and an ErrorInfo, as on every error (AIP-193), but nothing
// of the cause (no SQL, paths or stacks), which is in the server log under
// the call's request id.
var errInternal = mustWithInfo(codes.Internal, "internal error", "INTERNAL")

// mustWithInfo is a status error with an ErrorInfo of reason in ErrorDomain.
func mustWithInfo(code codes.Code, msg, reason string) error {
	st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain})
	if err != nil {
		panic(err) // ErrorInfo always marshals
	}
	return st.Err()
}

// internal logs err in full with the request id, by which an operator finds
// the cause of what the client saw as a bare "internal error".
func internal(ctx context.Context, log *slog.Logger, err error, args ...any) error {
	log.ErrorContext(ctx, "internal error", append([]any{"request_id", RequestID(ctx), "err", err}, args...)...)
	return errInternal
}

// toStatus turns an error from the domain into a gRPC status error. Field
// paths of violations are relative to the request message field named by
// prefix ("scenario"), so they read "scenario.incidents[0].windows[3].end_time".
// Anything that is not a known *impact.Error is logged in full and returned
// as a bare "internal error".
func toStatus(ctx context.Context, log *slog.Logger, err error, prefix string) error {
	var e *impact.Error
	if !errors.As(err, &e) {
		// The server-side deadline (deadline.go) or the client gave up:
		// that is the call's outcome, not a bug to hide.
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return mustWithInfo(codes.DeadlineExceeded, "deadline exceeded", "DEADLINE_EXCEEDED")
		case errors.Is(err, context.Canceled):
			return mustWithInfo(codes.Canceled, "call canceled", "CANCELED")
		}
		return internal(ctx, log, err)
	}
	row, ok := errorTable[e.Code]
	if !ok {
		return internal(ctx, log, err, "code", e.Code)
	}
	msg := e.Message
	if n := len(e.Violations); n > 0 {
		// The first problem in the message helps clients that print only
		// the message; the details carry all of them.
		v := e.Violations[0]
		msg = fmt.Sprintf("%s: %s: %s", e.Message, joinField(prefix, v.Field), v.Description)
		if n > 1 {
			msg += fmt.Sprintf(" (and %d more)", n-1)
		}
	}
	st := status.New(row.code, msg)
	reason := row.reason
	if e.Reason != "" {
		reason = e.Reason
	}
	details := []*errdetails.ErrorInfo{{Reason: reason, Domain: ErrorDomain}}
	var withDetails *status.Status
	if len(e.Violations) > 0 {
		br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, len(e.Violations))}
		for i, v := range e.Violations {
			br.FieldViolations[i] = &errdetails.BadRequest_FieldViolation{
				Field:       joinField(prefix, v.Field),
				Description: v.Description,
			}
		}
		withDetails, err = st.WithDetails(br, details[0])
	} else {
		withDetails, err = st.WithDetails(details[0])
	}
	if err != nil { // only fails for unmarshalable details, which these are not
		log.ErrorContext(ctx, "attaching error details", "err", err)
		return st.Err()
	}
	return withDetails.Err()
}

// joinField prefixes a domain field path with the request field holding it;
// an empty path names the request field itself.
func joinField(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	default:
		return prefix + "." + field
	}
}
