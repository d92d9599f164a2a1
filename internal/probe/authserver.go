package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// maxAuthServers caps the authorization servers examined per endpoint;
// further entries of authorization_servers are not recorded.
const maxAuthServers = 4

// authServersOf records what can be seen of each authorization server the
// protected resource metadata of ep lists (at most maxAuthServers, each
// issuer once): where its RFC 8414 or OpenID Connect discovery document is,
// and what it says about the endpoints and PKCE.
//
// Only issuers on the target's own host (the same name or IP literal, any
// port) are contacted, unless Options.FollowAuthServers is set: a hostile
// server must not be able to point the scanner at third parties. Others are
// recorded with Fetched=false. Every fetch goes through the prober's
// dialler (exclusions apply), is counted, rate-limited and capped like any
// other request, and follows same-origin redirects only.
func (s *svcProbe) authServersOf(ctx context.Context, ep *result.Endpoint) {
	if ep.Auth == nil || ep.Auth.ResourceMetadata == nil {
		return
	}
	var out []result.AuthServer
	seen := map[string]bool{}
	for _, issuer := range ep.Auth.ResourceMetadata.AuthorizationServers {
		if len(out) == maxAuthServers || ctx.Err() != nil {
			break
		}
		if seen[issuer] {
			continue
		}
		seen[issuer] = true
		as, ok := s.authServers[issuer]
		if !ok {
			as = s.authServer(ctx, issuer)
			if s.authServers == nil {
				s.authServers = map[string]result.AuthServer{}
			}
			s.authServers[issuer] = as
		}
		as.CodeChallengeMethods = append([]string(nil), as.CodeChallengeMethods...)
		out = append(out, as)
	}
	ep.Auth.AuthorizationServers = out
}

// authServer examines one issuer.
func (s *svcProbe) authServer(ctx context.Context, issuer string) result.AuthServer {
	as := result.AuthServer{Issuer: capText(issuer, 2048)}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		as.Error = "the issuer is not an absolute http(s) URL without query or fragment; not fetched"
		return as
	}
	port, err := strconv.Atoi(effectivePort(u))
	if err != nil || port < 1 || port > 65535 {
		as.Error = "the issuer has an invalid port; not fetched"
		return as
	}
	same := sameHost(u.Hostname(), s.c.host)
	if !same && !s.p.opts.FollowAuthServers {
		as.Error = "on another host than the target; not fetched (see FollowAuthServers, --follow-auth-servers)"
		return as
	}
	c := s.c
	if !same || port != s.c.port || u.Scheme != s.c.scheme {
		ip := s.c.ip
		if !same {
			ip, err = s.p.resolve(ctx, u.Hostname())
			if err != nil {
				as.Fetched = true
				as.Error = shortErr(err)
				return as
			}
		}
		c = newClient(s.p, u.Hostname(), ip, port, u.Scheme)
		defer c.close()
	}
	var problems []string
	for _, mu := range authServerMetadataURLs(u) {
		r, err := c.send(ctx, http.MethodGet, mu, nil, http.Header{"Accept": {"application/json"}}, "")
		if err != nil {
			if errors.Is(err, errExcluded) {
				as.Error = "the address is excluded; not fetched"
				return as
			}
			as.Fetched = true
			_, msg := classify(err)
			problems = append(problems, mu+": "+msg)
			if isDialError(err) || isTimeout(err) {
				break // the other documents are behind the same wall
			}
			continue
		}
		as.Fetched = true
		if r.status != http.StatusOK {
			problems = append(problems, fmt.Sprintf("%s: HTTP %d", mu, r.status))
			continue
		}
		if problem := fillAuthServer(&as, r.body); problem != "" {
			problems = append(problems, mu+": "+problem)
			continue
		}
		as.MetadataURL = capText(mu, 2048)
		as.Reachable = true
		return as
	}
	as.Error = capText("no authorization server metadata: "+strings.Join(problems, "; "), 1024)
	return as
}

// authServerMetadataURLs are the discovery documents of an issuer, in the
// order MCP clients try them (authorization specification 2025-11-25):
// RFC 8414 with the well-known segment inserted before the issuer's path,
// OpenID Connect discovery inserted the same way, then OpenID Connect
// discovery appended to the path. An issuer without a path has the first
// two only, which coincide with their appended forms.
func authServerMetadataURLs(issuer *url.URL) []string {
	origin := issuer.Scheme + "://" + issuer.Host
	p := strings.TrimSuffix(issuer.EscapedPath(), "/")
	if p == "" {
		return []string{origin + "/.well-known/oauth-authorization-server", origin + "/.well-known/openid-configuration"}
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + p,
		origin + "/.well-known/openid-configuration" + p,
		origin + p + "/.well-known/openid-configuration",
	}
}

// fillAuthServer decodes an RFC 8414 / OpenID Connect discovery document
// into as. It returns why the document is unusable, or "" (a document whose
// issuer differs from the one it was fetched for is usable, and the
// mismatch is said in as.Error: RFC 8414 section 3.3 requires them to be
// identical).
func fillAuthServer(as *result.AuthServer, body []byte) string {
	var doc struct {
		Issuer                        any   `json:"issuer"`
		AuthorizationEndpoint         any   `json:"authorization_endpoint"`
		TokenEndpoint                 any   `json:"token_endpoint"`
		RegistrationEndpoint          any   `json:"registration_endpoint"`
		CodeChallengeMethodsSupported []any `json:"code_challenge_methods_supported"`
	}
	trimmed := strings.TrimSpace(string(body))
	if !strings.HasPrefix(trimmed, "{") || json.Unmarshal(body, &doc) != nil {
		return "not a JSON object"
	}
	as.AuthorizationEndpoint = str(doc.AuthorizationEndpoint, 2048)
	as.TokenEndpoint = str(doc.TokenEndpoint, 2048)
	as.RegistrationEndpoint = str(doc.RegistrationEndpoint, 2048)
	for _, m := range doc.CodeChallengeMethodsSupported {
		if len(as.CodeChallengeMethods) == 16 {
			break
		}
		if v := str(m, 64); v != "" {
			as.CodeChallengeMethods = append(as.CodeChallengeMethods, v)
		}
	}
	if got := str(doc.Issuer, 2048); got != as.Issuer {
		as.Error = fmt.Sprintf("the metadata's issuer %q is not the issuer %q it was fetched for (RFC 8414 section 3.3)", got, as.Issuer)
	}
	return ""
}

// sameHost reports whether two host names or IP literals name the same
// host: equal ignoring case, or equal addresses.
func sameHost(a, b string) bool {
	if strings.EqualFold(a, b) {
		return true
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && x.Unmap() == y.Unmap()
}
