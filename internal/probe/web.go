package probe

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// The values of the web-origin checks (the CVE-2025-49596 class: a web page
// in the user's browser, or a DNS-rebinding page, talking to an MCP server).
// The .invalid top-level domain is reserved (RFC 6761) and never resolves,
// so no server can have a legitimate reason to trust either value.
const (
	// ForeignOrigin is the Origin header of the origin check. The MCP
	// specification (2025-11-25) requires a server to answer a present
	// and invalid Origin with 403.
	ForeignOrigin = "http://rebind.invalid"
	// ForeignHost is the Host header of the DNS-rebinding check, sent to
	// the scanned address as a browser would after a rebinding.
	ForeignHost = "rebind.invalid"
)

// corsSeen is what the CORS response headers of one answer said.
type corsSeen struct {
	allowOrigin      string
	allowCredentials bool
}

func corsOf(h http.Header) corsSeen {
	return corsSeen{
		allowOrigin:      capText(strings.TrimSpace(h.Get("Access-Control-Allow-Origin")), 256),
		allowCredentials: strings.EqualFold(strings.TrimSpace(h.Get("Access-Control-Allow-Credentials")), "true"),
	}
}

// noteCORS remembers the CORS headers of the answer that identified ep (the
// handshake without a foreign Origin), for webChecks.
func (s *svcProbe) noteCORS(ep *result.Endpoint, h http.Header) {
	if ep == nil || h == nil {
		return
	}
	if s.cors == nil {
		s.cors = map[*result.Endpoint]corsSeen{}
	}
	s.cors[ep] = corsOf(h)
}

// checkAnswer is what one handshake with a foreign header got.
type checkAnswer struct {
	status int         // 0: no HTTP answer
	header http.Header // nil without an answer
	mcp    bool        // the handshake succeeded: an MCP answer came back
}

// webChecks repeats the handshake of a found endpoint once with a foreign
// Origin and, on loopback and private addresses, once with a foreign Host,
// and records the verdicts in ep.Origin and ep.HostHeader.
//
// Endpoints tested: those whose handshake succeeded (open, or open with the
// operator's credentials, which are sent again: the check is about the
// origin, not about authentication) and protected ones. A protected
// endpoint cannot complete a handshake without credentials, so its verdict
// is true only when the foreign header changed the refusal (its challenge
// was 401, the foreign request got 403, say) and null otherwise; the CORS
// headers of its answer are recorded all the same. An endpoint only
// "likely" MCP without a challenge (a legacy SSE endpoint whose handshake
// failed) is not tested.
//
// Each check is one request: initialize for streamable HTTP (followed by a
// DELETE of the session when the server issued one), server/discover for
// the 2026-07-28 stateless protocol, the GET of the event stream for
// legacy SSE (closed after its first event). Redirects are not followed: a
// redirect is itself the answer, and inconclusive.
func (s *svcProbe) webChecks(ctx context.Context, ep *result.Endpoint) {
	if ep.MCP == nil || ctx.Err() != nil {
		return
	}
	protected := ep.Auth != nil && ep.Auth.Required
	confirmed := ep.MCP.Confidence == "confirmed"
	if !confirmed && !protected {
		return
	}
	var creds http.Header
	baseline := 0 // the refusal a protected endpoint answered without a foreign header
	if confirmed {
		if protected && ep.Auth.WithCredentials {
			creds = s.p.opts.Headers
		}
	} else {
		baseline = ep.Auth.Status
	}

	ans := s.foreignHandshake(ctx, ep, s.headers(creds, "Origin", ForeignOrigin))
	oc := &result.OriginCheck{TestedWith: ForeignOrigin, Status: ans.status, Validated: verdict(ans, baseline)}
	seen := s.cors[ep]
	if ans.header != nil {
		seen = corsOf(ans.header)
		// A wildcard sent without an Origin holds for every origin;
		// any other value sent then was chosen for another origin.
		if seen.allowOrigin == "" && s.cors[ep].allowOrigin == "*" {
			seen = s.cors[ep]
		}
	} else if seen.allowOrigin != "*" {
		seen = corsSeen{}
	}
	oc.AllowOrigin, oc.AllowCredentials = seen.allowOrigin, seen.allowCredentials
	ep.Origin = oc

	if !localIP(ep.IP) || ctx.Err() != nil {
		return
	}
	ans = s.foreignHandshake(ctx, ep, s.headers(creds, "Host", ForeignHost))
	ep.HostHeader = &result.HostCheck{TestedWith: ForeignHost, Status: ans.status, Validated: verdict(ans, baseline)}
}

// verdict turns the answer to a foreign header into validated: false when
// the handshake succeeded, true when the request was refused (a 4xx other
// than 408 and 429, which say nothing about the header; for a protected
// endpoint, a refusal other than its usual challenge), null otherwise (no
// answer, a redirect, a server error).
func verdict(a checkAnswer, baseline int) *bool {
	no, yes := false, true
	switch {
	case a.mcp:
		return &no
	case a.status < 400 || a.status > 499 || a.status == http.StatusRequestTimeout || a.status == http.StatusTooManyRequests:
		return nil
	case baseline != 0 && (a.status == baseline || a.status == http.StatusUnauthorized):
		return nil
	}
	return &yes
}

// foreignHandshake sends the one handshake request of ep's transport with
// hdr.
func (s *svcProbe) foreignHandshake(ctx context.Context, ep *result.Endpoint, hdr http.Header) checkAnswer {
	switch ep.MCP.Transport {
	case result.TransportSSE:
		return s.foreignSSE(ctx, ep.URL, hdr)
	case result.TransportStateless:
		return s.foreignDiscover(ctx, ep.URL, hdr)
	}
	return s.foreignInitialize(ctx, ep.URL, hdr)
}

func (s *svcProbe) foreignInitialize(ctx context.Context, url string, hdr http.Header) checkAnswer {
	id := s.id()
	body := mcpwire.Request(json.RawMessage(id), "initialize", map[string]any{
		"protocolVersion": version20251125,
		"capabilities":    map[string]any{},
		"clientInfo":      clientInfo(),
	})
	r, err := s.c.sendVia(ctx, s.c.direct, http.MethodPost, url, body, hdr, id)
	if r == nil {
		return checkAnswer{}
	}
	a := checkAnswer{status: r.status, header: r.header}
	if err != nil {
		return a
	}
	if m := r.response(id); m != nil && m.Result != nil && r.status < 300 {
		var ir initResult
		a.mcp = json.Unmarshal(m.Result, &ir) == nil && versionRE.MatchString(ir.ProtocolVersion)
		if sid := r.header.Get("Mcp-Session-Id"); a.mcp && validSessionID(sid) {
			// End the session the check opened, with the scanner's
			// own headers: the server accepted the foreign one
			// anyway.
			del := http.Header{}
			for k, vs := range hdr {
				if k != "Origin" && k != "Host" {
					del[k] = vs
				}
			}
			del.Set("Mcp-Session-Id", sid)
			if ir.ProtocolVersion >= version20250618 {
				del.Set("MCP-Protocol-Version", ir.ProtocolVersion)
			}
			_, _ = s.c.sendVia(ctx, s.c.direct, http.MethodDelete, url, nil, del, "")
		}
	}
	return a
}

func (s *svcProbe) foreignDiscover(ctx context.Context, url string, hdr http.Header) checkAnswer {
	id := s.id()
	body := mcpwire.Request(json.RawMessage(id), "server/discover", map[string]any{
		"_meta": map[string]any{
			metaProtocolVersion:    version20260728,
			metaClientInfo:         clientInfo(),
			metaClientCapabilities: map[string]any{},
		},
	})
	hdr.Set("MCP-Protocol-Version", version20260728)
	hdr.Set("Mcp-Method", "server/discover")
	r, err := s.c.sendVia(ctx, s.c.direct, http.MethodPost, url, body, hdr, id)
	if r == nil {
		return checkAnswer{}
	}
	a := checkAnswer{status: r.status, header: r.header}
	if err != nil {
		return a
	}
	if m := r.response(id); m != nil && m.Result != nil && r.status < 300 {
		var ir initResult
		a.mcp = json.Unmarshal(m.Result, &ir) == nil && len(ir.SupportedVersions) > 0
	}
	return a
}

// foreignSSE opens the legacy event stream with hdr and reads until its
// first event, within one request timeout; an "endpoint" event is an MCP
// answer. The stream is closed at once.
func (s *svcProbe) foreignSSE(ctx context.Context, url string, hdr http.Header) checkAnswer {
	if err := s.p.wait(ctx); err != nil {
		return checkAnswer{}
	}
	ctx, cancel := context.WithTimeout(ctx, s.p.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return checkAnswer{}
	}
	hdr.Set("Accept", "text/event-stream")
	req.Header = hdr
	req.Header.Set("User-Agent", s.p.opts.UserAgent)
	setHost(req)
	s.p.counted()
	resp, err := s.c.direct.Do(req)
	if err != nil {
		return checkAnswer{}
	}
	defer resp.Body.Close()
	a := checkAnswer{status: resp.StatusCode, header: resp.Header}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || !strings.EqualFold(ct, "text/event-stream") || encoded(resp.Header) {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return a
	}
	ev, err := mcpwire.NewSSEReader(resp.Body, 64<<10, 256<<10).Next()
	a.mcp = err == nil && ev.Type == "endpoint"
	return a
}

// localPrefixes are the non-public ranges besides loopback where a DNS
// rebinding attack makes sense (the same ranges risk calls private).
var localPrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// localIP reports whether ip is a loopback or private address: one a web
// page can only reach through the user's browser, by DNS rebinding.
func localIP(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	if a.IsLoopback() {
		return true
	}
	for _, p := range localPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
