// Package console is the account manager's web console: a small client
// application (plain JavaScript modules, HTML and CSS, embedded, no build
// step) served by impactd on its HTTP listener at "/". The application
// reads and writes only through the JSON gateway, so every call passes the
// same interceptors (roles, audit, logging) as any other client's.
//
// With authentication on, the console signs a person in with a bearer
// token and keeps a session cookie; Wrap turns that cookie into the
// Authorization header of the gateway calls and checks a CSRF token on
// writes (session.go). Every console response carries a Content-Security-
// Policy that allows only the console's own assets.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/impact-svc/impact/server"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy allows the console's own scripts, styles, images
// and API calls and nothing else: no inline script, no other origin, no
// framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure the console.
type Options struct {
	// Tokens, when set, turns on sign-in; nil leaves the console open, as
	// the API is without --auth-tokens (loopback only).
	Tokens *server.Tokens
	// Secure marks the session cookie Secure (impactd serves TLS).
	Secure bool
	// SessionTTL is how long a session lasts; DefaultSessionTTL when 0.
	SessionTTL time.Duration
	// Now is impactd's clock: of session expiry, and the "now" the
	// console measures credit deadlines from; time.Now when nil.
	Now func() time.Time
}

// DefaultSessionTTL is the lifetime of a console session.
const DefaultSessionTTL = 8 * time.Hour

// Console serves the console's pages and sessions and wraps the gateway.
type Console struct {
	opts     Options
	sessions *sessions
	static   http.Handler
}

// New returns the console.
func New(o Options) *Console {
	if o.SessionTTL <= 0 {
		o.SessionTTL = DefaultSessionTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return &Console{opts: o, sessions: newSessions(o.Now, o.SessionTTL), static: http.FileServerFS(sub)}
}

// Wrap returns next with the console in front: "/" and "/console/..." are
// the console's; every other request goes to next, with a session cookie
// turned into its bearer token (session.go). It must be the outermost
// handler, so that every gateway middleware sees the Authorization header.
func (c *Console) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/index.html":
			c.serveIndex(w, r)
		case r.URL.Path == "/console/session":
			c.securityHeaders(w)
			c.serveSession(w, r)
		case strings.HasPrefix(r.URL.Path, "/console/"):
			c.serveAsset(w, r)
		default:
			c.authenticate(next).ServeHTTP(w, r)
		}
	})
}

func (c *Console) securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (c *Console) serveIndex(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c.securityHeaders(w)
	w.Header().Set("Cache-Control", "no-cache")
	b, _ := assets.ReadFile("assets/index.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	c.securityHeaders(w)
	// Assets change with the binary: revalidate rather than cache stale.
	w.Header().Set("Cache-Control", "no-cache")
	r2 := r.Clone(r.Context())
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/console")
	if strings.HasSuffix(r2.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	c.static.ServeHTTP(w, r2)
}
