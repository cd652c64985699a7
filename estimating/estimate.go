package estimating

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/impact-svc/impact/impact"
)

// The values of Options.Observe's call.
const (
	CallIncident  = "incident"  // one incident's stored estimate (:estimate, refresh, recompute)
	CallStatement = "statement" // an SLA statement or an impact statement
)

// Options configure a Service. Zero values take the defaults.
type Options struct {
	Limits impact.Limits    // default StoredLimits()
	Now    func() time.Time // the clock of compute times; default time.Now
	// Observe, when set, is told how long each run of the engine took,
	// failed or not, by call (CallIncident, CallStatement).
	Observe func(call string, took time.Duration)
	Logger  *slog.Logger // default: discard
}

// StoredLimits bound one estimate of stored data. They are those of the
// stateless API except for the counts that grow with the stored history an
// incident's billing periods pull in (customers of a wide incident, other
// incidents and windows in the same periods).
func StoredLimits() impact.Limits {
	l := impact.DefaultLimits()
	l.MaxCustomers *= 10
	l.MaxIncidents *= 10
	l.MaxWindows *= 10
	l.MaxWindowHours *= 10
	l.MaxCost *= 10
	return l
}

// Service computes and stores the figures of stored data: incidents'
// estimates and SLA statements.
type Service struct {
	store impact.Store
	o     Options
	cache estimateCache // EstimateCustomers
}

// New returns the service over st.
func New(st impact.Store, o Options) *Service {
	if o.Limits == (impact.Limits{}) {
		o.Limits = StoredLimits()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, o: o}
}

// Limits are the service's limits of one computation.
func (s *Service) Limits() impact.Limits { return s.o.Limits }

// Run runs the engine on sc, telling Options.Observe how long it took under
// call.
func (s *Service) Run(ctx context.Context, call string, sc *impact.Scenario) (*impact.Estimate, error) {
	start := time.Now()
	if s.o.Observe != nil {
		defer func() { s.o.Observe(call, time.Since(start)) }()
	}
	return impact.EstimateScenarioContext(ctx, sc, s.o.Limits)
}

// Reporting is the reporting options of an estimate: the currency and the
// rates into it. Zero means the stored reporting settings.
type Reporting struct {
	Currency string
	FXRates  []impact.FXRate
}

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

// options are the options of r: r's own when it names any (they win for
// this revision), else the stored reporting settings.
func (s *Service) options(ctx context.Context, r Reporting) (reporting, error) {
	if r.Currency != "" || len(r.FXRates) > 0 {
		return reporting{currency: r.Currency, fx: r.FXRates}, nil
	}
	st, err := StoredSettings(ctx, s.store)
	if err != nil {
		return reporting{}, err
	}
	return settingsOptions(st), nil
}

// Estimate computes the estimate of incident id from the data stored now,
// with the reporting options r, and stores it as the incident's next
// revision with its statements: the whole of a stored :estimate. It
// returns the revision stored and the statements stored with it.
// ENOTFOUND if the incident does not exist; stored data that cannot be
// estimated is FAILED_PRECONDITION (EstimateError).
func (s *Service) Estimate(ctx context.Context, id string, r Reporting) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	e, sts, err := s.Compute(ctx, id, r)
	if err != nil {
		return nil, nil, err
	}
	saved, err := s.store.SaveEstimate(ctx, e, sts)
	if err != nil {
		return nil, nil, err
	}
	return saved, sts, nil
}

// Compute is what Estimate would store for incident id now, storing
// nothing: the figures, the inputs digest and what it read.
func (s *Service) Compute(ctx context.Context, id string, r Reporting) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	// The change sequence before any input is read (README "Fresh figures").
	seq, err := ReadSeq(ctx, s.store)
	if err != nil {
		return nil, nil, err
	}
	b, err := loadBatch(ctx, s.store, []string{id})
	if err != nil {
		return nil, nil, err
	}
	opt, err := s.options(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	e, sts, err := s.estimate(ctx, b, id, opt, seq, s.o.Now())
	if err != nil {
		return nil, nil, err
	}
	e.IncidentID = id
	return e, sts, nil
}

// Assemble is the scenario of incident id's stored estimate as assembled
// from the data stored now, without reporting options. ENOTFOUND if the
// incident does not exist.
func (s *Service) Assemble(ctx context.Context, id string) (*Assembly, error) {
	b, err := loadBatch(ctx, s.store, []string{id})
	if err != nil {
		return nil, err
	}
	a, ok := b.assemble(id)
	if !ok {
		return nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
	}
	return a, nil
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

// estimate computes the estimate of incident id of batch b with the
// options opt, and the statements to store with it, recording the
// dependencies (with readSeq, the change sequence read before the batch
// was loaded) computed at now. ENOTFOUND if the incident does not exist; the engine's
// verdict as EstimateError sorts it. Settings that cannot report the
// figures (a missing rate) are FAILED_PRECONDITION naming
// reportingSettings: the stored data is at fault, not the request.
func (s *Service) estimate(ctx context.Context, b *batch, id string, opt reporting, readSeq int64, now time.Time) (*impact.StoredEstimate, []impact.StoredStatement, error) {
	a, ok := b.assemble(id)
	if !ok {
		return nil, nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.IncidentName(id))
	}
	sc, deps := a.Scenario, a.Deps
	fx := opt.fx
	if opt.fromSettings {
		fx = impact.NeededRates(opt.currency, opt.fx, scenarioCurrencies(sc, id))
	}
	sc.ReportingCurrency, sc.FXRates = opt.currency, fx
	est, err := s.Run(ctx, CallIncident, sc)
	if err != nil {
		err = EstimateError(sc, err)
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
	sts, err := impact.IncidentStatements(est.Statements, sc, id)
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

// storedField spells a violation of the assembled scenario sc with the
// stored resource it is about in place of its scenario entry:
// "customers/c1.contracts[0].tiers[1].uptime_below".
func storedField(sc *impact.Scenario, v impact.FieldViolation) string {
	if len(v.Path) == 0 {
		return v.Field
	}
	head, rest := v.Path[0], v.Path[1:]
	name := ""
	switch i := head.Index; {
	case head.Name == "customers" && i >= 0 && i < len(sc.Customers):
		name = impact.CustomerName(sc.Customers[i].ID)
	case head.Name == "incidents" && i >= 0 && i < len(sc.Incidents):
		name = impact.IncidentName(sc.Incidents[i].ID)
	default:
		return v.Field
	}
	if len(rest) == 0 {
		return name
	}
	return name + "." + rest.String()
}

// EstimateError sorts the engine's verdict on a scenario assembled from
// stored data: violations of the request's own fields (reporting currency,
// FX rates) are INVALID_ARGUMENT; any other means the stored data cannot be
// estimated together (a recovery item naming a customer without a window,
// say), which the caller must fix in the data: FAILED_PRECONDITION, naming
// the stored resources at fault.
func EstimateError(sc *impact.Scenario, err error) error {
	var e *impact.Error
	if !errors.As(err, &e) || e.Code != impact.EINVALID {
		return err
	}
	var req []impact.FieldViolation
	var data []string
	for _, v := range e.Violations {
		if strings.HasPrefix(v.Field, "reporting_currency") || strings.HasPrefix(v.Field, "fx_rates") {
			req = append(req, v)
			continue
		}
		if v.Field == "" { // about the whole scenario, e.g. its cost
			data = append(data, "the scenario "+v.Description)
			continue
		}
		data = append(data, storedField(sc, v)+": "+v.Description)
	}
	if len(data) == 0 {
		out := &impact.Error{Code: impact.EINVALID, Message: e.Message, Violations: req}
		if len(req) == len(e.Violations) {
			out.Reason = e.Reason // FX_RATE_MISSING
		}
		return out
	}
	if len(data) > 5 {
		data = append(data[:5], fmt.Sprintf("and %d more", len(data)-5))
	}
	return impact.Errorf(impact.EFAILEDPRECOND, "the stored data cannot be estimated: %s", strings.Join(data, "; ")).
		WithReason(impact.ReasonStoredDataInvalid)
}

// failureText is an estimate's failure as one line: the message and its
// field violations.
func failureText(e *impact.Error) string {
	s := e.Message
	for i, v := range e.Violations {
		if i == 5 {
			s += fmt.Sprintf("; and %d more", len(e.Violations)-5)
			break
		}
		s += "; " + v.Field + ": " + v.Description
	}
	return s
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

// ReadSeq is the change sequence to record with an estimate about to be
// computed: read before any of its inputs (0 without a freshness store).
func ReadSeq(ctx context.Context, st any) (int64, error) {
	if f := freshStore(st); f != nil {
		return f.ChangeSeq(ctx)
	}
	return 0, nil
}

// StoredSettings returns the stored reporting settings (nil without a
// settings store).
func StoredSettings(ctx context.Context, st any) (*impact.ReportingSettings, error) {
	if s := settingsStore(st); s != nil {
		return s.GetReportingSettings(ctx)
	}
	return nil, nil
}
