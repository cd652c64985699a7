package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/impact-svc/impact/impact"
)

// A SQLite database that cannot be written gives writes a clear
// UNAVAILABLE and keeps serving reads. The conditions are made with
// pragmas on the pool's only connection: query_only fails writes with the
// same SQLITE_READONLY as a read-only file, and max_page_count at the
// current size with the same SQLITE_FULL as a full disk, which a test
// cannot otherwise make without mounting a filesystem. cmd/impactd tests
// the read-only file itself.
func TestSQLiteUnwritable(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, pragma, want string
	}{
		{"read-only", "PRAGMA query_only = 1", "read-only"},
		{"full", "", "full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openSQLite(t)
			db.SQL().SetMaxOpenConns(1)
			if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: "before", Currency: "EUR"}, ""); err != nil {
				t.Fatal(err)
			}
			pragma := tc.pragma
			if pragma == "" {
				var pages int
				if err := db.SQL().Get(&pages, "PRAGMA page_count"); err != nil {
					t.Fatal(err)
				}
				pragma = fmt.Sprintf("PRAGMA max_page_count = %d", pages)
			}
			if _, err := db.SQL().Exec(pragma); err != nil {
				t.Fatal(err)
			}
			// Free space in the last pages may take a few rows; a full
			// database refuses one soon after.
			var err error
			for i := 0; i < 1000 && err == nil; i++ {
				_, err = db.CreateCustomer(ctx, &impact.Customer{ID: fmt.Sprintf("c-%04d", i), DisplayName: strings.Repeat("x", 200), Currency: "EUR"}, "")
			}
			if err == nil || impact.ErrorCode(err) != impact.EUNAVAILABLE || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (%T), want EUNAVAILABLE saying %q", err, err, tc.want)
			}
			if _, err := db.GetCustomer(ctx, "before"); err != nil {
				t.Errorf("read after a refused write: %v", err)
			}
		})
	}
}
