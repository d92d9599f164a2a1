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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// connHelperEnv makes TestConnNetnsHelper act as a helper process of
// TestHostConnectionsNetns: "serve", "gate", "client" or "host".
const connHelperEnv = "MCPW_CONN_HELPER"

// The addresses the test assigns inside its own namespaces: a /30 and a
// ULA /64 on a veth pair between them. Nothing outside them sees these.
const (
	connServerV4 = "10.200.7.1"
	connClientV4 = "10.200.7.2"
	connServerV6 = "fd00:7::1"
	connClientV6 = "fd00:7::2"
)

// TestHostConnectionsNetns is issue 7 end to end with real cross-host
// traffic. Two network namespaces the test creates are joined by a veth
// pair. In the server namespace: an official Go SDK server on 0.0.0.0:3000
// fronted by 'mcpwarden gate' (started as 'mcpwarden gate --config
// gate.yaml', found by 'host' from its command line and config file), and
// a second one on [::]:3001 that no gate fronts. In the client namespace,
// a "remote" client holds MCP sessions open: one through the gate, one
// straight to :3000 (skipping the gate) and two to :3001 (over IPv4, seen
// v4-mapped on the dual-stack socket, and over IPv6). 'mcpwarden host
// --connections' in the server namespace must report the bypass and the
// external peers, and recognise the gate's own connection.
func TestHostConnectionsNetns(t *testing.T) {
	if os.Getenv(connHelperEnv) != "" {
		t.Skip("in a helper process")
	}
	ipBin := netnsIP(t, "network namespaces and a veth pair")
	id := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%100000)
	srvNS, cliNS := "mcpw-conn-s-"+id, "mcpw-conn-c-"+id
	// Interface names are limited to 15 bytes.
	vethS, vethC := fmt.Sprintf("mcs%d", os.Getpid()%100000), fmt.Sprintf("mcc%d", os.Getpid()%100000)
	ipRun := func(args ...string) { t.Helper(); ipRun(t, ipBin, args...) }
	for _, ns := range []string{srvNS, cliNS} {
		addNetns(t, ipBin, ns)
	}
	// The pair is created in the server namespace, so it never exists in
	// the test's own namespace.
	ipRun("-n", srvNS, "link", "add", vethS, "type", "veth", "peer", "name", vethC)
	ipRun("-n", srvNS, "link", "set", vethC, "netns", cliNS)
	ipRun("-n", srvNS, "addr", "add", connServerV4+"/30", "dev", vethS)
	ipRun("-n", cliNS, "addr", "add", connClientV4+"/30", "dev", vethC)
	ipRun("-n", srvNS, "addr", "add", connServerV6+"/64", "dev", vethS, "nodad")
	ipRun("-n", cliNS, "addr", "add", connClientV6+"/64", "dev", vethC, "nodad")
	for _, l := range []struct{ ns, dev string }{{srvNS, "lo"}, {srvNS, vethS}, {cliNS, "lo"}, {cliNS, vethC}} {
		ipRun("-n", l.ns, "link", "set", l.dev, "up")
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parentNS := ownNetns(t)
	dir := t.TempDir()
	// The gate runs as a program named mcpwarden (a link to the test
	// binary), so that its command line is that of 'mcpwarden gate'.
	gateExe := filepath.Join(dir, "mcpwarden")
	if err := os.Symlink(exe, gateExe); err != nil {
		t.Fatal(err)
	}
	key, line, err := auth.NewKey("remote-client")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.txt"), []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	gateConf := fmt.Sprintf("listen: %[1]s:8443\npublic_names: [\"%[1]s\"]\nroutes:\n  - path: /mcp\n    upstream: http://127.0.0.1:3000/mcp\n    auth:\n      api_keys: keys.txt\n", connServerV4)
	if err := os.WriteFile(filepath.Join(dir, "gate.yaml"), []byte(gateConf), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := func(name, ns, mode string, argv []string, env ...string) *exec.Cmd {
		t.Helper()
		ready := filepath.Join(dir, name+".ready")
		return startInNetns(t, ctx, ipBin, ns, ready, dir, argv,
			append(env, connHelperEnv+"="+mode, "MCPW_CONN_READY="+ready, "MCPW_CONN_PARENT="+parentNS))
	}
	helper := []string{exe, "-test.run=^TestConnNetnsHelper$"}
	start("serve", srvNS, "serve", helper)
	gate := start("gate", srvNS, "gate", []string{gateExe, "-test.run=^TestConnNetnsHelper$", "gate", "--config", "gate.yaml"})
	start("client", cliNS, "client", helper, "MCPW_CONN_KEY="+key)

	out := filepath.Join(dir, "host.jsonl")
	audit := exec.CommandContext(ctx, ipBin, append([]string{"netns", "exec", srvNS}, helper...)...)
	audit.Env = append(os.Environ(), connHelperEnv+"=host", "MCPW_CONN_OUT="+out, "MCPW_CONN_PARENT="+parentNS)
	if b, err := audit.CombinedOutput(); err != nil {
		t.Fatalf("mcpwarden host --connections in %s: %v\n%s", srvNS, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mcpwarden host --connections:\n%s", data)
	recs := map[string]*result.Endpoint{}
	for _, ep := range decodeLines(t, string(data)) {
		if ep.Listen != nil {
			recs[net.JoinHostPort(ep.Listen.Address, fmt.Sprint(ep.Listen.Port))] = &ep
		}
	}

	// :3000, fronted by the gate: the gate's connection is recognised, the
	// remote client's direct one is a bypass from another machine.
	gated := recs["0.0.0.0:3000"]
	if gated == nil {
		t.Fatalf("no record of 0.0.0.0:3000:\n%s", data)
	}
	if !gated.Listen.Gated {
		t.Errorf("0.0.0.0:3000 not marked gated: %+v", gated.Listen)
	}
	var sawGate, sawRemote bool
	for _, c := range gated.Listen.Connections {
		switch {
		case c.Gate:
			sawGate = c.OnHost && c.Process != nil && c.Process.PID == gate.Process.Pid && c.PeerClass == "loopback"
		case c.PeerAddress == connClientV4:
			sawRemote = c.PeerClass == "private" && !c.OnHost && c.LocalAddress == connServerV4 && c.LocalPort == 3000
		}
	}
	if !sawGate || !sawRemote {
		t.Errorf("connections of 0.0.0.0:3000 %+v; want the gate (pid %d) over loopback and %s", gated.Listen.Connections, gate.Process.Pid, connClientV4)
	}
	bypass := findingOf(gated, rules.GateBypassed)
	if bypass == nil || bypass.Severity != finding.Critical {
		t.Fatalf("findings of 0.0.0.0:3000: %+v; want %s at critical", gated.Findings, rules.GateBypassed)
	}
	for _, want := range []string{connClientV4, "pid " + fmt.Sprint(gated.Process.PID), fmt.Sprintf("mcpwarden gate (pid %d)", gate.Process.Pid), "fix:"} {
		if !strings.Contains(bypass.Evidence, want) {
			t.Errorf("bypass finding %q does not name %q", bypass.Evidence, want)
		}
	}
	if n := countRule(gated, rules.GateBypassed); n != 1 {
		t.Errorf("%d bypass findings, want 1 (the gate's own connection is not one)", n)
	}

	// :3001, no gate, open: the remote peers over IPv4 (v4-mapped on the
	// dual-stack socket) and IPv6 are external peers of a server meant
	// for local callers.
	open := recs["[::]:3001"]
	if open == nil {
		t.Fatalf("no record of [::]:3001:\n%s", data)
	}
	var peers []string
	for _, c := range open.Listen.Connections {
		peers = append(peers, c.PeerAddress+" "+c.PeerClass)
	}
	slices.Sort(peers)
	peers = slices.Compact(peers)
	if want := []string{connClientV4 + " private", connClientV6 + " unique-local"}; !slices.Equal(peers, want) {
		t.Errorf("peers of [::]:3001: %v, want %v", peers, want)
	}
	if n := countRule(open, rules.InboundLocalOnlyBreak); n != 2 {
		t.Errorf("findings of [::]:3001: %+v; want %s for each remote address", open.Findings, rules.InboundLocalOnlyBreak)
	}
	for _, f := range open.Findings {
		if f.Rule == rules.InboundLocalOnlyBreak && (f.Severity != finding.High || !strings.Contains(f.Evidence, "pid "+fmt.Sprint(open.Process.PID))) {
			t.Errorf("finding %+v: want high, naming the server's pid %d", f, open.Process.PID)
		}
	}
	if f := findingOf(open, rules.GateBypassed); f != nil {
		t.Errorf("bypass reported for a listener no gate fronts: %+v", f)
	}
}

func findingOf(ep *result.Endpoint, rule string) *finding.Finding {
	for i, f := range ep.Findings {
		if f.Rule == rule {
			return &ep.Findings[i]
		}
	}
	return nil
}

func countRule(ep *result.Endpoint, rule string) int {
	n := 0
	for _, f := range ep.Findings {
		if f.Rule == rule {
			n++
		}
	}
	return n
}

// TestConnNetnsHelper is the helper process of TestHostConnectionsNetns;
// it does nothing in a normal run.
func TestConnNetnsHelper(t *testing.T) {
	mode := os.Getenv(connHelperEnv)
	if mode == "" {
		t.Skip("helper process for TestHostConnectionsNetns")
	}
	// Refuse to run outside a network namespace of its own.
	if !inOtherNetns(os.Getenv("MCPW_CONN_PARENT")) {
		t.Fatal("not in a network namespace of its own")
	}
	ready := func() {
		if err := os.WriteFile(os.Getenv("MCPW_CONN_READY"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	switch mode {
	case "serve":
		for _, l := range []struct{ network, addr string }{{"tcp4", "0.0.0.0:3000"}, {"tcp", "[::]:3001"}} {
			ln, err := net.Listen(l.network, l.addr)
			if err != nil {
				t.Fatal(err)
			}
			go (&http.Server{Handler: openMCPHandler(), ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
		}
		ready()
		<-ctx.Done()
	case "gate":
		i := slices.Index(os.Args, "gate")
		if i < 0 {
			t.Fatalf("no gate command in %q", os.Args)
		}
		var errb strings.Builder
		env := &Env{Stdout: io.Discard, Stderr: &errb, Getenv: func(string) string { return "" },
			IsTerminal: func(io.Writer) bool { return false }}
		go func() {
			// Ready once the gate answers on its address.
			for ctx.Err() == nil {
				if c, err := net.DialTimeout("tcp", connServerV4+":8443", time.Second); err == nil {
					c.Close()
					ready()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		if code := Run(ctx, os.Args[i:], env); code != ExitOK && ctx.Err() == nil {
			t.Fatalf("gate exit %d:\n%s", code, errb.String())
		}
	case "client":
		key := os.Getenv("MCPW_CONN_KEY")
		urls := []struct{ url, key string }{
			{"http://" + connServerV4 + ":8443/mcp", key}, // through the gate
			{"http://" + connServerV4 + ":3000/mcp", ""},  // around it
			{"http://" + connServerV4 + ":3001/mcp", ""},
			{"http://[" + connServerV6 + "]:3001/mcp", ""},
		}
		for _, u := range urls {
			hc := &http.Client{Transport: keyTransport{key: u.key}}
			c := mcp.NewClient(&mcp.Implementation{Name: "remote-client", Version: "1.0.0"}, nil)
			s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: u.url, HTTPClient: hc}, nil)
			if err != nil {
				t.Fatalf("connect %s: %v", u.url, err)
			}
			defer s.Close()
			if _, err := s.ListTools(ctx, nil); err != nil {
				t.Fatalf("list tools at %s: %v", u.url, err)
			}
		}
		ready()
		<-ctx.Done()
	case "host":
		f, err := os.Create(os.Getenv("MCPW_CONN_OUT"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var errb strings.Builder
		w := bufio.NewWriter(f)
		env := &Env{Stdin: strings.NewReader(""), Stdout: w, Stderr: &errb,
			Getenv: func(string) string { return "" }, IsTerminal: func(io.Writer) bool { return false }}
		code := Run(context.Background(), []string{"host", "-o", "jsonl", "--no-configs", "--ports", "3000,3001", "--connections"}, env)
		w.Flush()
		if code != ExitFindings {
			t.Fatalf("mcpwarden host exit %d, want %d:\n%s", code, ExitFindings, errb.String())
		}
	default:
		t.Fatalf("unknown helper mode %q", mode)
	}
}

// openMCPHandler is an official Go SDK server without authentication.
func openMCPHandler() http.Handler {
	s := mcp.NewServer(&mcp.Implementation{Name: "netns-conn-server", Version: "1.0.0"}, nil)
	type in struct {
		Path string `json:"path"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "read_file", Description: "Read a file from disk"},
		func(context.Context, *mcp.CallToolRequest, in) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{}, nil, nil
		})
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	return mux
}

// keyTransport presents an API key, when it has one.
type keyTransport struct{ key string }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if k.key != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+k.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}
