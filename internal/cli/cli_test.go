package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// run runs the CLI with args and returns exit code, stdout and stderr.
func run(t *testing.T, ctx context.Context, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(ctx, args, &Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv:     func(string) string { return "" },
		IsTerminal: func(io.Writer) bool { return false },
	})
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"scan"}, "no targets"},
		{[]string{"scan", "127.0.0.0/33"}, `"127.0.0.0/33"`},
		{[]string{"scan", "not a host!"}, `"not a host!"`},
		{[]string{"scan", "-p", "0", "127.0.0.1"}, "port 0"},
		{[]string{"scan", "-p", "80-", "127.0.0.1"}, "80-"},
		{[]string{"scan", "--shard", "2/2", "127.0.0.1"}, "--shard"},
		{[]string{"scan", "--shard", "a/b", "127.0.0.1"}, "--shard"},
		{[]string{"scan", "--fail-on", "severe", "127.0.0.1"}, "--fail-on"},
		{[]string{"scan", "-o", "xml", "127.0.0.1"}, `"xml"`},
		{[]string{"scan", "-iL", "/nonexistent/targets.txt"}, "/nonexistent/targets.txt"},
		{[]string{"scan", "--exclude-file", "/nonexistent/ex.txt", "127.0.0.1"}, "/nonexistent/ex.txt"},
		{[]string{"scan", "--exclude", "300.1.1.1", "127.0.0.1"}, "300.1.1.1"},
		{[]string{"scan", "-H", "no colon", "127.0.0.1"}, "Name: value"},
		{[]string{"scan", "-H", "Bad Name: x", "127.0.0.1"}, "invalid header name"},
		{[]string{"scan", "--nope", "127.0.0.1"}, "-nope"},
		{[]string{"scan", "-c", "0", "127.0.0.1"}, "-c"},
		{[]string{"scan", "--timeout", "soon", "127.0.0.1"}, "soon"},
		{[]string{"scan", "--timeout", "0s", "127.0.0.1"}, "timeouts must be above zero"},
		{[]string{"scan", "--max-body", "lots", "127.0.0.1"}, "lots"},
		{[]string{"scan", "--rate", "-5", "127.0.0.1"}, "--rate"},
		{[]string{"scan", "--paths", "mcp", "127.0.0.1"}, `"mcp"`},
		{[]string{"scan", "-iL", "-", "-iL", "-"}, "stdin given twice"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "--port", "70000"}, `--port 70000`},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errs := run(t, context.Background(), "", tt.args...)
			if code != ExitError {
				t.Errorf("exit = %d, want %d", code, ExitError)
			}
			if !strings.Contains(errs, tt.want) {
				t.Errorf("stderr = %q, want it to name %q", errs, tt.want)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

func TestAllProblemsReportedAtOnce(t *testing.T) {
	code, _, errs := run(t, context.Background(), "", "scan", "-p", "0", "--fail-on", "x", "-o", "xml", "127.0.0.0/40")
	if code != ExitError {
		t.Fatalf("exit = %d", code)
	}
	for _, want := range []string{"-p", "--fail-on", "-o", "127.0.0.0/40"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr %q does not report %q", errs, want)
		}
	}
}

func TestHelpExplainsEveryFlag(t *testing.T) {
	code, out, _ := run(t, context.Background(), "", "scan", "--help")
	if code != ExitOK {
		t.Fatalf("exit = %d", code)
	}
	fs := scanFlags(&scanConfig{})
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) <= 2 {
			dash = "-"
		}
		if !strings.Contains(out, dash+f.Name+" ") && !strings.Contains(out, dash+f.Name+",") {
			t.Errorf("scan --help does not explain %s%s", dash, f.Name)
		}
	})
	if !strings.Contains(out, "Examples:") {
		t.Error("scan --help has no examples")
	}
	for _, args := range [][]string{{"--help"}, {"demo", "--help"}, {"help", "scan"}} {
		if code, out, _ := run(t, context.Background(), "", args...); code != ExitOK || !strings.Contains(out, "Usage") {
			t.Errorf("%v: exit %d, output %q", args, code, out)
		}
	}
}

func startLab(t *testing.T, kind lab.Kind, ip string) *lab.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := lab.Start(ctx, kind, ip+":0", nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); cancel() })
	return s
}

func decodeLines(t *testing.T, out string) []result.Endpoint {
	t.Helper()
	var eps []result.Endpoint
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var ep result.Endpoint
		if err := json.Unmarshal(sc.Bytes(), &ep); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		eps = append(eps, ep)
	}
	return eps
}

func TestScanExitCodesAndOutput(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable, "127.0.0.61")
	// A port that was just closed: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.62:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	// The open loopback server with shell and database tools is a high finding.
	code, out, errs := run(t, context.Background(), "", "scan", open.URL, "--fail-on", "medium")
	if code != ExitFindings {
		t.Fatalf("exit = %d, want 1; stderr %s", code, errs)
	}
	eps := decodeLines(t, out)
	if len(eps) != 1 || eps[0].Status != result.StatusMCP || eps[0].MCP.Server.Name != lab.OpenServerName {
		t.Fatalf("jsonl = %s", out)
	}
	if !strings.Contains(errs, "1 services probed") {
		t.Errorf("no summary on stderr: %q", errs)
	}
	// The same scan below the threshold exits 0.
	if code, _, _ := run(t, context.Background(), "", "scan", open.URL, "--fail-on", "critical"); code != ExitOK {
		t.Fatalf("--fail-on critical: exit = %d, want 0", code)
	}
	// Closed ports are counted, not listed, unless --all.
	code, out, errs = run(t, context.Background(), "", "scan", closed)
	if code != ExitOK || out != "" || !strings.Contains(errs, "closed") {
		t.Fatalf("closed port: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, out, _ = run(t, context.Background(), "", "scan", "--all", closed)
	if eps := decodeLines(t, out); code != ExitOK || len(eps) != 1 || eps[0].Status != result.StatusClosed {
		t.Fatalf("--all: exit %d, stdout %q", code, out)
	}
	// Targets from stdin, JSON document to a file.
	file := filepath.Join(t.TempDir(), "report.json")
	code, out, errs = run(t, context.Background(), open.URL+"\n", "scan", "-iL", "-", "-o", "json", "--output-file", file)
	if code != ExitFindings || out != "" { // a loopback server with a shell tool is high
		t.Fatalf("output file: exit %d, stdout %q, stderr %s", code, out, errs)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Schema    string            `json:"schema"`
		Endpoints []result.Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Endpoints) != 1 || doc.Schema != "mcpwarden.report/v1" {
		t.Fatalf("report file %s: %v", b, err)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	s := startLab(t, lab.KindOAuth, "127.0.0.63")
	for _, token := range []string{s.BearerToken, "wrong-token-value-1234"} {
		code, out, errs := run(t, context.Background(), "", "scan", s.URL, "-v", "-H", "Authorization: Bearer "+token, "--fail-on", "none")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if strings.Contains(out+errs, token) {
			t.Fatalf("the token appears in the output:\n%s\n%s", out, errs)
		}
	}
}

func TestInterruptWritesResultsSoFar(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable, "127.0.0.64")
	tarpit, err := mcptest.StartHostile(mcptest.Tarpit, "127.0.0.65:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tarpit.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var code int
	var out, errs string
	go func() {
		defer close(done)
		code, out, errs = run(t, ctx, "", "scan", "--timeout", "30s", "--service-timeout", "60s", open.URL, tarpit.URL+"/mcp")
	}()
	// The open server answers in milliseconds; the tarpit holds its probe.
	time.Sleep(1500 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the scan did not stop after the interrupt")
	}
	if code != ExitError || !strings.Contains(errs, "interrupted") {
		t.Fatalf("exit %d, stderr %q; want 2 and 'interrupted'", code, errs)
	}
	eps := decodeLines(t, out)
	if len(eps) != 1 || eps[0].URL != open.URL {
		t.Fatalf("results so far = %s; want the open server only", out)
	}
}

func TestDemo(t *testing.T) {
	code, out, errs := run(t, context.Background(), "", "demo", "--first-ip", "127.0.0.70")
	if code != ExitOK {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	for _, want := range []string{lab.OpenServerName, "MCPW-001", "oauth", "sse", "SUMMARY", "verify: scan the gate"} {
		if !strings.Contains(out+errs, want) {
			t.Errorf("demo report lacks %q:\n%s", want, out)
		}
	}
}

// TestDemoFixVerify checks the demo's find, fix, verify in JSON Lines: the
// lab's open server is found unauthenticated, then the gate in front of it
// demands a credential and shows nothing, and with the demo's key lists the
// same tools; the key itself is printed nowhere.
func TestDemoFixVerify(t *testing.T) {
	code, out, errs := run(t, context.Background(), "", "demo", "--first-ip", "127.0.0.80", "-o", "jsonl")
	if code != ExitOK {
		t.Fatalf("demo exit %d: %s", code, errs)
	}
	eps := decodeLines(t, out)
	if len(eps) < 3 {
		t.Fatalf("%d records, want the lab's and two of the gate:\n%s", len(eps), out)
	}
	var open *result.Endpoint
	for i := range eps[:len(eps)-2] {
		if ep := &eps[i]; ep.MCP != nil && ep.MCP.Server.Name == lab.OpenServerName {
			open = ep
		}
	}
	if open == nil || open.Auth == nil || open.Auth.Required || !hasRule(open, rules.Unauthenticated) {
		t.Fatalf("find: the open server is not reported open: %+v", open)
	}
	closed, keyed := eps[len(eps)-2], eps[len(eps)-1]
	if closed.URL != keyed.URL || closed.URL == open.URL || !strings.HasPrefix(closed.URL, "http://127.0.0.") {
		t.Fatalf("verify: gate records for %s and %s", closed.URL, keyed.URL)
	}
	if closed.Status != result.StatusMCP || closed.Auth == nil || !closed.Auth.Required || len(closed.Tools) != 0 || hasRule(&closed, rules.Unauthenticated) {
		t.Errorf("verify without a key: %+v", closed)
	}
	if closed.Origin == nil || closed.Origin.Validated == nil || !*closed.Origin.Validated {
		t.Errorf("verify: the gate does not validate Origin: %+v", closed.Origin)
	}
	var want, got []string
	for _, tl := range open.Tools {
		want = append(want, tl.Name)
	}
	for _, tl := range keyed.Tools {
		got = append(got, tl.Name)
	}
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("verify with the key: tools %v, want the open server's %v", got, want)
	}
	if strings.Contains(out+errs, "mcpw_") {
		t.Error("the demo printed the API key")
	}
}

func hasRule(ep *result.Endpoint, id string) bool {
	for _, f := range ep.Findings {
		if f.Rule == id {
			return true
		}
	}
	return false
}
