package main

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestZonesWithoutHostDatabase runs this test binary again with ZONEINFO
// naming an empty directory: America/New_York must still resolve, from
// the embedded database, with its real offsets.
func TestZonesWithoutHostDatabase(t *testing.T) {
	if os.Getenv("IMPACT_TZ_CHILD") == "1" {
		loc, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		if _, off := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC).In(loc).Zone(); off != -5*3600 {
			t.Fatalf("America/New_York in January: offset %d, want -18000", off)
		}
		if _, off := time.Date(2025, 7, 15, 12, 0, 0, 0, time.UTC).In(loc).Zone(); off != -4*3600 {
			t.Fatalf("America/New_York in July: offset %d, want -14400", off)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestZonesWithoutHostDatabase$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IMPACT_TZ_CHILD=1", "ZONEINFO="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
