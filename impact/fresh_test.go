package impact_test

import (
	"testing"
	"time"

	"github.com/impact-svc/impact/impact"
)

func TestNeededRates(t *testing.T) {
	fx := []impact.FXRate{{From: "EUR", To: "USD", Rate: "1.1"}, {From: "NOK", To: "USD", Rate: "0.09"},
		{From: "USD", To: "EUR", Rate: "0.9"}, {From: "GBP", To: "USD", Rate: "1.3"}}
	for _, tc := range []struct {
		name       string
		reporting  string
		currencies []string
		want       []impact.FXRate
	}{
		{"none without a reporting currency", "", []string{"EUR"}, nil},
		// EUR and USD figures in USD: EUR→USD only; NOK and GBP are stored and ignored.
		{"the figures' currencies only", "USD", []string{"EUR", "USD"}, fx[:1]},
		{"into the reporting currency only", "EUR", []string{"USD"}, fx[2:3]},
		{"none needed", "USD", []string{"USD"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := map[string]bool{}
			for _, c := range tc.currencies {
				cs[c] = true
			}
			if got := impact.NeededRates(tc.reporting, fx, cs); !impact.SameRates(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if impact.SameRates(fx[:2], fx[1:3]) || !impact.SameRates(fx[:2], []impact.FXRate{fx[1], fx[0]}) {
		t.Error("SameRates compares sets")
	}
}

func TestQuietStatement(t *testing.T) {
	c := impact.Customer{ID: "c", Currency: "USD", Baseline: impact.Baseline{HourlyAmount: "1"}}
	at := time.Date(2025, 7, 14, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		k               impact.Contract
		ok              bool
		seconds, credit string
	}{
		// July: 31 × 86,400 = 2,678,400 s, nothing down, uptime 100: no tier.
		{"no tier holds at 100", impact.Contract{Service: "api", MonthlyFee: "1000.00",
			Tiers: []impact.CreditTier{{UptimeBelow: "99.9", CreditPercent: "10"}}}, true, "2678400", "0.00"},
		// ≤ 100 → 5 %: 5 % × 1000.00 = 50.00 without downtime.
		{"an inclusive tier at 100", impact.Contract{Service: "api", MonthlyFee: "1000.00",
			Tiers: []impact.CreditTier{{UptimeBelow: "100", CreditPercent: "5", Inclusive: true}}}, true, "2678400", "50.00"},
		// Deployed from 2025-07-31: one day of July.
		{"deployed part", impact.Contract{Service: "api", MonthlyFee: "1000.00", Denominator: impact.Deployed,
			ActiveFrom: time.Date(2025, 7, 31, 0, 0, 0, 0, time.UTC)}, true, "86400", "0.00"},
		{"no deployed part", impact.Contract{Service: "api", Denominator: impact.Deployed,
			ActiveFrom: time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)}, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, ok, err := impact.QuietStatement(c, tc.k, at, impact.DefaultLimits())
			if err != nil || ok != tc.ok {
				t.Fatalf("ok %v err %v, want ok %v", ok, err, tc.ok)
			}
			if !ok {
				return
			}
			if got := st.PeriodSeconds; got != mustInt(tc.seconds) || !st.DowntimeSeconds.IsZero() ||
				st.UptimePercent.String() != "100" || st.CreditAmount.Amount.StringFixed(2) != tc.credit || len(st.Incidents) != 0 {
				t.Errorf("got T %d D %s up %s credit %s incidents %d", st.PeriodSeconds, st.DowntimeSeconds, st.UptimePercent,
					st.CreditAmount.Amount.StringFixed(2), len(st.Incidents))
			}
			if !st.PeriodStart.Equal(time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("period start %v", st.PeriodStart)
			}
		})
	}
}

func mustInt(s string) int64 {
	var n int64
	for _, r := range s {
		n = 10*n + int64(r-'0')
	}
	return n
}
