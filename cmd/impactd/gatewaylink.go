package main

import (
	"context"
	"log/slog"
	"math"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/test/bufconn"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// gatewayLink is the gRPC server the JSON gateway calls: the same services
// and interceptors (authentication, deadlines, logging, metrics) as the
// public gRPC server, reached over an in-process pipe. Every HTTP request
// is one call on the gateway's single connection, so the public server's
// per-connection bounds (--grpc-max-streams, idle and age limits) would
// let a hundred unread HTTP watches stall every other HTTP request,
// /healthz included; HTTP requests are bounded on the HTTP listener
// instead (--max-conns, the in-flight budget, which the HTTP side already
// holds for them, so this server has none). The pipe leaves the process
// never, so it needs no TLS and nobody else can connect to it.
type gatewayLink struct {
	srv    *grpc.Server
	health *health.Server
	ln     *bufconn.Listener
}

// forever is gRPC's "no limit" for keepalive durations.
const forever = time.Duration(math.MaxInt64)

// newGatewayLink serves est and more (the public server's service values,
// shared) to the gateway, with tokens and the call timeout among more.
func newGatewayLink(log *slog.Logger, tokens *server.Tokens, lc limitsConfig, est impactv1.EstimatorServiceServer, more ...server.Registrar) *gatewayLink {
	// HTTP/1.1 carries one request a connection and HTTP/2 250 at most, so
	// the HTTP listener's bound is what bounds the streams here.
	tr := server.Transport{
		MaxConcurrentStreams: math.MaxUint32, MaxHeaderBytes: uint32(lc.maxHeaderBytes),
		KeepaliveMinTime: lc.keepaliveMinTime, IdleTimeout: forever, MaxConnAge: forever, MaxConnAgeGrace: forever,
		HandshakeTimeout: lc.readHeaderTimeout,
	}
	srv, hs := server.NewGRPCServer(log, server.Security{Tokens: tokens}, est, append(more, tr)...)
	return &gatewayLink{srv: srv, health: hs, ln: bufconn.Listen(1 << 20)}
}

// serve serves the link until stop.
func (g *gatewayLink) serve() error { return g.srv.Serve(g.ln) }

// dial connects the gateway to the link.
func (g *gatewayLink) dial() (*grpc.ClientConn, error) {
	return server.DialGateway("passthrough:///impactd-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return g.ln.DialContext(ctx) }))
}
