package impact_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

// ClosedRange equals the fixed point of widening by every touching window,
// on random windows.
func TestClosedRangeIsTheFixedPoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int64) time.Time { return base.Add(time.Duration(m) * time.Minute) }
	for trial := 0; trial < 2000; trial++ {
		var ws []impact.StoredWindow
		for i := r.IntN(12); i >= 0; i-- {
			s := r.Int64N(200)
			ws = append(ws, impact.StoredWindow{OutageWindow: impact.OutageWindow{Start: at(s), End: at(s + 1 + r.Int64N(20))}})
		}
		s := r.Int64N(200)
		rg := impact.CustomerRange{From: at(s), To: at(s + r.Int64N(20))}
		want := rg
		for grew := true; grew; {
			grew = false
			for _, w := range ws {
				if w.End.Before(want.From) || w.Start.After(want.To) {
					continue
				}
				if w.Start.Before(want.From) {
					want.From, grew = w.Start, true
				}
				if w.End.After(want.To) {
					want.To, grew = w.End, true
				}
			}
		}
		if got := impact.ClosedRange(rg, ws); !got.From.Equal(want.From) || !got.To.Equal(want.To) {
			t.Fatalf("trial %d: impact.ClosedRange = [%v, %v], want [%v, %v]", trial, got.From, got.To, want.From, want.To)
		}
	}
}

func rfc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// CreditRange: the windows of an incident on 14–15 July 2025 need every
// billing period of every contract they touch, in the contract's zone.
func TestCreditRange(t *testing.T) {
	for _, c := range []struct {
		name         string
		first, last  string
		contracts    []impact.Contract
		wantF, wantT string
	}{
		{"no contract: the windows' own span", "2025-07-14T13:00:00Z", "2025-07-15T02:00:00Z", nil,
			"2025-07-14T13:00:00Z", "2025-07-15T02:00:00Z"},
		{"monthly, UTC: July", "2025-07-14T13:00:00Z", "2025-07-15T02:00:00Z",
			[]impact.Contract{{Service: "api", BillingPeriod: impact.Monthly}},
			"2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z"},
		// Berlin is UTC+2 in summer: its July starts 30 June 22:00 UTC.
		{"monthly, Berlin: July on Berlin's clock", "2025-07-14T13:00:00Z", "2025-07-15T02:00:00Z",
			[]impact.Contract{{Service: "api", TimeZone: "Europe/Berlin", BillingPeriod: impact.Monthly}},
			"2025-06-30T22:00:00Z", "2025-07-31T22:00:00Z"},
		{"quarterly and monthly: the widest, Q3", "2025-07-14T13:00:00Z", "2025-07-15T02:00:00Z",
			[]impact.Contract{{Service: "api", BillingPeriod: impact.Monthly}, {Service: "db", BillingPeriod: impact.Quarterly}},
			"2025-07-01T00:00:00Z", "2025-10-01T00:00:00Z"},
		{"windows across a month edge: both months", "2025-07-31T23:00:00Z", "2025-08-01T01:00:00Z",
			[]impact.Contract{{Service: "api", BillingPeriod: impact.Monthly}},
			"2025-07-01T00:00:00Z", "2025-09-01T00:00:00Z"},
		// A zone that does not load: a quarter and a day either side.
		{"unknown zone: wider than any period", "2025-07-14T13:00:00Z", "2025-07-14T14:00:00Z",
			[]impact.Contract{{Service: "api", TimeZone: "Mars/Olympus", BillingPeriod: impact.Monthly}},
			"2025-04-13T13:00:00Z", "2025-10-15T14:00:00Z"},
	} {
		a := &impact.AffectedCustomer{Customer: impact.Customer{ID: "c", Contracts: c.contracts},
			FirstStart: rfc(c.first), LastEnd: rfc(c.last)}
		got := impact.CreditRange(a)
		if got.CustomerID != "c" || !got.From.Equal(rfc(c.wantF)) || !got.To.Equal(rfc(c.wantT)) {
			t.Errorf("%s: [%v, %v], want [%s, %s]", c.name, got.From, got.To, c.wantF, c.wantT)
		}
	}
}

// CloseRange: July's range grows through the chain of windows touching it
// (contact counts), and no further.
func TestCloseRange(t *testing.T) {
	w := func(id, s, e string) impact.StoredWindow {
		return impact.StoredWindow{ID: id, OutageWindow: impact.OutageWindow{CustomerID: "c", Start: rfc(s), End: rfc(e)}}
	}
	july := impact.CustomerRange{CustomerID: "c", From: rfc("2025-07-01T00:00:00Z"), To: rfc("2025-08-01T00:00:00Z")}
	for _, c := range []struct {
		name         string
		ws           []impact.StoredWindow
		wantF, wantT string
		wantIDs      string
	}{
		{"nothing stored", nil, "2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z", ""},
		{"inside: no growth", []impact.StoredWindow{w("a", "2025-07-14T13:00:00Z", "2025-07-14T14:00:00Z")},
			"2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z", "a"},
		// b straddles the end; c starts where b ends (contact); d is an
		// hour after c: not chained.
		{"a chain past the end", []impact.StoredWindow{
			w("b", "2025-07-31T23:00:00Z", "2025-08-01T02:00:00Z"),
			w("c", "2025-08-01T02:00:00Z", "2025-08-01T05:00:00Z"),
			w("d", "2025-08-01T06:00:00Z", "2025-08-01T07:00:00Z")},
			"2025-07-01T00:00:00Z", "2025-08-01T05:00:00Z", "bc"},
		// e ends exactly where July starts: touching, so it counts and
		// pulls in f, which overlaps it.
		{"touching the start", []impact.StoredWindow{
			w("e", "2025-06-30T22:00:00Z", "2025-07-01T00:00:00Z"),
			w("f", "2025-06-30T20:00:00Z", "2025-06-30T23:00:00Z"),
			w("g", "2025-06-29T00:00:00Z", "2025-06-29T01:00:00Z")},
			"2025-06-30T20:00:00Z", "2025-08-01T00:00:00Z", "ef"},
	} {
		r, ws := impact.CloseRange(july, c.ws)
		ids := ""
		for _, x := range ws {
			ids += x.ID
		}
		if !r.From.Equal(rfc(c.wantF)) || !r.To.Equal(rfc(c.wantT)) || ids != c.wantIDs {
			t.Errorf("%s: [%v, %v] %q, want [%s, %s] %q", c.name, r.From, r.To, ids, c.wantF, c.wantT, c.wantIDs)
		}
	}
}

// IncidentStatements keeps the statements of the periods the incident's
// own windows touch, named in the contract's zone; those of periods only
// other incidents' windows reach are partial and dropped.
func TestIncidentStatements(t *testing.T) {
	sc := &impact.Scenario{
		Customers: []impact.Customer{{ID: "c", Contracts: []impact.Contract{
			{Service: "api", BillingPeriod: impact.Monthly},
			{Service: "db", TimeZone: "Europe/Berlin", BillingPeriod: impact.Quarterly}}}},
		Incidents: []impact.Incident{
			{ID: "i", Windows: []impact.OutageWindow{
				{CustomerID: "c", Service: "api", Start: rfc("2025-07-31T23:00:00Z"), End: rfc("2025-08-01T01:00:00Z")},
				{CustomerID: "c", Service: "db", Start: rfc("2025-07-14T13:00:00Z"), End: rfc("2025-07-14T14:00:00Z")}}},
			{ID: "other", Windows: []impact.OutageWindow{
				{CustomerID: "c", Service: "api", Start: rfc("2025-09-03T00:00:00Z"), End: rfc("2025-09-03T01:00:00Z")}}},
		},
	}
	st := func(service, start, end string) impact.SLAStatement {
		return impact.SLAStatement{CustomerID: "c", Service: service, PeriodStart: rfc(start), PeriodEnd: rfc(end)}
	}
	all := []impact.SLAStatement{
		st("api", "2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z"), // touched: the window straddles its end
		st("api", "2025-08-01T00:00:00Z", "2025-09-01T00:00:00Z"), // touched: the same window
		st("api", "2025-09-01T00:00:00Z", "2025-10-01T00:00:00Z"), // only "other": dropped
		st("db", "2025-06-30T22:00:00Z", "2025-09-30T22:00:00Z"),  // Q3 in Berlin: touched
		st("web", "2025-07-01T00:00:00Z", "2025-08-01T00:00:00Z"), // no such contract: dropped
	}
	got, err := impact.IncidentStatements(all, sc, "i")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Service+"/"+s.Period)
	}
	if want := "[api/2025-07 api/2025-08 db/2025-Q3]"; fmt.Sprint(names) != want {
		t.Errorf("kept %v, want %s", names, want)
	}
}

// ParsePeriodName reads what StatementPeriod writes.
func TestParsePeriodName(t *testing.T) {
	for _, c := range []struct {
		in               string
		year, month      int
		quarterly, valid bool
	}{
		{"2025-07", 2025, 7, false, true},
		{"2025-12", 2025, 12, false, true},
		{"2025-Q1", 2025, 1, true, true},
		{"2025-Q4", 2025, 10, true, true},
		{"2025-00", 0, 0, false, false},
		{"2025-13", 0, 0, false, false},
		{"2025-Q5", 0, 0, false, false},
		{"2025-7", 0, 0, false, false},
		{"25-07", 0, 0, false, false},
		{"", 0, 0, false, false},
	} {
		y, m, q, ok := impact.ParsePeriodName(c.in)
		if y != c.year || m != c.month || q != c.quarterly || ok != c.valid {
			t.Errorf("ParsePeriodName(%q) = %d, %d, %v, %v; want %d, %d, %v, %v", c.in, y, m, q, ok, c.year, c.month, c.quarterly, c.valid)
		}
	}
}

// Contract.ActiveDuring: the period [start, end) overlaps the half-open
// active range.
func TestActiveDuring(t *testing.T) {
	july := [2]time.Time{rfc("2025-07-01T00:00:00Z"), rfc("2025-08-01T00:00:00Z")}
	for _, c := range []struct {
		from, until string
		want        bool
	}{
		{"", "", true},
		{"2025-07-31T23:00:00Z", "", true},  // active for July's last hour
		{"2025-08-01T00:00:00Z", "", false}, // starts as July ends
		{"", "2025-07-01T00:00:00Z", false}, // ended as July began
		{"", "2025-07-01T00:00:01Z", true},
	} {
		k := &impact.Contract{}
		if c.from != "" {
			k.ActiveFrom = rfc(c.from)
		}
		if c.until != "" {
			k.ActiveUntil = rfc(c.until)
		}
		if got := k.ActiveDuring(july[0], july[1]); got != c.want {
			t.Errorf("active [%s, %s): %v, want %v", c.from, c.until, got, c.want)
		}
	}
}
