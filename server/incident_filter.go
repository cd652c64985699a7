package server

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// incidentFilterTerm is one term of a ListIncidents filter (AIP-160 subset).
var incidentFilterTerm = regexp.MustCompile(`^\s*(cause|start_time|end_time)\s*(<=|>=|=|<|>)\s*(?:"([^"]*)"|([A-Za-z0-9._~:+-]+))\s*$`)

const incidentFilterHelp = `must be terms joined by AND: cause = POWER_FAILURE (causes also joined by OR), ` +
	`start_time >= "2025-07-01T00:00:00Z", end_time < "2025-08-01T00:00:00Z" (<, <=, >, >=)`

// incidentFilter parses ListIncidents' filter and order_by into the
// store's filter; EINVALID with a violation per bad term.
func incidentFilter(filter, orderBy string) (impact.IncidentFilter, error) {
	var f impact.IncidentFilter
	var violations []impact.FieldViolation
	bad := func(field, format string, args ...any) {
		violations = append(violations, impact.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	switch strings.Join(strings.Fields(orderBy), " ") {
	case "", "incident_id":
	case "start_time desc":
		f.Order = impact.IncidentsNewestFirst
	case "start_time", "start_time asc":
		f.Order = impact.IncidentsOldestFirst
	default:
		bad("order_by", `must be "incident_id", "start_time desc" or "start_time", got %q`, orderBy)
	}
	var terms []string
	if strings.TrimSpace(filter) != "" {
		for _, term := range strings.Split(filter, " AND ") {
			// A disjunction of causes: (cause = A OR cause = B).
			t := strings.TrimSpace(term)
			if strings.HasPrefix(t, "(") && strings.HasSuffix(t, ")") {
				t = t[1 : len(t)-1]
			}
			if alts := strings.Split(t, " OR "); len(alts) > 1 {
				for _, a := range alts {
					if m := incidentFilterTerm.FindStringSubmatch(a); m == nil || m[1] != "cause" {
						bad("filter", "%q: only cause terms can be joined by OR", strings.TrimSpace(a))
					}
				}
				terms = append(terms, alts...)
				continue
			}
			terms = append(terms, term)
		}
	}
	for _, term := range terms {
		m := incidentFilterTerm.FindStringSubmatch(term)
		if m == nil {
			bad("filter", "%q: %s", strings.TrimSpace(term), incidentFilterHelp)
			continue
		}
		field, op, val := m[1], m[2], m[3]+m[4]
		if field == "cause" {
			v, ok := impactv1.Incident_Cause_value[val]
			if op != "=" || !ok || v == 0 {
				bad("filter", "cause takes = and one of HARDWARE_FAILURE, SOFTWARE_DEFECT, CYBERATTACK, NATURAL_DISASTER, POWER_FAILURE, NETWORK_FAILURE, CUSTOMER_CAUSED, UNKNOWN; got %s %q", op, val)
				continue
			}
			c, ok := causes.toDomain(impactv1.Incident_Cause(v))
			if !ok {
				bad("filter", "cause %q has no meaning here", val)
				continue
			}
			f.Causes = append(f.Causes, c)
			continue
		}
		if op == "=" {
			bad("filter", "%s takes <, <=, > or >=", field)
			continue
		}
		t, err := time.Parse(time.RFC3339, val)
		if err != nil {
			bad("filter", "%s %q is not an RFC 3339 instant", field, val)
			continue
		}
		if field == "start_time" {
			f.Start = append(f.Start, impact.TimeBound{Op: op, At: t})
		} else {
			f.End = append(f.End, impact.TimeBound{Op: op, At: t})
		}
	}
	if len(violations) > 0 {
		return f, &impact.Error{Code: impact.EINVALID, Message: "invalid request", Violations: violations}
	}
	return f, nil
}
