package store

import "time"

// ListWindowsSQL exposes the page query of ListWindows so that tests can
// ask each engine for its plan.
func (d *DB) ListWindowsSQL(filtered, after bool) string { return d.listWindowsSQL(filtered, after) }

// TS exposes the engine's argument for an instant column, for seeding.
func (d *DB) TS(t time.Time) any { return d.ts(t) }
