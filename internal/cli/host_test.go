package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

var (
	cfgHome    = filepath.Join("..", "host", "clientcfg", "testdata", "home")
	cfgProject = filepath.Join("..", "host", "clientcfg", "testdata", "project")
)

func TestHostUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"host", "--format", "xml"}, `--format: report: unknown format "xml"`},
		{[]string{"host", "--fail-on", "severe"}, "--fail-on"},
		{[]string{"host", "--ports", "0"}, "--ports"},
		{[]string{"host", "--ports", "80-"}, "--ports"},
		{[]string{"host", "somewhere"}, `unexpected argument "somewhere"`},
		{[]string{"host", "--no-listeners", "--no-configs"}, "leave nothing to audit"},
		{[]string{"host", "--nope"}, "-nope"},
		{[]string{"host", "--home", "/nonexistent/home"}, "--home"},
		{[]string{"host", "--project", "host_test.go"}, "is not a directory"},
		{[]string{"host", "--timeout", "0s"}, "timeouts must be above zero"},
		{[]string{"host", "--timeout", "soon"}, "soon"},
		{[]string{"host", "--config", ""}, "--config: empty path"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errb := run(t, context.Background(), "", tt.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if !strings.Contains(errb, tt.want) || !strings.Contains(errb, "mcpwarden host --help") {
				t.Errorf("stderr %q, want it to contain %q", errb, tt.want)
			}
		})
	}
	code, out, _ := run(t, context.Background(), "", "host", "--help")
	if code != ExitOK || !strings.Contains(out, "Usage: mcpwarden host") || !strings.Contains(out, "--probe-remotes") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	code, out, _ = run(t, context.Background(), "", "--help")
	if code != ExitOK || !strings.Contains(out, "  host ") {
		t.Errorf("main usage lacks host: %q", out)
	}
}

func decodeRecords(t *testing.T, out string) []result.Endpoint {
	t.Helper()
	var recs []result.Endpoint
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ep result.Endpoint
		if err := json.Unmarshal(sc.Bytes(), &ep); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		recs = append(recs, ep)
	}
	return recs
}

// TestHostConfigs audits the client configurations of the test home
// directory (one file per client, two malformed) without listeners.
func TestHostConfigs(t *testing.T) {
	code, out, errb := run(t, context.Background(), "", "host", "--no-listeners", "--home", cfgHome, "--project", cfgProject, "-o", "jsonl")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d (high findings); stderr %s", code, ExitFindings, errb)
	}
	recs := decodeRecords(t, out)
	clients := map[string]bool{}
	var errRecs, findings int
	for _, r := range recs {
		if r.Config == nil || r.Listen != nil {
			t.Fatalf("record without config or with listen: %+v", r)
		}
		clients[r.Config.Client] = true
		if r.Status == result.StatusError {
			errRecs++
			if r.Error == "" || r.Config.ServerName != "" {
				t.Errorf("error record %+v", r)
			}
		} else if r.Status != result.StatusNotProbed {
			t.Errorf("status %q without --probe-remotes", r.Status)
		}
		findings += len(r.Findings)
	}
	for _, c := range []string{"claude-desktop", "claude-code", "cursor", "vscode", "windsurf", "gemini-cli", "zed", "continue"} {
		if !clients[c] {
			t.Errorf("no record for client %s", c)
		}
	}
	if errRecs != 2 || findings == 0 {
		t.Errorf("%d error records, %d findings", errRecs, findings)
	}
	for _, secret := range []string{"ghp_0123456789abcdefghij", "hunter2pass", "rk_live_abcdefghijkl", "abcd1234efgh5678", "abcdef123456789"} {
		if strings.Contains(out, secret) || strings.Contains(errb, secret) {
			t.Errorf("secret %q printed", secret)
		}
	}
	if !strings.Contains(errb, "warning: configs:") || !strings.Contains(errb, "broken.yaml") || !strings.Contains(errb, "mcpwarden host: ") {
		t.Errorf("stderr %q", errb)
	}

	// --fail-on none: exit 0; every format renders.
	for _, f := range []string{"table", "json", "sarif", "markdown"} {
		code, out, errb := run(t, context.Background(), "", "host", "--no-listeners", "--home", cfgHome, "--project", cfgProject,
			"--fail-on", "none", "--format", f)
		if code != ExitOK || out == "" {
			t.Errorf("%s: exit %d, stderr %s", f, code, errb)
		}
		if f == "table" && !strings.Contains(out, "MCPW-031") {
			t.Errorf("table lacks MCPW-031:\n%s", out)
		}
	}
}

// TestHostLiveListener starts an official Go SDK server on 127.0.0.1 in
// this process and audits this machine's listeners on its port only.
func TestHostLiveListener(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no procfs")
	}
	srv, err := lab.Start(context.Background(), lab.KindOpenStreamable, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port := int(netip.MustParseAddrPort(srv.Addr).Port())
	file := filepath.Join(t.TempDir(), "host.jsonl")
	code, out, errb := run(t, context.Background(), "", "host", "--no-configs", "--ports", strconv.Itoa(port), "--output-file", file, "-o", "jsonl")
	if code != ExitFindings {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitFindings, errb)
	}
	if out != "" {
		t.Errorf("stdout %q with --output-file", out)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, r := range decodeRecords(t, string(b)) {
		if r.Listen == nil || r.Listen.Port != port {
			t.Errorf("record for another listener: %+v", r.Listen)
			continue
		}
		if r.Status != result.StatusMCP {
			continue
		}
		found = true
		if r.Listen.Address != "127.0.0.1" || r.Process == nil || r.Process.PID != os.Getpid() {
			t.Errorf("listen %+v process %+v, want pid %d", r.Listen, r.Process, os.Getpid())
		}
	}
	if !found {
		t.Errorf("no MCP record in %s", b)
	}
}

// TestHostProbeRemotes scans the URL of a --config entry (a loopback lab
// server) and carries the config fields on the scan record.
func TestHostProbeRemotes(t *testing.T) {
	srv, err := lab.Start(context.Background(), lab.KindOpenStreamable, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "team.json")
	doc := `{"mcpServers": {"lab": {"type": "http", "url": "` + srv.URL + `"}}}`
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	code, out, errb := run(t, context.Background(), "", "host", "--no-listeners", "--home", empty, "--project", empty,
		"--config", cfg, "--probe-remotes", "-o", "jsonl")
	if code != ExitFindings {
		t.Fatalf("exit %d; stderr %s", code, errb)
	}
	recs := decodeRecords(t, out)
	if len(recs) != 1 {
		t.Fatalf("%d records: %s", len(recs), out)
	}
	r := recs[0]
	if r.Status != result.StatusMCP || r.Config == nil || r.Config.Client != "custom" || r.Config.ServerName != "lab" || r.Config.Path != cfg {
		t.Errorf("record %+v config %+v", r.Status, r.Config)
	}
	if len(r.Tools) == 0 {
		t.Error("tools not listed")
	}
	// Without --probe-remotes the same entry is not probed.
	_, out, _ = run(t, context.Background(), "", "host", "--no-listeners", "--home", empty, "--project", empty, "--config", cfg, "-o", "jsonl")
	if recs := decodeRecords(t, out); len(recs) != 1 || recs[0].Status != result.StatusNotProbed {
		t.Errorf("records %s", out)
	}
	// A --config file that does not exist is an error record and a warning.
	code, out, errb = run(t, context.Background(), "", "host", "--no-listeners", "--home", empty, "--project", empty,
		"--config", filepath.Join(empty, "missing.json"), "-o", "jsonl")
	if recs := decodeRecords(t, out); code != ExitOK || len(recs) != 1 || recs[0].Status != result.StatusError || !strings.Contains(errb, "missing.json") {
		t.Errorf("exit %d records %s stderr %s", code, out, errb)
	}
}
