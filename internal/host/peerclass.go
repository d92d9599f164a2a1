package host

import (
	"net/netip"

	"github.com/mcpwarden/mcpwarden/internal/risk"
)

// PeerClass is the finer address class of a connection's peer. It refines
// risk.ClassOf (whose Private covers RFC 1918, CGNAT, link-local and
// unique-local alike) so that a report tells where a peer comes from.
type PeerClass string

// The peer classes.
const (
	PeerLoopback    PeerClass = "loopback"     // 127.0.0.0/8, ::1
	PeerPrivate     PeerClass = "private"      // RFC 1918: 10/8, 172.16/12, 192.168/16
	PeerCGNAT       PeerClass = "cgnat"        // 100.64.0.0/10, RFC 6598 (carrier NAT, Tailscale)
	PeerLinkLocal   PeerClass = "link-local"   // 169.254.0.0/16, fe80::/10
	PeerUniqueLocal PeerClass = "unique-local" // fc00::/7, RFC 4193
	PeerMulticast   PeerClass = "multicast"
	PeerUnspecified PeerClass = "unspecified" // 0.0.0.0, ::
	PeerPublic      PeerClass = "public"      // anything else: reachable from the internet
	PeerUnknown     PeerClass = "unknown"     // not an IP address
)

var (
	cgnatPrefix  = netip.MustParsePrefix("100.64.0.0/10")
	rfc1918      = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}
	uniqueLocal  = netip.MustParsePrefix("fc00::/7")
	linkLocal4   = netip.MustParsePrefix("169.254.0.0/16")
	linkLocal6   = netip.MustParsePrefix("fe80::/10")
	multicastAll = []netip.Prefix{netip.MustParsePrefix("224.0.0.0/4"), netip.MustParsePrefix("ff00::/8")}
)

// ClassifyPeer returns the class of a peer address; IPv4-mapped IPv6
// addresses are classified as the IPv4 address they carry.
func ClassifyPeer(a netip.Addr) PeerClass {
	if !a.IsValid() {
		return PeerUnknown
	}
	a = a.Unmap().WithZone("")
	switch {
	case a.IsLoopback():
		return PeerLoopback
	case a.IsUnspecified():
		return PeerUnspecified
	case cgnatPrefix.Contains(a):
		return PeerCGNAT
	case linkLocal4.Contains(a), linkLocal6.Contains(a):
		return PeerLinkLocal
	case uniqueLocal.Contains(a):
		return PeerUniqueLocal
	}
	for _, p := range rfc1918 {
		if p.Contains(a) {
			return PeerPrivate
		}
	}
	for _, p := range multicastAll {
		if p.Contains(a) {
			return PeerMulticast
		}
	}
	return PeerPublic
}

// Risk returns the coarse class of risk.ClassOf that c falls in.
func (c PeerClass) Risk() risk.Class {
	switch c {
	case PeerLoopback:
		return risk.Loopback
	case PeerPrivate, PeerCGNAT, PeerLinkLocal, PeerUniqueLocal:
		return risk.Private
	case PeerPublic:
		return risk.Public
	}
	return risk.Unknown
}
