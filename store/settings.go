package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/impact-svc/impact/impact"
)

// The reporting settings singleton (impact.SettingsStore).

var _ impact.SettingsStore = (*DB)(nil)

type settingsRow struct {
	ReportingCurrency string  `db:"reporting_currency"`
	FXRates           []byte  `db:"fx_rates"`
	Revision          int64   `db:"revision"`
	UpdateTime        instant `db:"update_time"`
}

func (r *settingsRow) toDomain() (*impact.ReportingSettings, error) {
	var docs []fxDoc
	if err := json.Unmarshal(r.FXRates, &docs); err != nil {
		return nil, err
	}
	s := &impact.ReportingSettings{ReportingCurrency: r.ReportingCurrency, FXRates: fromFxDocs(docs),
		Etag: etag(impact.SettingsName, time.Time{}, r.Revision)} // a singleton: never recreated
	if r.Revision > 1 {
		s.UpdateTime = r.UpdateTime.Time
	}
	return s, nil
}

// GetReportingSettings implements impact.SettingsStore.
func (d *DB) GetReportingSettings(ctx context.Context) (*impact.ReportingSettings, error) {
	return d.getSettings(ctx, d.db)
}

func (d *DB) getSettings(ctx context.Context, q sqlx.QueryerContext) (*impact.ReportingSettings, error) {
	var r settingsRow
	if err := sqlx.GetContext(ctx, q, &r, `SELECT reporting_currency, fx_rates, revision, update_time FROM reporting_settings WHERE id = 1`); err != nil {
		return nil, translate(err)
	}
	return r.toDomain()
}

// ValidateSettings checks reporting settings as UpdateReportingSettings
// stores them: a three-letter upper-case currency (or none), rates with
// such codes, from and to different, a positive plain decimal, at most one
// rate per pair. It returns them with canonical decimals, sorted.
func ValidateSettings(s *impact.ReportingSettings) (*impact.ReportingSettings, error) {
	var vs []impact.FieldViolation
	code := func(c string) bool {
		if len(c) != 3 {
			return false
		}
		for _, r := range c {
			if r < 'A' || r > 'Z' {
				return false
			}
		}
		return true
	}
	if s.ReportingCurrency != "" && !code(s.ReportingCurrency) {
		vs = append(vs, impact.FieldViolation{Field: "settings.reporting_currency", Description: "must be an ISO 4217 code such as USD"})
	}
	if len(s.FXRates) > impact.MaxPageSize {
		vs = append(vs, impact.FieldViolation{Field: "settings.fx_rates", Description: "at most 1000 rates"})
	}
	out := &impact.ReportingSettings{ReportingCurrency: s.ReportingCurrency}
	seen := map[[2]string]int{}
	for i, r := range s.FXRates {
		f := fmt.Sprintf("settings.fx_rates[%d]", i)
		if !code(r.From) {
			vs = append(vs, impact.FieldViolation{Field: f + ".from_currency", Description: "must be an ISO 4217 code such as EUR"})
		}
		if !code(r.To) {
			vs = append(vs, impact.FieldViolation{Field: f + ".to_currency", Description: "must be an ISO 4217 code such as USD"})
		}
		if r.From == r.To && code(r.From) {
			vs = append(vs, impact.FieldViolation{Field: f + ".to_currency", Description: "must differ from from_currency"})
		}
		v, err := impact.ParseDecimal(r.Rate)
		if err != nil || !v.IsPositive() {
			vs = append(vs, impact.FieldViolation{Field: f + ".rate", Description: "must be a positive plain decimal"})
		}
		k := [2]string{r.From, r.To}
		if j, dup := seen[k]; dup {
			vs = append(vs, impact.FieldViolation{Field: f, Description: fmt.Sprintf("same currency pair as settings.fx_rates[%d]", j)})
		}
		seen[k] = i
		out.FXRates = append(out.FXRates, impact.FXRate{From: r.From, To: r.To, Rate: canonical(r.Rate)})
	}
	if len(vs) > 0 {
		return nil, &impact.Error{Code: impact.EINVALID, Message: "invalid reporting settings", Violations: vs}
	}
	sort.Slice(out.FXRates, func(i, j int) bool {
		a, b := out.FXRates[i], out.FXRates[j]
		return a.From < b.From || (a.From == b.From && a.To < b.To)
	})
	return out, nil
}

// UpdateReportingSettings implements impact.SettingsStore. The estimates
// it marks are found by reading every estimate head that used the settings
// (one indexed pass, in the update's transaction): a settings update is
// rare and touches what every such estimate reports.
func (d *DB) UpdateReportingSettings(ctx context.Context, s *impact.ReportingSettings, mask impact.FieldMask, tag string) (*impact.ReportingSettings, error) {
	now := d.now()
	err := d.inTx(ctx, func(tx *sqlx.Tx) error {
		ch, err := d.beginChanges(ctx, tx)
		if err != nil {
			return err
		}
		var old settingsRow
		if err := tx.GetContext(ctx, &old, d.pick(
			`SELECT reporting_currency, fx_rates, revision, update_time FROM reporting_settings WHERE id = 1`,
			`SELECT reporting_currency, fx_rates, revision, update_time FROM reporting_settings WHERE id = 1 FOR UPDATE`)); err != nil {
			return err
		}
		if err := checkEtag(tag, impact.SettingsName, time.Time{}, old.Revision); err != nil {
			return err
		}
		cur, err := old.toDomain()
		if err != nil {
			return err
		}
		next := *cur
		all := len(mask) == 0 || (len(mask) == 1 && mask[0] == "*")
		for _, f := range mask {
			switch f {
			case "*":
			case "reporting_currency", "reportingCurrency":
				next.ReportingCurrency = s.ReportingCurrency
			case "fx_rates", "fxRates":
				next.FXRates = s.FXRates
			default:
				return invalid("update_mask", fmt.Sprintf("unknown field %q (reporting_currency, fx_rates)", f))
			}
		}
		if all {
			next.ReportingCurrency, next.FXRates = s.ReportingCurrency, s.FXRates
		}
		valid, err := ValidateSettings(&next)
		if err != nil {
			return err
		}
		fx, err := json.Marshal(fxDocs(valid.FXRates))
		if err != nil {
			return err
		}
		before, err := d.rowJSON(ctx, tx, ref("reporting_settings", "id = 1"))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, d.q(`UPDATE reporting_settings SET reporting_currency = ?, fx_rates = ?, revision = ?,
			update_time = ? WHERE id = 1`), valid.ReportingCurrency, fx, old.Revision+1, d.ts(now)); err != nil {
			return err
		}
		detail := "reporting_currency=" + valid.ReportingCurrency + ", " + itoa(len(valid.FXRates)) + " rates"
		if err := d.audit(ctx, tx, now, "UpdateReportingSettings", impact.SettingsName, detail, before,
			ref("reporting_settings", "id = 1")); err != nil {
			return err
		}
		return d.markSettingsUsers(ctx, tx, valid, ch.g)
	})
	if err != nil {
		return nil, err
	}
	return d.GetReportingSettings(ctx)
}

// markSettingsUsers marks STALE every estimate that used the settings and
// that the new settings s would compute differently: another reporting
// currency, or another rate (or none) for a currency pair it used; and
// CURRENT again one they would compute as it was. A rate it did not use
// changes nothing it reports.
func (d *DB) markSettingsUsers(ctx context.Context, tx *sqlx.Tx, s *impact.ReportingSettings, g int64) error {
	rate := map[[2]string]string{}
	for _, r := range s.FXRates {
		rate[[2]string{r.From, r.To}] = r.Rate
	}
	var heads []struct {
		IncidentID string `db:"incident_id"`
		Currency   string `db:"settings_currency"`
		Rates      []byte `db:"settings_rates"`
	}
	if err := tx.SelectContext(ctx, &heads, d.q(`SELECT incident_id, settings_currency, settings_rates FROM estimate_heads
		WHERE uses_settings = ?`), true); err != nil {
		return err
	}
	touched := map[string]bool{}
	for _, h := range heads {
		moved := h.Currency != s.ReportingCurrency
		if !moved {
			var used []fxDoc
			if err := json.Unmarshal(h.Rates, &used); err != nil {
				return err
			}
			for _, u := range used {
				if rate[[2]string{u.From, u.To}] != u.Rate {
					moved = true
					break
				}
			}
		}
		// Settings changed back to what an estimate used make it CURRENT
		// again (unless something else moved).
		res, err := tx.ExecContext(ctx, d.q(`UPDATE estimate_heads SET settings_moved = ? WHERE incident_id = ? AND settings_moved <> ?`),
			moved, h.IncidentID, moved)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			touched[h.IncidentID] = true
		}
	}
	if err := d.settleHeads(ctx, tx, touched, g); err != nil {
		return err
	}
	return d.recordChanged(ctx, tx, map[string]bool{impact.SettingsName: true}, g)
}
