package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/impact-svc/impact/impact"
)

func digest(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

// Every method of every service NewGRPCServer registers has an entry in
// MethodRoles: a new RPC must get a deliberate role before it can ship,
// rather than falling back to the admin-only default unnoticed.
func TestEveryMethodHasAPolicy(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	srv, _ := NewGRPCServer(log, Security{}, NewEstimator(log), NewStored(log, nil), NewRecomputeService(log, nil, 0),
		NewExposure(log, nil, nil), NewLedger(log, nil), NewImpactStatements(log, nil), NewAuditService(log, nil))
	var n int
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			n++
			full := "/" + svc + "/" + m.Name
			if _, ok := MethodRoles[full]; !ok {
				t.Errorf("%s has no entry in MethodRoles", full)
			}
		}
	}
	// Health (3) and reflection (2) and the impact services; a server
	// that registered nothing would pass the loop above vacuously.
	if n < 20 {
		t.Errorf("only %d methods registered", n)
	}
	// And no entry names a method that does not exist (a typo there would
	// leave the real method on the default).
	registered := map[string]bool{}
	for svc, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			registered["/"+svc+"/"+m.Name] = true
		}
	}
	for m := range MethodRoles {
		if !registered[m] {
			t.Errorf("MethodRoles has %s, which is not registered", m)
		}
	}
}

func TestParseTokens(t *testing.T) {
	a, b := digest("token-a"), digest("token-b")
	for _, tc := range []struct {
		name, file, err string
	}{
		{"ok", "# comment\n\n" + a + " viewer ann\n  " + strings.ToUpper(b) + "\teditor bob  \n", ""},
		{"too few fields", a + " viewer\n", "tokens:1: want \"<sha256-hex-of-token> <role> <name>\", got 2 fields"},
		{"too many fields", "\n" + a + " viewer ann extra\n", "tokens:2: want"},
		{"not hex", "# x\n" + strings.Repeat("z", 64) + " viewer ann\n", "tokens:2: the first field must be the 64 hex digits"},
		{"the token itself", "token-a viewer ann\n", "tokens:1: the first field must be"},
		{"short digest", a[:62] + " viewer ann\n", "tokens:1: the first field must be"},
		{"unknown role", a + " root ann\n", `tokens:1: unknown role "root"`},
		{"role is case-sensitive", a + " Viewer ann\n", `tokens:1: unknown role "Viewer"`},
		{"duplicate digest", a + " viewer ann\n" + b + " editor bob\n" + a + " admin eve\n", "tokens:3: the same token digest as line 1"},
		{"empty", "# nobody\n", "tokens: no tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := ParseTokens("tokens", strings.NewReader(tc.file))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(ts.list) != 2 {
					t.Errorf("%d tokens, want 2", len(ts.list))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %v, want %q", err, tc.err)
			}
			// A pasted token must not end up in logs through the error.
			if err != nil && strings.Contains(err.Error(), "token-a") {
				t.Errorf("error repeats the token: %v", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	ts, err := ParseTokens("tokens", strings.NewReader(
		digest("v")+" viewer vera\n"+digest("e")+" editor alice\n"+digest("a")+" admin root\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		ok    bool
		name  string
		role  Role
	}{
		{"v", true, "vera", Viewer},
		{"e", true, "alice", Editor},
		{"a", true, "root", Admin},
		{"x", false, "", Open},
		{"", false, "", Open},
		// The digest itself is not a token.
		{digest("v"), false, "", Open},
	} {
		got, ok := ts.Lookup(tc.token)
		if ok != tc.ok || got.Name != tc.name || got.Role != tc.role {
			t.Errorf("Lookup(%q) = %+v, %v; want %s %s, %v", tc.token, got, ok, tc.name, tc.role, tc.ok)
		}
	}
}

// actorStreamDesc is a server-streaming method with no MethodRoles entry:
// it needs Admin. Its handler reports the actor it sees as the message of
// an ABORTED status, the one way a handler's finding reaches the client
// without a message type.
var actorStreamDesc = grpc.ServiceDesc{
	ServiceName: "test.Actor",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Who",
		ServerStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			return status.Error(codes.Aborted, "actor="+impact.ActorFrom(ss.Context()))
		},
	}},
}

// The stream interceptor enforces roles like the unary one, fails closed
// for a method without a policy, and hands the token's name to the handler.
func TestStreamInterceptor(t *testing.T) {
	ts, err := ParseTokens("tokens", strings.NewReader(digest("v")+" viewer vera\n"+digest("a")+" admin root\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	srv, _ := NewGRPCServer(log, Security{Tokens: ts}, NewEstimator(log))
	srv.RegisterService(&actorStreamDesc, struct{}{})
	ln := bufconn.Listen(1 << 20)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	for _, tc := range []struct {
		token string
		code  codes.Code
		actor string
	}{
		{"", codes.Unauthenticated, ""},
		{"wrong", codes.Unauthenticated, ""},
		{"v", codes.PermissionDenied, ""},
		{"a", codes.Aborted, "actor=root"},
	} {
		ctx := context.Background()
		if tc.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tc.token)
		}
		stream, err := conn.NewStream(ctx, &actorStreamDesc.Streams[0], "/test.Actor/Who")
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		err = stream.RecvMsg(new(struct{}))
		st := status.Convert(err)
		if st.Code() != tc.code || tc.actor != "" && st.Message() != tc.actor {
			t.Errorf("token %q: %v, want %s %s", tc.token, err, tc.code, tc.actor)
		}
	}
}
