package target

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxAddrs is the largest number of addresses one spec (a CIDR or a range)
// may cover: 2^48, far beyond any scan that can finish, yet small enough that
// addresses × ports always fits in a uint64. An IPv6 /64 is rejected.
const MaxAddrs = 1 << 48

// Spec is one parsed target spec. A Spec with Port 0 stands for one service
// per port of the stream's port list.
type Spec struct {
	// Input is the spec as given, without surrounding blanks.
	Input string
	// Host is set when the spec names exactly one host: an IP literal
	// (normalised, no brackets, zone kept) or a DNS name (as given, not
	// resolved). It is "" for CIDRs and ranges.
	Host string
	// First and Last bound the addresses of an IP spec, both inclusive and
	// equal for a single address (without zone). Both are the zero Addr for a
	// DNS name.
	First, Last netip.Addr
	// Port is the port the spec fixes (host:port, a URL), or 0 to use the
	// port list.
	Port int
	// Scheme is "http" or "https" for a URL, "" otherwise.
	Scheme string
	// Paths is the one path of a URL that has a path (query included, "/"
	// counts as a path), nil otherwise.
	Paths []string
}

// Addrs returns the number of addresses the spec covers: 1 for a host name,
// at most MaxAddrs.
func (s Spec) Addrs() uint64 {
	if !s.First.IsValid() {
		return 1
	}
	return u128From(s.Last).sub(u128From(s.First)).lo + 1
}

// ParseSpec parses one target spec:
//
//	http://host[:port][/path]   URL (scheme fixes Scheme; default port 80/443)
//	127.0.0.1  ::1  [::1]        one address, every port of the port list
//	mcp.example.com              DNS name (not resolved here)
//	host:port  [v6]:port         one service
//	10.0.0.0/24  fd00::/120      CIDR (host bits are cleared)
//	10.0.0.1-10.0.0.50           inclusive range; also 10.0.0.1-50 and
//	fd00::1-fd00::ff             full IPv6 ranges
//
// The error names the spec: `target "10.0.0.0/33": invalid CIDR prefix length`.
func ParseSpec(s string) (Spec, error) {
	in := strings.TrimSpace(s)
	sp, err := parseSpec(in)
	if err == nil && sp.First.IsValid() {
		if n := u128From(sp.Last).sub(u128From(sp.First)); n.hi != 0 || n.lo >= MaxAddrs {
			err = fmt.Errorf("too many addresses (%s, at most 2^48)", describeCount(n))
		}
	}
	if err != nil {
		return Spec{}, fmt.Errorf("target %q: %w", in, err)
	}
	sp.Input = in
	return sp, nil
}

// describeCount describes n+1 addresses: "2^k" when that is exact,
// "more than 2^48" otherwise.
func describeCount(n u128) string {
	switch {
	case n.hi == 0 && n.lo&(n.lo+1) == 0:
		return fmt.Sprintf("2^%d", bits.Len64(n.lo))
	case n.lo == ^uint64(0) && n.hi&(n.hi+1) == 0:
		return fmt.Sprintf("2^%d", 64+bits.Len64(n.hi))
	}
	return "more than 2^48"
}

func parseSpec(in string) (Spec, error) {
	switch {
	case in == "":
		return Spec{}, errors.New("empty target")
	case strings.Contains(in, "://"):
		return parseURL(in)
	case strings.HasPrefix(in, "["):
		return parseBracketed(in)
	case strings.Contains(in, "/"):
		return parseCIDR(in)
	}
	if a, err := netip.ParseAddr(in); err == nil {
		return addrSpec(a), nil
	}
	if lo, hi, ok := strings.Cut(in, "-"); ok {
		if a, err := netip.ParseAddr(lo); err == nil {
			return parseRange(a, hi)
		}
	}
	switch strings.Count(in, ":") {
	case 0:
		if err := checkHostname(in); err != nil {
			return Spec{}, err
		}
		return Spec{Host: in}, nil
	case 1:
		host, portStr, _ := strings.Cut(in, ":")
		port, err := parsePort(portStr)
		if err != nil {
			return Spec{}, err
		}
		sp, err := hostSpec(host)
		if err != nil {
			return Spec{}, err
		}
		sp.Port = port
		return sp, nil
	default:
		_, err := netip.ParseAddr(in)
		return Spec{}, fmt.Errorf("invalid IPv6 address: %w", unwrapAddrErr(err))
	}
}

// hostSpec parses a bare IP literal or DNS name, no port.
func hostSpec(host string) (Spec, error) {
	if host == "" {
		return Spec{}, errors.New("missing host")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return addrSpec(a), nil
	}
	if err := checkHostname(host); err != nil {
		return Spec{}, err
	}
	return Spec{Host: host}, nil
}

func addrSpec(a netip.Addr) Spec {
	bare := a.WithZone("")
	return Spec{Host: a.String(), First: bare, Last: bare}
}

func parseURL(in string) (Spec, error) {
	u, err := url.Parse(in)
	if err != nil {
		return Spec{}, fmt.Errorf("invalid URL: %w", unwrapURLErr(err))
	}
	scheme := strings.ToLower(u.Scheme)
	var port int
	switch scheme {
	case "http":
		port = 80
	case "https":
		port = 443
	default:
		return Spec{}, fmt.Errorf("unsupported URL scheme %q (want http or https)", u.Scheme)
	}
	if u.User != nil {
		return Spec{}, errors.New("credentials in URL are not supported")
	}
	if p := u.Port(); p != "" {
		if port, err = parsePort(p); err != nil {
			return Spec{}, err
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return Spec{}, errors.New("missing port number after ':'")
	}
	sp, err := hostSpec(u.Hostname())
	if err != nil {
		return Spec{}, err
	}
	sp.Port, sp.Scheme = port, scheme
	path := u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		if path == "" {
			path = "/"
		}
		path += "?" + u.RawQuery
	}
	if path != "" {
		sp.Paths = []string{path}
	}
	return sp, nil
}

func parseBracketed(in string) (Spec, error) {
	end := strings.IndexByte(in, ']')
	if end < 0 {
		return Spec{}, errors.New("missing ']'")
	}
	a, err := netip.ParseAddr(in[1:end])
	if err != nil {
		return Spec{}, fmt.Errorf("invalid IPv6 address: %w", unwrapAddrErr(err))
	}
	if !a.Is6() {
		return Spec{}, errors.New("brackets are for IPv6 addresses only")
	}
	sp := addrSpec(a)
	switch rest := in[end+1:]; {
	case rest == "":
	case rest[0] == ':':
		if sp.Port, err = parsePort(rest[1:]); err != nil {
			return Spec{}, err
		}
	default:
		return Spec{}, fmt.Errorf("unexpected %q after ']'", rest)
	}
	return sp, nil
}

func parseCIDR(in string) (Spec, error) {
	addrStr, bitsStr, _ := strings.Cut(in, "/")
	a, err := netip.ParseAddr(addrStr)
	if err != nil {
		if _, err := parseSpec(addrStr); err == nil {
			return Spec{}, errors.New("a path needs a URL (http://host/path)")
		}
		return Spec{}, fmt.Errorf("invalid CIDR address: %w", unwrapAddrErr(err))
	}
	if a.Zone() != "" {
		return Spec{}, errors.New("zone not allowed in a CIDR")
	}
	ones, err := strconv.Atoi(bitsStr)
	if err != nil || bitsStr == "" || bitsStr[0] == '+' || bitsStr[0] == '-' || ones > a.BitLen() {
		return Spec{}, errors.New("invalid CIDR prefix length")
	}
	p, err := a.Prefix(ones)
	if err != nil {
		return Spec{}, fmt.Errorf("invalid CIDR: %w", err)
	}
	first := p.Addr()
	return Spec{First: first, Last: lastOf(first, a.BitLen()-ones)}, nil
}

// parseRange parses what follows "first-": a full address of the same
// family or, for IPv4, the last octet alone.
func parseRange(first netip.Addr, hi string) (Spec, error) {
	if first.Zone() != "" {
		return Spec{}, errors.New("zone not allowed in a range")
	}
	var last netip.Addr
	if first.Is4() && hi != "" && len(hi) <= 3 && strings.Trim(hi, "0123456789") == "" {
		n, _ := strconv.Atoi(hi)
		if n > 255 {
			return Spec{}, fmt.Errorf("invalid range end %q (last octet above 255)", hi)
		}
		b := first.As4()
		b[3] = byte(n)
		last = netip.AddrFrom4(b)
	} else {
		a, err := netip.ParseAddr(hi)
		if err != nil {
			return Spec{}, fmt.Errorf("invalid range end %q", hi)
		}
		if a.Zone() != "" {
			return Spec{}, errors.New("zone not allowed in a range")
		}
		if a.Is4() != first.Is4() {
			return Spec{}, errors.New("range mixes IPv4 and IPv6")
		}
		last = a
	}
	if last.Less(first) {
		return Spec{}, fmt.Errorf("range end %s is before its start %s", last, first)
	}
	return Spec{First: first, Last: last}, nil
}

// checkHostname validates a DNS host name: RFC 1123 labels of letters,
// digits and hyphens, 1-63 bytes each, no hyphen at either end, at most 253
// bytes, one optional trailing dot. The last label must hold a letter, so that
// malformed IP addresses ("10.0.0.256") are not taken for names.
func checkHostname(h string) error {
	name := strings.TrimSuffix(h, ".")
	if name == "" {
		return errors.New("empty host name")
	}
	if strings.Trim(name, "0123456789.-") == "" {
		if strings.Contains(name, "-") {
			return errors.New("invalid IP address range")
		}
		return errors.New("invalid IP address")
	}
	if len(name) > 253 {
		return fmt.Errorf("host name longer than 253 bytes (%d)", len(name))
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" {
			return errors.New("invalid host name: empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("invalid host name: label longer than 63 bytes (%d)", len(l))
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("invalid host name: label %q starts or ends with '-'", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			case c >= 0x80:
				return errors.New("invalid host name: non-ASCII characters (use the xn-- form)")
			default:
				return fmt.Errorf("invalid host name: character %q not allowed", rune(c))
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789-") == "" {
		return errors.New("invalid host name: last label has no letter")
	}
	return nil
}

// unwrapAddrErr drops the input netip repeats, since our prefix names it.
func unwrapAddrErr(err error) error {
	if err == nil {
		return errors.New("malformed address")
	}
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "): "); ok {
		return errors.New(after)
	}
	return err
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
