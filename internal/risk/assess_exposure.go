package risk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// isOpen reports whether a confirmed MCP endpoint answered without credentials.
func isOpen(ep *result.Endpoint) bool {
	return ep.Status == result.StatusMCP && ep.MCP != nil && ep.MCP.Confidence == "confirmed" &&
		(ep.Auth == nil || !ep.Auth.Required)
}

// webFindings judges the Origin, Host and CORS checks.
func webFindings(ep *result.Endpoint, class Class) []finding.Finding {
	var fs []finding.Finding
	open := isOpen(ep)
	if o := ep.Origin; o != nil {
		if o.Validated != nil && !*o.Validated {
			ev := fmt.Sprintf("a request with Origin: %s got HTTP %d and an MCP answer", o.TestedWith, o.Status)
			switch {
			case open && (class == Loopback || class == Private):
				fs = append(fs, rules.Default(rules.LocalWebReachable,
					ev+fmt.Sprintf("; the server is on a %s address, so any web page its users open can use it", class)))
			case open:
				fs = append(fs, rules.Default(rules.OriginNotValidated, ev))
			default:
				fs = append(fs, rules.New(rules.OriginNotValidated, finding.Low, ev+" (authentication is still required)"))
			}
		}
		switch {
		case o.AllowCredentials && o.AllowOrigin != "" && o.AllowOrigin != "*":
			fs = append(fs, rules.Default(rules.CORSCredentialed,
				fmt.Sprintf("Access-Control-Allow-Origin: %s with Access-Control-Allow-Credentials: true in answer to Origin %s", o.AllowOrigin, o.TestedWith)))
		case o.AllowOrigin == "*":
			fs = append(fs, rules.Default(rules.CORSWildcard, "Access-Control-Allow-Origin: * on "+ep.URL))
		}
	}
	if h := ep.HostHeader; h != nil && h.Validated != nil && !*h.Validated {
		sev := finding.Medium
		if !open {
			sev = finding.Low
		}
		fs = append(fs, rules.New(rules.HostNotValidated, sev,
			fmt.Sprintf("a request with Host: %s got HTTP %d and an MCP answer", h.TestedWith, h.Status)))
	}
	return fs
}

// tlsFindings judges the certificate and protocol versions, at the time of
// the scan (so that re-rendering a saved scan gives the same verdict).
func tlsFindings(ep *result.Endpoint) []finding.Finding {
	t := ep.TLS
	if t == nil || (ep.Status != result.StatusMCP && ep.Inspector == nil) {
		return nil
	}
	at := ep.ScannedAt
	if at.IsZero() {
		at = time.Now()
	}
	var fs []finding.Finding
	switch {
	case !t.NotAfter.IsZero() && at.After(t.NotAfter):
		fs = append(fs, rules.Default(rules.TLSExpired, fmt.Sprintf("the certificate of %s expired on %s", ep.URL, t.NotAfter.Format(time.DateOnly))))
	case !t.NotBefore.IsZero() && at.Before(t.NotBefore):
		fs = append(fs, rules.Default(rules.TLSNotYetValid, fmt.Sprintf("the certificate of %s is valid from %s", ep.URL, t.NotBefore.Format(time.DateOnly))))
	}
	if t.SelfSigned {
		fs = append(fs, rules.Default(rules.TLSSelfSigned, "subject and issuer are both "+t.Subject))
	} else if t.UnknownAuthority {
		fs = append(fs, rules.Default(rules.TLSCertificateInvalid, t.VerifyError))
	}
	if t.NameMismatch {
		names := strings.Join(t.DNSNames, ", ")
		if names == "" {
			names = "no DNS names"
		}
		fs = append(fs, rules.Default(rules.TLSNameMismatch, fmt.Sprintf("the certificate covers %s, not %s", names, ep.Host)))
	}
	if len(t.WeakVersions) > 0 {
		fs = append(fs, rules.Default(rules.TLSWeakVersion, "the server completed handshakes limited to "+strings.Join(t.WeakVersions, " and ")))
	}
	return fs
}

// inspectorFindings judges an MCP Inspector UI or proxy.
func inspectorFindings(ep *result.Endpoint, class Class) []finding.Finding {
	in := ep.Inspector
	if in == nil {
		return nil
	}
	var fs []finding.Finding
	switch {
	case in.Version != "" && versionLess(in.Version, "0.14.1"):
		fs = append(fs, rules.Default(rules.InspectorVulnerable,
			fmt.Sprintf("MCP Inspector %s (%s) at %s; versions below 0.14.1 are vulnerable", in.Version, in.Component, ep.URL)))
	case in.Component == "proxy" && in.TokenRequired != nil && !*in.TokenRequired && in.OriginChecked != nil && !*in.OriginChecked:
		fs = append(fs, rules.Default(rules.InspectorVulnerable,
			"the proxy at "+ep.URL+" checks neither a session token nor the Origin, as versions before 0.14.1 do"))
	}
	if in.Component == "proxy" && in.TokenRequired != nil && !*in.TokenRequired {
		fs = append(fs, rules.Default(rules.InspectorProxyOpen, "the proxy at "+ep.URL+" answered without a session token: "+in.Evidence))
	}
	if len(fs) == 0 {
		sev := finding.Low
		if class != Loopback {
			sev = finding.Medium
		}
		fs = append(fs, rules.New(rules.InspectorExposed, sev, fmt.Sprintf("MCP Inspector %s %s on a %s address", in.Component, in.Version, class)))
	}
	return fs
}

// oauthFindings judges what the scan saw of the authorization servers.
func oauthFindings(ep *result.Endpoint) []finding.Finding {
	if ep.Auth == nil {
		return nil
	}
	var fs []finding.Finding
	for _, as := range ep.Auth.AuthorizationServers {
		if !as.Fetched {
			continue
		}
		if !as.Reachable {
			fs = append(fs, rules.Default(rules.AuthServerUnreachable, fmt.Sprintf("%s: %s", as.Issuer, as.Error)))
			continue
		}
		s256 := false
		for _, m := range as.CodeChallengeMethods {
			s256 = s256 || m == "S256"
		}
		if !s256 {
			fs = append(fs, rules.Default(rules.PKCEMissing,
				fmt.Sprintf("%s lists code_challenge_methods_supported %v", as.Issuer, as.CodeChallengeMethods)))
		}
		if strings.HasPrefix(strings.ToLower(as.TokenEndpoint), "http://") && !loopbackURL(as.TokenEndpoint) {
			fs = append(fs, rules.Default(rules.TokenEndpointPlain, fmt.Sprintf("%s has token_endpoint %s", as.Issuer, as.TokenEndpoint)))
		}
	}
	return fs
}

func loopbackURL(u string) bool {
	host := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(u), "http://"), "https://")
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if strings.HasPrefix(host, "[") {
		host = strings.TrimPrefix(host[:strings.Index(host+"]", "]")], "[")
	} else if i := strings.LastIndex(host, ":"); i >= 0 {
		host = host[:i]
	}
	return host == "localhost" || ClassOf(host) == Loopback
}

// versionLess compares dotted numeric versions ("0.14.0" < "0.14.1");
// a leading "v" and any pre-release suffix are ignored.
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func versionParts(v string) []int {
	v = strings.TrimPrefix(strings.TrimSpace(v), "v")
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	var out []int
	for _, p := range strings.Split(v, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}
