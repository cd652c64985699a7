package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
)

// gatewayStatus is the google.rpc.Status JSON of a gateway error.
type gatewayStatus struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type            string `json:"@type"`
		Reason          string `json:"reason"`
		Domain          string `json:"domain"`
		FieldViolations []struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		} `json:"fieldViolations"`
	} `json:"details"`
}

func postGateway(t *testing.T, h http.Handler, path string, body io.Reader, size int64) (int, gatewayStatus) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var st gatewayStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("HTTP %d: not JSON: %q", rec.Code, rec.Body.String())
	}
	return rec.Code, st
}

// The gateway's own errors carry ErrorInfo like the server's, and a
// BadRequest when the decoder names the field.
func TestGatewayErrorsHaveErrorInfo(t *testing.T) {
	h := newTestGateway(t)
	for _, tc := range []struct {
		name, path, body string
		http             int
		reason, field    string
	}{
		{"malformed JSON", "/v1/scenarios:estimate", `{"scenario":`, 400, "MALFORMED_BODY", ""},
		{"trailing data", "/v1/scenarios:estimate", `{"scenario":{}} {}`, 400, "MALFORMED_BODY", ""},
		{"unknown field", "/v1/scenarios:estimate", `{"scenario":{"nope":1}}`, 400, "UNKNOWN_FIELD", "scenario.nope"},
		{"bad enum", "/v1/scenarios:estimate", `{"scenario":{"incidents":[{"cause":"NOT_A_CAUSE"}]}}`, 400, "INVALID_FIELD_VALUE", "scenario.incidents[0].cause"},
		{"bad timestamp", "/v1/scenarios:estimate", `{"scenario":{"incidents":[{"windows":[{},{"start_time":"2025-07-01 10:00"}]}]}}`, 400, "INVALID_FIELD_VALUE", "scenario.incidents[0].windows[1].start_time"},
		{"bad integer", "/v1/customers/a/contracts", `{"minDowntimeSeconds":"1.5"}`, 400, "INVALID_FIELD_VALUE", "minDowntimeSeconds"},
		{"wrong type", "/v1/scenarios:estimate", `{"scenario":{"customers":{}}}`, 400, "INVALID_FIELD_VALUE", "scenario.customers"},
		{"unknown query parameter", "/v1/scenarios:estimate?pagesize=1", `{}`, 400, "UNKNOWN_QUERY_PARAMETER", "pagesize"},
		{"from the server", "/v1/scenarios:estimate", `{}`, 400, "INVALID_ARGUMENT", "scenario"},
		{"unknown path", "/v1/nowhere", `{}`, 404, "NO_ROUTE", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, st := postGateway(t, h, tc.path, strings.NewReader(tc.body), int64(len(tc.body)))
			if code != tc.http {
				t.Errorf("HTTP %d, want %d: %+v", code, tc.http, st)
			}
			var reason, field string
			for _, d := range st.Details {
				switch d.Type {
				case "type.googleapis.com/google.rpc.ErrorInfo":
					if d.Domain == ErrorDomain {
						reason = d.Reason
					}
				case "type.googleapis.com/google.rpc.BadRequest":
					if len(d.FieldViolations) > 0 {
						field = d.FieldViolations[0].Field
					}
				}
			}
			if reason != tc.reason || field != tc.field {
				t.Errorf("ErrorInfo reason %q, BadRequest field %q; want %q, %q: %+v", reason, field, tc.reason, tc.field, st)
			}
		})
	}
}

// A body over MaxMessageBytes is 413 with a message saying so, whether its
// length is declared (refused unread) or not (cut at the limit), and
// answered without reading or holding much more than the limit.
func TestGatewayBodyTooLarge(t *testing.T) {
	h := newTestGateway(t)
	big := func() io.Reader {
		return io.MultiReader(strings.NewReader(`{"scenario":{"customers":[{"customerId":"`),
			io.LimitReader(zeros{}, MaxMessageBytes+1), strings.NewReader(`"}]}}`))
	}
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"declared", MaxMessageBytes + 100},
		{"chunked", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, st := postGateway(t, h, "/v1/scenarios:estimate", big(), tc.size)
			if code != http.StatusRequestEntityTooLarge || st.Code != int(codes.ResourceExhausted) ||
				!strings.Contains(st.Message, "request body is larger than") {
				t.Errorf("got HTTP %d %+v, want 413 RESOURCE_EXHAUSTED saying the body is too large", code, st)
			}
			if len(st.Details) != 1 || st.Details[0].Reason != "REQUEST_TOO_LARGE" {
				t.Errorf("details %+v, want ErrorInfo REQUEST_TOO_LARGE", st.Details)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// zeros reads as an endless run of '0', a valid JSON string body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// An internal error's log line names the request id the client can quote;
// the client sees nothing of the cause.
func TestInternalErrorLoggedWithRequestID(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "req-4711"))
	ctx, _ = withRequestID(ctx)
	var logs bytes.Buffer
	err := toStatus(ctx, slog.New(slog.NewJSONHandler(&logs, nil)), errors.New(`SQL logic error: no such table: customers (1) at /var/lib/impact.db`), "")
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("got %v %q", st.Code(), st.Message())
	}
	if !strings.Contains(logs.String(), `"request_id":"req-4711"`) || !strings.Contains(logs.String(), "no such table") {
		t.Errorf("log lacks the request id or the cause: %s", logs.String())
	}
}

// A store call cut by the deadline is DEADLINE_EXCEEDED, a client that went
// away CANCELLED: outcomes of the call, not internal errors.
func TestToStatusContextErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{context.DeadlineExceeded, codes.DeadlineExceeded, "DEADLINE_EXCEEDED"},
		{errors.Join(errors.New("pgx: query"), context.Canceled), codes.Canceled, "CANCELED"},
	} {
		var logs bytes.Buffer
		st := status.Convert(toStatus(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), tc.err, ""))
		want := []any{&errdetails.ErrorInfo{Reason: tc.reason, Domain: ErrorDomain}}
		if st.Code() != tc.code || cmp.Diff(want, st.Details(), protocmp.Transform()) != "" {
			t.Errorf("%v: got %v %v, want %v with ErrorInfo %s", tc.err, st.Code(), st.Details(), tc.code, tc.reason)
		}
		if logs.Len() != 0 {
			t.Errorf("%v: logged as internal: %s", tc.err, logs.String())
		}
	}
}

func TestCallDeadline(t *testing.T) {
	const max = time.Minute
	seen := func(ctx context.Context) time.Duration {
		var got time.Duration
		DeadlineUnaryInterceptor(max)(ctx, nil, &grpc.UnaryServerInfo{}, func(ctx context.Context, _ any) (any, error) {
			d, ok := ctx.Deadline()
			if !ok {
				t.Fatal("no deadline in the handler")
			}
			got = time.Until(d)
			return nil, nil
		})
		return got
	}
	bg := context.Background()
	if got := seen(bg); got <= 0 || got > max {
		t.Errorf("no client deadline: handler has %v, want at most %v", got, max)
	}
	later, cancel := context.WithTimeout(bg, time.Hour)
	defer cancel()
	if got := seen(later); got > max {
		t.Errorf("later client deadline: handler has %v, want at most %v", got, max)
	}
	earlier, cancel := context.WithTimeout(bg, time.Second)
	defer cancel()
	if got := seen(earlier); got > time.Second {
		t.Errorf("earlier client deadline: handler has %v, want the client's 1s", got)
	}
	// The stream interceptor hands the bounded context to the handler.
	err := DeadlineStreamInterceptor(max)(nil, fakeStream{bg}, &grpc.StreamServerInfo{}, func(_ any, ss grpc.ServerStream) error {
		if _, ok := ss.Context().Deadline(); !ok {
			return errors.New("stream handler without a deadline")
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

type fakeStream struct{ ctx context.Context }

func (s fakeStream) Context() context.Context   { return s.ctx }
func (fakeStream) SetHeader(metadata.MD) error  { return nil }
func (fakeStream) SendHeader(metadata.MD) error { return nil }
func (fakeStream) SetTrailer(metadata.MD)       {}
func (fakeStream) SendMsg(any) error            { return nil }
func (fakeStream) RecvMsg(any) error            { return nil }
