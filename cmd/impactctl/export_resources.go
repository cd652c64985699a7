package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// Export of customers, contracts and outage windows: the files import reads.
//
// Both paths (--db and --server) yield the resources as the API represents
// them (the store's through the server's own mapping), and the CSV cells
// are taken from that one representation, so the two paths write the same
// bytes for the same data.

// exportPageSize is the page of every List: the most the store and the API
// return at once.
const exportPageSize = impact.MaxPageSize

// resourceSource lists stored resources one page at a time. An empty token
// asks for the first page; an empty next token means the last page.
type resourceSource interface {
	customers(ctx context.Context, token string) (items []*impactv1.Customer, next string, err error)
	contracts(ctx context.Context, customerID, token string) (items []*impactv1.Contract, next string, err error)
	incidents(ctx context.Context, token string) (ids []string, next string, err error)
	windows(ctx context.Context, incidentID, token string) (items []*impactv1.IncidentWindow, next string, err error)
}

// dbSource is --db.
type dbSource struct{ db *store.DB }

func (s dbSource) customers(ctx context.Context, token string) ([]*impactv1.Customer, string, error) {
	page, err := s.db.ListCustomers(ctx, impact.PageRequest{Size: exportPageSize, Token: token})
	if err != nil {
		return nil, "", err
	}
	items := make([]*impactv1.Customer, len(page.Items))
	for i := range page.Items {
		items[i] = server.StoredCustomerToProto(&page.Items[i])
	}
	return items, page.NextPageToken, nil
}

func (s dbSource) contracts(ctx context.Context, customerID, token string) ([]*impactv1.Contract, string, error) {
	page, err := s.db.ListContracts(ctx, customerID, impact.PageRequest{Size: exportPageSize, Token: token})
	if err != nil {
		return nil, "", err
	}
	items := make([]*impactv1.Contract, len(page.Items))
	for i := range page.Items {
		items[i] = server.StoredContractToProto(&page.Items[i])
	}
	return items, page.NextPageToken, nil
}

func (s dbSource) incidents(ctx context.Context, token string) ([]string, string, error) {
	page, err := s.db.ListIncidents(ctx, impact.PageRequest{Size: exportPageSize, Token: token})
	if err != nil {
		return nil, "", err
	}
	ids := make([]string, len(page.Items))
	for i := range page.Items {
		ids[i] = page.Items[i].ID
	}
	return ids, page.NextPageToken, nil
}

func (s dbSource) windows(ctx context.Context, incidentID, token string) ([]*impactv1.IncidentWindow, string, error) {
	page, err := s.db.ListWindows(ctx, incidentID, impact.WindowFilter{}, impact.PageRequest{Size: exportPageSize, Token: token})
	if err != nil {
		return nil, "", err
	}
	items := make([]*impactv1.IncidentWindow, len(page.Items))
	for i := range page.Items {
		items[i] = server.StoredWindowToProto(&page.Items[i])
	}
	return items, page.NextPageToken, nil
}

// apiSource is --server: the List calls of impactd's stored-resource
// services (a viewer's token is enough).
type apiSource struct {
	t *apiTarget // its clients and its mapping of errors
}

func newAPISource(addr string, conn *grpc.ClientConn) apiSource {
	return apiSource{t: newAPITarget(addr, conn)}
}

func (s apiSource) customers(ctx context.Context, token string) ([]*impactv1.Customer, string, error) {
	resp, err := s.t.customers.ListCustomers(ctx, &impactv1.ListCustomersRequest{PageSize: exportPageSize, PageToken: token})
	if err != nil {
		return nil, "", s.t.fromStatus(err)
	}
	return resp.GetCustomers(), resp.GetNextPageToken(), nil
}

func (s apiSource) contracts(ctx context.Context, customerID, token string) ([]*impactv1.Contract, string, error) {
	resp, err := s.t.contracts.ListContracts(ctx, &impactv1.ListContractsRequest{
		Parent: impact.CustomerName(customerID), PageSize: exportPageSize, PageToken: token,
	})
	if err != nil {
		return nil, "", s.t.fromStatus(err)
	}
	return resp.GetContracts(), resp.GetNextPageToken(), nil
}

func (s apiSource) incidents(ctx context.Context, token string) ([]string, string, error) {
	resp, err := s.t.incidents.ListIncidents(ctx, &impactv1.ListIncidentsRequest{PageSize: exportPageSize, PageToken: token})
	if err != nil {
		return nil, "", s.t.fromStatus(err)
	}
	ids := make([]string, len(resp.GetIncidents()))
	for i, in := range resp.GetIncidents() {
		ids[i] = in.GetIncidentId()
	}
	return ids, resp.GetNextPageToken(), nil
}

func (s apiSource) windows(ctx context.Context, incidentID, token string) ([]*impactv1.IncidentWindow, string, error) {
	resp, err := s.t.incidents.ListIncidentWindows(ctx, &impactv1.ListIncidentWindowsRequest{
		Parent: impact.IncidentName(incidentID), PageSize: exportPageSize, PageToken: token,
	})
	if err != nil {
		return nil, "", s.t.fromStatus(err)
	}
	return resp.GetOutageWindows(), resp.GetNextPageToken(), nil
}

// resourceKind is one exportable kind: its columns (those import reads)
// and how a resource fills them.
type resourceKind struct {
	noun    string // in warnings: `customer "x"`
	columns []csvColumn
	// renamed maps a column to the proto field path it holds when the two
	// names differ; with the columns it is what a row carries.
	renamed map[string]string
}

var (
	customerKind = resourceKind{noun: "customer", columns: customerColumns, renamed: map[string]string{
		"hourly_amount": "baseline.hourly_amount", "recapture_rate": "baseline.recapture_rate",
	}}
	contractKind = resourceKind{noun: "contract", columns: contractColumns, renamed: map[string]string{
		"claim_mode": "claim_policy.mode", "claim_deadline_days": "claim_policy.deadline_days",
		"claim_deadline_billing_periods": "claim_policy.deadline_billing_periods",
	}}
	windowKind = resourceKind{noun: "window", columns: windowColumns}
)

// outputOnly are the fields the server sets; a file does not carry them
// and import does not need them.
var outputOnly = []string{"name", "create_time", "update_time", "etag"}

// uncovered returns the populated fields of m that no column holds, as
// proto field paths ("baseline.weekly_profile"): what the CSV would drop.
func (k *resourceKind) uncovered(m proto.Message) []string {
	covered := map[string]bool{}
	for _, c := range k.columns {
		covered[c.name] = true
		if p, ok := k.renamed[c.name]; ok {
			covered[p] = true
		}
	}
	for _, f := range outputOnly {
		covered[f] = true
	}
	var out []string
	var walk func(m protoreflect.Message, prefix string)
	walk = func(m protoreflect.Message, prefix string) {
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			path := prefix + string(fd.Name())
			switch {
			case covered[path]:
			case path == "denominator" && v.Enum() == protoreflect.EnumNumber(impactv1.Contract_PERIOD):
				// The default in force, which an empty file gives too.
			case fd.Kind() == protoreflect.MessageKind && fd.Cardinality() != protoreflect.Repeated &&
				fd.Message().ParentFile().Package() == "impact.v1":
				walk(v.Message(), path+".") // the baseline: some of its fields are columns
			default:
				out = append(out, path)
			}
			return true
		})
	}
	walk(m.ProtoReflect(), "")
	slices.Sort(out) // Range's order is unspecified
	return out
}

// record orders cells as the columns; a column without a cell, or a cell
// without a column, is a bug of this file.
func (k *resourceKind) record(cells map[string]string) ([]string, error) {
	if len(cells) != len(k.columns) {
		return nil, fmt.Errorf("internal error: %d cells for the %d %s columns", len(cells), len(k.columns), k.noun)
	}
	rec := make([]string, len(k.columns))
	for i, c := range k.columns {
		v, ok := cells[c.name]
		if !ok {
			return nil, fmt.Errorf("internal error: no %s cell for column %s", k.noun, c.name)
		}
		rec[i] = v
	}
	return rec, nil
}

// Stored resources come with the defaults in force filled in; a CSV cell
// holding a default is written empty, as import reads an empty cell as
// that default, so the file states only what was chosen and an export of
// data imported from a file gives that file back.
var defaultCells = map[string]string{
	"time_zone":          "UTC",
	"recapture_rate":     "0",
	"monthly_fee":        "0",
	"billing_period":     "MONTHLY",
	"credit_cap_percent": "100",
	"min_credit_amount":  "0",
	"degradation":        "THRESHOLD",
	"downtime_threshold": "1",
	"granularity":        "SECONDS",
	"rounding":           "HALF_EVEN",
}

func blankDefaults(cells map[string]string) map[string]string {
	for k, def := range defaultCells {
		if v, ok := cells[k]; ok && v == def {
			cells[k] = ""
		}
	}
	return cells
}

func customerCells(p *impactv1.Customer) map[string]string {
	return blankDefaults(map[string]string{
		"customer_id":       p.GetCustomerId(),
		"display_name":      p.GetDisplayName(),
		"currency_code":     p.GetCurrencyCode(),
		"time_zone":         p.GetTimeZone(),
		"hourly_amount":     p.GetBaseline().GetHourlyAmount(),
		"recapture_rate":    p.GetBaseline().GetRecaptureRate(),
		"lifetime_value":    p.GetLifetimeValue(),
		"churn_probability": p.GetChurnProbability(),
		"labels":            formatLabels(p.GetLabels()),
	})
}

// enumCell is an enum by its API name, as import reads it; the unspecified
// value (which takes the default) is an empty cell.
func enumCell(e protoreflect.Enum) string {
	n := e.Number()
	if n == 0 {
		return ""
	}
	if v := e.Descriptor().Values().ByNumber(n); v != nil {
		return string(v.Name())
	}
	return strconv.Itoa(int(n)) // unknown to this build: import will say so
}

func contractCells(customerID string, p *impactv1.Contract) map[string]string {
	minDown := ""
	if n := p.GetMinDowntimeSeconds(); n != 0 {
		minDown = strconv.FormatInt(n, 10)
	}
	return blankDefaults(map[string]string{
		"customer_id":                    customerID,
		"service":                        p.GetService(),
		"monthly_fee":                    p.GetMonthlyFee(),
		"tiers":                          formatTiers(p.GetTiers()),
		"billing_period":                 enumCell(p.GetBillingPeriod()),
		"time_zone":                      p.GetTimeZone(),
		"credit_cap_percent":             p.GetCreditCapPercent(),
		"min_credit_amount":              p.GetMinCreditAmount(),
		"degradation":                    enumCell(p.GetDegradation()),
		"downtime_threshold":             p.GetDowntimeThreshold(),
		"granularity":                    enumCell(p.GetGranularity()),
		"min_downtime_seconds":           minDown,
		"rounding":                       enumCell(p.GetRounding()),
		"labels":                         formatLabels(p.GetLabels()),
		"claim_mode":                     enumCell(p.GetClaimPolicy().GetMode()),
		"claim_deadline_days":            intCell(p.GetClaimPolicy().GetDeadlineDays()),
		"claim_deadline_billing_periods": intCell(p.GetClaimPolicy().GetDeadlineBillingPeriods()),
	})
}

// intCell is a count, empty when 0 (unset).
func intCell(n int32) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(int(n))
}

// timeCell is an instant in RFC 3339, UTC, with as many fractional digits
// as it has (the store keeps microseconds).
func timeCell(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano)
}

func windowCells(incidentID string, p *impactv1.IncidentWindow) (map[string]string, error) {
	id, ok := strings.CutPrefix(p.GetName(), impact.WindowName(incidentID, ""))
	if !ok || id == "" {
		return nil, fmt.Errorf("window %q is not a window of incident %q", p.GetName(), incidentID)
	}
	return map[string]string{
		"incident_id":     incidentID,
		"window_id":       id,
		"customer_id":     p.GetCustomerId(),
		"service":         p.GetService(),
		"start_time":      timeCell(p.GetStartTime()),
		"end_time":        timeCell(p.GetEndTime()),
		"impact_fraction": p.GetImpactFraction(),
	}, nil
}

// resourceWriter writes one kind's rows as CSV (the import file) or as a
// JSON array of the API's resources.
type resourceWriter struct {
	kind   *resourceKind
	csv    *csv.Writer // --format csv
	json   *jsonArray  // --format json
	stderr io.Writer
	lossy  int // rows with fields the CSV cannot carry
}

func newResourceWriter(kind *resourceKind, format string, w *bufio.Writer, stderr io.Writer) *resourceWriter {
	if format == "json" {
		return &resourceWriter{kind: kind, json: &jsonArray{w: w}, stderr: stderr}
	}
	return &resourceWriter{kind: kind, csv: csv.NewWriter(w), stderr: stderr}
}

func (x *resourceWriter) begin() error {
	if x.json != nil {
		return x.json.begin()
	}
	header := make([]string, len(x.kind.columns))
	for i, c := range x.kind.columns {
		header[i] = c.name
	}
	return x.csv.Write(header)
}

// write writes one resource: what names it in warnings, m the API's
// resource, cells its CSV row.
func (x *resourceWriter) write(what string, m proto.Message, cells map[string]string) error {
	if x.json != nil {
		return x.json.add(m)
	}
	if lost := x.kind.uncovered(m); len(lost) > 0 {
		x.lossy++
		fmt.Fprintf(x.stderr, "impactctl export: %s %s: %s not exported (no CSV column; --format json has every field)\n",
			x.kind.noun, what, strings.Join(lost, ", "))
	}
	rec, err := x.kind.record(cells)
	if err != nil {
		return err
	}
	return x.csv.Write(guardRecord(rec))
}

// flush ends a page: the rows written so far leave the process, and a
// write error (a closed pipe) stops the export.
func (x *resourceWriter) flush() error {
	if x.csv != nil {
		x.csv.Flush()
		return x.csv.Error()
	}
	return nil
}

func (x *resourceWriter) end() error {
	if x.json != nil {
		return x.json.end()
	}
	if x.lossy > 0 {
		fmt.Fprintf(x.stderr, "impactctl export: %d %s row(s) lack fields the CSV cannot hold; importing the file would not restore them\n",
			x.lossy, x.kind.noun)
	}
	return x.flush()
}

// exportResources pages through one kind and writes each page as it comes.
func exportResources(ctx context.Context, src resourceSource, kind, incident string, w *resourceWriter) error {
	if err := w.begin(); err != nil {
		return err
	}
	var err error
	switch kind {
	case "customers":
		err = eachPage(ctx, src.customers, func(ps []*impactv1.Customer) error {
			for _, p := range ps {
				if err := w.write(strconv.Quote(p.GetCustomerId()), p, customerCells(p)); err != nil {
					return err
				}
			}
			return w.flush()
		})
	case "contracts":
		err = eachPage(ctx, src.customers, func(cs []*impactv1.Customer) error {
			for _, c := range cs {
				id := c.GetCustomerId()
				list := func(ctx context.Context, token string) ([]*impactv1.Contract, string, error) {
					return src.contracts(ctx, id, token)
				}
				err := eachPage(ctx, list, func(ps []*impactv1.Contract) error {
					for _, p := range ps {
						what := fmt.Sprintf("%q of customer %q", p.GetService(), id)
						if err := w.write(what, p, contractCells(id, p)); err != nil {
							return err
						}
					}
					return w.flush()
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	case "windows":
		windowsOf := func(id string) error {
			list := func(ctx context.Context, token string) ([]*impactv1.IncidentWindow, string, error) {
				return src.windows(ctx, id, token)
			}
			return eachPage(ctx, list, func(ps []*impactv1.IncidentWindow) error {
				for _, p := range ps {
					cells, err := windowCells(id, p)
					if err != nil {
						return err
					}
					if err := w.write(strconv.Quote(p.GetName()), p, cells); err != nil {
						return err
					}
				}
				return w.flush()
			})
		}
		if incident != "" {
			err = windowsOf(incident)
			break
		}
		err = eachPage(ctx, src.incidents, func(ids []string) error {
			for _, id := range ids {
				if err := windowsOf(id); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	return w.end()
}

// eachPage calls do with every page of list, in order.
func eachPage[T any](ctx context.Context, list func(context.Context, string) ([]T, string, error), do func([]T) error) error {
	for token := ""; ; {
		items, next, err := list(ctx, token)
		if err != nil {
			return err
		}
		if err := do(items); err != nil {
			return err
		}
		if next == "" {
			return nil
		}
		token = next
	}
}

// output is where an export goes: stdout, or with -o a file that appears
// complete or not at all (a temporary file renamed when the export ends).
type output struct {
	w    io.Writer
	tmp  *os.File
	path string
}

func openOutput(c *cli, path string) (*output, error) {
	if path == "" || path == "-" {
		return &output{w: c.stdout}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, err
	}
	return &output{w: tmp, tmp: tmp, path: path}, nil
}

// close keeps the file when err is nil and removes it otherwise.
func (o *output) close(err error) error {
	if o.tmp == nil {
		return err
	}
	if err == nil {
		err = o.tmp.Chmod(0o644)
	}
	if cerr := o.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(o.tmp.Name(), o.path)
	}
	if err != nil {
		os.Remove(o.tmp.Name())
	}
	return err
}
