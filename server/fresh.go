package server

import (
	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Fresh stored figures (README "Fresh figures"): every computation of a
// stored estimate records what it read (impact.EstimateDeps), so that the
// store can mark it STALE when a write moves one of those inputs, and the
// reporting options it used, from the request or from the stored
// reportingSettings. The application (estimating) records them; this maps
// them.

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
