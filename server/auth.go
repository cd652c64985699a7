package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Authentication and roles (api.md "Running it"): bearer tokens whose
// sha256 digests, each with a role and a name, are listed in the file of
// --auth-tokens. The server never holds a token itself, so the file is not
// a secret worth stealing.

// Security is how the gRPC server authenticates callers and protects
// connections; the zero value does neither, which is only safe on loopback.
type Security struct {
	Tokens *Tokens                          // nil: no authentication
	TLS    credentials.TransportCredentials // nil: plaintext
}

// Role is what a token may do. Each role includes the ones below it.
type Role int

const (
	// Open methods need no token: health checks and reflection, which
	// probes and tooling call without credentials.
	Open Role = iota
	// Viewer reads stored resources and runs stateless estimates.
	Viewer
	// Editor also writes stored resources and estimates stored incidents.
	Editor
	// Admin may call everything: also create and cancel recompute jobs,
	// and any method that lacks a policy entry.
	Admin
)

var roleNames = map[string]Role{"viewer": Viewer, "editor": Editor, "admin": Admin}

func (r Role) String() string {
	for name, role := range roleNames {
		if role == r {
			return name
		}
	}
	if r == Open {
		return "open"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// MethodRoles is the minimum role of every gRPC method impactd serves, by
// full method name. TestEveryMethodHasAPolicy fails when a registered
// method is missing, so a new RPC cannot ship without a decision; at run
// time a missing method needs Admin (fail closed).
var MethodRoles = map[string]Role{
	impactv1.EstimatorService_Estimate_FullMethodName: Viewer,

	impactv1.CustomerService_CreateCustomer_FullMethodName: Editor,
	impactv1.CustomerService_GetCustomer_FullMethodName:    Viewer,
	impactv1.CustomerService_ListCustomers_FullMethodName:  Viewer,
	impactv1.CustomerService_UpdateCustomer_FullMethodName: Editor,
	impactv1.CustomerService_DeleteCustomer_FullMethodName: Editor,

	impactv1.ContractService_CreateContract_FullMethodName:       Editor,
	impactv1.ContractService_GetContract_FullMethodName:          Viewer,
	impactv1.ContractService_ListContracts_FullMethodName:        Viewer,
	impactv1.ContractService_UpdateContract_FullMethodName:       Editor,
	impactv1.ContractService_DeleteContract_FullMethodName:       Editor,
	impactv1.ContractService_GetContractStatement_FullMethodName: Viewer,

	impactv1.IncidentService_CreateIncident_FullMethodName:             Editor,
	impactv1.IncidentService_GetIncident_FullMethodName:                Viewer,
	impactv1.IncidentService_ListIncidents_FullMethodName:              Viewer,
	impactv1.IncidentService_UpdateIncident_FullMethodName:             Editor,
	impactv1.IncidentService_DeleteIncident_FullMethodName:             Editor,
	impactv1.IncidentService_BatchCreateIncidentWindows_FullMethodName: Editor,
	impactv1.IncidentService_GetIncidentWindow_FullMethodName:          Viewer,
	impactv1.IncidentService_ListIncidentWindows_FullMethodName:        Viewer,
	impactv1.IncidentService_DeleteIncidentWindow_FullMethodName:       Editor,
	// :estimate computes and stores a new estimate revision: a write.
	impactv1.IncidentService_EstimateIncident_FullMethodName:              Editor,
	impactv1.IncidentService_GetIncidentEstimate_FullMethodName:           Viewer,
	impactv1.IncidentService_ListIncidentEstimateRevisions_FullMethodName: Viewer,

	// Recompute jobs rewrite the estimates of many incidents at once (or,
	// dry, load the database as much): admin only. Reading them is a read.
	impactv1.RecomputeService_CreateRecomputeJob_FullMethodName:      Admin,
	impactv1.RecomputeService_CancelRecomputeJob_FullMethodName:      Admin,
	impactv1.RecomputeService_GetRecomputeJob_FullMethodName:         Viewer,
	impactv1.RecomputeService_ListRecomputeJobs_FullMethodName:       Viewer,
	impactv1.RecomputeService_ListRecomputeJobChanges_FullMethodName: Viewer,
	impactv1.RecomputeService_WatchRecomputeJob_FullMethodName:       Viewer,

	// Exposure questions write nothing: viewers may ask them.
	impactv1.ExposureService_GetContractHeadroom_FullMethodName:  Viewer,
	impactv1.ExposureService_ListContractHeadroom_FullMethodName: Viewer,
	impactv1.ExposureService_SimulateOutage_FullMethodName:       Viewer,
	// The credit ledger: editors record claims; approving, rejecting,
	// issuing and closing accounting periods are finance's (admin).
	impactv1.LedgerService_GetCreditLine_FullMethodName:                  Viewer,
	impactv1.LedgerService_ListCreditLines_FullMethodName:                Viewer,
	impactv1.LedgerService_ClaimCredit_FullMethodName:                    Editor,
	impactv1.LedgerService_ApproveCredit_FullMethodName:                  Admin,
	impactv1.LedgerService_RejectCredit_FullMethodName:                   Admin,
	impactv1.LedgerService_IssueCredit_FullMethodName:                    Admin,
	impactv1.LedgerService_GetLedgerPeriod_FullMethodName:                Viewer,
	impactv1.LedgerService_CloseLedgerPeriod_FullMethodName:              Admin,
	impactv1.LedgerService_GetAccrualReport_FullMethodName:               Viewer,
	impactv1.LedgerService_ExportCreditNotes_FullMethodName:              Viewer,
	impactv1.ImpactStatementService_GetImpactStatement_FullMethodName:    Viewer,
	impactv1.ImpactStatementService_ListCustomerEstimates_FullMethodName: Viewer,
	impactv1.ContractService_ListContractStatements_FullMethodName:       Viewer,

	// Reporting settings move every estimate that uses them: admin only.
	impactv1.SettingsService_GetReportingSettings_FullMethodName:    Viewer,
	impactv1.SettingsService_UpdateReportingSettings_FullMethodName: Admin,
	// The audit log shows every write's values and who made it: admin only.
	impactv1.AuditService_ListAuditRecords_FullMethodName: Admin,

	healthpb.Health_Check_FullMethodName:                                   Open,
	healthpb.Health_List_FullMethodName:                                    Open,
	healthpb.Health_Watch_FullMethodName:                                   Open,
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      Open,
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: Open,
}

// RequiredRole is the minimum role for fullMethod: its MethodRoles entry,
// or Admin when it has none.
func RequiredRole(fullMethod string) Role {
	if r, ok := MethodRoles[fullMethod]; ok {
		return r
	}
	return Admin
}

// Token is one line of a tokens file.
type Token struct {
	Digest [sha256.Size]byte // sha256 of the bearer token
	Role   Role
	Name   string // who holds it; written into audit rows
}

// Tokens is a parsed tokens file.
type Tokens struct {
	mu   sync.RWMutex // guards list, which Reload replaces
	list []Token
}

// LoadTokens reads a tokens file (see ParseTokens).
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth tokens: %w", err)
	}
	defer f.Close()
	if err := checkTokensFileMode(path, f); err != nil {
		return nil, err
	}
	return ParseTokens(path, f)
}

// ParseTokens reads lines of "<sha256-hex-of-token> <role> <name>"; blank
// lines and lines starting with # are skipped. Errors name the file and
// line: malformed lines, digests that are not 64 hex digits, unknown roles
// and a digest listed twice (which of its two roles would apply?) are all
// refused, as is a file without any token, which would lock everyone out.
// A name is listed once (audit rows name the holder, so two holders of one
// name could not be told apart) and is never "anonymous", the actor of
// calls without a token.
func ParseTokens(file string, r io.Reader) (*Tokens, error) {
	var ts Tokens
	seen := map[[sha256.Size]byte]int{}
	names := map[string]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", file, n, fmt.Sprintf(format, args...))
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fail("want \"<sha256-hex-of-token> <role> <name>\", got %d fields", len(f))
		}
		var t Token
		b, err := hex.DecodeString(f[0])
		if err != nil || len(b) != sha256.Size {
			// The value is not echoed: it might be a token pasted by mistake.
			return nil, fail("the first field must be the 64 hex digits of the token's sha256, not the token")
		}
		copy(t.Digest[:], b)
		role, ok := roleNames[f[1]]
		if !ok {
			return nil, fail("unknown role %q (want viewer, editor or admin)", f[1])
		}
		t.Role, t.Name = role, f[2]
		if prev, dup := seen[t.Digest]; dup {
			return nil, fail("the same token digest as line %d", prev)
		}
		seen[t.Digest] = n
		if t.Name == impact.Anonymous {
			return nil, fail("the name %q is reserved for calls without a token", t.Name)
		}
		if prev, dup := names[t.Name]; dup {
			return nil, fail("the name %q is already on line %d: give each token its own name", t.Name, prev)
		}
		names[t.Name] = n
		ts.list = append(ts.list, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(ts.list) == 0 {
		return nil, fmt.Errorf("%s: no tokens: nobody could call impactd", file)
	}
	return &ts, nil
}

// Lookup returns the entry of the presented bearer token.
//
// It compares the token's sha256 with every entry using
// subtle.ConstantTimeCompare and never stops early, so the time taken
// depends only on the number of entries, not on how much of a guess
// matches or on which entry matched. Even a leak there would reveal only
// bits of a digest, and a sha256 digest does not help find the token: the
// digests are not secret, the tokens are.
func (ts *Tokens) Lookup(token string) (Token, bool) {
	d := sha256.Sum256([]byte(token))
	var found Token
	match := 0
	ts.mu.RLock()
	defer ts.mu.RUnlock()
	for _, t := range ts.list {
		if subtle.ConstantTimeCompare(d[:], t.Digest[:]) == 1 {
			found, match = t, 1
		}
	}
	return found, match == 1
}

// authorize decides one call: Open methods pass untouched; anything else
// needs a valid bearer token of at least the method's role, and the
// returned context carries the token's name as the actor of audit rows.
func (ts *Tokens) authorize(ctx context.Context, log *slog.Logger, fullMethod string) (context.Context, error) {
	need := RequiredRole(fullMethod)
	if need == Open {
		return ctx, nil
	}
	token, err := bearer(ctx)
	if err != nil {
		return nil, toStatus(ctx, log, err, "")
	}
	t, ok := ts.Lookup(token)
	if !ok {
		return nil, toStatus(ctx, log, impact.Errorf(impact.EUNAUTHENTICATED, "invalid bearer token").WithReason(impact.ReasonInvalidToken), "")
	}
	if t.Role < need {
		return nil, toStatus(ctx, log, impact.Errorf(impact.EFORBIDDEN,
			"%s needs role %s; %q has role %s", fullMethod, need, t.Name, t.Role), "")
	}
	return impact.WithActor(ctx, t.Name), nil
}

// bearer returns the token of the one "authorization: Bearer <token>"
// metadata entry. The gateway forwards the HTTP Authorization header as
// this entry.
func bearer(ctx context.Context) (string, error) {
	return bearerOf(metadata.ValueFromIncomingContext(ctx, "authorization"))
}

// bearerOf is bearer on the values of the authorization entry.
func bearerOf(vals []string) (string, error) {
	switch len(vals) {
	case 0:
		return "", impact.Errorf(impact.EUNAUTHENTICATED, "missing credentials: send \"authorization: Bearer <token>\"").
			WithReason(impact.ReasonMissingCredentials)
	case 1:
	default:
		return "", impact.Errorf(impact.EUNAUTHENTICATED, "more than one authorization value")
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	// The scheme is case-insensitive (RFC 9110 section 11.1).
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", impact.Errorf(impact.EUNAUTHENTICATED, "authorization must be \"Bearer <token>\"")
	}
	return strings.TrimSpace(token), nil
}

// UnaryInterceptor enforces MethodRoles on unary calls.
func (ts *Tokens) UnaryInterceptor(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := ts.authorize(ctx, log, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor enforces MethodRoles on streaming calls.
func (ts *Tokens) StreamInterceptor(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := ts.authorize(ss.Context(), log, info.FullMethod)
		if err != nil {
			return err
		}
		w := middleware.WrapServerStream(ss)
		w.WrappedContext = ctx
		return handler(srv, w)
	}
}
