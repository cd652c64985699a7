package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

func TestLatestRevisionAndSpan(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		seedEstimate(t, db)
		if _, err := db.LatestEstimateRevision(ctx, "i1"); impact.ErrorCode(err) != impact.ENOTFOUND {
			t.Errorf("no estimate yet: %v, want ENOTFOUND", err)
		}
		for _, digest := range []string{"d1", "d2"} { // two computations: a same one writes no revision
			if _, err := db.SaveEstimate(ctx, &impact.StoredEstimate{IncidentEstimate: impact.IncidentEstimate{IncidentID: "i1"},
				ModelVersion: "m", InputsDigest: digest, ComputeTime: t0}, nil); err != nil {
				t.Fatal(err)
			}
		}
		if rev, err := db.LatestEstimateRevision(ctx, "i1"); err != nil || rev != 2 {
			t.Errorf("latest revision %d, %v; want 2", rev, err)
		}
		meta, body, err := db.EstimateDocument(ctx, "i1", 0)
		if err != nil || meta.Revision != 2 || meta.ModelVersion != "m" || !strings.Contains(string(body), `"IncidentID":"i1"`) {
			t.Errorf("document: %+v %s %v", meta, body, err)
		}
		// i1's windows run from 2025-07-10T10:00 (a) to 2025-07-12T10:30 (b).
		s, e, n, err := db.IncidentSpan(ctx, "i1")
		if err != nil || n != 3 || !s.Equal(ts("2025-07-10T10:00:00Z")) || !e.Equal(ts("2025-07-12T10:30:00Z")) {
			t.Errorf("span %v–%v of %d windows, %v", s, e, n, err)
		}
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "empty"}, ""))
		if s, _, n, err := db.IncidentSpan(ctx, "empty"); err != nil || n != 0 || !s.IsZero() {
			t.Errorf("empty incident: %v %d %v", s, n, err)
		}
	})
}
