package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/server/console"
)

// The console's sign-in, cookie and CSRF rules over plain HTTP; the pages
// themselves are tested in a browser (console_browser_test.go).

const (
	viewerToken = "viewer-secret-7f3a"
	editorToken = "editor-secret-91bc"
	adminToken  = "admin-secret-c0de"
)

// consoleCall sends one request with optional cookies and headers.
func consoleCall(t testing.TB, method, url, body string, cookies []*http.Cookie, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn posts token to /console/session and returns the cookies set and
// the CSRF token.
func signIn(t testing.TB, d *impactd, token string) ([]*http.Cookie, string) {
	t.Helper()
	resp, body := consoleCall(t, "POST", d.url("/console/session"), `{"token": "`+token+`"}`, nil,
		map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in: HTTP %d %s", resp.StatusCode, body)
	}
	var csrf string
	for _, c := range resp.Cookies() {
		if c.Name == "impact_csrf" {
			csrf = c.Value
		}
	}
	if !strings.Contains(body, csrf) || csrf == "" {
		t.Fatalf("sign-in answer %s lacks the CSRF token %q", body, csrf)
	}
	return resp.Cookies(), csrf
}

func TestConsoleSession(t *testing.T) {
	d := start(t, "--auth-tokens", writeTokens(t), "--clock-start", "2025-08-05T00:00:00Z")
	seedStory(t, d, editorToken)

	// The console and its assets are served with the CSP, to anyone.
	for _, p := range []string{"/", "/console/js/app.js", "/console/style.css", "/console/session"} {
		resp, body := consoleCall(t, "GET", d.url(p), "", nil, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != console.ContentSecurityPolicy {
			t.Errorf("GET %s: HTTP %d, CSP %q", p, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
		if p == "/console/session" {
			// Nobody signed in; impactd's clock (which decides credit
			// deadlines), not the machine's.
			var v map[string]any
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatal(err)
			}
			now, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v["now"]))
			if len(v) != 3 || v["auth"] != true || v["signedIn"] != false || err != nil ||
				now.Before(time.Date(2025, 8, 5, 0, 0, 0, 0, time.UTC)) || now.After(time.Date(2025, 8, 5, 0, 5, 0, 0, time.UTC)) {
				t.Errorf("session before sign-in: %s", body)
			}
		}
	}
	if resp, _ := consoleCall(t, "GET", d.url("/v1/customers"), "", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no cookie: HTTP %d, want 401", resp.StatusCode)
	}

	// A bad token signs nobody in; a form post (not JSON) is refused.
	if resp, _ := consoleCall(t, "POST", d.url("/console/session"), `{"token": "guess"}`, nil,
		map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Errorf("bad token: HTTP %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	if resp, _ := consoleCall(t, "POST", d.url("/console/session"), "token="+editorToken, nil,
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("form sign-in: HTTP %d, want 403", resp.StatusCode)
	}

	cookies, csrf := signIn(t, d, editorToken)
	var session *http.Cookie
	for _, c := range cookies {
		if c.Name == "impact_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure ||
		session.MaxAge != int(console.DefaultSessionTTL.Seconds()) || strings.Contains(session.Value, editorToken) {
		t.Fatalf("session cookie %+v", session)
	}
	// Reads go through with the cookie alone, as the token's caller.
	if resp, body := consoleCall(t, "GET", d.url("/v1/customers"), "", cookies, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("read with cookie: HTTP %d %s", resp.StatusCode, body)
	}
	// A write needs the CSRF header; a cross-origin one is refused even with it.
	patch := `{"title": "Renamed"}`
	url := d.url("/v1/incidents/inc-2025-07-14-fra-b")
	if resp, body := consoleCall(t, "PATCH", url, patch, cookies, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "X-CSRF-Token") {
		t.Errorf("write without CSRF: HTTP %d %s, want 403", resp.StatusCode, body)
	}
	if resp, _ := consoleCall(t, "PATCH", url, patch, cookies, map[string]string{"X-CSRF-Token": "wrong"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("write with a wrong CSRF token: HTTP %d, want 403", resp.StatusCode)
	}
	if resp, _ := consoleCall(t, "PATCH", url, patch, cookies, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin write: HTTP %d, want 403", resp.StatusCode)
	}
	if resp, body := consoleCall(t, "PATCH", url, patch, cookies, map[string]string{"X-CSRF-Token": csrf, "Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, `"title":"Renamed"`) {
		t.Errorf("write with CSRF: HTTP %d %s", resp.StatusCode, body)
	}
	// A bearer token sent by the caller wins over the cookie (and needs no CSRF).
	if resp, _ := consoleCall(t, "PATCH", url, `{"title": "x"}`, cookies, map[string]string{"Authorization": "Bearer " + viewerToken}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer token with an editor cookie: HTTP %d, want 403", resp.StatusCode)
	}

	// A viewer's session reads but may not write.
	vc, vcsrf := signIn(t, d, viewerToken)
	if resp, _ := consoleCall(t, "PATCH", url, patch, vc, map[string]string{"X-CSRF-Token": vcsrf}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer write: HTTP %d, want 403", resp.StatusCode)
	}

	// Signing out ends the session.
	if resp, _ := consoleCall(t, "DELETE", d.url("/console/session"), "", cookies, map[string]string{"X-CSRF-Token": csrf}); resp.StatusCode != http.StatusOK {
		t.Errorf("sign out: HTTP %d", resp.StatusCode)
	}
	if resp, _ := consoleCall(t, "GET", d.url("/v1/customers"), "", cookies, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after sign-out: HTTP %d, want 401", resp.StatusCode)
	}
}

// TestConsoleOpen: without --auth-tokens the console is open like the API,
// and sign-in is off.
func TestConsoleOpen(t *testing.T) {
	d := start(t)
	_, body := consoleCall(t, "GET", d.url("/console/session"), "", nil, nil)
	if !strings.Contains(body, `"auth":false`) || !strings.Contains(body, `"role":"admin"`) {
		t.Errorf("session: %s", body)
	}
	if resp, _ := consoleCall(t, "POST", d.url("/console/session"), `{"token":"x"}`, nil, map[string]string{"Content-Type": "application/json"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("sign-in without tokens: HTTP %d, want 404", resp.StatusCode)
	}
	// A browser's cross-origin write is refused here too.
	if resp, _ := consoleCall(t, "POST", d.url("/v1/incidents?incidentId=forged"), `{}`, nil, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site write: HTTP %d, want 403", resp.StatusCode)
	}
	// Unknown console paths are 404, not the gateway's JSON.
	if resp, _ := consoleCall(t, "GET", d.url("/console/nope.js"), "", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing asset: HTTP %d", resp.StatusCode)
	}
}
