package main

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// flowConn is a hand-made HTTP/2 client connection that sends request
// bodies as fast as the server's flow-control windows allow, as a real
// client does, and never ends them.
type flowConn struct {
	c    net.Conn
	fr   *http2.Framer
	mu   sync.Mutex // guards fr's writes and the windows
	cond *sync.Cond
	conn int64            // connection send window
	win  map[uint32]int64 // stream send windows
	init int64            // the server's initial stream window
	gone map[uint32]bool  // streams the server reset or ended
	dead bool
}

func dialFlow(t *testing.T, addr string) *flowConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	f := &flowConn{c: c, conn: 65535, init: 65535, win: map[uint32]int64{}, gone: map[uint32]bool{}}
	f.cond = sync.NewCond(&f.mu)
	f.fr = http2.NewFramer(&flushWriter{bufio.NewWriterSize(c, 64<<10)}, bufio.NewReader(c))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	if err := f.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go f.read()
	return f
}

func (f *flowConn) read() {
	defer func() {
		f.mu.Lock()
		f.dead = true
		f.cond.Broadcast()
		f.mu.Unlock()
	}()
	for {
		fr, err := f.fr.ReadFrame()
		if err != nil {
			return
		}
		f.mu.Lock()
		switch fr := fr.(type) {
		case *http2.SettingsFrame:
			if !fr.IsAck() {
				if v, ok := fr.Value(http2.SettingInitialWindowSize); ok {
					for id := range f.win {
						f.win[id] += int64(v) - f.init
					}
					f.init = int64(v)
				}
				f.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !fr.IsAck() {
				f.fr.WritePing(true, fr.Data)
			}
		case *http2.WindowUpdateFrame:
			if fr.StreamID == 0 {
				f.conn += int64(fr.Increment)
			} else {
				f.win[fr.StreamID] += int64(fr.Increment)
			}
		case *http2.RSTStreamFrame:
			f.gone[fr.StreamID] = true
		case *http2.HeadersFrame:
			if fr.StreamEnded() {
				f.gone[fr.StreamID] = true
			}
		}
		f.cond.Broadcast()
		f.mu.Unlock()
	}
}

// open opens stream id (in increasing order) as a call of method.
func (f *flowConn) open(id uint32, method string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.win[id] = f.init
	f.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: headerBlock(callHeaders(method)), EndHeaders: true})
}

// send sends stream id a request message declaring length bytes, all but
// its last byte, as the windows allow, until the server ends the stream or
// the connection. It returns the bytes sent.
func (f *flowConn) send(id uint32, length int) int64 {
	var hdr [5]byte
	binary.BigEndian.PutUint32(hdr[1:], uint32(length))
	chunk := make([]byte, 16<<10)
	copy(chunk, hdr[:])
	left := int64(length + 5 - 1)
	var sent int64
	for left > 0 {
		f.mu.Lock()
		for !f.dead && !f.gone[id] && (f.conn <= 0 || f.win[id] <= 0) {
			f.cond.Wait()
		}
		if f.dead || f.gone[id] {
			f.mu.Unlock()
			return sent
		}
		n := min(int64(len(chunk)), f.conn, f.win[id], left)
		f.conn -= n
		f.win[id] -= n
		err := f.fr.WriteData(id, false, chunk[:n])
		f.mu.Unlock()
		if err != nil {
			return sent
		}
		chunk[0], chunk[1], chunk[2], chunk[3], chunk[4] = 0, 0, 0, 0, 0
		left -= n
		sent += n
	}
	return sent
}

// Many concurrent calls send large request messages as fast as gRPC lets
// them and never finish them, so nothing is ever decoded: the in-flight
// budget, which counts decoded requests, never sees them. Without a
// bound, gRPC lets each stream send its whole message (it opens the
// window to the declared length): 16 × 48 MiB held, about 770 MiB. With
// --grpc-max-receiving-bytes 128MiB two calls at a time are read and the
// others wait with their 64 KiB stream window: RSS grows by well under
// 128 MiB + 16 × 64 KiB (+ the decoding of nothing), asserted under 200
// MiB. Meanwhile HTTP (whose gateway does not go through the gate) and
// gRPC answer health and an Estimate within a second; the waiting calls are cancelled
// after 2 s, and an admitted one is cancelled once it has held its part for
// 200 ms while others wait; after the attack gRPC answers a normal
// Estimate within a second again.
func TestHostileGRPCReceiving(t *testing.T) {
	// Hundreds of MiB of garbage left behind would raise the next test's
	// heap goal, and its RSS with it: given back once impactd has stopped.
	t.Cleanup(func() {
		runtime.GC() // twice: gRPC's buffer pools are sync.Pools
		runtime.GC()
		debug.FreeOSMemory()
	})
	d := start(t, "--grpc-max-receiving-bytes", "128MiB", "--call-timeout", "3s", "--max-inflight-bytes", "64MiB")
	answersWithin(t, d, "", time.Second)
	settle()
	before := rssBytes(t)
	peak := peakRSS(t)
	const conns, perConn, length = 4, 4, 48 * mib
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	start := time.Now()
	for c := 0; c < conns; c++ {
		f := dialFlow(t, d.addrs.GRPC)
		for s := 0; s < perConn; s++ {
			id := uint32(2*s + 1)
			f.open(id, impactv1.EstimatorService_Estimate_FullMethodName)
			wg.Add(1)
			go func(id uint32) {
				defer wg.Done()
				n := f.send(id, length)
				mu.Lock()
				total += n
				mu.Unlock()
			}(id)
		}
	}
	time.Sleep(time.Second)
	// HTTP does not go through the gate: health and an Estimate answer.
	client := &http.Client{Timeout: time.Second}
	if resp, err := client.Get(d.url("/healthz")); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz during the attack: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req, _ := http.NewRequest("POST", d.url("/v1/scenarios:estimate"), strings.NewReader(string(readFile(t, seedFile))))
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("HTTP Estimate during the attack: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// gRPC answers too: a normal call waits for the next part of the
	// allowance, which an attacking call holds for at most 200 ms.
	during := answersWithin(t, d, "", time.Second)
	wg.Wait()
	elapsed := time.Since(start)
	after := peak()
	t.Logf("%d calls sending %d MiB each: %d MiB sent in %s, RSS %d → peak %d MiB; gRPC health and Estimate within %s",
		conns*perConn, length/mib, total/mib, elapsed.Round(time.Millisecond), before/mib, after/mib, during.Round(time.Millisecond))
	if grow := after - before; grow > 200*mib {
		t.Errorf("RSS grew by %d MiB, want at most 200", grow/mib)
	}
	if elapsed > 10*time.Second {
		t.Errorf("the attack's calls ended after %s, want within the 3 s deadline and the 2 s wait", elapsed)
	}
	answersWithin(t, d, "", time.Second)
}
