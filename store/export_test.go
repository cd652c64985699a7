package store

import "time"

// ListWindowsSQL exposes the page query of ListWindows so that tests can
// ask each engine for its plan.
func (d *DB) ListWindowsSQL(filtered, after bool) string { return d.listWindowsSQL(filtered, after) }

// TS exposes the engine's argument for an instant column, for seeding.
func (d *DB) TS(t time.Time) any { return d.ts(t) }

// HoldWriter takes SQLite's in-process writer slot until release is called,
// so a test can make another writer wait.
func (d *DB) HoldWriter() (release func()) {
	d.writers <- struct{}{}
	return func() { <-d.writers }
}
