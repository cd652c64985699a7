package server

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

func TestParseName(t *testing.T) {
	ids, err := parseName("name", "customers/a/contracts/b", "customers", "contracts")
	if err != nil || !cmp.Equal(ids, []string{"a", "b"}) {
		t.Errorf("got %v, %v", ids, err)
	}
	for _, bad := range []string{"", "customers/", "customers/a/contracts", "clients/a/contracts/b", "customers/a/contracts/b/x"} {
		if _, err := parseName("name", bad, "customers", "contracts"); impact.ErrorCode(err) != impact.EINVALID {
			t.Errorf("%q: got %v, want EINVALID", bad, err)
		}
	}
}

func TestUpdateMask(t *testing.T) {
	c := &impactv1.Customer{CustomerId: "a", Name: "customers/a", DisplayName: "A", Etag: `"r1"`}
	// Omitted: the populated fields, without output-only ones and the id
	// that repeats the name's.
	got, err := updateMask(nil, c, "customer_id", "a")
	if err != nil || !cmp.Equal(got, impact.FieldMask{"display_name"}) {
		t.Errorf("omitted mask: got %v, %v", got, err)
	}
	if _, err := updateMask(nil, c, "customer_id", "b"); impact.ErrorCode(err) != impact.EINVALID {
		t.Errorf("changed id: got %v, want EINVALID", err)
	}
	if _, err := updateMask(&fieldmaskpb.FieldMask{Paths: []string{"etag"}}, c, "customer_id", "a"); impact.ErrorCode(err) != impact.EINVALID {
		t.Errorf("nothing to update: got %v, want EINVALID", err)
	}
}
