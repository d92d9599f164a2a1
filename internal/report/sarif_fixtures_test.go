package report

import (
	"bytes"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// richFixtures extends fixtures() with what the sarif and markdown reports
// show beyond the table: risk categories, Origin and Host verdicts, an MCP
// Inspector, TLS and authorization server findings, a suppressed finding
// and hostile text aimed at Markdown. Like fixtures(), nothing here is
// connected to: the addresses are only text.
func richFixtures() []*result.Endpoint {
	yes, no := true, false
	var out []*result.Endpoint
	for _, e := range fixtures() {
		switch e.URL {
		case "http://10.20.0.7:8000/mcp":
			e.Tools[0].Risk = []string{"file-read"}
			e.Tools[1].Risk = []string{"file-write", "destructive"}
			e.Tools[2].Risk = []string{"file-read"}
			e.Tools[3].Risk = []string{"command-exec"}
			e.Resources = append(e.Resources, result.Resource{
				URI: "file:///home/dev/.ssh/id_ed25519", Name: "ssh key", Risk: []string{"secrets"},
			})
			e.Risk = &result.RiskSummary{Categories: []string{"command-exec", "destructive", "file-read", "file-write", "secrets"}}
			e.Origin = &result.OriginCheck{
				Validated: &no, TestedWith: "http://rebind.invalid", Status: 200, AllowOrigin: "*",
			}
			e.HostHeader = &result.HostCheck{Validated: &no, TestedWith: "rebind.invalid", Status: 200}
			e.Findings = append(e.Findings,
				rules.Default(rules.OriginNotValidated, "initialize with Origin: http://rebind.invalid answered 200."),
				rules.Default(rules.HostNotValidated, "initialize with Host: rebind.invalid answered 200."),
				rules.Default(rules.CORSWildcard, "Access-Control-Allow-Origin: * on the MCP endpoint."),
				rules.Default(rules.SensitiveResources, "resources/list includes file:///home/dev/.ssh/id_ed25519 (an SSH key)."),
			)
		case "http://192.168.1.50:3000/sse":
			e.Tools[0].Risk = []string{"network-fetch"}
			e.Risk = &result.RiskSummary{Categories: []string{"network-fetch"}}
			e.Origin = &result.OriginCheck{Validated: &yes, TestedWith: "http://rebind.invalid", Status: 403}
			e.HostHeader = &result.HostCheck{Validated: &yes, TestedWith: "rebind.invalid", Status: 421}
			// The operator accepted the legacy transport in a baseline.
			e.Findings[0].Suppressed = &finding.Suppression{Reason: "vendor appliance, replaced in Q3", Expires: "2026-09-30"}
		case "https://mcp.example.com/mcp":
			e.Auth.AuthorizationServers = []result.AuthServer{{
				Issuer:                "https://auth.example.com",
				MetadataURL:           "https://auth.example.com/.well-known/oauth-authorization-server",
				Reachable:             true,
				Fetched:               true,
				TokenEndpoint:         "https://auth.example.com/token",
				AuthorizationEndpoint: "https://auth.example.com/authorize",
				CodeChallengeMethods:  []string{"plain"},
			}}
			e.Findings = append(e.Findings,
				rules.Default(rules.PKCEMissing, "code_challenge_methods_supported of https://auth.example.com lists plain only."))
		case "http://127.0.0.1:9999/mcp":
			e.Tools[0].Risk = []string{"destructive", "x|y<script>alert(1)</script>"}
			e.Tools = append(e.Tools, result.Tool{
				Name: "evil|name`<img src=x onerror=alert(1)>[click](http://evil.example/) www.evil.example **bold**",
				Risk: []string{"command-exec"},
			})
			e.Risk = &result.RiskSummary{Categories: []string{"command-exec", "destructive"}}
			e.Origin = &result.OriginCheck{Validated: nil, AllowOrigin: "http://evil.example`|"}
			e.Findings = append(e.Findings, finding.Finding{
				Rule: "XYZ-9|<b>", Severity: finding.Low, Title: "[link](http://evil.example/)",
				Evidence: "see <a href=http://evil.example/>here</a> | `tick` [x](y)",
			})
		}
		out = append(out, e)
	}
	return append(out, tlsBroken(), inspectorProxy())
}

// tlsBroken is an HTTPS endpoint with every certificate problem.
func tlsBroken() *result.Endpoint {
	return &result.Endpoint{
		Schema: result.Schema,
		URL:    "https://[2001:db8::7]:8443/mcp",
		Host:   "2001:db8::7",
		IP:     "2001:db8::7",
		Port:   8443,
		Status: result.StatusMCP,
		HTTP:   &result.HTTPInfo{Status: 401},
		TLS: &result.TLSInfo{
			Version:          "TLS 1.2",
			Subject:          "CN=localhost",
			Issuer:           "CN=localhost",
			NotBefore:        time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:         time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			SelfSigned:       true,
			NameMismatch:     true,
			UnknownAuthority: true,
			WeakVersions:     []string{"TLS 1.0"},
			VerifyError:      "x509: certificate has expired or is not yet valid",
		},
		MCP:  &result.MCPInfo{Transport: result.TransportStreamable, Confidence: "likely"},
		Auth: &result.AuthInfo{Required: true, Scheme: result.AuthBasic, Status: 401, Challenge: `Basic realm="mcp"`},
		Findings: []finding.Finding{
			rules.Default(rules.TLSExpired, "certificate expired on 2025-01-01 (438 days before the scan)."),
			rules.Default(rules.TLSSelfSigned, "the leaf CN=localhost is its own issuer."),
			rules.Default(rules.TLSNameMismatch, "the certificate covers localhost, not 2001:db8::7."),
			rules.Default(rules.TLSWeakVersion, "a handshake limited to TLS 1.0 succeeded."),
			rules.Default(rules.NonOAuthAuth, `401 with "Basic realm=mcp".`),
		},
		ScannedAt: scannedAt.Add(8 * time.Second),
		ElapsedMS: 310,
	}
}

// inspectorProxy is an old MCP Inspector proxy that answers without its
// session token.
func inspectorProxy() *result.Endpoint {
	no := false
	return &result.Endpoint{
		Schema: result.Schema,
		URL:    "http://127.0.0.1:6277/",
		Host:   "127.0.0.1",
		IP:     "127.0.0.1",
		Port:   6277,
		Status: result.StatusNotMCP,
		HTTP:   &result.HTTPInfo{Status: 200, ContentType: "application/json"},
		Inspector: &result.InspectorInfo{
			Component: "proxy", Version: "0.13.0", TokenRequired: &no,
			Evidence: "GET /config answered 200 without X-MCP-Proxy-Auth; version 0.13.0 from /health.",
		},
		Findings: []finding.Finding{
			rules.Default(rules.InspectorVulnerable, "MCP Inspector proxy 0.13.0 (before 0.14.1)."),
			rules.Default(rules.InspectorProxyOpen, "GET /config answered 200 without the session token."),
		},
		ScannedAt: scannedAt.Add(9 * time.Second),
		ElapsedMS: 20,
	}
}

// richSummary is the summary a scan of richFixtures would print.
func richSummary() *result.Summary {
	s := &result.Summary{
		Schema:  result.SummarySchema,
		Targets: 9,
		ByStatus: map[result.Status]int{
			result.StatusMCP: 6, result.StatusNotMCP: 2, result.StatusTimeout: 1,
		},
		Excluded:  2,
		Requests:  83,
		ElapsedMS: 9120,
	}
	for _, e := range richFixtures() {
		s.Count(e)
	}
	return s
}

// renderRich writes richFixtures through a new writer and closes it.
func renderRich(f Format, opts Options, s *result.Summary) ([]byte, error) {
	var buf bytes.Buffer
	w, err := New(f, &buf, opts)
	if err != nil {
		return nil, err
	}
	for _, e := range richFixtures() {
		if err := w.Write(e); err != nil {
			return nil, err
		}
	}
	if err := w.Close(s); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
