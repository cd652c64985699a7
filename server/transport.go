package server

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// Transport bounds what one client can hold of the gRPC server: streams
// per connection, header bytes per call, how often it may ping, how long a
// connection may sit idle or live, and (Budget) how many request bytes may
// be in flight. Given to NewGRPCServer among its services, like
// CallTimeout; a field left zero takes the default below.
type Transport struct {
	// MaxConcurrentStreams is the calls one connection may have open at
	// once; further streams wait for a free slot in the client.
	MaxConcurrentStreams uint32
	// MaxHeaderBytes bounds a call's header list (its metadata).
	MaxHeaderBytes uint32
	// KeepaliveMinTime is the shortest interval between a client's pings
	// the server tolerates; a client pinging more often is sent away
	// (GOAWAY too_many_pings). Pings without an active call are allowed.
	KeepaliveMinTime time.Duration
	// IdleTimeout closes a connection without calls for that long.
	IdleTimeout time.Duration
	// MaxConnAge closes any connection after about that long (GOAWAY, the
	// client reconnects), after MaxConnAgeGrace for its calls to finish.
	MaxConnAge      time.Duration
	MaxConnAgeGrace time.Duration
	// HandshakeTimeout bounds a new connection's TLS and HTTP/2 handshake.
	HandshakeTimeout time.Duration
	// Budget, when not nil, is the request bytes in flight, shared with
	// the HTTP gateway.
	Budget *Budget
	// ReceivingBytes, with Budget, is the allowance of requests still
	// arriving (recvgate.go): a call takes MaxMessageBytes of it while gRPC
	// reads its request. At least MaxMessageBytes; 0 is
	// DefaultReceivingBytes.
	ReceivingBytes int64
}

// Defaults of Transport, which impactd's flags also use.
const (
	DefaultMaxConcurrentStreams = 100
	// DefaultMaxHeaderBytes fits a bearer token, a request id and the
	// headers of any gRPC or HTTP client many times over; gRPC's own
	// default is 16 MiB a call.
	DefaultMaxHeaderBytes = 32 << 10
	// DefaultKeepaliveMinTime lets a client ping every 10 s (a common
	// setting) with room for jitter; gRPC's own default is 5 minutes.
	DefaultKeepaliveMinTime = 5 * time.Second
	DefaultIdleTimeout      = 2 * time.Minute
	DefaultMaxConnAge       = time.Hour
	DefaultMaxConnAgeGrace  = time.Minute
	DefaultHandshakeTimeout = 10 * time.Second
)

// Register does nothing; see Transport.
func (Transport) Register(grpc.ServiceRegistrar) {}

// withDefaults fills in the zero fields.
func (t Transport) withDefaults() Transport {
	if t.MaxConcurrentStreams == 0 {
		t.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if t.MaxHeaderBytes == 0 {
		t.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if t.KeepaliveMinTime == 0 {
		t.KeepaliveMinTime = DefaultKeepaliveMinTime
	}
	if t.IdleTimeout == 0 {
		t.IdleTimeout = DefaultIdleTimeout
	}
	if t.MaxConnAge == 0 {
		t.MaxConnAge = DefaultMaxConnAge
	}
	if t.MaxConnAgeGrace == 0 {
		t.MaxConnAgeGrace = DefaultMaxConnAgeGrace
	}
	if t.HandshakeTimeout == 0 {
		t.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if t.ReceivingBytes == 0 {
		t.ReceivingBytes = DefaultReceivingBytes
	}
	return t
}

// transportOf is the last Transport among more, with defaults.
func transportOf(more []Registrar) Transport {
	var t Transport
	for _, r := range more {
		if tr, ok := r.(Transport); ok {
			t = tr
		}
	}
	return t.withDefaults()
}

// serverOptions are the gRPC server options of t, with the tap handle that
// refuses calls on their headers (tokens nil: no authentication) and
// starts their deadline (callTimeout).
func (t Transport) serverOptions(log *slog.Logger, tokens *Tokens, callTimeout time.Duration) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxConcurrentStreams(t.MaxConcurrentStreams),
		grpc.MaxHeaderListSize(t.MaxHeaderBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             t.KeepaliveMinTime,
			PermitWithoutStream: true,
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle:     t.IdleTimeout,
			MaxConnectionAge:      t.MaxConnAge,
			MaxConnectionAgeGrace: t.MaxConnAgeGrace,
		}),
		grpc.ConnectionTimeout(t.HandshakeTimeout),
		grpc.InTapHandle(newTapHandle(log, tokens, callTimeout)),
		grpc.StatsHandler(unhandledCalls{log}),
	}
	if t.Budget != nil {
		// Static windows: a stream's window grows only while its request
		// is read, which the receive gate admits.
		opts = append(opts, grpc.InitialWindowSize(StreamWindowBytes), grpc.InitialConnWindowSize(ConnWindowBytes),
			grpc.StatsHandler(newRecvGate(t.ReceivingBytes, DefaultBudgetWait, ReceiveHold)))
	}
	return opts
}
