package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// Many concurrent writers must all succeed: on SQLite they queue in the
// process instead of racing in SQLite's polling busy handler, where an
// unlucky one could time out (scripts/soak.sh found it as 503s).
func TestConcurrentWritersAllSucceed(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		const workers, each = 32, 20
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					c := &impact.Customer{ID: fmt.Sprintf("w%02d-%02d", w, i), Currency: "USD"}
					if _, err := db.CreateCustomer(ctx, c, ""); err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("concurrent create: %v", err)
		}
		if n := count(t, db, "customers", "1=1"); n != workers*each {
			t.Errorf("%d customers stored, want %d", n, workers*each)
		}
	})
}

// A writer whose context ends while it waits for its turn gets a clear
// UNAVAILABLE rather than hanging.
func TestWriterGivesUpWhenItsContextEnds(t *testing.T) {
	db := openSQLite(t)
	release := db.HoldWriter()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := db.CreateCustomer(ctx, &impact.Customer{ID: "late", Currency: "USD"}, "")
	release() // before any Fatal: a held slot would block the database's cleanup
	if code := impact.ErrorCode(err); code != impact.EUNAVAILABLE {
		t.Fatalf("create while another writer holds the database: %v (code %s), want %s", err, code, impact.EUNAVAILABLE)
	}
	if _, err := db.CreateCustomer(context.Background(), &impact.Customer{ID: "late", Currency: "USD"}, ""); err != nil {
		t.Fatalf("create once the writer is free: %v", err)
	}
}
