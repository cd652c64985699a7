package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// Ids: new ones follow impact.CheckResourceID; a NUL or another control
// character in any id is EINVALID on both engines (PostgreSQL answered
// 500, SQLite stored it), for reads as well as writes; nothing is written.
func TestIDsRefusedOnBothEngines(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"a\x00b", "a b", "..", "-a", ".hidden", "a/b", "ä", "tab\there", strings.Repeat("x", 64)} {
			wantCode(t, second(db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "EUR"}, "")), impact.EINVALID)
			wantCode(t, second(db.CreateIncident(ctx, &impact.Incident{ID: id}, "")), impact.EINVALID)
		}
		for _, id := range []string{"a\x00b", "a\nb", "a\x7fb"} {
			wantCode(t, second(db.GetCustomer(ctx, id)), impact.EINVALID)
			wantCode(t, db.DeleteIncident(ctx, id, "", false), impact.EINVALID)
		}
		// The longest and the odd-but-valid ones.
		for _, id := range []string{strings.Repeat("x", 63), "0", "a.b_c~d-e"} {
			must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "EUR"}, ""))
		}
		wantCode(t, second(db.CreateContract(ctx, "0", &impact.Contract{Service: "bad service"}, "")), impact.EINVALID)
		wantCode(t, second(db.CreateContract(ctx, "0", &impact.Contract{Service: "nul\x00"}, "")), impact.EINVALID)
		must[*impact.StoredIncident](t)(db.CreateIncident(ctx, &impact.Incident{ID: "i1"}, ""))
		bad := []impact.StoredWindow{window("0", "api\x00", 0, 60)}
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", bad, "")), impact.EINVALID)
		bad = []impact.StoredWindow{window("0\x00", "api", 0, 60)}
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", bad, "")), impact.EINVALID)
		bad = []impact.StoredWindow{window("0", "api", 0, 60)}
		bad[0].ID = "w 1"
		wantCode(t, second(db.BatchCreateWindows(ctx, "i1", bad, "")), impact.EINVALID)
		for table, want := range map[string]int{"customers": 3, "contracts": 0, "incidents": 1, "windows": 0} {
			if n := count(t, db, table, ""); n != want {
				t.Errorf("%s: %d rows, want %d", table, n, want)
			}
		}
	})
}

// Request ids: at most 128 printable ASCII characters without spaces (a
// 3 MB one was stored on SQLite and answered 500 on PostgreSQL), and bound
// to their request: the same id with another body, parent, caller or
// method is ECONFLICT naming the id, and writes nothing.
func TestRequestIDsBoundAndBounded(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{strings.Repeat("r", 129), strings.Repeat("r", 3<<20), "has space", "nul\x00", "é"} {
			wantCode(t, second(db.CreateCustomer(ctx, &impact.Customer{ID: "c1", Currency: "EUR"}, id)), impact.EINVALID)
		}
		long := strings.Repeat("r", 128)
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "c1", Currency: "EUR"}, long))
		must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "c2", Currency: "EUR"}, ""))

		k := &impact.Contract{Service: "api", MonthlyFee: "10"}
		first := must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", k, "req-k"))
		// The same request again: the first result.
		if again := must[*impact.StoredContract](t)(db.CreateContract(ctx, "c1", k, "req-k")); again.Name != first.Name {
			t.Fatalf("retry returned %s", again.Name)
		}
		// Another parent, another body, another caller, another method.
		err := second(db.CreateContract(ctx, "c2", k, "req-k"))
		wantCode(t, err, impact.ECONFLICT)
		if !strings.Contains(err.Error(), `"req-k"`) {
			t.Errorf("message %q does not name the key", err)
		}
		wantCode(t, second(db.CreateContract(ctx, "c1", &impact.Contract{Service: "api", MonthlyFee: "11"}, "req-k")), impact.ECONFLICT)
		wantCode(t, second(db.CreateContract(impact.WithActor(ctx, "mallory"), "c1", k, "req-k")), impact.ECONFLICT)
		wantCode(t, second(db.CreateIncident(ctx, &impact.Incident{ID: "i9"}, "req-k")), impact.ECONFLICT)
		for table, want := range map[string]int{"customers": 2, "contracts": 1, "incidents": 0, "request_ids": 2} {
			if n := count(t, db, table, ""); n != want {
				t.Errorf("%s: %d rows, want %d", table, n, want)
			}
		}
		// A row from before digests were recorded answers any retry of its
		// method with its first result, as it always did.
		if _, err := db.SQL().Exec(`UPDATE request_ids SET digest = '' WHERE request_id = 'req-k'`); err != nil {
			t.Fatal(err)
		}
		if legacy := must[*impact.StoredContract](t)(db.CreateContract(ctx, "c2", k, "req-k")); legacy.Name != first.Name {
			t.Fatalf("legacy retry returned %s, want %s", legacy.Name, first.Name)
		}
	})
}

// Etags are opaque, differ across resources at the same revision and
// across delete-and-recreate; a malformed one is EINVALID, a stale or a
// legacy "r<revision>" one EABORTED, and nothing is written.
func TestEtagsOpaque(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clock := t0
		db.SetClock(func() time.Time { return clock })
		a := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "a", Currency: "EUR"}, ""))
		b := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "b", Currency: "EUR"}, ""))
		if a.Etag == b.Etag || len(a.Etag) != 18 || a.Etag[0] != '"' {
			t.Fatalf("etags %s and %s: want distinct, quoted, 16 hex digits", a.Etag, b.Etag)
		}
		upd := &impact.Customer{ID: "a", DisplayName: "A"}
		for _, bad := range []string{"r1", "abc", `"zz"`, `"0123456789abcdef`, `W/"0123456789abcdef"`} {
			wantCode(t, second(db.UpdateCustomer(ctx, upd, impact.FieldMask{"display_name"}, bad)), impact.EINVALID)
		}
		wantCode(t, second(db.UpdateCustomer(ctx, upd, impact.FieldMask{"display_name"}, `"r1"`)), impact.EABORTED)
		wantCode(t, second(db.UpdateCustomer(ctx, upd, impact.FieldMask{"display_name"}, b.Etag)), impact.EABORTED)

		// Delete and create again (a microsecond later at least, as any
		// two transactions are): the etag read before the delete is stale.
		if err := db.DeleteCustomer(ctx, "a", a.Etag); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(time.Microsecond)
		again := must[*impact.StoredCustomer](t)(db.CreateCustomer(ctx, &impact.Customer{ID: "a", Currency: "USD"}, ""))
		if again.Etag == a.Etag {
			t.Fatalf("recreated customer has the etag of the deleted one: %s", a.Etag)
		}
		wantCode(t, second(db.UpdateCustomer(ctx, upd, impact.FieldMask{"display_name"}, a.Etag)), impact.EABORTED)
		wantCode(t, db.DeleteCustomer(ctx, "a", a.Etag), impact.EABORTED)
		got := must[*impact.StoredCustomer](t)(db.GetCustomer(ctx, "a"))
		if got.Currency != "USD" || got.DisplayName != "" || got.Etag != again.Etag {
			t.Fatalf("recreated customer changed: %+v", got)
		}
		// The current etag works.
		must[*impact.StoredCustomer](t)(db.UpdateCustomer(ctx, upd, impact.FieldMask{"display_name"}, again.Etag))
	})
}
