package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// Every write leaves an audit row with the resource's stored row before
// and after it, newest first, in pages.
func TestAuditRecordsBeforeAfter(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "c1", Currency: "EUR", DisplayName: "Old"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UpdateCustomer(ctx, &impact.Customer{ID: "c1", DisplayName: "New"}, impact.FieldMask{"display_name"}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateIncident(ctx, &impact.Incident{ID: "i1"}, ""); err != nil {
			t.Fatal(err)
		}
		s := time.Date(2025, 7, 1, 10, 0, 0, 0, time.UTC)
		if _, err := db.BatchCreateWindows(ctx, "i1", []impact.StoredWindow{
			{ID: "w1", OutageWindow: impact.OutageWindow{CustomerID: "c1", Service: "api", Start: s, End: s.Add(time.Hour)}},
			{ID: "w2", OutageWindow: impact.OutageWindow{CustomerID: "c1", Service: "api", Start: s.Add(2 * time.Hour), End: s.Add(3 * time.Hour)}},
		}, ""); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteWindow(ctx, "i1", "w2"); err != nil {
			t.Fatal(err)
		}

		page, err := db.ListAuditRecords(ctx, impact.PageRequest{Size: 2})
		if err != nil {
			t.Fatal(err)
		}
		next, err := db.ListAuditRecords(ctx, impact.PageRequest{Size: 10, Token: page.NextPageToken})
		if err != nil {
			t.Fatal(err)
		}
		all := append(page.Items, next.Items...)
		var actions []string
		for _, r := range all {
			actions = append(actions, r.Action)
		}
		want := []string{"DeleteWindow", "BatchCreateWindows", "CreateIncident", "UpdateCustomer", "CreateCustomer"}
		if len(actions) != len(want) || next.NextPageToken != "" {
			t.Fatalf("actions %q (next %q), want %q", actions, next.NextPageToken, want)
		}
		for i := range want {
			if actions[i] != want[i] {
				t.Fatalf("actions %q, want %q (newest first)", actions, want)
			}
		}
		field := func(js, key string) any {
			t.Helper()
			if js == "" {
				return nil
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(js), &m); err != nil {
				t.Fatalf("%v: %s", err, js)
			}
			return m[key]
		}
		upd := all[3]
		if field(upd.Before, "display_name") != "Old" || field(upd.After, "display_name") != "New" || upd.Detail != "display_name" {
			t.Errorf("update: before %s, after %s, detail %q", upd.Before, upd.After, upd.Detail)
		}
		if c := all[4]; c.Before != "" || field(c.After, "display_name") != "Old" || c.Resource != "customers/c1" {
			t.Errorf("create: %+v", c)
		}
		if d := all[0]; field(d.Before, "id") != "w2" || d.After != "" || d.Resource != "incidents/i1/windows/w2" {
			t.Errorf("delete: %+v", d)
		}
		var batch []map[string]any
		if err := json.Unmarshal([]byte(all[1].After), &batch); err != nil || len(batch) != 2 {
			t.Errorf("batch after: %v %s", err, all[1].After)
		}
		if all[0].Actor != impact.Anonymous || all[0].Time.IsZero() || all[0].ID <= all[1].ID {
			t.Errorf("record: %+v", all[0])
		}
	})
}
