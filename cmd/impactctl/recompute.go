package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/shopspring/decimal"
	"golang.org/x/term"

	"github.com/impact-svc/impact/estimating"
	"github.com/impact-svc/impact/impact"
	"github.com/impact-svc/impact/store"
)

const recomputeUsage = `Usage: impactctl recompute [flags]

Recomputes the stored estimates of the incidents selected by the flags,
directly on the database, from the data stored now and with this build's
engine (` + impact.ModelVersion + `). An estimate whose figures change gets
a new revision; the earlier ones are kept. With no selection flag, every
incident is recomputed (month-end close).

Selection (all given criteria must hold):
  --outage-since, --outage-until
                     incidents with a window overlapping [since, until), RFC 3339
                     (--since and --until are the same flags, kept as aliases;
                     export's --computed-since filters by compute time instead)
  --customer ID      incidents with a window of this customer (repeatable)
  --incident ID      this incident (repeatable)

The work is a recompute job stored in the database, split into chunks that
workers lease. Run the same command again after an interruption (Ctrl-C,
kill -9, a crash) and it resumes the open job with the same selection:
chunks already done stay done, and the result is the same as one
uninterrupted run. Ctrl-C hands its chunks back at once; those of a killed
or crashed process are redone when their lease (--lease) expires. On
PostgreSQL, run it on several machines at once and the processes share the
job.

--dry-run computes without writing any estimate, and reports which
estimates would change and by how much, per currency and per figure.

Progress: a bar with rate and ETA when stderr is a terminal, otherwise a
plain line every --progress-every. A summary is printed on stdout at the
end. Exit code 1 if the job failed (some estimates could not be computed:
they are listed) or was cancelled.
`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func runRecompute(c *cli, args []string) error {
	f := c.flags("recompute", recomputeUsage)
	dsn := f.db()
	workers := f.string("workers", strconv.Itoa(runtime.GOMAXPROCS(0)), "goroutines computing chunks in this process")
	sinceS := f.string("outage-since", "", "incidents with a window ending after this RFC 3339 time")
	untilS := f.string("outage-until", "", "incidents with a window starting before this RFC 3339 time")
	f.fs.StringVar(sinceS, "since", *sinceS, "alias of --outage-since")
	f.fs.StringVar(untilS, "until", *untilS, "alias of --outage-until")
	var customers, incidents stringList
	f.list(&customers, "customer", "incidents with a window of this customer id (repeatable; env: comma-separated)")
	f.list(&incidents, "incident", "this incident id (repeatable; env: comma-separated)")
	dry := f.bool("dry-run", "compute and report the differences, write no estimate")
	chunk := f.string("chunk-size", strconv.Itoa(estimating.DefaultChunkSize), "(incident, customer) estimates per chunk, for a new job")
	leaseS := f.string("lease", "30s", "how long a chunk stays leased to a worker that stops answering")
	everyS := f.string("progress-every", "5s", "interval of the plain progress lines (when stderr is not a terminal)")
	show := f.string("show", "20", "changed or failed estimates listed in the summary")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	var fl impact.RecomputeFilter
	var err error
	if fl.Since, err = parseOptTime(*sinceS); err != nil {
		return usagef("recompute", "--outage-since (--since): %v", err)
	}
	if fl.Until, err = parseOptTime(*untilS); err != nil {
		return usagef("recompute", "--outage-until (--until): %v", err)
	}
	fl.CustomerIDs, fl.IncidentIDs = customers, incidents
	n, err1 := strconv.Atoi(*workers)
	size, err2 := strconv.Atoi(*chunk)
	nshow, err3 := strconv.Atoi(*show)
	lease, err4 := time.ParseDuration(*leaseS)
	every, err5 := time.ParseDuration(*everyS)
	switch {
	case err1 != nil || n < 1:
		return usagef("recompute", "--workers must be a positive integer, got %q", *workers)
	case err2 != nil || size < 1:
		return usagef("recompute", "--chunk-size must be a positive integer, got %q", *chunk)
	case err3 != nil || nshow < 0:
		return usagef("recompute", "--show must be a non-negative integer, got %q", *show)
	case err4 != nil || lease < time.Second:
		return usagef("recompute", "--lease must be a duration of at least 1s, got %q", *leaseS)
	case err5 != nil || every <= 0:
		return usagef("recompute", "--progress-every must be a positive duration, got %q", *everyS)
	}
	if err := fl.Validate(); err != nil {
		return problems(err, "")
	}

	// A recompute allocates many short-lived objects against a small live
	// heap (a chunk per worker): GOGC=400 recomputes 100,000 estimates 1.5×
	// as fast as the default 100 (scripts/recompute-bench.sh), and a soft
	// memory limit keeps the peak well under 256 MB whatever the job's
	// size. GOGC and GOMEMLIMIT set by the operator win.
	if c.getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	if c.getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(160 << 20))
	}
	db, err := store.Open(c.ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	// A typo in --customer or --incident would select nothing and
	// "succeed"; an id that is not stored is invalid input instead.
	var unknown []string
	for _, id := range customers {
		if _, err := db.GetCustomer(c.ctx, id); impact.ErrorCode(err) == impact.ENOTFOUND {
			unknown = append(unknown, fmt.Sprintf("--customer %s: no such customer", id))
		} else if err != nil {
			return err
		}
	}
	for _, id := range incidents {
		if _, err := db.GetIncident(c.ctx, id); impact.ErrorCode(err) == impact.ENOTFOUND {
			unknown = append(unknown, fmt.Sprintf("--incident %s: no such incident", id))
		} else if err != nil {
			return err
		}
	}
	if len(unknown) > 0 {
		return &invalidInput{problems: unknown}
	}
	job, created, err := db.CreateJob(c.ctx, fl, *dry, size, "", true)
	if err != nil {
		return err
	}
	verb := "created"
	if !created {
		verb = "resuming"
	}
	fmt.Fprintf(c.stderr, "%s %s: %s incidents, %s (incident, customer) estimates%s\n", verb, job.Name,
		thousands(job.Counts.Total), thousands(job.Counts.CustomersTotal), map[bool]string{true: ", dry run"}[job.DryRun])

	start := time.Now()
	startDone := job.Counts.CustomersDone
	prog := newProgress(c.stderr, job, every)
	ctx, stopProgress := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { prog.watch(ctx, db, job.ID) })
	r := estimating.NewRecomputer(db, db, estimating.RecomputeOptions{
		Workers:  n,
		LeaseTTL: lease,
		Poll:     min(lease/3, time.Second),
		Logger:   slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnChunk:  func(j *impact.RecomputeJob, _ *impact.ChunkResult) { prog.update(j) },
	})
	final, err := r.Run(c.ctx, job.ID)
	stopProgress()
	wg.Wait()
	if err != nil {
		if c.ctx.Err() != nil {
			fmt.Fprintf(c.stderr, "interrupted: %s stays open; run the same command again to resume it\n", job.Name)
		}
		return err
	}
	prog.finish(final)
	return summarize(c, db, final, time.Since(start), final.Counts.CustomersDone-startDone, nshow)
}

// list declares a repeatable flag whose environment variable holds a
// comma-separated list.
func (f *flags) list(l *stringList, name, usage string) {
	env := envName(name)
	if v := f.c.getenv(env); v != "" {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				*l = append(*l, s)
			}
		}
	}
	f.fs.Var(l, name, usage+" (env "+env+")")
}

func parseOptTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// progress shows a job's progress in (incident, customer) estimates, read
// from the database: the counts there include other workers' chunks.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	bar   *progressbar.ProgressBar // nil when w is not a terminal
	every time.Duration
	total int64
	last  time.Time
	t0    time.Time
	done0 int64
	done  int64
	name  string
}

func newProgress(w io.Writer, job *impact.RecomputeJob, every time.Duration) *progress {
	p := &progress{w: w, every: every, total: job.Counts.CustomersTotal, t0: time.Now(), last: time.Now(),
		done0: job.Counts.CustomersDone, done: job.Counts.CustomersDone, name: job.Name}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(p.total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("recompute"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("estimates"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		_ = p.bar.Set64(p.done)
	}
	return p
}

func (p *progress) watch(ctx context.Context, jobs impact.JobStore, id string) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if j, err := jobs.GetJob(ctx, id); err == nil {
				p.update(j)
			}
		}
	}
}

func (p *progress) update(j *impact.RecomputeJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if j.Counts.CustomersDone <= p.done {
		return
	}
	p.done = j.Counts.CustomersDone
	if p.bar != nil {
		_ = p.bar.Set64(p.done)
		return
	}
	if now := time.Now(); now.Sub(p.last) >= p.every {
		p.last = now
		fmt.Fprintln(p.w, p.line(j, now))
	}
}

// line is one plain progress line: counts, rate and ETA.
func (p *progress) line(j *impact.RecomputeJob, now time.Time) string {
	el := now.Sub(p.t0).Seconds()
	rate := float64(p.done-p.done0) / max(el, 1e-9)
	eta := "?"
	if rate > 0 {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(p.done) / float64(p.total)
	}
	return fmt.Sprintf("%s: %s/%s estimates (%.1f%%), %s changed, %s failed incidents, %s/s, ETA %s",
		p.name, thousands(p.done), thousands(p.total), pct, thousands(j.Counts.CustomersChanged),
		thousands(j.Counts.Failed), thousands(int64(rate)), eta)
}

func (p *progress) finish(j *impact.RecomputeJob) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	p.done = j.Counts.CustomersDone
	fmt.Fprintln(p.w, p.line(j, time.Now()))
}

// summarize prints the job's outcome: counts, rate, differences per
// currency and figure, and the first changed or failed estimates.
func summarize(c *cli, jobs impact.JobStore, j *impact.RecomputeJob, took time.Duration, computed int64, nshow int) error {
	w := c.stdout
	fmt.Fprintf(w, "%s %s in %s\n", j.Name, j.State, took.Round(time.Millisecond))
	k := j.Counts
	fmt.Fprintf(w, "  incidents:  %s total, %s done, %s changed, %s failed\n",
		thousands(k.Total), thousands(k.Done), thousands(k.Changed), thousands(k.Failed))
	fmt.Fprintf(w, "  estimates:  %s (incident, customer) computed, %s changed", thousands(k.CustomersDone), thousands(k.CustomersChanged))
	if took > 0 && computed > 0 {
		fmt.Fprintf(w, ", %s/s in this process's run", thousands(int64(float64(computed)/took.Seconds())))
	}
	fmt.Fprintln(w)
	verb := "moved"
	if j.DryRun {
		verb = "would move (dry run, nothing written)"
	}
	if len(j.Differences) == 0 {
		fmt.Fprintf(w, "  no figure %s\n", strings.TrimSuffix(verb, " (dry run, nothing written)"))
	} else {
		fmt.Fprintf(w, "  totals %s by:\n", verb)
		fmt.Fprintf(w, "    %-8s %18s %18s %18s %18s %18s\n", "currency", "lost gross", "lost net", "recovery", "sla credits", "churn")
		for _, d := range j.Differences {
			f := func(x decimal.Decimal) string { return signed(impact.FormatAmount(d.Currency, x)) }
			fmt.Fprintf(w, "    %-8s %18s %18s %18s %18s %18s\n", d.Currency, f(d.LostRevenueGross),
				f(d.LostRevenueNet), f(d.RecoveryCost), f(d.SLACredits), f(d.ChurnExposure))
		}
	}
	if nshow > 0 && (k.Changed > 0 || k.Failed > 0) {
		pg, err := jobs.ListChanges(c.ctx, j.ID, impact.PageRequest{Size: nshow})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  changes (first %d by incident id):\n", len(pg.Items))
		for _, ch := range pg.Items {
			switch {
			case ch.Error != "":
				fmt.Fprintf(w, "    %s: FAILED: %s\n", impact.IncidentName(ch.IncidentID), ch.Error)
			case ch.OldRevision == 0 && j.DryRun:
				fmt.Fprintf(w, "    %s: no estimate yet, would get its first, %d customers\n", impact.IncidentName(ch.IncidentID), ch.CustomersChanged)
			case ch.OldRevision == 0:
				fmt.Fprintf(w, "    %s: first estimate, revision %d, %d customers\n", impact.IncidentName(ch.IncidentID), ch.NewRevision, ch.CustomersChanged)
			case j.DryRun:
				fmt.Fprintf(w, "    %s: revision %d would change, %d customers\n", impact.IncidentName(ch.IncidentID), ch.OldRevision, ch.CustomersChanged)
			default:
				fmt.Fprintf(w, "    %s: revision %d -> %d, %d customers\n", impact.IncidentName(ch.IncidentID), ch.OldRevision, ch.NewRevision, ch.CustomersChanged)
			}
		}
	}
	switch j.State {
	case impact.JobFailed:
		return fmt.Errorf("%s failed: %s", j.Name, j.Error)
	case impact.JobCancelled:
		return fmt.Errorf("%s was cancelled", j.Name)
	}
	return nil
}

// signed marks increases with "+"; zero ("0", "0.00") stays bare.
func signed(s string) string {
	if !strings.HasPrefix(s, "-") && strings.Trim(s, "0.") != "" {
		return "+" + s
	}
	return s
}

// thousands writes n with thousands separators: 1,000,000.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
