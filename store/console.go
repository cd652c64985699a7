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

// EstimateDocument returns revision rev (0: the latest) of the incident's
// estimate with its metadata and reporting options, but with the body
// undecoded: a paged view of 100,000 customers decodes only the fields it
// sorts and shows.
func (d *DB) EstimateDocument(ctx context.Context, incidentID string, rev int64) (*impact.StoredEstimate, []byte, error) {
	if err := checkID("name", incidentID); err != nil {
		return nil, nil, err
	}
	const cols = `SELECT ` + estimateCols + ` FROM incident_estimates`
	var r estimateRow
	var err error
	if rev == 0 {
		err = d.db.GetContext(ctx, &r, d.q(cols+` WHERE incident_id = ? ORDER BY revision DESC LIMIT 1`), incidentID)
	} else {
		err = d.db.GetContext(ctx, &r, d.q(cols+` WHERE incident_id = ? AND revision = ?`), incidentID, rev)
	}
	if err != nil {
		return nil, nil, translate(noRows(err, impact.EstimateName(incidentID)))
	}
	body := r.Body
	r.Body = []byte(`{}`)
	e, err := r.toDomain()
	if err != nil {
		return nil, nil, err
	}
	return e, body, nil
}
