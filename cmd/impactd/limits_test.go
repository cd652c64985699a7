package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// Each limit of the stateless Estimate is a clear error, answered quickly:
// no hang, no out-of-memory. The client may send up to 128 MiB so that the
// server's limits, not the client's, are what is tested.
func TestEstimateLimits(t *testing.T) {
	d := start(t)
	conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(128<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := impactv1.NewEstimatorServiceClient(conn)

	customer := func() *impactv1.Customer {
		return &impactv1.Customer{CustomerId: "c", CurrencyCode: "EUR", TimeZone: "UTC"}
	}
	window := func(start, end time.Time) *impactv1.IncidentWindow {
		return &impactv1.IncidentWindow{CustomerId: "c", Service: "api",
			StartTime: timestamppb.New(start), EndTime: timestamppb.New(end)}
	}
	t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	scenario := func(windows ...*impactv1.IncidentWindow) *impactv1.Scenario {
		return &impactv1.Scenario{
			Customers: []*impactv1.Customer{customer()},
			Incidents: []*impactv1.Incident{{IncidentId: "i", Windows: windows}},
		}
	}

	for _, tc := range []struct {
		name   string
		sc     func() *impactv1.Scenario
		code   codes.Code
		field  string // of the first BadRequest violation, for INVALID_ARGUMENT
		inDesc string
	}{
		{
			name: "message over MaxMessageBytes",
			sc: func() *impactv1.Scenario {
				sc := scenario()
				sc.Customers[0].DisplayName = strings.Repeat("a", server.MaxMessageBytes+1)
				return sc
			},
			code: codes.ResourceExhausted,
		},
		{
			name: "too many windows",
			sc: func() *impactv1.Scenario {
				ws := make([]*impactv1.IncidentWindow, 100001)
				for i := range ws {
					ws[i] = window(t0, t0.Add(time.Minute))
				}
				return scenario(ws...)
			},
			code: codes.InvalidArgument, field: "scenario.incidents", inDesc: "at most 100000",
		},
		{
			name: "10 MB decimal",
			sc: func() *impactv1.Scenario {
				sc := scenario()
				sc.Customers[0].LifetimeValue = "1" + strings.Repeat("0", 10<<20)
				return sc
			},
			code: codes.InvalidArgument, field: "scenario.customers[0].lifetime_value",
		},
		{
			name: "window over 366 days",
			sc: func() *impactv1.Scenario {
				return scenario(window(t0, t0.Add(367*24*time.Hour)))
			},
			code: codes.InvalidArgument, field: "scenario.incidents[0].windows[0].end_time", inDesc: "366 days",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := &impactv1.EstimateRequest{Scenario: tc.sc()}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			begin := time.Now()
			_, err := client.Estimate(ctx, req)
			took := time.Since(begin)
			st := status.Convert(err)
			if st.Code() != tc.code {
				t.Fatalf("got %v %q, want %v", st.Code(), st.Message(), tc.code)
			}
			// Generous for a loaded CI machine; a hang would be the 60s.
			if took > 20*time.Second {
				t.Errorf("answered after %v", took)
			}
			if tc.code != codes.InvalidArgument {
				return
			}
			var v *errdetails.BadRequest_FieldViolation
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
					v = br.GetFieldViolations()[0]
				}
			}
			if v == nil || v.GetField() != tc.field || !strings.Contains(v.GetDescription(), tc.inDesc) {
				t.Errorf("violation %v, want field %s with a description containing %q (message %q)", v, tc.field, tc.inDesc, st.Message())
			}
		})
	}
}

// --call-timeout bounds stored calls server-side whatever the client's
// deadline: with 1ns every call that reaches the database is cut at once
// and reported as DEADLINE_EXCEEDED, not as an internal error.
func TestCallTimeout(t *testing.T) {
	d := start(t, "--call-timeout", "1ns")
	_, err := impactv1.NewCustomerServiceClient(d.conn).GetCustomer(context.Background(),
		&impactv1.GetCustomerRequest{Name: "customers/acme"})
	if st := status.Convert(err); st.Code() != codes.DeadlineExceeded {
		t.Errorf("got %v %q, want DEADLINE_EXCEEDED", st.Code(), st.Message())
	}
	code, v := call(t, "GET", d.url("/v1/customers/acme"), "")
	wantError(t, "through the gateway", code, v, 504, int(codes.DeadlineExceeded))
}
