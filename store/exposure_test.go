package store_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

// Labels are stored and updated on both engines; SelectCustomers applies
// every criterion, a contract's label overriding its customer's, and pages
// by customer id without loss.
func TestLabelsAndSelection(t *testing.T) {
	eachEngine(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for i := range 25 {
			id := fmt.Sprintf("c%02d", i)
			region := []string{"eu-west-1", "us-east-1"}[i%2]
			if _, err := db.CreateCustomer(ctx, &impact.Customer{ID: id, Currency: "EUR", Labels: map[string]string{"region": region, "empty": ""}}, ""); err != nil {
				t.Fatal(err)
			}
			for j, svc := range []string{"api", "db"} {
				k := &impact.Contract{Service: svc}
				if j == 1 && i%3 == 0 {
					k.Labels = map[string]string{"region": "eu-west-1"} // overrides
				}
				if _, err := db.CreateContract(ctx, id, k, ""); err != nil {
					t.Fatal(err)
				}
			}
		}
		c, err := db.GetCustomer(ctx, "c01")
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(c.Labels, map[string]string{"region": "us-east-1", "empty": ""}) {
			t.Fatalf("labels read back %v", c.Labels)
		}
		// Update: the mask "labels" replaces them all.
		c.Labels = map[string]string{"team": "core"}
		if _, err := db.UpdateCustomer(ctx, &c.Customer, impact.FieldMask{"labels"}, ""); err != nil {
			t.Fatal(err)
		}
		if c, _ = db.GetCustomer(ctx, "c01"); !maps.Equal(c.Labels, map[string]string{"team": "core"}) {
			t.Fatalf("after update %v", c.Labels)
		}
		c.Labels = map[string]string{"Bad": "x"}
		if _, err := db.UpdateCustomer(ctx, &c.Customer, impact.FieldMask{"labels"}, ""); impact.ErrorCode(err) != impact.EINVALID {
			t.Fatalf("bad label stored: %v", err)
		}
		k, _ := db.GetContract(ctx, "c03", "db")
		if k.Labels["region"] != "eu-west-1" {
			t.Fatalf("contract labels %v", k.Labels)
		}

		all := func(sel impact.ContractSelector, limit int) []string {
			var out []string
			for after := ""; ; {
				cs, err := db.SelectCustomers(ctx, &sel, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					for _, k := range c.Contracts {
						out = append(out, c.ID+"/"+k.Service)
					}
				}
				if len(cs) < limit {
					return out
				}
				after = cs[len(cs)-1].ID
			}
		}
		// eu-west-1: the even customers' two contracts, and the db
		// contract of odd customers divisible by 3 (c03, c09, c15, c21).
		var want []string
		for i := range 25 {
			id := fmt.Sprintf("c%02d", i)
			if i%2 == 0 {
				want = append(want, id+"/api", id+"/db")
			} else if i%3 == 0 {
				want = append(want, id+"/db")
			}
		}
		for _, limit := range []int{1, 4, 1000} {
			if got := all(impact.ContractSelector{Labels: map[string]string{"region": "eu-west-1"}}, limit); !slices.Equal(got, want) {
				t.Fatalf("limit %d: %v\nwant %v", limit, got, want)
			}
		}
		got := all(impact.ContractSelector{Labels: map[string]string{"region": "eu-west-1"}, Services: []string{"db"}, CustomerIDs: []string{"c03", "c04", "c05"}}, 2)
		if !slices.Equal(got, []string{"c03/db", "c04/db"}) {
			t.Fatalf("every criterion: %v", got)
		}
		if got := all(impact.ContractSelector{}, 7); len(got) != 50 {
			t.Fatalf("empty selector: %d contracts", len(got))
		}
	})
}
