package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
	"github.com/mcpwarden/mcpwarden/internal/exposure/censys"
	"github.com/mcpwarden/mcpwarden/internal/exposure/shodan"
	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// exposureConfig is the parsed exposure command line.
type exposureConfig struct {
	targets       []string
	inputLists    listFlag
	useShodan     bool
	useCensys     bool
	shodanExports listFlag
	censysExports listFlag
	shodanKey     string
	censysID      string
	censysSecret  string
	shodanURL     string
	censysURL     string
	apiRate       float64
	apiTimeout    time.Duration
	maxPages      int
	maxCredits    int
	yes           bool
	verify        bool
	concurrency   int
	connectTO     time.Duration
	requestTO     time.Duration
	format        string
	outputFile    string
	all           bool
	failOn        string
	verbose       bool
}

func exposureFlags(cfg *exposureConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("exposure", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.maxPages, cfg.concurrency = 10, 64
	cfg.apiTimeout, cfg.connectTO, cfg.requestTO = 60*time.Second, 3*time.Second, 5*time.Second
	fs.Var(&cfg.inputLists, "iL", "")
	fs.BoolVar(&cfg.useShodan, "shodan", false, "")
	fs.BoolVar(&cfg.useCensys, "censys", false, "")
	fs.Var(&cfg.shodanExports, "shodan-export", "")
	fs.Var(&cfg.censysExports, "censys-export", "")
	fs.StringVar(&cfg.shodanKey, "shodan-key", "", "")
	fs.StringVar(&cfg.censysID, "censys-id", "", "")
	fs.StringVar(&cfg.censysSecret, "censys-secret", "", "")
	fs.StringVar(&cfg.shodanURL, "shodan-url", shodan.DefaultBaseURL, "")
	fs.StringVar(&cfg.censysURL, "censys-url", censys.DefaultBaseURL, "")
	fs.Float64Var(&cfg.apiRate, "api-rate", 0, "")
	fs.Var(durationFlag{&cfg.apiTimeout}, "api-timeout", "")
	fs.Var(positiveInt{&cfg.maxPages}, "max-pages", "")
	fs.IntVar(&cfg.maxCredits, "max-credits", 0, "")
	fs.BoolVar(&cfg.yes, "yes", false, "")
	fs.BoolVar(&cfg.verify, "verify", false, "")
	fs.Var(positiveInt{&cfg.concurrency}, "c", "")
	fs.Var(positiveInt{&cfg.concurrency}, "concurrency", "")
	fs.Var(durationFlag{&cfg.connectTO}, "connect-timeout", "")
	fs.Var(durationFlag{&cfg.requestTO}, "timeout", "")
	fs.StringVar(&cfg.format, "o", "", "")
	fs.StringVar(&cfg.format, "output", "", "")
	fs.StringVar(&cfg.outputFile, "output-file", "", "")
	fs.BoolVar(&cfg.all, "all", false, "")
	fs.StringVar(&cfg.failOn, "fail-on", "high", "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.verbose, "verbose", false, "")
	return fs
}

func exposureUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden exposure [flags] TARGET...

Asks internet scanning indexes (Shodan, Censys) what they hold about your own
addresses and domains, classifies every indexed service as likely-mcp,
possibly-mcp or not-mcp from the banner the index recorded, and with --verify
checks each one now with the scanner. Services the index lists outside your
targets are dropped and counted, never scanned.

Targets (arguments or -iL files; no default): 198.51.100.7  198.51.100.0/24
  198.51.100.1-50  example.com (and every name below it)  host:port  URLs.
  -iL FILE              read targets from FILE, one or more per line, # comments

Indexes (at least one):
  --shodan              query Shodan: a host lookup per single address (no credits),
                        a net:/hostname: search for ranges and domains (1 query credit
                        per page); key from SHODAN_API_KEY or --shodan-key
  --censys              query Censys Search API v2: one search per 20 targets narrowed
                        to MCP signals, then a host view per hit (1 query each);
                        credentials from CENSYS_API_ID and CENSYS_API_SECRET
  --shodan-export FILE  read a 'shodan download' file (gzip or plain JSON Lines), offline
  --censys-export FILE  read a Censys search export (JSON or JSON Lines), offline
  --shodan-key KEY      Shodan API key (prefer the environment: flags show in ps)
  --censys-id ID, --censys-secret SECRET   Censys API credentials (same advice)
  --shodan-url URL      Shodan API root (default https://api.shodan.io)
  --censys-url URL      Censys API root (default https://search.censys.io)

Credits and politeness:
  --max-credits N       query credits this run may spend (default 0: only free
                        calls). The cost is printed before any costly query runs.
  --yes                 accept whatever the plan costs, up to --max-pages
  --max-pages N         pages per search (default 10)
  --api-rate N          requests per second to each index (default: Shodan 1,
                        Censys 0.4, their published limits; raise only if your plan allows)
  --api-timeout D       one API request (default 60s)

Verification:
  --verify              scan every indexed service inside your targets now and report
                        open / protected / not-mcp / gone
  -c, --concurrency N   services probed at once (default 64)
  --connect-timeout D   (default 3s)    --timeout D   one request (default 5s)

Output:
  -o, --output FORMAT   table, jsonl, json, sarif or markdown (default: table on a
                        terminal, jsonl otherwise)
  --output-file FILE    write the report to FILE
  --all                 also list indexed services that are not MCP
  --fail-on SEVERITY    exit 1 at or above it (default high)
  -v, --verbose         debug logs on stderr (keys are never logged)

Examples:
  SHODAN_API_KEY=... mcpwarden exposure --shodan --max-credits 5 198.51.100.0/24 example.com
  mcpwarden exposure --shodan-export org.json.gz --verify 198.51.100.0/24

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error.
`)
}

func runExposure(ctx context.Context, env *Env, args []string) int {
	cfg := &exposureConfig{}
	fs := exposureFlags(cfg)
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			exposureUsage(env.Stdout)
			return ExitOK
		}
	}
	usage := func(err error) int {
		fmt.Fprintf(env.Stderr, "mcpwarden exposure: %v\nRun 'mcpwarden exposure --help' for usage.\n", err)
		return ExitError
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return usage(err)
	}
	cfg.targets = pos
	plan, err := planExposure(cfg, env)
	if err != nil {
		return usage(err)
	}
	return executeExposure(ctx, env, cfg, plan)
}

// exposurePlan is a validated exposure run.
type exposurePlan struct {
	scope  *exposure.Scope
	format report.Format
	failOn finding.Severity
	shodan *shodan.Client
	censys *censys.Client
}

func planExposure(cfg *exposureConfig, env *Env) (*exposurePlan, error) {
	p := &exposurePlan{}
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	specs := append([]string(nil), cfg.targets...)
	for _, name := range cfg.inputLists.vals {
		more, err := readTargetList(name)
		if err != nil {
			bad("-iL: %v", err)
			continue
		}
		specs = append(specs, more...)
	}
	if len(specs) == 0 {
		if len(problems) == 0 {
			bad("no targets: give your own addresses, CIDRs, ranges or domains as arguments or with -iL FILE (there is no default target list)")
		}
	} else if sc, err := exposure.ParseScope(specs); err != nil {
		bad("%v", err)
	} else {
		p.scope = sc
	}
	if !cfg.useShodan && !cfg.useCensys && len(cfg.shodanExports.vals) == 0 && len(cfg.censysExports.vals) == 0 {
		bad("no index: give --shodan, --censys, --shodan-export FILE or --censys-export FILE")
	}
	for _, f := range append(append([]string(nil), cfg.shodanExports.vals...), cfg.censysExports.vals...) {
		if st, err := os.Stat(f); err != nil {
			bad("export file: %v", err)
		} else if st.IsDir() {
			bad("export file %q is a directory", f)
		}
	}
	if cfg.maxCredits < 0 {
		bad("--max-credits: must not be negative")
	}
	if cfg.apiRate < 0 {
		bad("--api-rate: must not be negative")
	}
	if cfg.apiTimeout == 0 || cfg.connectTO == 0 || cfg.requestTO == 0 {
		bad("timeouts must be above zero")
	}
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	p.failOn = failOnSeverity(cfg.failOn, bad)
	p.format = reportFormat(env, "-o", cfg.format, cfg.outputFile, bad)
	if cfg.useShodan {
		key := cfg.shodanKey
		if key == "" {
			key = env.Getenv("SHODAN_API_KEY")
		}
		c, err := shodan.New(shodan.Options{BaseURL: cfg.shodanURL, Key: key, Rate: cfg.apiRate, Timeout: cfg.apiTimeout, UserAgent: "mcpwarden/" + Version, Logger: logger})
		if err != nil {
			bad("--shodan: %v", err)
		}
		p.shodan = c
	}
	if cfg.useCensys {
		id, secret := cfg.censysID, cfg.censysSecret
		if id == "" {
			id = env.Getenv("CENSYS_API_ID")
		}
		if secret == "" {
			secret = env.Getenv("CENSYS_API_SECRET")
		}
		c, err := censys.New(censys.Options{BaseURL: cfg.censysURL, ID: id, Secret: secret, Rate: cfg.apiRate, Timeout: cfg.apiTimeout, UserAgent: "mcpwarden/" + Version, Logger: logger})
		if err != nil {
			bad("--censys: %v", err)
		}
		p.censys = c
	}
	if len(problems) > 0 {
		return nil, usagef("%s", strings.Join(problems, "\n  "))
	}
	return p, nil
}

// readTargetList reads target specs from a file: several per line
// (separated by blanks or commas), '#' starts a comment.
func readTargetList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		out = append(out, strings.FieldsFunc(line, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\r' })...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// budget is the credit gate: what the run may spend and has spent.
type budget struct {
	limit int // -1: unlimited (--yes)
	spent int
}

func (b *budget) left() int {
	if b.limit < 0 {
		return 1 << 30
	}
	return max(b.limit-b.spent, 0)
}

func executeExposure(ctx context.Context, env *Env, cfg *exposureConfig, plan *exposurePlan) int {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	say := func(format string, a ...any) { fmt.Fprintf(env.Stderr, "mcpwarden exposure: "+format+"\n", a...) }
	coll := exposure.NewCollector(plan.scope)
	counts := map[exposure.Source]*exposure.Counts{exposure.SourceShodan: {}, exposure.SourceCensys: {}}
	add := func(s *exposure.Service) error { coll.Add(s); return nil }
	b := &budget{limit: cfg.maxCredits}
	if cfg.yes {
		b.limit = -1
	}

	// Offline exports first: they cost nothing.
	for _, name := range cfg.shodanExports.vals {
		n, err := readExport(ctx, name, shodan.ReadExport, add)
		counts[exposure.SourceShodan].Add(n)
		if err != nil {
			return fail(env, err)
		}
	}
	for _, name := range cfg.censysExports.vals {
		n, err := readExport(ctx, name, censys.ReadExport, add)
		counts[exposure.SourceCensys].Add(n)
		if err != nil {
			return fail(env, err)
		}
	}
	if plan.shodan != nil {
		if err := runShodan(ctx, plan, cfg, b, say, counts[exposure.SourceShodan], add); err != nil {
			return fail(env, err)
		}
	}
	if plan.censys != nil {
		if err := runCensys(ctx, plan, cfg, b, say, counts[exposure.SourceCensys], add); err != nil {
			return fail(env, err)
		}
	}

	indexed := coll.Indexed()
	var eps []*result.Endpoint
	var scanSum *result.Summary
	var runErr error
	now := time.Now()
	if cfg.verify && len(indexed) > 0 {
		eps, scanSum, runErr = verifyIndexed(ctx, cfg, plan, logger, indexed)
	} else {
		for _, ix := range indexed {
			eps = append(eps, ix.Unverified(now))
		}
	}

	out := env.Stdout
	if cfg.outputFile != "" {
		f, err := os.OpenFile(cfg.outputFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(env, fmt.Errorf("--output-file: %w", err))
		}
		defer f.Close()
		out = f
	}
	w, err := report.New(plan.format, out, report.Options{
		Version: Version, All: cfg.all,
		Color: cfg.outputFile == "" && report.AutoColor(env.Stdout, env.Getenv),
	})
	if err != nil {
		return fail(env, err)
	}
	sum := &result.Summary{Schema: result.SummarySchema, ByStatus: map[result.Status]int{}, Findings: map[string]int{}}
	if scanSum != nil { // targets: the services --verify probed
		sum.Targets, sum.Requests, sum.ElapsedMS, sum.Interrupted = scanSum.Targets, scanSum.Requests, scanSum.ElapsedMS, scanSum.Interrupted
	}
	worst := finding.Severity(-1)
	classes := map[exposure.Class]int{}
	states := map[string]int{}
	for _, ix := range indexed {
		classes[ix.Verdict.Class]++
	}
	for _, ep := range eps {
		if ep.Exposure != nil && ep.Exposure.Class == string(exposure.NotMCP) && len(ep.Findings) == 0 && !cfg.all {
			continue // an indexed service with no MCP signal then or now
		}
		sum.ByStatus[ep.Status]++
		sum.Count(ep)
		if s, ok := finding.Max(ep.Findings); ok && s > worst {
			worst = s
		}
		if ep.Exposure != nil && ep.Exposure.Now != "" {
			states[ep.Exposure.Now]++
		}
		if err := w.Write(ep); err != nil && runErr == nil {
			runErr = fmt.Errorf("write report: %w", err)
		}
	}
	if err := w.Close(sum); err != nil && runErr == nil {
		runErr = fmt.Errorf("write report: %w", err)
	}
	for _, src := range []exposure.Source{exposure.SourceShodan, exposure.SourceCensys} {
		n := counts[src]
		n.OutOfScope = coll.OutOfScope(src)
		if n.Records+n.Malformed+n.Queries == 0 {
			continue
		}
		say("%s: %d records, %d outside your targets dropped, %d malformed skipped; %d requests, %d query credits",
			src, n.Records, n.OutOfScope, n.Malformed, n.Queries, n.Credits)
	}
	line := fmt.Sprintf("%d indexed services inside your targets: %d likely-mcp, %d possibly-mcp, %d not-mcp",
		len(indexed), classes[exposure.LikelyMCP], classes[exposure.PossiblyMCP], classes[exposure.NotMCP])
	if cfg.verify {
		line += fmt.Sprintf("; now %d open, %d protected, %d not-mcp, %d gone",
			states[string(exposure.NowOpen)], states[string(exposure.NowProtected)], states[string(exposure.NowNotMCP)], states[string(exposure.NowGone)])
	}
	say("%s", line)
	switch {
	case errors.Is(runErr, scan.ErrInterrupted):
		say("%v; the results so far are written", runErr)
		return ExitError
	case runErr != nil:
		return fail(env, runErr)
	case worst >= plan.failOn:
		return ExitFindings
	}
	return ExitOK
}

type exportReader func(context.Context, io.Reader, func(*exposure.Service) error) (exposure.Counts, error)

func readExport(ctx context.Context, name string, read exportReader, add func(*exposure.Service) error) (exposure.Counts, error) {
	f, err := os.Open(name)
	if err != nil {
		return exposure.Counts{}, err
	}
	defer f.Close()
	n, err := read(ctx, f, add)
	if err != nil {
		return n, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// runShodan shows the plan and its cost, applies the credit gate, then runs
// the lookups and searches.
func runShodan(ctx context.Context, plan *exposurePlan, cfg *exposureConfig, b *budget, say func(string, ...any), n *exposure.Counts, add func(*exposure.Service) error) error {
	c := plan.shodan
	info, err := c.APIInfo(ctx)
	if err != nil {
		return err
	}
	n.Queries++
	say("shodan: plan %q, %d query credits left", info.Plan, info.QueryCredits)
	sp := plan.scope.Shodan()
	type search struct {
		query        string
		pages, total int
	}
	var searches []search
	cost := 0
	for _, q := range sp.Searches {
		total, err := c.Count(ctx, q)
		if err != nil {
			return err
		}
		n.Queries++
		pages := shodan.Pages(total, cfg.maxPages)
		c := shodan.Cost(q, pages)
		say("shodan: search %q: %d results, %d pages, %d query credits", q, total, pages, c)
		searches = append(searches, search{q, pages, total})
		cost += c
	}
	if len(sp.Lookups) > 0 {
		say("shodan: %d host lookups (no query credits)", len(sp.Lookups))
	}
	if cost > 0 {
		switch {
		case cost > b.left():
			return usagef("shodan: the searches cost %d query credits, above --max-credits %d: rerun with --max-credits %d or --yes", cost, cfg.maxCredits, cost+b.spent)
		case cost > info.QueryCredits:
			return fmt.Errorf("shodan: the searches cost %d query credits and the account has %d left (lower --max-pages or narrow the targets)", cost, info.QueryCredits)
		}
	}
	for _, a := range sp.Lookups {
		addr, _ := netip.ParseAddr(a)
		got, err := c.Host(ctx, addr, add)
		n.Add(got)
		if err != nil {
			return err
		}
	}
	for _, s := range searches {
		if s.pages == 0 {
			continue
		}
		got, err := c.Search(ctx, s.query, s.pages, add)
		n.Add(got)
		b.spent += got.Credits
		if err != nil {
			return err
		}
	}
	return nil
}

// runCensys searches (one query per page) and looks up the hosts hit (one
// query each) within the credit gate; hits left without a lookup are
// classified from the search alone.
func runCensys(ctx context.Context, plan *exposurePlan, cfg *exposureConfig, b *budget, say func(string, ...any), n *exposure.Counts, add func(*exposure.Service) error) error {
	c := plan.censys
	q, err := c.Account(ctx)
	if err != nil {
		return err
	}
	n.Queries++
	left := q.Left()
	say("censys: %d of %d queries used this period, %d left", q.Used, q.Allowance, left)
	queries := plan.scope.Censys(true)
	first := len(queries)
	say("censys: %d searches: %d queries for their first pages, then 1 per further page (at most %d pages each) and 1 per host looked up", len(queries), first, cfg.maxPages)
	switch {
	case first > b.left():
		return usagef("censys: the searches cost at least %d queries, above --max-credits %d: rerun with --max-credits %d or --yes", first, cfg.maxCredits, first+b.spent)
	case first > left:
		return fmt.Errorf("censys: the searches cost at least %d queries and the account has %d left", first, left)
	}
	spend := func(k int) bool {
		if k > b.left() || k > left {
			return false
		}
		b.spent += k
		left -= k
		return true
	}
	var hits []*censys.Host
	skippedPages := 0
	for i, query := range queries {
		spend(1) // the first page, checked above
		remaining := len(queries) - i - 1
		got, err := c.Search(ctx, query, cfg.maxPages, func(page, total int) bool {
			// Keep one query in reserve for each later search's first page.
			if b.left()-remaining < 1 || left-remaining < 1 {
				skippedPages++
				return false
			}
			return spend(1)
		}, func(h *censys.Host) error {
			hits = append(hits, h)
			return nil
		})
		n.Add(got)
		if err != nil {
			return err
		}
	}
	if skippedPages > 0 {
		say("censys: further result pages not fetched: --max-credits reached (raise it or use --yes)")
	}
	looked, unlooked := 0, 0
	for _, h := range hits {
		// A host outside the targets is neither looked up nor kept.
		if !hitInScope(plan.scope, h) {
			svcs, bad := h.ServicesOf(true, "")
			n.Malformed += bad
			for _, s := range svcs {
				add(s)
			}
			continue
		}
		if spend(1) {
			full, err := c.Host(ctx, h.Addr())
			n.Queries++
			n.Credits++
			if err != nil {
				return err
			}
			if full != nil {
				looked++
				svcs, bad := full.ServicesOf(false, "")
				n.Malformed += bad
				for _, s := range svcs {
					add(s)
				}
				continue
			}
		}
		unlooked++
		svcs, bad := h.ServicesOf(true, "MCP text in the HTTP response (Censys search)")
		n.Malformed += bad
		for _, s := range svcs {
			add(s)
		}
	}
	if unlooked > 0 {
		say("censys: %d hosts classified from the search hit only: --max-credits reached before their lookups", unlooked)
	}
	return nil
}

// hitInScope reports whether any matched service of a search hit lies in
// the scope.
func hitInScope(sc *exposure.Scope, h *censys.Host) bool {
	svcs, _ := h.ServicesOf(true, "")
	for _, s := range svcs {
		if _, ok := sc.Contains(s); ok {
			return true
		}
	}
	return false
}

// sliceSource feeds a fixed list of services to scan.Run.
type sliceSource []target.Service

func (s sliceSource) Each(ctx context.Context, fn func(target.Service) error) error {
	for _, svc := range s {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(svc); err != nil {
			return err
		}
	}
	return nil
}

// verifyIndexed scans every indexed service and joins the records with
// the index's view.
func verifyIndexed(ctx context.Context, cfg *exposureConfig, plan *exposurePlan, logger *slog.Logger, indexed []*exposure.Indexed) ([]*result.Endpoint, *result.Summary, error) {
	var src sliceSource
	byName := false
	keyOf := func(host string, port int) string {
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.Unmap().String()
		}
		return fmt.Sprintf("%s|%d", strings.ToLower(host), port)
	}
	for _, ix := range indexed {
		src = append(src, ix.Target())
		byName = byName || !ix.Match.ByAddress
	}
	probe.Version = Version
	opts := scan.Options{
		Concurrency: cfg.concurrency,
		EmitClosed:  true,
		Logger:      logger,
		Probe: probe.Options{
			ConnectTimeout: cfg.connectTO,
			RequestTimeout: cfg.requestTO,
			Logger:         logger,
		},
	}
	if !byName {
		// Every service was kept for its address: never connect elsewhere.
		opts.Excluded = func(a netip.Addr) bool { return !plan.scope.ContainsAddr(a) }
	}
	got := map[string][]*result.Endpoint{}
	sum, err := scan.Run(ctx, src, opts, func(ep *result.Endpoint) error {
		k := keyOf(ep.Host, ep.Port)
		got[k] = append(got[k], ep)
		return nil
	})
	now := time.Now()
	var out []*result.Endpoint
	for _, ix := range indexed {
		out = append(out, ix.Verified(got[keyOf(ix.Host(), ix.Service.Port)], now)...)
	}
	return out, sum, err
}
