package impact

import (
	"regexp"
	"strconv"
)

// periodName matches "2025-07" and "2025-Q3".
var periodName = regexp.MustCompile(`^([0-9]{4})-(?:([0-9]{2})|Q([1-4]))$`)

// ParsePeriodName reads a statement period's name, as StatementPeriod
// writes it: "2025-07" is year 2025, month 7; "2025-Q3" is year 2025,
// month 7 (the quarter's first), quarterly. ok is false for anything else,
// a month outside 1 to 12 included.
func ParsePeriodName(name string) (year, month int, quarterly, ok bool) {
	m := periodName.FindStringSubmatch(name)
	if m == nil {
		return 0, 0, false, false
	}
	year, _ = strconv.Atoi(m[1])
	if m[2] != "" {
		month, _ = strconv.Atoi(m[2])
	} else {
		q, _ := strconv.Atoi(m[3])
		month, quarterly = 3*q-2, true
	}
	if month < 1 || month > 12 {
		return 0, 0, false, false
	}
	return year, month, quarterly, true
}

// IsPeriodName reports whether name has the form of a period's name
// ("2025-07", "2025-Q3"; the month is not checked).
func IsPeriodName(name string) bool { return periodName.MatchString(name) }
