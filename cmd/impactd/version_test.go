package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"--version"}, func(string) string { return "" }, &out, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --version: %v, want an exit without serving", err)
	}
	if s := out.String(); !strings.HasPrefix(s, "impactd ") || !strings.Contains(s, runtime.Version()) {
		t.Errorf("--version printed %q", s)
	}
}
