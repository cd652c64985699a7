package main

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const importUsage = `Usage: impactctl import customers|contracts|incidents|windows [flags] FILE.csv
       impactctl import customers|contracts --update [flags] FILE.csv
       impactctl import fx-rates [flags] FILE.csv

Imports the rows of FILE.csv ("-" reads stdin) into --db, or through
impactd's API with --server HOST:PORT (the token from --token or
IMPACTCTL_TOKEN; --tls-ca for TLS). The first row is a header naming the columns, in any order; columns marked * are required, the
others may be left out or left empty (empty takes the API's default).

  customers: customer_id*, display_name, currency_code*, time_zone,
             hourly_amount*, recapture_rate, lifetime_value, churn_probability,
             labels
  contracts: customer_id*, service*, monthly_fee*, tiers*, billing_period,
             time_zone, credit_cap_percent, min_credit_amount, degradation,
             downtime_threshold, granularity, min_downtime_seconds, rounding,
             labels
             claim_mode (AUTOMATIC or ON_REQUEST), claim_deadline_days,
             claim_deadline_billing_periods (ON_REQUEST: exactly one)
             tiers: "UPTIME_BELOW:CREDIT_PERCENT" separated by ";", with
             ":inclusive" for <= (e.g. "99.99:10;99:30;95:100:inclusive");
             enums by their API names (MONTHLY, QUARTERLY, THRESHOLD, …)
  labels:    "KEY=VALUE" separated by ";" (e.g. "region=eu-west-1;tier=gold");
             keys 1-63 of a-z 0-9 _ - starting with a letter, values up to
             63 of the same (may be empty), at most 64; a contract's label
             overrides its customer's for the same key
  incidents: incident_id*, title, cause, recovery_currency, allocation,
             recovery_items: "labor:ROLE:HOURS:HOURLY_RATE[:ENGAGEMENT]" and
             "expense:DESCRIPTION:QUANTITY:UNIT_COST" separated by ";", each
             optionally followed by "@CUSTOMER_ID" (that customer's alone),
             e.g. "labor:sre:3.5:142.17;expense:hotel:2:180.00@acme"
  windows:   incident_id*, window_id, customer_id*, service*, start_time*,
             end_time*, impact_fraction      (times in RFC 3339)
  fx-rates:  from_currency*, to_currency*, rate*: into the stored reporting
             settings, replacing the rate of the same pair (see impactctl
             settings --help); the reporting currency becomes the rates'
             one when none is set and they all go into one currency

Every row is validated first, with the rules of the estimate engine (in
impactctl, the same code on both paths) and against the database or the API
(customers and incidents referred to must exist, new ids must not): each
problem is printed as "row N, column X: reason" (N is the line of FILE.csv,
the header being row 1) and the command exits 3 without writing anything.
Contracts need their customers, and windows their customers and incidents,
to be stored already. A row whose resource already exists with the same
values counts as imported before and is skipped, so running the same file
again changes nothing. Without --update, a row whose resource already
exists with other values is one of those problems (exit 3).

--update (customers and contracts) applies the file to what is stored, for
the spreadsheet round trip into the same database:

  impactctl export customers -o c.csv
  (edit c.csv)
  impactctl import customers c.csv --update

A row whose id is not stored is created, as without --update; a row whose
id is stored with other values updates that resource, and only the fields
the file has columns for (the update mask is the file's columns: a column
left out keeps the stored value, an empty cell sets the API's default); a
row equal to what is stored is left alone. Each updated resource is
validated as it would be after the update, with the other rows, before
anything is written. The update sends back the etag read during that
check: a resource changed by someone else in between is not overwritten,
the import stops at that row with a runtime failure (exit 1, ABORTED) and
running the file again compares it with the new values. The counts of
created, updated and unchanged rows are printed at the end. Outage windows
cannot be changed (the API only creates and deletes them): with --update
too, a window row whose id is stored with other values is refused (exit 3);
delete that window through the API (DeleteIncidentWindow, DELETE
/v1/incidents/ID/windows/WINDOW_ID) and import the file again.

The file is read twice, 5,000 rows at a time, so that memory holds one
chunk however long the file is (stdin is first copied to a temporary file):
the first pass checks every row, the second checks each chunk again against
what is stored then and writes it. An id given twice in the file is a
problem too, however far apart the rows are.

When every row is valid, all of them are written. With --db, the new
customers and contracts of a chunk are written in one transaction (COPY on
PostgreSQL, multi-row INSERTs on SQLite; one audit record per chunk): each
chunk is all or nothing. Windows are written in one transaction per
incident and chunk (one BatchCreateIncidentWindows call). Through --server,
and for the rows --update changes, customers and contracts are written one
row per transaction (one Create or Update call each); incidents are always
written one per call. So a failure in the middle of the file leaves the
chunks (or rows) before it imported, and the error names the rows it
stopped at. "All or none" across the file then means: fix
the cause and run the same file again. Every create carries a request id
derived from the file's digest and the row (the batch for windows), which
the server remembers: a write that did happen but whose answer was lost is
not done twice, neither by impactctl's own retries (over the API, of calls
that failed as UNAVAILABLE or DEADLINE_EXCEEDED) nor by the re-run. Windows
without a window_id are only protected by that request id: a changed file
is a new digest, and re-runs it as new windows. Updates are not retried; a
re-run finds an update that was done as unchanged.
`

func runImport(c *cli, args []string) error {
	f := c.flags("import", importUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT: import through the API instead of --db")
	token := f.string("token", "", "bearer token sent to --server (an editor's)")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	update := f.bool("update", "customers, contracts: update stored rows whose values differ (the file's columns only) instead of refusing them")
	pos, err := f.parse(args, 2)
	if err != nil {
		return err
	}
	kind, file := pos[0], pos[1]
	if kind == "fx-rates" {
		return importFXRates(c, file, *dsn, *addr, *token, *caFile)
	}
	switch kind {
	case "customers", "contracts", "windows", "incidents":
	default:
		return usagef("import", "unknown import %q: want customers, contracts, incidents, windows or fx-rates", kind)
	}
	imp := newImporter(kind)

	// The file is read twice, a chunk of importChunk rows at a time: the
	// first pass checks every row and takes the file's digest (which names
	// the writes: request ids), the second checks each chunk again against
	// what is stored now and writes it. Memory holds one chunk, not the
	// file; stdin is spooled to a temporary file to be read twice.
	// The live heap is one chunk and the set of the file's ids (about 60
	// MB at 1,000,000 rows); a soft memory limit keeps the garbage of the
	// rows read from doubling that. GOMEMLIMIT set by the operator wins.
	if c.getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(160 << 20))
	}
	src, cleanup, err := spoolInput(c, file)
	if err != nil {
		return err
	}
	defer cleanup()
	required, optional := imp.columns()

	im := &importRun{cli: c, kind: kind, update: *update}
	if *addr != "" {
		conn, ctx, err := dialServer(c.ctx, *addr, *token, *caFile)
		if err != nil {
			return err
		}
		defer conn.Close()
		im.ctx, im.target = ctx, newAPITarget(*addr, conn)
	} else {
		db, err := store.Open(c.ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		im.ctx, im.target = impact.WithActor(c.ctx, "impactctl import"), &dbTarget{db: db}
	}

	// Pass 1: check.
	digest, rows, err := im.pass(src, required, optional, func() error { return newImporter(kind).check(im) })
	if err != nil {
		return err
	}
	if len(im.problems) > 0 || im.moreProblems > 0 {
		return im.invalid()
	}
	if rows == 0 {
		return &invalidInput{problems: []string{"the file has a header but no rows"}}
	}
	im.digest = digest

	// Pass 2: check each chunk again (the rows written by the chunks before
	// are now stored, the others as they were) and write it.
	var n, updated, present int
	again, _, err := im.pass(src, required, optional, func() error {
		x := newImporter(kind)
		if err := x.check(im); err != nil {
			return err
		}
		if len(im.problems) > 0 {
			return fmt.Errorf("the stored data changed while this import ran (%d rows were imported): %w", n, im.invalid())
		}
		k, err := x.write(im)
		n += k
		updated += len(im.etags)
		present += len(im.present)
		return err
	})
	if err != nil {
		return err
	}
	if again != digest {
		fmt.Fprintf(c.stderr, "impactctl: %s changed while it was imported: its rows were each checked before they were written, "+
			"under the request ids of the file as first read\n", file)
	}
	if im.update {
		fmt.Fprintf(c.stdout, "imported %s: %d created, %d updated, %d unchanged\n", kind, n-updated, updated, present)
		return nil
	}
	msg := fmt.Sprintf("imported %d %s", n, kind)
	if present > 0 {
		msg += fmt.Sprintf(" (%d already present, skipped)", present)
	}
	fmt.Fprintln(c.stdout, msg)
	return nil
}

func newImporter(kind string) importer {
	switch kind {
	case "customers":
		return &customerImport{}
	case "contracts":
		return &contractImport{}
	case "incidents":
		return &incidentImport{}
	default:
		return &windowImport{}
	}
}

// importer is one kind of import: its columns, the checks of every row,
// and the writes once all rows passed.
type importer interface {
	columns() (required, optional []string)
	check(*importRun) error        // adds problems; an error is a runtime failure
	write(*importRun) (int, error) // the rows created or updated
}

// csvColumn is one column of an import file. The lists below are the one
// definition of each file's columns: import reads them (in any order) and
// export writes them, in this order, so that an exported file imports as is.
type csvColumn struct {
	name     string
	required bool
}

var (
	customerColumns = []csvColumn{
		{"customer_id", true}, {"display_name", false}, {"currency_code", true}, {"time_zone", false},
		{"hourly_amount", true}, {"recapture_rate", false}, {"lifetime_value", false}, {"churn_probability", false},
		{"labels", false},
	}
	contractColumns = []csvColumn{
		{"customer_id", true}, {"service", true}, {"monthly_fee", true}, {"tiers", true},
		{"billing_period", false}, {"time_zone", false}, {"credit_cap_percent", false},
		{"min_credit_amount", false}, {"degradation", false}, {"downtime_threshold", false},
		{"granularity", false}, {"min_downtime_seconds", false}, {"rounding", false},
		{"labels", false},
		{"claim_mode", false}, {"claim_deadline_days", false}, {"claim_deadline_billing_periods", false},
	}
	windowColumns = []csvColumn{
		{"incident_id", true}, {"window_id", false}, {"customer_id", true}, {"service", true},
		{"start_time", true}, {"end_time", true}, {"impact_fraction", false},
	}
)

// A column that sets a field an Update can replace: the field's path in the
// update mask and how a row's value is copied into the stored resource (by
// impact's update-mask table, the store's, to validate the result before
// writing it).
type updatable[T any] struct {
	path string
	set  func(dst, src *T)
}

// columnsOf maps each column to its mask path and that path's copy in
// table.
func columnsOf[T any](table impact.UpdateMask[T], paths map[string]string) map[string]updatable[T] {
	out := make(map[string]updatable[T], len(paths))
	for col, p := range paths {
		if table[p] == nil {
			panic("impactctl: column " + col + " names " + p + ", which the update-mask table does not have")
		}
		out[col] = updatable[T]{p, table[p]}
	}
	return out
}

// Customers' and contracts' columns by name; ids name the resource and are
// not in the tables.
var (
	customerUpdates = columnsOf(impact.CustomerMask, map[string]string{
		"display_name": "display_name", "currency_code": "currency_code", "time_zone": "time_zone",
		"hourly_amount": "baseline.hourly_amount", "recapture_rate": "baseline.recapture_rate",
		"lifetime_value": "lifetime_value", "churn_probability": "churn_probability", "labels": "labels",
	})
	contractUpdates = columnsOf(impact.ContractMask, map[string]string{
		"monthly_fee": "monthly_fee", "tiers": "tiers", "billing_period": "billing_period", "time_zone": "time_zone",
		"credit_cap_percent": "credit_cap_percent", "min_credit_amount": "min_credit_amount",
		"degradation": "degradation", "downtime_threshold": "downtime_threshold", "granularity": "granularity",
		"min_downtime_seconds": "min_downtime_seconds", "rounding": "rounding", "labels": "labels",
		// The three claim columns are one field: the policy is replaced whole.
		"claim_mode": "claim_policy", "claim_deadline_days": "claim_policy", "claim_deadline_billing_periods": "claim_policy",
	})
)

// updateMask is the update mask of a file: the paths of its columns that
// set a field, in the order of cols.
func updateMask[T any](t *table, cols []csvColumn, fields map[string]updatable[T]) impact.FieldMask {
	var mask impact.FieldMask
	for _, c := range cols {
		if u, ok := fields[c.name]; ok {
			if _, in := t.col[c.name]; in {
				mask = append(mask, u.path)
			}
		}
	}
	return mask
}

// merged is stored with the fields of the file's columns taken from row:
// the resource an update with the file's mask leaves.
func merged[T any](t *table, stored, row *T, fields map[string]updatable[T]) T {
	out := *stored
	for name := range t.col {
		if u, ok := fields[name]; ok {
			u.set(&out, row)
		}
	}
	return out
}

// changedWhileRead explains an update refused because the resource changed
// between the check and the write.
func changedWhileRead(line int, what string, err error) error {
	return fmt.Errorf("row %d: %s was changed by someone else after this import read it (ABORTED), so it was not updated: %w "+
		"(rows before it were imported; export it to see the change, or run the same file again to apply the row over it)", line, what, err)
}

func splitColumns(cols []csvColumn) (required, optional []string) {
	for _, c := range cols {
		if c.required {
			required = append(required, c.name)
		} else {
			optional = append(optional, c.name)
		}
	}
	return required, optional
}

// table is a parsed CSV file.
type table struct {
	col  map[string]int
	rows []row
}

type row struct {
	line   int // line in the file: what "row N" means in problems
	fields []string
}

func (t *table) get(r row, col string) string {
	i, ok := t.col[col]
	if !ok {
		return ""
	}
	return r.fields[i]
}

// problem is one validation failure; line 0 is about the file as a whole.
type problem struct {
	line int
	col  string
	msg  string
}

func (p problem) String() string {
	switch {
	case p.line == 0:
		return p.msg
	case p.col == "":
		return fmt.Sprintf("row %d: %s", p.line, p.msg)
	default:
		return fmt.Sprintf("row %d, column %s: %s", p.line, p.col, p.msg)
	}
}

func problemsError(ps []problem) error {
	slices.SortStableFunc(ps, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	ii := &invalidInput{}
	for _, p := range ps {
		ii.problems = append(ii.problems, p.String())
	}
	return ii
}

// readTable reads a CSV file whose header holds every required column and
// otherwise only optional ones. Header and shape problems are reported all
// at once, as invalid input.
func readTable(in io.Reader, required, optional []string) (*table, error) {
	tr, err := newTableReader(in, required, optional)
	if err != nil {
		return nil, err
	}
	t := &table{col: tr.col}
	var ps []problem
	for {
		rows, more, err := tr.next(1 << 30)
		if err != nil {
			return nil, err
		}
		t.rows = append(t.rows, rows...)
		ps = append(ps, tr.problems...)
		tr.problems = nil
		if !more {
			break
		}
	}
	if len(ps) > 0 {
		return nil, problemsError(ps)
	}
	return t, nil
}

// tableReader reads a CSV file's rows a chunk at a time (next), so that an
// import holds one chunk of a file, however long the file is. Shape
// problems (a short row, a syntax error) are collected in problems.
type tableReader struct {
	r        *csv.Reader
	col      map[string]int
	width    int
	problems []problem
	done     bool
}

// newTableReader reads the header; its problems are returned at once.
func newTableReader(in io.Reader, required, optional []string) (*tableReader, error) {
	r := csv.NewReader(in)
	r.FieldsPerRecord = -1 // checked here, to report every short row
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	var ps []problem
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &invalidInput{problems: []string{"row 1: the file is empty; want a header row naming the columns"}}
	}
	if err != nil {
		return nil, csvProblem(err)
	}
	if d := otherDelimiter(header); d != "" {
		return nil, &invalidInput{problems: []string{fmt.Sprintf(
			"row 1: the header %q looks %s-separated; impactctl reads comma-separated CSV "+
				"(save the file as CSV with commas, or replace the %s)", strings.Join(header, ","), d, d)}}
	}
	tr := &tableReader{r: r, col: map[string]int{}, width: len(header)}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) // spreadsheets write a BOM
		switch {
		case !slices.Contains(required, h) && !slices.Contains(optional, h):
			ps = append(ps, problem{1, h, fmt.Sprintf("unknown column; the columns are %s", strings.Join(append(slices.Clone(required), optional...), ", "))})
		default:
			if _, dup := tr.col[h]; dup {
				ps = append(ps, problem{1, h, "appears twice"})
			}
		}
		if _, dup := tr.col[h]; !dup {
			tr.col[h] = i
		}
	}
	for _, req := range required {
		if _, ok := tr.col[req]; !ok {
			ps = append(ps, problem{1, req, "required column is missing"})
		}
	}
	if len(ps) > 0 {
		return nil, problemsError(ps)
	}
	return tr, nil
}

// next reads up to n rows; more is false at the end of the file. Rows with
// a problem are left out (and the problem kept in tr.problems).
func (tr *tableReader) next(n int) (rows []row, more bool, err error) {
	for len(rows) < n && !tr.done {
		rec, err := tr.r.Read()
		if errors.Is(err, io.EOF) {
			tr.done = true
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, false, err // reading the file failed
			}
			tr.problems = append(tr.problems, problem{0, "", csvProblem(err).Error()})
			tr.done = true // the reader cannot resynchronise after a syntax error
			break
		}
		line, _ := tr.r.FieldPos(0)
		if len(rec) != tr.width {
			tr.problems = append(tr.problems, problem{line, "", fmt.Sprintf("has %d fields; the header has %d", len(rec), tr.width)})
			continue
		}
		for i := range rec {
			rec[i] = unguardCell(strings.TrimSpace(rec[i])) // csvguard.go
		}
		rows = append(rows, row{line: line, fields: rec})
	}
	return rows, !tr.done, nil
}

// otherDelimiter names the delimiter a header seems to use instead of
// commas (a spreadsheet in a locale with decimal commas writes
// semicolons): "semicolon" or "tab" when a header cell holds one, else "".
func otherDelimiter(header []string) string {
	for _, h := range header {
		switch {
		case strings.Contains(h, ";"):
			return "semicolon"
		case strings.Contains(h, "\t"):
			return "tab"
		}
	}
	return ""
}

func csvProblem(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &invalidInput{problems: []string{fmt.Sprintf("row %d: %v", pe.Line, pe.Err)}}
	}
	return err
}

// importRun carries one import's state.
type importRun struct {
	*cli
	target   importTarget
	t        *table // the chunk being checked or written
	kind     string
	digest   string         // of the file, in request ids
	present  map[int]bool   // the chunk's row indexes already stored with the same values
	update   bool           // --update
	etags    map[int]string // the chunk's row indexes to update → the etag read
	problems []problem      // at most maxProblems
	// moreProblems counts the problems past maxProblems.
	moreProblems int
	// seen holds the ids of this pass's rows so far (customer ids, contract
	// and window names) → their line: an id given twice in the file is a
	// problem, however far apart the two rows are.
	seen map[string]int
	// first is the line of the chunk's first row.
	first int
}

// requestID names the write of one row (or, for windows, one batch) of
// this file, so that a retry or a re-run of the same file is recognised by
// the server and writes nothing twice. It is well under the 128 characters
// a request id may have.
func (im *importRun) requestID(part string) string {
	return "impactctl-import-" + im.kind + "-" + im.digest + "-" + part
}

func (im *importRun) fail(r row, col, format string, args ...any) {
	if len(im.problems) >= maxProblems {
		im.moreProblems++
		return
	}
	im.problems = append(im.problems, problem{r.line, col, fmt.Sprintf(format, args...)})
}

// maxProblems is the most problems an import reports (and holds): the
// first ones in the file, then a count of the others.
const maxProblems = 1000

// again reports the row naming key in an earlier chunk of the file, as a
// problem of r (two rows of one chunk are the engine's to report), and
// records key's first row otherwise.
func (im *importRun) again(r row, col, key, what string) {
	if im.seen == nil {
		im.seen = map[string]int{}
	}
	if line, dup := im.seen[key]; dup {
		if line < im.first {
			im.fail(r, col, "%s is also on row %d", what, line)
		}
		return
	}
	im.seen[key] = r.line
}

// engineFail reports a violation of the engine unless the cell already has
// a problem: a time that did not parse reaches the engine as unset, and
// "is required" would only repeat the parse error.
func (im *importRun) engineFail(r row, col, desc string) {
	for _, p := range im.problems {
		if p.line == r.line && p.col == col {
			return
		}
	}
	im.fail(r, col, "%s", desc)
}

func (im *importRun) invalid() error {
	err := problemsError(slices.Clone(im.problems))
	if im.moreProblems > 0 {
		ii := err.(*invalidInput)
		ii.problems = append(ii.problems, fmt.Sprintf("… and %d more problems", im.moreProblems))
	}
	return err
}

// column names the CSV column of a violation path within a row's resource:
// its first field ("tiers[1].uptime_below" is column tiers), the baseline's
// fields being columns of their own.
func column(rest impact.Path) string {
	if len(rest) == 0 {
		return ""
	}
	if rest[0].Name == "baseline" && len(rest) > 1 {
		rest = rest[1:]
	}
	if rest[0].Name == "claim_policy" && len(rest) > 1 {
		return map[string]string{"mode": "claim_mode", "deadline_days": "claim_deadline_days",
			"deadline_billing_periods": "claim_deadline_billing_periods"}[rest[1].Name]
	}
	return rest[0].Name
}

// within prefixes desc with the part of a cell it is about when the cell
// holds a list ("tiers[1].credit_percent: must be …").
func within(rest impact.Path, desc string) string {
	for _, e := range rest {
		if e.Index >= 0 {
			return rest.String() + ": " + desc
		}
	}
	return desc
}

// importLimits are the engine's limits with the counts that grow with a
// file's length lifted: a file is validated as a whole, not as one request.
func importLimits(n int) impact.Limits {
	lim := impact.DefaultLimits()
	lim.MaxCustomers = max(lim.MaxCustomers, n)
	lim.MaxIncidents = max(lim.MaxIncidents, n)
	lim.MaxWindows = max(lim.MaxWindows, n)
	lim.MaxContractsPerCustomer = max(lim.MaxContractsPerCustomer, n)
	lim.MaxWindowHours = max(lim.MaxWindowHours, int64(n)*366*24)
	return lim
}

// internal reports a failure of the database rather than an answer about
// the row (ENOTFOUND, EINVALID, …). ErrorCode(nil) is EINTERNAL, hence the
// nil check.
func internal(err error) bool {
	return err != nil && impact.ErrorCode(err) == impact.EINTERNAL
}

// Customers.

type customerImport struct{ custs []impact.Customer }

func (*customerImport) columns() (required, optional []string) { return splitColumns(customerColumns) }

func (x *customerImport) check(im *importRun) error {
	t := im.t
	if p, ok := im.target.(prefetcher); ok {
		ids := make([]string, len(t.rows))
		for i, r := range t.rows {
			ids[i] = t.get(r, "customer_id")
		}
		if err := p.prefetch(im.ctx, ids, false); err != nil {
			return err
		}
	}
	for _, r := range t.rows {
		if id := t.get(r, "customer_id"); id != "" {
			im.again(r, "customer_id", "c\x00"+id, fmt.Sprintf("customer %q", id))
		}
		x.custs = append(x.custs, impact.Customer{
			ID:          t.get(r, "customer_id"),
			DisplayName: t.get(r, "display_name"),
			Currency:    t.get(r, "currency_code"),
			TimeZone:    t.get(r, "time_zone"),
			Baseline: impact.Baseline{
				HourlyAmount:  t.get(r, "hourly_amount"),
				RecaptureRate: t.get(r, "recapture_rate"),
			},
			LifetimeValue:    t.get(r, "lifetime_value"),
			ChurnProbability: t.get(r, "churn_probability"),
			Labels:           labelsCell(im, r),
		})
	}
	// What the engine checks: each row as it will be stored, which for a
	// row that updates a customer is the stored one with the file's
	// columns taken from the row.
	checked := slices.Clone(x.custs)
	for i, cust := range x.custs {
		if cust.ID == "" || strings.Contains(cust.ID, "/") {
			continue // the engine reports the id
		}
		stored, etag, err := im.target.getCustomer(im.ctx, cust.ID)
		if internal(err) {
			return err
		}
		if err != nil {
			continue // not there: to be created
		}
		if !im.update {
			if sameCustomer(stored, &x.custs[i]) {
				im.present[i] = true
			} else {
				im.fail(t.rows[i], "customer_id", "customer %q already exists with other values (--update changes it)", cust.ID)
			}
			continue
		}
		checked[i] = merged(t, stored, &x.custs[i], customerUpdates)
		if sameCustomer(stored, &checked[i]) {
			im.present[i] = true
		} else {
			im.etags[i] = etag
		}
	}
	// Each row as the engine checks a customer, then, as it does among
	// valid customers, one id per file.
	lim := importLimits(len(checked))
	ids := make(map[string]bool, len(checked))
	for i := range checked {
		vs := impact.ValidateCustomer(&checked[i], lim)
		for _, v := range vs {
			im.engineFail(t.rows[i], column(v.Path), within(v.Path, v.Description))
		}
		if id := checked[i].ID; len(vs) == 0 && id != "" {
			if ids[id] {
				im.engineFail(t.rows[i], "customer_id", "duplicates another customer's id")
			}
			ids[id] = true
		}
	}
	return nil
}

// chunkFailed explains a bulk write that failed: nothing of the chunk was
// written, the chunks before it were.
func chunkFailed(im *importRun, n int, err error) error {
	rows := im.t.rows
	return fmt.Errorf("rows %d to %d: %w (none of them was written; the %d rows before them were imported; run the same file again)",
		rows[0].line, rows[len(rows)-1].line, err, n)
}

func (x *customerImport) write(im *importRun) (int, error) {
	n := 0
	bulk, isBulk := im.target.(bulkTarget)
	var creates []impact.Customer
	var reqIDs []string
	for i := range x.custs {
		if im.present[i] {
			continue
		}
		line := im.t.rows[i].line
		if _, upd := im.etags[i]; !upd && isBulk {
			creates = append(creates, x.custs[i])
			reqIDs = append(reqIDs, im.requestID(fmt.Sprintf("row-%d", line)))
			continue
		}
		if etag, ok := im.etags[i]; ok {
			err := im.target.updateCustomer(im.ctx, &x.custs[i], updateMask(im.t, customerColumns, customerUpdates), etag)
			if impact.ErrorCode(err) == impact.EABORTED {
				return n, changedWhileRead(line, fmt.Sprintf("customer %q", x.custs[i].ID), err)
			}
			if err != nil {
				return n, fmt.Errorf("row %d: updating customer %q: %w (rows before it were imported; run the same file again)", line, x.custs[i].ID, err)
			}
			n++
			continue
		}
		if err := im.target.createCustomer(im.ctx, &x.custs[i], im.requestID(fmt.Sprintf("row-%d", line))); err != nil {
			return n, fmt.Errorf("row %d: %w (rows before it were imported; run the same file again)", line, err)
		}
		n++
	}
	if len(creates) > 0 {
		if err := bulk.createCustomers(im.ctx, creates, reqIDs); err != nil {
			return n, chunkFailed(im, n, err)
		}
		n += len(creates)
	}
	return n, nil
}

// Contracts.

type contractImport struct {
	customerIDs []string          // per row
	contracts   []impact.Contract // per row
}

func (*contractImport) columns() (required, optional []string) { return splitColumns(contractColumns) }

// enumValue parses an enum column by its API name (as proto3 JSON spells
// it); empty is the unspecified value, which takes the default.
func enumValue[E ~int32](im *importRun, r row, col string, values map[string]int32) E {
	s := im.t.get(r, col)
	if s == "" {
		return 0
	}
	v, ok := values[strings.ToUpper(s)]
	if !ok || v == 0 {
		var names []string
		for n, v := range values {
			if v != 0 {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		im.fail(r, col, "unknown value %q; want one of %s", s, strings.Join(names, ", "))
	}
	return E(v)
}

// formatTiers writes tiers as parseTiers reads them.
func formatTiers(tiers []*impactv1.CreditTier) string {
	parts := make([]string, len(tiers))
	for i, t := range tiers {
		parts[i] = t.GetUptimeBelow() + ":" + t.GetCreditPercent()
		if t.GetInclusive() {
			parts[i] += ":inclusive"
		}
	}
	return strings.Join(parts, ";")
}

// formatLabels writes labels as parseLabels reads them: "k=v;k=v", keys
// in order.
func formatLabels(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	return strings.Join(parts, ";")
}

// parseLabels reads "region=eu-west-1;tier=gold" (a value may be empty,
// "k="); every key and value is checked as the API checks them.
func parseLabels(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("label %q: want KEY=VALUE", part)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("label %q given twice", k)
		}
		if why := impact.CheckLabelKey(k); why != "" {
			return nil, fmt.Errorf("label %q: %s", k, why)
		}
		if why := impact.CheckLabelValue(v); why != "" {
			return nil, fmt.Errorf("label %q: %s", k, why)
		}
		out[k] = v
	}
	if len(out) > impact.MaxLabels {
		return nil, fmt.Errorf("%d labels; at most %d", len(out), impact.MaxLabels)
	}
	return out, nil
}

// labelsCell parses the row's labels column, reporting a bad one.
func labelsCell(im *importRun, r row) map[string]string {
	labels, err := parseLabels(im.t.get(r, "labels"))
	if err != nil {
		im.fail(r, "labels", "%v", err)
	}
	return labels
}

// parseTiers reads "99.99:10;99:30;95:100:inclusive".
func parseTiers(s string) ([]*impactv1.CreditTier, error) {
	var tiers []*impactv1.CreditTier
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Split(part, ":")
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "inclusive") {
			return nil, fmt.Errorf("tier %q: want UPTIME_BELOW:CREDIT_PERCENT, optionally followed by :inclusive", part)
		}
		tiers = append(tiers, &impactv1.CreditTier{UptimeBelow: f[0], CreditPercent: f[1], Inclusive: len(f) == 3})
	}
	return tiers, nil
}

// claimPolicyCells reads the claim columns; nil when all are empty.
func claimPolicyCells(im *importRun, r row) *impactv1.ClaimPolicy {
	cp := &impactv1.ClaimPolicy{Mode: enumValue[impactv1.ClaimPolicy_Mode](im, r, "claim_mode", impactv1.ClaimPolicy_Mode_value)}
	for _, c := range []struct {
		col string
		dst *int32
	}{{"claim_deadline_days", &cp.DeadlineDays}, {"claim_deadline_billing_periods", &cp.DeadlineBillingPeriods}} {
		if s := im.t.get(r, c.col); s != "" {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				im.fail(r, c.col, "%q is not a whole number", s)
			}
			*c.dst = int32(n)
		}
	}
	if proto.Equal(cp, &impactv1.ClaimPolicy{}) {
		return nil
	}
	return cp
}

func (x *contractImport) check(im *importRun) error {
	t := im.t
	// Rows are mapped through the API's own proto → domain mapping, so
	// that a contract imported here is what CreateContract would store.
	for _, r := range t.rows {
		p := &impactv1.Contract{
			Service:           t.get(r, "service"),
			MonthlyFee:        t.get(r, "monthly_fee"),
			TimeZone:          t.get(r, "time_zone"),
			CreditCapPercent:  t.get(r, "credit_cap_percent"),
			MinCreditAmount:   t.get(r, "min_credit_amount"),
			DowntimeThreshold: t.get(r, "downtime_threshold"),
			BillingPeriod:     enumValue[impactv1.Contract_BillingPeriod](im, r, "billing_period", impactv1.Contract_BillingPeriod_value),
			Degradation:       enumValue[impactv1.Contract_Degradation](im, r, "degradation", impactv1.Contract_Degradation_value),
			Granularity:       enumValue[impactv1.Contract_Granularity](im, r, "granularity", impactv1.Contract_Granularity_value),
			Rounding:          enumValue[impactv1.Contract_Rounding](im, r, "rounding", impactv1.Contract_Rounding_value),
		}
		if s := t.get(r, "min_downtime_seconds"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				im.fail(r, "min_downtime_seconds", "%q is not a whole number of seconds", s)
			}
			p.MinDowntimeSeconds = n
		}
		if cp := claimPolicyCells(im, r); cp != nil {
			p.ClaimPolicy = cp
		}
		tiers, err := parseTiers(t.get(r, "tiers"))
		if err != nil {
			im.fail(r, "tiers", "%v", err)
		}
		p.Tiers = tiers
		sc, err := server.ScenarioFromProto(&impactv1.Scenario{Customers: []*impactv1.Customer{{Contracts: []*impactv1.Contract{p}}}})
		if err != nil {
			return err // every enum was parsed from its name: a bug, not input
		}
		x.customerIDs = append(x.customerIDs, t.get(r, "customer_id"))
		k := sc.Customers[0].Contracts[0]
		k.Labels = labelsCell(im, r)
		x.contracts = append(x.contracts, k)
	}

	// Each contract is checked within its stored customer, whose currency
	// its amounts are in; the rows of one customer go in together, so that
	// two rows for one service are caught too.
	if p, ok := im.target.(prefetcher); ok {
		if err := p.prefetch(im.ctx, x.customerIDs, true); err != nil {
			return err
		}
	}
	for i, id := range x.customerIDs {
		if svc := x.contracts[i].Service; id != "" && svc != "" {
			im.again(t.rows[i], "service", "k\x00"+id+"\x00"+svc, fmt.Sprintf("the contract of customer %q for service %q", id, svc))
		}
	}
	var custs []impact.Customer
	at := map[string]int{} // customer id → index in custs
	var rowOf [][]int      // [customer][contract] → row index
	for i, id := range x.customerIDs {
		r := t.rows[i]
		if id == "" {
			im.fail(r, "customer_id", "is required")
			continue
		}
		ci, seen := at[id]
		if !seen {
			sc, _, err := im.target.getCustomer(im.ctx, id)
			if internal(err) {
				return err
			}
			if err != nil { // ENOTFOUND, or EINVALID for an id the store rejects
				at[id] = -1
				im.fail(r, "customer_id", "no customer %q in the database; import customers first", id)
				continue
			}
			ci = len(custs)
			at[id] = ci
			custs = append(custs, *sc)
			rowOf = append(rowOf, nil)
		} else if ci < 0 {
			im.fail(r, "customer_id", "no customer %q in the database; import customers first", id)
			continue
		}
		// What the engine checks is the contract as it will be stored:
		// for a row that updates one, the stored contract with the file's
		// columns taken from the row.
		checked := x.contracts[i]
		if svc := x.contracts[i].Service; svc != "" && !strings.Contains(svc, "/") {
			stored, etag, err := im.target.getContract(im.ctx, id, svc)
			switch {
			case internal(err):
				return err
			case err != nil: // not there: to be created
			case !im.update && sameContract(stored, &x.contracts[i]):
				im.present[i] = true
			case !im.update:
				im.fail(r, "service", "customer %q already has a contract for service %q with other values (--update changes it)", id, svc)
			default:
				checked = merged(t, stored, &x.contracts[i], contractUpdates)
				if sameContract(stored, &checked) {
					im.present[i] = true
				} else {
					im.etags[i] = etag
				}
			}
		}
		custs[ci].Contracts = append(custs[ci].Contracts, checked)
		rowOf[ci] = append(rowOf[ci], i)
	}
	// Each row as the engine checks a contract, then, as it does among a
	// customer's valid contracts, one contract per service.
	lim := importLimits(len(t.rows))
	for ci := range custs {
		services := map[string]bool{}
		for j, row := range rowOf[ci] {
			k := &custs[ci].Contracts[len(custs[ci].Contracts)-len(rowOf[ci])+j]
			vs := impact.ValidateContract(k, lim)
			for _, v := range vs {
				im.engineFail(t.rows[row], column(v.Path), within(v.Path, v.Description))
			}
			if len(vs) == 0 {
				if services[k.Service] {
					im.engineFail(t.rows[row], "service", "a customer has one contract per service; this service already has one")
				}
				services[k.Service] = true
			}
		}
	}
	return nil
}

func (x *contractImport) write(im *importRun) (int, error) {
	n := 0
	bulk, isBulk := im.target.(bulkTarget)
	var creates []impact.Contract
	var custIDs, reqIDs []string
	for i := range x.contracts {
		if im.present[i] {
			continue
		}
		line := im.t.rows[i].line
		if _, upd := im.etags[i]; !upd && isBulk {
			creates = append(creates, x.contracts[i])
			custIDs = append(custIDs, x.customerIDs[i])
			reqIDs = append(reqIDs, im.requestID(fmt.Sprintf("row-%d", line)))
			continue
		}
		if etag, ok := im.etags[i]; ok {
			what := fmt.Sprintf("the contract of customer %q for service %q", x.customerIDs[i], x.contracts[i].Service)
			err := im.target.updateContract(im.ctx, x.customerIDs[i], &x.contracts[i], updateMask(im.t, contractColumns, contractUpdates), etag)
			if impact.ErrorCode(err) == impact.EABORTED {
				return n, changedWhileRead(line, what, err)
			}
			if err != nil {
				return n, fmt.Errorf("row %d: updating %s: %w (rows before it were imported; run the same file again)", line, what, err)
			}
			n++
			continue
		}
		if err := im.target.createContract(im.ctx, x.customerIDs[i], &x.contracts[i], im.requestID(fmt.Sprintf("row-%d", line))); err != nil {
			return n, fmt.Errorf("row %d: %w (rows before it were imported; run the same file again)", line, err)
		}
		n++
	}
	if len(creates) > 0 {
		if err := bulk.createContracts(im.ctx, custIDs, creates, reqIDs); err != nil {
			return n, chunkFailed(im, n, err)
		}
		n += len(creates)
	}
	return n, nil
}

// Windows.

type windowImport struct {
	incidents []string                         // in order of first appearance
	windows   map[string][]impact.StoredWindow // by incident
	rows      map[string][]int                 // by incident: row indexes
}

func (*windowImport) columns() (required, optional []string) { return splitColumns(windowColumns) }

func (x *windowImport) check(im *importRun) error {
	t := im.t
	x.windows, x.rows = map[string][]impact.StoredWindow{}, map[string][]int{}
	parseTime := func(r row, col string) time.Time {
		s := t.get(r, col)
		if s == "" {
			return time.Time{} // the engine says "is required"
		}
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			im.fail(r, col, "%q is not an RFC 3339 time such as 2025-07-14T13:05:00Z", s)
		}
		return ts
	}
	if p, ok := im.target.(prefetcher); ok {
		var ids []string
		byIncident := map[string][]string{}
		for _, r := range t.rows {
			ids = append(ids, t.get(r, "customer_id"))
			if w := t.get(r, "window_id"); w != "" {
				inc := t.get(r, "incident_id")
				byIncident[inc] = append(byIncident[inc], w)
			}
		}
		if err := p.prefetch(im.ctx, ids, false); err != nil {
			return err
		}
		if err := p.prefetchWindows(im.ctx, byIncident); err != nil {
			return err
		}
	}
	customers := map[string]bool{} // id → exists in the database
	incidentOK := map[string]bool{}
	for i, r := range t.rows {
		inc := t.get(r, "incident_id")
		w := impact.StoredWindow{ID: t.get(r, "window_id"), OutageWindow: impact.OutageWindow{
			CustomerID:     t.get(r, "customer_id"),
			Service:        t.get(r, "service"),
			Start:          parseTime(r, "start_time"),
			End:            parseTime(r, "end_time"),
			ImpactFraction: t.get(r, "impact_fraction"),
		}}
		ok, seen := incidentOK[inc]
		if !seen {
			ok = inc != "" && !strings.Contains(inc, "/")
			if ok {
				_, err := im.target.getIncident(im.ctx, inc)
				if internal(err) {
					return err
				}
				ok = err == nil
			}
			incidentOK[inc] = ok
			if ok {
				x.incidents = append(x.incidents, inc)
			}
		}
		if !ok {
			im.fail(r, "incident_id", "no incident %q in the database", inc)
		}
		if id := w.CustomerID; id != "" && !strings.Contains(id, "/") {
			exists, seen := customers[id]
			if !seen {
				_, _, err := im.target.getCustomer(im.ctx, id)
				if internal(err) {
					return err
				}
				exists = err == nil
				customers[id] = exists
			}
			if !exists {
				im.fail(r, "customer_id", "no customer %q in the database", id)
			}
		}
		if w.ID != "" && ok {
			key := "w\x00" + inc + "\x00" + w.ID // (incident, window id) → line of first use, file-wide
			if im.seen == nil {
				im.seen = map[string]int{}
			}
			if first, dup := im.seen[key]; dup {
				im.fail(r, "window_id", "window %q of incident %q is also on row %d", w.ID, inc, first)
			} else if !strings.Contains(w.ID, "/") {
				im.seen[key] = r.line
				stored, err := im.target.getWindow(im.ctx, inc, w.ID)
				switch {
				case internal(err):
					return err
				case err != nil: // not there: to be created
				case sameWindow(stored, &w.OutageWindow):
					im.present[i] = true
				case im.update:
					im.fail(r, "window_id", "window %q of incident %q already exists with other values, and outage windows cannot be "+
						"changed (--update does not apply to them): delete the window through the API (DeleteIncidentWindow, "+
						"DELETE /v1/%s) and import the file again", w.ID, inc, impact.WindowName(inc, w.ID))
				default:
					im.fail(r, "window_id", "window %q of incident %q already exists with other values", w.ID, inc)
				}
			}
		}
		x.windows[inc] = append(x.windows[inc], w)
		x.rows[inc] = append(x.rows[inc], i)
	}
	// Checked as BatchCreateIncidentWindows checks a batch: each window within
	// an incident of the engine's, so times, lengths and fractions follow
	// the same rules.
	lim := importLimits(len(t.rows))
	for inc, ws := range x.windows {
		check := make([]impact.OutageWindow, len(ws))
		for j := range ws {
			check[j] = ws[j].OutageWindow
		}
		for _, v := range impact.ValidateWindows(check, lim) {
			rest := v.Path[1:] // after windows[j]
			im.engineFail(t.rows[x.rows[inc][v.Path[0].Index]], column(rest), within(rest, v.Description))
		}
	}
	return nil
}

func (x *windowImport) write(im *importRun) (int, error) {
	n := 0
	for _, inc := range x.incidents {
		ws, rows := x.windows[inc], x.rows[inc]
		// The batches are cut before the windows already stored are left
		// out, so that a batch keeps its request id from run to run: one
		// written before answers with its first result and writes nothing,
		// its windows without ids included.
		for lo := 0; lo < len(ws); lo += impact.MaxBatchWindows {
			hi := min(lo+impact.MaxBatchWindows, len(ws))
			var batch []impact.StoredWindow
			for j := lo; j < hi; j++ {
				if !im.present[rows[j]] {
					batch = append(batch, ws[j])
				}
			}
			if len(batch) == 0 {
				continue
			}
			// The row of the batch's first window stands for the batch:
			// ids must be at most 128 characters, incident ids need not be.
			reqID := im.requestID(fmt.Sprintf("batch-%d", im.t.rows[rows[lo]].line))
			if err := im.target.createWindows(im.ctx, inc, batch, reqID); err != nil {
				return n, fmt.Errorf("windows of incident %q from row %d: %w (%d windows were imported before; run the same file again)",
					inc, im.t.rows[rows[lo]].line, err, n)
			}
			n += len(batch)
		}
	}
	return n, nil
}
