package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Prober probes services. It is safe for concurrent use.
type Prober struct {
	opts     Options
	requests atomic.Int64
}

// New returns a Prober with opts (copied; zero fields take defaults).
func New(opts Options) *Prober {
	o := opts.withDefaults()
	return &Prober{opts: o}
}

// Requests returns the number of HTTP requests sent so far.
func (p *Prober) Requests() int64 { return p.requests.Load() }

func (p *Prober) counted() {
	p.requests.Add(1)
	if p.opts.OnRequest != nil {
		p.opts.OnRequest()
	}
}

func (p *Prober) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.opts.Wait != nil {
		return p.opts.Wait(ctx)
	}
	return nil
}

// Probe examines one service and returns its endpoint records: one per MCP
// endpoint found (open or protected), or a single record with the verdict on
// the port (not-mcp, closed, timeout, error) when none was found. Findings
// are left empty for the caller's risk assessment. Every string of the
// records is valid UTF-8.
func (p *Prober) Probe(ctx context.Context, svc target.Service) []*result.Endpoint {
	eps := p.probe(ctx, svc)
	for _, ep := range eps {
		sanitize(ep)
	}
	return eps
}

func (p *Prober) probe(ctx context.Context, svc target.Service) []*result.Endpoint {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.opts.ServiceTimeout)
	defer cancel()

	host := strings.TrimSuffix(strings.TrimPrefix(svc.Host, "["), "]")
	portLine := func(status result.Status, msg, u string) []*result.Endpoint {
		return []*result.Endpoint{{
			Schema: result.Schema, URL: u, Host: host, Port: svc.Port,
			Status: status, Error: msg, Findings: nil,
			ScannedAt: start.UTC(), ElapsedMS: time.Since(start).Milliseconds(),
		}}
	}
	ip, err := p.resolve(ctx, host)
	if err != nil {
		return portLine(result.StatusError, err.Error(), hostURL(svc, host))
	}
	scheme := svc.Scheme
	s := &svcProbe{p: p, svc: svc, schemeFixed: scheme != ""}
	if scheme == "" {
		scheme = "http"
		if tlsFirstPorts[svc.Port] {
			scheme = "https"
		}
	}
	s.c = newClient(p, host, ip, svc.Port, scheme)
	defer s.c.close()

	paths := svc.Paths
	if paths == nil {
		paths = p.opts.Paths
	}
	var firstHTTP *reply
	var portErr error
	for _, path := range paths {
		if ctx.Err() != nil {
			break
		}
		out := s.probePath(ctx, path)
		if firstHTTP == nil && out.first != nil {
			firstHTTP = out.first
		}
		if out.ep != nil {
			if f := s.aliasOf[out.ep]; f != nil {
				addAlias(f, out.ep.URL)
				continue
			}
			out.ep.Schema, out.ep.Host, out.ep.IP, out.ep.Port = result.Schema, host, ip, svc.Port
			if !mergeAlias(s.found, out.ep) {
				s.found = append(s.found, out.ep)
			}
			continue
		}
		if out.err != nil {
			portErr = out.err
			if firstHTTP == nil || isTimeout(out.err) {
				// Nothing answers (closed, tarpit, TLS failure): further
				// paths would only wait on the same wall.
				break
			}
		}
	}
	// The checks that need the endpoint known: Origin and Host, the
	// authorization servers, then the deprecated TLS versions.
	for _, ep := range s.found {
		s.webChecks(ctx, ep)
		s.authServersOf(ctx, ep)
	}
	if len(s.found) > 0 && s.c.scheme == "https" && s.c.tlsInfo() != nil {
		s.c.setWeakVersions(s.weakTLS(ctx))
	}
	elapsed := time.Since(start).Milliseconds()
	tlsInfo := s.c.tlsInfo()
	if len(s.found) > 0 {
		for _, ep := range s.found {
			ep.ScannedAt = start.UTC()
			ep.ElapsedMS = elapsed
			ep.TLS = tlsInfo
		}
		return s.found
	}
	u := s.c.urlFor(firstPath(paths))
	if firstHTTP == nil {
		if portErr == nil {
			portErr = ctx.Err()
		}
		if portErr == nil {
			portErr = errors.New("no path probed")
		}
		status, msg := classify(portErr)
		if status == result.StatusClosed && ctx.Err() != nil {
			status, msg = result.StatusTimeout, "service deadline reached"
		}
		out := portLine(status, msg, u)
		out[0].IP = ip
		return out
	}
	out := portLine(result.StatusNotMCP, "", u)
	ep := out[0]
	ep.IP = ip
	ep.HTTP = httpInfo(firstHTTP)
	// An MCP Inspector UI or proxy is no MCP server, but a door of its own.
	if info := s.inspector(ctx, firstHTTP); info != nil {
		ep.Inspector = info
		ep.URL = s.c.urlFor("/")
		if s.c.scheme == "https" && tlsInfo != nil {
			s.c.setWeakVersions(s.weakTLS(ctx))
			tlsInfo = s.c.tlsInfo()
		}
	}
	ep.TLS = tlsInfo
	if portErr != nil {
		_, ep.Error = classify(portErr)
	}
	return out
}

// tlsFirstPorts are tried with TLS first when the scheme is unknown.
var tlsFirstPorts = map[int]bool{443: true, 8443: true, 9443: true, 6443: true}

func firstPath(paths []string) string {
	if len(paths) == 0 {
		return "/"
	}
	return paths[0]
}

func hostURL(svc target.Service, host string) string {
	scheme := svc.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(svc.Port)) + firstPath(svc.Paths)
}

func (p *Prober) resolve(ctx context.Context, host string) (string, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.String(), nil
	}
	rctx, cancel := context.WithTimeout(ctx, p.opts.ConnectTimeout)
	defer cancel()
	addrs, err := p.opts.Resolve(rctx, host)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("resolve %s: no addresses", host)
	}
	return addrs[0], nil
}

func isTimeout(err error) bool {
	st, _ := classify(err)
	return st == result.StatusTimeout
}

func httpInfo(r *reply) *result.HTTPInfo {
	if r == nil {
		return nil
	}
	return &result.HTTPInfo{Status: r.status, Server: capText(r.header.Get("Server"), 200), ContentType: capText(r.header.Get("Content-Type"), 200)}
}

// mergeAlias records ep as an alias of an already found endpoint that is the
// same server over the same transport, and reports whether it did.
func mergeAlias(found []*result.Endpoint, ep *result.Endpoint) bool {
	for _, f := range found {
		if identity(f) == identity(ep) {
			addAlias(f, ep.URL)
			return true
		}
	}
	return false
}

// addAlias adds the path of u to f's aliases, once, unless it is f's own.
func addAlias(f *result.Endpoint, u string) {
	if p := pathOf(u); p != pathOf(f.URL) && !slices.Contains(f.MCP.Aliases, p) {
		f.MCP.Aliases = append(f.MCP.Aliases, p)
	}
}

// knownAs reports whether ep, just through its handshake on another path,
// is an endpoint already found on this port: same transport, protocol,
// serverInfo, capabilities and instructions, and the same need for the
// operator's credentials. Such a path is an alias, and is not listed again:
// a server mounted on every path would otherwise be listed once per default
// path, and a slow one would run into the service deadline on a later path
// and come out as a second, partial record.
func (s *svcProbe) knownAs(ep *result.Endpoint, withCreds bool) bool {
	key := handshakeKey(ep)
	for _, f := range s.found {
		if (f.Auth != nil && f.Auth.Required) == withCreds && f.MCP != nil && handshakeKey(f) == key {
			if s.aliasOf == nil {
				s.aliasOf = map[*result.Endpoint]*result.Endpoint{}
			}
			s.aliasOf[ep] = f
			return true
		}
	}
	return false
}

func handshakeKey(ep *result.Endpoint) string {
	m := ep.MCP
	return fmt.Sprintf("%s|%s|%q|%q|%q|%q|%s|%q|%s", m.Transport, m.ProtocolVersion, m.SupportedVersions,
		m.Server.Name, m.Server.Title, m.Server.Version, m.Capabilities, m.Instructions, m.Confidence)
}

func identity(ep *result.Endpoint) string {
	var b strings.Builder
	m := ep.MCP
	fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%d", m.Transport, m.ProtocolVersion, m.Server.Name, m.Server.Version, m.Confidence, len(ep.Tools))
	if ep.Auth != nil {
		fmt.Fprintf(&b, "|%v|%s|%s", ep.Auth.Required, ep.Auth.Scheme, ep.Auth.Challenge)
	}
	for _, t := range ep.Tools {
		b.WriteString("|" + t.Name)
	}
	return b.String()
}

func pathOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	if u.RawQuery != "" {
		return u.EscapedPath() + "?" + u.RawQuery
	}
	return u.EscapedPath()
}
