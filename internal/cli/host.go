package cli

import (
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

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// hostConfig is the parsed host command line.
type hostConfig struct {
	format       string
	outputFile   string
	allUsers     bool
	configs      listFlag
	probeRemotes bool
	noListeners  bool
	noConfigs    bool
	ports        string
	home         string
	project      string
	failOn       string
	all          bool
	connectTO    time.Duration
	requestTO    time.Duration
	serviceTO    time.Duration
	verbose      bool
	connections  bool
	gated        listFlag
	// gatedAddrs are the parsed --gated values.
	gatedAddrs []netip.AddrPort
}

func hostFlags(cfg *hostConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("host", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.connectTO, cfg.requestTO, cfg.serviceTO = 2*time.Second, 5*time.Second, 20*time.Second
	fs.StringVar(&cfg.format, "format", "", "")
	fs.StringVar(&cfg.format, "o", "", "")
	fs.StringVar(&cfg.outputFile, "output-file", "", "")
	fs.BoolVar(&cfg.allUsers, "all-users", false, "")
	fs.Var(&cfg.configs, "config", "")
	fs.BoolVar(&cfg.probeRemotes, "probe-remotes", false, "")
	fs.BoolVar(&cfg.noListeners, "no-listeners", false, "")
	fs.BoolVar(&cfg.noConfigs, "no-configs", false, "")
	fs.StringVar(&cfg.ports, "ports", "", "")
	fs.StringVar(&cfg.home, "home", "", "")
	fs.StringVar(&cfg.project, "project", "", "")
	fs.StringVar(&cfg.failOn, "fail-on", "high", "")
	fs.BoolVar(&cfg.all, "all", false, "")
	fs.Var(durationFlag{&cfg.connectTO}, "connect-timeout", "")
	fs.Var(durationFlag{&cfg.requestTO}, "timeout", "")
	fs.Var(durationFlag{&cfg.serviceTO}, "service-timeout", "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.verbose, "verbose", false, "")
	fs.BoolVar(&cfg.connections, "connections", false, "")
	fs.Var(&cfg.gated, "gated", "")
	return fs
}

func hostUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden host [flags]

Audits this machine: which processes listen for MCP beyond loopback, and which
MCP client configurations trust servers that anyone can use.

Listeners: every listening TCP socket, IPv4 and IPv6, with its owning process
(pid, user, command; the container too on Linux, which reads procfs; macOS,
Windows and the BSDs are read through gopsutil). Each is probed with the scan engine
through loopback only (0.0.0.0 at 127.0.0.1, :: at ::1); a socket bound to a
specific network address is not probed and is judged by its command line.
Without root, other users' processes are not visible: their sockets are
reported as "owner not visible without root".

Client configurations: Claude Desktop, Claude Code (~/.claude.json and project
.mcp.json), Cursor, VS Code, Windsurf, Gemini CLI, Zed and Continue, for the
current user (every user with --all-users, as root). Secrets are reported
redacted, never printed.

Flags:
  --format, -o FORMAT   table, jsonl, json, sarif or markdown (default: table on a
                        terminal, jsonl otherwise)
  --output-file FILE    write the report to FILE instead of stdout
  --fail-on SEVERITY    exit 1 when a finding is at or above it: info, low, medium,
                        high, critical or none (default high)
  --all                 also list listeners without MCP and without findings in the table
  --no-listeners        skip the listening sockets
  --no-configs          skip the client configurations
  --ports LIST          audit only the listeners on these ports, e.g. --ports 3000,8000-8100
  --config PATH         also read this MCP client configuration file (repeatable)
  --all-users           read the configurations of every user in /etc/passwd (needs root)
  --home DIR            read the configurations under DIR instead of the current user's home
  --project DIR         per-project configurations of DIR (default: the working directory)
  --probe-remotes       also scan the remote server URLs the configurations name (this
                        sends traffic to those servers)
  --connections         list the established inbound TCP connections of every MCP
                        listener (peer, its address class, and for peers on this
                        machine the process on the other end) and report peers that
                        should not be there: a public peer of a server without
                        authentication, a network peer of a server meant to be local
                        only, and any peer but the gate of a server a gate fronts
  --gated ADDR:PORT     a listener that a mcpwarden gate fronts, so only the gate may
                        connect to it (repeatable; implies --connections). Running
                        gates are found by themselves from their --upstream and
                        --config; an upstream set through MCPW_GATE_* variables or
                        given as a host name is not seen (another process's
                        environment is not readable) and must be declared here
  --connect-timeout D   TCP connect (default 2s)
  --timeout D           one request (default 5s)
  --service-timeout D   all work on one listener (default 20s)
  -v, --verbose         debug logs on stderr

Examples:
  mcpwarden host
  sudo mcpwarden host --all-users -o markdown --output-file host-audit.md
  mcpwarden host --no-listeners --config ./team-mcp.json
  sudo mcpwarden host --connections --gated 127.0.0.1:3000

Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error.
`)
}

func runHost(ctx context.Context, env *Env, args []string) int {
	cfg := &hostConfig{}
	fs := hostFlags(cfg)
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			hostUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q (host takes flags only)", pos[0])
	}
	var opts host.Options
	var format report.Format
	var failOn finding.Severity
	if err == nil {
		opts, format, failOn, err = planHost(cfg, env)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden host: %v\nRun 'mcpwarden host --help' for usage.\n", err)
		return ExitError
	}
	return executeHost(ctx, env, cfg, opts, format, failOn)
}

// planHost validates the flags; every problem is reported at once.
func planHost(cfg *hostConfig, env *Env) (host.Options, report.Format, finding.Severity, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if len(cfg.gated.vals) > 0 {
		cfg.connections = true
	}
	if cfg.connections && cfg.noListeners {
		bad("--connections (or --gated) needs the listeners: drop --no-listeners")
	}
	for _, g := range cfg.gated.vals {
		ap, err := host.ParseGated(g)
		if err != nil {
			bad("--gated: %v", err)
			continue
		}
		cfg.gatedAddrs = append(cfg.gatedAddrs, ap)
	}
	opts := host.Options{
		NoListeners: cfg.noListeners, NoConfigs: cfg.noConfigs, AllUsers: cfg.allUsers,
		Configs: cfg.configs.vals, ProbeRemotes: cfg.probeRemotes, Home: cfg.home, Project: cfg.project,
	}
	if cfg.noListeners && cfg.noConfigs {
		bad("--no-listeners and --no-configs together leave nothing to audit")
	}
	if cfg.ports != "" {
		p, err := target.ParsePorts(cfg.ports)
		if err != nil {
			bad("--ports: %v", err)
		}
		opts.Ports = p
	}
	for _, d := range []struct{ flag, dir string }{{"--home", cfg.home}, {"--project", cfg.project}} {
		if d.dir == "" {
			continue
		}
		if st, err := os.Stat(d.dir); err != nil {
			bad("%s: %v", d.flag, err)
		} else if !st.IsDir() {
			bad("%s: %s is not a directory", d.flag, d.dir)
		}
	}
	for _, c := range cfg.configs.vals {
		if c == "" {
			bad("--config: empty path")
		}
	}
	failOn := failOnSeverity(cfg.failOn, bad)
	format := reportFormat(env, "--format", cfg.format, cfg.outputFile, bad)
	if cfg.connectTO == 0 || cfg.requestTO == 0 || cfg.serviceTO == 0 {
		bad("timeouts must be above zero")
	}
	if len(problems) > 0 {
		return opts, "", 0, usagef("%s", strings.Join(problems, "\n  "))
	}
	opts.Scan = scan.Options{
		Concurrency: 32,
		PerHost:     8,
		Probe: probe.Options{
			ConnectTimeout: cfg.connectTO,
			RequestTimeout: cfg.requestTO,
			ServiceTimeout: cfg.serviceTO,
		},
	}
	return opts, format, failOn, nil
}

func executeHost(ctx context.Context, env *Env, cfg *hostConfig, opts host.Options, format report.Format, failOn finding.Severity) int {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	opts.Logger = logger
	opts.Scan.Probe.Logger = logger
	probe.Version = Version

	out := env.Stdout
	if cfg.outputFile != "" {
		f, err := os.OpenFile(cfg.outputFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(env, fmt.Errorf("--output-file: %w", err))
		}
		defer f.Close()
		out = f
	}
	w, err := report.New(format, out, report.Options{
		Version: Version,
		All:     cfg.all,
		Color:   cfg.outputFile == "" && report.AutoColor(env.Stdout, env.Getenv),
	})
	if err != nil {
		return fail(env, err)
	}
	// Connections are sampled before the audit probes the listeners, so
	// that its own probes are not among them.
	var sample *host.ConnSample
	if cfg.connections {
		var err error
		sample, err = host.SampleConnections(ctx, host.ConnOptions{Gated: cfg.gatedAddrs})
		if err != nil {
			if ctx.Err() != nil {
				return fail(env, err)
			}
			fmt.Fprintf(env.Stderr, "mcpwarden host: warning: connections: %v\n", err)
		} else {
			for _, warn := range sample.Warnings {
				fmt.Fprintf(env.Stderr, "mcpwarden host: warning: %s\n", warn)
			}
		}
	}
	var connFindings []finding.Finding
	worst := finding.Severity(-1)
	res, runErr := host.Audit(ctx, opts, func(ep *result.Endpoint) error {
		if sample != nil && ep.Listen != nil {
			if a, err := netip.ParseAddr(ep.Listen.Address); err == nil {
				connFindings = append(connFindings, host.JudgeConnections(ep, sample.For(netip.AddrPortFrom(a, uint16(ep.Listen.Port))))...)
			}
		}
		if s, ok := finding.Max(ep.Findings); ok && s > worst {
			worst = s
		}
		return w.Write(ep)
	})
	var sum *result.Summary
	if res != nil {
		sum = res.Summary
		// The audit counted each record before it was handed over here.
		for _, f := range connFindings {
			sum.Findings[f.Severity.String()]++
		}
		for _, warn := range res.Warnings {
			fmt.Fprintf(env.Stderr, "mcpwarden host: warning: %s\n", warn)
		}
	}
	if err := w.Close(sum); err != nil && runErr == nil {
		runErr = fmt.Errorf("write report: %w", err)
	}
	if sum != nil && format != report.FormatTable {
		printHostSummary(env.Stderr, sum)
	}
	switch {
	case errors.Is(runErr, host.ErrInterrupted):
		fmt.Fprintf(env.Stderr, "mcpwarden host: %v; the results so far are written\n", runErr)
		return ExitError
	case runErr != nil:
		return fail(env, runErr)
	case worst >= failOn:
		return ExitFindings
	}
	return ExitOK
}

func printHostSummary(w io.Writer, s *result.Summary) {
	var parts []string
	for _, st := range []result.Status{result.StatusMCP, result.StatusNotMCP, result.StatusNotProbed, result.StatusClosed,
		result.StatusTimeout, result.StatusError} {
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
	fmt.Fprintf(w, "mcpwarden host: %d records (%s); findings: %s; %d requests in %.1fs\n",
		s.Targets, strings.Join(parts, ", "), strings.Join(fparts, ", "), s.Requests, float64(s.ElapsedMS)/1000)
}
