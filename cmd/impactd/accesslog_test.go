package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// httpLine waits for the HTTP access line of request id.
func httpLine(t *testing.T, logs *syncBuffer, id string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range logLines(t, logs.String()) {
			if l["msg"] == "http request" && l["request_id"] == id {
				return l
			}
		}
	}
	t.Fatalf("no HTTP access line with request_id %q in:\n%s", id, logs)
	return nil
}

// Every HTTP request has one access line, those refused before gRPC too.
func TestHTTPAccessLog(t *testing.T) {
	d, logs := startLogged(t, nil, "--auth-tokens", writeTokens(t))
	editor := "Bearer " + testTokens[1].token
	for _, tc := range []struct {
		name, method, path, body, auth string
		length                         int64 // 0: the body's
		status                         int
		route, level                   string
	}{
		{"ok", "GET", "/v1/customers", "", editor, 0, 200, "/v1/customers", "INFO"},
		{"bad JSON", "POST", "/v1/scenarios:estimate", `{"scenario":`, editor, 0, 400, "/v1/scenarios:estimate", "WARN"},
		{"unknown field", "POST", "/v1/scenarios:estimate", `{"nope": 1}`, editor, 0, 400, "/v1/scenarios:estimate", "WARN"},
		{"405", "PUT", "/v1/customers/x", `{}`, editor, 0, 405, "other", "WARN"},
		{"413", "POST", "/v1/scenarios:estimate", `{}`, editor, 1 << 30, 413, "other", "WARN"},
		{"401", "GET", "/v1/customers", "", "", 0, 401, "", "WARN"}, // route: refused inside or before the gateway
		{"no route", "GET", "/v2/nothing", "", editor, 0, 404, "other", "WARN"},
		{"healthz", "GET", "/healthz", "", "", 0, 200, "/healthz", "INFO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "log-" + strings.ReplaceAll(tc.name, " ", "-")
			if tc.length != 0 {
				// net/http will not send a body shorter than its length.
				c, err := net.Dial("tcp", d.addrs.HTTP)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s",
					tc.method, tc.path, tc.auth, id, tc.length, tc.body)
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.status)
				}
			}
			req, err := http.NewRequest(tc.method, d.url(tc.path), strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.length != 0 {
				req.ContentLength = tc.length
			}
			req.Header.Set("X-Request-Id", id)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.length == 0 {
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status {
					t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.status)
				}
			}
			if tc.path == "/healthz" {
				return // outside the gateway: no request id to find it by; checked below
			}
			l := httpLine(t, logs, id)
			if l["http.method"] != tc.method || (tc.route != "" && l["http.route"] != tc.route) || l["http.status"] != float64(tc.status) ||
				l["level"] != tc.level || l["http.client"] == "" || l["http.time_ms"] == nil {
				t.Errorf("access line %v; want %s %s %d at %s", l, tc.method, tc.route, tc.status, tc.level)
			}
			if b, _ := l["http.bytes"].(float64); b <= 0 {
				t.Errorf("http.bytes %v, want the body's size", l["http.bytes"])
			}
		})
	}
	found := false
	for _, l := range logLines(t, logs.String()) {
		found = found || (l["msg"] == "http request" && l["http.route"] == "/healthz" && l["http.status"] == float64(200))
	}
	if !found {
		t.Errorf("no access line for /healthz")
	}
}
