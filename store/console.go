package store

import (
	"context"
	"time"

	"github.com/impact-svc/impact/impact"
)

// Cheap reads for paged views of a stored estimate: the latest revision
// without its body, and an incident's time span without its windows.

// LatestEstimateRevision returns the newest revision of the incident's
// estimate, or ENOTFOUND when it has none.
func (d *DB) LatestEstimateRevision(ctx context.Context, incidentID string) (int64, error) {
	if err := checkID("name", incidentID); err != nil {
		return 0, err
	}
	var rev int64
	err := d.db.GetContext(ctx, &rev, d.q(`SELECT COALESCE(MAX(revision), 0) FROM incident_estimates WHERE incident_id = ?`), incidentID)
	if err != nil {
		return 0, translate(err)
	}
	if rev == 0 {
		return 0, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.EstimateName(incidentID))
	}
	return rev, nil
}

// IncidentSpan returns the first start and last end of the incident's
// windows and how many it has (zero times when none).
func (d *DB) IncidentSpan(ctx context.Context, incidentID string) (start, end time.Time, windows int64, err error) {
	if err := checkID("name", incidentID); err != nil {
		return start, end, 0, err
	}
	if err := d.db.GetContext(ctx, &windows, d.q(`SELECT COUNT(*) FROM windows WHERE incident_id = ?`), incidentID); err != nil {
		return start, end, 0, translate(err)
	}
	if windows == 0 {
		return start, end, 0, nil
	}
	var r struct {
		Start instant `db:"s"`
		End   instant `db:"e"`
	}
	if err := d.db.GetContext(ctx, &r, d.q(`SELECT MIN(start_time) AS s, MAX(end_time) AS e FROM windows WHERE incident_id = ?`), incidentID); err != nil {
		return start, end, 0, translate(err)
	}
	return r.Start.Time, r.End.Time, windows, nil
}
