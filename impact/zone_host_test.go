package impact_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// TestZonesIgnoreHostDatabase runs this test binary again with ZONEINFO
// naming a directory whose America/New_York holds Asia/Tokyo's rules:
// time.LoadLocation then answers Tokyo, but the engine still computes
// with New York's rules from its embedded database, and a customer of
// that zone has the figures of New York's local hours.
func TestZonesIgnoreHostDatabase(t *testing.T) {
	if os.Getenv("IMPACT_TZ_CHILD") == "1" {
		host, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		jan := time.Date(2025, 1, 15, 12, 0, 0, 0, time.UTC)
		if _, off := jan.In(host).Zone(); off != 9*3600 {
			t.Fatalf("the forged host database was not read: offset %d", off)
		}
		loc, err := impact.LoadZone("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		if _, off := jan.In(loc).Zone(); off != -5*3600 {
			t.Fatalf("engine's America/New_York in January: offset %d, want -18000", off)
		}
		return
	}
	tokyo, err := impact.ZoneFile("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "America"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "America", "New_York"), tokyo, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestZonesIgnoreHostDatabase$", "-test.count=1")
	cmd.Env = append(os.Environ(), "IMPACT_TZ_CHILD=1", "ZONEINFO="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// TestDigestNamesTZData: a zoned scenario's inputs digest moves with the
// zone database release; a UTC-only one does not depend on it.
func TestDigestNamesTZData(t *testing.T) {
	if impact.TZDataVersion == "" {
		t.Fatal("TZDataVersion is empty")
	}
	utc := impact.DigestWithTZData(&impact.Scenario{Customers: []impact.Customer{{ID: "c", Currency: "USD"}}}, "0000z")
	if utc != impact.DigestWithTZData(&impact.Scenario{Customers: []impact.Customer{{ID: "c", Currency: "USD"}}}, impact.TZDataVersion) {
		t.Error("a UTC-only digest depends on the zone database release")
	}
	for _, sc := range []*impact.Scenario{
		{Customers: []impact.Customer{{ID: "c", Currency: "USD", TimeZone: "America/New_York"}}},
		{Customers: []impact.Customer{{ID: "c", Currency: "USD", Contracts: []impact.Contract{{Service: "s", TimeZone: "Europe/Paris"}}}}},
	} {
		if impact.DigestWithTZData(sc, "0000z") == impact.DigestWithTZData(sc, impact.TZDataVersion) {
			t.Errorf("a zoned digest does not name the zone database release: %+v", sc.Customers[0])
		}
	}
}
