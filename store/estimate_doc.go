package store

import (
	"encoding/json"
	"time"

	"github.com/shopspring/decimal"

	"github.com/impact-svc/impact/impact"
)

// The stored estimate and statement bodies. Their field names are the
// database's format, not the engine's: every stored revision is read back
// through them, so they are spelled out here (as the first builds stored
// them, the Go field names of the engine's result types then) and mapped
// to and from the impact types field by field. Renaming a field of an
// impact type changes only the mapping; renaming a tag here is a change
// of format that needs a migration of stored bodies, and the golden files
// under testdata fail until one is written. Decimals and instants keep
// their JSON spelling (decimal.Decimal and time.Time), nil lists stay null.

type moneyDoc struct {
	Currency string          `json:"Currency"`
	Amount   decimal.Decimal `json:"Amount"`
}

type lostRevenueDoc struct {
	Gross      moneyDoc `json:"Gross"`
	Net        moneyDoc `json:"Net"`
	Recaptured moneyDoc `json:"Recaptured"`
}

type attributedCreditDoc struct {
	Service     string    `json:"Service"`
	PeriodStart time.Time `json:"PeriodStart"`
	Credit      moneyDoc  `json:"Credit"`
}

type customerEstimateDoc struct {
	CustomerID    string                `json:"CustomerID"`
	ImpactSeconds decimal.Decimal       `json:"ImpactSeconds"`
	LostRevenue   lostRevenueDoc        `json:"LostRevenue"`
	RecoveryCost  *moneyDoc             `json:"RecoveryCost"`
	SLACredits    []attributedCreditDoc `json:"SLACredits"`
	ChurnExposure moneyDoc              `json:"ChurnExposure"`
}

type currencyTotalsDoc struct {
	Currency         string          `json:"Currency"`
	LostRevenueGross decimal.Decimal `json:"LostRevenueGross"`
	LostRevenueNet   decimal.Decimal `json:"LostRevenueNet"`
	RecoveryCost     decimal.Decimal `json:"RecoveryCost"`
	SLACredits       decimal.Decimal `json:"SLACredits"`
	ChurnExposure    decimal.Decimal `json:"ChurnExposure"`
}

// estimateDoc is the body of an incident_estimates row.
type estimateDoc struct {
	IncidentID      string                `json:"IncidentID"`
	Customers       []customerEstimateDoc `json:"Customers"`
	Totals          []currencyTotalsDoc   `json:"Totals"`
	ReportingTotals *currencyTotalsDoc    `json:"ReportingTotals"`
}

type incidentShareDoc struct {
	IncidentID      string          `json:"IncidentID"`
	DowntimeSeconds decimal.Decimal `json:"DowntimeSeconds"`
	Credit          moneyDoc        `json:"Credit"`
}

// statementDoc is the body of an sla_statements row.
type statementDoc struct {
	CustomerID      string             `json:"CustomerID"`
	Service         string             `json:"Service"`
	PeriodStart     time.Time          `json:"PeriodStart"`
	PeriodEnd       time.Time          `json:"PeriodEnd"`
	PeriodSeconds   int64              `json:"PeriodSeconds"`
	DowntimeSeconds decimal.Decimal    `json:"DowntimeSeconds"`
	UptimePercent   decimal.Decimal    `json:"UptimePercent"`
	CreditPercent   decimal.Decimal    `json:"CreditPercent"`
	Fee             moneyDoc           `json:"Fee"`
	ComputedCredit  moneyDoc           `json:"ComputedCredit"`
	CreditAmount    moneyDoc           `json:"CreditAmount"`
	BelowMinimum    bool               `json:"BelowMinimum"`
	Incidents       []incidentShareDoc `json:"Incidents"`
}

// mapList maps a list element by element, keeping nil nil (stored as null)
// and empty empty (stored as []).
func mapList[A, B any](in []A, f func(*A) B) []B {
	if in == nil {
		return nil
	}
	out := make([]B, len(in))
	for i := range in {
		out[i] = f(&in[i])
	}
	return out
}

func toMoneyDoc(m *impact.Money) moneyDoc { return moneyDoc{Currency: m.Currency, Amount: m.Amount} }

func (d *moneyDoc) toDomain() impact.Money {
	return impact.Money{Currency: d.Currency, Amount: d.Amount}
}

func toTotalsDoc(t *impact.CurrencyTotals) currencyTotalsDoc {
	return currencyTotalsDoc{Currency: t.Currency, LostRevenueGross: t.LostRevenueGross, LostRevenueNet: t.LostRevenueNet,
		RecoveryCost: t.RecoveryCost, SLACredits: t.SLACredits, ChurnExposure: t.ChurnExposure}
}

func (d *currencyTotalsDoc) toDomain() impact.CurrencyTotals {
	return impact.CurrencyTotals{Currency: d.Currency, LostRevenueGross: d.LostRevenueGross, LostRevenueNet: d.LostRevenueNet,
		RecoveryCost: d.RecoveryCost, SLACredits: d.SLACredits, ChurnExposure: d.ChurnExposure}
}

func toEstimateDoc(e *impact.IncidentEstimate) *estimateDoc {
	d := &estimateDoc{IncidentID: e.IncidentID, Totals: mapList(e.Totals, toTotalsDoc)}
	d.Customers = mapList(e.Customers, func(c *impact.CustomerEstimate) customerEstimateDoc {
		cd := customerEstimateDoc{CustomerID: c.CustomerID, ImpactSeconds: c.ImpactSeconds,
			LostRevenue: lostRevenueDoc{Gross: toMoneyDoc(&c.LostRevenue.Gross), Net: toMoneyDoc(&c.LostRevenue.Net),
				Recaptured: toMoneyDoc(&c.LostRevenue.Recaptured)},
			ChurnExposure: toMoneyDoc(&c.ChurnExposure)}
		if c.RecoveryCost != nil {
			m := toMoneyDoc(c.RecoveryCost)
			cd.RecoveryCost = &m
		}
		cd.SLACredits = mapList(c.SLACredits, func(a *impact.AttributedCredit) attributedCreditDoc {
			return attributedCreditDoc{Service: a.Service, PeriodStart: a.PeriodStart, Credit: toMoneyDoc(&a.Credit)}
		})
		return cd
	})
	if e.ReportingTotals != nil {
		t := toTotalsDoc(e.ReportingTotals)
		d.ReportingTotals = &t
	}
	return d
}

func (d *estimateDoc) toDomain() impact.IncidentEstimate {
	e := impact.IncidentEstimate{IncidentID: d.IncidentID,
		Totals: mapList(d.Totals, (*currencyTotalsDoc).toDomain)}
	e.Customers = mapList(d.Customers, func(c *customerEstimateDoc) impact.CustomerEstimate {
		ce := impact.CustomerEstimate{CustomerID: c.CustomerID, ImpactSeconds: c.ImpactSeconds,
			LostRevenue: impact.LostRevenue{Gross: c.LostRevenue.Gross.toDomain(), Net: c.LostRevenue.Net.toDomain(),
				Recaptured: c.LostRevenue.Recaptured.toDomain()},
			ChurnExposure: c.ChurnExposure.toDomain()}
		if c.RecoveryCost != nil {
			m := c.RecoveryCost.toDomain()
			ce.RecoveryCost = &m
		}
		ce.SLACredits = mapList(c.SLACredits, func(a *attributedCreditDoc) impact.AttributedCredit {
			return impact.AttributedCredit{Service: a.Service, PeriodStart: a.PeriodStart, Credit: a.Credit.toDomain()}
		})
		return ce
	})
	if d.ReportingTotals != nil {
		t := d.ReportingTotals.toDomain()
		e.ReportingTotals = &t
	}
	return e
}

func toStatementDoc(s *impact.SLAStatement) *statementDoc {
	return &statementDoc{CustomerID: s.CustomerID, Service: s.Service, PeriodStart: s.PeriodStart, PeriodEnd: s.PeriodEnd,
		PeriodSeconds: s.PeriodSeconds, DowntimeSeconds: s.DowntimeSeconds, UptimePercent: s.UptimePercent,
		CreditPercent: s.CreditPercent, Fee: toMoneyDoc(&s.Fee), ComputedCredit: toMoneyDoc(&s.ComputedCredit),
		CreditAmount: toMoneyDoc(&s.CreditAmount), BelowMinimum: s.BelowMinimum,
		Incidents: mapList(s.Incidents, func(x *impact.IncidentShare) incidentShareDoc {
			return incidentShareDoc{IncidentID: x.IncidentID, DowntimeSeconds: x.DowntimeSeconds, Credit: toMoneyDoc(&x.Credit)}
		})}
}

func (d *statementDoc) toDomain() impact.SLAStatement {
	return impact.SLAStatement{CustomerID: d.CustomerID, Service: d.Service, PeriodStart: d.PeriodStart, PeriodEnd: d.PeriodEnd,
		PeriodSeconds: d.PeriodSeconds, DowntimeSeconds: d.DowntimeSeconds, UptimePercent: d.UptimePercent,
		CreditPercent: d.CreditPercent, Fee: d.Fee.toDomain(), ComputedCredit: d.ComputedCredit.toDomain(),
		CreditAmount: d.CreditAmount.toDomain(), BelowMinimum: d.BelowMinimum,
		Incidents: mapList(d.Incidents, func(x *incidentShareDoc) impact.IncidentShare {
			return impact.IncidentShare{IncidentID: x.IncidentID, DowntimeSeconds: x.DowntimeSeconds, Credit: x.Credit.toDomain()}
		})}
}

func encodeEstimateBody(e *impact.IncidentEstimate) ([]byte, error) {
	return json.Marshal(toEstimateDoc(e))
}

func decodeEstimateBody(b []byte) (impact.IncidentEstimate, error) {
	var d estimateDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return impact.IncidentEstimate{}, err
	}
	return d.toDomain(), nil
}

func encodeStatementBody(s *impact.SLAStatement) ([]byte, error) {
	return json.Marshal(toStatementDoc(s))
}

func decodeStatementBody(b []byte) (impact.SLAStatement, error) {
	var d statementDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return impact.SLAStatement{}, err
	}
	return d.toDomain(), nil
}
