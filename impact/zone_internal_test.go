package impact

import (
	"testing"
	"time"
)

// The zone helpers are the base of every figure; these cases pin their
// behaviour at DST edges and odd offsets (doc.go, "Local hours" and
// billing-period decision).
func TestBucketAt(t *testing.T) {
	utc := func(s string) int64 {
		x, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return x.Unix()
	}
	cases := []struct {
		zone, at   string
		start, end string
		index      int
	}{
		// Kolkata +05:30: local hours start at :30 UTC. 2025-07-14 is a Monday.
		{"Asia/Kolkata", "2025-07-14T04:45:00Z", "2025-07-14T04:30:00Z", "2025-07-14T05:30:00Z", 10},
		// Kathmandu +05:45.
		{"Asia/Kathmandu", "2025-07-14T04:20:00Z", "2025-07-14T04:15:00Z", "2025-07-14T05:15:00Z", 10},
		// New York spring forward 2025-03-09 (Sunday): 01:00 EST is 06:00Z, next hour is 03:00 EDT = 07:00Z.
		{"America/New_York", "2025-03-09T06:30:00Z", "2025-03-09T06:00:00Z", "2025-03-09T07:00:00Z", 6*24 + 1},
		{"America/New_York", "2025-03-09T07:30:00Z", "2025-03-09T07:00:00Z", "2025-03-09T08:00:00Z", 6*24 + 3},
		// New York fall back 2025-11-02: 01:00 EDT = 05:00Z and 01:00 EST = 06:00Z are two hours with one index.
		{"America/New_York", "2025-11-02T05:10:00Z", "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", 6*24 + 1},
		{"America/New_York", "2025-11-02T06:10:00Z", "2025-11-02T06:00:00Z", "2025-11-02T07:00:00Z", 6*24 + 1},
		// Lord Howe falls back 30 minutes at 02:00 local (+11 → +10:30), 2025-04-06 = 2025-04-05T15:00Z.
		{"Australia/Lord_Howe", "2025-04-05T14:50:00Z", "2025-04-05T14:00:00Z", "2025-04-05T15:00:00Z", 6*24 + 1},
		{"Australia/Lord_Howe", "2025-04-05T15:10:00Z", "2025-04-05T15:00:00Z", "2025-04-05T15:30:00Z", 6*24 + 1},
	}
	for _, c := range cases {
		loc, ok := loadZone(c.zone)
		if !ok {
			t.Fatalf("zone %s", c.zone)
		}
		b := newZoneCursor(loc).bucketAt(utc(c.at))
		if b.start != utc(c.start) || b.end != utc(c.end) || b.index != c.index {
			t.Errorf("%s at %s: got [%s, %s) index %d, want [%s, %s) index %d", c.zone, c.at,
				unixUTC(b.start).Format(time.RFC3339), unixUTC(b.end).Format(time.RFC3339), b.index, c.start, c.end, c.index)
		}
	}
}

func TestPeriodBounds(t *testing.T) {
	utc := func(s string) int64 {
		x, _ := time.Parse(time.RFC3339, s)
		return x.Unix()
	}
	cases := []struct {
		zone       string
		quarterly  bool
		at         string
		start, end string
	}{
		{"UTC", false, "2025-07-31T23:59:59Z", "2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z"},
		{"Europe/Berlin", false, "2025-03-15T00:00:00Z", "2025-02-28T23:00:00Z", "2025-03-31T22:00:00Z"},
		{"Asia/Kolkata", false, "2025-06-30T18:30:00Z", "2025-06-30T18:30:00Z", "2025-07-31T18:30:00Z"},
		{"Asia/Kolkata", false, "2025-06-30T18:29:59Z", "2025-05-31T18:30:00Z", "2025-06-30T18:30:00Z"},
		{"America/New_York", true, "2025-05-01T00:00:00Z", "2025-04-01T04:00:00Z", "2025-07-01T04:00:00Z"},
		{"UTC", true, "2025-12-31T12:00:00Z", "2025-10-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		// Havana changes its offset during March: the month still starts at local midnight.
		{"America/Havana", false, "2020-03-15T12:00:00Z", "2020-03-01T05:00:00Z", "2020-04-01T04:00:00Z"},
	}
	for _, c := range cases {
		loc, _ := loadZone(c.zone)
		s, e := periodBounds(newZoneCursor(loc), c.quarterly, utc(c.at))
		if s != utc(c.start) || e != utc(c.end) {
			t.Errorf("%s at %s: got [%s, %s), want [%s, %s)", c.zone, c.at,
				unixUTC(s).Format(time.RFC3339), unixUTC(e).Format(time.RFC3339), c.start, c.end)
		}
	}
}

// A month whose first midnight does not exist (clocks jump from 00:00 to
// 01:00) starts at the jump.
func TestPeriodStartOnSkippedMidnight(t *testing.T) {
	// Zones that have changed clocks at midnight; every month start of 70
	// years must read the 1st and the second before it must not.
	for _, name := range []string{"America/Asuncion", "America/Santiago", "Asia/Beirut", "America/Havana", "Asia/Amman", "America/Sao_Paulo"} {
		loc, ok := loadZone(name)
		if !ok {
			continue
		}
		z := newZoneCursor(loc)
		for y := 1970; y < 2040; y++ {
			for m := time.January; m <= time.December; m++ {
				start := periodStartOf(z, y, m)
				// The first instant reads ≥ 00:00 on the 1st; the one before reads the previous month.
				wall := time.Unix(start, 0).In(loc)
				before := time.Unix(start-1, 0).In(loc)
				if wall.Year() != y || wall.Month() != m || wall.Day() != 1 {
					t.Fatalf("%s %d-%02d: start %s reads %s", name, y, m, unixUTC(start), wall)
				}
				if before.Day() == 1 && before.Month() == m && before.Year() == y {
					t.Fatalf("%s %d-%02d: the second before the start %s already reads the 1st", name, y, m, before)
				}
			}
		}
	}
}

func TestPeriodBoundsExported(t *testing.T) {
	at := time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)
	s, e, err := PeriodBounds(at, "", Monthly)
	if err != nil || !s.Equal(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)) || !e.Equal(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("UTC March: [%s, %s), %v", s, e, err)
	}
	s, e, err = PeriodBounds(at, "Europe/Berlin", Quarterly)
	if err != nil || !s.Equal(time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC)) || !e.Equal(time.Date(2025, 3, 31, 22, 0, 0, 0, time.UTC)) {
		t.Errorf("Berlin Q1: [%s, %s), %v", s, e, err)
	}
	if _, _, err := PeriodBounds(at, "Mars/Olympus", Monthly); ErrorCode(err) != EINVALID {
		t.Errorf("unknown zone: %v, want %s", err, EINVALID)
	}
}
