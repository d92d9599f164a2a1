package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/baseline"
	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// scanConfig is the parsed scan command line.
type scanConfig struct {
	targets      []string
	inputLists   listFlag
	ports        string
	paths        string
	exclude      listFlag
	excludeFiles listFlag
	shard        string
	seed         uint64
	db           string
	batch        string
	group        string
	format       string
	outputFile   string
	all          bool
	failOn       string
	baseline     string
	headers      headerFlag
	concurrency  int
	perHost      int
	rate         float64
	connectTO    time.Duration
	requestTO    time.Duration
	serviceTO    time.Duration
	deadline     time.Duration
	maxBody      int64
	maxPages     int
	maxItems     int
	userAgent    string
	followAS     bool
	noProgress   bool
	summaryLine  bool
	verbose      bool
}

func scanFlags(cfg *scanConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.exclude.split = true
	cfg.concurrency, cfg.perHost = 256, 4
	cfg.connectTO, cfg.requestTO, cfg.serviceTO = 3*time.Second, 5*time.Second, 30*time.Second
	cfg.maxBody, cfg.maxPages, cfg.maxItems = 4<<20, 20, 5000
	fs.Var(&cfg.inputLists, "iL", "")
	fs.StringVar(&cfg.ports, "p", "", "")
	fs.StringVar(&cfg.ports, "ports", "", "")
	fs.StringVar(&cfg.paths, "paths", "", "")
	fs.Var(&cfg.exclude, "exclude", "")
	fs.Var(&cfg.excludeFiles, "exclude-file", "")
	fs.StringVar(&cfg.shard, "shard", "", "")
	fs.StringVar(&cfg.db, "db", "", "")
	fs.StringVar(&cfg.batch, "batch", "", "")
	fs.StringVar(&cfg.group, "group", defaultGroupName, "")
	fs.Uint64Var(&cfg.seed, "seed", 0, "")
	fs.StringVar(&cfg.format, "o", "", "")
	fs.StringVar(&cfg.format, "output", "", "")
	fs.StringVar(&cfg.outputFile, "output-file", "", "")
	fs.BoolVar(&cfg.all, "all", false, "")
	fs.StringVar(&cfg.failOn, "fail-on", "high", "")
	fs.StringVar(&cfg.baseline, "baseline", "", "")
	fs.Var(&cfg.headers, "H", "")
	fs.Var(&cfg.headers, "header", "")
	fs.Var(positiveInt{&cfg.concurrency}, "c", "")
	fs.Var(positiveInt{&cfg.concurrency}, "concurrency", "")
	fs.Var(positiveInt{&cfg.perHost}, "per-host", "")
	fs.Float64Var(&cfg.rate, "rate", 0, "")
	fs.Var(durationFlag{&cfg.connectTO}, "connect-timeout", "")
	fs.Var(durationFlag{&cfg.requestTO}, "timeout", "")
	fs.Var(durationFlag{&cfg.serviceTO}, "service-timeout", "")
	fs.Var(durationFlag{&cfg.deadline}, "deadline", "")
	fs.Var(sizeFlag{&cfg.maxBody}, "max-body", "")
	fs.Var(positiveInt{&cfg.maxPages}, "max-pages", "")
	fs.Var(positiveInt{&cfg.maxItems}, "max-items", "")
	fs.StringVar(&cfg.userAgent, "user-agent", "", "")
	fs.BoolVar(&cfg.followAS, "follow-auth-servers", false, "")
	fs.BoolVar(&cfg.noProgress, "no-progress", false, "")
	fs.BoolVar(&cfg.summaryLine, "summary-line", false, "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.verbose, "verbose", false, "")
	return fs
}

func scanUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: mcpwarden scan [flags] TARGET...

Finds MCP endpoints, tells whether they demand authentication, lists what
open ones expose (tools, resources, prompts; it never calls them) and rates
the risk. Every probe is a handshake and list requests; nothing is executed.

Targets (arguments, -iL files, or - for stdin):
  http://127.0.0.1:3000/mcp   a URL: only that scheme, port and path
  127.0.0.1  127.0.0.1:3000  [::1]:8080  mcp.internal.example
  127.0.0.0/24  fd00::/120    CIDRs        127.0.0.1-127.0.0.50  127.0.0.1-50   ranges
  -iL FILE also reads nmap XML (-oX), masscan JSON (-oJ) and list (-oL), zmap CSV.

Targets:
  -iL FILE              read targets from FILE (repeatable; - is stdin)
  -p, --ports LIST      ports for targets without one (default: %s)
                        e.g. -p 3000,8000-8100
  --paths LIST          paths probed on each port (default: %s)
  --exclude LIST        never touch these IPs, CIDRs, ranges or host names (repeatable)
                        e.g. --exclude 127.0.0.5,127.0.1.0/24,*.prod.example
  --exclude-file FILE   exclusions, one per line (repeatable)
  --shard I/N           scan share I (0-based) of N; N machines with the same inputs
                        cover every target exactly once (Kubernetes Indexed Job:
                        --shard $JOB_COMPLETION_INDEX/N)
  --seed N              key of the spread-out target order (same on every shard) (default 0)

Scale-out worker (see deploy/README.md):
  --db ADDR             also store this shard's records in the watch database
                        (postgres://... for several workers, or sqlite:PATH), in one
                        transaction at the end; an interrupted scan stores nothing and a
                        re-run of the shard replaces what it stored
  --batch ID            the sweep this shard belongs to: every shard of one sweep gives the
                        same ID (e.g. the Kubernetes Job's uid); required with --db
  --group NAME          the watch target group (source: workers) the batch feeds (default %q)

Output:
  -o, --output FORMAT   table, jsonl, json, sarif or markdown (default: table on a terminal,
                        jsonl otherwise)
  --output-file FILE    write the report to FILE instead of stdout
  --all                 also list closed ports and non-MCP services in reports
  --summary-line        end JSON Lines output with the summary object
  --fail-on SEVERITY    exit 1 when a finding is at or above it: info, low, medium,
                        high, critical or none (default high)
  --baseline FILE       accepted findings (YAML: rule, url glob, reason, optional expires);
                        they are reported as suppressed and do not count for --fail-on
  --no-progress         no progress line on stderr (never shown when stderr is not a terminal)
  -v, --verbose         debug logs on stderr

Authentication (scanning your own protected servers):
  -H, --header 'Name: value'  sent, after an endpoint demands authentication, to that
                        endpoint only (repeatable); values are never printed or logged
                        e.g. -H 'Authorization: Bearer $TOKEN'

Speed and politeness:
  -c, --concurrency N   services probed at once (default 256)
  --per-host N          services probed at once on one host (default 4)
  --rate N              HTTP requests per second over the whole scan, 0 = no cap (default 0)
                        e.g. --rate 200
  --connect-timeout D   TCP connect and TLS handshake (default 3s)
  --timeout D           one request, to its last byte (default 5s)
  --service-timeout D   all work on one host:port (default 30s)
  --deadline D          the whole scan; results so far are written (default none)
  --max-body SIZE       cap of one response or stream (default 4MiB)
  --max-pages N         list pages per list method (default 20)
  --max-items N         items kept per list method (default 5000)
  --user-agent S        User-Agent (default names mcpwarden and its version)
  --follow-auth-servers also fetch the RFC 8414/OIDC metadata of authorization servers on
                        other hosts than the target (by default only the target's own host is
                        contacted; exclusions still apply)

Examples:
  mcpwarden scan 127.0.0.1 -p 3000,8000-8100
  mcpwarden scan 127.0.0.0/24 --exclude 127.0.0.1 --rate 100 -o jsonl > scan.jsonl
  nmap -p 3000,8000 -oX hosts.xml 127.0.0.0/24 && mcpwarden scan -iL hosts.xml
  mcpwarden scan https://127.0.0.1:8443/mcp -H "Authorization: Bearer $TOKEN"

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error
(also when interrupted: the results so far are still written).
`, joinInts(target.DefaultPorts), strings.Join(target.DefaultPaths, ","), defaultGroupName)
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

func runScan(ctx context.Context, env *Env, args []string) int {
	cfg := &scanConfig{}
	fs := scanFlags(cfg)
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			scanUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden scan: %v\nRun 'mcpwarden scan --help' for usage.\n", err)
		return ExitError
	}
	cfg.targets = pos
	plan, err := planScan(cfg, env)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden scan: %v\nRun 'mcpwarden scan --help' for usage.\n", err)
		return ExitError
	}
	defer plan.closeInputs()
	return executeScan(ctx, env, cfg, plan)
}

// scanPlan is a validated scan: what to read, how to probe, where to write.
type scanPlan struct {
	stream   *target.Stream
	excl     *target.Exclusions
	opts     scan.Options
	format   report.Format
	failOn   finding.Severity
	closers  []io.Closer
	outPath  string
	baseline *baseline.Baseline
	// worker is set with --db: where the shard's records are stored.
	worker *workerPlan
}

func (p *scanPlan) closeInputs() {
	for _, c := range p.closers {
		c.Close()
	}
}

// planScan validates every flag and input; all problems are usage errors.
func planScan(cfg *scanConfig, env *Env) (*scanPlan, error) {
	plan := &scanPlan{}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	var ports []int
	if cfg.ports != "" {
		p, err := target.ParsePorts(cfg.ports)
		if err != nil {
			bad("-p: %v", err)
		}
		ports = p
	}
	var paths []string
	if cfg.paths != "" {
		for _, p := range strings.Split(cfg.paths, ",") {
			p = strings.TrimSpace(p)
			if p == "" {
				continue
			}
			if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n#") {
				bad("--paths: %q must start with / and contain no spaces or #", p)
				continue
			}
			paths = append(paths, p)
		}
		if len(paths) == 0 {
			bad("--paths: no path given")
		}
	}
	excl := exclusions(cfg.exclude.vals, cfg.excludeFiles.vals, bad)
	if cfg.baseline != "" {
		b, err := readBaseline(cfg.baseline)
		if err != nil {
			bad("--baseline: %v", err)
		}
		plan.baseline = b
	}
	var shard target.Shard
	var err error
	if cfg.shard != "" {
		if shard, err = target.ParseShard(cfg.shard); err != nil {
			bad("--shard: %v", err)
		}
	}
	plan.worker = planWorker(cfg, shard, bad)
	plan.failOn = failOnSeverity(cfg.failOn, bad)
	plan.format = reportFormat(env, "-o", cfg.format, cfg.outputFile, bad)
	if cfg.rate < 0 {
		bad("--rate: must not be negative")
	}
	if cfg.connectTO == 0 || cfg.requestTO == 0 || cfg.serviceTO == 0 {
		bad("timeouts must be above zero")
	}

	var inputs []target.Input
	for _, t := range cfg.targets {
		if _, err := target.ParseSpec(t); err != nil {
			bad("%v", err)
			continue
		}
		inputs = append(inputs, target.SpecInputs(t)...)
	}
	stdinUsed := false
	for _, name := range cfg.inputLists.vals {
		if name == "-" {
			if stdinUsed {
				bad("-iL -: stdin given twice")
				continue
			}
			stdinUsed = true
			inputs = append(inputs, target.FileInput("stdin", env.Stdin))
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			bad("-iL: %v", err)
			continue
		}
		plan.closers = append(plan.closers, f)
		inputs = append(inputs, target.FileInput(name, f))
	}
	if len(inputs) == 0 && len(problems) == 0 {
		bad("no targets: give hosts, CIDRs, ranges or URLs as arguments, or -iL FILE (the default target list is empty on purpose)")
	}
	if len(problems) > 0 {
		plan.closeInputs()
		return nil, usagef("%s", strings.Join(problems, "\n  "))
	}
	plan.stream, err = target.NewStream(&target.Options{Ports: ports, Exclude: excl, Shard: shard, Seed: cfg.seed}, inputs...)
	if err != nil {
		plan.closeInputs()
		return nil, usagef("%v", err)
	}
	plan.excl = excl
	plan.outPath = cfg.outputFile

	var hdr http.Header
	if cfg.headers.h != nil {
		hdr = cfg.headers.h
	}
	plan.opts = scan.Options{
		Concurrency: cfg.concurrency,
		PerHost:     cfg.perHost,
		Rate:        cfg.rate,
		Deadline:    cfg.deadline,
		EmitClosed:  cfg.all,
		Excluded: func(a netip.Addr) bool {
			return excl.ContainsAddr(a)
		},
		Probe: probe.Options{
			Paths:             paths,
			Headers:           hdr,
			UserAgent:         cfg.userAgent,
			ConnectTimeout:    cfg.connectTO,
			RequestTimeout:    cfg.requestTO,
			ServiceTimeout:    cfg.serviceTO,
			MaxBodyBytes:      cfg.maxBody,
			MaxPages:          cfg.maxPages,
			MaxItems:          cfg.maxItems,
			FollowAuthServers: cfg.followAS,
		},
	}
	return plan, nil
}

func executeScan(ctx context.Context, env *Env, cfg *scanConfig, plan *scanPlan) int {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	plan.opts.Logger = logger
	plan.opts.Probe.Logger = logger
	if limit := raiseFileLimit(); limit > 0 && uint64(plan.opts.Concurrency)*2+64 > limit {
		// Each probe may hold two sockets (an SSE stream and a POST).
		c := int((limit - 64) / 2)
		logger.Warn("concurrency lowered to fit the open-file limit", "requested", plan.opts.Concurrency, "limit", limit, "concurrency", c)
		plan.opts.Concurrency = max(c, 1)
	}
	probe.Version = Version
	var sink *workerSink
	if plan.worker != nil {
		var err error
		if sink, err = openWorkerSink(ctx, plan.worker, logger); err != nil {
			return fail(env, err)
		}
		defer sink.close()
	}

	out := env.Stdout
	if plan.outPath != "" {
		f, err := os.OpenFile(plan.outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(env, fmt.Errorf("--output-file: %w", err))
		}
		defer f.Close()
		out = f
	}
	w, err := report.New(plan.format, out, report.Options{
		Version:     Version,
		All:         cfg.all,
		Color:       plan.outPath == "" && report.AutoColor(env.Stdout, env.Getenv),
		SummaryLine: cfg.summaryLine,
	})
	if err != nil {
		return fail(env, err)
	}
	var prog *progress
	if !cfg.noProgress && env.IsTerminal(env.Stderr) {
		prog = newProgress(env.Stderr)
		plan.opts.Progress = prog.update
	}
	warnExpired(env.Stderr, plan.baseline)
	if plan.baseline != nil {
		now := time.Now()
		plan.opts.Amend = func(ep *result.Endpoint) { plan.baseline.Apply(ep, now) }
	}
	worst := finding.Severity(-1)
	sum, runErr := scan.Run(ctx, plan.stream, plan.opts, func(ep *result.Endpoint) error {
		if s, ok := finding.Max(ep.Findings); ok && s > worst {
			worst = s
		}
		sink.add(ep)
		return w.Write(ep)
	})
	if prog != nil {
		prog.done()
	}
	if sum != nil {
		sum.Excluded = plan.stream.Excluded()
	}
	if err := w.Close(sum); err != nil && runErr == nil {
		runErr = fmt.Errorf("write report: %w", err)
	}
	if sum != nil && plan.format != report.FormatTable {
		printSummary(env.Stderr, sum)
	}
	if sink != nil && runErr == nil {
		runErr = sink.commit(ctx, env.Stderr, sum)
	}
	switch {
	case errors.Is(runErr, scan.ErrInterrupted):
		fmt.Fprintf(env.Stderr, "mcpwarden scan: %v; the results so far are written\n", runErr)
		return ExitError
	case runErr != nil:
		return fail(env, runErr)
	case worst >= plan.failOn:
		return ExitFindings
	}
	return ExitOK
}

func printSummary(w io.Writer, s *result.Summary) {
	var parts []string
	for _, st := range []result.Status{result.StatusMCP, result.StatusNotMCP, result.StatusClosed, result.StatusTimeout, result.StatusError} {
		if n := s.ByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	var fparts []string
	for _, sev := range []string{"critical", "high", "medium", "low", "info"} {
		if n := s.Findings[sev]; n > 0 {
			fparts = append(fparts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if len(fparts) == 0 {
		fparts = []string{"none"}
	}
	if s.Suppressed > 0 {
		fparts = append(fparts, fmt.Sprintf("%d suppressed by the baseline", s.Suppressed))
	}
	fmt.Fprintf(w, "mcpwarden: %d services probed (%s); findings: %s; %d excluded; %d requests in %.1fs\n",
		s.Targets, strings.Join(parts, ", "), strings.Join(fparts, ", "), s.Excluded, s.Requests, float64(s.ElapsedMS)/1000)
}
