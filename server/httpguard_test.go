package server

import (
	"net/http"
	"strings"
	"testing"
)

// Every HTTP binding of the protos is in the gateway's route table, and a path of each
// gets the weakest role among the methods it may be (the tap checks the
// exact one): a viewer's GET is never refused by the guard, an editor's
// write needs at least an editor.
func TestHTTPRouteRoles(t *testing.T) {
	if len(gatewayRoutes()) < 30 {
		t.Fatalf("%d HTTP routes from the protos, want every binding (31)", len(gatewayRoutes()))
	}
	for _, tc := range []struct {
		method, path string
		want         Role
	}{
		{http.MethodPost, "/v1/scenarios:estimate", Viewer},
		{http.MethodGet, "/v1/customers", Viewer},
		{http.MethodPost, "/v1/customers", Editor},
		{http.MethodPatch, "/v1/customers/acme", Editor},
		{http.MethodDelete, "/v1/customers/acme/contracts/api", Editor},
		{http.MethodGet, "/v1/customers/acme/contracts/api/statements/2025-07", Viewer},
		{http.MethodPost, "/v1/incidents/inc-1:estimate", Editor},
		{http.MethodPost, "/v1/incidents/inc-1/windows:batchCreate", Editor},
		{http.MethodGet, "/v1/incidents/inc-1/estimate", Viewer},
		{http.MethodGet, "/v1/incidents/inc-1:listRevisions", Viewer},
		{http.MethodPost, "/v1/recomputeJobs", Admin},
		{http.MethodPost, "/v1/recomputeJobs/rj-1:cancel", Admin},
		{http.MethodGet, "/v1/recomputeJobs/rj-1:watch", Viewer},
		// No route: a valid token at least; the gateway answers 404.
		{http.MethodPost, "/v1/nothing/here", Viewer},
	} {
		if got := httpRouteRole(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s: role %s, want %s", tc.method, tc.path, got, tc.want)
		}
	}
	// Every route's role is its method's, so none is weaker than the tap's.
	found := map[string]bool{}
	for _, rt := range gatewayRoutes() {
		found[rt.path.String()] = true
	}
	if !found[`^/v1/scenarios:estimate$`] {
		t.Errorf("no route for Estimate among %v", found)
	}
}

// templateRegexp turns http rule templates into anchored expressions.
func TestTemplateRegexp(t *testing.T) {
	for _, tc := range []struct {
		tmpl, path string
		match      bool
	}{
		{"/v1/{name=incidents/*}:estimate", "/v1/incidents/x:estimate", true},
		{"/v1/{name=incidents/*}:estimate", "/v1/incidents/x/y:estimate", false},
		{"/v1/{name=incidents/*}:estimate", "/v1/incidents/x", false},
		{"/v1/{parent=customers/*}/contracts", "/v1/customers/a/contracts", true},
		{"/v1/{name=incidents/*/*}", "/v1/incidents/a/estimate", true},
		{"/v1/{name=a/**}", "/v1/a/b/c/d", true},
		{"/v1/customers", "/v1/customersX", false},
	} {
		if got := templateRegexp(tc.tmpl).MatchString(tc.path); got != tc.match {
			t.Errorf("%s ~ %s = %v, want %v", tc.tmpl, tc.path, got, tc.match)
		}
	}
}

// A tokens file may not name two tokens alike, nor one "anonymous".
func TestParseTokensNames(t *testing.T) {
	line := func(hexDigit, role, name string) string {
		return strings.Repeat(hexDigit, 64) + " " + role + " " + name + "\n"
	}
	for _, tc := range []struct{ file, want string }{
		{line("a", "viewer", "ann") + line("b", "admin", "ann"), `tokens:2: the name "ann" is already on line 1`},
		{line("a", "viewer", "anonymous"), `tokens:1: the name "anonymous" is reserved`},
	} {
		if _, err := ParseTokens("tokens", strings.NewReader(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want %q", err, tc.want)
		}
	}
}
