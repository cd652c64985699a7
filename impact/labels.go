package impact

import (
	"slices"
	"sort"
	"strings"
)

// Labels (AIP-style) on stored customers and contracts let a selector name
// a part of the book, such as region=eu-west-1. See the package
// documentation for the rules.
const (
	MaxLabels        = 64
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 63
)

// labelChar reports whether b may appear in a label key or value.
func labelChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '-'
}

// CheckLabelKey returns why k is not a valid label key, or "".
func CheckLabelKey(k string) string {
	if k == "" || len(k) > MaxLabelKeyLen || k[0] < 'a' || k[0] > 'z' {
		return "label keys are 1-63 characters starting with a lowercase letter"
	}
	for i := 0; i < len(k); i++ {
		if !labelChar(k[i]) {
			return "label keys may contain only lowercase letters, digits, \"_\" and \"-\""
		}
	}
	return ""
}

// CheckLabelValue returns why v is not a valid label value, or "".
func CheckLabelValue(v string) string {
	if len(v) > MaxLabelValueLen {
		return "label values are at most 63 characters"
	}
	for i := 0; i < len(v); i++ {
		if !labelChar(v[i]) {
			return "label values may contain only lowercase letters, digits, \"_\" and \"-\""
		}
	}
	return ""
}

// LabelViolations checks labels held at field ("customer.labels"): one
// violation per bad key or value, at field["key"], in key order.
func LabelViolations(field string, labels map[string]string) []FieldViolation {
	var vs []FieldViolation
	if len(labels) > MaxLabels {
		vs = append(vs, FieldViolation{Field: field, Description: "at most 64 labels"})
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := field + "[" + quoteKey(k) + "]"
		if why := CheckLabelKey(k); why != "" {
			vs = append(vs, FieldViolation{Field: p, Description: why})
		} else if why := CheckLabelValue(labels[k]); why != "" {
			vs = append(vs, FieldViolation{Field: p, Description: why})
		}
	}
	return vs
}

// quoteKey writes a key into a field path, bounded so that a huge key
// cannot make a huge error.
func quoteKey(k string) string {
	if len(k) > 80 {
		k = k[:80] + "…"
	}
	return `"` + strings.ReplaceAll(k, `"`, `\"`) + `"`
}

// EffectiveLabel is the value of key for a contract: the contract's label,
// else its customer's.
func EffectiveLabel(customer, contract map[string]string, key string) (string, bool) {
	if v, ok := contract[key]; ok {
		return v, true
	}
	v, ok := customer[key]
	return v, ok
}

// ContractSelector selects stored contracts; every criterion given must
// hold, and the empty selector selects every contract.
type ContractSelector struct {
	CustomerIDs []string
	Services    []string
	Labels      map[string]string
}

// MaxSelectorIDs bounds each id list of a ContractSelector.
const MaxSelectorIDs = 1000

// Validate checks s, with violation paths under field ("selector").
func (s *ContractSelector) Validate(field string) []FieldViolation {
	var vs []FieldViolation
	for _, l := range []struct {
		name string
		ids  []string
	}{{"customer_ids", s.CustomerIDs}, {"services", s.Services}} {
		if len(l.ids) > MaxSelectorIDs {
			vs = append(vs, FieldViolation{Field: field + "." + l.name, Description: "at most 1000 entries"})
			continue
		}
		for i, id := range l.ids {
			if id == "" || len(id) > 256 || containsSlash(id) {
				vs = append(vs, FieldViolation{Field: field + "." + rootElem(l.name, i).String(),
					Description: "must be a non-empty id without \"/\", at most 256 bytes"})
			}
		}
	}
	return append(vs, LabelViolations(field+".labels", s.Labels)...)
}

// Matches reports whether the contract of service with labels, of the
// customer with id and labels, is selected.
func (s *ContractSelector) Matches(customerID string, customerLabels map[string]string, service string, contractLabels map[string]string) bool {
	if len(s.CustomerIDs) > 0 && !slices.Contains(s.CustomerIDs, customerID) {
		return false
	}
	if len(s.Services) > 0 && !slices.Contains(s.Services, service) {
		return false
	}
	for k, want := range s.Labels {
		if v, ok := EffectiveLabel(customerLabels, contractLabels, k); !ok || v != want {
			return false
		}
	}
	return true
}
