package host

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseGateArgs(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		ok   bool
		want GateArgs
	}{
		{"upstream", []string{"/usr/local/bin/mcpwarden", "gate", "--upstream", "http://127.0.0.1:3000/mcp", "--listen", ":8443"}, true,
			GateArgs{Upstreams: []string{"http://127.0.0.1:3000/mcp"}}},
		{"equals and one dash", []string{"mcpwarden", "gate", "-upstream=http://[::1]:3000/mcp", "-config=/etc/gate.yaml"}, true,
			GateArgs{Upstreams: []string{"http://[::1]:3000/mcp"}, Config: "/etc/gate.yaml"}},
		{"repeated", []string{"mcpwarden-linux-amd64", "gate", "--upstream", "http://a:1", "--upstream=http://b:2"}, true,
			GateArgs{Upstreams: []string{"http://a:1", "http://b:2"}}},
		{"leading flags", []string{"mcpwarden", "-test.run=^X$", "gate", "--config", "gate.yaml"}, true, GateArgs{Config: "gate.yaml"}},
		{"after double dash", []string{"mcpwarden", "gate", "--", "--upstream", "http://x:1"}, true, GateArgs{}},
		{"missing value", []string{"mcpwarden", "gate", "--upstream"}, true, GateArgs{}},
		{"upstream-cmd is not upstream", []string{"mcpwarden", "gate", "--upstream-cmd", "npx server"}, true, GateArgs{}},
		{"another command", []string{"mcpwarden", "scan", "--upstream", "x"}, false, GateArgs{}},
		{"another program", []string{"node", "gate", "--upstream", "http://x:1"}, false, GateArgs{}},
		{"program only", []string{"mcpwarden"}, false, GateArgs{}},
		{"empty", nil, false, GateArgs{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseGateArgs(tt.argv)
			if ok != tt.ok || !slices.Equal(got.Upstreams, tt.want.Upstreams) || got.Config != tt.want.Config {
				t.Fatalf("ParseGateArgs(%q) = %+v, %v; want %+v, %v", tt.argv, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestUpstreamAddrs(t *testing.T) {
	tests := []struct {
		url  string
		want []string
		err  string
	}{
		{"http://127.0.0.1:3000/mcp", []string{"127.0.0.1:3000"}, ""},
		{"http://[::1]:3000/mcp", []string{"[::1]:3000"}, ""},
		{"http://[::ffff:10.0.0.5]:8080", []string{"10.0.0.5:8080"}, ""},
		{"https://10.0.0.5/mcp", []string{"10.0.0.5:443"}, ""},
		{"http://10.0.0.5", []string{"10.0.0.5:80"}, ""},
		{"http://LocalHost:3000", []string{"127.0.0.1:3000", "[::1]:3000"}, ""},
		{"http://mcp.internal:3000", nil, `host "mcp.internal" is a name`},
		{"ftp://10.0.0.5", nil, "not an http or https URL"},
		{"http://10.0.0.5:0", nil, "bad port"},
		{"http://10.0.0.5:99999", nil, "bad port"},
		{"http://[::1", nil, "upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := UpstreamAddrs(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.url) {
					t.Fatalf("err %v; want one naming %q and containing %q", err, tt.url, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, a := range got {
				s = append(s, a.String())
			}
			if !slices.Equal(s, tt.want) {
				t.Errorf("got %v, want %v", s, tt.want)
			}
		})
	}
}

func TestFindGates(t *testing.T) {
	gates, err := FindGates(context.Background(), connTree(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(gates) != 2 {
		t.Fatalf("gates %+v, want pids 300 and 400", gates)
	}
	byPID := map[int]GateProcess{}
	for _, g := range gates {
		byPID[g.PID] = g
	}
	// pid 300: --config gate.yaml, read from its working directory; the
	// route's upstream is localhost:3000.
	if g := byPID[300]; !slices.Equal(g.Upstreams, []netip.AddrPort{ap("127.0.0.1:3000"), ap("[::1]:3000")}) || len(g.Notes) != 0 {
		t.Errorf("gate 300: %+v", g)
	}
	// pid 400: two --upstream flags, the second a host name.
	g := byPID[400]
	if !slices.Equal(g.Upstreams, []netip.AddrPort{ap("127.0.0.1:8000")}) || len(g.Notes) != 1 ||
		!strings.Contains(g.Notes[0], "mcp.internal") || !strings.Contains(g.Notes[0], "--gated") {
		t.Errorf("gate 400: %+v", g)
	}
}

func TestParseGated(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"127.0.0.1:3000", "127.0.0.1:3000", ""},
		{" [::1]:3000 ", "[::1]:3000", ""},
		{"[::ffff:127.0.0.1]:3000", "127.0.0.1:3000", ""},
		{"127.0.0.1", "", "want ADDR:PORT"},
		{"localhost:3000", "", "want ADDR:PORT"},
		{"127.0.0.1:0", "", "port 0"},
		{"[fe80::1%eth0]:3000", "", "zoned"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseGated(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got.String() != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
