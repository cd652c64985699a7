package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/impact-svc/impact/impact"
)

func TestToStatusCodes(t *testing.T) {
	for _, tc := range []struct {
		code   string
		want   codes.Code
		reason string
	}{
		{impact.EINVALID, codes.InvalidArgument, "INVALID_ARGUMENT"},
		{impact.ENOTFOUND, codes.NotFound, "NOT_FOUND"},
		{impact.ECONFLICT, codes.AlreadyExists, "ALREADY_EXISTS"},
		{impact.EFAILEDPRECOND, codes.FailedPrecondition, "FAILED_PRECONDITION"},
		{impact.EUNAUTHENTICATED, codes.Unauthenticated, "UNAUTHENTICATED"},
		{impact.EFORBIDDEN, codes.PermissionDenied, "PERMISSION_DENIED"},
		{impact.EUNAVAILABLE, codes.Unavailable, "UNAVAILABLE"},
		{impact.EABORTED, codes.Aborted, "ABORTED"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			var logs bytes.Buffer
			err := toStatus(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)),
				fmt.Errorf("wrapped: %w", impact.Errorf(tc.code, "safe message")), "scenario")
			st := status.Convert(err)
			if st.Code() != tc.want || st.Message() != "safe message" {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tc.want, "safe message")
			}
			want := []any{&errdetails.ErrorInfo{Reason: tc.reason, Domain: "impact.v1"}}
			if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
				t.Errorf("details (-want +got):\n%s", diff)
			}
			if logs.Len() != 0 {
				t.Errorf("a domain error was logged: %s", logs.String())
			}
		})
	}
	// Every domain code except EINTERNAL is in the table.
	if len(errorTable) != 8 {
		t.Errorf("errorTable has %d rows, want 8", len(errorTable))
	}
	if _, ok := errorTable[impact.EINTERNAL]; ok {
		t.Error("EINTERNAL must not be in the table: internal messages are never shown")
	}
}

func TestToStatusInvalidHasBadRequest(t *testing.T) {
	err := toStatus(context.Background(), slog.New(slog.DiscardHandler), &impact.Error{
		Code:    impact.EINVALID,
		Message: "the scenario is invalid",
		Violations: []impact.FieldViolation{
			{Field: "incidents[0].windows[3].end_time", Description: "must be after start_time"},
			{Field: "customers[1].currency_code", Description: "is not an ISO 4217 code"},
		},
	}, "scenario")
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code %v", st.Code())
	}
	wantMsg := "the scenario is invalid: scenario.incidents[0].windows[3].end_time: must be after start_time (and 1 more)"
	if st.Message() != wantMsg {
		t.Errorf("message %q, want %q", st.Message(), wantMsg)
	}
	want := []any{
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "scenario.incidents[0].windows[3].end_time", Description: "must be after start_time"},
			{Field: "scenario.customers[1].currency_code", Description: "is not an ISO 4217 code"},
		}},
		&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: "impact.v1"},
	}
	if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
}

func TestToStatusInternalIsBareAndLogged(t *testing.T) {
	for _, err := range []error{
		errors.New("pq: connection refused to 10.0.0.7"),
		impact.Errorf(impact.EINTERNAL, "invariant broken: shares sum to 99"),
		impact.Errorf("some_future_code", "not in the table"),
	} {
		var logs bytes.Buffer
		got := toStatus(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), err, "scenario")
		st := status.Convert(got)
		if st.Code() != codes.Internal || st.Message() != "internal error" {
			t.Errorf("%v: got %v %q, want a bare internal error", err, st.Code(), st.Message())
		}
		// AIP-193: even an internal error has its ErrorInfo, and nothing else.
		want := []any{&errdetails.ErrorInfo{Reason: "INTERNAL", Domain: "impact.v1"}}
		if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
			t.Errorf("%v: details (-want +got):\n%s", err, diff)
		}
		if !strings.Contains(logs.String(), err.Error()) {
			t.Errorf("%v: not logged in full; log: %s", err, logs.String())
		}
	}
}
