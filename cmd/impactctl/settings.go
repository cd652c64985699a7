package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/store"
)

const settingsUsage = `Usage: impactctl settings get [flags]
       impactctl settings set [--currency CODE] [--rate FROM:TO=RATE]... [--clear-rates] [flags]

The stored reporting settings (README "Fresh figures"): the reporting
currency and the FX rates that :estimate without reporting options, the
refresh and recompute jobs use. get prints them as the API's JSON. set
changes them in one update: --currency sets the reporting currency ("" for
none), each --rate adds or replaces the rate of its currency pair, and
--clear-rates drops the stored rates first. Every estimate that used the
settings and would now report otherwise becomes STALE (and is refreshed).
On --db, or through impactd with --server (set needs an admin's token).
`

// settingsTarget is where the settings are read and written.
type settingsTarget interface {
	get(ctx context.Context) (*impact.ReportingSettings, error)
	update(ctx context.Context, s *impact.ReportingSettings, etag string) (*impact.ReportingSettings, error)
}

type dbSettings struct{ db *store.DB }

func (t dbSettings) get(ctx context.Context) (*impact.ReportingSettings, error) {
	return t.db.GetReportingSettings(ctx)
}

func (t dbSettings) update(ctx context.Context, s *impact.ReportingSettings, etag string) (*impact.ReportingSettings, error) {
	return t.db.UpdateReportingSettings(ctx, s, nil, etag)
}

type apiSettings struct {
	c impactv1.SettingsServiceClient
}

func fromProtoSettings(p *impactv1.ReportingSettings) *impact.ReportingSettings {
	s := &impact.ReportingSettings{ReportingCurrency: p.GetReportingCurrency(), Etag: p.GetEtag()}
	if p.GetUpdateTime() != nil {
		s.UpdateTime = p.GetUpdateTime().AsTime()
	}
	for _, r := range p.GetFxRates() {
		s.FXRates = append(s.FXRates, impact.FXRate{From: r.GetFromCurrency(), To: r.GetToCurrency(), Rate: r.GetRate()})
	}
	return s
}

func toProtoSettings(s *impact.ReportingSettings) *impactv1.ReportingSettings {
	p := &impactv1.ReportingSettings{Name: impact.SettingsName, ReportingCurrency: s.ReportingCurrency, Etag: s.Etag}
	for _, r := range s.FXRates {
		p.FxRates = append(p.FxRates, &impactv1.FxRate{FromCurrency: r.From, ToCurrency: r.To, Rate: r.Rate})
	}
	return p
}

func (t apiSettings) get(ctx context.Context) (*impact.ReportingSettings, error) {
	p, err := t.c.GetReportingSettings(ctx, &impactv1.GetReportingSettingsRequest{Name: impact.SettingsName})
	if err != nil {
		return nil, err
	}
	return fromProtoSettings(p), nil
}

func (t apiSettings) update(ctx context.Context, s *impact.ReportingSettings, etag string) (*impact.ReportingSettings, error) {
	p := toProtoSettings(s)
	p.Etag = etag
	out, err := t.c.UpdateReportingSettings(ctx, &impactv1.UpdateReportingSettingsRequest{Settings: p,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"reporting_currency", "fx_rates"}}})
	if err != nil {
		return nil, err
	}
	return fromProtoSettings(out), nil
}

// openSettings opens --db or dials --server; close releases it.
func openSettings(c *cli, dsn, addr, token, caFile string) (t settingsTarget, ctx context.Context, close func(), err error) {
	if addr != "" {
		conn, ctx, err := dialServer(c.ctx, addr, token, caFile)
		if err != nil {
			return nil, nil, nil, err
		}
		return apiSettings{impactv1.NewSettingsServiceClient(conn)}, ctx, func() { conn.Close() }, nil
	}
	db, err := store.Open(c.ctx, dsn)
	if err != nil {
		return nil, nil, nil, err
	}
	return dbSettings{db}, impact.WithActor(c.ctx, "impactctl settings"), func() { db.Close() }, nil
}

// rateList is a repeatable --rate FROM:TO=RATE.
type rateList []impact.FXRate

func (l *rateList) String() string { return fmt.Sprint(*l) }

func (l *rateList) Set(v string) error {
	pair, rate, ok := strings.Cut(v, "=")
	from, to, ok2 := strings.Cut(pair, ":")
	if !ok || !ok2 || from == "" || to == "" || rate == "" {
		return fmt.Errorf("want FROM:TO=RATE (e.g. EUR:USD=1.0842), got %q", v)
	}
	*l = append(*l, impact.FXRate{From: strings.ToUpper(from), To: strings.ToUpper(to), Rate: rate})
	return nil
}

// mergeRates replaces or adds each rate of add by currency pair.
func mergeRates(have, add []impact.FXRate) []impact.FXRate {
	out := slices.Clone(have)
	for _, r := range add {
		i := slices.IndexFunc(out, func(x impact.FXRate) bool { return x.From == r.From && x.To == r.To })
		if i >= 0 {
			out[i] = r
		} else {
			out = append(out, r)
		}
	}
	return out
}

func printSettings(c *cli, s *impact.ReportingSettings) error {
	p := toProtoSettings(s)
	if !s.UpdateTime.IsZero() {
		p.UpdateTime = timestamppb.New(s.UpdateTime)
	}
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(p)
	if err != nil {
		return err
	}
	// protojson's own indentation varies on purpose; encoding/json's does not.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(c.stdout, out.String())
	return err
}

func runSettings(c *cli, args []string) error {
	f := c.flags("settings", settingsUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT: use the API instead of --db")
	token := f.string("token", "", "bearer token sent to --server (an admin's for set)")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	currency := f.fs.String("currency", "\x00", "set: the reporting currency (\"\" for none)")
	var rates rateList
	f.fs.Var(&rates, "rate", "set: a rate FROM:TO=RATE to add or replace (repeatable)")
	clear := f.fs.Bool("clear-rates", false, "set: drop the stored rates first")
	pos, err := f.parse(args, 1)
	if err != nil {
		return err
	}
	if pos[0] != "get" && pos[0] != "set" {
		return usagef("settings", "want get or set, got %q", pos[0])
	}
	t, ctx, closeFn, err := openSettings(c, *dsn, *addr, *token, *caFile)
	if err != nil {
		return err
	}
	defer closeFn()
	cur, err := t.get(ctx)
	if err != nil {
		return err
	}
	if pos[0] == "get" {
		return printSettings(c, cur)
	}
	next := &impact.ReportingSettings{ReportingCurrency: cur.ReportingCurrency, FXRates: cur.FXRates}
	if *currency != "\x00" {
		next.ReportingCurrency = strings.ToUpper(*currency)
	}
	if *clear {
		next.FXRates = nil
	}
	next.FXRates = mergeRates(next.FXRates, rates)
	out, err := t.update(ctx, next, cur.Etag)
	if err != nil {
		return err
	}
	return printSettings(c, out)
}

// importFXRates is "impactctl import fx-rates FILE.csv": columns
// from_currency*, to_currency*, rate*. Every row is checked first (exit 3
// with every problem); the rates then replace or join the stored ones by
// currency pair in one update, sent with the etag read, so a concurrent
// change is not overwritten. When the settings name no reporting currency
// and every rate goes into one currency, that becomes it.
func importFXRates(c *cli, file, dsn, addr, token, caFile string) error {
	data, err := readInput(c, file)
	if err != nil {
		return err
	}
	t, err := readTable(bytes.NewReader(data), []string{"from_currency", "to_currency", "rate"}, nil)
	if err != nil {
		return err
	}
	if len(t.rows) == 0 {
		return &invalidInput{problems: []string{"the file has a header but no rows"}}
	}
	var rates []impact.FXRate
	line := map[int]int{} // rate index -> file row
	for _, r := range t.rows {
		line[len(rates)] = r.line
		rates = append(rates, impact.FXRate{From: strings.ToUpper(t.get(r, "from_currency")), To: strings.ToUpper(t.get(r, "to_currency")),
			Rate: t.get(r, "rate")})
	}
	// The file's own rows, checked alone first so that problems name rows.
	if _, err := store.ValidateSettings(&impact.ReportingSettings{FXRates: rates}); err != nil {
		var ps []string
		for _, v := range err.(*impact.Error).Violations {
			var i int
			rest := ""
			if n, _ := fmt.Sscanf(v.Field, "settings.fx_rates[%d]", &i); n == 1 {
				_, rest, _ = strings.Cut(v.Field, "]")
				rest = strings.TrimPrefix(rest, ".")
			}
			col := map[string]string{"from_currency": "from_currency", "to_currency": "to_currency", "rate": "rate", "": "from_currency"}[rest]
			ps = append(ps, fmt.Sprintf("row %d, column %s: %s", line[i], col, v.Description))
		}
		return &invalidInput{problems: ps}
	}
	st, ctx, closeFn, err := openSettings(c, dsn, addr, token, caFile)
	if err != nil {
		return err
	}
	defer closeFn()
	cur, err := st.get(ctx)
	if err != nil {
		return err
	}
	next := &impact.ReportingSettings{ReportingCurrency: cur.ReportingCurrency, FXRates: mergeRates(cur.FXRates, rates)}
	if next.ReportingCurrency == "" {
		to := rates[0].To
		if !slices.ContainsFunc(rates, func(r impact.FXRate) bool { return r.To != to }) {
			next.ReportingCurrency = to
		}
	}
	out, err := st.update(ctx, next, cur.Etag)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "imported %d rates; reporting currency %q, %d rates stored\n", len(rates), out.ReportingCurrency, len(out.FXRates))
	return nil
}
