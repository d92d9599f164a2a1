package exposure

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Scope is the operator's own address space and domains: the only services
// an exposure run keeps. It is built from scan target specs.
//
// An address target (IP, CIDR, range) covers every address in it; a host
// name target covers the name and every name below it (mcp.example.com is
// inside example.com). A target that fixes a port (host:port, a URL) covers
// that port only. A Scope is immutable and safe for concurrent use.
type Scope struct {
	nets    []netRange
	domains []domain
}

type netRange struct {
	first, last netip.Addr
	port        int // 0 = every port
	input       string
}

type domain struct {
	name  string // lower case, no trailing dot
	port  int
	input string
}

// ErrEmptyScope is returned by ParseScope when no target is given: an
// exposure run has no default target list.
var ErrEmptyScope = errors.New("no targets: give your own addresses, CIDRs, ranges or domains")

// ParseScope builds a scope from target specs (the forms target.ParseSpec
// accepts). All bad specs are reported together, each named.
func ParseScope(specs []string) (*Scope, error) {
	sc := &Scope{}
	var errs []error
	for _, in := range specs {
		sp, err := target.ParseSpec(in)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case sp.First.IsValid():
			sc.nets = append(sc.nets, netRange{first: sp.First.Unmap(), last: sp.Last.Unmap(), port: sp.Port, input: sp.Input})
		default:
			name := strings.ToLower(strings.TrimSuffix(sp.Host, "."))
			if !strings.Contains(name, ".") {
				errs = append(errs, fmt.Errorf("target %q: give a domain with a dot (a bare name cannot be searched in an index)", sp.Input))
				continue
			}
			sc.domains = append(sc.domains, domain{name: name, port: sp.Port, input: sp.Input})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(sc.nets) == 0 && len(sc.domains) == 0 {
		return nil, ErrEmptyScope
	}
	return sc, nil
}

// Match says why a service is inside the scope.
type Match struct {
	// ByAddress is true when the service's address is inside an address
	// target; false when only one of its host names matched a domain.
	ByAddress bool
	// Hostname is the matching name when ByAddress is false.
	Hostname string
	// Target is the operator's target that matched, as given.
	Target string
}

// Contains reports whether s lies inside the scope, and how. An address
// match wins over a host name match.
func (sc *Scope) Contains(s *Service) (Match, bool) {
	ip := s.IP.Unmap()
	for _, n := range sc.nets {
		if ip.IsValid() && ip.BitLen() == n.first.BitLen() && n.first.Compare(ip) <= 0 && ip.Compare(n.last) <= 0 &&
			(n.port == 0 || n.port == s.Port) {
			return Match{ByAddress: true, Target: n.input}, true
		}
	}
	for _, h := range s.Hostnames {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		for _, d := range sc.domains {
			if (h == d.name || strings.HasSuffix(h, "."+d.name)) && (d.port == 0 || d.port == s.Port) {
				return Match{Hostname: h, Target: d.input}, true
			}
		}
	}
	return Match{}, false
}

// ContainsAddr reports whether a is inside one of the address targets (any
// port).
func (sc *Scope) ContainsAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, n := range sc.nets {
		if a.BitLen() == n.first.BitLen() && n.first.Compare(a) <= 0 && a.Compare(n.last) <= 0 {
			return true
		}
	}
	return false
}

// Prefixes returns the address targets as the fewest CIDR prefixes that
// cover them exactly.
func (sc *Scope) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, n := range sc.nets {
		out = append(out, rangePrefixes(n.first, n.last)...)
	}
	return out
}

// Addrs returns the single-address targets: these are looked up one by one
// (a host lookup costs no search credits) rather than searched.
func (sc *Scope) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, n := range sc.nets {
		if n.first == n.last {
			out = append(out, n.first)
		}
	}
	return out
}

// Ranges returns the address targets that cover more than one address, as
// inclusive first/last pairs.
func (sc *Scope) Ranges() [][2]netip.Addr {
	var out [][2]netip.Addr
	for _, n := range sc.nets {
		if n.first != n.last {
			out = append(out, [2]netip.Addr{n.first, n.last})
		}
	}
	return out
}

// Domains returns the domain targets, lower case.
func (sc *Scope) Domains() []string {
	var out []string
	seen := map[string]bool{}
	for _, d := range sc.domains {
		if !seen[d.name] {
			seen[d.name] = true
			out = append(out, d.name)
		}
	}
	return out
}

// rangePrefixes splits the inclusive range [first, last] of one family into
// the fewest prefixes.
func rangePrefixes(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	bits := first.BitLen()
	for cur := first; cur.IsValid() && cur.Compare(last) <= 0; {
		// The largest prefix starting at cur that stays within last.
		l := bits
		for l > 0 {
			p, err := cur.Prefix(l - 1)
			if err != nil || p.Addr() != cur || lastOf(p).Compare(last) > 0 {
				break
			}
			l--
		}
		p := netip.PrefixFrom(cur, l)
		out = append(out, p)
		end := lastOf(p)
		if end == last {
			break
		}
		cur = end.Next()
	}
	return out
}

// lastOf returns the last address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - uint(i%8))
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
