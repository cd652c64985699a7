package server

import (
	"maps"

	"github.com/impact-svc/impact/impact"
)

// labels maps labels, checking their syntax (impact.LabelViolations): a bad
// key or value is a violation at path["key"].
func (d *decoder) labels(path string, m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	d.violations = append(d.violations, impact.LabelViolations(path, m)...)
	return maps.Clone(m)
}
