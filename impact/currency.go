package impact

import (
	"strings"

	"github.com/shopspring/decimal"
)

// minorUnits is the ISO 4217 exponent of every active currency code (plus a
// few withdrawn in recent years that old contracts still name). Codes with no
// minor unit defined (XAU, XDR, XXX, …) are not money here and are rejected.
var minorUnits = func() map[string]int32 {
	m := map[string]int32{}
	add := func(exp int32, codes string) {
		for _, c := range strings.Fields(codes) {
			m[c] = exp
		}
	}
	add(0, "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
	add(3, "BHD IQD JOD KWD LYD OMR TND")
	add(4, "CLF UYW")
	add(2, `AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV
		BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK
		DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HRK
		HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD
		MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR
		NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE
		SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN
		UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL`)
	return m
}()

// MinorUnits returns the ISO 4217 exponent of a currency code (USD 2, JPY 0,
// KWD 3, CLF 4) and whether the code is known.
func MinorUnits(code string) (int32, bool) {
	e, ok := minorUnits[code]
	return e, ok
}

// String spells the amount with exactly the currency's minor-unit digits
// ("1234.57", JPY "123457", KWD "308.642").
func (m Money) String() string {
	return FormatAmount(m.Currency, m.Amount)
}

// FormatAmount spells an already rounded amount of currency with exactly its
// minor-unit digits.
func FormatAmount(currency string, amount decimal.Decimal) string {
	exp, _ := MinorUnits(currency)
	return FormatFixed(amount, exp)
}
