package cli

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func TestHostConnectionsUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"host", "--gated", "127.0.0.1"}, `--gated: gated "127.0.0.1": want ADDR:PORT`},
		{[]string{"host", "--gated", "localhost:3000"}, `gated "localhost:3000"`},
		{[]string{"host", "--gated", "127.0.0.1:0"}, "port 0"},
		{[]string{"host", "--connections", "--no-listeners"}, "--connections (or --gated) needs the listeners"},
		{[]string{"host", "--gated", "127.0.0.1:3000", "--no-listeners"}, "drop --no-listeners"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errb := run(t, context.Background(), "", tt.args...)
			if code != ExitError || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, out, ExitError)
			}
			if !strings.Contains(errb, tt.want) {
				t.Errorf("stderr %q, want it to contain %q", errb, tt.want)
			}
		})
	}
	code, out, _ := run(t, context.Background(), "", "host", "--help")
	for _, want := range []string{"--connections", "--gated ADDR:PORT", "MCPW_GATE_"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestHostConnectionsLoopback runs 'host --connections' against an open
// lab server on 127.0.0.1 that this test holds a connection to: the peer
// is this process over loopback, which is no finding, until the listener
// is declared gated: then this process, not being the gate, bypasses it.
func TestHostConnectionsLoopback(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no procfs: connections are read from Linux /proc/net/tcp")
	}
	srv, err := lab.Start(context.Background(), lab.KindOpenStreamable, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("tcp4", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := netip.MustParseAddrPort(c.LocalAddr().String())
	port := int(netip.MustParseAddrPort(srv.Addr).Port())

	record := func(t *testing.T, extra ...string) *result.Endpoint {
		t.Helper()
		args := append([]string{"host", "--no-configs", "--ports", strconv.Itoa(port), "-o", "jsonl"}, extra...)
		_, out, errb := run(t, context.Background(), "", args...)
		for _, r := range decodeRecords(t, out) {
			if r.Status == result.StatusMCP && r.Listen != nil && r.Listen.Port == port {
				return &r
			}
		}
		t.Fatalf("no MCP record of port %d:\n%s\n%s", port, out, errb)
		return nil
	}

	t.Run("connections", func(t *testing.T) {
		r := record(t, "--connections")
		var mine *result.ConnectionInfo
		for i, ci := range r.Listen.Connections {
			if ci.PeerPort == int(local.Port()) {
				mine = &r.Listen.Connections[i]
			}
		}
		if mine == nil || mine.PeerAddress != "127.0.0.1" || mine.PeerClass != "loopback" || !mine.OnHost ||
			mine.Process == nil || mine.Process.PID != os.Getpid() || mine.Gate || r.Listen.Gated {
			t.Fatalf("connections %+v, want one from this process (pid %d) at %s", r.Listen.Connections, os.Getpid(), local)
		}
		for _, f := range r.Findings {
			if f.Rule == rules.GateBypassed || f.Rule == rules.InboundLocalOnlyBreak || f.Rule == rules.InboundPublicOpen {
				t.Errorf("finding %+v for a loopback peer of an ungated listener", f)
			}
		}
	})
	t.Run("without --connections", func(t *testing.T) {
		if r := record(t); r.Listen.Connections != nil || r.Listen.Gated {
			t.Errorf("listen %+v without --connections", r.Listen)
		}
	})
	t.Run("gated", func(t *testing.T) {
		r := record(t, "--gated", srv.Addr)
		if !r.Listen.Gated {
			t.Errorf("not gated: %+v", r.Listen)
		}
		var bypass *finding.Finding
		for i, f := range r.Findings {
			if f.Rule == rules.GateBypassed && strings.Contains(f.Evidence, "port "+strconv.Itoa(int(local.Port()))) {
				bypass = &r.Findings[i]
			}
		}
		if bypass == nil || bypass.Severity != finding.High {
			t.Fatalf("findings %+v; want %s at high for this process's connection", r.Findings, rules.GateBypassed)
		}
		for _, want := range []string{"a local process that is not the gate", "pid " + strconv.Itoa(os.Getpid()), "declared with --gated", "fix:"} {
			if !strings.Contains(bypass.Evidence, want) {
				t.Errorf("evidence %q lacks %q", bypass.Evidence, want)
			}
		}
	})
}
