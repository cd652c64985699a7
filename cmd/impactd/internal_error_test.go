package main

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// A store failure the server did not expect (here a table gone from under
// it) reaches the client as exactly "internal error" with its ErrorInfo:
// no SQL, no path, no stack. The log has the cause and the request id the
// client can quote.
func TestStoreFailureIsBareInternalError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "impact.db")
	d, logs := startLogged(t, nil, "--db", "sqlite:"+path)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DROP TABLE audit_log`); err != nil {
		t.Fatal(err)
	}

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "req-store-failure")
	_, err = impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(ctx, &impactv1.CreateCustomerRequest{
		CustomerId: "acme", Customer: &impactv1.Customer{CurrencyCode: "EUR"}})
	st := status.Convert(err)
	if st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("gRPC: got %v %q, want INTERNAL \"internal error\"", st.Code(), st.Message())
	}
	want := []any{&errdetails.ErrorInfo{Reason: "INTERNAL", Domain: "impact.v1"}}
	if diff := cmp.Diff(want, st.Details(), protocmp.Transform()); diff != "" {
		t.Errorf("gRPC details (-want +got):\n%s", diff)
	}

	resp, err := http.Post(d.url("/v1/customers?customerId=acme2"), "application/json", strings.NewReader(`{"currencyCode": "EUR"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("HTTP %d, want 500", resp.StatusCode)
	}
	for _, leak := range []string{"audit_log", "no such table", "INSERT", "SQL", path, ".go:", "goroutine"} {
		if strings.Contains(string(body), leak) {
			t.Errorf("HTTP body shows %q: %s", leak, body)
		}
	}
	if !strings.Contains(string(body), `"message":"internal error"`) || !strings.Contains(string(body), `"reason":"INTERNAL"`) {
		t.Errorf("HTTP body %s, want message \"internal error\" with ErrorInfo INTERNAL", body)
	}

	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"msg":"internal error"`) && strings.Contains(line, `"request_id":"req-store-failure"`) &&
			strings.Contains(line, "audit_log") {
			found = true
		}
	}
	if !found {
		t.Errorf("no internal-error log line with the request id and the cause:\n%s", logs.String())
	}
}
