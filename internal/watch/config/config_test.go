package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

const full = `
db: sqlite:/tmp/watch.db
scan:
  rate: 50
  concurrency: 32
  timeout: 4s
gone_grace: 30m
tls_expiry_days: 21
retention:
  observations: 30d
  events: 2160h
groups:
  - name: lab
    targets: [127.0.0.10-17, "http://127.0.0.1:3000/mcp"]
    ports: "3000,8000-8002"
    paths: [/mcp, /sse]
    exclude: [127.0.0.13]
    interval: 30s
    scan:
      per_host: 2
  - name: this-host
    host: true
    cron: "*/5 * * * *"
alerts:
  - name: hook
    type: webhook
    url: http://127.0.0.1:9999/hook?token=secret
    headers: {X-Team: ops}
    events: [auth.dropped, endpoint.new]
    min_severity: medium
    groups: [lab]
  - name: chat
    type: slack
    url_env: SLACK_URL
    timeout: 3s
    max_attempts: 4
  - name: script
    type: command
    command: [/bin/cat]
  - name: journal
    type: log
`

func TestParseFull(t *testing.T) {
	env := map[string]string{"SLACK_URL": "https://127.0.0.1/services/T/B/x"}
	c, err := Parse(strings.NewReader(full), "full.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.DB != "sqlite:/tmp/watch.db" || c.GoneGrace != 30*time.Minute || c.TLSExpiryDays != 21 {
		t.Errorf("top level: %+v", c)
	}
	if c.Retention.Observations != 30*24*time.Hour || c.Retention.Events != 2160*time.Hour {
		t.Errorf("retention: %+v", c.Retention)
	}
	if c.Scan.Rate != 50 || c.Scan.Concurrency != 32 || c.Scan.RequestTimeout != 4*time.Second || c.Scan.PerHost != DefaultPerHost {
		t.Errorf("scan: %+v", c.Scan)
	}
	if len(c.Groups) != 2 {
		t.Fatalf("groups: %d", len(c.Groups))
	}
	lab := c.Groups[0]
	if lab.Name != "lab" || !slices.Equal(lab.Ports, []int{3000, 8000, 8001, 8002}) || len(lab.Paths) != 2 ||
		lab.Schedule.Interval != 30*time.Second || lab.Scan.PerHost != 2 || lab.Scan.Rate != 50 {
		t.Errorf("lab: %+v", lab)
	}
	if lab.Exclude.Empty() {
		t.Error("lab: exclusions lost")
	}
	host := c.Groups[1]
	if !host.Host || host.Schedule.Cron == nil {
		t.Fatalf("host group: %+v", host)
	}
	from := time.Date(2026, 1, 1, 10, 2, 0, 0, time.UTC)
	if got := host.Schedule.Next(from); !got.Equal(time.Date(2026, 1, 1, 10, 5, 0, 0, time.UTC)) {
		t.Errorf("cron next = %v", got)
	}
	if got := lab.Schedule.Next(from); !got.Equal(from.Add(30 * time.Second)) {
		t.Errorf("interval next = %v", got)
	}
	if len(c.Alerts) != 4 {
		t.Fatalf("alerts: %d", len(c.Alerts))
	}
	hook := c.Alerts[0]
	if hook.Kind != RouteWebhook || hook.MinSeverity != finding.Medium || !slices.Equal(hook.Events, []model.Type{model.AuthDropped, model.EndpointNew}) ||
		hook.Timeout != DefaultAlertTimeout || hook.MaxAttempts != DefaultAlertAttempts || hook.Headers["X-Team"] != "ops" {
		t.Errorf("hook: %+v", hook)
	}
	if chat := c.Alerts[1]; chat.URL != env["SLACK_URL"] || chat.Timeout != 3*time.Second || chat.MaxAttempts != 4 {
		t.Errorf("chat: %+v", chat)
	}
	if c.Alerts[2].Command[0] != "/bin/cat" || c.Alerts[3].Kind != RouteLog {
		t.Errorf("script/log: %+v %+v", c.Alerts[2], c.Alerts[3])
	}
}

func TestParseDefaults(t *testing.T) {
	c, err := Parse(strings.NewReader("groups:\n  - name: a\n    targets: [127.0.0.1]\n"), "min.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Groups[0]
	if g.Schedule.Interval != DefaultInterval || !reflect.DeepEqual(g.Scan, DefaultScan()) || g.Ports != nil || g.Paths != nil {
		t.Errorf("defaults: %+v", g)
	}
}

func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every one must be reported
	}{
		{"empty", "", []string{"empty file"}},
		{"unknown key", "groups: []\nbogus: 1\n", []string{"field bogus not found"}},
		{"type mismatch", "groups: 3\nscan: {concurrency: x}\n", []string{"cannot unmarshal"}},
		{"two documents", "groups: []\n---\ngroups: []\n", []string{"more than one YAML document"}},
		{"no groups", "db: sqlite:/x\n", []string{"at least one target group"}},
		{"bad db", "db: mysql://x\ngroups: [{name: a, host: true}]\n", []string{"db: want sqlite:PATH"}},
		{"group problems all at once", `
groups:
  - targets: [127.0.0.1]
  - name: "bad name!"
    targets: [10.0.0.0/33]
  - name: dup
    host: true
  - name: dup
    targets: [127.0.0.1]
    ports: "99999"
    paths: [mcp]
    interval: 10ms
  - name: both
    targets: [127.0.0.1]
    interval: 1m
    cron: "* * * * *"
  - name: cronbad
    targets: [127.0.0.1]
    cron: "61 * * * *"
  - name: empty
  - name: hostplus
    host: true
    targets: [127.0.0.1]
  - name: files
    target_files: [/nonexistent/targets.txt]
    exclude: ["not a/valid/exclusion/"]
`, []string{
			"groups[0]: name is required",
			`group "bad name!": name must be`,
			`target "10.0.0.0/33"`,
			`group "dup": name used twice`,
			`group "dup": ports:`,
			`path "mcp" must start with /`,
			`interval "10ms" is shorter`,
			`group "both": set interval or cron, not both`,
			`group "cronbad": bad cron expression "61 * * * *"`,
			`group "empty": no targets`,
			`group "hostplus": host: true audits this machine`,
			`target file "/nonexistent/targets.txt"`,
			`group "files": exclude:`,
		}},
		{"scan problems", `
scan: {rate: -1, concurrency: 0, timeout: 0s, service_timeout: soon, deadline: -5s}
groups: [{name: a, host: true}]
retention: {events: 3x}
gone_grace: forever
tls_expiry_days: -1
`, []string{"scan.rate: must not be negative", "scan.concurrency: want 1..100000", "scan.timeout: must be above zero",
			`scan.service_timeout: bad duration "soon"`, `scan.deadline: bad duration "-5s"`, `retention.events: bad duration "3x"`,
			`gone_grace: bad duration "forever"`, "tls_expiry_days: must not be negative"}},
		{"route problems", `
groups: [{name: a, host: true}]
alerts:
  - type: log
  - name: w
    type: webhook
  - name: w
    type: webhook
    url: "ftp://127.0.0.1/?secret=hunter2"
  - name: s
    type: slack
    url_env: NOT_SET
  - name: c
    type: command
  - name: l
    type: log
    url: http://127.0.0.1/
  - name: x
    type: pager
  - name: f
    type: log
    events: [tool.exploded]
    min_severity: extreme
    groups: [b]
    timeout: 0s
    max_attempts: -2
  - name: n
    type: log
    min_severity: none
`, []string{"alerts[0]: name is required", `alert "w": webhook needs url or url_env`, `alert "w": name used twice`,
			`alert "w": url is not an http(s) URL`, `environment variable NOT_SET (url_env) is not set`,
			`alert "c": command needs command`, `alert "l": log takes no url`, `unknown type "pager"`,
			`unknown event type "tool.exploded"`, `min_severity: unknown severity "extreme"`, `unknown group "b"`,
			`alert "f": timeout must be above zero`, `max_attempts: want 1..1000`, "min_severity none would route nothing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml), "t.yaml", nil)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("missing %q in:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, "hunter2") {
				t.Errorf("secret echoed: %s", msg)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, true}, {"90s", 90 * time.Second, true}, {"2d", 48 * time.Hour, true}, {"1h30m", 90 * time.Minute, true},
		{"-1s", 0, false}, {"-1d", 0, false}, {"d", 0, false}, {"1w", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.yaml")
	if err := os.WriteFile(p, []byte("groups: [{name: a, targets: [127.0.0.1], cron: '@hourly'}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Groups[0].Schedule.String() != "cron @hourly" {
		t.Errorf("schedule %s", c.Groups[0].Schedule)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
}

func TestParseHeadersEnv(t *testing.T) {
	src := `
scan: {headers_env: {Authorization: WATCH_TOKEN}}
groups:
  - name: own
    targets: [127.0.0.1]
    scan: {headers_env: {X-API-Key: WATCH_KEY}}
`
	env := map[string]string{"WATCH_TOKEN": "Bearer s3cret", "WATCH_KEY": "k-1"}
	c, err := Parse(strings.NewReader(src), "h.yaml", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h := c.Groups[0].Scan.Headers
	if h.Get("Authorization") != "Bearer s3cret" || h.Get("X-Api-Key") != "k-1" {
		t.Errorf("headers %v", h)
	}
	bad := `
groups:
  - name: own
    targets: [127.0.0.1]
    scan: {headers_env: {"Bad Name": WATCH_KEY, Authorization: MISSING, X-Empty: ""}}
`
	_, err = Parse(strings.NewReader(bad), "h.yaml", func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("bad headers_env accepted")
	}
	for _, want := range []string{`"Bad Name" is not a header name`, "MISSING is empty or not set", "X-Empty: name an environment variable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "k-1") {
		t.Error("a header value appears in the error")
	}
}
