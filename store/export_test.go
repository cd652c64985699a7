package store

// ListWindowsSQL exposes the page query of ListWindows so that tests can
// ask each engine for its plan.
func (d *DB) ListWindowsSQL(filtered, after bool) string { return d.listWindowsSQL(filtered, after) }
