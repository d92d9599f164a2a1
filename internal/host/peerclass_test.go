package host

import (
	"net/netip"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/risk"
)

func TestClassifyPeer(t *testing.T) {
	tests := []struct {
		addr string
		want PeerClass
	}{
		{"127.0.0.1", PeerLoopback},
		{"127.8.9.10", PeerLoopback},
		{"::1", PeerLoopback},
		{"::ffff:127.0.0.1", PeerLoopback},
		{"10.200.0.2", PeerPrivate},
		{"172.16.5.4", PeerPrivate},
		{"172.32.0.1", PeerPublic},
		{"192.168.1.20", PeerPrivate},
		{"::ffff:192.168.1.20", PeerPrivate},
		{"100.64.0.1", PeerCGNAT},
		{"100.127.255.254", PeerCGNAT},
		{"100.128.0.1", PeerPublic},
		{"169.254.169.254", PeerLinkLocal},
		{"fe80::1", PeerLinkLocal},
		{"fe80::1%eth0", PeerLinkLocal},
		{"fd00:200::2", PeerUniqueLocal},
		{"fc12::1", PeerUniqueLocal},
		{"224.0.0.251", PeerMulticast},
		{"ff02::1", PeerMulticast},
		{"0.0.0.0", PeerUnspecified},
		{"::", PeerUnspecified},
		{"203.0.113.7", PeerPublic},
		{"8.8.8.8", PeerPublic},
		{"::ffff:8.8.8.8", PeerPublic},
		{"2001:db8::1", PeerPublic},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			got := ClassifyPeer(a)
			if got != tt.want {
				t.Fatalf("ClassifyPeer(%s) = %s, want %s", tt.addr, got, tt.want)
			}
			// The finer class never disagrees with risk.ClassOf where
			// that one has an answer.
			if coarse := risk.ClassOf(a.WithZone("").String()); coarse != risk.Unknown && got.Risk() != coarse {
				t.Errorf("%s: Risk() = %s, risk.ClassOf = %s", tt.addr, got.Risk(), coarse)
			}
		})
	}
	if got := ClassifyPeer(netip.Addr{}); got != PeerUnknown {
		t.Errorf("zero address: %s", got)
	}
}
