// Package config reads the YAML configuration of mcpwarden watch: target
// groups (scan targets or a host audit of this machine) with their
// schedules, scan options, alert routes, retention and the database.
// Parse reports every problem of a file at once, one per line.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/target"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// Defaults.
const (
	DefaultInterval       = 15 * time.Minute
	DefaultConcurrency    = 64
	DefaultPerHost        = 4
	DefaultConnectTimeout = 3 * time.Second
	DefaultRequestTimeout = 5 * time.Second
	DefaultServiceTimeout = 30 * time.Second
	DefaultAlertTimeout   = 10 * time.Second
	DefaultAlertAttempts  = 10
	// MinInterval is the shortest interval schedule accepted.
	MinInterval = time.Second
)

// maxSize bounds a config file.
const maxSize = 1 << 20

// Config is a validated watch configuration.
type Config struct {
	// DB is the store address (sqlite:PATH or postgres://...); empty
	// means the default chosen by the command.
	DB string
	// Scan are the scan options of every group that does not override
	// them.
	Scan ScanOptions
	// GoneGrace and TLSExpiryDays tune the diff (zero: its defaults).
	GoneGrace     time.Duration
	TLSExpiryDays int
	Groups        []Group
	Alerts        []Route
	Retention     Retention
}

// Group is one target group, scanned together on one schedule.
type Group struct {
	Name string
	// Targets are scan target specs (hosts, CIDRs, ranges, URLs);
	// TargetFiles are files of targets (-iL syntax).
	Targets     []string
	TargetFiles []string
	// Ports for targets without one (nil: target.DefaultPorts); Paths
	// probed on each port (nil: target.DefaultPaths).
	Ports []int
	Paths []string
	// Exclude are never touched.
	Exclude *target.Exclusions
	// Host makes the group a host audit of this machine instead of a scan.
	Host bool
	// Source is SourceWorkers when the group's runs are derived from the
	// batches of sharded scan workers (mcpwarden scan --db --batch)
	// instead of being scanned by watch; "" otherwise.
	Source   string
	Schedule Schedule
	Scan     ScanOptions
	// Connections turns on connection sampling for a host group (nil:
	// off); Exposure makes the group an exposure check (see sources.go).
	Connections *Connections
	Exposure    *Exposure
}

// ScanOptions are the probe and pacing options of a group.
type ScanOptions struct {
	Rate           float64
	Concurrency    int
	PerHost        int
	ConnectTimeout time.Duration
	RequestTimeout time.Duration
	ServiceTimeout time.Duration
	// Deadline bounds one scan; zero means none.
	Deadline time.Duration
	// Headers are sent to a target only after it demanded authentication
	// (as scan -H does): credentials for the operator's own protected
	// servers. In a file they come from environment variables
	// (headers_env), never from the file itself.
	Headers http.Header
}

// Retention says how long observations and events are kept (zero: forever).
type Retention struct {
	Observations time.Duration
	Events       time.Duration
}

// Schedule says when a group runs: every Interval, or at the times of a
// cron expression.
type Schedule struct {
	Interval time.Duration
	// Cron is the parsed expression of Spec, nil for an interval.
	Cron cron.Schedule
	Spec string
}

// Next returns the first run time after t.
func (s Schedule) Next(t time.Time) time.Time {
	if s.Cron != nil {
		return s.Cron.Next(t)
	}
	return t.Add(s.Interval)
}

// String describes the schedule.
func (s Schedule) String() string {
	if s.Cron != nil {
		return "cron " + s.Spec
	}
	return "every " + s.Interval.String()
}

// Route kinds.
const (
	RouteWebhook = "webhook"
	RouteSlack   = "slack"
	RouteCommand = "command"
	RouteLog     = "log"
)

// Route is one alert destination with its filters.
type Route struct {
	Name string
	Kind string
	// URL is the webhook address (webhook, slack); it may hold a secret.
	URL string
	// Command is the hook's argv (command); it gets the event JSON on stdin.
	Command []string
	// Headers are sent with webhook requests.
	Headers map[string]string
	Timeout time.Duration
	// MaxAttempts bounds deliveries; the alert is then kept as failed.
	MaxAttempts int
	// Events, when non-empty, are the only event types routed.
	Events []model.Type
	// MinSeverity is the least severity routed (see alert.Severity).
	MinSeverity finding.Severity
	// Groups, when non-empty, are the only groups routed.
	Groups []string
}

// Error lists every problem of a config.
type Error struct {
	// Name is the file name ("" when unknown).
	Name     string
	Problems []string
}

func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = "config"
	}
	return fmt.Sprintf("watch config %s:\n  %s", name, strings.Join(e.Problems, "\n  "))
}

// file is the YAML layout.
type file struct {
	DB            string      `yaml:"db"`
	Scan          *scanFile   `yaml:"scan"`
	GoneGrace     string      `yaml:"gone_grace"`
	TLSExpiryDays int         `yaml:"tls_expiry_days"`
	Groups        []groupFile `yaml:"groups"`
	Alerts        []routeFile `yaml:"alerts"`
	Retention     struct {
		Observations string `yaml:"observations"`
		Events       string `yaml:"events"`
	} `yaml:"retention"`
}

type scanFile struct {
	Rate           *float64 `yaml:"rate"`
	Concurrency    *int     `yaml:"concurrency"`
	PerHost        *int     `yaml:"per_host"`
	ConnectTimeout string   `yaml:"connect_timeout"`
	Timeout        string   `yaml:"timeout"`
	ServiceTimeout string   `yaml:"service_timeout"`
	Deadline       string   `yaml:"deadline"`
	// HeadersEnv maps a header name to the environment variable holding
	// its value.
	HeadersEnv map[string]string `yaml:"headers_env"`
}

type groupFile struct {
	Name        string        `yaml:"name"`
	Targets     []string      `yaml:"targets"`
	TargetFiles []string      `yaml:"target_files"`
	Ports       string        `yaml:"ports"`
	Paths       []string      `yaml:"paths"`
	Exclude     []string      `yaml:"exclude"`
	Host        bool          `yaml:"host"`
	Source      string        `yaml:"source"`
	Interval    string        `yaml:"interval"`
	Cron        string        `yaml:"cron"`
	Scan        *scanFile     `yaml:"scan"`
	Connections *connsFile    `yaml:"connections"`
	Exposure    *exposureFile `yaml:"exposure"`
}

type routeFile struct {
	Name        string            `yaml:"name"`
	Type        string            `yaml:"type"`
	URL         string            `yaml:"url"`
	URLEnv      string            `yaml:"url_env"`
	Command     []string          `yaml:"command"`
	Headers     map[string]string `yaml:"headers"`
	Timeout     string            `yaml:"timeout"`
	MaxAttempts int               `yaml:"max_attempts"`
	Events      []string          `yaml:"events"`
	MinSeverity string            `yaml:"min_severity"`
	Groups      []string          `yaml:"groups"`
}

// Load reads and validates the config file at path; environment
// variables named by url_env are read with os.Getenv.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("watch config: %w", err)
	}
	defer f.Close()
	return Parse(f, path, os.Getenv)
}

// Parse reads and validates a config. name is used in messages; getenv
// reads the variables named by url_env (nil: none are set). Every problem
// is reported in one *Error.
func Parse(r io.Reader, name string, getenv func(string) string) (*Config, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("watch config %s: %w", name, err)
	}
	if len(b) > maxSize {
		return nil, &Error{Name: name, Problems: []string{fmt.Sprintf("larger than %d bytes", maxSize)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Name: name, Problems: []string{"empty file"}}
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, &Error{Name: name, Problems: te.Errors}
		}
		return nil, &Error{Name: name, Problems: []string{err.Error()}}
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{Name: name, Problems: []string{"more than one YAML document"}}
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	v := &validator{getenv: getenv}
	c := v.config(&f)
	if len(v.problems) > 0 {
		return nil, &Error{Name: name, Problems: v.problems}
	}
	return c, nil
}

type validator struct {
	problems []string
	getenv   func(string) string
}

func (v *validator) add(format string, a ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}

// duration reads a Go duration, also accepting a whole number of days
// ("30d"). Empty gives 0.
func (v *validator) duration(what, s string) time.Duration {
	d, err := ParseDuration(s)
	if err != nil {
		v.add("%s: %v", what, err)
	}
	return d
}

// ParseDuration reads a Go duration ("90s", "1h30m") or a whole number of
// days ("30d"). Empty is 0; negative values are rejected.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, fmt.Errorf("bad duration %q: want a Go duration (90s, 2h) or days (30d)", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want a Go duration (90s, 2h) or days (30d)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("bad duration %q: negative", s)
	}
	return d, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// cronParser reads standard 5-field expressions and the @hourly family.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a 5-field cron expression (minute hour day-of-month
// month day-of-week) or a descriptor (@hourly, @daily, @every 5m).
func ParseCron(spec string) (cron.Schedule, error) {
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("bad cron expression %q: %v", spec, err)
	}
	return s, nil
}

func (v *validator) config(f *file) *Config {
	c := &Config{DB: strings.TrimSpace(f.DB), TLSExpiryDays: f.TLSExpiryDays}
	if c.DB != "" && !strings.HasPrefix(c.DB, "sqlite:") && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		v.add("db: want sqlite:PATH or postgres://...")
	}
	if c.DB == "sqlite:" {
		v.add("db: sqlite: needs a path")
	}
	c.Scan = v.scan("scan", f.Scan, defaultScan())
	c.GoneGrace = v.duration("gone_grace", f.GoneGrace)
	if f.TLSExpiryDays < 0 {
		v.add("tls_expiry_days: must not be negative")
	}
	c.Retention.Observations = v.duration("retention.observations", f.Retention.Observations)
	c.Retention.Events = v.duration("retention.events", f.Retention.Events)
	if len(f.Groups) == 0 {
		v.add("groups: at least one target group is needed")
	}
	names := map[string]bool{}
	for i, g := range f.Groups {
		what := fmt.Sprintf("groups[%d]", i)
		if g.Name != "" {
			what = fmt.Sprintf("group %q", g.Name)
		}
		switch {
		case g.Name == "":
			v.add("%s: name is required", what)
		case !nameRE.MatchString(g.Name):
			v.add("%s: name must be 1-64 letters, digits, '.', '_' or '-'", what)
		case names[g.Name]:
			v.add("%s: name used twice", what)
		}
		names[g.Name] = true
		c.Groups = append(c.Groups, v.group(what, &g, c.Scan))
	}
	routes := map[string]bool{}
	for i, r := range f.Alerts {
		what := fmt.Sprintf("alerts[%d]", i)
		if r.Name != "" {
			what = fmt.Sprintf("alert %q", r.Name)
		}
		switch {
		case r.Name == "":
			v.add("%s: name is required (it keys the delivery of each event)", what)
		case !nameRE.MatchString(r.Name):
			v.add("%s: name must be 1-64 letters, digits, '.', '_' or '-'", what)
		case routes[r.Name]:
			v.add("%s: name used twice", what)
		}
		routes[r.Name] = true
		c.Alerts = append(c.Alerts, v.route(what, &r, names))
	}
	return c
}

func defaultScan() ScanOptions {
	return ScanOptions{Concurrency: DefaultConcurrency, PerHost: DefaultPerHost, ConnectTimeout: DefaultConnectTimeout,
		RequestTimeout: DefaultRequestTimeout, ServiceTimeout: DefaultServiceTimeout}
}

// DefaultScan returns the scan options used when a config sets none.
func DefaultScan() ScanOptions { return defaultScan() }

func (v *validator) scan(what string, f *scanFile, base ScanOptions) ScanOptions {
	s := base
	if f == nil {
		return s
	}
	if f.Rate != nil {
		if *f.Rate < 0 {
			v.add("%s.rate: must not be negative", what)
		}
		s.Rate = *f.Rate
	}
	if f.Concurrency != nil {
		if *f.Concurrency < 1 || *f.Concurrency > 100000 {
			v.add("%s.concurrency: want 1..100000", what)
		}
		s.Concurrency = *f.Concurrency
	}
	if f.PerHost != nil {
		if *f.PerHost < 1 || *f.PerHost > 10000 {
			v.add("%s.per_host: want 1..10000", what)
		}
		s.PerHost = *f.PerHost
	}
	pos := func(field, val string, dst *time.Duration) {
		if val == "" {
			return
		}
		d := v.duration(what+"."+field, val)
		if d == 0 && !strings.HasPrefix(strings.TrimSpace(val), "-") {
			if _, err := ParseDuration(val); err == nil {
				v.add("%s.%s: must be above zero", what, field)
			}
		}
		if d > 0 {
			*dst = d
		}
	}
	pos("connect_timeout", f.ConnectTimeout, &s.ConnectTimeout)
	pos("timeout", f.Timeout, &s.RequestTimeout)
	pos("service_timeout", f.ServiceTimeout, &s.ServiceTimeout)
	if f.Deadline != "" {
		s.Deadline = v.duration(what+".deadline", f.Deadline)
	}
	if len(f.HeadersEnv) > 0 {
		s.Headers = s.Headers.Clone()
		if s.Headers == nil {
			s.Headers = http.Header{}
		}
		for name, env := range f.HeadersEnv {
			switch val := v.getenv(env); {
			case !validHeaderName(name):
				v.add("%s.headers_env: %q is not a header name", what, name)
			case env == "":
				v.add("%s.headers_env.%s: name an environment variable", what, name)
			case val == "":
				v.add("%s.headers_env.%s: environment variable %s is empty or not set", what, name, env)
			case strings.ContainsAny(val, "\r\n\x00"):
				v.add("%s.headers_env.%s: the value of %s is not a valid header value", what, name, env)
			default:
				s.Headers.Set(name, val)
			}
		}
	}
	return s
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

func (v *validator) group(what string, f *groupFile, base ScanOptions) Group {
	g := Group{Name: f.Name, Host: f.Host, Targets: f.Targets, TargetFiles: f.TargetFiles, Source: f.Source}
	g.Connections = v.connections(what, f)
	if f.Source != "" {
		v.workersGroup(what, f)
	} else if f.Exposure != nil {
		g.Exposure = v.exposure(what, f)
	} else if f.Host {
		if len(f.Targets) > 0 || len(f.TargetFiles) > 0 || len(f.Exclude) > 0 || len(f.Paths) > 0 {
			v.add("%s: host: true audits this machine; targets, target_files, exclude and paths do not apply", what)
		}
	} else if len(f.Targets) == 0 && len(f.TargetFiles) == 0 {
		v.add("%s: no targets: set targets, target_files, or host: true", what)
	}
	for _, t := range f.Targets {
		if _, err := target.ParseSpec(t); err != nil {
			v.add("%s: %v", what, err)
		}
	}
	for _, p := range f.TargetFiles {
		if st, err := os.Stat(p); err != nil {
			v.add("%s: target file %q: %v", what, p, errors.Unwrap(err))
		} else if st.IsDir() {
			v.add("%s: target file %q is a directory", what, p)
		}
	}
	if f.Ports != "" {
		ps, err := target.ParsePorts(f.Ports)
		if err != nil {
			v.add("%s: ports: %v", what, err)
		}
		g.Ports = ps
	}
	for _, p := range f.Paths {
		if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " \t\r\n#") {
			v.add("%s: path %q must start with / and contain no spaces or #", what, p)
			continue
		}
		g.Paths = append(g.Paths, p)
	}
	ex, err := target.ParseExclusions(f.Exclude)
	if err != nil {
		v.add("%s: exclude: %v", what, err)
	}
	g.Exclude = ex
	switch {
	case f.Interval != "" && f.Cron != "":
		v.add("%s: set interval or cron, not both", what)
	case f.Cron != "":
		s, err := ParseCron(f.Cron)
		if err != nil {
			v.add("%s: %v", what, err)
		}
		g.Schedule = Schedule{Cron: s, Spec: f.Cron}
	case f.Interval != "":
		d := v.duration(what+": interval", f.Interval)
		if _, err := ParseDuration(f.Interval); err == nil && d < MinInterval {
			v.add("%s: interval %q is shorter than %v", what, f.Interval, MinInterval)
		}
		g.Schedule = Schedule{Interval: d}
	default:
		g.Schedule = Schedule{Interval: DefaultInterval}
	}
	g.Scan = v.scan(what+": scan", f.Scan, base)
	return g
}

func (v *validator) route(what string, f *routeFile, groups map[string]bool) Route {
	r := Route{Name: f.Name, Kind: f.Type, Command: f.Command, Headers: f.Headers, MaxAttempts: f.MaxAttempts}
	u := f.URL
	if f.URLEnv != "" {
		if u != "" {
			v.add("%s: set url or url_env, not both", what)
		}
		u = v.getenv(f.URLEnv)
		if u == "" {
			v.add("%s: environment variable %s (url_env) is not set", what, f.URLEnv)
		}
	}
	r.URL = u
	switch f.Type {
	case RouteWebhook, RouteSlack:
		if u == "" && f.URLEnv == "" {
			v.add("%s: %s needs url or url_env", what, f.Type)
		} else if u != "" {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				// The URL may hold a secret: never echo it.
				v.add("%s: url is not an http(s) URL", what)
			}
		}
		if len(f.Command) > 0 {
			v.add("%s: command is for type command", what)
		}
		for k := range f.Headers {
			if k == "" || strings.ContainsAny(k, " \t\r\n:") {
				v.add("%s: header name %q is not valid", what, k)
			}
		}
	case RouteCommand:
		if len(f.Command) == 0 || f.Command[0] == "" {
			v.add("%s: command needs command: [PROGRAM, ARG...]", what)
		}
		if u != "" || len(f.Headers) > 0 {
			v.add("%s: url and headers are for webhook and slack", what)
		}
	case RouteLog:
		if u != "" || len(f.Command) > 0 || len(f.Headers) > 0 {
			v.add("%s: log takes no url, command or headers", what)
		}
	case "":
		v.add("%s: type is required (webhook, slack, command or log)", what)
	default:
		v.add("%s: unknown type %q (want webhook, slack, command or log)", what, f.Type)
	}
	r.Timeout = DefaultAlertTimeout
	if f.Timeout != "" {
		d := v.duration(what+": timeout", f.Timeout)
		if d > 0 {
			r.Timeout = d
		} else if _, err := ParseDuration(f.Timeout); err == nil {
			v.add("%s: timeout must be above zero", what)
		}
	}
	switch {
	case f.MaxAttempts == 0:
		r.MaxAttempts = DefaultAlertAttempts
	case f.MaxAttempts < 0 || f.MaxAttempts > 1000:
		v.add("%s: max_attempts: want 1..1000", what)
	}
	for _, e := range f.Events {
		t := model.Type(e)
		if !t.Valid() {
			v.add("%s: unknown event type %q", what, e)
			continue
		}
		if !slices.Contains(r.Events, t) {
			r.Events = append(r.Events, t)
		}
	}
	if f.MinSeverity != "" {
		s, err := finding.ParseSeverity(f.MinSeverity)
		if err != nil {
			v.add("%s: min_severity: %v", what, err)
		} else if s > finding.Critical {
			v.add("%s: min_severity none would route nothing: remove the route instead", what)
		}
		r.MinSeverity = s
	}
	for _, g := range f.Groups {
		if !groups[g] {
			v.add("%s: unknown group %q", what, g)
		}
	}
	r.Groups = f.Groups
	return r
}
