package risk

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

var scanTime = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func openEP(ip string, tools ...result.Tool) *result.Endpoint {
	return &result.Endpoint{
		URL: "http://" + ip + ":3000/mcp", Host: ip, IP: ip, Port: 3000, Status: result.StatusMCP,
		MCP:   &result.MCPInfo{Transport: result.TransportStreamable, Confidence: "confirmed"},
		Auth:  &result.AuthInfo{Scheme: result.AuthNone},
		Tools: tools, ScannedAt: scanTime,
	}
}

var (
	shellTool = result.Tool{Name: "run_shell_command", Description: "Execute a shell command on the host and return its output",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"command":{"type":"string"}}}`)}
	readTool = result.Tool{Name: "read_file", Description: "Read the complete contents of a file from the file system",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"path":{"type":"string"}}}`)}
	timeTool = result.Tool{Name: "get_current_time", Description: "Get the current time in a timezone",
		InputSchema: json.RawMessage(`{"type":"object","properties":{"timezone":{"type":"string"}}}`)}
)

func ptr[T any](v T) *T { return &v }

type ruleSev struct {
	rule string
	sev  finding.Severity
}

func got(ep *result.Endpoint) []ruleSev {
	var out []ruleSev
	for _, f := range ep.Findings {
		out = append(out, ruleSev{f.Rule, f.Severity})
	}
	return out
}

func TestAssess(t *testing.T) {
	tests := []struct {
		name string
		ep   func() *result.Endpoint
		want []ruleSev
	}{
		{"public shell server is critical", func() *result.Endpoint { return openEP("203.0.113.7", shellTool) },
			[]ruleSev{{rules.Unauthenticated, finding.Critical}, {rules.PlaintextHTTP, finding.Medium}}},
		{"private file reader is high", func() *result.Endpoint { return openEP("10.1.2.3", readTool) },
			[]ruleSev{{rules.Unauthenticated, finding.High}, {rules.PlaintextHTTP, finding.Medium}}},
		{"private shell server is critical", func() *result.Endpoint { return openEP("10.1.2.3", shellTool) },
			[]ruleSev{{rules.Unauthenticated, finding.Critical}, {rules.PlaintextHTTP, finding.Medium}}},
		{"loopback shell server is high", func() *result.Endpoint { return openEP("127.0.0.1", shellTool) },
			[]ruleSev{{rules.Unauthenticated, finding.High}}},
		{"loopback harmless tools are low", func() *result.Endpoint { return openEP("127.0.0.1", timeTool) },
			[]ruleSev{{rules.Unauthenticated, finding.Low}}},
		{"public harmless tools are high", func() *result.Endpoint { return openEP("203.0.113.7", timeTool) },
			[]ruleSev{{rules.Unauthenticated, finding.High}, {rules.PlaintextHTTP, finding.Medium}}},
		{"likely (unconfirmed) open is not reported as open", func() *result.Endpoint {
			ep := openEP("127.0.0.1", shellTool)
			ep.MCP.Confidence = "likely"
			return ep
		}, nil},
		{"oauth with good metadata is clean on loopback", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.Auth = &result.AuthInfo{Required: true, Scheme: result.AuthOAuth, Status: 401,
				ResourceMetadata: &result.ResourceMetadata{Resource: ep.URL, AuthorizationServers: []string{"https://as.example"}}}
			return ep
		}, nil},
		{"oauth with broken metadata", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.Auth = &result.AuthInfo{Required: true, Scheme: result.AuthOAuth, Status: 401, MetadataError: "no resource"}
			return ep
		}, []ruleSev{{rules.ResourceMetadataBad, finding.Medium}}},
		{"basic auth over plaintext on a private address", func() *result.Endpoint {
			ep := openEP("192.168.1.9")
			ep.Auth = &result.AuthInfo{Required: true, Scheme: result.AuthBasic, Status: 401}
			return ep
		}, []ruleSev{{rules.PlaintextHTTP, finding.High}, {rules.NonOAuthAuth, finding.Info}}},
		{"loopback server open to web pages", func() *result.Endpoint {
			ep := openEP("127.0.0.1", timeTool)
			ep.Origin = &result.OriginCheck{Validated: ptr(false), TestedWith: "http://rebind.invalid", Status: 200, AllowOrigin: "*"}
			ep.HostHeader = &result.HostCheck{Validated: ptr(false), TestedWith: "rebind.invalid", Status: 200}
			return ep
		}, []ruleSev{{rules.LocalWebReachable, finding.High}, {rules.HostNotValidated, finding.Medium}, {rules.CORSWildcard, finding.Medium}, {rules.Unauthenticated, finding.Low}}},
		{"public server without origin validation", func() *result.Endpoint {
			ep := openEP("203.0.113.7", timeTool)
			ep.URL = "https://mcp.example:443/mcp"
			ep.Origin = &result.OriginCheck{Validated: ptr(false), TestedWith: "http://rebind.invalid", Status: 200,
				AllowOrigin: "http://rebind.invalid", AllowCredentials: true}
			return ep
		}, []ruleSev{{rules.Unauthenticated, finding.High}, {rules.CORSCredentialed, finding.High}, {rules.OriginNotValidated, finding.Medium}}},
		{"validated origin and host give nothing", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.Origin = &result.OriginCheck{Validated: ptr(true), Status: 403}
			ep.HostHeader = &result.HostCheck{Validated: ptr(true), Status: 403}
			return ep
		}, []ruleSev{{rules.Unauthenticated, finding.Low}}},
		{"expired self-signed certificate with TLS 1.0", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.URL = "https://127.0.0.1:8443/mcp"
			ep.TLS = &result.TLSInfo{Version: "TLS 1.3", NotBefore: scanTime.AddDate(-2, 0, 0), NotAfter: scanTime.AddDate(0, 0, -1),
				SelfSigned: true, UnknownAuthority: true, NameMismatch: true, WeakVersions: []string{"TLS 1.0"}}
			return ep
		}, []ruleSev{{rules.TLSExpired, finding.High}, {rules.TLSSelfSigned, finding.Medium}, {rules.TLSNameMismatch, finding.Medium},
			{rules.TLSWeakVersion, finding.Medium}, {rules.Unauthenticated, finding.Low}}},
		{"certificate from an unknown CA, not yet valid", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.TLS = &result.TLSInfo{NotBefore: scanTime.AddDate(0, 0, 1), NotAfter: scanTime.AddDate(1, 0, 0), UnknownAuthority: true, VerifyError: "unknown authority"}
			return ep
		}, []ruleSev{{rules.TLSCertificateInvalid, finding.Medium}, {rules.TLSNotYetValid, finding.Medium}, {rules.Unauthenticated, finding.Low}}},
		{"vulnerable inspector proxy", func() *result.Endpoint {
			return &result.Endpoint{URL: "http://127.0.0.1:6277/", IP: "127.0.0.1", Status: result.StatusNotMCP, ScannedAt: scanTime,
				Inspector: &result.InspectorInfo{Component: "proxy", Version: "0.14.0", TokenRequired: ptr(false)}}
		}, []ruleSev{{rules.InspectorVulnerable, finding.Critical}, {rules.InspectorProxyOpen, finding.Critical}}},
		{"fixed inspector on loopback", func() *result.Endpoint {
			return &result.Endpoint{URL: "http://127.0.0.1:6274/", IP: "127.0.0.1", Status: result.StatusNotMCP, ScannedAt: scanTime,
				Inspector: &result.InspectorInfo{Component: "ui", Version: "0.17.2"}}
		}, []ruleSev{{rules.InspectorExposed, finding.Low}}},
		{"authorization server quality", func() *result.Endpoint {
			ep := openEP("127.0.0.1")
			ep.Auth = &result.AuthInfo{Required: true, Scheme: result.AuthOAuth, Status: 401,
				ResourceMetadata: &result.ResourceMetadata{Resource: ep.URL, AuthorizationServers: []string{"http://as.example", "https://down.example"}},
				AuthorizationServers: []result.AuthServer{
					{Issuer: "http://as.example", Fetched: true, Reachable: true, TokenEndpoint: "http://as.example/token", CodeChallengeMethods: []string{"plain"}},
					{Issuer: "https://down.example", Fetched: true, Reachable: false, Error: "HTTP 404"},
					{Issuer: "https://elsewhere.example", Fetched: false},
				}}
			return ep
		}, []ruleSev{{rules.TokenEndpointPlain, finding.High}, {rules.AuthServerUnreachable, finding.Medium}, {rules.PKCEMissing, finding.Medium}}},
		{"not-mcp gives nothing", func() *result.Endpoint {
			return &result.Endpoint{URL: "http://203.0.113.7:80/", IP: "203.0.113.7", Status: result.StatusNotMCP}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := tt.ep()
			Assess(ep)
			if g := got(ep); !slices.Equal(g, tt.want) {
				t.Errorf("findings = %v\nwant       %v", g, tt.want)
			}
			again := tt.ep()
			Assess(again)
			Assess(again)
			if !slices.Equal(got(again), got(ep)) {
				t.Error("Assess is not idempotent")
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"0.14.0", "0.14.1", true}, {"0.14.1", "0.14.1", false}, {"0.9.9", "0.14.1", true},
		{"v0.13.0", "0.14.1", true}, {"0.14.1-beta", "0.14.1", false}, {"1.0", "0.14.1", false}, {"0.14", "0.14.1", true},
	} {
		if got := versionLess(tt.a, tt.b); got != tt.want {
			t.Errorf("versionLess(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

func TestClassOf(t *testing.T) {
	for ip, want := range map[string]Class{
		"127.0.0.1": Loopback, "::1": Loopback, "::ffff:127.0.0.9": Loopback, "10.0.0.1": Private, "172.16.5.4": Private,
		"192.168.0.1": Private, "100.64.1.1": Private, "169.254.1.1": Private, "fd00::1": Private, "fe80::1": Private,
		"8.8.8.8": Public, "2001:4860::1": Public, "": Unknown, "example.com": Unknown,
	} {
		if got := ClassOf(ip); got != want {
			t.Errorf("ClassOf(%q) = %s, want %s", ip, got, want)
		}
	}
}
