package target

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
)

// Exclusions is a set of addresses and host names never to probe. Address
// specs (IPs, CIDRs, ranges) are kept as sorted, merged intervals per family
// and looked up by binary search, so a list of many thousand CIDRs costs a
// few comparisons per service. Host names match exactly (case-insensitive,
// trailing dot ignored); "*.example.com" matches every name below
// example.com but not example.com itself.
//
// Host names are not resolved here: a DNS target that resolves to an
// excluded address is only caught if the scanner checks ContainsAddr on the
// resolved address. A nil *Exclusions excludes nothing. An Exclusions is
// immutable and safe for concurrent use.
type Exclusions struct {
	v4, v6   []span
	hosts    map[string]struct{}
	suffixes map[string]struct{}
}

// span is an inclusive address interval.
type span struct{ lo, hi u128 }

// ParseExclusions builds exclusions from specs: IP addresses, CIDRs, ranges
// (the forms ParseSpec accepts, without ports or URLs), host names and
// "*.domain" patterns. One string may hold several specs separated by commas
// or blanks. All bad specs are reported together.
func ParseExclusions(specs []string) (*Exclusions, error) {
	b := newExclBuilder()
	var errs []error
	for _, s := range specs {
		for _, tok := range splitSpecs(s) {
			if err := b.add(tok); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b.build(), nil
}

// ReadExclusions reads an exclude file: one or more specs per line (as for
// ParseExclusions), '#' comments and blank lines. Errors carry name and line
// ("exclude.txt:3: ..."); all bad lines are reported together.
func ReadExclusions(name string, r io.Reader) (*Exclusions, error) {
	b := newExclBuilder()
	var errs []error
	err := scanLines(name, r, func(line int, text string) error {
		for _, tok := range splitSpecs(text) {
			if err := b.add(tok); err != nil {
				errs = append(errs, fmt.Errorf("%s:%d: %w", name, line, err))
				if len(errs) >= 100 {
					return errors.New("too many errors")
				}
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b.build(), nil
}

// Union returns the exclusions of both e and o. Either may be nil.
func (e *Exclusions) Union(o *Exclusions) *Exclusions {
	if e == nil {
		return o
	}
	if o == nil {
		return e
	}
	b := newExclBuilder()
	for _, x := range []*Exclusions{e, o} {
		b.v4 = append(b.v4, x.v4...)
		b.v6 = append(b.v6, x.v6...)
		for h := range x.hosts {
			b.hosts[h] = struct{}{}
		}
		for h := range x.suffixes {
			b.suffixes[h] = struct{}{}
		}
	}
	return b.build()
}

// Empty reports whether e excludes nothing.
func (e *Exclusions) Empty() bool {
	return e == nil || len(e.v4)+len(e.v6)+len(e.hosts)+len(e.suffixes) == 0
}

// ContainsAddr reports whether a is excluded. Zones are ignored and
// IPv4-mapped IPv6 addresses count as their IPv4 address.
func (e *Exclusions) ContainsAddr(a netip.Addr) bool {
	if e == nil || !a.IsValid() {
		return false
	}
	a = a.WithZone("").Unmap()
	x := u128From(a)
	spans := e.family(a)
	i := sort.Search(len(spans), func(i int) bool { return spans[i].hi.cmp(x) >= 0 })
	return i < len(spans) && spans[i].lo.cmp(x) <= 0
}

// containsRange reports whether every address in [first, last] (one family)
// is excluded.
func (e *Exclusions) containsRange(first, last netip.Addr) bool {
	if e == nil {
		return false
	}
	lo, hi := u128From(first), u128From(last)
	spans := e.family(first)
	i := sort.Search(len(spans), func(i int) bool { return spans[i].hi.cmp(lo) >= 0 })
	return i < len(spans) && spans[i].lo.cmp(lo) <= 0 && spans[i].hi.cmp(hi) >= 0
}

func (e *Exclusions) family(a netip.Addr) []span {
	if a.Is4() {
		return e.v4
	}
	return e.v6
}

// ContainsHost reports whether name is excluded. An IP literal is checked as
// an address; a DNS name against the names and "*.domain" patterns.
func (e *Exclusions) ContainsHost(name string) bool {
	if e == nil {
		return false
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return e.ContainsAddr(a)
	}
	n := normHost(name)
	if _, ok := e.hosts[n]; ok {
		return true
	}
	if len(e.suffixes) == 0 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] == '.' {
			if _, ok := e.suffixes[n[i+1:]]; ok {
				return true
			}
		}
	}
	return false
}

// Excludes reports whether the service's host is excluded.
func (e *Exclusions) Excludes(s Service) bool { return e.ContainsHost(s.Host) }

func normHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

type exclBuilder struct {
	v4, v6   []span
	hosts    map[string]struct{}
	suffixes map[string]struct{}
}

func newExclBuilder() *exclBuilder {
	return &exclBuilder{hosts: map[string]struct{}{}, suffixes: map[string]struct{}{}}
}

func (b *exclBuilder) add(tok string) error {
	if rest, ok := strings.CutPrefix(tok, "*."); ok {
		if err := checkHostname(rest); err != nil {
			return fmt.Errorf("exclude %q: %w", tok, err)
		}
		b.suffixes[normHost(rest)] = struct{}{}
		return nil
	}
	sp, err := parseSpec(tok)
	if err != nil {
		return fmt.Errorf("exclude %q: %w", tok, err)
	}
	switch {
	case sp.Port != 0 || sp.Scheme != "":
		return fmt.Errorf("exclude %q: give an address, CIDR, range or host name (no ports or URLs)", tok)
	case sp.First.IsValid():
		s := span{u128From(sp.First), u128From(sp.Last)}
		if sp.First.Is4() {
			b.v4 = append(b.v4, s)
		} else {
			b.v6 = append(b.v6, s)
		}
	default:
		b.hosts[normHost(sp.Host)] = struct{}{}
	}
	return nil
}

func (b *exclBuilder) build() *Exclusions {
	return &Exclusions{v4: mergeSpans(b.v4), v6: mergeSpans(b.v6), hosts: b.hosts, suffixes: b.suffixes}
}

// mergeSpans sorts spans and merges overlapping and adjacent ones.
func mergeSpans(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	s := slices.Clone(in)
	slices.SortFunc(s, func(a, b span) int { return a.lo.cmp(b.lo) })
	out := s[:1]
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if last.hi == (u128{^uint64(0), ^uint64(0)}) || x.lo.cmp(last.hi.add(1)) <= 0 {
			if x.hi.cmp(last.hi) > 0 {
				last.hi = x.hi
			}
			continue
		}
		out = append(out, x)
	}
	return slices.Clip(out)
}
