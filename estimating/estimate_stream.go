package estimating

import (
	"bytes"
	"errors"
	"fmt"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/impact-svc/impact/impact"
)

// streamPage reads one page of customers in the stored order (by customer
// id, as the engine sorts them) from an undecoded estimate document: only
// customers [lo, hi) and the totals are decoded; the others are counted.
// It is the cold path of the default order, which so never decodes the
// whole document.
//
// It relies on the store's encoding of impact.IncidentEstimate (json.Marshal:
// members IncidentID, Customers, Totals, ReportingTotals in that order,
// every customer an object starting with its CustomerID member, no
// whitespace). In that encoding the byte sequences `{"CustomerID":` and
// `],"Totals":` occur only as structure: inside a JSON string every quote
// is escaped. Anything else is an error and the caller decodes the whole
// document instead.
func streamPage(meta *impact.StoredEstimate, body []byte, lo, hi int) (*decodedEstimate, int, error) {
	page := &decodedEstimate{meta: meta, orders: map[string][]int32{}}
	var region, tail []byte
	if at := bytes.Index(body, []byte(`"Customers":[`)); at >= 0 {
		arr := body[at+len(`"Customers":[`):]
		end := bytes.LastIndex(arr, []byte(`],"Totals":`))
		if end < 0 {
			return nil, 0, errors.New("no Totals after Customers")
		}
		region, tail = arr[:end], arr[end+1:]
	} else if at := bytes.Index(body, []byte(`"Customers":null`)); at >= 0 {
		tail = body[at+len(`"Customers":null`):]
	} else {
		return nil, 0, errors.New("no Customers member")
	}

	marker := []byte(`{"CustomerID":`)
	total := bytes.Count(region, marker)
	from, to := -1, len(region)
	for i, pos := 0, 0; i <= hi && i < total; i++ {
		j := bytes.Index(region[pos:], marker)
		if j < 0 {
			return nil, 0, errors.New("customers miscounted")
		}
		p := pos + j
		if i == lo {
			from = p
		}
		if i == hi {
			to = p - 1 // the comma before it
		}
		pos = p + len(marker)
	}
	if from >= 0 {
		arr := make([]byte, 0, to-from+2)
		arr = append(append(append(arr, '['), region[from:to]...), ']')
		if err := jsonv2.Unmarshal(arr, &page.customers, jsonv2.RejectUnknownMembers(false)); err != nil {
			return nil, 0, fmt.Errorf("customers %d to %d: %w", lo, hi, err)
		}
	}

	// The rest is `,"Totals":…}`: small, decoded as an object.
	var head leanHead
	if len(tail) > 0 && tail[0] == ',' {
		obj := append([]byte{'{'}, tail[1:]...)
		if err := jsonv2.Unmarshal(obj, &head, jsonv2.RejectUnknownMembers(false)); err != nil {
			return nil, 0, fmt.Errorf("totals: %w", err)
		}
	}
	head.set(meta)
	return page, total, nil
}
