package store

// ListWindowsSQL exposes the page query of ListWindows so that tests can
// ask each engine for its plan.
func (d *DB) ListWindowsSQL(filtered, after bool) string { return d.listWindowsSQL(filtered, after) }

// WindowsInRangesSQL exposes the query of WindowsInRanges for n ranges,
// bound for the engine, so that tests can ask for its plan.
func (d *DB) WindowsInRangesSQL(n int) string { return d.q(d.windowsInRangesSQL(n)) }

// HoldWriter takes SQLite's in-process writer slot until release is called,
// so a test can make another writer wait.
func (d *DB) HoldWriter() (release func()) {
	d.writers <- struct{}{}
	return func() { <-d.writers }
}

// ClaimLookupSQL exposes the bulk writes' query of recorded request ids for
// n ids, bound for the engine (arguments: SQLite the method and the ids,
// PostgreSQL the ids as one array and the method), so that tests can ask
// for its plan.
func (d *DB) ClaimLookupSQL(n int) string { return d.claimLookupSQL(n) }
