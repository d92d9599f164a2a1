package host

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzGateCmdline feeds arbitrary /proc/<pid>/cmdline contents (NUL
// separated) to the gate recogniser and its upstreams to UpstreamAddrs:
// nothing may panic, and every address returned is valid with a port.
func FuzzGateCmdline(f *testing.F) {
	f.Add([]byte("/usr/local/bin/mcpwarden\x00gate\x00--upstream\x00http://127.0.0.1:3000/mcp\x00"))
	f.Add([]byte("mcpwarden\x00-test.run=x\x00gate\x00--config=gate.yaml\x00--upstream=http://[::1]:8080\x00"))
	f.Add([]byte("mcpwarden\x00gate\x00--upstream\x00http://localhost\x00--upstream\x00https://[fe80::1%25eth0]:99999\x00"))
	f.Add([]byte("node\x00server.js\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		argv := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		g, ok := ParseGateArgs(argv)
		if !ok {
			if len(g.Upstreams) != 0 || g.Config != "" {
				t.Fatalf("not a gate, yet %+v", g)
			}
			return
		}
		for _, u := range g.Upstreams {
			addrs, err := UpstreamAddrs(u)
			if err != nil {
				if addrs != nil || !strings.Contains(err.Error(), "upstream") {
					t.Fatalf("UpstreamAddrs(%q) = %v, %v", u, addrs, err)
				}
				continue
			}
			for _, a := range addrs {
				if !a.IsValid() || a.Port() == 0 || a.Addr().Is4In6() || a.Addr().Zone() != "" {
					t.Fatalf("UpstreamAddrs(%q) gave %v", u, a)
				}
			}
		}
	})
}
