package server

import (
	"strings"
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

func TestLineFilter(t *testing.T) {
	for _, tc := range []struct {
		parent, filter string
		want           string // fmt of the filter, or "error: part of the message"
	}{
		{"customers/-", "", "- - [] "},
		{"customers/acme", `state = CLAIMABLE`, "acme - [CLAIMABLE] "},
		{"customers/acme/contracts/api", `state = "APPROVED"`, "acme api [APPROVED] "},
		{"customers/-", `(state = CLAIMABLE OR state = CLAIMED) AND claim_deadline < "2025-09-08T00:00:00Z"`,
			"- - [CLAIMABLE CLAIMED] <2025-09-08T00:00:00Z"},
		{"customers/-", `customer_id = "acme" AND contract = api`, "acme api [] "},
		{"customers/-", `state = LOST`, "error: unknown state \"LOST\""},
		{"customers/-", `state < CLAIMED`, "error: state takes only ="},
		{"customers/-", `claim_deadline < "tomorrow"`, "error: not an RFC 3339 instant"},
		{"customers/-", `customer_id = "a" OR state = CLAIMED`, "error: only state terms can be joined by OR"},
		{"customers/-", `amount > 5`, "error: must be terms joined by AND"},
		{"customers/acme", `customer_id = "other"`, "error: contradicts the parent"},
		{"incidents/x", ``, "error: must be customers/{customer}"},
	} {
		f, err := lineFilter(tc.parent, tc.filter)
		var got string
		if err != nil {
			got = "error: " + err.Error()
		} else {
			svc := f.Service
			if svc == "" {
				svc = "-"
			}
			got = f.CustomerID + " " + svc + " [" + strings.Join(stateNames(f.States), " ") + "] "
			if !f.DeadlineBefore.IsZero() {
				got += "<" + f.DeadlineBefore.Format(time.RFC3339)
			}
		}
		if tc.want != got && !(strings.HasPrefix(tc.want, "error: ") && strings.HasPrefix(got, "error: ") &&
			strings.Contains(got, strings.TrimPrefix(tc.want, "error: "))) {
			t.Errorf("%s %q: got %q, want %q", tc.parent, tc.filter, got, tc.want)
		}
		if err != nil && impact.ErrorCode(err) != impact.EINVALID {
			t.Errorf("%q: code %s", tc.filter, impact.ErrorCode(err))
		}
	}
}

func stateNames(ss []impact.CreditState) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.String())
	}
	return out
}

func TestWholeClaimPolicy(t *testing.T) {
	got := wholeClaimPolicy(impact.FieldMask{"monthly_fee", "claim_policy.mode", "claim_policy.deadline_days", "tiers"})
	if strings.Join(got, ",") != "monthly_fee,claim_policy,tiers" {
		t.Errorf("mask %v", got)
	}
}
