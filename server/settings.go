package server

import (
	"context"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// SettingsService on Stored: the reporting settings singleton.

func settingsToProto(s *impact.ReportingSettings) *impactv1.ReportingSettings {
	p := &impactv1.ReportingSettings{Name: impact.SettingsName, ReportingCurrency: s.ReportingCurrency, Etag: s.Etag,
		UpdateTime: tsOrNil(s.UpdateTime)}
	for _, r := range s.FXRates {
		p.FxRates = append(p.FxRates, &impactv1.FxRate{FromCurrency: r.From, ToCurrency: r.To, Rate: r.Rate})
	}
	return p
}

func (s *Stored) settingsStore() (impact.SettingsStore, error) {
	st, _ := s.store.(impact.SettingsStore)
	if st == nil {
		return nil, impact.Errorf(impact.EFAILEDPRECOND, "this store keeps no reporting settings")
	}
	return st, nil
}

// GetReportingSettings returns "reportingSettings".
func (s *Stored) GetReportingSettings(ctx context.Context, req *impactv1.GetReportingSettingsRequest) (*impactv1.ReportingSettings, error) {
	if name := req.GetName(); name != "" && name != impact.SettingsName { // "" over HTTP: the singleton
		return nil, s.fail(ctx, invalidField("name", "must be %s, got %q", impact.SettingsName, req.GetName()))
	}
	st, err := s.settingsStore()
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := st.GetReportingSettings(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return settingsToProto(out), nil
}

// UpdateReportingSettings replaces the fields of the mask (over HTTP, those
// in the body; over gRPC without a mask, those set).
func (s *Stored) UpdateReportingSettings(ctx context.Context, req *impactv1.UpdateReportingSettingsRequest) (*impactv1.ReportingSettings, error) {
	p := req.GetSettings()
	if p == nil {
		return nil, s.fail(ctx, invalidField("settings", "is required"))
	}
	if p.GetName() != "" && p.GetName() != impact.SettingsName {
		return nil, s.fail(ctx, invalidField("settings.name", "must be %s, got %q", impact.SettingsName, p.GetName()))
	}
	mask, err := updateMask(req.GetUpdateMask(), p, "", "")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	in := &impact.ReportingSettings{ReportingCurrency: p.GetReportingCurrency()}
	for _, r := range p.GetFxRates() {
		in.FXRates = append(in.FXRates, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	st, err := s.settingsStore()
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out, err := st.UpdateReportingSettings(ctx, in, mask, p.GetEtag())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return settingsToProto(out), nil
}
