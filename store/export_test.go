package store

// ListWindowsSQL exposes the page query of ListWindows so that tests can
// ask each engine for its plan.
func (d *DB) ListWindowsSQL(filtered, after bool) string { return d.listWindowsSQL(filtered, after) }

// HoldWriter takes SQLite's in-process writer slot until release is called,
// so a test can make another writer wait.
func (d *DB) HoldWriter() (release func()) {
	d.writers <- struct{}{}
	return func() { <-d.writers }
}
