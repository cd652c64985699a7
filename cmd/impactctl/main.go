// Command impactctl is the operator's command line of impact: it imports
// customers, contracts and outage windows from CSV files into the database
// (directly, or through impactd's API), exports stored estimates as CSV or JSON, estimates a scenario
// file with the same engine as impactd (offline, or through impactd over
// gRPC), and loads a demo dataset. Run `impactctl --help` for the overview
// and `impactctl COMMAND --help` for each command.
//
// Exit codes: 0 success, 1 runtime failure (database, network, I/O),
// 2 usage error, 3 invalid input (each problem reported on stderr).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/impact-svc/impact/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Exit codes scripts can rely on.
const (
	exitOK      = 0
	exitFailure = 1 // the database, the network or a file failed us
	exitUsage   = 2 // the command line is wrong
	exitInvalid = 3 // the input file is wrong; every problem was reported
)

// usageError is a wrong command line: exit 2 with a pointer to --help.
type usageError struct{ cmd, msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// invalidInput is input that failed validation: each problem is one line
// (a field path or "row N, column X: reason"), so that an operator can fix
// them all in one pass and a script can count them.
type invalidInput struct{ problems []string }

func (e *invalidInput) Error() string { return strings.Join(e.problems, "\n") }

// errHelp reports that help was asked for and printed.
var errHelp = errors.New("help requested")

// cli is what every subcommand gets from run: the process's streams and
// environment, injectable so that tests drive run in-process.
type cli struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name     string
	synopsis string
	summary  string
	run      func(c *cli, args []string) error
}

// commands are listed in --help in this order.
var commands = []command{
	{"import", "import customers|contracts|windows|fx-rates [flags] FILE.csv",
		"validate a CSV file and import all of its rows into --db (or --server), or none", runImport},
	{"export", "export customers|contracts|windows|estimates|credit-notes [flags]",
		"stream stored resources (as import reads them) or estimates as CSV or JSON", runExport},
	{"issue-credits", "issue-credits [flags] FILE.csv",
		"record what billing issued for approved credit lines; list differences", runIssueCredits},
	{"estimate", "estimate [flags] FILE.json",
		"estimate a scenario file offline (or with --server over gRPC)", runEstimate},
	{"recompute", "recompute [flags]",
		"recompute stored estimates on --db: parallel, resumable, shared across machines", runRecompute},
	{"simulate", "simulate [flags]",
		"what a hypothetical outage of the selected contracts would cost; nothing is written", runSimulate},
	{"audit", "audit [flags]",
		"list the audit log (who wrote what, before and after) from --db or --server", runAudit},
	{"demo", "demo [flags]",
		"load a demo dataset (three customers, one outage) into --db", runDemo},
	{"settings", "settings get|set [flags]",
		"show or change the stored reporting currency and FX rates", runSettings},
}

const overview = `impactctl is the operator's command line of impact.

Usage:
  impactctl COMMAND [flags] [arguments]
  impactctl COMMAND --help
  impactctl --version

Commands:
%s
Every flag can also be set with an IMPACTCTL_* environment variable (named
in each command's --help); a flag given on the command line wins.

Exit codes:
  0  success
  1  runtime failure (database, network, file I/O)
  2  usage error (unknown command or flag, missing argument)
  3  invalid input; every problem is printed on stderr, one per line
`

func printOverview(w io.Writer) {
	var b strings.Builder
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, overview, b.String())
}

// run is the whole program; it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	if len(args) == 0 {
		printOverview(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-version", "--version", "version":
		fmt.Fprintln(stdout, server.Version("impactctl"))
		return exitOK
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			// "impactctl help estimate" is "impactctl estimate --help".
			name, rest = rest[0], []string{"--help"}
			break
		}
		printOverview(stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return c.exit(cmd.run(c, rest))
		}
	}
	fmt.Fprintf(stderr, "impactctl: unknown command %q\nRun 'impactctl --help' for the list of commands.\n", name)
	return exitUsage
}

// exit reports err on stderr and maps it to an exit code.
func (c *cli) exit(err error) int {
	var (
		ue *usageError
		ii *invalidInput
	)
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "impactctl %s: %s\nRun 'impactctl %s --help' for usage.\n", ue.cmd, ue.msg, ue.cmd)
		return exitUsage
	case errors.As(err, &ii):
		for _, p := range ii.problems {
			fmt.Fprintln(c.stderr, p)
		}
		fmt.Fprintf(c.stderr, "impactctl: %d problem(s) found; nothing was changed\n", len(ii.problems))
		return exitInvalid
	default:
		fmt.Fprintln(c.stderr, "impactctl:", err)
		return exitFailure
	}
}

// flags is one subcommand's flag set. Every flag defaults to its
// IMPACTCTL_* variable, then to the built-in default, so a flag given on
// the command line always wins.
type flags struct {
	c     *cli
	cmd   string
	usage string // synopsis and description, printed by --help
	fs    *flag.FlagSet
	bad   []string // environment variables that did not parse
}

func (c *cli) flags(cmd, usage string) *flags {
	fs := flag.NewFlagSet("impactctl "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by cli.exit, help by parse
	return &flags{c: c, cmd: cmd, usage: usage, fs: fs}
}

func envName(flagName string) string {
	return "IMPACTCTL_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (f *flags) string(name, def, usage string) *string {
	env := envName(name)
	if v := f.c.getenv(env); v != "" {
		def = v
	}
	return f.fs.String(name, def, usage+" (env "+env+")")
}

func (f *flags) bool(name string, usage string) *bool {
	env := envName(name)
	def := false
	if v := f.c.getenv(env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.bad = append(f.bad, fmt.Sprintf("%s=%q is not a boolean", env, v))
		}
		def = b
	}
	return f.fs.Bool(name, def, usage+" (env "+env+")")
}

// db is the --db flag shared by the commands that work on the database.
func (f *flags) db() *string {
	return f.string("db", "sqlite:impact.db",
		"database: sqlite:PATH (created if missing) or a postgres:// URL")
}

// parse parses args, flags and positional arguments in any order, and
// checks that there are exactly npos positional arguments. --help prints the
// command's usage on stdout and returns errHelp.
func (f *flags) parse(args []string, npos int) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.printUsage(f.c.stdout)
				return nil, errHelp
			}
			return nil, usagef(f.cmd, "%v", err)
		}
		args = f.fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(f.bad) > 0 {
		return nil, usagef(f.cmd, "%s", strings.Join(f.bad, "; "))
	}
	if len(pos) != npos {
		return nil, usagef(f.cmd, "want %d argument(s), got %d: %q", npos, len(pos), pos)
	}
	return pos, nil
}

func (f *flags) printUsage(w io.Writer) {
	fmt.Fprint(w, f.usage)
	fmt.Fprintln(w, "\nFlags:")
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	f.fs.SetOutput(io.Discard)
}
