package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// The console in a real browser: headless Chromium from the system
// (Debian's chromium package; .ci/run installs it), driven over the
// DevTools protocol by chromedp against the real impactd. Without Chromium
// the tests skip, except in CI, where they must run.
//
// IMPACT_CONSOLE_SCREENSHOTS=docs/console (relative to the repository)
// writes a PNG of every page the tests render.

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is missing in CI: .ci/run installs the chromium package")
	}
	t.Skip("Chromium not found (apt-get install chromium): skipping the browser tests of the console")
	return ""
}

// browser is a fresh headless Chromium with its own profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// visit shows route (a hash route) and waits until the page says it is
// rendered.
func visit(t *testing.T, ctx context.Context, d *impactd, route string) {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, d.url("/")) {
		err = chromedp.Do(ctx, chromedp.Navigate(d.url("/#"+route)))
	} else {
		_, err = chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", "#"+route)))
	}
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx, route)
}

func waitReady(t *testing.T, ctx context.Context, route string) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](fmt.Sprintf("document.querySelector('main').dataset.ready === %q", route),
		chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
		t.Fatalf("page %s not ready: %v\n%s", route, err, text(t, ctx, "main"))
	}
}

func count(t *testing.T, ctx context.Context, selector string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", selector)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func text(t *testing.T, ctx context.Context, selector string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf("(document.querySelector(%q) || {innerText: ''}).innerText", selector)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func click(t *testing.T, ctx context.Context, selector string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("document.querySelector(%q).click()", selector))); err != nil {
		t.Fatal(err)
	}
}

// screenshot saves the page as name.png when IMPACT_CONSOLE_SCREENSHOTS
// names a directory (relative to the repository root).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("IMPACT_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// grouped spells an API amount as the console must show it: thousands
// separators, same digits.
func grouped(code, amount string) string {
	intPart, frac, hasFrac := strings.Cut(amount, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return code + " " + b.String()
}

// apiJSON reads a gateway path as JSON, with token when not empty.
func apiJSON(t *testing.T, d *impactd, path, token string) map[string]any {
	t.Helper()
	hdr := map[string]string{}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	resp, body := consoleCall(t, "GET", d.url(path), "", nil, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d %s", path, resp.StatusCode, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// seedPaging stores an incident hitting 30 customers, one window each, of
// 1 to 30 minutes, and estimates it.
func seedPaging(t *testing.T, d *impactd, token string) {
	t.Helper()
	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	custs := impactv1.NewCustomerServiceClient(d.conn)
	incs := impactv1.NewIncidentServiceClient(d.conn)
	if _, err := incs.CreateIncident(ctx, &impactv1.CreateIncidentRequest{IncidentId: "inc-paging",
		Incident: &impactv1.Incident{Title: "Thirty customers", Cause: impactv1.Incident_NETWORK_FAILURE}}); err != nil {
		t.Fatal(err)
	}
	breq := &impactv1.BatchCreateIncidentWindowsRequest{Parent: "incidents/inc-paging"}
	start := time.Date(2025, 8, 4, 9, 0, 0, 0, time.UTC)
	for i := 1; i <= 30; i++ {
		id := fmt.Sprintf("p%02d", i)
		if _, err := custs.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{CustomerId: id, Customer: &impactv1.Customer{
			DisplayName: "Paging " + id, CurrencyCode: "USD", Baseline: &impactv1.RevenueBaseline{HourlyAmount: "600.00"}}}); err != nil {
			t.Fatal(err)
		}
		breq.Requests = append(breq.Requests, &impactv1.CreateIncidentWindowRequest{OutageWindow: &impactv1.IncidentWindow{
			CustomerId: id, Service: "api", StartTime: timestamppb.New(start), EndTime: timestamppb.New(start.Add(time.Duration(i) * time.Minute))}})
	}
	if _, err := incs.BatchCreateIncidentWindows(ctx, breq); err != nil {
		t.Fatal(err)
	}
	if _, err := incs.EstimateIncident(ctx, &impactv1.EstimateIncidentRequest{Name: "incidents/inc-paging"}); err != nil {
		t.Fatal(err)
	}
}

// firstColumn is the text of the first cell of every body row of a table.
func firstColumn(t *testing.T, ctx context.Context, table string) []string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf("[...document.querySelectorAll('%s tbody tr')].map(r => r.cells[0].innerText)", table)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// claimPolicies make the seed's shop (monthly, Berlin) claim within 5
// days of its period and dc-polar (quarterly) within 30; the bank stays
// automatic.
var claimPolicies = map[string]*impactv1.ClaimPolicy{
	"shop-lindenhof": {Mode: impactv1.ClaimPolicy_ON_REQUEST, DeadlineDays: 5},
	"dc-polar":       {Mode: impactv1.ClaimPolicy_ON_REQUEST, DeadlineDays: 30},
}

// TestConsoleBrowser renders every page on the seed's story with the open
// console (no tokens) and checks each figure against the API.
func TestConsoleBrowser(t *testing.T) {
	ctx := browser(t)
	// impactd's clock on 5 August 2025: July's credits are due.
	d := start(t, "--clock-start", "2025-08-05T00:00:00Z")
	seedStoryWith(t, d, "", claimPolicies)
	seedPaging(t, d, "")
	const inc = "inc-2025-07-14-fra-b"

	t.Run("incidents", func(t *testing.T) {
		visit(t, ctx, d, "/incidents")
		if n := count(t, ctx, "#incidents-table tbody tr"); n != 2 {
			t.Errorf("%d incident rows, want 2", n)
		}
		// Newest first: the paging incident (August) before the seed's (July).
		if rows := firstColumn(t, ctx, "#incidents-table"); len(rows) != 2 || !strings.HasPrefix(rows[0], "inc-paging") {
			t.Errorf("rows %q, want inc-paging first", rows)
		}
		rt := apiJSON(t, d, "/v1/incidents/"+inc+"/estimate", "")["reportingTotals"].(map[string]any)
		page := text(t, ctx, "#incidents-table")
		for _, k := range []string{"lostRevenueNet", "recoveryCost", "slaCredits", "churnExposure"} {
			if want := grouped("USD", rt[k].(string)); !strings.Contains(page, want) {
				t.Errorf("incidents page lacks %s %s:\n%s", k, want, page)
			}
		}
		screenshot(t, ctx, "incidents")
		// The cause filter is part of the URL.
		visit(t, ctx, d, "/incidents?cause=POWER_FAILURE")
		if rows := firstColumn(t, ctx, "#incidents-table"); len(rows) != 1 || !strings.HasPrefix(rows[0], inc) {
			t.Errorf("filtered rows %q", rows)
		}
		visit(t, ctx, d, "/incidents?from=2025-08-01")
		if rows := firstColumn(t, ctx, "#incidents-table"); len(rows) != 1 || !strings.HasPrefix(rows[0], "inc-paging") {
			t.Errorf("rows from August %q", rows)
		}
	})

	t.Run("incident", func(t *testing.T) {
		visit(t, ctx, d, "/incidents/"+inc)
		// One mark per stored window.
		ws := apiJSON(t, d, "/v1/incidents/"+inc+"/windows", "")["outageWindows"].([]any)
		if n := count(t, ctx, "svg.timeline .mark"); n != len(ws) || n != 5 {
			t.Errorf("%d timeline marks, want %d windows", n, len(ws))
		}
		if rows := firstColumn(t, ctx, "#customers-table"); strings.Join(rows, ",") != "bank-northwind,dc-polar,shop-lindenhof" {
			t.Errorf("default order (net lost revenue, largest first) %q", rows)
		}
		est := apiJSON(t, d, "/v1/incidents/"+inc+"/estimate", "")
		tbl := text(t, ctx, "#customers-table") + text(t, ctx, "#totals-table")
		for _, c := range est["customers"].([]any) {
			c := c.(map[string]any)
			for _, m := range []any{c["lostRevenue"].(map[string]any)["net"], c["recoveryCost"], c["churnExposure"]} {
				m := m.(map[string]any)
				if want := grouped(m["currencyCode"].(string), m["amount"].(string)); !strings.Contains(tbl, want) {
					t.Errorf("incident page lacks %s", want)
				}
			}
		}
		for _, tot := range est["totals"].([]any) {
			tot := tot.(map[string]any)
			if want := grouped(tot["currencyCode"].(string), tot["slaCredits"].(string)); !strings.Contains(tbl, want) {
				t.Errorf("totals lack %s", want)
			}
		}
		if n := count(t, ctx, "#revisions-table tbody tr"); n != 1 {
			t.Errorf("%d revisions, want 1", n)
		}
		screenshot(t, ctx, "incident")
		// Sorting is the server's: by SLA credit, largest first (EUR
		// 13,875.00 polar, USD 1,234.57 bank, EUR 240.00 shop in USD).
		click(t, ctx, `button[data-sort="sla_credits"]`)
		waitReady(t, ctx, "/incidents/"+inc+"?order=sla_credits%20desc")
		if rows := firstColumn(t, ctx, "#customers-table"); strings.Join(rows, ",") != "dc-polar,bank-northwind,shop-lindenhof" {
			t.Errorf("by SLA credits %q", rows)
		}
		if s := text(t, ctx, `th[aria-sort="descending"]`); !strings.Contains(s, "SLA credits") {
			t.Errorf("aria-sort on %q", s)
		}
		click(t, ctx, `button[data-sort="customer_id"]`)
		waitReady(t, ctx, "/incidents/"+inc+"?order=customer_id")
		if rows := firstColumn(t, ctx, "#customers-table"); strings.Join(rows, ",") != "bank-northwind,dc-polar,shop-lindenhof" {
			t.Errorf("by customer %q", rows)
		}
	})

	t.Run("paging", func(t *testing.T) {
		visit(t, ctx, d, "/incidents/inc-paging?order=impact_seconds%20desc")
		rows := firstColumn(t, ctx, "#customers-table")
		if len(rows) != 25 || rows[0] != "p30" || rows[24] != "p06" {
			t.Errorf("page 1: %d rows %q…", len(rows), rows)
		}
		if n := count(t, ctx, "svg.timeline .mark"); n != 30 {
			t.Errorf("%d marks, want 30", n)
		}
		click(t, ctx, `#main button[data-page="next"]`)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](`(document.querySelector('main').dataset.ready || '').includes('&page=')`)); err != nil {
			t.Fatal(err)
		}
		if rows := firstColumn(t, ctx, "#customers-table"); strings.Join(rows, ",") != "p05,p04,p03,p02,p01" {
			t.Errorf("page 2: %q", rows)
		}
		click(t, ctx, `#main button[data-page="prev"]`)
		waitReady(t, ctx, "/incidents/inc-paging?order=impact_seconds%20desc")
		if rows := firstColumn(t, ctx, "#customers-table"); len(rows) != 25 || rows[0] != "p30" {
			t.Errorf("back to page 1: %q", rows)
		}
	})

	t.Run("customer", func(t *testing.T) {
		visit(t, ctx, d, "/customers")
		cs := apiJSON(t, d, "/v1/customers?pageSize=50", "")["customers"].([]any)
		if rows := firstColumn(t, ctx, "#customers-list"); len(rows) != len(cs) || rows[0] != cs[0].(map[string]any)["customerId"] {
			t.Errorf("customers %q, want the API's %d", rows, len(cs))
		}
		screenshot(t, ctx, "customers")
		visit(t, ctx, d, "/customers/shop-lindenhof")
		if n := count(t, ctx, "#contracts-table tbody tr"); n != 1 {
			t.Errorf("%d contracts, want 1", n)
		}
		if s := text(t, ctx, "#customer-incidents"); !strings.Contains(s, inc) {
			t.Errorf("incidents that touched it: %q", s)
		}
		main := text(t, ctx, "main")
		if !strings.Contains(main, "EUR 2,400.00 a month") {
			t.Errorf("contract fee missing:\n%s", main)
		}
		// This period's (August's) headroom: an uptime bar and the API's
		// figures.
		hr := apiJSON(t, d, "/v1/customers/shop-lindenhof/contracts/compute:headroom", "")
		if n := count(t, ctx, "#main article.headroom svg.uptime"); n != 1 {
			t.Errorf("%d uptime bars, want 1 contract's", n)
		}
		next := hr["tiers"].([]any)[0].(map[string]any)
		head := text(t, ctx, "article.headroom")
		for _, want := range []string{"Uptime " + hr["uptimePercent"].(string) + " %", hr["period"].(string),
			grouped("EUR", next["creditAmount"].(map[string]any)["amount"].(string)), strings.TrimSpace(grouped("", next["additionalDowntimeSeconds"].(string))) + " s"} {
			if !strings.Contains(head, want) {
				t.Errorf("headroom lacks %q:\n%s", want, head)
			}
		}
		sts := apiJSON(t, d, "/v1/customers/shop-lindenhof/contracts/compute/statements", "")["slaStatements"].([]any)
		if n := count(t, ctx, "#statements-table tbody tr"); n != len(sts) || n == 0 {
			t.Errorf("%d statement rows, want %d", n, len(sts))
		}
		for _, st := range sts {
			st := st.(map[string]any)
			if want := grouped("EUR", st["creditAmount"].(map[string]any)["amount"].(string)); !strings.Contains(text(t, ctx, "#statements-table"), want) {
				t.Errorf("statements lack %s", want)
			}
		}
		lines := apiJSON(t, d, "/v1/customers/shop-lindenhof/creditLines", "")["creditLines"].([]any)
		lt := text(t, ctx, "#lines-table")
		if n := count(t, ctx, "#lines-table tbody tr"); n != len(lines) || n != 1 {
			t.Errorf("%d credit line rows, want %d", n, len(lines))
		}
		for _, want := range []string{"CLAIMABLE", "EUR 240.00", "06 Aug 2025, 00:00:00 Europe/Berlin"} {
			if !strings.Contains(lt, want) {
				t.Errorf("credit lines lack %q:\n%s", want, lt)
			}
		}
		screenshot(t, ctx, "customer")
	})

	t.Run("statement", func(t *testing.T) {
		visit(t, ctx, d, "/statements/"+inc+"/shop-lindenhof")
		st := apiJSON(t, d, "/v1/incidents/"+inc+"/impactStatements/shop-lindenhof", "")
		if n := count(t, ctx, "svg.timeline .mark"); n != 2 {
			t.Errorf("%d marks, want the shop's 2 windows", n)
		}
		if n := count(t, ctx, "#exclusions-table tbody tr"); n != len(st["exclusions"].([]any)) {
			t.Errorf("%d exclusion rows, want %d", n, len(st["exclusions"].([]any)))
		}
		p := st["periods"].([]any)[0].(map[string]any)
		periods := text(t, ctx, "#periods-table")
		for _, want := range []string{grouped("EUR", p["creditAmount"].(map[string]any)["amount"].(string)), p["uptimePercent"].(string) + " %", "1,800 s"} {
			if !strings.Contains(periods, want) {
				t.Errorf("periods lack %q:\n%s", want, periods)
			}
		}
		if s := text(t, ctx, "main"); !strings.Contains(s, "maintenance window") || !strings.Contains(s, "Europe/Berlin") {
			t.Errorf("statement text:\n%s", s)
		}
		// The shop claims on request: by the contract's deadline, in its
		// zone, as the API says it.
		if p["claimMode"] != "ON_REQUEST" || p["claimDeadline"] != "2025-08-05T22:00:00Z" {
			t.Errorf("claim %v by %v", p["claimMode"], p["claimDeadline"])
		}
		if !strings.Contains(periods, "On request: claim it before 06 Aug 2025, 00:00:00 Europe/Berlin") {
			t.Errorf("periods lack the claim deadline:\n%s", periods)
		}
		main := text(t, ctx, "main")
		// What happened and each period in words (the exclusions are the
		// table's rows).
		for _, line := range toStrings(st["summary"])[:1+len(st["periods"].([]any))] {
			if !strings.Contains(main, line) {
				t.Errorf("the page lacks the API's summary line %q", line)
			}
		}
		screenshot(t, ctx, "statement")
		defer func() {
			// The bank's credit is automatic.
			visit(t, ctx, d, "/statements/"+inc+"/bank-northwind")
			if s := text(t, ctx, "#periods-table"); !strings.Contains(s, "Automatic: credited without a claim once the period has ended (01 Aug 2025, 00:00:00 UTC)") {
				t.Errorf("bank's periods:\n%s", s)
			}
		}()
		pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
		if err != nil {
			t.Fatal(err)
		}
		if len(pdf) < 1000 || string(pdf[:5]) != "%PDF-" {
			t.Errorf("PrintToPDF gave %d bytes", len(pdf))
		}
		if dir := os.Getenv("IMPACT_CONSOLE_SCREENSHOTS"); dir != "" {
			os.WriteFile(filepath.Join("..", "..", dir, "statement.pdf"), pdf, 0o644)
		}
		// Print styles hide the navigation.
		hidden, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`[...document.styleSheets].some(s => [...s.cssRules].some(r => r.media && r.media.mediaText === 'print' && r.cssText.includes('header.top')))`))
		if err != nil {
			t.Fatal(err)
		}
		if !hidden {
			t.Error("no print rule hides the navigation")
		}
	})

	t.Run("exposure", func(t *testing.T) {
		route := "/exposure?customers=bank-northwind,shop-lindenhof&start=2025-08-10T10:00&durations=15m,1h,4h&run=1"
		visit(t, ctx, d, route)
		// The same simulation through the API: the start as the browser
		// read the form (a wall time in its zone).
		startISO, err := chromedp.Run(ctx, chromedp.Evaluate[string](`new Date('2025-08-10T10:00').toISOString()`))
		if err != nil {
			t.Fatal(err)
		}
		resp, body := consoleCall(t, "POST", d.url("/v1/exposure:simulate"),
			`{"selector": {"customerIds": ["bank-northwind", "shop-lindenhof"]}, "startTime": "`+startISO+
				`", "durations": ["900s", "3600s", "14400s"], "impactFraction": "1", "cause": "UNKNOWN", "topN": 10}`,
			nil, map[string]string{"Content-Type": "application/json"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("simulate: HTTP %d %s", resp.StatusCode, body)
		}
		var sim struct {
			Results []struct {
				Totals []struct{ CurrencyCode, MarginalCredit, LostRevenueNet string }
				Top    []struct {
					CustomerID     string `json:"customerId"`
					MarginalCredit struct{ CurrencyCode, Amount string }
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &sim); err != nil {
			t.Fatal(err)
		}
		// USD (the bank) and EUR (the shop), no reporting currency: one
		// chart per currency, each with a mark per duration.
		if n, c := count(t, ctx, "svg.curve .mark"), count(t, ctx, "svg.curve"); c != 2 || n != 3*c {
			t.Errorf("%d marks in %d charts, want 3 durations in each of 2", n, c)
		}
		totals := text(t, ctx, "#whatif-totals")
		for i, r := range sim.Results {
			if len(r.Totals) != 2 {
				t.Fatalf("result %d: totals %+v", i, r.Totals)
			}
			for _, tot := range r.Totals {
				for _, v := range []string{tot.MarginalCredit, tot.LostRevenueNet} {
					if want := grouped(tot.CurrencyCode, v); !strings.Contains(totals, want) {
						t.Errorf("duration %d: totals lack %s:\n%s", i, want, totals)
					}
				}
			}
			top := firstColumn(t, ctx, fmt.Sprintf(`table.whatif-top[data-duration="%d"]`, []int{900, 3600, 14400}[i]))
			topText := text(t, ctx, fmt.Sprintf(`table.whatif-top[data-duration="%d"]`, []int{900, 3600, 14400}[i]))
			var want []string
			for _, c := range r.Top {
				want = append(want, c.CustomerID)
				if m := grouped(c.MarginalCredit.CurrencyCode, c.MarginalCredit.Amount); !strings.Contains(topText, m) {
					t.Errorf("top of duration %d lacks %s", i, m)
				}
			}
			if strings.Join(top, ",") != strings.Join(want, ",") || len(want) != 2 {
				t.Errorf("top customers of duration %d: %q, want %q", i, top, want)
			}
		}
		// The contracts nearest their next tier, as ListContractHeadroom
		// orders them.
		hr := apiJSON(t, d, "/v1/exposure/headroom?pageSize=10&selector.customerIds=bank-northwind&selector.customerIds=shop-lindenhof", "")["headroom"].([]any)
		rows := firstColumn(t, ctx, "#headroom-table")
		if len(rows) != len(hr) || len(hr) != 2 {
			t.Fatalf("headroom rows %q, want %d", rows, len(hr))
		}
		for i, x := range hr {
			x := x.(map[string]any)
			if want := strings.Replace(strings.TrimPrefix(x["contract"].(string), "customers/"), "/contracts/", " · ", 1); rows[i] != want {
				t.Errorf("headroom row %d: %q, want %q", i, rows[i], want)
			}
			if !strings.Contains(text(t, ctx, "#headroom-table"), x["uptimePercent"].(string)+" %") {
				t.Errorf("headroom lacks uptime %v", x["uptimePercent"])
			}
		}
		screenshot(t, ctx, "exposure")
	})

	t.Run("credits", func(t *testing.T) {
		// At impactd's clock (5 August 2025): the bank's July line is
		// APPROVED (automatic), the shop's CLAIMABLE until 6 August 00:00
		// Berlin, the polar Q3 line ACCRUING.
		visit(t, ctx, d, "/credits")
		lines := apiJSON(t, d, "/v1/customers/-/creditLines", "")["creditLines"].([]any)
		rows := firstColumn(t, ctx, "#lines-table")
		if len(rows) != len(lines) || len(lines) != 3 {
			t.Fatalf("credit rows %q, want the API's %d lines", rows, len(lines))
		}
		page := text(t, ctx, "#lines-table")
		states := map[string]string{}
		for i, l := range lines {
			l := l.(map[string]any)
			states[l["customerId"].(string)] = l["state"].(string)
			m := l["amount"].(map[string]any)
			if rows[i] != l["customerId"] || !strings.Contains(page, grouped(m["currencyCode"].(string), m["amount"].(string))) ||
				!strings.Contains(page, l["state"].(string)) {
				t.Errorf("row %d %q: want %v %v %v", i, rows[i], l["customerId"], m, l["state"])
			}
		}
		if states["bank-northwind"] != "APPROVED" || states["shop-lindenhof"] != "CLAIMABLE" || states["dc-polar"] != "ACCRUING" {
			t.Errorf("states %v", states)
		}
		// The shop's deadline in the contract's zone, labelled.
		if !strings.Contains(page, "06 Aug 2025, 00:00:00 Europe/Berlin") {
			t.Errorf("no deadline in the contract's zone:\n%s", page)
		}
		screenshot(t, ctx, "credits")

		visit(t, ctx, d, "/credits?due=7")
		due := apiJSON(t, d, `/v1/customers/-/creditLines?filter=state%20%3D%20CLAIMABLE%20AND%20claim_deadline%20%3C%20%222025-08-12T00%3A00%3A00Z%22`, "")["creditLines"].([]any)
		if rows := firstColumn(t, ctx, "#lines-table"); len(due) != 1 || len(rows) != 1 || rows[0] != "shop-lindenhof" {
			t.Errorf("due within 7 days: %q (API %d)", rows, len(due))
		}
		visit(t, ctx, d, "/credits?state=APPROVED")
		if rows := firstColumn(t, ctx, "#lines-table"); strings.Join(rows, ",") != "bank-northwind" {
			t.Errorf("approved: %q", rows)
		}
		// The open console is an admin's: claim the polar line, approve it,
		// record its issue.
		visit(t, ctx, d, "/credits?customer=dc-polar")
		name := ""
		for _, l := range lines {
			if l := l.(map[string]any); l["customerId"] == "dc-polar" {
				name = l["name"].(string)
			}
		}
		form := fmt.Sprintf(`form[data-line=%q]`, name)
		step := func(verb string, fields map[string]string, want string) map[string]any {
			t.Helper()
			for k, v := range fields {
				if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(form+` input[name=`+k+`]`), v)); err != nil {
					t.Fatal(err)
				}
			}
			click(t, ctx, form+` button[data-action=`+verb+`]`)
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('#credit-msg').innerText.includes('is now %s')`, want))); err != nil {
				t.Fatalf("%s: %v\n%s", verb, err, text(t, ctx, "main"))
			}
			waitReady(t, ctx, "/credits?customer=dc-polar")
			l := apiJSON(t, d, "/v1/"+name, "")
			if l["state"] != want {
				t.Errorf("after %s: %v, want %s", verb, l["state"], want)
			}
			return l
		}
		if l := step("claim", map[string]string{"reference": "ticket-4711"}, "CLAIMED"); l["claimReference"] != "ticket-4711" {
			t.Errorf("claim reference %v", l["claimReference"])
		}
		if !strings.Contains(text(t, ctx, "#lines-table"), "ref. ticket-4711") {
			t.Errorf("the claim is not shown")
		}
		step("approve", nil, "APPROVED")
		amount := apiJSON(t, d, "/v1/"+name, "")["amount"].(map[string]any)["amount"].(string)
		if l := step("issue", map[string]string{"billingReference": "CN-1"}, "ISSUED"); l["issuedAmount"].(map[string]any)["amount"] != amount || l["billingReference"] != "CN-1" {
			t.Errorf("issued %v", l)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		// Every control has a label (an accessible name), every table a
		// header row, on every page.
		for _, r := range []string{"/incidents", "/incidents/" + inc, "/customers", "/customers/shop-lindenhof", "/exposure",
			"/exposure?customers=bank-northwind&start=2025-08-10T10:00&durations=15m,1h&run=1", "/credits",
			"/statements/" + inc + "/shop-lindenhof"} {
			visit(t, ctx, d, r)
			unlabelled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('input, select, textarea')].filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)`))
			if err != nil {
				t.Fatal(err)
			}
			if len(unlabelled) > 0 {
				t.Errorf("%s: controls without labels: %q", r, unlabelled)
			}
			if n := count(t, ctx, "main table:not(:has(thead th))"); n != 0 {
				t.Errorf("%s: %d tables without headers", r, n)
			}
			if n := count(t, ctx, "main h1"); n != 1 {
				t.Errorf("%s: %d h1 headings", r, n)
			}
			// Every button says what it does.
			if n := count(t, ctx, "main button:empty"); n != 0 {
				t.Errorf("%s: %d buttons without text", r, n)
			}
			// The tab's title names the page.
			if title, h1 := text(t, ctx, "title"), text(t, ctx, "main h1"); !strings.HasPrefix(title, h1) {
				t.Errorf("%s: title %q, h1 %q", r, title, h1)
			}
		}
		// A credit line's state is words, not only a colour.
		visit(t, ctx, d, "/credits")
		if s := text(t, ctx, "#lines-table .badge"); s == "" {
			t.Error("a state badge without text")
		}
		// The skip link focuses the content and keeps the page.
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS("a.skip")), chromedp.KeyEvent("\r")); err != nil {
			t.Fatal(err)
		}
		if id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id + location.hash`)); err != nil || id != "main#/credits" {
			t.Errorf("after the skip link: %q %v", id, err)
		}
		// Sort buttons are buttons: reachable and pressed by keyboard.
		visit(t, ctx, d, "/incidents/"+inc)
		if err := chromedp.Do(ctx, chromedp.Focus(chromedp.CSS(`button[data-sort="churn_exposure"]`)),
			chromedp.KeyEvent("\r")); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, "/incidents/"+inc+"?order=churn_exposure%20desc")
	})
}

// TestConsoleIncidentsPaging: thirty incidents, one a day, newest first in
// pages of 25 read from the URL; the server orders them.
func TestConsoleIncidentsPaging(t *testing.T) {
	ctx := browser(t)
	d := start(t)
	bg := context.Background()
	if _, err := impactv1.NewCustomerServiceClient(d.conn).CreateCustomer(bg, &impactv1.CreateCustomerRequest{CustomerId: "c1",
		Customer: &impactv1.Customer{CurrencyCode: "USD", Baseline: &impactv1.RevenueBaseline{HourlyAmount: "100"}}}); err != nil {
		t.Fatal(err)
	}
	incs := impactv1.NewIncidentServiceClient(d.conn)
	for i := 1; i <= 30; i++ {
		id := fmt.Sprintf("i%02d", i)
		if _, err := incs.CreateIncident(bg, &impactv1.CreateIncidentRequest{IncidentId: id, Incident: &impactv1.Incident{Cause: impactv1.Incident_SOFTWARE_DEFECT}}); err != nil {
			t.Fatal(err)
		}
		s := time.Date(2025, 6, i, 12, 0, 0, 0, time.UTC)
		if _, err := incs.BatchCreateIncidentWindows(bg, &impactv1.BatchCreateIncidentWindowsRequest{Parent: "incidents/" + id,
			Requests: []*impactv1.CreateIncidentWindowRequest{{OutageWindow: &impactv1.IncidentWindow{CustomerId: "c1", Service: "api",
				StartTime: timestamppb.New(s), EndTime: timestamppb.New(s.Add(time.Hour))}}}}); err != nil {
			t.Fatal(err)
		}
	}
	visit(t, ctx, d, "/incidents")
	api := apiJSON(t, d, "/v1/incidents?pageSize=25&orderBy=start_time%20desc", "")["incidents"].([]any)
	rows := firstColumn(t, ctx, "#incidents-table")
	if len(rows) != 25 || len(api) != 25 {
		t.Fatalf("%d rows (API %d), want 25", len(rows), len(api))
	}
	for i, in := range api {
		if id := in.(map[string]any)["incidentId"].(string); rows[i] != id {
			t.Errorf("row %d: %q, want the API's %q", i, rows[i], id)
		}
	}
	if rows[0] != "i30" || rows[24] != "i06" {
		t.Errorf("page 1 %q…%q", rows[0], rows[24])
	}
	click(t, ctx, `#main button[data-page="next"]`)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](`(document.querySelector('main').dataset.ready || '').includes('?page=')`)); err != nil {
		t.Fatal(err)
	}
	if rows := firstColumn(t, ctx, "#incidents-table"); strings.Join(rows, ",") != "i05,i04,i03,i02,i01" {
		t.Errorf("page 2: %q", rows)
	}
	// The URL of page 2 shows page 2 in a fresh browser tab too.
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := chromedp.NewContext(ctx)
	defer cancel2()
	if err := chromedp.Do(ctx2, chromedp.Navigate(loc)); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx2, strings.SplitN(loc, "#", 2)[1])
	if rows := firstColumn(t, ctx2, "#incidents-table"); len(rows) != 5 || rows[0] != "i05" {
		t.Errorf("shared page 2: %q", rows)
	}
	// Time filter: the incidents overlapping 10–12 June in the viewer's
	// zone (12:00–13:00 UTC is on the same date in any zone within ±11 h).
	visit(t, ctx, d, "/incidents?from=2025-06-10&until=2025-06-12")
	if rows := firstColumn(t, ctx, "#incidents-table"); strings.Join(rows, ",") != "i12,i11,i10" {
		t.Errorf("10–12 June: %q", rows)
	}
}

// TestConsoleRoles signs in with each role: a viewer sees no write
// controls, an editor's write goes through with its CSRF token, and a
// form forged on another origin is refused with the editor's cookie.
func TestConsoleRoles(t *testing.T) {
	ctx := browser(t)
	d := start(t, "--auth-tokens", writeTokens(t), "--clock-start", "2025-08-05T00:00:00Z")
	seedStoryWith(t, d, editorToken, claimPolicies)
	const inc = "inc-2025-07-14-fra-b"

	signInAs := func(t *testing.T, token string) {
		t.Helper()
		if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(d.url("/#/signin")), chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, "/signin")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), token),
			chromedp.Click(chromedp.CSS("#signin-form button[type=submit]"))); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, "/incidents")
	}

	t.Run("signin", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(d.url("/#/incidents"))); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, "/signin")
		screenshot(t, ctx, "signin")
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Click(chromedp.CSS("#signin-form button[type=submit]")),
			chromedp.Poll[chromedp.Void](`document.querySelector('#signin-msg').innerText.includes('not valid')`)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("viewer", func(t *testing.T) {
		signInAs(t, viewerToken)
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Cookies) == 0 {
			t.Error("no cookies after sign-in")
		}
		for _, c := range res.Cookies {
			if c.Name == "impact_session" && (!c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Value == viewerToken) {
				t.Errorf("session cookie %+v", c)
			}
		}
		if s := text(t, ctx, "#who"); !strings.Contains(s, "vera (viewer)") {
			t.Errorf("who: %q", s)
		}
		for _, r := range []string{"/incidents/" + inc, "/credits"} {
			visit(t, ctx, d, r)
			if n := count(t, ctx, ".write, [data-action]"); n != 0 {
				t.Errorf("%s: a viewer sees %d write controls", r, n)
			}
		}
		// …on lines it could act on were it an editor or admin.
		if n := count(t, ctx, "#lines-table tbody tr"); n != 3 {
			t.Errorf("a viewer sees %d credit lines, want 3", n)
		}
		// A session that ends (here: its cookie gone) leads back to sign-in.
		if _, err := chromedp.Call(ctx, network.DeleteCookies, network.DeleteCookiesParams{Name: "impact_session", URL: d.url("/")}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/customers'`)); err != nil {
			t.Fatal(err)
		}
		waitReady(t, ctx, "/signin")
	})

	t.Run("editor", func(t *testing.T) {
		signInAs(t, editorToken)
		visit(t, ctx, d, "/incidents/"+inc)
		if n := count(t, ctx, "form.write"); n == 0 {
			t.Fatal("an editor sees no write controls")
		}
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#edit-title"), "Power failure, Frankfurt B"),
			chromedp.Click(chromedp.CSS("form.write button[type=submit]")),
			chromedp.Poll[chromedp.Void](`document.querySelector('form.write [role=status]').innerText.includes('Saved')`)); err != nil {
			t.Fatal(err)
		}
		if got := apiJSON(t, d, "/v1/incidents/"+inc, editorToken)["title"]; got != "Power failure, Frankfurt B" {
			t.Errorf("title after the console's write: %v", got)
		}

		// A page on another origin (another port of the same host: the
		// same site, so SameSite=Strict still sends the cookie) posts a
		// form to impactd: refused before the gateway.
		forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `<!doctype html><form method="POST" enctype="text/plain" action="%s">
<input name='{"cause":"POWER_FAILURE","title":"' value='forged"}'></form>
<script>document.forms[0].submit()</script>`, d.url("/v1/incidents?incidentId=forged"))
		}))
		defer forger.Close()
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(wctx, chromedp.Navigate(forger.URL),
			chromedp.Poll[chromedp.Void](`document.body && document.body.innerText.includes('refused')`)); err != nil {
			t.Fatalf("forged post: %v\n%s", err, text(t, ctx, "body"))
		}
		actx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminToken)
		_, err := impactv1.NewIncidentServiceClient(d.conn).GetIncident(actx, &impactv1.GetIncidentRequest{Name: "incidents/forged"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("the forged incident: %v, want NotFound", err)
		}
	})

	const shopLine = "customers/shop-lindenhof/contracts/compute/creditLines/2025-07"
	t.Run("editor credits", func(t *testing.T) {
		signInAs(t, editorToken)
		visit(t, ctx, d, "/credits")
		// An editor claims the two ON_REQUEST lines and approves nothing.
		if n := count(t, ctx, "button[data-action=claim]"); n != 2 {
			t.Errorf("%d claim buttons, want 2 (the shop's and polar's)", n)
		}
		if n := count(t, ctx, "button[data-action=approve], button[data-action=reject], button[data-action=issue]"); n != 0 {
			t.Errorf("an editor sees %d admin actions", n)
		}
		// The page's own origin, the session's cookie, no CSRF token: refused.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`fetch('/v1/%s:claim', {method: 'POST',
			headers: {'Content-Type': 'application/json'}, body: '{}'}).then((r) => r.status)`, shopLine),
			chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if got != http.StatusForbidden {
			t.Errorf("a claim without the CSRF token: HTTP %d, want 403", got)
		}
		if st := apiJSON(t, d, "/v1/"+shopLine, viewerToken)["state"]; st != "CLAIMABLE" {
			t.Errorf("after the refused claim: %v", st)
		}
		form := fmt.Sprintf(`form[data-line=%q]`, shopLine)
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS(form+` input[name=reference]`), "mail 2025-08-04")); err != nil {
			t.Fatal(err)
		}
		click(t, ctx, form+` button[data-action=claim]`)
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](`document.querySelector('#credit-msg').innerText.includes('is now CLAIMED')`)); err != nil {
			t.Fatalf("claim: %v\n%s", err, text(t, ctx, "main"))
		}
		waitReady(t, ctx, "/credits")
		l := apiJSON(t, d, "/v1/"+shopLine, viewerToken)
		if l["state"] != "CLAIMED" || l["claimedBy"] != "alice" || l["claimReference"] != "mail 2025-08-04" {
			t.Errorf("the claim: %v %v %v", l["state"], l["claimedBy"], l["claimReference"])
		}
		if n := count(t, ctx, "button[data-action=approve]"); n != 0 {
			t.Errorf("an editor may approve the claimed line: %d buttons", n)
		}
	})

	t.Run("admin credits", func(t *testing.T) {
		signInAs(t, adminToken)
		visit(t, ctx, d, "/credits?state=CLAIMED")
		if rows := firstColumn(t, ctx, "#lines-table"); strings.Join(rows, ",") != "shop-lindenhof" {
			t.Fatalf("claimed lines %q", rows)
		}
		click(t, ctx, fmt.Sprintf(`form[data-line=%q] button[data-action=approve]`, shopLine))
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](`document.querySelector('#credit-msg').innerText.includes('is now APPROVED')`)); err != nil {
			t.Fatalf("approve: %v\n%s", err, text(t, ctx, "main"))
		}
		if l := apiJSON(t, d, "/v1/"+shopLine, viewerToken); l["state"] != "APPROVED" || l["approvedBy"] != "root-ops" {
			t.Errorf("approved: %v by %v", l["state"], l["approvedBy"])
		}
	})
}
