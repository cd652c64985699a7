package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"sync"
	"time"
)

// Sessions (README "Console"). Signing in posts a bearer token to
// /console/session; the console checks it against the tokens file and
// keeps, in this process's memory, a random session id → {token, name,
// role, CSRF token, expiry}. The browser holds only the id, in an
// HttpOnly, SameSite=Strict cookie (Secure under TLS) that expires with the
// session: the token itself is never in a cookie or in script reach.
// Restarting impactd, or another replica behind a load balancer, signs the
// person out; the console then shows the sign-in form again.
//
// Writes made with the cookie carry the session's CSRF token in the
// X-CSRF-Token header (the application reads it from GET /console/session
// and from the impact_csrf cookie, a double submit); a write without it, or
// any write a browser marks as sent from another origin (Sec-Fetch-Site),
// is refused with 403 before it reaches the gateway.

const (
	sessionCookie = "impact_session"
	csrfCookie    = "impact_csrf"
	csrfHeader    = "X-CSRF-Token"
	// maxSessions bounds the memory sign-ins can take; the oldest session
	// goes when a new one would exceed it.
	maxSessions = 10000
)

type session struct {
	token, name, role, csrf string
	expires                 time.Time
}

type sessions struct {
	mu   sync.Mutex
	now  func() time.Time
	ttl  time.Duration
	byID map[string]*session
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{now: now, ttl: ttl, byID: map[string]*session{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b)
}

func (s *sessions) create(token, name, role string) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var oldestID string
	for id, x := range s.byID {
		if !now.Before(x.expires) {
			delete(s.byID, id)
		} else if oldestID == "" || x.expires.Before(s.byID[oldestID].expires) {
			oldestID = id
		}
	}
	if len(s.byID) >= maxSessions {
		delete(s.byID, oldestID)
	}
	id := randomHex(32)
	x := &session{token: token, name: name, role: role, csrf: randomHex(32), expires: now.Add(s.ttl)}
	s.byID[id] = x
	return id, x
}

// get returns the live session of the request's cookie, or nil.
func (s *sessions) get(r *http.Request) (string, *session) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.byID[ck.Value]
	if x == nil {
		return "", nil
	}
	if !s.now().Before(x.expires) {
		delete(s.byID, ck.Value)
		return "", nil
	}
	return ck.Value, x
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// unsafe reports whether the method may change something.
func unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// crossOrigin reports a write that the browser says comes from another
// origin (a forged form or fetch on another site or port). Clients that
// are not browsers send no Sec-Fetch-Site and are not affected.
func crossOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return false
	}
	return true
}

// forbidden answers as the gateway answers a refusal: a google.rpc.Status
// with code PERMISSION_DENIED (7) and an ErrorInfo.
func forbidden(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	json.NewEncoder(w).Encode(map[string]any{
		"code": 7, "message": msg,
		"details": []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CSRF", "domain": "impact.v1"}},
	})
}

// authenticate is the outer middleware of the gateway: a request with a
// live session cookie and no Authorization header of its own goes on with
// the session's bearer token; a write must then carry the session's CSRF
// token. Cross-origin browser writes are refused whatever they carry.
func (c *Console) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unsafe(r.Method) && crossOrigin(r) {
			forbidden(w, "cross-origin write refused")
			return
		}
		if c.opts.Tokens != nil && r.Header.Get("Authorization") == "" {
			if _, x := c.sessions.get(r); x != nil {
				if unsafe(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(x.csrf)) != 1 {
					forbidden(w, "missing or wrong "+csrfHeader+" header")
					return
				}
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", "Bearer "+x.token)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// sessionInfo is GET /console/session's answer.
type sessionInfo struct {
	Auth      bool   `json:"auth"`     // sign-in is on
	SignedIn  bool   `json:"signedIn"` // the caller may use the API
	Name      string `json:"name,omitempty"`
	Role      string `json:"role,omitempty"`
	CSRFToken string `json:"csrfToken,omitempty"`
	Expires   string `json:"expires,omitempty"`
	// Now is impactd's clock, the one credit-line states and deadlines
	// are decided by: the console measures "due within 7 days" from it.
	Now string `json:"now"`
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func (c *Console) info(x sessionInfo) sessionInfo {
	x.Now = c.opts.Now().UTC().Format(time.RFC3339Nano)
	return x
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// serveSession: GET tells who is signed in; POST {"token": "…"} signs in;
// DELETE signs out.
func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	if c.opts.Tokens == nil {
		if r.Method != http.MethodGet {
			writeJSON(w, http.StatusNotFound, map[string]any{"code": 5, "message": "sign-in is off: impactd runs without --auth-tokens"})
			return
		}
		// Open like the API: every method is allowed.
		writeJSON(w, http.StatusOK, c.info(sessionInfo{SignedIn: true, Name: "anonymous", Role: "admin"}))
		return
	}
	switch r.Method {
	case http.MethodGet:
		_, x := c.sessions.get(r)
		if x == nil {
			writeJSON(w, http.StatusOK, c.info(sessionInfo{Auth: true}))
			return
		}
		writeJSON(w, http.StatusOK, c.info(sessionInfo{Auth: true, SignedIn: true, Name: x.name, Role: x.role,
			CSRFToken: x.csrf, Expires: x.expires.UTC().Format(time.RFC3339)}))
	case http.MethodPost:
		// JSON only: a cross-site HTML form cannot send it, so nobody can
		// sign a victim in as someone else.
		if crossOrigin(r) || !isJSON(r.Header.Get("Content-Type")) {
			forbidden(w, "sign in from the console (JSON, same origin)")
			return
		}
		var body struct {
			Token string `json:"token"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || body.Token == "" {
			writeJSON(w, http.StatusBadRequest, map[string]any{"code": 3, "message": "send {\"token\": \"<bearer token>\"}"})
			return
		}
		t, ok := c.opts.Tokens.Lookup(body.Token)
		if !ok {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"code": 16, "message": "invalid token"})
			return
		}
		id, x := c.sessions.create(body.Token, t.Name, t.Role.String())
		ttl := int(c.opts.SessionTTL / time.Second)
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: ttl, Expires: x.expires,
			HttpOnly: true, Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
		// The CSRF token is no secret from the page itself: script reads it
		// to send it back (double submit).
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: x.csrf, Path: "/", MaxAge: ttl, Expires: x.expires,
			Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
		writeJSON(w, http.StatusOK, c.info(sessionInfo{Auth: true, SignedIn: true, Name: x.name, Role: x.role,
			CSRFToken: x.csrf, Expires: x.expires.UTC().Format(time.RFC3339)}))
	case http.MethodDelete:
		id, x := c.sessions.get(r)
		if x != nil {
			if crossOrigin(r) || subtle.ConstantTimeCompare([]byte(r.Header.Get(csrfHeader)), []byte(x.csrf)) != 1 {
				forbidden(w, "missing or wrong "+csrfHeader+" header")
				return
			}
			c.sessions.delete(id)
		}
		for _, name := range []string{sessionCookie, csrfCookie} {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: name == sessionCookie,
				Secure: c.opts.Secure, SameSite: http.SameSiteStrictMode})
		}
		writeJSON(w, http.StatusOK, c.info(sessionInfo{Auth: true}))
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"code": 12, "message": "method not allowed"})
	}
}
