package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/impact-svc/impact/impact"
)

// Keyset pagination. A page token holds the key of the last item returned
// and a hash of the List's scope (method, parent, filters); the next page is
// "WHERE key > last ORDER BY key LIMIT size+1", which an index answers in
// the same time on page 1 and on page 20,000 — OFFSET would scan every
// skipped row. Tokens are opaque to clients but not secret: a forged token
// only moves the starting key.

type pageToken struct {
	Key   []string `json:"k"`
	Scope string   `json:"s"`
}

type pager struct {
	size  int
	after []string // nil on the first page
	scope string
}

// parsePage checks p for a List whose scope is given (method name, parent
// and every filter value, in a fixed order).
func parsePage(p impact.PageRequest, keyLen int, scope ...string) (pager, error) {
	pg := pager{size: p.Size, scope: scopeHash(scope)}
	switch {
	case p.Size < 0:
		return pg, invalid("page_size", "must not be negative")
	case p.Size == 0:
		pg.size = impact.DefaultPageSize
	case p.Size > impact.MaxPageSize:
		pg.size = impact.MaxPageSize
	}
	if p.Token == "" {
		return pg, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Token)
	var t pageToken
	if err != nil || json.Unmarshal(b, &t) != nil || len(t.Key) != keyLen {
		return pg, invalid("page_token", "malformed page token")
	}
	if t.Scope != pg.scope {
		return pg, invalid("page_token", "page token was issued for a different parent or filter")
	}
	pg.after = t.Key
	return pg, nil
}

// token returns the token of the page after the one ending at key.
func (pg pager) token(key ...string) string {
	b, _ := json.Marshal(pageToken{Key: key, Scope: pg.scope})
	return base64.RawURLEncoding.EncodeToString(b)
}

func scopeHash(scope []string) string {
	h := sha256.New()
	for _, s := range scope {
		// Length-prefixed, so ("ab","c") and ("a","bc") differ.
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// trim cuts the one extra row a page query fetches to learn whether
// another page follows, and returns the next page token.
func trim[T any](pg pager, rows []T, key func(*T) []string) ([]T, string) {
	if len(rows) <= pg.size {
		return rows, ""
	}
	rows = rows[:pg.size]
	return rows, pg.token(key(&rows[len(rows)-1])...)
}

func itoa(i int) string { return strconv.Itoa(i) }
