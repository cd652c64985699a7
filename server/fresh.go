package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Fresh stored figures (README "Fresh figures"): every computation of a
// stored estimate records what it read (impact.EstimateDeps), so that the
// store can mark it STALE when a write moves one of those inputs, and the
// reporting options it used, from the request or from the stored
// reportingSettings.

// reporting is the reporting options of one computation. With
// fromSettings, fx is every stored rate and the computation keeps the ones
// its figures need (impact.NeededRates).
type reporting struct {
	currency     string
	fx           []impact.FXRate
	fromSettings bool
}

// settingsOptions are the stored settings as options.
func settingsOptions(s *impact.ReportingSettings) reporting {
	if s == nil {
		return reporting{fromSettings: true}
	}
	return reporting{currency: s.ReportingCurrency, fx: s.FXRates, fromSettings: true}
}

// refreshOptions are the options of a refresh or recompute of an estimate
// whose latest revision reported in own (with ownFX): the stored settings,
// unless they name no reporting currency and the revision had its own from
// an :estimate call, which it then keeps (impact/doc.go, Decision).
func refreshOptions(s *impact.ReportingSettings, own string, ownFX []impact.FXRate, ownFromSettings bool) reporting {
	if (s != nil && s.ReportingCurrency != "") || own == "" || ownFromSettings {
		return settingsOptions(s)
	}
	return reporting{currency: own, fx: ownFX}
}

// closedWindows is closeRange returning the final range as well: the range
// of the customer's windows the estimate read, recorded as its dependency.
func closedWindows(r impact.CustomerRange, ws []impact.StoredWindow) (impact.CustomerRange, []impact.StoredWindow) {
	r = closedRange(r, ws)
	var out []impact.StoredWindow
	for i := range ws {
		if touches(&ws[i], r) {
			out = append(out, ws[i])
		}
	}
	return r, out
}

// scenarioDeps is scenario with what it read: the affected customers' final
// ranges and the other incidents whose windows it holds.
func (b *incidentBatch) scenarioDeps(id string) (*impact.Scenario, *impact.EstimateDeps, bool) {
	if _, ok := b.incidents[id]; !ok {
		return nil, nil, false
	}
	affected := b.affected[id]
	g := newIncidentWindows(id)
	sc := &impact.Scenario{Customers: make([]impact.Customer, len(affected))}
	deps := &impact.EstimateDeps{Customers: make([]impact.CustomerRange, len(affected))}
	for i := range affected {
		a := &affected[i]
		sc.Customers[i] = a.Customer
		r, ws := closedWindows(spanRange(a), b.windows[a.ID])
		deps.Customers[i] = r
		deps.Windows = append(deps.Windows, ws...)
		for _, w := range ws {
			g.add(&w)
		}
	}
	sc.Incidents = g.incidents(b.incidents)
	for _, other := range g.ids {
		if other != id {
			deps.Incidents = append(deps.Incidents, other)
		}
	}
	return sc, deps, true
}

// scenarioCurrencies is every currency an incident's figures can be in: its
// customers' and its recovery currency.
func scenarioCurrencies(sc *impact.Scenario, id string) map[string]bool {
	cs := map[string]bool{}
	for i := range sc.Customers {
		cs[sc.Customers[i].Currency] = true
	}
	for i := range sc.Incidents {
		if sc.Incidents[i].ID == id && sc.Incidents[i].RecoveryCurrency != "" {
			cs[sc.Incidents[i].RecoveryCurrency] = true
		}
	}
	return cs
}

// estimateWith is estimate with the options opt, recording the
// dependencies (with readSeq, the change sequence read before the batch
// was loaded). Settings that cannot report the figures (a missing rate) are
// FAILED_PRECONDITION naming reportingSettings: the stored data is at
// fault, not the request.
func (b *incidentBatch) estimateWith(ctx context.Context, id string, opt reporting, readSeq int64, limits impact.Limits, now time.Time) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	sc, deps, ok := b.scenarioDeps(id)
	if !ok {
		return nil, nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
	}
	fx := opt.fx
	if opt.fromSettings {
		fx = impact.NeededRates(opt.currency, opt.fx, scenarioCurrencies(sc, id))
	}
	sc.ReportingCurrency, sc.FXRates = opt.currency, fx
	est, err := timeEstimate(estimateIncident, func() (*impact.Estimate, error) { return impact.EstimateScenarioContext(ctx, sc, limits) })
	if err != nil {
		err = estimateError(sc, err)
		var e *impact.Error
		if opt.fromSettings && errors.As(err, &e) && e.Code == impact.EINVALID {
			var why []string
			for _, v := range e.Violations {
				why = append(why, v.Description)
			}
			err = impact.Errorf(impact.EFAILEDPRECOND, "%s cannot report %s: %s", impact.SettingsName,
				impact.IncidentName(id), strings.Join(why, "; "))
		}
		return nil, nil, err
	}
	e := &impact.StoredEstimate{ModelVersion: est.ModelVersion, InputsDigest: est.InputsDigest, ComputeTime: now,
		ReportingCurrency: opt.currency, FXRates: fx}
	for _, ie := range est.Incidents {
		if ie.IncidentID == id {
			e.IncidentEstimate = ie
		}
	}
	sts, err := incidentStatements(est.Statements, sc, id)
	if err != nil {
		return nil, nil, err
	}
	deps.ReadSeq = readSeq
	deps.UsesSettings = opt.fromSettings
	if opt.fromSettings {
		deps.SettingsCurrency, deps.SettingsRates = opt.currency, fx
	}
	e.Deps = deps
	return e, sts, nil
}

// freshStore and settingsStore are the store's freshness and settings
// sides, when it has them (nil otherwise: a store without them records no
// dependencies, and every estimate reads CURRENT).
func freshStore(st any) impact.FreshStore {
	f, _ := st.(impact.FreshStore)
	return f
}

func settingsStore(st any) impact.SettingsStore {
	s, _ := st.(impact.SettingsStore)
	return s
}

// readSeq is the change sequence to record with an estimate about to be
// computed: read before any of its inputs.
func readSeq(ctx context.Context, st any) (int64, error) {
	if f := freshStore(st); f != nil {
		return f.ChangeSeq(ctx)
	}
	return 0, nil
}

// storedSettings returns the stored reporting settings (nil without a
// settings store).
func storedSettings(ctx context.Context, st any) (*impact.ReportingSettings, error) {
	if s := settingsStore(st); s != nil {
		return s.GetReportingSettings(ctx)
	}
	return nil, nil
}

// freshToProto sets the freshness and reporting fields of a stored
// estimate.
func freshToProto(p *impactv1.IncidentEstimate, e *impact.StoredEstimate) {
	switch e.State {
	case impact.StateCurrent:
		p.State = impactv1.IncidentEstimate_CURRENT.Enum()
	case impact.StateStale:
		p.State = impactv1.IncidentEstimate_STALE.Enum()
		p.StaleReasons = e.StaleReasons
		if e.RefreshError != "" {
			p.RefreshError = &impactv1.RefreshError{Code: "FAILED_PRECONDITION", Message: e.RefreshError}
		}
	}
	p.ReportingCurrency = proto.String(e.ReportingCurrency)
	for _, r := range e.FXRates {
		p.FxRates = append(p.FxRates, &impactv1.FxRate{FromCurrency: r.From, ToCurrency: r.To, Rate: r.Rate})
	}
}

// DryEstimate computes what EstimateIncident without reporting options
// would store for incident id now, storing nothing: the figures, the
// inputs digest and what it read. ENOTFOUND if the incident does not exist.
func (s *Stored) DryEstimate(ctx context.Context, id string) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	seq, err := readSeq(ctx, s.store)
	if err != nil {
		return nil, nil, err
	}
	b, err := loadBatch(ctx, s.store, []string{id})
	if err != nil {
		return nil, nil, err
	}
	st, err := storedSettings(ctx, s.store)
	if err != nil {
		return nil, nil, err
	}
	e, sts, err := b.estimateWith(ctx, id, settingsOptions(st), seq, s.limits, s.now())
	if err != nil {
		return nil, nil, err
	}
	e.IncidentID = id
	return e, sts, nil
}
