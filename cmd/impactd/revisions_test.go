package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// An estimate's history end to end: what changed, when and why.

// revisionsPage lists one page of an incident's estimate revisions.
func revisionsPage(t *testing.T, d *impactd, incident, query string) ([]any, string) {
	t.Helper()
	v := must(t, "GET", d.url("/v1/incidents/"+incident+"/estimate:listRevisions"+query), "")
	es, _ := v["estimates"].([]any)
	tok, _ := v["nextPageToken"].(string)
	return es, tok
}

// revisionSummary is what finance reads off a revision.
type revisionSummary struct {
	Name, Revision, Gross, Source, Actor string
	Computed                             bool
}

func summarize(t *testing.T, e any) revisionSummary {
	t.Helper()
	m, _ := e.(map[string]any)
	s := func(k string) string { v, _ := m[k].(string); return v }
	_, err := time.Parse(time.RFC3339Nano, s("computeTime"))
	g, _ := dig(t, m, "totals", 0, "lostRevenueGross").(string)
	return revisionSummary{Name: s("name"), Revision: s("revision"), Gross: g, Source: s("source"), Actor: s("actor"),
		Computed: err == nil}
}

func TestEstimateRevisions(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		// Revision 1 of inc-acme: gross 1.5 h × 120.00 = 180.00.
		recomputeSeed(t, d)
		// acme's revenue goes to 200 an hour; :estimate again gives
		// revision 2, gross 1.5 × 200 = 300.00.
		must(t, "PATCH", d.url("/v1/customers/acme"), `{"baseline": {"hourlyAmount": "200.00", "recaptureRate": "0.25"}}`)
		if e := must(t, "POST", d.url("/v1/incidents/inc-acme:estimate"), `{}`); e["revision"] != "2" ||
			e["source"] != "EstimateIncident" || e["actor"] != "anonymous" || e["name"] != "incidents/inc-acme/estimate" {
			t.Fatalf("second estimate: %v %v %v %v", e["name"], e["revision"], e["source"], e["actor"])
		}

		// Newest first, one per page.
		r1 := revisionSummary{"incidents/inc-acme/estimate@1", "1", "180.00", "EstimateIncident", "anonymous", true}
		r2 := revisionSummary{"incidents/inc-acme/estimate@2", "2", "300.00", "EstimateIncident", "anonymous", true}
		es, tok := revisionsPage(t, d, "inc-acme", "?pageSize=1")
		if len(es) != 1 || summarize(t, es[0]) != r2 || tok == "" {
			t.Fatalf("page 1: %d revisions, token %q, first %+v", len(es), tok, summarize(t, es[0]))
		}
		es, tok2 := revisionsPage(t, d, "inc-acme", "?pageSize=1&pageToken="+tok)
		if len(es) != 1 || summarize(t, es[0]) != r1 || tok2 != "" {
			t.Fatalf("page 2: %d revisions, token %q", len(es), tok2)
		}
		es, _ = revisionsPage(t, d, "inc-acme", "")
		if len(es) != 2 || summarize(t, es[0]) != r2 || summarize(t, es[1]) != r1 {
			t.Errorf("all revisions: %v", es)
		}
		// A token is for its own incident.
		code, v := call(t, "GET", d.url("/v1/incidents/inc-beta/estimate:listRevisions?pageSize=1&pageToken="+tok), "")
		wantError(t, "another incident's token", code, v, http.StatusBadRequest, 3)

		// One revision by name (AIP-162); the plain name is still the latest.
		if got := summarize(t, must(t, "GET", d.url("/v1/incidents/inc-acme/estimate@1"), "")); got != r1 {
			t.Errorf("@1: %+v", got)
		}
		if got := summarize(t, must(t, "GET", d.url("/v1/incidents/inc-acme/estimate@2"), "")); got != r2 {
			t.Errorf("@2: %+v", got)
		}
		latest := summarize(t, must(t, "GET", d.url("/v1/incidents/inc-acme/estimate"), ""))
		if want := (revisionSummary{"incidents/inc-acme/estimate", "2", "300.00", "EstimateIncident", "anonymous", true}); latest != want {
			t.Errorf("latest: %+v", latest)
		}
		for _, bad := range []string{"@x", "@0", "@-1", "@01", "@", "@1@2"} {
			code, v := call(t, "GET", d.url("/v1/incidents/inc-acme/estimate"+bad), "")
			wantError(t, bad, code, v, http.StatusBadRequest, 3)
		}
		code, v = call(t, "GET", d.url("/v1/incidents/inc-acme/estimate@99"), "")
		wantError(t, "@99", code, v, http.StatusNotFound, 5)
		if msg, _ := v["message"].(string); !strings.Contains(msg, "incidents/inc-acme/estimate@99") {
			t.Errorf("@99 message %q", msg)
		}
		code, v = call(t, "GET", d.url("/v1/incidents/nope/estimate@1"), "")
		wantError(t, "@1 of no incident", code, v, http.StatusNotFound, 5)
		code, v = call(t, "GET", d.url("/v1/incidents/nope/estimate:listRevisions"), "")
		wantError(t, "revisions of no incident", code, v, http.StatusNotFound, 5)
		// The revision route takes any third segment: the other routes
		// keep theirs, and an unknown one is no route.
		if ws := must(t, "GET", d.url("/v1/incidents/inc-acme/windows"), ""); len(ws["outageWindows"].([]any)) != 1 {
			t.Errorf("windows: %v", ws)
		}
		code, v = call(t, "GET", d.url("/v1/incidents/inc-acme/estimates"), "")
		wantError(t, "estimates", code, v, http.StatusNotFound, 5)

		// An incident without an estimate has no revisions.
		must(t, "POST", d.url("/v1/incidents?incidentId=inc-new"), `{"title": "outage", "cause": "HARDWARE_FAILURE"}`)
		if es, tok := revisionsPage(t, d, "inc-new", ""); len(es) != 0 || tok != "" {
			t.Errorf("inc-new: %v %q", es, tok)
		}

		// acme goes to 300 an hour and a recompute job (over the API, run by
		// impactd's workers) writes revision 3: gross 1.5 × 300 = 450.00.
		must(t, "PATCH", d.url("/v1/customers/acme"), `{"baseline": {"hourlyAmount": "300.00", "recaptureRate": "0.25"}}`)
		job := must(t, "POST", d.url("/v1/recomputeJobs"), `{"filter": {"incidentIds": ["inc-acme"]}}`)
		name, _ := job["name"].(string)
		if !strings.HasPrefix(name, "recomputeJobs/") {
			t.Fatalf("job %v", job)
		}
		deadline := time.Now().Add(20 * time.Second)
		for job["state"] != "SUCCEEDED" {
			if s := job["state"]; s == "FAILED" || s == "CANCELLED" || time.Now().After(deadline) {
				t.Fatalf("job %s: %v", name, job)
			}
			time.Sleep(20 * time.Millisecond)
			job = must(t, "GET", d.url("/v1/"+name), "")
		}
		r3 := revisionSummary{"incidents/inc-acme/estimate@3", "3", "450.00", name, "anonymous", true}
		es, _ = revisionsPage(t, d, "inc-acme", "")
		if len(es) != 3 || summarize(t, es[0]) != r3 || summarize(t, es[1]) != r2 || summarize(t, es[2]) != r1 {
			var got []revisionSummary
			for _, e := range es {
				got = append(got, summarize(t, e))
			}
			t.Errorf("after the recompute: %+v", got)
		}
		if got := summarize(t, must(t, "GET", d.url("/v1/incidents/inc-acme/estimate@3"), "")); got != r3 {
			t.Errorf("@3: %+v", got)
		}
		// inc-beta was not in the job: still one revision, by :estimate.
		if es, _ := revisionsPage(t, d, "inc-beta", ""); len(es) != 1 || summarize(t, es[0]).Source != "EstimateIncident" {
			t.Errorf("inc-beta: %v", es)
		}
	})
}
