// Command scalebench loads N customers (one contract each), one incident
// affecting all of them and a background of smaller incidents through the
// documented commands (impactctl import of CSV files it writes), then
// measures import, the big incident's :estimate, paging its customers,
// export and recompute, each against a raw insert of the same rows into a
// table of the same shape in the same database and run, with the peak RSS
// of each process. It is run by scripts/scale-bench.sh; see there.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/impact-svc/impact/store"
)

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "scalebench:", err)
		os.Exit(1)
	}
}

type step struct {
	name  string
	rows  int
	took  time.Duration
	rssKB int64
	note  string
}

var steps []step

func run(ctx context.Context) error {
	dsn := flag.String("db", "", "an empty database: sqlite:PATH or a postgres:// URL")
	n := flag.Int("customers", 100_000, "customers, each with one contract and one window in the big incident")
	bg := flag.Int("background", 200, "background incidents")
	perBg := flag.Int("per-background", 50, "customers per background incident")
	ctl := flag.String("impactctl", "impactctl", "the impactctl binary")
	daemon := flag.String("impactd", "impactd", "the impactd binary")
	work := flag.String("work", os.TempDir(), "directory for the CSV files and exports")
	skipServer := flag.Bool("import-only", false, "measure the imports and raw inserts only")
	flag.Parse()
	if *dsn == "" {
		return errors.New("--db is required")
	}
	files, err := writeFiles(*work, *n, *bg, *perBg)
	if err != nil {
		return err
	}
	windows := *n + *bg**perBg
	for _, f := range []struct {
		kind string
		rows int
	}{{"customers", *n}, {"contracts", *n}, {"incidents", *bg + 1}, {"windows", windows}} {
		if err := measure("import "+f.kind, f.rows, *ctl, "import", f.kind, "--db", *dsn, files[f.kind]); err != nil {
			return err
		}
	}
	db, err := store.Open(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, table := range []string{"customers", "contracts"} {
		t, err := rawInsert(ctx, db, table)
		if err != nil {
			return fmt.Errorf("raw insert into %s: %w", table, err)
		}
		steps = append(steps, step{name: "raw insert " + table, rows: *n, took: t})
	}
	if !*skipServer {
		if err := serverSteps(*daemon, *dsn, *n); err != nil {
			return err
		}
		if err := measure("export estimates", *n+*bg**perBg, *ctl, "export", "estimates", "--db", *dsn, "-o", filepath.Join(*work, "estimates.csv")); err != nil {
			return err
		}
		if err := measure("recompute (every estimate)", *n+*bg**perBg, *ctl, "recompute", "--db", *dsn, "--progress-every", "1m", "--show", "0"); err != nil {
			return err
		}
	}
	report(db.Engine(), *n)
	return nil
}

func report(engine store.Engine, n int) {
	raw := map[string]float64{}
	for _, s := range steps {
		if t, ok := strings.CutPrefix(s.name, "raw insert "); ok {
			raw[t] = float64(s.rows) / s.took.Seconds()
		}
	}
	fmt.Printf("\n%s, N = %d\n\n| step | rows | seconds | rows/s | vs raw insert | peak RSS MB | note |\n|---|---:|---:|---:|---:|---:|---|\n", engine, n)
	for _, s := range steps {
		rate := float64(s.rows) / s.took.Seconds()
		ratio := ""
		if t, ok := strings.CutPrefix(s.name, "import "); ok && raw[t] > 0 {
			ratio = fmt.Sprintf("%.2f", rate/raw[t])
		} else if t == "windows" || t == "incidents" || !ok {
			if r := raw["customers"]; r > 0 && !strings.HasPrefix(s.name, "raw") {
				ratio = fmt.Sprintf("%.2f (of customers)", rate/r)
			}
		}
		rss := ""
		if s.rssKB > 0 {
			rss = strconv.FormatInt(s.rssKB>>10, 10)
		}
		fmt.Printf("| %s | %d | %.2f | %.0f | %s | %s | %s |\n", s.name, s.rows, s.took.Seconds(), rate, ratio, rss, s.note)
	}
}

// measure runs a command, recording its wall time and peak RSS.
func measure(name string, rows int, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d := time.Since(t)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	steps = append(steps, step{name: name, rows: rows, took: d, rssKB: rss})
	fmt.Fprintf(os.Stderr, "%s: %d rows in %s, peak RSS %d MB\n", name, rows, d.Round(time.Millisecond), rss>>10)
	return nil
}

func writeFiles(dir string, n, bg, perBg int) (map[string]string, error) {
	files := map[string]string{}
	write := func(kind, header string, rows int, row func(i int) string) error {
		path := filepath.Join(dir, kind+".csv")
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		w.WriteString(header + "\n")
		for i := range rows {
			w.WriteString(row(i) + "\n")
		}
		if err := w.Flush(); err != nil {
			return err
		}
		files[kind] = path
		return f.Close()
	}
	curs := []string{"USD", "EUR", "GBP", "JPY"}
	zones := []string{"UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata"}
	if err := write("customers", "customer_id,currency_code,time_zone,hourly_amount,recapture_rate,lifetime_value,churn_probability", n, func(i int) string {
		amount := fmt.Sprintf("%d.%02d", 40+i%500, i%100)
		if curs[i%4] == "JPY" {
			amount = strconv.Itoa(4000 + i%50000)
		}
		return fmt.Sprintf("c%07d,%s,%s,%s,0.2,250000,0.004", i, curs[i%4], zones[i%4], amount)
	}); err != nil {
		return nil, err
	}
	if err := write("contracts", "customer_id,service,monthly_fee,tiers,billing_period,time_zone", n, func(i int) string {
		return fmt.Sprintf("c%07d,api,%d,99.95:10;99.5:25;99:50,MONTHLY,%s", i, 1000+i%9000, zones[i%4])
	}); err != nil {
		return nil, err
	}
	if err := write("incidents", "incident_id,title,cause,recovery_currency,allocation,recovery_items", bg+1, func(i int) string {
		if i == 0 {
			return "inc-big,Region outage,POWER_FAILURE,USD,BY_IMPACT,labor:sre:120:142.17;expense:generator rental:3:4200.00"
		}
		return fmt.Sprintf("inc-bg-%05d,Background outage,NETWORK_FAILURE,USD,EVEN,labor:sre:3.5:142.17", i)
	}); err != nil {
		return nil, err
	}
	big := time.Date(2025, 7, 14, 13, 0, 0, 0, time.UTC)
	base := time.Date(2025, 1, 3, 0, 0, 0, 0, time.UTC)
	if err := write("windows", "incident_id,window_id,customer_id,service,start_time,end_time,impact_fraction", n+bg*perBg, func(i int) string {
		if i < n {
			s := big.Add(time.Duration(i%600) * time.Second)
			return fmt.Sprintf("inc-big,w%07d,c%07d,api,%s,%s,%s", i, i, s.Format(time.RFC3339), s.Add(time.Duration(1800+i%7200)*time.Second).Format(time.RFC3339),
				[]string{"", "0.5", "0.25"}[i%3])
		}
		j, k := (i-n)/perBg, (i-n)%perBg
		s := base.Add(time.Duration(j) * 13 * time.Hour).Add(time.Duration(k) * time.Minute)
		return fmt.Sprintf("inc-bg-%05d,w%03d,c%07d,api,%s,%s,", j+1, k, (j*perBg+k*7919)%n, s.Format(time.RFC3339), s.Add(45*time.Minute).Format(time.RFC3339))
	}); err != nil {
		return nil, err
	}
	return files, nil
}

// rawInsert copies table's rows into a scratch table of the same columns,
// the fastest plain way each engine offers (PostgreSQL COPY, SQLite
// prepared inserts in transactions of 10,000 rows), and returns the time
// of the insert (not of reading the rows, which are read first).
func rawInsert(ctx context.Context, db *store.DB, table string) (time.Duration, error) {
	x := db.SQL()
	scratch := "bench_raw_" + table
	if _, err := x.ExecContext(ctx, `DROP TABLE IF EXISTS `+scratch); err != nil {
		return 0, err
	}
	if _, err := x.ExecContext(ctx, `CREATE TABLE `+scratch+` AS SELECT * FROM `+table+` WHERE 1 = 0`); err != nil {
		return 0, err
	}
	rows, err := x.QueryContext(ctx, `SELECT * FROM `+table)
	if err != nil {
		return 0, err
	}
	cols, _ := rows.Columns()
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, vals)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	t := time.Now()
	if db.Engine() == store.Postgres {
		conn, err := x.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{scratch}, cols, pgx.CopyFromRows(all))
			return err
		})
		return time.Since(t), err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	for lo := 0; lo < len(all); lo += 10000 {
		tx, err := x.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO `+scratch+` VALUES (`+marks+`)`)
		if err != nil {
			tx.Rollback()
			return 0, err
		}
		for _, v := range all[lo:min(lo+10000, len(all))] {
			if _, err := st.ExecContext(ctx, v...); err != nil {
				tx.Rollback()
				return 0, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(t), nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// serverSteps runs impactd and measures the big incident's :estimate and
// the pages of its customers; impactd's peak RSS is its VmHWM.
func serverSteps(bin, dsn string, n int) error {
	grpcAddr, err := freePort()
	if err != nil {
		return err
	}
	httpAddr, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--db", dsn, "--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--recompute-workers", "0", "--log-level", "error", "--call-timeout", "30m")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	base := "http://" + httpAddr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/healthz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		if i > 300 {
			return errors.New("impactd did not become healthy")
		}
		time.Sleep(100 * time.Millisecond)
	}
	hwm := func() int64 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				return kb
			}
		}
		return 0
	}
	call := func(name, method, path string, rows int) (map[string]any, error) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		t := time.Now()
		resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(t)
		if err != nil || resp.StatusCode != 200 {
			return nil, fmt.Errorf("%s: %d %s", name, resp.StatusCode, body[:min(len(body), 500)])
		}
		var v map[string]any
		_ = json.Unmarshal(body, &v)
		if name != "" {
			steps = append(steps, step{name: name, rows: rows, took: d, rssKB: hwm(), note: fmt.Sprintf("impactd; response %d KB", len(body)>>10)})
		}
		return v, nil
	}
	if _, err := call(":estimate inc-big", "POST", "/v1/incidents/inc-big:estimate", n); err != nil {
		return err
	}
	page := "/v1/incidents/inc-big/estimate/customers?pageSize=1000&orderBy=" + url.QueryEscape("lost_revenue_net desc")
	v, err := call("ListCustomerEstimates first page (1000, lost_revenue_net desc)", "GET", page, 1000)
	if err != nil {
		return err
	}
	// The deep page: the pages are walked to the last by their tokens;
	// the last one is measured on its own.
	var walked time.Duration
	pages := 1
	for {
		tok, _ := v["nextPageToken"].(string)
		if tok == "" {
			break
		}
		t := time.Now()
		next, err := call("", "GET", page+"&pageToken="+url.QueryEscape(tok), 1000)
		if err != nil {
			return err
		}
		walked += time.Since(t)
		pages++
		if nt, _ := next["nextPageToken"].(string); nt == "" {
			t := time.Now()
			if _, err := call("", "GET", page+"&pageToken="+url.QueryEscape(tok), 1000); err != nil {
				return err
			}
			steps = append(steps, step{name: "ListCustomerEstimates last page", rows: 1000, took: time.Since(t), rssKB: hwm(),
				note: fmt.Sprintf("impactd; all %d pages walked in %.2f s", pages, walked.Seconds())})
		}
		v = next
	}
	return nil
}
