package impact

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"io"
	"math"
	"sync"
	"time"
)

// Instants inside the engine are Unix seconds (int64), already truncated
// toward the past; the valid range keeps every sum far from overflow.
var (
	minInstant = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxInstant = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

const maxWindowSeconds = 366 * 86400

// TZDataVersion is the release of the IANA time zone database the engine
// computes with: zoneinfo.zip, embedded, so that no figure depends on the
// host's database (impact/doc.go, "Time zones"). The file holds the zones
// of Go's lib/time/zoneinfo.zip, built "fat" (explicit transitions up to
// 2037) from that release's zone files with Go's lib/time/mkzip.go. Fat,
// because Go's own slim zip leaves the years after its last transition to
// the POSIX rule string, whose zone spans can end at the very instant asked
// for (America/Santiago, December 2024), on which the period scan would not
// advance. Replacing the file means moving this constant with it.
const TZDataVersion = "2025b"

// tzRelease is the release the inputs digest names: TZDataVersion, but a
// variable so that a test can show the digest moving with it.
var tzRelease = TZDataVersion

//go:embed zoneinfo.zip
var zoneinfoZip []byte

// zoneFiles indexes the embedded database by zone name, opened once.
var zoneFiles = sync.OnceValue(func() map[string]*zip.File {
	r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		panic("impact: the embedded zoneinfo.zip is unreadable: " + err.Error())
	}
	m := make(map[string]*zip.File, len(r.File))
	for _, f := range r.File {
		m[f.Name] = f
	}
	return m
})

// zones caches loaded locations: parsing a zone file on every call would
// dominate a statement's cost. Only names that loaded are cached, so its
// size is bounded by the IANA database.
var zones sync.Map // string → *time.Location

// loadZone returns the IANA zone name ("" means UTC) from the embedded
// database, or false when the name is unknown. "Local" is refused: its
// meaning depends on the machine.
func loadZone(name string) (*time.Location, bool) {
	if name == "" || name == "UTC" {
		return time.UTC, true
	}
	if name == "Local" || len(name) > 64 {
		return nil, false
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), true
	}
	f := zoneFiles()[name]
	if f == nil {
		return nil, false
	}
	rc, err := f.Open()
	if err != nil {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(rc, 1<<20))
	rc.Close()
	if err != nil {
		return nil, false
	}
	l, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, false
	}
	zones.Store(name, l)
	return l, true
}

// LoadZone returns the IANA zone name ("" and "UTC" are UTC) as the engine
// sees it, from the embedded database of TZDataVersion; "Local" and unknown
// names are EINVALID. Callers outside the engine that show or check a
// customer's zone use it, so that they agree with the figures.
func LoadZone(name string) (*time.Location, error) {
	l, ok := loadZone(name)
	if !ok {
		return nil, Errorf(EINVALID, "%q is not a known IANA time zone", name)
	}
	return l, nil
}

// zoneCursor answers "what is the UTC offset at t" for nondecreasing (or
// nearby) t, re-reading the zone only when t leaves the cached zone span.
type zoneCursor struct {
	loc          *time.Location
	off          int64
	zStart, zEnd int64 // the cached span [zStart, zEnd) has offset off
	valid        bool
}

func newZoneCursor(loc *time.Location) *zoneCursor { return &zoneCursor{loc: loc} }

// at returns the offset at t and the span [zs, ze) around t that shares it.
func (z *zoneCursor) at(t int64) (off, zs, ze int64) {
	if z.valid && t >= z.zStart && t < z.zEnd {
		return z.off, z.zStart, z.zEnd
	}
	tt := time.Unix(t, 0).In(z.loc)
	_, o := tt.Zone()
	s, e := tt.ZoneBounds()
	z.off = int64(o)
	z.zStart, z.zEnd = math.MinInt64, math.MaxInt64
	if !s.IsZero() {
		z.zStart = s.Unix()
	}
	if !e.IsZero() {
		z.zEnd = e.Unix()
	}
	z.valid = true
	return z.off, z.zStart, z.zEnd
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// hourBucket is one local hour: a maximal run of instants with the same local
// wall-clock hour and the same UTC offset (doc.go, "Local hours").
type hourBucket struct {
	start, end int64
	index      int // weekly-profile index: 24·weekday (Monday 0) + hour
}

// bucketAt returns the local hour containing t.
func (z *zoneCursor) bucketAt(t int64) hourBucket {
	off, zs, ze := z.at(t)
	local := t + off
	startLocal := floorDiv(local, 3600) * 3600
	b := hourBucket{start: startLocal - off, end: startLocal + 3600 - off}
	if b.start < zs {
		b.start = zs
	}
	if b.end > ze {
		b.end = ze
	}
	day := floorDiv(local, 86400)
	weekday := floorMod(day+3, 7) // 1970-01-01 was a Thursday; Monday = 0
	b.index = int(weekday*24 + floorMod(local, 86400)/3600)
	return b
}

// firstInstantAtOrAfterWall returns the first instant whose local wall clock
// in loc reads at least wall (wall-clock seconds since 1970-01-01 00:00 as if
// UTC). It is well defined where the wall time is skipped or repeated.
func firstInstantAtOrAfterWall(z *zoneCursor, wall int64) int64 {
	// Offsets lie within ±26 h; scan the zone spans that can contain the
	// answer, in increasing time, and take the first instant that qualifies.
	t := wall - 26*3600
	for {
		off, _, ze := z.at(t)
		// Within this span wall(t') = t' + off is increasing.
		if cand := wall - off; cand < ze {
			if cand < t {
				cand = t
			}
			return cand
		}
		t = ze
	}
}

// PeriodBounds returns the billing period [start, end) of a contract in zone
// tz ("" meaning UTC) that contains t, by the engine's own rule (doc.go): a
// period starts at the first instant whose wall clock reads at least 00:00
// on the 1st. It returns EINVALID for an unknown zone.
func PeriodBounds(t time.Time, tz string, bp BillingPeriod) (start, end time.Time, err error) {
	loc, ok := loadZone(tz)
	if !ok {
		return time.Time{}, time.Time{}, Errorf(EINVALID, "unknown time zone %q", tz)
	}
	s, e := periodBounds(newZoneCursor(loc), bp == Quarterly, t.Unix())
	return unixUTC(s), unixUTC(e), nil
}

// periodBounds returns the billing period [start, end) containing t in the
// contract's zone.
func periodBounds(z *zoneCursor, quarterly bool, t int64) (start, end int64) {
	off, _, _ := z.at(t)
	y, m, _ := time.Unix(t+off, 0).UTC().Date()
	if quarterly {
		m = time.Month((int(m)-1)/3*3 + 1)
	}
	step := 1
	if quarterly {
		step = 3
	}
	start = periodStartOf(z, y, m) // ≤ t: t's wall clock already reads month m
	nm := m + time.Month(step)
	ny := y
	if nm > 12 {
		nm -= 12
		ny++
	}
	end = periodStartOf(z, ny, nm)
	if end <= t { // a backward jump put t's wall clock before the boundary already passed
		return end, periodStartOfNext(z, ny, nm, step)
	}
	return start, end
}

func periodStartOf(z *zoneCursor, y int, m time.Month) int64 {
	wall := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Unix()
	return firstInstantAtOrAfterWall(z, wall)
}

func periodStartOfNext(z *zoneCursor, y int, m time.Month, step int) int64 {
	nm := m + time.Month(step)
	if nm > 12 {
		nm -= 12
		y++
	}
	return periodStartOf(z, y, nm)
}
