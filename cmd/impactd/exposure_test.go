package main

import (
	"net/http"
	"strings"
	"testing"
)

// Exposure through the real wiring and the gateway: labels are set with a
// PATCH (update mask "labels"), checked, and select what :simulate prices;
// :headroom answers for the current period.
func TestExposureOverHTTP(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		must(t, "POST", d.url("/v1/customers?customerId=acme"), `{"currencyCode":"USD","baseline":{"hourlyAmount":"360"},"labels":{"region":"eu-west-1"}}`)
		must(t, "POST", d.url("/v1/customers/acme/contracts"), `{"service":"api","monthlyFee":"730.00","tiers":[{"uptimeBelow":"99.5","creditPercent":"10"}]}`)
		must(t, "POST", d.url("/v1/customers/acme/contracts"), `{"service":"db","monthlyFee":"100.00","tiers":[{"uptimeBelow":"99.5","creditPercent":"10"}]}`)
		// The db contract leaves the region.
		k := must(t, "PATCH", d.url("/v1/customers/acme/contracts/db?updateMask=labels"), `{"labels":{"region":"us-east-1"}}`)
		if dig(t, k, "labels", "region") != "us-east-1" {
			t.Fatalf("PATCH labels: %v", k)
		}
		code, v := call(t, "PATCH", d.url("/v1/customers/acme?updateMask=labels"), `{"labels":{"Region":"x"}}`)
		wantError(t, "bad label key", code, v, http.StatusBadRequest, 3)
		if !strings.Contains(v["message"].(string), `customer.labels["Region"]`) {
			t.Errorf("violation: %v", v)
		}

		// 2025-06 has 2,592,000 s; 99.5 % needs more than 12,960 s down:
		// 12,961 s.
		h := must(t, "GET", d.url("/v1/customers/acme/contracts/api:headroom?period=2025-06"), "")
		if dig(t, h, "tiers", 0, "additionalDowntimeSeconds") != "12961" || dig(t, h, "tiers", 0, "creditAmount", "amount") != "73.00" {
			t.Errorf("headroom: %v", h)
		}
		must(t, "GET", d.url("/v1/customers/acme/contracts/api:headroom"), "") // the current period
		list := must(t, "GET", d.url("/v1/exposure/headroom?selector.labels[region]=eu-west-1&period=2025-06"), "")
		if n := len(dig(t, list, "headroom").([]any)); n != 1 {
			t.Errorf("headroom list: %v", list)
		}

		// One hour of api only (db is in us-east-1): 360 lost; 3,600 s is
		// below 12,961, so no credit yet.
		r := must(t, "POST", d.url("/v1/exposure:simulate"),
			`{"selector":{"labels":{"region":"eu-west-1"}},"startTime":"2025-06-10T00:00:00Z","durations":["3600s","14400s"]}`)
		if dig(t, r, "results", 0, "selectedContracts") != "1" || dig(t, r, "results", 0, "totals", 0, "lostRevenueGross") != "360.00" ||
			dig(t, r, "results", 0, "totals", 0, "marginalCredit") != "0.00" {
			t.Errorf("simulate 1h: %v", r)
		}
		// Four hours: 14,400 s > 12,961 → 10 % of 730.00 = 73.00.
		if dig(t, r, "results", 1, "top", 0, "marginalCredits", 0, "marginal", "amount") != "73.00" {
			t.Errorf("simulate 4h: %v", r)
		}
		// The stored reporting settings report the simulation when the
		// request names no currency: 360.00 USD at 0.9 is EUR 324.00; without
		// a rate for USD they cannot, which is the settings' fault.
		must(t, "PATCH", d.url("/v1/reportingSettings"), `{"reportingCurrency":"EUR","fxRates":[{"fromCurrency":"USD","toCurrency":"EUR","rate":"0.9"}]}`)
		r = must(t, "POST", d.url("/v1/exposure:simulate"),
			`{"selector":{"labels":{"region":"eu-west-1"}},"startTime":"2025-06-10T00:00:00Z","durations":["3600s"]}`)
		if dig(t, r, "results", 0, "reportingTotals", "currencyCode") != "EUR" || dig(t, r, "results", 0, "reportingTotals", "lostRevenueGross") != "324.00" {
			t.Errorf("simulate with the stored settings: %v", r)
		}
		must(t, "PATCH", d.url("/v1/reportingSettings"), `{"reportingCurrency":"JPY","fxRates":[]}`)
		code, v = call(t, "POST", d.url("/v1/exposure:simulate"),
			`{"selector":{"labels":{"region":"eu-west-1"}},"startTime":"2025-06-10T00:00:00Z","durations":["3600s"]}`)
		wantError(t, "settings without the rate", code, v, http.StatusBadRequest, 9)
		code, v = call(t, "POST", d.url("/v1/exposure:simulate"), `{"startTime":"2025-06-10T00:00:00Z","durations":["-5s"]}`)
		wantError(t, "negative duration", code, v, http.StatusBadRequest, 3)
	})
}
