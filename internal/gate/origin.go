package gate

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// netPolicy holds the Host, Origin and trusted-proxy settings.
type netPolicy struct {
	publicNames []hostName
	origins     []string // normalised scheme://host[:port]
	trusted     []netip.Prefix
}

// hostName is a public name: a host, with a port when one was given.
type hostName struct {
	host string // lower case, IPv6 without brackets
	port string // "" matches any port
}

func parseHostName(s string) (hostName, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || strings.ContainsAny(s, "/?#@ ") {
		return hostName{}, fmt.Errorf("public name %q: want a host or host:port", s)
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		return hostName{host: h, port: p}, nil
	}
	return hostName{host: strings.Trim(s, "[]")}, nil
}

// normalizeOrigin turns an Origin into scheme://host[:port] with the
// default port dropped, or returns false.
func normalizeOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host, true
}

// peerTrusted reports whether the TCP peer of r is a trusted proxy.
func (n *netPolicy) peerTrusted(r *http.Request) bool {
	ip, ok := remoteIP(r.RemoteAddr)
	return ok && slices.ContainsFunc(n.trusted, func(p netip.Prefix) bool { return p.Contains(ip) })
}

func remoteIP(addr string) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		a, err := netip.ParseAddr(addr)
		return a.Unmap(), err == nil
	}
	return ap.Addr().Unmap(), true
}

// clientAddr is the client's IP: the TCP peer, or, behind trusted proxies,
// the right-most X-Forwarded-For entry that is not a trusted proxy.
func (n *netPolicy) clientAddr(r *http.Request) string {
	peer, ok := remoteIP(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	if !n.peerTrusted(r) {
		return peer.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		ip = ip.Unmap()
		if !slices.ContainsFunc(n.trusted, func(p netip.Prefix) bool { return p.Contains(ip) }) {
			return ip.String()
		}
	}
	return peer.String()
}

// publicHost is the host the client addressed: X-Forwarded-Host from a
// trusted proxy, else Host.
func (n *netPolicy) publicHost(r *http.Request) string {
	if n.peerTrusted(r) {
		if v := r.Header.Get("X-Forwarded-Host"); v != "" {
			return strings.TrimSpace(strings.Split(v, ",")[0])
		}
	}
	return r.Host
}

// scheme is the scheme the client used: X-Forwarded-Proto from a trusted
// proxy, else that of the connection.
func (n *netPolicy) scheme(r *http.Request) string {
	if n.peerTrusted(r) {
		if v := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0])); v == "http" || v == "https" {
			return v
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// hostAllowed checks the addressed host against the public names.
func (n *netPolicy) hostAllowed(r *http.Request) bool {
	h := strings.ToLower(n.publicHost(r))
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = strings.Trim(h, "[]"), ""
	}
	if host == "" {
		return false
	}
	for _, pn := range n.publicNames {
		if pn.host == host && (pn.port == "" || pn.port == port) {
			return true
		}
	}
	return false
}

// originAllowed: an absent Origin is allowed (not a browser); a present
// one must be in the allowlist, or be the gate's own origin as the client
// addressed it (once Host passed its check).
func (n *netPolicy) originAllowed(r *http.Request) (origin string, ok bool) {
	raw, present := r.Header["Origin"]
	if !present {
		return "", true
	}
	if len(raw) != 1 {
		return "", false
	}
	o, valid := normalizeOrigin(raw[0])
	if !valid {
		return "", false
	}
	if slices.Contains(n.origins, o) {
		return raw[0], true
	}
	self, _ := normalizeOrigin(n.scheme(r) + "://" + n.publicHost(r))
	return raw[0], self != "" && o == self
}
