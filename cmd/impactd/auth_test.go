package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The bearer tokens of the tests, by role, and the names the tokens file
// gives them.
var testTokens = []struct{ token, role, name string }{
	{"viewer-secret-7f3a", "viewer", "vera"},
	{"editor-secret-91bc", "editor", "alice"},
	{"admin-secret-c0de", "admin", "root-ops"},
}

// writeTokens writes the tokens file of testTokens: digests only.
func writeTokens(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# sha256 role name\n\n")
	for _, tk := range testTokens {
		d := sha256.Sum256([]byte(tk.token))
		fmt.Fprintf(&b, "%s %s %s\n", hex.EncodeToString(d[:]), tk.role, tk.name)
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rpcCase is one RPC with its gateway route and the minimum role api.md
// gives it ("viewer": reads and stateless estimates; "editor": writes and
// :estimate; "admin": recompute jobs). The requests are empty or name
// nothing stored: the test proves the auth decision, not that the call
// succeeds.
type rpcCase struct {
	method     string // full gRPC method name
	httpMethod string
	path       string
	role       string
}

var rpcCases = []rpcCase{
	{"/impact.v1.EstimatorService/Estimate", "POST", "/v1/scenarios:estimate", "viewer"},

	{"/impact.v1.CustomerService/CreateCustomer", "POST", "/v1/customers", "editor"},
	{"/impact.v1.CustomerService/GetCustomer", "GET", "/v1/customers/c", "viewer"},
	{"/impact.v1.CustomerService/ListCustomers", "GET", "/v1/customers", "viewer"},
	{"/impact.v1.CustomerService/UpdateCustomer", "PATCH", "/v1/customers/c", "editor"},
	{"/impact.v1.CustomerService/DeleteCustomer", "DELETE", "/v1/customers/c", "editor"},

	{"/impact.v1.ContractService/CreateContract", "POST", "/v1/customers/c/contracts", "editor"},
	{"/impact.v1.ContractService/GetContract", "GET", "/v1/customers/c/contracts/s", "viewer"},
	{"/impact.v1.ContractService/ListContracts", "GET", "/v1/customers/c/contracts", "viewer"},
	{"/impact.v1.ContractService/UpdateContract", "PATCH", "/v1/customers/c/contracts/s", "editor"},
	{"/impact.v1.ContractService/DeleteContract", "DELETE", "/v1/customers/c/contracts/s", "editor"},
	{"/impact.v1.ContractService/GetContractStatement", "GET", "/v1/customers/c/contracts/s/statements/2025-07", "viewer"},

	{"/impact.v1.IncidentService/CreateIncident", "POST", "/v1/incidents", "editor"},
	{"/impact.v1.IncidentService/GetIncident", "GET", "/v1/incidents/i", "viewer"},
	{"/impact.v1.IncidentService/ListIncidents", "GET", "/v1/incidents", "viewer"},
	{"/impact.v1.IncidentService/UpdateIncident", "PATCH", "/v1/incidents/i", "editor"},
	{"/impact.v1.IncidentService/DeleteIncident", "DELETE", "/v1/incidents/i", "editor"},
	{"/impact.v1.IncidentService/BatchCreateIncidentWindows", "POST", "/v1/incidents/i/windows:batchCreate", "editor"},
	{"/impact.v1.IncidentService/GetIncidentWindow", "GET", "/v1/incidents/i/windows/w", "viewer"},
	{"/impact.v1.IncidentService/ListIncidentWindows", "GET", "/v1/incidents/i/windows", "viewer"},
	{"/impact.v1.IncidentService/DeleteIncidentWindow", "DELETE", "/v1/incidents/i/windows/w", "editor"},
	{"/impact.v1.IncidentService/EstimateIncident", "POST", "/v1/incidents/i:estimate", "editor"},
	{"/impact.v1.IncidentService/GetIncidentEstimate", "GET", "/v1/incidents/i/estimate", "viewer"},
	{"/impact.v1.IncidentService/GetIncidentEstimate", "GET", "/v1/incidents/i/estimate@1", "viewer"},
	{"/impact.v1.IncidentService/ListIncidentEstimateRevisions", "GET", "/v1/incidents/i/estimate:listRevisions", "viewer"},

	// An empty filter is valid: the admin's call creates a job (over gRPC,
	// then ALREADY_EXISTS over HTTP, which is still "allowed").
	{"/impact.v1.RecomputeService/CreateRecomputeJob", "POST", "/v1/recomputeJobs", "admin"},
	{"/impact.v1.RecomputeService/GetRecomputeJob", "GET", "/v1/recomputeJobs/j", "viewer"},
	{"/impact.v1.RecomputeService/ListRecomputeJobs", "GET", "/v1/recomputeJobs", "viewer"},
	{"/impact.v1.RecomputeService/CancelRecomputeJob", "POST", "/v1/recomputeJobs/j:cancel", "admin"},
	{"/impact.v1.RecomputeService/ListRecomputeJobChanges", "GET", "/v1/recomputeJobs/j/changes", "viewer"},
	{"/impact.v1.RecomputeService/WatchRecomputeJob", "GET", "/v1/recomputeJobs/j:watch", "viewer"},

	{"/impact.v1.ExposureService/GetContractHeadroom", "GET", "/v1/customers/c/contracts/s:headroom", "viewer"},
	{"/impact.v1.ExposureService/ListContractHeadroom", "GET", "/v1/exposure/headroom", "viewer"},
	{"/impact.v1.ExposureService/SimulateOutage", "POST", "/v1/exposure:simulate", "viewer"},
	{"/impact.v1.LedgerService/GetCreditLine", "GET", "/v1/customers/c/contracts/s/creditLines/2025-07", "viewer"},
	{"/impact.v1.LedgerService/ListCreditLines", "GET", "/v1/customers/-/creditLines", "viewer"},
	{"/impact.v1.LedgerService/ClaimCredit", "POST", "/v1/customers/c/contracts/s/creditLines/2025-07:claim", "editor"},
	{"/impact.v1.LedgerService/ApproveCredit", "POST", "/v1/customers/c/contracts/s/creditLines/2025-07:approve", "admin"},
	{"/impact.v1.LedgerService/RejectCredit", "POST", "/v1/customers/c/contracts/s/creditLines/2025-07:reject", "admin"},
	{"/impact.v1.LedgerService/IssueCredit", "POST", "/v1/customers/c/contracts/s/creditLines/2025-07:issue", "admin"},
	{"/impact.v1.LedgerService/GetLedgerPeriod", "GET", "/v1/ledgerPeriods/2025-07", "viewer"},
	{"/impact.v1.LedgerService/CloseLedgerPeriod", "POST", "/v1/ledgerPeriods/2999-01:close", "admin"},
	{"/impact.v1.LedgerService/GetAccrualReport", "GET", "/v1/ledgerPeriods/2025-07/accrualReport", "viewer"},
	{"/impact.v1.LedgerService/ExportCreditNotes", "GET", "/v1/creditNotes:export", "viewer"},
	{"/impact.v1.ImpactStatementService/GetImpactStatement", "GET", "/v1/incidents/i/impactStatements/c", "viewer"},
	{"/impact.v1.ImpactStatementService/ListCustomerEstimates", "GET", "/v1/incidents/i/estimate/customers", "viewer"},
	{"/impact.v1.ContractService/ListContractStatements", "GET", "/v1/customers/c/contracts/s/statements", "viewer"},
	{"/impact.v1.SettingsService/GetReportingSettings", "GET", "/v1/reportingSettings", "viewer"},
	{"/impact.v1.SettingsService/UpdateReportingSettings", "PATCH", "/v1/reportingSettings", "admin"},
	{"/impact.v1.AuditService/ListAuditRecords", "GET", "/v1/auditRecords", "admin"},
}

// impactMethods lists every method of every impact.v1 service in the proto
// registry, so that rpcCases cannot silently fall behind the API.
func impactMethods(t *testing.T) map[string]protoreflect.MethodDescriptor {
	t.Helper()
	ms := map[string]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFilesByPackage("impact.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				m := s.Methods().Get(j)
				ms["/"+string(s.FullName())+"/"+string(m.Name())] = m
			}
		}
		return true
	})
	if len(ms) == 0 {
		t.Fatal("no impact.v1 services in the proto registry")
	}
	return ms
}

var roleRank = map[string]int{"viewer": 1, "editor": 2, "admin": 3}

// An auth outcome: what a caller with some credential gets for one RPC.
const (
	wantUnauthenticated = "unauthenticated"
	wantDenied          = "permission denied"
	wantAllowed         = "allowed"
)

// Every RPC × {no token, bad token, viewer, editor, admin}, over gRPC and
// over the gateway: 401/UNAUTHENTICATED without a valid token, 403/
// PERMISSION_DENIED below the method's role, and otherwise anything but
// those two.
func TestEveryRPCEveryRole(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t))
	methods := impactMethods(t)
	var covered []string
	for _, c := range rpcCases {
		covered = append(covered, c.method)
	}
	for m := range methods {
		if !slices.Contains(covered, m) {
			t.Errorf("%s has no row in rpcCases", m)
		}
	}

	type caller struct {
		name  string
		token string // "" sends no authorization at all
		rank  int
	}
	callers := []caller{{"no token", "", 0}, {"bad token", "not-a-token", 0}}
	for _, tk := range testTokens {
		callers = append(callers, caller{tk.role, tk.token, roleRank[tk.role]})
	}

	for _, c := range rpcCases {
		md, ok := methods[c.method]
		if !ok {
			t.Errorf("%s: no such method in the API", c.method)
			continue
		}
		for _, who := range callers {
			want := wantAllowed
			switch {
			case who.rank == 0:
				want = wantUnauthenticated
			case who.rank < roleRank[c.role]:
				want = wantDenied
			}
			t.Run(c.method+"/"+who.name, func(t *testing.T) {
				ctx := context.Background()
				if who.token != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+who.token)
				}
				// An empty request of the method's input type.
				req := dynamicpb.NewMessage(md.Input())
				resp := dynamicpb.NewMessage(md.Output())
				err := d.conn.Invoke(ctx, c.method, req, resp)
				if got := grpcOutcome(t, err); got != want {
					t.Errorf("gRPC: %s (%v), want %s", got, err, want)
				}

				var body io.Reader
				if c.httpMethod == "POST" || c.httpMethod == "PATCH" {
					body = strings.NewReader("{}")
				}
				hreq, err := http.NewRequest(c.httpMethod, d.url(c.path), body)
				if err != nil {
					t.Fatal(err)
				}
				hreq.Header.Set("Content-Type", "application/json")
				if who.token != "" {
					// The gateway forwards Authorization as gRPC metadata.
					hreq.Header.Set("Authorization", "Bearer "+who.token)
				}
				code, v := do(t, http.DefaultClient, hreq)
				if got := httpOutcome(t, code, v); got != want {
					t.Errorf("HTTP %s %s: %s (HTTP %d %v), want %s", c.httpMethod, c.path, got, code, v, want)
				}
			})
		}
	}
}

// grpcOutcome classifies a gRPC error; refusals must carry the ErrorInfo of
// the error table.
func grpcOutcome(t *testing.T, err error) string {
	t.Helper()
	st := status.Convert(err)
	var reason string
	for _, det := range st.Details() {
		if info, ok := det.(*errdetails.ErrorInfo); ok {
			reason = info.GetDomain() + "/" + info.GetReason()
		}
	}
	switch st.Code() {
	case codes.Unauthenticated:
		if reason != "impact.v1/MISSING_CREDENTIALS" && reason != "impact.v1/INVALID_TOKEN" {
			t.Errorf("UNAUTHENTICATED with ErrorInfo %q", reason)
		}
		return wantUnauthenticated
	case codes.PermissionDenied:
		if reason != "impact.v1/PERMISSION_DENIED" {
			t.Errorf("PERMISSION_DENIED with ErrorInfo %q", reason)
		}
		return wantDenied
	}
	return wantAllowed
}

func httpOutcome(t *testing.T, code int, v map[string]any) string {
	t.Helper()
	if e, ok := v["error"].(map[string]any); ok {
		v = e // a server stream's error line, {"error": status}
	}
	switch code {
	case http.StatusUnauthorized:
		if v["code"] != float64(codes.Unauthenticated) {
			t.Errorf("401 with body %v", v)
		}
		// The RFC 6750 challenge is checked in TestBearerChallenge.
		return wantUnauthenticated
	case http.StatusForbidden:
		if v["code"] != float64(codes.PermissionDenied) {
			t.Errorf("403 with body %v", v)
		}
		return wantDenied
	}
	return wantAllowed
}

// do sends req and returns the status and the decoded JSON body (nil when
// the body is not JSON).
func do(t *testing.T, client *http.Client, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		v = decodeJSON(t, b)
	}
	return resp.StatusCode, v
}

// Health, reflection, /healthz and /openapi.json stay open with auth on:
// probes and tooling carry no token.
func TestOpenEndpointsWithAuth(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t))
	ctx := context.Background()
	if _, err := healthpb.NewHealthClient(d.conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health Check without a token: %v", err)
	}
	// Reflection is a stream: this goes through the stream interceptor.
	stream, err := reflectionpb.NewServerReflectionClient(d.conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Errorf("reflection without a token: %v", err)
	}
	stream.CloseSend()
	for _, path := range []string{"/healthz", "/openapi.json"} {
		resp, err := http.Get(d.url(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: HTTP %d", path, resp.StatusCode)
		}
	}
	// A malformed header is a missing credential, not a crash or a pass.
	for _, h := range []string{"Basic dXNlcjpwdw==", "Bearer", "Bearer ", "editor-secret-91bc"} {
		req, _ := http.NewRequest("GET", d.url("/v1/customers"), nil)
		req.Header.Set("Authorization", h)
		if code, v := do(t, http.DefaultClient, req); code != http.StatusUnauthorized {
			t.Errorf("Authorization %q: HTTP %d %v, want 401", h, code, v)
		}
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest("GET", d.url("/v1/customers"), nil)
	req.Header.Set("Authorization", "bearer viewer-secret-7f3a")
	if code, v := do(t, http.DefaultClient, req); code != http.StatusOK {
		t.Errorf("lower-case bearer: HTTP %d %v", code, v)
	}
}

// Mutations are audited under the name of the token that made them, over
// the gateway and over gRPC.
func TestAuditRowsCarryTokenName(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "impact.db")
	d := start(t, "--auth-tokens", writeTokens(t), "--db", "sqlite:"+dbPath)

	req, _ := http.NewRequest("POST", d.url("/v1/customers?customerId=acme"),
		strings.NewReader(`{"currencyCode": "USD", "baseline": {"hourlyAmount": "10"}}`))
	req.Header.Set("Authorization", "Bearer editor-secret-91bc")
	if code, v := do(t, http.DefaultClient, req); code != http.StatusOK {
		t.Fatalf("create as alice: HTTP %d %v", code, v)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer admin-secret-c0de")
	if _, err := impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(ctx, &impactv1.CreateCustomerRequest{
		CustomerId: "globex",
		Customer: &impactv1.Customer{CurrencyCode: "EUR",
			Baseline: &impactv1.RevenueBaseline{HourlyAmount: "5"}},
	}); err != nil {
		t.Fatalf("create as root-ops: %v", err)
	}

	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT actor, action, resource FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, action, resource string
		if err := rows.Scan(&actor, &action, &resource); err != nil {
			t.Fatal(err)
		}
		got = append(got, actor+" "+action+" "+resource)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"alice CreateCustomer customers/acme", "root-ops CreateCustomer customers/globex"}
	if !slices.Equal(got, want) {
		t.Errorf("audit rows %q, want %q", got, want)
	}
}

// With a tokens file impactd may listen on every interface; without one it
// refuses (TestRefusesNonLoopback). The gateway then reaches gRPC over
// loopback, which /healthz proves.
func TestNonLoopbackWithTokens(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t), "--grpc-addr", "0.0.0.0:0", "--http-addr", "0.0.0.0:0")
	defer d.stop()
	for _, a := range []string{d.addrs.GRPC, d.addrs.HTTP} {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			t.Errorf("listening on %s, want every interface", a)
		}
	}
	_, port, _ := net.SplitHostPort(d.addrs.HTTP)
	resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: HTTP %d", resp.StatusCode)
	}
}

// A tokens file that cannot be used stops impactd before it listens.
func TestBadTokensFileStopsImpactd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Repeat("a", 64)+" owner bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		path:                                  path + `:1: unknown role "owner"`,
		filepath.Join(t.TempDir(), "missing"): "no such file",
	} {
		err := run(context.Background(), []string{"--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--auth-tokens", file}, func(string) string { return "" }, io.Discard,
			func(Addrs) { t.Errorf("%s: became ready", file) })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", file, err, want)
		}
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key, and returns their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "impactd test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With --tls-cert/--tls-key both listeners speak TLS (the gateway's own
// dial included: a stored-resource call over HTTPS goes through it), and
// plaintext clients are refused.
func TestTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	d := start(t, "--auth-tokens", writeTokens(t), "--tls-cert", certFile, "--tls-key", keyFile)
	auth := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer viewer-secret-7f3a")

	conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := impactv1.NewCustomerServiceClient(conn).ListCustomers(auth, &impactv1.ListCustomersRequest{}); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+d.addrs.HTTP+"/v1/customers", nil)
	req.Header.Set("Authorization", "Bearer viewer-secret-7f3a")
	if code, v := do(t, client, req); code != http.StatusOK {
		t.Errorf("HTTPS through the gateway: HTTP %d %v", code, v)
	}

	// Plaintext gRPC fails to connect (start's conn is plaintext).
	ctx, cancel := context.WithTimeout(auth, 5*time.Second)
	defer cancel()
	if _, err := impactv1.NewCustomerServiceClient(d.conn).ListCustomers(ctx, &impactv1.ListCustomersRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext gRPC: got %v, want UNAVAILABLE", err)
	}
	// Plaintext HTTP gets Go's 400 "client sent an HTTP request to an HTTPS
	// server", never an answer.
	resp, err := http.Get(d.url("/healthz"))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plaintext HTTP: HTTP %d, want 400", resp.StatusCode)
		}
	}
}
