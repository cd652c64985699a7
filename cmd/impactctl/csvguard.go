package main

import (
	"regexp"
	"strings"
)

// CSV formula guard. A spreadsheet opening an exported file runs a cell
// that starts with =, +, -, @, a tab or a carriage return as a formula
// (CSV injection: a display name "=HYPERLINK(…)" typed into the API would
// run on the operator's machine). export writes such a cell with a
// leading apostrophe, which spreadsheets show as text and drop; import
// removes it again, so export → import → export gives the same bytes. A
// cell already starting with an apostrophe gets one too, so the guard is
// undone exactly. Plain decimal numbers ("-12.50") are left as they are:
// they are no formula, and a spreadsheet should see a number.

var plainNumber = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

func needsGuard(s string) bool {
	if s == "" || plainNumber.MatchString(s) {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return true
	}
	return false
}

// guardCell is s as export writes it.
func guardCell(s string) string {
	if needsGuard(s) {
		return "'" + s
	}
	return s
}

// unguardCell is a cell as import reads it: the guard's apostrophe
// removed.
func unguardCell(s string) string {
	if rest, ok := strings.CutPrefix(s, "'"); ok && needsGuard(rest) {
		return rest
	}
	return s
}

// guardRecord guards every cell of rec, in place.
func guardRecord(rec []string) []string {
	for i := range rec {
		rec[i] = guardCell(rec[i])
	}
	return rec
}
