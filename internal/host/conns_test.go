package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// connTree returns a Reader of testdata/conns (see its README).
func connTree(t testing.TB) *procfs.Reader {
	t.Helper()
	dir := filepath.Join("testdata", "conns")
	b, err := os.ReadFile(filepath.Join(dir, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	return &procfs.Reader{Proc: os.DirFS(filepath.Join(dir, "proc")), Users: procfs.ParsePasswd(b), Order: binary.LittleEndian}
}

// treeAddrs are the interface addresses of the namespace the tables were
// captured in.
func treeAddrs() ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"),
		netip.MustParseAddr("10.200.0.1"), netip.MustParseAddr("fd00:200::1")}, nil
}

// peerSummary renders a listener's peers as "addr class [pid N] [gate]".
func peerSummary(lc *ListenerConns) []string {
	var out []string
	for _, p := range lc.Peers {
		s := p.Remote.String() + " " + string(p.Class)
		if p.OnHost {
			s += " host"
		}
		if p.Process != nil {
			s += fmt.Sprintf(" pid %d", p.Process.PID)
		} else if p.ProcessNote != "" {
			s += " (" + p.ProcessNote + ")"
		}
		if p.Gate {
			s += " gate"
		}
		out = append(out, s)
	}
	return out
}

func TestSampleConnectionsTree(t *testing.T) {
	s, err := SampleConnections(context.Background(), ConnOptions{Proc: connTree(t), LocalAddrs: treeAddrs})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		gated   bool
		gatedBy []int
		peers   []string
	}{
		"[::]:3000": {true, []int{300}, []string{
			// The IPv4 peers of the dual-stack socket, unmapped.
			"10.200.0.2:55794 private",
			"127.0.0.1:37778 loopback host pid 300 gate",
			"[::1]:41784 loopback host pid 300 gate",
			"[fd00:200::2]:32906 unique-local",
		}},
		"127.0.0.1:8000": {true, []int{400}, []string{"127.0.0.1:49128 loopback host pid 200"}},
		"0.0.0.0:9000":   {false, nil, []string{"10.200.0.2:57400 private", "203.0.113.7:40000 public"}},
	}
	if len(s.Listeners) != len(want) {
		t.Fatalf("%d listeners, want %d: %+v", len(s.Listeners), len(want), s.Listeners)
	}
	for addr, w := range want {
		lc := s.For(netip.MustParseAddrPort(addr))
		if lc == nil {
			t.Errorf("no entry for %s", addr)
			continue
		}
		if got := peerSummary(lc); !slices.Equal(got, w.peers) {
			t.Errorf("%s peers:\n%s\nwant\n%s", addr, strings.Join(got, "\n"), strings.Join(w.peers, "\n"))
		}
		if lc.Gated != w.gated || !slices.Equal(lc.GatedBy, w.gatedBy) {
			t.Errorf("%s gated %v by %v, want %v by %v", addr, lc.Gated, lc.GatedBy, w.gated, w.gatedBy)
		}
	}
	if p := s.For(ap("127.0.0.1:8000")).Peers[0].Process; p == nil || p.User != "bob" || !strings.HasPrefix(p.Command(), "curl") {
		t.Errorf("peer process of 127.0.0.1:8000: %+v", p)
	}
	// The gate fronting a host name is a warning that says what to do.
	if !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "mcp.internal") }) {
		t.Errorf("warnings %q do not name the unresolved upstream", s.Warnings)
	}
}

func TestSampleConnectionsOptions(t *testing.T) {
	ctx := context.Background()
	t.Run("listeners, declared gate, no discovery, no peer processes", func(t *testing.T) {
		s, err := SampleConnections(ctx, ConnOptions{
			Proc: connTree(t), LocalAddrs: treeAddrs, NoGateDiscovery: true, NoPeerProcesses: true,
			Listeners: []netip.AddrPort{ap("0.0.0.0:9000"), ap("127.0.0.1:8000"), ap("127.0.0.1:7777")},
			Gated:     []netip.AddrPort{ap("127.0.0.1:9000")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Listeners) != 2 || s.For(ap("[::]:3000")) != nil || len(s.Gates) != 0 {
			t.Fatalf("listeners %+v, gates %+v", s.Listeners, s.Gates)
		}
		// 127.0.0.1:9000 names the wildcard listener on 9000.
		if lc := s.For(ap("0.0.0.0:9000")); !lc.Gated || len(lc.GatedBy) != 0 {
			t.Errorf("0.0.0.0:9000: %+v", lc)
		}
		if got := peerSummary(s.For(ap("127.0.0.1:8000"))); !slices.Equal(got, []string{"127.0.0.1:49128 loopback host (" + NotePeerNotResolved + ")"}) {
			t.Errorf("peers %v", got)
		}
		if !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "no listener on 127.0.0.1:7777") }) {
			t.Errorf("warnings %q", s.Warnings)
		}
	})
	t.Run("addresses not listed", func(t *testing.T) {
		s, err := SampleConnections(ctx, ConnOptions{Proc: connTree(t), LocalAddrs: func() ([]netip.Addr, error) {
			return nil, errors.New("no netlink")
		}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(s.Warnings, func(w string) bool { return strings.Contains(w, "no netlink") }) {
			t.Errorf("warnings %q", s.Warnings)
		}
	})
	t.Run("no tree", func(t *testing.T) {
		if _, err := SampleConnections(ctx, ConnOptions{Proc: &procfs.Reader{}}); err == nil {
			t.Fatal("no error for a reader without a tree")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := SampleConnections(c, ConnOptions{Proc: connTree(t)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

// listenerRecord is a listener record as Audit emits it.
func listenerRecord(addr string, port int, open bool) *result.Endpoint {
	ep := &result.Endpoint{
		Schema: result.Schema, Host: "127.0.0.1", Port: port, Status: result.StatusNotMCP,
		Listen:   &result.ListenInfo{Address: addr, Port: port, ProbedAt: "127.0.0.1"},
		Process:  &result.ProcessInfo{PID: 100, User: "alice", Command: "node /opt/mcp/server.js --port 3000"},
		Findings: []finding.Finding{},
	}
	if open {
		ep.Status = result.StatusMCP
		ep.MCP = &result.MCPInfo{Confidence: "confirmed"}
		ep.Auth = &result.AuthInfo{Required: false}
	}
	return ep
}

func TestJudgeConnections(t *testing.T) {
	s, err := SampleConnections(context.Background(), ConnOptions{Proc: connTree(t), LocalAddrs: treeAddrs})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		rule string
		sev  finding.Severity
		text []string
	}
	tests := []struct {
		name     string
		ep       *result.Endpoint
		conns    int
		findings []want
	}{
		{"open wildcard: public critical, private high", listenerRecord("0.0.0.0", 9000, true), 2, []want{
			{rules.InboundPublicOpen, finding.Critical, []string{"pid 100", "0.0.0.0:9000", "203.0.113.7 (public, port 40000)", "fix:", "firewall port 9000"}},
			{rules.InboundLocalOnlyBreak, finding.High, []string{"pid 100", "10.200.0.2 (private, port 57400)", "without authentication", "fix:"}},
		}},
		{"authenticated wildcard: nothing", func() *result.Endpoint {
			ep := listenerRecord("0.0.0.0", 9000, true)
			ep.Auth.Required = true
			return ep
		}(), 2, nil},
		{"gated dual stack: the gate is fine, the others bypass it", listenerRecord("::", 3000, true), 4, []want{
			{rules.GateBypassed, finding.Critical, []string{"10.200.0.2 (private", "another machine", "mcpwarden gate (pid 300)", "firewall port 3000"}},
			{rules.GateBypassed, finding.Critical, []string{"fd00:200::2 (unique-local"}},
		}},
		{"gated loopback: a local process that is not the gate", listenerRecord("127.0.0.1", 8000, false), 1, []want{
			{rules.GateBypassed, finding.High, []string{"a local process that is not the gate", "pid 200 `curl -s http://127.0.0.1:8000/mcp`", "mcpwarden gate (pid 400)"}},
		}},
		{"not MCP: no connections", func() *result.Endpoint {
			ep := listenerRecord("0.0.0.0", 9000, false)
			ep.Process.MCPServer = ""
			return ep
		}(), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bound := netip.AddrPortFrom(netip.MustParseAddr(tt.ep.Listen.Address), uint16(tt.ep.Listen.Port))
			added := JudgeConnections(tt.ep, s.For(bound))
			if len(tt.ep.Listen.Connections) != tt.conns {
				t.Errorf("%d connections on the record, want %d", len(tt.ep.Listen.Connections), tt.conns)
			}
			if len(added) != len(tt.findings) || len(tt.ep.Findings) != len(tt.findings) {
				t.Fatalf("findings %+v, want %d", tt.ep.Findings, len(tt.findings))
			}
			for i, w := range tt.findings {
				f := tt.ep.Findings[i]
				if f.Rule != w.rule || f.Severity != w.sev {
					t.Errorf("finding %d: %s at %s, want %s at %s", i, f.Rule, f.Severity, w.rule, w.sev)
				}
				for _, s := range w.text {
					if !strings.Contains(f.Evidence, s) {
						t.Errorf("finding %d evidence %q does not contain %q", i, f.Evidence, s)
					}
				}
			}
		})
	}
	t.Run("connection records", func(t *testing.T) {
		ep := listenerRecord("::", 3000, true)
		JudgeConnections(ep, s.For(ap("[::]:3000")))
		if !ep.Listen.Gated {
			t.Errorf("not marked gated")
		}
		var gate *result.ConnectionInfo
		for i, c := range ep.Listen.Connections {
			if c.PeerAddress == "127.0.0.1" {
				gate = &ep.Listen.Connections[i]
			}
			if c.PeerAddress == "::ffff:10.200.0.2" {
				t.Errorf("v4-mapped peer not unmapped: %+v", c)
			}
		}
		if gate == nil || !gate.Gate || !gate.OnHost || gate.Process == nil || gate.Process.PID != 300 ||
			gate.PeerPort != 37778 || gate.LocalAddress != "127.0.0.1" || gate.LocalPort != 3000 || gate.PeerClass != "loopback" {
			t.Errorf("gate connection %+v", gate)
		}
	})
	t.Run("loopback bind reached from the network", func(t *testing.T) {
		lc := &ListenerConns{Listener: ap("127.0.0.1:8000"), Net: "tcp", Peers: []Peer{
			{Local: ap("127.0.0.1:8000"), Remote: ap("192.168.1.9:50000"), Class: PeerPrivate},
		}}
		ep := listenerRecord("127.0.0.1", 8000, false)
		ep.Process.MCPServer = "fastmcp"
		added := JudgeConnections(ep, lc)
		if len(added) != 1 || added[0].Rule != rules.InboundLocalOnlyBreak || !strings.Contains(added[0].Evidence, "route_localnet") {
			t.Fatalf("findings %+v", added)
		}
	})
	t.Run("local peer not visible is not called a bypass", func(t *testing.T) {
		lc := &ListenerConns{Listener: ap("127.0.0.1:8000"), Net: "tcp", Gated: true, Peers: []Peer{
			{Local: ap("127.0.0.1:8000"), Remote: ap("127.0.0.1:50000"), Class: PeerLoopback, OnHost: true, ProcessNote: procfs.NoteNeedsRoot},
		}}
		if added := JudgeConnections(listenerRecord("127.0.0.1", 8000, true), lc); len(added) != 0 {
			t.Fatalf("findings %+v", added)
		}
	})
	t.Run("listener owner not visible", func(t *testing.T) {
		ep := listenerRecord("0.0.0.0", 9000, true)
		ep.Process = &result.ProcessInfo{Note: procfs.NoteNeedsRoot}
		added := JudgeConnections(ep, s.For(ap("0.0.0.0:9000")))
		if len(added) != 2 || !strings.Contains(added[0].Evidence, "the process behind 0.0.0.0:9000 ("+procfs.NoteNeedsRoot+")") {
			t.Fatalf("findings %+v", added)
		}
	})
	t.Run("many connections from one peer are one finding", func(t *testing.T) {
		lc := &ListenerConns{Listener: ap("0.0.0.0:3000"), Net: "tcp"}
		for i := range 8 {
			lc.Peers = append(lc.Peers, Peer{Local: ap("10.0.0.1:3000"), Remote: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.4"), uint16(40000+i)), Class: PeerPublic})
		}
		added := JudgeConnections(listenerRecord("0.0.0.0", 3000, true), lc)
		if len(added) != 1 || !strings.Contains(added[0].Evidence, "8 connections from ports 40000, 40001, 40002, 40003, 40004, and 3 more") {
			t.Fatalf("findings %+v", added)
		}
	})
}

// TestSampleConnectionsLive opens real loopback connections and finds
// them, with this process on both ends, in this machine's tables.
func TestSampleConnectionsLive(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("connection tables are read from Linux procfs")
	}
	ln, conns := loopbackConns(t, 3)
	lnAddr := netip.MustParseAddrPort(ln.Addr().String())
	s, err := SampleConnections(context.Background(), ConnOptions{Listeners: []netip.AddrPort{lnAddr}, NoGateDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	lc := s.For(lnAddr)
	if lc == nil || len(lc.Peers) != len(conns) {
		t.Fatalf("sample %+v; want %d peers of %s", s.Listeners, len(conns), lnAddr)
	}
	for _, p := range lc.Peers {
		if p.Class != PeerLoopback || !p.OnHost || p.Process == nil || p.Process.PID != os.Getpid() {
			t.Errorf("peer %+v (process %+v), want this process over loopback", p, p.Process)
		}
	}
}

// loopbackConns opens a listener on 127.0.0.1 and n connections to it,
// accepted and held open until the test ends.
func loopbackConns(tb testing.TB, n int) (net.Listener, []net.Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		a, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c, a)
	}
	tb.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return ln, conns[:n]
}
