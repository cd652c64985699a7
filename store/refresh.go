package store

import (
	"context"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// The refresh (impact.FreshStore): stale estimates are leased in their
// estimate_heads rows as recompute chunks are, with a random token and an
// expiry, so that replicas share them and a killed worker's estimates are
// taken again when the lease expires. A lease's writes — revisions,
// statements, freshness, the end of the lease — are one transaction: an
// estimate is refreshed once, and a refresh redone after a crash finds
// nothing left to do or the same inputs (so no second revision).

var _ impact.FreshStore = (*DB)(nil)

const (
	freeRefreshSQL = `SELECT incident_id FROM estimate_heads
		WHERE last_mark IS NOT NULL AND last_mark <= ? AND stale_seq > failed_seq
		AND (lease_expires IS NULL OR lease_expires < ?)
		ORDER BY last_mark, incident_id LIMIT ?`
	// SKIP LOCKED: a head another transaction is leasing is skipped, not
	// waited for, and never handed out twice.
	freeRefreshPostgres = freeRefreshSQL + ` FOR UPDATE SKIP LOCKED`
)

// LeaseRefresh implements impact.FreshStore.
func (d *DB) LeaseRefresh(ctx context.Context, worker string, limit int, delay, ttl time.Duration) (*impact.RefreshLease, error) {
	if limit < 1 || limit > impact.MaxPageSize {
		return nil, invalid("limit", "must be in [1, 1000]")
	}
	now := d.now()
	l := &impact.RefreshLease{Token: newToken(), Expires: now.Add(ttl).UTC().Truncate(time.Microsecond)}
	var ids []string
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := tx.SelectContext(ctx, &ids, d.q(d.pick(freeRefreshSQL, freeRefreshPostgres)), d.ts(now.Add(-delay)), d.ts(now), limit); err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		q, args, err := sqlx.In(`UPDATE estimate_heads SET lease_token = ?, lease_expires = ? WHERE incident_id IN (?)`,
			l.Token, d.ts(l.Expires), ids)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, d.q(q), args...)
		return err
	})
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	items, err := d.refreshItems(ctx, ids)
	if err != nil {
		// Leased but not handed out (the caller stopping, say): hand the
		// estimates back rather than hold them until the lease expires.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		d.db.ExecContext(rctx, d.q(`UPDATE estimate_heads SET lease_token = '', lease_expires = NULL WHERE lease_token = ?`), l.Token)
		return nil, err
	}
	l.Items = items
	return l, nil
}

// refreshItems reads what the refresh needs of the estimates ids.
func (d *DB) refreshItems(ctx context.Context, ids []string) ([]impact.RefreshItem, error) {
	var heads []struct {
		IncidentID   string `db:"incident_id"`
		UsesSettings bool   `db:"uses_settings"`
	}
	q, args, err := sqlx.In(`SELECT incident_id, uses_settings FROM estimate_heads WHERE incident_id IN (?)`, ids)
	if err != nil {
		return nil, err
	}
	if err := d.db.SelectContext(ctx, &heads, d.q(q), args...); err != nil {
		return nil, translate(err)
	}
	uses := map[string]bool{}
	for _, h := range heads {
		uses[h.IncidentID] = h.UsesSettings
	}
	latest, err := d.LatestEstimateHeads(ctx, ids)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	var items []impact.RefreshItem
	for _, id := range ids {
		it := impact.RefreshItem{IncidentID: id, UsesSettings: uses[id]}
		if e := latest[id]; e != nil {
			it.ReportingCurrency, it.FXRates = e.ReportingCurrency, e.FXRates
		}
		items = append(items, it)
	}
	return items, nil
}

// RenewRefresh implements impact.FreshStore. EABORTED if the lease was
// lost on every estimate it held.
func (d *DB) RenewRefresh(ctx context.Context, l *impact.RefreshLease, ttl time.Duration) error {
	exp := d.now().Add(ttl).UTC().Truncate(time.Microsecond)
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE estimate_heads SET lease_expires = ? WHERE lease_token = ?`), d.ts(exp), l.Token)
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n == 0 {
		return impact.Errorf(impact.EABORTED, "refresh lease lost")
	}
	l.Expires = exp
	return nil
}

// RefreshActor is the actor of the revisions the refresh writes.
const RefreshActor = "impactd refresh"

// CompleteRefresh implements impact.FreshStore.
func (d *DB) CompleteRefresh(ctx context.Context, l *impact.RefreshLease, saves []impact.EstimateSave, failures []impact.RefreshFailure) (*impact.RefreshResult, error) {
	now := d.now()
	type enc struct {
		ins  estimateInsert
		ups  []statementUpsert
		deps *impact.EstimateDeps
	}
	encs := make([]enc, 0, len(saves))
	for _, s := range saves {
		ins, ups, err := d.encodeSave(s.Estimate, s.Statements, now)
		if err != nil {
			return nil, err
		}
		ins.source, ins.actor = impact.SourceRefresh, RefreshActor
		encs = append(encs, enc{ins, ups, s.Estimate.Deps})
	}
	sort.Slice(encs, func(i, j int) bool { return encs[i].ins.incidentID < encs[j].ins.incidentID })
	res := &impact.RefreshResult{}
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		*res = impact.RefreshResult{}
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var held []string
		if err := tx.SelectContext(ctx, &held, d.q(`SELECT incident_id FROM estimate_heads WHERE lease_token = ? ORDER BY incident_id`), l.Token); err != nil {
			return err
		}
		holds := map[string]bool{}
		for _, id := range held {
			holds[id] = true
		}
		for i := range encs {
			e := &encs[i]
			id := e.ins.incidentID
			if !holds[id] {
				res.Lost++
				continue
			}
			var one int
			if err := tx.GetContext(ctx, &one, d.pick(lockIncidentSQLite, lockIncidentPostgres), id); err != nil {
				return err
			}
			live, err := d.withContracts(ctx, tx, e.ups)
			if err != nil {
				return err
			}
			wrote, err := d.saveLocked(ctx, tx, &e.ins, live, e.deps, ch.g, now, "Refresh")
			if err != nil {
				return err
			}
			if wrote {
				res.Revisions++
			} else {
				res.Unchanged++
			}
		}
		for _, f := range failures {
			if !holds[f.IncidentID] {
				res.Lost++
				continue
			}
			if _, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET failed_seq = ?, failure = ?, lease_token = '',
				lease_expires = NULL WHERE incident_id = ? AND lease_token = ?`), f.ReadSeq, f.Error, f.IncidentID, l.Token); err != nil {
				return err
			}
			res.Failed++
		}
		// Whatever is left (an incident deleted meanwhile) is handed back.
		_, err = tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET lease_token = '', lease_expires = NULL WHERE lease_token = ?`), l.Token)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// FreshnessStats implements impact.FreshStore: one pass over the partial
// index of marked heads.
func (d *DB) FreshnessStats(ctx context.Context) (int64, time.Time, error) {
	var r struct {
		N      int64       `db:"n"`
		Oldest nullInstant `db:"oldest"`
	}
	if err := d.db.GetContext(ctx, &r, `SELECT COUNT(*) AS n, MIN(last_mark) AS oldest FROM estimate_heads WHERE last_mark IS NOT NULL`); err != nil {
		return 0, time.Time{}, translate(err)
	}
	return r.N, r.Oldest.Time, nil
}
