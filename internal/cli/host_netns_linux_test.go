//go:build linux

package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// netnsHelperEnv makes TestNetnsHelper act as a helper process: "serve"
// runs an open MCP server on MCPW_NETNS_LISTEN, "host" runs 'mcpwarden
// host' and writes its JSON Lines to MCPW_NETNS_OUT.
const netnsHelperEnv = "MCPW_NETNS_HELPER"

// TestHostWildcardInNetns is issue 5's "done when" end to end: in a network
// namespace the test creates (only loopback inside, so nothing is reachable
// from anywhere else), an official Go SDK server binds 0.0.0.0:3000 without
// authentication, and 'mcpwarden host' run in the same namespace names that
// process and the fix. Needs root (ip netns); CI runs as root.
func TestHostWildcardInNetns(t *testing.T) {
	if os.Getenv(netnsHelperEnv) != "" {
		t.Skip("in a helper process")
	}
	ipBin := netnsIP(t, "a network namespace")
	ns := fmt.Sprintf("mcpw-host-%d", os.Getpid())
	addNetns(t, ipBin, ns)
	ipRun(t, ipBin, "netns", "exec", ns, "ip", "link", "set", "lo", "up")

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parentNS := ownNetns(t)
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// ip netns exec execs the command, so the server's pid is srv's.
	srv := startInNetns(t, ctx, ipBin, ns, ready, dir, []string{exe, "-test.run=^TestNetnsHelper$", "-test.v"},
		[]string{netnsHelperEnv + "=serve", "MCPW_NETNS_LISTEN=0.0.0.0:3000", "MCPW_NETNS_READY=" + ready, "MCPW_NETNS_PARENT=" + parentNS})

	out := filepath.Join(dir, "host.jsonl")
	audit := exec.CommandContext(ctx, ipBin, "netns", "exec", ns, exe, "-test.run=^TestNetnsHelper$", "-test.v")
	audit.Env = append(os.Environ(), netnsHelperEnv+"=host", "MCPW_NETNS_OUT="+out, "MCPW_NETNS_PARENT="+parentNS)
	if b, err := audit.CombinedOutput(); err != nil {
		t.Fatalf("mcpwarden host in %s: %v\n%s", ns, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec *result.Endpoint
	for _, ep := range decodeLines(t, string(data)) {
		if ep.Listen != nil && ep.Listen.Address == "0.0.0.0" && ep.Listen.Port == 3000 {
			rec = &ep
		}
	}
	if rec == nil {
		t.Fatalf("no record of the 0.0.0.0:3000 listener:\n%s", data)
	}
	if rec.Status != result.StatusMCP || rec.Auth == nil || rec.Auth.Required || rec.Listen.ProbedAt != "127.0.0.1" {
		t.Errorf("listener record: status %s, auth %+v, probed at %q; want an open MCP server probed at 127.0.0.1", rec.Status, rec.Auth, rec.Listen.ProbedAt)
	}
	if rec.Process == nil || rec.Process.PID != srv.Process.Pid || !strings.Contains(rec.Process.Command, "TestNetnsHelper") {
		t.Errorf("process %+v, want pid %d running the helper", rec.Process, srv.Process.Pid)
	}
	var exposed *finding.Finding
	for i, f := range rec.Findings {
		if f.Rule == rules.ListenerExposed {
			exposed = &rec.Findings[i]
		}
	}
	// The namespace has no public address: high, not critical.
	if exposed == nil || exposed.Severity != finding.High {
		t.Fatalf("findings %+v; want %s at high", rec.Findings, rules.ListenerExposed)
	}
	text := exposed.Evidence
	for _, want := range []string{fmt.Sprint(srv.Process.Pid), "127.0.0.1", "gate"} {
		if !strings.Contains(text, want) {
			t.Errorf("finding %+v does not name %q", exposed, want)
		}
	}
}

// TestNetnsHelper is the helper process of TestHostWildcardInNetns; it does
// nothing in a normal run.
func TestNetnsHelper(t *testing.T) {
	mode := os.Getenv(netnsHelperEnv)
	if mode == "" {
		t.Skip("helper process for TestHostWildcardInNetns")
	}
	// Refuse to bind a wildcard address outside a namespace of its own.
	if !inOtherNetns(os.Getenv("MCPW_NETNS_PARENT")) {
		t.Fatal("not in a network namespace of its own")
	}
	switch mode {
	case "serve":
		s := mcp.NewServer(&mcp.Implementation{Name: "netns-open-server", Version: "1.0.0"}, nil)
		type in struct {
			SQL string `json:"sql"`
		}
		mcp.AddTool(s, &mcp.Tool{Name: "query_database", Description: "Run a SQL query against the production database"},
			func(context.Context, *mcp.CallToolRequest, in) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{}, nil, nil
			})
		h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
		mux := http.NewServeMux()
		mux.Handle("/mcp", h)
		hs := &http.Server{Addr: os.Getenv("MCPW_NETNS_LISTEN"), Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp4", hs.Addr) // 0.0.0.0 itself, not the dual-stack [::]
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(os.Getenv("MCPW_NETNS_READY"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		// Serve until the parent kills the process (bounded, in case it
		// does not).
		go hs.Serve(ln)
		time.Sleep(60 * time.Second)
	case "host":
		f, err := os.Create(os.Getenv("MCPW_NETNS_OUT"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var errb strings.Builder
		env := &Env{Stdin: strings.NewReader(""), Stdout: bufio.NewWriter(f), Stderr: &errb,
			Getenv: os.Getenv, IsTerminal: func(io.Writer) bool { return false }}
		code := Run(context.Background(), []string{"host", "-o", "jsonl", "--no-configs", "--ports", "3000"}, env)
		env.Stdout.(*bufio.Writer).Flush()
		if code != ExitFindings {
			t.Fatalf("mcpwarden host exit %d, want %d:\n%s", code, ExitFindings, errb.String())
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}
