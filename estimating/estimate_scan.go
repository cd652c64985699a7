package estimating

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
)

// scanCustomers decodes the customers of a stored estimate document in one
// pass over its bytes, without reflection: the cold path of every order
// but the stored one, where the whole document must be read to sort it.
// Every figure and id is a substring of the document (no allocation per
// member), which scanCustomers takes over: body must not be modified
// afterwards (the store returns a fresh copy of each document; copying
// 40 MB again was a fifth of the cold page). A string with an escape is
// decoded by itself with go-json-experiment/json. The customers equal
// decodeDocument's with go-json-experiment/json (a test compares them on
// generated documents), so every figure and every order is the same.
//
// It relies on the store's encoding of a customer (json.Marshal of the
// store's document types: members in the order they are declared, decimals
// as quoted strings, nil lists and pointers as null, no whitespace; see
// store/estimate_doc.go) and accepts nothing else: anything unexpected is
// an error, and the caller decodes the document with the reflective
// decoder instead. It returns the customers and the rest of the document
// after them (`,"Totals":…}`).
func scanCustomers(body []byte) ([]LeanCustomer, []byte, error) {
	if !utf8.Valid(body) {
		return nil, nil, errors.New("not UTF-8")
	}
	if len(body) == 0 {
		return nil, nil, errors.New("empty document")
	}
	p := &docScanner{s: unsafe.String(&body[0], len(body))}
	if !p.lit(`{"IncidentID":`) {
		return nil, nil, p.fail("IncidentID")
	}
	if _, ok := p.str(); !ok || !p.lit(`,"Customers":`) {
		return nil, nil, p.fail("Customers")
	}
	var cs []LeanCustomer
	switch {
	case p.lit(`null`):
	case p.lit(`[]`):
		cs = []LeanCustomer{}
	case p.lit(`[`):
		// Customers are about 400 bytes each: one allocation in the
		// common case.
		cs = make([]LeanCustomer, 0, len(p.s)/300+1)
		for {
			cs = append(cs, LeanCustomer{})
			if !p.customer(&cs[len(cs)-1]) {
				return nil, nil, p.fail(fmt.Sprintf("customer %d", len(cs)-1))
			}
			if p.lit(`]`) {
				break
			}
			if !p.lit(`,`) {
				return nil, nil, p.fail("customers")
			}
		}
	default:
		return nil, nil, p.fail("Customers")
	}
	if !strings.HasPrefix(p.s[p.i:], `,"Totals":`) {
		return nil, nil, p.fail("Totals")
	}
	return cs, body[p.i:], nil
}

// docScanner is a cursor over a document's text.
type docScanner struct {
	s string
	i int
	// The last instant parsed: credits mostly share their periods.
	lastInstant string
	lastTime    time.Time
	// Slabs the customers' recovery costs and credits are taken from.
	moneys  []LeanMoney
	credits []LeanCredit
}

func (p *docScanner) fail(what string) error {
	return fmt.Errorf("unexpected encoding of %s at byte %d", what, p.i)
}

// lit consumes l if the text goes on with it.
func (p *docScanner) lit(l string) bool {
	if strings.HasPrefix(p.s[p.i:], l) {
		p.i += len(l)
		return true
	}
	return false
}

// str consumes a JSON string and returns its value: a substring of the
// text without escapes, else decoded by go-json-experiment/json.
func (p *docScanner) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	start := p.i
	for j := start + 1; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			p.i = j + 1
			return p.s[start+1 : j], true
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", false
		}
	}
	return "", false
}

// escaped consumes the string starting at start, which has an escape.
func (p *docScanner) escaped(start int) (string, bool) {
	for j := start + 1; j < len(p.s); j++ {
		switch p.s[j] {
		case '\\':
			j++ // the escaped byte is never the closing quote
		case '"':
			var v string
			if err := jsonv2.Unmarshal([]byte(p.s[start:j+1]), &v); err != nil {
				return "", false
			}
			p.i = j + 1
			return v, true
		}
	}
	return "", false
}

func (p *docScanner) money(m *LeanMoney) bool {
	var ok1, ok2 bool
	if !p.lit(`{"Currency":`) {
		return false
	}
	m.Currency, ok1 = p.str()
	if !ok1 || !p.lit(`,"Amount":`) {
		return false
	}
	m.Amount, ok2 = p.str()
	return ok2 && p.lit(`}`)
}

func (p *docScanner) credit(c *LeanCredit) bool {
	var ok bool
	if !p.lit(`{"Service":`) {
		return false
	}
	if c.Service, ok = p.str(); !ok || !p.lit(`,"PeriodStart":`) {
		return false
	}
	// An instant as time.Time encodes it; only UTC ones are read here
	// (the store writes UTC), others go to the reflective decoder.
	ts, ok := p.str()
	if !ok || !strings.HasSuffix(ts, "Z") {
		return false
	}
	if ts != p.lastInstant {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return false
		}
		p.lastInstant, p.lastTime = ts, t
	}
	c.PeriodStart = p.lastTime
	return p.lit(`,"Credit":`) && p.money(&c.Credit) && p.lit(`}`)
}

func (p *docScanner) customer(c *LeanCustomer) bool {
	var ok bool
	if !p.lit(`{"CustomerID":`) {
		return false
	}
	if c.CustomerID, ok = p.str(); !ok || !p.lit(`,"ImpactSeconds":`) {
		return false
	}
	if c.ImpactSeconds, ok = p.str(); !ok {
		return false
	}
	if !p.lit(`,"LostRevenue":{"Gross":`) || !p.money(&c.LostRevenue.Gross) ||
		!p.lit(`,"Net":`) || !p.money(&c.LostRevenue.Net) ||
		!p.lit(`,"Recaptured":`) || !p.money(&c.LostRevenue.Recaptured) || !p.lit(`},"RecoveryCost":`) {
		return false
	}
	if !p.lit(`null`) {
		if len(p.moneys) == cap(p.moneys) {
			p.moneys = make([]LeanMoney, 0, 1024)
		}
		p.moneys = p.moneys[:len(p.moneys)+1]
		c.RecoveryCost = &p.moneys[len(p.moneys)-1]
		if !p.money(c.RecoveryCost) {
			return false
		}
	}
	if !p.lit(`,"SLACredits":`) {
		return false
	}
	switch {
	case p.lit(`null`):
	case p.lit(`[]`):
		c.SLACredits = []LeanCredit{}
	case p.lit(`[`):
		// The credits are appended to a slab shared by the customers,
		// each customer's a full slice of it (an append to it copies).
		if cap(p.credits)-len(p.credits) < 8 {
			p.credits = make([]LeanCredit, 0, 1024)
		}
		from := len(p.credits)
		for {
			p.credits = append(p.credits, LeanCredit{})
			if !p.credit(&p.credits[len(p.credits)-1]) {
				return false
			}
			if p.lit(`]`) {
				break
			}
			if !p.lit(`,`) {
				return false
			}
		}
		c.SLACredits = p.credits[from:len(p.credits):len(p.credits)]
	default:
		return false
	}
	return p.lit(`,"ChurnExposure":`) && p.money(&c.ChurnExposure) && p.lit(`}`)
}
