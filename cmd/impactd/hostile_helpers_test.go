package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Helpers of the hostile-client tests (hostile_test.go): impactd runs in
// this process, so its memory is this process's RSS and its sockets are
// this process's file descriptors.

// rssBytes is the resident set of this process (VmRSS).
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// peakRSS samples the RSS every 5 ms until the returned func is called,
// which returns the highest sample.
func peakRSS(t *testing.T) func() int64 {
	t.Helper()
	peak := rssBytes(t)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				peak = max(peak, rssBytes(t))
			}
		}
	}()
	return func() int64 {
		close(done)
		<-stopped
		return max(peak, rssBytes(t))
	}
}

// openFDs is the file descriptors this process holds.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

const mib = 1 << 20

// answersWithin checks, each on a new connection (an attack may hold the
// old ones), that /healthz, gRPC health and a stateless Estimate (with
// token, "" for none) answer within limit, and returns the slowest time.
func answersWithin(t *testing.T, d *impactd, token string, limit time.Duration) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	start := time.Now()
	slowest := time.Duration(0)
	lap := func() {
		slowest = max(slowest, time.Since(start))
		start = time.Now()
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: limit}
	resp, err := client.Get(d.url("/healthz"))
	if err != nil {
		t.Errorf("/healthz: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz: %s", resp.Status)
		}
	}
	lap()
	conn, err := grpc.NewClient(d.addrs.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if r, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health: %v %v", r, err)
	}
	lap()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	est, err := impactv1.NewEstimatorServiceClient(conn).Estimate(ctx, seedRequest(t))
	if err != nil {
		t.Errorf("Estimate: %v", err)
	} else if got := est.GetIncidents()[0].GetReportingTotals().GetSlaCredits(); got != "16538.05" {
		t.Errorf("Estimate: SLA credits %s, want 16538.05 (README)", got)
	}
	lap()
	return slowest
}

// h2conn is a hand-made HTTP/2 client connection: unlike a gRPC client it
// opens streams without bodies and sends whatever headers it is told to.
type h2conn struct {
	c      net.Conn
	fr     *http2.Framer
	mu     sync.Mutex // guards writes
	enc    *hpack.Encoder
	buf    bytes.Buffer
	next   uint32 // next stream id
	rsts   atomic.Int64
	goaway atomic.Bool
	closed chan struct{} // closed when the server closed the connection
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &h2conn{c: c, next: 1, closed: make(chan struct{})}
	bw := bufio.NewWriterSize(c, 64<<10)
	h.fr = http2.NewFramer(&flushWriter{bw}, bufio.NewReader(c))
	h.fr.SetMaxReadFrameSize(1 << 20)
	h.enc = hpack.NewEncoder(&h.buf)
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	return h
}

// flushWriter flushes after every frame, so frames are not held back.
type flushWriter struct{ w *bufio.Writer }

func (f *flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.w.Flush()
	}
	return n, err
}

// read answers the server's SETTINGS and PINGs and counts RST_STREAMs and
// GOAWAY until the connection ends.
func (h *h2conn) read() {
	defer close(h.closed)
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.mu.Lock()
				h.fr.WriteSettingsAck()
				h.mu.Unlock()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				h.mu.Lock()
				h.fr.WritePing(true, f.Data)
				h.mu.Unlock()
			}
		case *http2.RSTStreamFrame:
			h.rsts.Add(1)
		case *http2.GoAwayFrame:
			h.goaway.Store(true)
		}
	}
}

// open starts a gRPC call of method with extra headers and no body (no
// END_STREAM): the server waits for a request message that never comes.
func (h *h2conn) open(method string, extra ...hpack.HeaderField) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	for _, f := range callHeaders(method, extra...) {
		h.enc.WriteField(f)
	}
	return h.writeBlock(h.buf.Bytes())
}

func callHeaders(method string, extra ...hpack.HeaderField) []hpack.HeaderField {
	return append([]hpack.HeaderField{
		{Name: ":method", Value: "POST"}, {Name: ":scheme", Value: "http"},
		{Name: ":path", Value: method}, {Name: ":authority", Value: "impactd"},
		{Name: "content-type", Value: "application/grpc"}, {Name: "te", Value: "trailers"},
	}, extra...)
}

// headerBlock encodes fields as the first header block of a connection.
func headerBlock(fields []hpack.HeaderField) []byte {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	for _, f := range fields {
		enc.WriteField(f)
	}
	return b.Bytes()
}

// openFirst starts the connection's first stream with a block from
// headerBlock (shared by many connections: it is not copied).
func (h *h2conn) openFirst(block []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.writeBlock(block)
}

// writeBlock sends a header block as HEADERS and CONTINUATION frames of a
// new stream. h.mu is held.
func (h *h2conn) writeBlock(block []byte) error {
	id := h.next
	h.next += 2
	const frame = 16 << 10 // the server's SETTINGS_MAX_FRAME_SIZE default
	first := block[:min(len(block), frame)]
	block = block[len(first):]
	if err := h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndHeaders: len(block) == 0}); err != nil {
		return err
	}
	for len(block) > 0 {
		n := min(len(block), frame)
		if err := h.fr.WriteContinuation(id, n == len(block), block[:n]); err != nil {
			return err
		}
		block = block[n:]
	}
	return nil
}

// ping sends a PING frame.
func (h *h2conn) ping() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fr.WritePing(false, [8]byte{1})
}

// settle gives the server a moment to process what was sent, then
// collects garbage, so RSS is compared between quiet moments.
func settle() {
	time.Sleep(300 * time.Millisecond)
}
