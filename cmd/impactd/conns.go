package main

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// boundedListener keeps at most max connections of ln open. At the bound a
// new connection displaces, first, the oldest one that has not sent a byte
// yet, else the one that has been quiet longest (no bytes either way for
// at least minQuiet), so a flood of idle connections cannot lock out a
// health probe or a client: each newcomer pushes out the stalest, and the
// flood's own connections are the stalest. When every connection is busy
// the newcomer is closed instead, and the client retries.
// Either way the process never holds more than max sockets per listener,
// far below its file-descriptor limit (raiseFileLimit).
type boundedListener struct {
	net.Listener
	max      int
	minQuiet time.Duration

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

// minQuiet is how long a connection must have been silent to be displaced:
// a call in progress writes or reads within that, an idle flood does not.
const minQuiet = time.Second

func boundListener(ln net.Listener, max int) *boundedListener {
	return &boundedListener{Listener: ln, max: max, minQuiet: minQuiet, conns: map[*trackedConn]struct{}{}}
}

func (l *boundedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := &trackedConn{Conn: c, l: l, accepted: time.Now().UnixNano()}
		tc.touch()
		var victim *trackedConn
		l.mu.Lock()
		if len(l.conns) >= l.max {
			victim = l.stalest()
			if victim == nil {
				l.mu.Unlock()
				c.Close()
				continue
			}
			delete(l.conns, victim)
		}
		l.conns[tc] = struct{}{}
		l.mu.Unlock()
		if victim != nil {
			victim.Close()
		}
		return tc, nil
	}
}

// stalest is the connection to displace for a newcomer, nil for none:
// the oldest that never sent a byte, else the longest quiet if it has been
// quiet for minQuiet. l.mu is held.
func (l *boundedListener) stalest() *trackedConn {
	var silent, quiet *trackedConn
	for o := range l.conns {
		if !o.spoke.Load() {
			if silent == nil || o.accepted < silent.accepted {
				silent = o
			}
		} else if quiet == nil || o.last.Load() < quiet.last.Load() {
			quiet = o
		}
	}
	if silent != nil {
		return silent
	}
	if quiet != nil && time.Duration(time.Now().UnixNano()-quiet.last.Load()) >= l.minQuiet {
		return quiet
	}
	return nil
}

// trackedConn records when it last moved a byte.
type trackedConn struct {
	net.Conn
	l        *boundedListener
	accepted int64        // unix nanoseconds
	last     atomic.Int64 // unix nanoseconds of the last byte either way
	spoke    atomic.Bool  // the client has sent a byte
	once     sync.Once
}

func (c *trackedConn) touch() { c.last.Store(time.Now().UnixNano()) }

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.touch()
		if !c.spoke.Load() {
			c.spoke.Store(true)
		}
	}
	return n, err
}

func (c *trackedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.touch()
	}
	return n, err
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// raiseFileLimit raises the soft limit of open files to the hard limit
// (Go does this on Linux at start, this makes it explicit and reports the
// result) and returns it, 0 when unknown.
func raiseFileLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	return lim.Cur
}

// fdReserve is the descriptors kept free besides the listeners' connections
// and the database's: files, the gateway's connection, DNS, the log.
const fdReserve = 128

// fitConns lowers maxConns, when needed, so that both listeners at their
// bound plus the database pool and fdReserve stay within the file limit.
func fitConns(log *slog.Logger, maxConns, dbConns int, fileLimit uint64) int {
	if fileLimit == 0 {
		return maxConns
	}
	room := (int64(fileLimit) - int64(dbConns) - fdReserve) / 2
	if int64(maxConns) <= room {
		return maxConns
	}
	fit := int(max(room, 2))
	log.Warn("--max-conns lowered to fit the open-files limit", "max_conns", maxConns, "lowered_to", fit, "nofile", fileLimit)
	return fit
}
