package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/gate"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/target"
	"github.com/mcpwarden/mcpwarden/internal/watch/alert"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/runner"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// defaultGroupName names the one group built from the command line.
const defaultGroupName = "default"

// watchConfig is the parsed watch command line.
type watchConfig struct {
	configFile   string
	targets      []string
	inputLists   listFlag
	ports        string
	paths        string
	exclude      listFlag
	excludeFiles listFlag
	host         bool
	workers      bool
	connections  bool
	name         string
	concurrency  int
	perHost      int
	rate         float64
	connectTO    time.Duration
	requestTO    time.Duration
	serviceTO    time.Duration
	deadline     time.Duration
	interval     time.Duration
	cron         string
	once         bool
	db           string
	listen       string
	apiKeys      string
	jwtIssuer    string
	audiences    listFlag
	allowUnauth  bool
	userAgent    string
	headers      headerFlag
	verbose      bool
}

func watchFlags(cfg *watchConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := config.DefaultScan()
	cfg.exclude.split, cfg.audiences.split = true, true
	cfg.concurrency, cfg.perHost = d.Concurrency, d.PerHost
	cfg.connectTO, cfg.requestTO, cfg.serviceTO = d.ConnectTimeout, d.RequestTimeout, d.ServiceTimeout
	cfg.name = defaultGroupName
	fs.StringVar(&cfg.configFile, "config", "", "")
	fs.Var(&cfg.inputLists, "iL", "")
	fs.StringVar(&cfg.ports, "p", "", "")
	fs.StringVar(&cfg.ports, "ports", "", "")
	fs.StringVar(&cfg.paths, "paths", "", "")
	fs.Var(&cfg.exclude, "exclude", "")
	fs.Var(&cfg.excludeFiles, "exclude-file", "")
	fs.BoolVar(&cfg.host, "host", false, "")
	fs.BoolVar(&cfg.workers, "workers", false, "")
	fs.BoolVar(&cfg.connections, "connections", false, "")
	fs.StringVar(&cfg.name, "name", cfg.name, "")
	fs.Var(positiveInt{&cfg.concurrency}, "c", "")
	fs.Var(positiveInt{&cfg.concurrency}, "concurrency", "")
	fs.Var(positiveInt{&cfg.perHost}, "per-host", "")
	fs.Float64Var(&cfg.rate, "rate", 0, "")
	fs.Var(durationFlag{&cfg.connectTO}, "connect-timeout", "")
	fs.Var(durationFlag{&cfg.requestTO}, "timeout", "")
	fs.Var(durationFlag{&cfg.serviceTO}, "service-timeout", "")
	fs.Var(durationFlag{&cfg.deadline}, "deadline", "")
	fs.Var(durationFlag{&cfg.interval}, "interval", "")
	fs.StringVar(&cfg.cron, "cron", "", "")
	fs.BoolVar(&cfg.once, "once", false, "")
	fs.StringVar(&cfg.db, "db", "", "")
	fs.StringVar(&cfg.listen, "listen", "", "")
	fs.StringVar(&cfg.apiKeys, "api-keys", "", "")
	fs.StringVar(&cfg.jwtIssuer, "jwt-issuer", "", "")
	fs.Var(&cfg.audiences, "audience", "")
	fs.BoolVar(&cfg.allowUnauth, "allow-unauthenticated", false, "")
	fs.StringVar(&cfg.userAgent, "user-agent", "", "")
	fs.Var(&cfg.headers, "H", "")
	fs.Var(&cfg.headers, "header", "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.verbose, "verbose", false, "")
	return fs
}

func watchUsage(w io.Writer) {
	fmt.Fprintf(w, `Usage: mcpwarden watch [flags] [TARGET...]
       mcpwarden watch --config FILE [--once] [--db DB] [--listen ADDR]
       mcpwarden watch check CONFIG
       mcpwarden watch events [--db DB | --config FILE] [--since T] [-o jsonl|table]

Scans on a schedule, remembers what it saw, and tells you when something
changes: an MCP endpoint appears or goes, authentication is dropped or
added, a tool is added, removed or changed (its description, schema or
annotations: the rug pull), a finding is new or resolved, a certificate is
about to expire. Events go to alert routes (webhook, Slack, a command, the
log) and to the dashboard.

Without --config, the targets and scan flags make one target group
(the target syntax of 'mcpwarden scan').

Watch:
  --config FILE         YAML config: target groups, schedules, alert routes, retention
  --once                run one cycle of every group, deliver the alerts, exit (for cron)
  --db DB               sqlite:PATH or postgres://... (default: sqlite in the user's data
                        directory: $XDG_DATA_HOME/mcpwarden/watch.db)
  --interval D          time between cycles without --config (default %v)
  --cron EXPR           a cron schedule instead (5 fields or @hourly, @every 10m)
  --name NAME           the group's name without --config (default %q)
  --host                audit this machine (as 'mcpwarden host') instead of scanning targets
  --connections         with --host: sample the inbound connections of its MCP listeners
                        every 5s; a new outside peer raises connection.external, a peer
                        that skips a gate connection.bypass (config: connections: {...})
  --workers             derive the group's runs from the batches of sharded workers
                        ('mcpwarden scan --db DB --batch ID --group NAME --shard I/N')
                        instead of scanning; --interval is how often to look for them
  -v, --verbose         debug logs on stderr

Targets (without --config):
  -iL FILE              read targets from FILE (repeatable; read again at every cycle)
  -p, --ports LIST      ports for targets without one (default: %s)
  --paths LIST          paths probed on each port (default: %s)
  --exclude LIST        never touch these IPs, CIDRs, ranges or host names (repeatable)
  --exclude-file FILE   exclusions, one per line (repeatable)
  -H, --header 'N: V'   sent only to servers that demand authentication, as scan -H
                        (repeatable; never printed or stored). In a config file:
                        scan: {headers_env: {Authorization: ENV_VAR}}

Speed (without --config):
  -c, --concurrency N   services probed at once (default %d)
  --per-host N          services probed at once on one host (default %d)
  --rate N              HTTP requests per second, 0 = no cap (default 0)
  --connect-timeout D   (default %v)   --timeout D (default %v)   --service-timeout D (default %v)
  --deadline D          bound of one cycle's scan (default none)
  --user-agent S        User-Agent of the probes

Dashboard and metrics (not with --once):
  --listen ADDR         serve the dashboard, its JSON API and /metrics on ADDR
                        e.g. --listen 127.0.0.1:8080
  --api-keys FILE       API keys file (make keys with 'mcpwarden gate keys new')
  --jwt-issuer URL      accept JWT access tokens from this OAuth issuer
  --audience LIST       accepted JWT audiences (default: the dashboard's URL)
  --allow-unauthenticated  allow a non-loopback --listen without authentication

Examples:
  mcpwarden demo --keep &
  mcpwarden watch 127.0.0.10-17 -p 3000 --interval 1m --listen 127.0.0.1:8080
  mcpwarden watch --config watch.yaml --once
  mcpwarden watch check watch.yaml
  mcpwarden watch events --since 24h -o table

Exit codes: 0 done (or stopped by a signal), 2 usage, config or runtime error.
`, config.DefaultInterval, defaultGroupName, joinInts(target.DefaultPorts), strings.Join(target.DefaultPaths, ","),
		config.DefaultConcurrency, config.DefaultPerHost, config.DefaultConnectTimeout, config.DefaultRequestTimeout,
		config.DefaultServiceTimeout)
}

func runWatch(ctx context.Context, env *Env, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return runWatchCheck(env, args[1:])
		case "events":
			return runWatchEvents(ctx, env, args[1:])
		}
	}
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			watchUsage(env.Stdout)
			return ExitOK
		}
	}
	cfg := &watchConfig{}
	fs := watchFlags(cfg)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return watchUsageError(env, err)
	}
	cfg.targets = pos
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	wc, err := planWatch(cfg, set, env)
	if err != nil {
		return watchUsageError(env, err)
	}
	return executeWatch(ctx, env, cfg, wc)
}

func watchUsageError(env *Env, err error) int {
	fmt.Fprintf(env.Stderr, "mcpwarden watch: %v\nRun 'mcpwarden watch --help' for usage.\n", err)
	return ExitError
}

// scanOnlyFlags describe the one group built from the command line.
var scanOnlyFlags = []string{"iL", "p", "ports", "paths", "exclude", "exclude-file", "host", "name", "c", "concurrency",
	"per-host", "rate", "connect-timeout", "timeout", "service-timeout", "deadline", "interval", "cron", "workers", "connections"}

// planWatch turns the command line into a config; every problem is
// reported at once.
func planWatch(cfg *watchConfig, set map[string]bool, env *Env) (*config.Config, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	var c *config.Config
	if cfg.configFile != "" {
		for _, f := range scanOnlyFlags {
			if set[f] {
				bad("-%s: targets and scan options go in the config file with --config", f)
			}
		}
		if len(cfg.targets) > 0 {
			bad("targets %q: put them in the config file with --config", cfg.targets)
		}
		if len(problems) == 0 {
			fc, err := config.Load(cfg.configFile)
			if err != nil {
				return nil, err
			}
			c = fc
		} else {
			c = &config.Config{}
		}
	} else {
		c = &config.Config{}
		g := config.Group{Name: cfg.name, Host: cfg.host, Targets: cfg.targets}
		if cfg.workers {
			g.Source = config.SourceWorkers
			if cfg.host || len(cfg.targets) > 0 || len(cfg.inputLists.vals) > 0 {
				bad("--workers: the records come from 'mcpwarden scan --db --batch' workers; give no targets or --host")
			}
		}
		if !regexpName(cfg.name) {
			bad("--name %q: want 1-64 letters, digits, '.', '_' or '-'", cfg.name)
		}
		for _, t := range cfg.targets {
			if _, err := target.ParseSpec(t); err != nil {
				bad("%v", err)
			}
		}
		for _, f := range cfg.inputLists.vals {
			if f == "-" {
				bad("-iL -: watch reads its target files again at every cycle; stdin cannot be read twice")
				continue
			}
			if st, err := os.Stat(f); err != nil {
				bad("-iL: %v", err)
			} else if st.IsDir() {
				bad("-iL %s: is a directory", f)
			}
			g.TargetFiles = append(g.TargetFiles, f)
		}
		if cfg.host && (len(g.Targets) > 0 || len(g.TargetFiles) > 0) {
			bad("--host audits this machine: give no targets with it")
		}
		if cfg.connections && !cfg.host {
			bad("--connections samples this machine's listeners: it needs --host")
		} else if cfg.connections {
			g.Connections = &config.Connections{Interval: config.DefaultConnInterval}
		}
		if !cfg.host && !cfg.workers && len(g.Targets) == 0 && len(g.TargetFiles) == 0 {
			bad("no targets: give hosts, CIDRs, ranges or URLs, -iL FILE, --host, or --config FILE")
		}
		if cfg.ports != "" {
			p, err := target.ParsePorts(cfg.ports)
			if err != nil {
				bad("-p: %v", err)
			}
			g.Ports = p
		}
		if cfg.paths != "" {
			for _, p := range strings.Split(cfg.paths, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n#") {
					bad("--paths: %q must start with / and contain no spaces or #", p)
					continue
				}
				g.Paths = append(g.Paths, p)
			}
		}
		excl := exclusions(cfg.exclude.vals, cfg.excludeFiles.vals, bad)
		g.Exclude = excl
		if cfg.rate < 0 {
			bad("--rate: must not be negative")
		}
		if cfg.connectTO <= 0 || cfg.requestTO <= 0 || cfg.serviceTO <= 0 {
			bad("timeouts must be above zero")
		}
		g.Scan = config.ScanOptions{Rate: cfg.rate, Concurrency: cfg.concurrency, PerHost: cfg.perHost,
			ConnectTimeout: cfg.connectTO, RequestTimeout: cfg.requestTO, ServiceTimeout: cfg.serviceTO, Deadline: cfg.deadline,
			Headers: cfg.headers.h}
		switch {
		case set["interval"] && set["cron"]:
			bad("--interval and --cron: give one")
		case cfg.cron != "":
			s, err := config.ParseCron(cfg.cron)
			if err != nil {
				bad("--cron: %v", err)
			}
			g.Schedule = config.Schedule{Cron: s, Spec: cfg.cron}
		case set["interval"]:
			if cfg.interval < config.MinInterval {
				bad("--interval: %v is shorter than %v", cfg.interval, config.MinInterval)
			}
			g.Schedule = config.Schedule{Interval: cfg.interval}
		default:
			g.Schedule = config.Schedule{Interval: config.DefaultInterval}
		}
		c.Groups = []config.Group{g}
	}
	if cfg.db != "" {
		c.DB = cfg.db
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		bad("--db: want sqlite:PATH or postgres://...")
	}
	if cfg.once && cfg.listen != "" {
		bad("--listen: the dashboard is for a running watch, not --once")
	}
	authFlags := cfg.apiKeys != "" || cfg.jwtIssuer != ""
	if cfg.listen == "" && (authFlags || len(cfg.audiences.vals) > 0 || cfg.allowUnauth) {
		bad("--api-keys, --jwt-issuer, --audience and --allow-unauthenticated protect --listen: give --listen")
	}
	if len(cfg.audiences.vals) > 0 && cfg.jwtIssuer == "" {
		bad("--audience needs --jwt-issuer")
	}
	if cfg.listen != "" {
		if !validListen(cfg.listen) {
			bad("--listen %q: want host:port, e.g. 127.0.0.1:8080", cfg.listen)
		} else if !gate.IsLoopbackListen(cfg.listen) && !authFlags && !cfg.allowUnauth {
			bad("--listen %s is not loopback: protect the dashboard with --api-keys or --jwt-issuer, or pass --allow-unauthenticated", cfg.listen)
		}
	}
	if cfg.apiKeys != "" {
		if _, err := os.Stat(cfg.apiKeys); err != nil {
			bad("--api-keys: %v", err)
		}
	}
	if len(problems) > 0 {
		return nil, usagef("%s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

// validListen reports whether addr is host:port with a numeric port.
func validListen(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

func regexpName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && strings.ContainsRune("._-", r)
		if !ok {
			return false
		}
	}
	return true
}

// defaultDB is a SQLite file in the user's data directory.
func defaultDB(env *Env) (string, error) {
	dir := env.Getenv("XDG_DATA_HOME")
	if dir == "" {
		if home := env.Getenv("HOME"); home != "" {
			dir = filepath.Join(home, ".local", "share")
		} else if d, err := os.UserConfigDir(); err == nil {
			dir = d
		} else {
			return "", fmt.Errorf("no data directory (set XDG_DATA_HOME or HOME, or pass --db): %w", err)
		}
	}
	dir = filepath.Join(dir, "mcpwarden")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("data directory: %w", err)
	}
	return "sqlite:" + filepath.Join(dir, "watch.db"), nil
}

func watchLogger(env *Env, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
}

func executeWatch(ctx context.Context, env *Env, cfg *watchConfig, c *config.Config) int {
	logger := watchLogger(env, cfg.verbose)
	probe.Version = Version
	if c.DB == "" {
		db, err := defaultDB(env)
		if err != nil {
			return fail(env, err)
		}
		c.DB = db
	}
	// The listener's authentication is set up before anything starts, so
	// that a bad key file fails fast.
	var auths []auth.Authenticator
	if cfg.apiKeys != "" {
		keys, err := auth.LoadAPIKeysFile(cfg.apiKeys)
		if err != nil {
			return watchUsageError(env, fmt.Errorf("--api-keys: %w", err))
		}
		auths = append(auths, keys)
	}
	if cfg.jwtIssuer != "" {
		auds := cfg.audiences.vals
		if len(auds) == 0 {
			auds = []string{"http://" + cfg.listen}
		}
		jwt, err := auth.NewJWT(ctx, auth.JWTOptions{Issuer: cfg.jwtIssuer, Audiences: auds, Logger: logger})
		if err != nil {
			return watchUsageError(env, fmt.Errorf("--jwt-issuer: %w", err))
		}
		auths = append(auths, jwt)
	}
	st, err := store.Open(ctx, c.DB, &store.Options{Logger: logger})
	if err != nil {
		return fail(env, err)
	}
	defer st.Close()
	r, err := runner.New(runner.Options{Store: st, Groups: c.Groups, Routes: c.Alerts, GoneGrace: c.GoneGrace,
		TLSExpiryDays: c.TLSExpiryDays, Retention: store.Retention{Observations: c.Retention.Observations, Events: c.Retention.Events},
		UserAgent: cfg.userAgent, Logger: logger})
	if err != nil {
		return fail(env, err)
	}
	if cfg.once {
		res, err := r.Once(ctx)
		n := 0
		for _, cr := range res {
			n += len(cr.Events)
		}
		fmt.Fprintf(env.Stderr, "mcpwarden watch: %d of %d groups scanned, %d new events\n", len(res), len(c.Groups), n)
		if err != nil {
			return fail(env, err)
		}
		return ExitOK
	}
	for _, g := range c.Groups {
		logger.Info("watching", "group", g.Name, "schedule", g.Schedule.String(), "db", redactDB(c.DB))
	}
	if cfg.listen != "" {
		stop, addr, err := serveDashboard(ctx, st, r.Metrics().Handler(), cfg.listen, auths, logger)
		if err != nil {
			return fail(env, err)
		}
		defer stop()
		fmt.Fprintf(env.Stderr, "mcpwarden watch: dashboard on http://%s/\n", addr)
	}
	r.Run(ctx)
	return ExitOK
}

// redactDB names a database without its credentials.
func redactDB(db string) string {
	if strings.HasPrefix(db, "sqlite:") {
		return db
	}
	if i := strings.Index(db, "@"); i >= 0 {
		if j := strings.Index(db, "://"); j >= 0 && j < i {
			return db[:j+3] + "...@" + strings.SplitN(db[i+1:], "?", 2)[0]
		}
	}
	return strings.SplitN(db, "?", 2)[0]
}

// runWatchCheck validates a config file without starting anything.
func runWatchCheck(env *Env, args []string) int {
	if len(args) == 1 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(env.Stdout, "Usage: mcpwarden watch check CONFIG\n\nReports every problem of a watch config file at once; exit 0 when there is none, 2 otherwise.")
		return ExitOK
	}
	if len(args) != 1 {
		return watchUsageError(env, errors.New("check: want exactly one config file"))
	}
	c, err := config.Load(args[0])
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden watch check: %v\n", err)
		return ExitError
	}
	hosts := 0
	for _, g := range c.Groups {
		if g.Host {
			hosts++
		}
	}
	fmt.Fprintf(env.Stdout, "%s: ok: %d target groups (%d host audits), %d alert routes\n", args[0], len(c.Groups), hosts, len(c.Alerts))
	for _, g := range c.Groups {
		extra := ""
		if g.Connections != nil {
			extra += fmt.Sprintf("; connections sampled every %v", g.Connections.Interval)
		}
		if g.Exposure != nil {
			extra += "; exposure check of the indexes (index.new)"
		}
		fmt.Fprintf(env.Stdout, "  group %s: %s%s\n", g.Name, g.Schedule, extra)
	}
	return ExitOK
}

// runWatchEvents lists stored events.
func runWatchEvents(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("watch events", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var db, cfgFile, since, format string
	var limit int
	fs.StringVar(&db, "db", "", "")
	fs.StringVar(&cfgFile, "config", "", "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&format, "o", "", "")
	fs.StringVar(&format, "output", "", "")
	fs.IntVar(&limit, "limit", 0, "")
	for _, a := range args {
		if a == "-h" || a == "--help" {
			fmt.Fprint(env.Stdout, `Usage: mcpwarden watch events [--db DB | --config FILE] [--since T] [-o jsonl|table] [--limit N]

Lists the stored events, oldest first: time, type, url and detail.
  --since T    an RFC 3339 time (2026-03-01T12:00:00Z), a date (2026-03-01) or an age (24h, 7d)
  -o FORMAT    jsonl (one event per line) or table (default: table on a terminal, jsonl otherwise)
  --limit N    at most N events
`)
			return ExitOK
		}
	}
	if err := fs.Parse(args); err != nil {
		return watchUsageError(env, fmt.Errorf("events: %w", err))
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, fmt.Sprintf("events: unexpected argument %q", fs.Arg(0)))
	}
	from, err := parseSince(since, time.Now())
	if err != nil {
		problems = append(problems, "--since: "+err.Error())
	}
	switch format {
	case "":
		format = "jsonl"
		if env.IsTerminal(env.Stdout) {
			format = "table"
		}
	case "jsonl", "table":
	default:
		problems = append(problems, fmt.Sprintf("-o %q: want jsonl or table", format))
	}
	if limit < 0 {
		problems = append(problems, "--limit: must not be negative")
	}
	if db != "" && cfgFile != "" {
		problems = append(problems, "--db and --config: give one")
	}
	if len(problems) > 0 {
		return watchUsageError(env, errors.New(strings.Join(problems, "\n  ")))
	}
	if cfgFile != "" {
		c, err := config.Load(cfgFile)
		if err != nil {
			fmt.Fprintf(env.Stderr, "mcpwarden watch events: %v\n", err)
			return ExitError
		}
		db = c.DB
	}
	if db == "" {
		if db, err = defaultDB(env); err != nil {
			return fail(env, err)
		}
	}
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		if _, err := os.Stat(path); err != nil {
			return fail(env, fmt.Errorf("no watch database at %s (run mcpwarden watch first, or pass --db)", path))
		}
	}
	st, err := store.Open(ctx, db, &store.Options{NoRecover: true})
	if err != nil {
		return fail(env, err)
	}
	defer st.Close()
	evs, err := st.Events(ctx, from, limit)
	if err != nil {
		return fail(env, err)
	}
	if format == "jsonl" {
		enc := json.NewEncoder(env.Stdout)
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return fail(env, err)
			}
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTYPE\tURL\tDETAIL")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), e.Type, e.URL, oneLine(alert.Summary(e)))
	}
	if err := tw.Flush(); err != nil {
		return fail(env, err)
	}
	return ExitOK
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = strings.ToValidUTF8(s[:157], "") + "..."
	}
	return s
}

// parseSince reads an RFC 3339 time, a date or an age before now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	// The store keeps Unix nanoseconds: years 1678 to 2262.
	inRange := func(t time.Time) (time.Time, error) {
		if t.Year() < 1678 || t.Year() > 2261 {
			return time.Time{}, fmt.Errorf("%q: out of range (years 1678 to 2261)", s)
		}
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return inRange(t)
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return inRange(t)
	}
	if d, err := config.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time, a date (2006-01-02) or an age (24h, 7d)", s)
}
