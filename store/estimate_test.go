package store_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

func span(customer, service, id string, start, end string) impact.StoredWindow {
	return impact.StoredWindow{ID: id, OutageWindow: impact.OutageWindow{CustomerID: customer, Service: service,
		Start: ts(start), End: ts(end), ImpactFraction: "0.5"}}
}

// seedEstimate: i1 affects c1 and c2; i2 affects c1 and c3. c1's i2
// windows fall inside, at the edge of, and outside July.
func seedEstimate(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, id := range []string{"c1", "c2", "c3"} {
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "USD",
			Baseline: impact.Baseline{HourlyAmount: "3600"}}, ""))
		for _, s := range []string{"db", "api"} {
			must[*impact.StoredContract](t)(db.CreateContract(ctx, id, &impact.Contract{Service: s, MonthlyFee: "1000.00",
				Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}}, ""))
		}
	}
	must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i1", Cause: impact.SoftwareDefect}, ""))
	must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i2", Cause: impact.NaturalDisaster}, ""))
	must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{
		span("c1", "api", "a", "2025-07-10T10:00:00Z", "2025-07-10T11:00:00Z"),
		span("c1", "db", "b", "2025-07-12T10:00:00Z", "2025-07-12T10:30:00Z"),
		span("c2", "api", "c", "2025-07-11T00:00:00Z", "2025-07-11T02:00:00Z"),
	}, ""))
	must[[]impact.StoredWindow](t)(db.BatchCreateWindows(ctx, "i2", []impact.StoredWindow{
		span("c1", "api", "d", "2025-07-20T00:00:00Z", "2025-07-20T01:00:00Z"), // inside July
		span("c1", "api", "e", "2025-06-30T23:00:00Z", "2025-07-01T00:00:00Z"), // ends at July's first instant
		span("c1", "api", "f", "2025-06-01T00:00:00Z", "2025-06-01T01:00:00Z"), // June only
		span("c3", "api", "g", "2025-07-20T00:00:00Z", "2025-07-20T01:00:00Z"), // not affected by i1
	}, ""))
}

func TestEstimateReads(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedEstimate(t, db)

		// Keyset batches of affected customers.
		var got []string
		after := ""
		for {
			batch := must[[]impact.AffectedCustomer](t)(db.AffectedCustomers(ctx, "i1", after, 1))
			if len(batch) == 0 {
				break
			}
			got = append(got, batch[0].ID)
			after = batch[0].ID
		}
		if !cmp.Equal(got, []string{"c1", "c2"}) {
			t.Errorf("affected customers %v", got)
		}
		all := must[[]impact.AffectedCustomer](t)(db.AffectedCustomers(ctx, "i1", "", 1000))
		if len(all) != 2 {
			t.Fatalf("%d affected customers", len(all))
		}
		c1 := all[0]
		if len(c1.Contracts) != 2 || c1.Contracts[0].Service != "api" || c1.Contracts[1].Service != "db" || c1.Contracts[0].MonthlyFee != "1000.00" {
			t.Errorf("c1 contracts %+v", c1.Contracts)
		}
		if !c1.FirstStart.Equal(ts("2025-07-10T10:00:00Z")) || !c1.LastEnd.Equal(ts("2025-07-12T10:30:00Z")) {
			t.Errorf("c1 span %v – %v", c1.FirstStart, c1.LastEnd)
		}
		wantCode(t, second(db.AffectedCustomers(ctx, "i1", "", 0)), impact.EINVALID)

		// Every window of those customers touching July, any incident;
		// c1 asked twice (two services) is returned once per window.
		july := []impact.CustomerRange{
			{CustomerID: "c1", From: ts("2025-07-01T00:00:00Z"), To: ts("2025-08-01T00:00:00Z")},
			{CustomerID: "c1", From: ts("2025-07-05T00:00:00Z"), To: ts("2025-08-01T00:00:00Z")},
			{CustomerID: "c2", From: ts("2025-07-01T00:00:00Z"), To: ts("2025-08-01T00:00:00Z")},
		}
		ws := must[[]impact.StoredWindow](t)(db.WindowsInRanges(ctx, july))
		var keys []string
		for _, w := range ws {
			keys = append(keys, w.CustomerID+"/"+w.IncidentID+"/"+w.ID)
		}
		if want := []string{"c1/i1/a", "c1/i1/b", "c1/i2/d", "c1/i2/e", "c2/i1/c"}; !cmp.Equal(keys, want) {
			t.Errorf("windows in ranges %v, want %v", keys, want)
		}
		if ws[0].ImpactFraction != "0.5" || ws[0].Name != "incidents/i1/windows/a" {
			t.Errorf("window %+v", ws[0])
		}
	})
}

func TestEstimateSaveAndRevisions(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedEstimate(t, db)

		// Build the scenario from stored data as the :estimate path will.
		affected := must[[]impact.AffectedCustomer](t)(db.AffectedCustomers(ctx, "i1", "", 1000))
		sc := &impact.Scenario{}
		var ranges []impact.CustomerRange
		for _, a := range affected {
			sc.Customers = append(sc.Customers, a.Customer)
			ranges = append(ranges, impact.CustomerRange{CustomerID: a.ID, From: ts("2025-07-01T00:00:00Z"), To: ts("2025-08-01T00:00:00Z")})
		}
		ws := must[[]impact.StoredWindow](t)(db.WindowsInRanges(ctx, ranges))
		byIncident := map[string][]impact.OutageWindow{}
		var ids []string
		for _, w := range ws {
			if byIncident[w.IncidentID] == nil {
				ids = append(ids, w.IncidentID)
			}
			byIncident[w.IncidentID] = append(byIncident[w.IncidentID], w.OutageWindow)
		}
		sort.Strings(ids)
		for _, in := range must[[]impact.StoredIncident](t)(db.BatchGetIncidents(ctx, ids)) {
			inc := in.Incident
			inc.Windows = byIncident[inc.ID]
			sc.Incidents = append(sc.Incidents, inc)
		}
		est, err := impact.EstimateScenario(sc, impact.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		var sts []impact.StoredStatement
		for _, s := range est.Statements {
			p, err := impact.StatementPeriod(s.PeriodStart, "", impact.Monthly)
			if err != nil {
				t.Fatal(err)
			}
			sts = append(sts, impact.StoredStatement{SLAStatement: s, Period: p})
		}
		if len(sts) == 0 || est.Incidents[0].IncidentID != "i1" {
			t.Fatalf("estimate: %d statements, incidents %+v", len(sts), est.Incidents)
		}
		rec := &impact.StoredEstimate{IncidentEstimate: est.Incidents[0], ModelVersion: est.ModelVersion,
			InputsDigest: est.InputsDigest, ComputeTime: t0}
		r1 := must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, rec, sts))
		if r1.Revision != 1 || r1.Name != "incidents/i1/estimate" || !r1.ComputeTime.Equal(t0) || r1.InputsDigest != est.InputsDigest {
			t.Errorf("saved: rev %d name %q time %v", r1.Revision, r1.Name, r1.ComputeTime)
		}
		// Figure for figure what the engine computed (decimals by value).
		if diff := cmp.Diff(est.Incidents[0], r1.IncidentEstimate); diff != "" {
			t.Errorf("stored estimate (-computed +stored):\n%s", diff)
		}
		st := must[*impact.StoredStatement](t)(db.GetStatement(ctx, "c1", "api", "2025-07"))
		if st.Name != "customers/c1/contracts/api/statements/2025-07" || st.Revision != 1 {
			t.Errorf("statement %q rev %d", st.Name, st.Revision)
		}
		var want impact.SLAStatement
		for _, s := range est.Statements {
			if s.CustomerID == "c1" && s.Service == "api" && s.PeriodStart.Equal(ts("2025-07-01T00:00:00Z")) {
				want = s
			}
		}
		if diff := cmp.Diff(want, st.SLAStatement); diff != "" {
			t.Errorf("statement (-computed +stored):\n%s", diff)
		}

		// A new revision keeps the previous one; statements are replaced.
		rec.ComputeTime = t0.Add(time.Minute)
		rec.InputsDigest = "sha256:other"
		r2 := must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, rec, sts))
		if r2.Revision != 2 {
			t.Errorf("second revision %d", r2.Revision)
		}
		if latest := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "i1", 0)); latest.Revision != 2 || latest.InputsDigest != "sha256:other" {
			t.Errorf("latest %d %q", latest.Revision, latest.InputsDigest)
		}
		if old := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "i1", 1)); old.InputsDigest != est.InputsDigest {
			t.Errorf("revision 1 lost: %q", old.InputsDigest)
		}
		// The statements' bodies did not change: they keep their revision.
		if st := must[*impact.StoredStatement](t)(db.GetStatement(ctx, "c1", "api", "2025-07")); st.Revision != 1 || !st.ComputeTime.Equal(t0) {
			t.Errorf("statement after an unchanged save: rev %d time %v", st.Revision, st.ComputeTime)
		}
		// The same model version and inputs digest again: no revision 3,
		// and the response is revision 2.
		rec.ComputeTime = t0.Add(2 * time.Minute)
		if r := must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, rec, sts)); r.Revision != 2 || !r.ComputeTime.Equal(t0.Add(time.Minute)) {
			t.Errorf("unchanged save: revision %d computed %v, want revision 2 as stored", r.Revision, r.ComputeTime)
		}
		if n := count(t, db, "sla_statements", ""); n != len(sts) {
			t.Errorf("%d statements stored, want %d", n, len(sts))
		}
		wantCode(t, second(db.GetEstimate(ctx, "i1", 3)), impact.ENOTFOUND)
		// A statement of a contract that does not exist rolls it all back.
		bad := append(sts, impact.StoredStatement{SLAStatement: impact.SLAStatement{CustomerID: "c1", Service: "nope"}, Period: "2025-07"})
		wantCode(t, second(db.SaveEstimate(ctx, rec, bad)), impact.EFAILEDPRECOND)
		if n := count(t, db, "incident_estimates", ""); n != 2 {
			t.Errorf("%d estimate revisions after a failed save, want 2", n)
		}
	})
}

func TestStatementPeriod(t *testing.T) {
	for _, tc := range []struct {
		start string
		tz    string
		bp    impact.BillingPeriod
		want  string
	}{
		{"2025-07-01T00:00:00Z", "", impact.Monthly, "2025-07"},
		{"2025-06-30T22:00:00Z", "Europe/Berlin", impact.Monthly, "2025-07"},
		{"2025-07-01T04:00:00Z", "America/New_York", impact.Quarterly, "2025-Q3"},
		{"2025-01-01T00:00:00Z", "UTC", impact.Quarterly, "2025-Q1"},
	} {
		got, err := impact.StatementPeriod(ts(tc.start), tc.tz, tc.bp)
		if err != nil || got != tc.want {
			t.Errorf("StatementPeriod(%s, %q) = %q, %v; want %q", tc.start, tc.tz, got, err, tc.want)
		}
	}
}

// TestEstimateHistory: every revision records what wrote it and for whom,
// and ListEstimateRevisions pages through them newest first.
func TestEstimateHistory(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		seedJobs(t, db)
		ctx := context.Background()
		alice := impact.WithActor(ctx, "alice")

		// e exists but has no estimate: an empty page. No incident: ENOTFOUND.
		if p := must[*impact.Page[impact.StoredEstimate]](t)(db.ListEstimateRevisions(ctx, "e", impact.PageRequest{})); len(p.Items) != 0 || p.NextPageToken != "" {
			t.Errorf("no estimate: %d items, token %q", len(p.Items), p.NextPageToken)
		}
		wantCode(t, second(db.ListEstimateRevisions(ctx, "nope", impact.PageRequest{})), impact.ENOTFOUND)
		wantCode(t, second(db.ListEstimateRevisions(ctx, "", impact.PageRequest{})), impact.EINVALID)

		// What the caller says is ignored: the store records the method and
		// the actor of the context.
		e1 := est("a", "v1")
		e1.Source, e1.Actor = "forged", "mallory"
		r1 := must[*impact.StoredEstimate](t)(db.SaveEstimate(alice, e1, nil))
		if r1.Source != "EstimateIncident" || r1.Actor != "alice" {
			t.Errorf("saved: source %q actor %q", r1.Source, r1.Actor)
		}
		must[*impact.StoredEstimate](t)(db.SaveEstimate(ctx, est("a", "v2"), nil))

		// A recompute job created by bob writes revision 1 of b; the worker
		// completing the chunk is not the actor.
		bobJob, created, err := db.CreateJob(impact.WithActor(ctx, "bob"), impact.RecomputeFilter{IncidentIDs: []string{"b"}}, false, 10, "", false)
		if err != nil || !created {
			t.Fatalf("bob's job: %v %v", created, err)
		}
		c := must[*impact.Chunk](t)(db.LeaseChunk(impact.WithActor(ctx, "worker"), bobJob.ID, "w", time.Minute))
		must[*impact.RecomputeJob](t)(db.CompleteChunk(impact.WithActor(ctx, "worker"), c, &impact.ChunkResult{
			Saves:   []impact.EstimateSave{{Estimate: est("b", "v3")}},
			Changes: []impact.RecomputeChange{{IncidentID: "b", NewInputsDigest: "sha256:bv3"}},
			Counts:  impact.JobCounts{Done: 1, Changed: 1},
		}))
		b := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "b", 0))
		if b.Source != "recomputeJobs/"+bobJob.ID || b.Actor != "bob" || b.Revision != 1 {
			t.Errorf("recomputed: rev %d source %q actor %q", b.Revision, b.Source, b.Actor)
		}

		// Newest first, one per page, tokens bound to the incident.
		type rev struct {
			Rev           int64
			Version       string
			Source, Actor string
		}
		var got []rev
		var tokens []string
		p := impact.PageRequest{Size: 1}
		for {
			page := must[*impact.Page[impact.StoredEstimate]](t)(db.ListEstimateRevisions(ctx, "a", p))
			for _, e := range page.Items {
				if e.Name != "incidents/a/estimate" || e.IncidentID != "a" || e.ReportingCurrency != "EUR" {
					t.Errorf("revision %d: name %q incident %q currency %q", e.Revision, e.Name, e.IncidentID, e.ReportingCurrency)
				}
				got = append(got, rev{e.Revision, e.ModelVersion, e.Source, e.Actor})
			}
			if page.NextPageToken == "" {
				break
			}
			tokens = append(tokens, page.NextPageToken)
			p.Token = page.NextPageToken
		}
		want := []rev{{2, "v2", "EstimateIncident", "anonymous"}, {1, "v1", "EstimateIncident", "alice"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("revisions (-want +got):\n%s", diff)
		}
		if len(tokens) != 1 {
			t.Errorf("%d page tokens, want 1", len(tokens))
		}
		wantCode(t, second(db.ListEstimateRevisions(ctx, "b", impact.PageRequest{Size: 1, Token: tokens[0]})), impact.EINVALID)
		wantCode(t, second(db.ListEstimateRevisions(ctx, "a", impact.PageRequest{Token: "junk"})), impact.EINVALID)
		all := must[*impact.Page[impact.StoredEstimate]](t)(db.ListEstimateRevisions(ctx, "a", impact.PageRequest{}))
		if len(all.Items) != 2 || all.NextPageToken != "" || all.Items[0].Revision != 2 {
			t.Errorf("default page: %d items, token %q", len(all.Items), all.NextPageToken)
		}
		if r := must[*impact.StoredEstimate](t)(db.GetEstimate(ctx, "a", 1)); r.Source != "EstimateIncident" || r.Actor != "alice" {
			t.Errorf("GetEstimate rev 1: source %q actor %q", r.Source, r.Actor)
		}
	})
}
