package impact

import (
	"fmt"
	"unicode/utf8"
)

// Ids and text (doc.go, "Ids and text"). Pure checks, used by the engine
// on every text field of a scenario and by the server on what it stores.

const (
	// MaxResourceIDLen is the longest id of a stored resource.
	MaxResourceIDLen = 63
	// MaxRequestIDLen is the longest request id.
	MaxRequestIDLen = 128
)

// CheckResourceID returns "" when id is a valid id for a new stored
// resource (customer, contract service, incident, outage window): 1–63
// characters of ASCII letters, digits and -._~, starting with a letter or
// a digit; else what is wrong with it.
func CheckResourceID(id string) string {
	switch {
	case id == "":
		return "is required"
	case len(id) > MaxResourceIDLen:
		return fmt.Sprintf("must be at most %d characters", MaxResourceIDLen)
	case !isAlnum(id[0]):
		return "must start with a letter or a digit"
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !isAlnum(b) && b != '-' && b != '.' && b != '_' && b != '~' {
			return "must contain only letters, digits and - . _ ~"
		}
	}
	return ""
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// CheckRequestID returns "" when id is empty (none) or at most 128
// printable ASCII characters without spaces (0x21–0x7e); else what is
// wrong with it.
func CheckRequestID(id string) string {
	if len(id) > MaxRequestIDLen {
		return fmt.Sprintf("must be at most %d characters", MaxRequestIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return "must contain only printable ASCII characters, without spaces"
		}
	}
	return ""
}

// CheckText returns "" when s is valid UTF-8 without control characters
// (C0, DEL, C1); free text (display names, titles, descriptions, roles)
// may also hold tabs and newlines.
func CheckText(s string, freeText bool) string {
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b < 0x20 || b == 0x7f {
				if !freeText || (b != '\t' && b != '\n') {
					return "must not contain control characters" + freeTextNote(freeText)
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return "must be valid UTF-8"
		}
		if r >= 0x80 && r <= 0x9f {
			return "must not contain control characters" + freeTextNote(freeText)
		}
		i += n
	}
	return ""
}

func freeTextNote(freeText bool) string {
	if freeText {
		return " (tab and newline are allowed)"
	}
	return ""
}
