// Package risk turns what a probe observed into findings: it rates the
// address class of a target and applies the rules of the catalogue to an
// endpoint record.
package risk

import "net/netip"

// Class is the reachability class of an address.
type Class string

// The classes, from most to least exposed.
const (
	Public   Class = "public"
	Private  Class = "private"
	Loopback Class = "loopback"
	Unknown  Class = "unknown"
)

var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), // CGNAT, RFC 6598
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// ClassOf classifies an IP literal; anything unparsable is Unknown.
func ClassOf(ip string) Class {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return Unknown
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return Loopback
	}
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return Private
		}
	}
	if a.IsUnspecified() || a.IsMulticast() {
		return Unknown
	}
	return Public
}
