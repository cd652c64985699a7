package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	r := impactctl(t, nil, "--version")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "impactctl ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	h := impactctl(t, nil, "estimate", "--help")
	if !strings.Contains(h.stdout+h.stderr, "POST /v1/scenarios:estimate") {
		t.Errorf("estimate --help does not name POST /v1/scenarios:estimate:\n%s%s", h.stdout, h.stderr)
	}
}
