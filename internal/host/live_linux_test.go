//go:build linux

package host

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// TestLiveGoSDKServer starts official Go SDK servers on 127.0.0.1 in this
// process and audits this machine's real /proc, limited to their ports (so
// that nothing else on the machine is probed): the audit must find the
// listeners, name this test process and judge them as loopback servers.
func TestLiveGoSDKServer(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable)
	protected := startLab(t, lab.KindOAuth)
	ports := map[string]int{}
	for name, s := range map[string]*lab.Server{"open": open, "oauth": protected} {
		ports[name] = int(netip.MustParseAddrPort(s.Addr).Port())
	}
	recs, _ := audit(t, Options{Ports: []int{ports["open"], ports["oauth"]}, LocalAddrs: addrs("203.0.113.5")})

	check := func(name string) *result.Endpoint {
		t.Helper()
		var mcpRec *result.Endpoint
		rs := byListen(recs, "127.0.0.1", ports[name])
		if len(rs) == 0 {
			t.Fatalf("%s server on 127.0.0.1:%d not found among %d records", name, ports[name], len(recs))
		}
		for _, r := range rs {
			if r.Process == nil || r.Process.PID != os.Getpid() {
				t.Errorf("%s: process %+v, want pid %d (this test)", name, r.Process, os.Getpid())
			}
			if r.Status == result.StatusMCP {
				mcpRec = r
			}
		}
		if mcpRec == nil {
			t.Fatalf("%s: no MCP record: %+v", name, rs[0])
		}
		exe, _ := os.Executable()
		if mcpRec.Process.Exe != exe || mcpRec.Process.User == "" || !strings.Contains(mcpRec.Process.Command, os.Args[0]) {
			t.Errorf("%s: process %+v, want exe %s", name, mcpRec.Process, exe)
		}
		if mcpRec.Listen.ProbedAt != "127.0.0.1" {
			t.Errorf("%s: probed at %q", name, mcpRec.Listen.ProbedAt)
		}
		if findRule(mcpRec.Findings, rules.ListenerExposed) != nil || findRule(mcpRec.Findings, rules.ListenerMCPUnconfirmed) != nil {
			t.Errorf("%s: a loopback server judged as exposed: %v", name, ruleSev(mcpRec.Findings))
		}
		return mcpRec
	}
	o := check("open")
	// Loopback only: the scan engine's verdicts stand, Origin/Host included
	// (the SDK validates Host but not Origin).
	if f := findRule(o.Findings, rules.Unauthenticated); f == nil || f.Severity != finding.High {
		t.Errorf("open: findings %v, want MCPW-001/high", ruleSev(o.Findings))
	}
	if f := findRule(o.Findings, rules.LocalWebReachable); f == nil || !strings.Contains(f.Evidence, "process: pid ") {
		t.Errorf("open: findings %+v, want MCPW-009 naming the process", o.Findings)
	}
	if o.HostHeader == nil || o.HostHeader.Validated == nil || !*o.HostHeader.Validated {
		t.Errorf("open: host check %+v", o.HostHeader)
	}
	p := check("oauth")
	if p.Auth == nil || !p.Auth.Required || findRule(p.Findings, rules.Unauthenticated) != nil {
		t.Errorf("oauth: auth %+v findings %v", p.Auth, ruleSev(p.Findings))
	}
}

// TestLiveEverything audits @modelcontextprotocol/server-everything from
// npm, pinned to a loopback address, and checks that the record names the
// node process and recognises the package.
func TestLiveEverything(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node")
	}
	e := mcptest.StartEverythingProcess(t, mcptest.TransportStreamableHTTP, "127.0.0.1")
	recs, _ := audit(t, Options{Ports: []int{e.Port}, LocalAddrs: addrs("10.0.0.5")})
	rs := byListen(recs, "127.0.0.1", e.Port)
	if len(rs) == 0 {
		t.Fatalf("server-everything on 127.0.0.1:%d not found", e.Port)
	}
	var mcpRec *result.Endpoint
	for _, r := range rs {
		if r.Status == result.StatusMCP {
			mcpRec = r
		}
	}
	if mcpRec == nil {
		t.Fatalf("not recognised as MCP: %+v", rs[0])
	}
	if mcpRec.Process.PID != e.PID || !strings.Contains(mcpRec.Process.Command, "node") {
		t.Errorf("process %+v, want pid %d", mcpRec.Process, e.PID)
	}
	if mcpRec.Process.MCPServer == "" {
		t.Errorf("command line %q not recognised as an MCP server", mcpRec.Process.Command)
	}
	if findRule(mcpRec.Findings, rules.Unauthenticated) == nil {
		t.Errorf("findings %v, want MCPW-001", ruleSev(mcpRec.Findings))
	}
}
