package store

// The changes of recompute jobs (impact.JobStore): what each chunk found
// changed or failed, and the latest stored estimates it compares with.

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

func (d *DB) insertChanges(ctx context.Context, tx *sqlx.Tx, jobID string, chs []impact.RecomputeChange) error {
	for lo := 0; lo < len(chs); lo += changeRowsPerInsert {
		part := chs[lo:min(lo+changeRowsPerInsert, len(chs))]
		var b strings.Builder
		b.WriteString(`INSERT INTO recompute_changes (job_id, ` + changeCols + `) VALUES `)
		args := make([]any, 0, 10*len(part))
		for i := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
			ch := &part[i]
			args = append(args, jobID, ch.IncidentID, ch.OldRevision, ch.NewRevision, ch.OldModelVersion, ch.OldInputsDigest,
				ch.NewInputsDigest, ch.CustomersChanged, encodeDiffs(ch.Differences), ch.Error)
		}
		if _, err := tx.ExecContext(ctx, d.q(b.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

type changeRow struct {
	IncidentID       string `db:"incident_id"`
	OldRevision      int64  `db:"old_revision"`
	NewRevision      int64  `db:"new_revision"`
	OldModelVersion  string `db:"old_model_version"`
	OldInputsDigest  string `db:"old_inputs_digest"`
	NewInputsDigest  string `db:"new_inputs_digest"`
	CustomersChanged int64  `db:"customers_changed"`
	Differences      []byte `db:"differences"`
	Error            string `db:"error"`
}

// ListChanges implements impact.JobStore.
func (d *DB) ListChanges(ctx context.Context, jobID string, p impact.PageRequest) (*impact.Page[impact.RecomputeChange], error) {
	if err := checkID("parent", jobID); err != nil {
		return nil, err
	}
	pg, err := parsePage(p, 1, "ListRecomputeChanges", jobID)
	if err != nil {
		return nil, err
	}
	var one int
	if err := d.db.GetContext(ctx, &one, d.q(`SELECT 1 FROM recompute_jobs WHERE id = ?`), jobID); err != nil {
		return nil, translate(noRows(err, impact.JobName(jobID)))
	}
	q, args := `SELECT `+changeCols+` FROM recompute_changes WHERE job_id = ?`, []any{jobID}
	if pg.after != nil {
		q, args = q+` AND incident_id > ?`, append(args, pg.after[0])
	}
	var rows []changeRow
	if err := d.db.SelectContext(ctx, &rows, d.q(q+` ORDER BY incident_id LIMIT ?`), append(args, pg.size+1)...); err != nil {
		return nil, translate(err)
	}
	rows, next := trim(pg, rows, func(r *changeRow) []string { return []string{r.IncidentID} })
	out := &impact.Page[impact.RecomputeChange]{Items: make([]impact.RecomputeChange, 0, len(rows)), NextPageToken: next}
	for _, r := range rows {
		ds, err := decodeDiffs(r.Differences)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, impact.RecomputeChange{IncidentID: r.IncidentID, OldRevision: r.OldRevision,
			NewRevision: r.NewRevision, OldModelVersion: r.OldModelVersion, OldInputsDigest: r.OldInputsDigest,
			NewInputsDigest: r.NewInputsDigest, CustomersChanged: r.CustomersChanged, Differences: ds, Error: r.Error})
	}
	return out, nil
}

// LatestEstimates implements impact.JobStore: one query; each incident's
// latest revision is found through the primary key (incident_id, revision).
func (d *DB) LatestEstimates(ctx context.Context, incidentIDs []string) (map[string]*impact.StoredEstimate, error) {
	return d.latestEstimates(ctx, incidentIDs, estimateCols)
}

// estimateHeadCols are estimateCols with an empty body: the figures are
// most of a row, and decoding them is most of its cost.
const estimateHeadCols = `incident_id, revision, model_version, inputs_digest, compute_time, '{}' AS body,
	reporting_currency, fx_rates, source, actor`

// LatestEstimateHeads implements impact.JobStore.
func (d *DB) LatestEstimateHeads(ctx context.Context, incidentIDs []string) (map[string]*impact.StoredEstimate, error) {
	return d.latestEstimates(ctx, incidentIDs, estimateHeadCols)
}

func (d *DB) latestEstimates(ctx context.Context, incidentIDs []string, cols string) (map[string]*impact.StoredEstimate, error) {
	out := make(map[string]*impact.StoredEstimate, len(incidentIDs))
	if len(incidentIDs) == 0 {
		return out, nil
	}
	if len(incidentIDs) > impact.MaxPageSize {
		return nil, invalid("incident_ids", "at most 1000 ids per call")
	}
	args := make([]any, len(incidentIDs))
	for i, id := range incidentIDs {
		args[i] = id
	}
	var rows []estimateRow
	if err := d.db.SelectContext(ctx, &rows, d.q(`SELECT `+cols+` FROM incident_estimates e
		WHERE incident_id IN (`+placeholders(len(incidentIDs))+`)
		AND revision = (SELECT MAX(revision) FROM incident_estimates m WHERE m.incident_id = e.incident_id)`), args...); err != nil {
		return nil, translate(err)
	}
	for i := range rows {
		e, err := rows[i].toDomain()
		if err != nil {
			return nil, err
		}
		out[rows[i].IncidentID] = e
	}
	return out, nil
}
