package probe

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// authOutcome examines a reply that may be an authentication challenge. It
// returns handled=false when r is no challenge. A challenge on something
// that shows no sign of MCP gives handled=true and a nil endpoint: the path
// is protected, but not (visibly) an MCP endpoint.
func (s *svcProbe) authOutcome(ctx context.Context, r *reply, endpointURL string) (*result.Endpoint, bool) {
	wa := r.header.Values("WWW-Authenticate")
	if r.status != http.StatusUnauthorized && !(r.status == http.StatusForbidden && len(wa) > 0) {
		return nil, false
	}
	if inspectorUnauthorized(r) {
		// The MCP Inspector's proxy demanding its session token: not an
		// MCP endpoint; the Inspector check judges it.
		return nil, true
	}
	info := &result.AuthInfo{Required: true, Status: r.status, Scheme: result.AuthOther}
	info.Challenge = capText(strings.Join(wa, ", "), 1024)
	params := map[string]string{}
	if chs, err := oauthex.ParseWWWAuthenticate(wa); err == nil {
		for _, ch := range chs {
			switch strings.ToLower(ch.Scheme) {
			case "bearer":
				info.Scheme = result.AuthBearer
				params = ch.Params
			case "basic":
				if info.Scheme == result.AuthOther {
					info.Scheme = result.AuthBasic
				}
			}
		}
	}
	if info.Scheme == result.AuthBearer {
		s.resourceMetadata(ctx, info, params, endpointURL)
	}
	evidence := info.Scheme == result.AuthOAuth || r.anyJSONRPC() || mcpLikePath(endpointURL)
	if !evidence {
		return nil, true
	}
	ep := &result.Endpoint{
		URL:    endpointURL,
		Status: result.StatusMCP,
		HTTP:   httpInfo(r),
		MCP:    &result.MCPInfo{Transport: guessTransport(endpointURL), Confidence: "likely"},
		Auth:   info,
	}
	s.noteCORS(ep, r.header)
	return ep, true
}

// guessTransport names the likely transport of a protected endpoint from
// its path: what a client would try first there.
func guessTransport(u string) string {
	p := strings.ToLower(pathOf(u))
	if strings.HasSuffix(p, "/sse") || strings.HasSuffix(p, "/sse/") {
		return result.TransportSSE
	}
	return result.TransportStreamable
}

func mcpLikePath(u string) bool {
	p := strings.ToLower(pathOf(u))
	for _, k := range []string{"mcp", "sse", "message"} {
		if strings.Contains(p, k) {
			return true
		}
	}
	return false
}

// resourceMetadata finds and checks RFC 9728 protected resource metadata:
// the challenge's resource_metadata URL first (fetched only on the target's
// own host, so a hostile server cannot point the scanner elsewhere), then
// the path-specific and root well-known locations.
func (s *svcProbe) resourceMetadata(ctx context.Context, info *result.AuthInfo, params map[string]string, endpointURL string) {
	ep, err := url.Parse(endpointURL)
	if err != nil {
		return
	}
	oauthSignals := params["error"] != "" || params["scope"] != "" || params["resource_metadata"] != ""
	var candidates []string
	if rm := params["resource_metadata"]; rm != "" {
		info.ResourceMetadataURL = capText(rm, 2048)
		u, err := url.Parse(rm)
		switch {
		case err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http"):
			info.MetadataError = "resource_metadata is not an absolute http(s) URL"
		case !strings.EqualFold(u.Hostname(), ep.Hostname()):
			info.MetadataError = "resource_metadata is on another host (" + u.Hostname() + "); not fetched"
		case !strings.EqualFold(u.Scheme, ep.Scheme) || effectivePort(u) != effectivePort(ep):
			// The client only ever connects to the scanned address:
			// another port or scheme of the same host is not reachable
			// through it, so it is reported rather than fetched.
			info.MetadataError = "resource_metadata is on another origin (" + u.Scheme + "://" + u.Host + "); not fetched"
		default:
			candidates = append(candidates, u.String())
		}
	} else {
		info.MetadataError = "the challenge has no resource_metadata parameter"
	}
	origin := ep.Scheme + "://" + ep.Host
	if p := strings.TrimSuffix(ep.EscapedPath(), "/"); p != "" {
		candidates = append(candidates, origin+"/.well-known/oauth-protected-resource"+p)
	}
	candidates = append(candidates, origin+"/.well-known/oauth-protected-resource")
	for _, c := range candidates {
		r, err := s.c.send(ctx, http.MethodGet, c, nil, http.Header{"Accept": {"application/json"}}, "")
		if err != nil || r.status != http.StatusOK {
			continue
		}
		md, problem := parseResourceMetadata(r.body, endpointURL)
		if md == nil {
			if info.MetadataError == "" || info.ResourceMetadataURL == c {
				info.MetadataError = c + ": " + problem
			}
			continue
		}
		if info.ResourceMetadataURL == "" {
			info.ResourceMetadataURL = c
		}
		info.ResourceMetadata = md
		info.Scheme = result.AuthOAuth
		if params["resource_metadata"] != "" || problem != "" {
			info.MetadataError = problem
		}
		return
	}
	if oauthSignals {
		info.Scheme = result.AuthOAuth
		if info.MetadataError == "" {
			info.MetadataError = "no protected resource metadata found"
		}
	}
}

// parseResourceMetadata decodes RFC 9728 metadata. It returns nil and the
// reason when the document is unusable, or the metadata and a problem that
// does not make it unusable (a resource that does not match the endpoint).
func parseResourceMetadata(body []byte, endpointURL string) (*result.ResourceMetadata, string) {
	if _, err := mcpwire.Decode(body); err == nil {
		return nil, "a JSON-RPC message, not metadata"
	}
	var raw struct {
		Resource               any   `json:"resource"`
		AuthorizationServers   []any `json:"authorization_servers"`
		ScopesSupported        []any `json:"scopes_supported"`
		BearerMethodsSupported []any `json:"bearer_methods_supported"`
		ResourceName           any   `json:"resource_name"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, "not a JSON object"
	}
	md := &result.ResourceMetadata{Resource: str(raw.Resource, 2048), ResourceName: str(raw.ResourceName, 256)}
	for i, a := range raw.AuthorizationServers {
		if i < 16 {
			md.AuthorizationServers = append(md.AuthorizationServers, str(a, 2048))
		}
	}
	for i, a := range raw.ScopesSupported {
		if i < 64 {
			md.ScopesSupported = append(md.ScopesSupported, str(a, 256))
		}
	}
	for i, a := range raw.BearerMethodsSupported {
		if i < 8 {
			md.BearerMethodsSupported = append(md.BearerMethodsSupported, str(a, 64))
		}
	}
	if md.Resource == "" {
		return nil, "metadata has no resource"
	}
	ru, err := url.Parse(md.Resource)
	if err != nil || !ru.IsAbs() || ru.Fragment != "" {
		return md, "resource is not an absolute URL without fragment"
	}
	if len(md.AuthorizationServers) == 0 {
		return md, "metadata lists no authorization_servers"
	}
	if !resourceMatches(md.Resource, endpointURL) {
		return md, "resource " + md.Resource + " does not match the endpoint " + endpointURL
	}
	return md, ""
}

// resourceMatches reports whether the metadata's resource identifies the
// endpoint: the same URL (ignoring a trailing slash and case of scheme and
// host), or a prefix of it at a path segment boundary.
func resourceMatches(resource, endpoint string) bool {
	r, err1 := url.Parse(resource)
	e, err2 := url.Parse(endpoint)
	if err1 != nil || err2 != nil {
		return false
	}
	if !strings.EqualFold(r.Scheme, e.Scheme) || !strings.EqualFold(r.Host, e.Host) {
		return false
	}
	rp := strings.TrimSuffix(r.EscapedPath(), "/")
	ep := strings.TrimSuffix(e.EscapedPath(), "/")
	return rp == ep || strings.HasPrefix(ep, rp+"/") || rp == ""
}

// effectivePort is the URL's port, or the default port of its scheme.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
