package scan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// startLab starts one lab server on a loopback address of its own.
func startLab(t *testing.T, kind lab.Kind, opts *lab.Options) *lab.Server {
	t.Helper()
	s, err := lab.Start(t.Context(), kind, nextIP()+":0", opts)
	if err != nil {
		t.Fatalf("lab.Start(%s): %v", kind, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close %s: %v", kind, err)
		}
	})
	return s
}

// The lab's fixed values that lab exports no constant for.
var (
	labTitles = map[lab.Kind]string{
		lab.KindOpenStreamable: "Acme Ops", lab.KindOpenStateless: "Acme Analytics",
		lab.KindOpenSSE: "Acme Ops (legacy)", lab.KindOAuth: "Acme CRM", lab.KindModern: "Acme Edge",
	}
	// What the go-sdk v1.8.0 stateless handler lists in server/discover.
	sdkSupportedVersions = []string{"2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}
	labResources         = []string{lab.ResourceConfigURI, lab.ResourceSchemaURI}
	labTemplates         = []string{lab.ResourceTemplateLogs}
	labPrompts           = []string{lab.PromptIncidentSummary}
)

// What the Origin and Host checks find on official-SDK servers on loopback:
// the SDK checks no Origin (the handshake succeeds with a foreign one) and
// its default DNS-rebinding protection refuses a foreign Host with 403.
// Behind an authentication check both get its 401, which says nothing
// about either header.
const (
	sdkOrigin       = "validated=false status=200"
	sdkHost         = "validated=true status=403"
	protectedOrigin = "validated=null status=401"
	protectedHost   = "validated=null status=401"
)

// labAuthServer is what the scan records of the authorization server the
// lab's OAuth kind lists: on another host than the target, so not fetched.
var labAuthServer = result.AuthServer{
	Issuer: lab.AuthorizationServer,
	Error:  "on another host than the target; not fetched (see FollowAuthServers, --follow-auth-servers)",
}

// TestInteropLab scans one lab server of each kind as `mcpwarden scan
// host:port` does (every default path, scheme detected) and compares the
// records field by field.
func TestInteropLab(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind lab.Kind
		want func(s *lab.Server) view
	}{
		{lab.KindOpenStreamable, func(s *lab.Server) view {
			return view{
				URL: s.URL, Status: result.StatusMCP,
				Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
				Server:     result.ServerInfo{Name: lab.OpenServerName, Title: labTitles[s.Kind], Version: lab.OpenServerVersion},
				Confidence: "confirmed", AuthScheme: result.AuthNone,
				Tools: lab.ToolNames(s.Kind), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
				Listed: true,
				// The SDK checks no Origin, and refuses a foreign Host on
				// loopback (its default DNS-rebinding protection).
				Origin: sdkOrigin, Host: sdkHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high"},
			}
		}},
		{lab.KindOpenStateless, func(s *lab.Server) view {
			// Stateless, the SDK also serves 2026-07-28: server/discover
			// answers and the prober lists without initialize.
			return view{
				URL: s.URL, Status: result.StatusMCP,
				Transport: result.TransportStateless, Protocol: "2026-07-28", Supported: sdkSupportedVersions,
				Server:     result.ServerInfo{Name: lab.StatelessServerName, Title: labTitles[s.Kind], Version: lab.StatelessServerVersion},
				Confidence: "confirmed", AuthScheme: result.AuthNone,
				Tools: lab.ToolNames(s.Kind), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
				Listed: true,
				// The SDK checks no Origin, and refuses a foreign Host on
				// loopback (its default DNS-rebinding protection).
				Origin: sdkOrigin, Host: sdkHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high"},
			}
		}},
		{lab.KindOpenSSE, func(s *lab.Server) view {
			return view{
				URL: s.URL, Status: result.StatusMCP,
				Transport: result.TransportSSE, Protocol: "2024-11-05",
				Server:     result.ServerInfo{Name: lab.SSEServerName, Title: labTitles[s.Kind], Version: lab.SSEServerVersion},
				Confidence: "confirmed", AuthScheme: result.AuthNone,
				Tools: lab.ToolNames(s.Kind), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
				Listed: true,
				Origin: sdkOrigin, Host: sdkHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-004/low"},
			}
		}},
		{lab.KindOAuth, func(s *lab.Server) view {
			// Valid RFC 9728 metadata: protected as the spec wants, no
			// finding on loopback.
			return view{
				URL: s.URL, Status: result.StatusMCP, HTTPStatus: http.StatusUnauthorized,
				Transport: result.TransportStreamable, Confidence: "likely",
				AuthRequired: true, AuthScheme: result.AuthOAuth, AuthStatus: http.StatusUnauthorized,
				MetadataURL: s.MetadataURL,
				AuthServers: []result.AuthServer{labAuthServer},
				// The bearer check answers before the SDK looks at
				// Origin or Host: nothing to conclude.
				Origin: protectedOrigin, Host: protectedHost,
				Findings: []string{},
			}
		}},
		{lab.KindOAuthNoMetadata, func(s *lab.Server) view {
			return view{
				URL: s.URL, Status: result.StatusMCP, HTTPStatus: http.StatusUnauthorized,
				Transport: result.TransportStreamable, Confidence: "likely",
				AuthRequired: true, AuthScheme: result.AuthBearer, AuthStatus: http.StatusUnauthorized,
				MetadataError: "the challenge has no resource_metadata parameter",
				Origin:        protectedOrigin, Host: protectedHost,
				Findings: []string{"MCPW-005/info"},
			}
		}},
		{lab.KindBasic, func(s *lab.Server) view {
			return view{
				URL: s.URL, Status: result.StatusMCP, HTTPStatus: http.StatusUnauthorized,
				Transport: result.TransportStreamable, Confidence: "likely",
				AuthRequired: true, AuthScheme: result.AuthBasic, AuthStatus: http.StatusUnauthorized,
				Origin: protectedOrigin, Host: protectedHost,
				Findings: []string{"MCPW-005/info"},
			}
		}},
		{lab.KindWeb, func(s *lab.Server) view {
			// Not MCP: one record for the port, at the first path tried.
			return view{
				URL: "http://" + s.Addr + "/mcp", Status: result.StatusNotMCP, HTTPStatus: http.StatusNotFound,
				Findings: []string{},
			}
		}},
		{lab.KindModern, func(s *lab.Server) view {
			return view{
				URL: s.URL, Status: result.StatusMCP,
				Transport: result.TransportStateless, Protocol: lab.ModernProtocolVersion, Supported: []string{lab.ModernProtocolVersion},
				Server:     result.ServerInfo{Name: lab.ModernServerName, Title: labTitles[s.Kind], Version: lab.ModernServerVersion},
				Confidence: "confirmed", AuthScheme: result.AuthNone,
				Tools: lab.ToolNames(s.Kind), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
				Listed: true,
				// The SDK checks no Origin, and refuses a foreign Host on
				// loopback (its default DNS-rebinding protection).
				Origin: sdkOrigin, Host: sdkHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high"},
			}
		}},
	}
	if len(tests) != len(lab.Kinds()) {
		t.Fatalf("%d cases for %d lab kinds", len(tests), len(lab.Kinds()))
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			t.Parallel()
			s := startLab(t, tt.kind, nil)
			svc := service(t, s.Addr)
			eps, _ := scanAll(t, scan.Options{}, svc)
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1", len(eps))
			}
			checkAddress(t, eps[0], svc.Host, svc.Port)
			checkView(t, eps[0], tt.want(s))
			if eps[0].TLS != nil {
				t.Errorf("plain HTTP record has TLS info %+v", eps[0].TLS)
			}
		})
	}
}

// TestInteropLabJSON checks the JSONL field names and values of an open
// and an OAuth-protected record, as a consumer of the schema reads them.
func TestInteropLabJSON(t *testing.T) {
	t.Parallel()
	t.Run("open-streamable", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.KindOpenStreamable, nil)
		svc := service(t, s.Addr)
		eps, _ := scanAll(t, scan.Options{}, svc)
		if len(eps) != 1 {
			t.Fatalf("%d records, want 1", len(eps))
		}
		m := jsonMap(t, eps[0])
		if got, want := keys(t, m), sorted("schema", "url", "host", "ip", "port", "status", "mcp", "auth", "tools",
			"resources", "resource_templates", "prompts", "listing", "risk", "origin", "host_header", "findings", "scanned_at", "elapsed_ms"); !slices.Equal(got, want) {
			t.Errorf("record keys %q, want %q", got, want)
		}
		for k, want := range map[string]any{
			"schema": result.Schema, "url": s.URL, "host": svc.Host, "ip": svc.Host, "port": float64(svc.Port), "status": "mcp",
		} {
			if m[k] != want {
				t.Errorf("%s = %#v, want %#v", k, m[k], want)
			}
		}
		mcpObj := obj(t, m, "mcp")
		if got, want := keys(t, mcpObj), sorted("transport", "protocol_version", "session", "server", "capabilities", "instructions", "confidence"); !slices.Equal(got, want) {
			t.Errorf("mcp keys %q, want %q", got, want)
		}
		for k, want := range map[string]any{
			"transport": "streamable-http", "protocol_version": "2025-11-25", "session": true, "confidence": "confirmed",
			"instructions": "Internal operations tools for the Acme platform team: SQL, shell and file access on production.",
		} {
			if mcpObj[k] != want {
				t.Errorf("mcp.%s = %#v, want %#v", k, mcpObj[k], want)
			}
		}
		if got, want := obj(t, mcpObj, "server"), map[string]any{"name": lab.OpenServerName, "title": "Acme Ops", "version": lab.OpenServerVersion}; !mapsEqual(got, want) {
			t.Errorf("mcp.server = %#v, want %#v", got, want)
		}
		caps, _ := json.Marshal(mcpObj["capabilities"])
		if want := `{"logging":{},"prompts":{"listChanged":true},"resources":{"listChanged":true},"tools":{"listChanged":true}}`; string(caps) != want {
			t.Errorf("mcp.capabilities = %s, want %s", caps, want)
		}
		if got := obj(t, m, "auth"); !mapsEqual(got, map[string]any{"required": false, "scheme": "none"}) {
			t.Errorf("auth = %#v", got)
		}
		if got := obj(t, m, "listing"); !mapsEqual(got, map[string]any{"truncated": false, "pages": float64(4)}) {
			t.Errorf("listing = %#v, want 4 pages (tools, resources, templates, prompts), not truncated", got)
		}

		tools := m["tools"].([]any)
		var qd map[string]any
		for _, x := range tools {
			if x.(map[string]any)["name"] == lab.ToolQueryDatabase {
				qd = x.(map[string]any)
			}
		}
		if qd == nil {
			t.Fatalf("no %s among %v", lab.ToolQueryDatabase, tools)
		}
		if got, want := keys(t, qd), sorted("name", "description", "input_schema", "annotations", "risk"); !slices.Equal(got, want) {
			t.Errorf("tool keys %q, want %q", got, want)
		}
		if qd["description"] != lab.QueryDatabaseDescription {
			t.Errorf("description %q", qd["description"])
		}
		schema := obj(t, qd, "input_schema")
		if schema["type"] != "object" || !slices.Equal(keys(t, schema["properties"]), []string{"database", "max_rows", "sql"}) ||
			len(schema["required"].([]any)) != 1 || schema["required"].([]any)[0] != "sql" {
			t.Errorf("input_schema = %#v", schema)
		}
		if ann := obj(t, qd, "annotations"); ann["destructiveHint"] != true || ann["title"] != "Query production database" {
			t.Errorf("annotations = %#v", ann)
		}
		res := m["resources"].([]any)[0].(map[string]any)
		if got, want := keys(t, res), sorted("uri", "name", "title", "description", "mime_type"); !slices.Equal(got, want) || res["uri"] != lab.ResourceConfigURI || res["mime_type"] != "application/yaml" {
			t.Errorf("resources[0] = %#v", res)
		}
		tpl := m["resource_templates"].([]any)[0].(map[string]any)
		if tpl["uri_template"] != lab.ResourceTemplateLogs {
			t.Errorf("resource_templates[0] = %#v", tpl)
		}
		pr := m["prompts"].([]any)[0].(map[string]any)
		args, _ := json.Marshal(pr["arguments"])
		if pr["name"] != lab.PromptIncidentSummary || string(args) != `[{"description":"the incident identifier","name":"incident_id","required":true},{"description":"engineering or executive","name":"audience"}]` {
			t.Errorf("prompts[0] = %#v (arguments %s)", pr, args)
		}
		if got, want := obj(t, m, "origin"), map[string]any{"validated": false, "tested_with": "http://rebind.invalid", "status": float64(200)}; !mapsEqual(got, want) {
			t.Errorf("origin = %#v, want %#v", got, want)
		}
		if got, want := obj(t, m, "host_header"), map[string]any{"validated": true, "tested_with": "rebind.invalid", "status": float64(403)}; !mapsEqual(got, want) {
			t.Errorf("host_header = %#v, want %#v", got, want)
		}
		fs := m["findings"].([]any)
		if len(fs) != 2 {
			t.Fatalf("findings %#v, want two", fs)
		}
		f := fs[0].(map[string]any)
		if got, want := keys(t, f), sorted("rule", "severity", "title", "evidence"); !slices.Equal(got, want) ||
			f["rule"] != "MCPW-001" || f["severity"] != "high" || !strings.Contains(f["evidence"].(string), s.URL) ||
			!strings.Contains(f["evidence"].(string), "listed 4 tools") {
			t.Errorf("finding %#v", f)
		}
		f = fs[1].(map[string]any)
		if want := "a request with Origin: http://rebind.invalid got HTTP 200 and an MCP answer; the server is on a loopback address, so any web page its users open can use it"; f["rule"] != "MCPW-009" || f["severity"] != "high" || f["evidence"] != want {
			t.Errorf("finding %#v, want MCPW-009/high with evidence %q", f, want)
		}
	})
	t.Run("oauth", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.KindOAuth, nil)
		eps, _ := scanAll(t, scan.Options{}, service(t, s.Addr))
		if len(eps) != 1 {
			t.Fatalf("%d records, want 1", len(eps))
		}
		m := jsonMap(t, eps[0])
		if got, want := keys(t, m), sorted("schema", "url", "host", "ip", "port", "status", "http", "mcp", "auth", "origin", "host_header", "findings", "scanned_at", "elapsed_ms"); !slices.Equal(got, want) {
			t.Errorf("record keys %q, want %q", got, want)
		}
		if got := obj(t, m, "http"); !mapsEqual(got, map[string]any{"status": float64(401), "content_type": "text/plain; charset=utf-8"}) {
			t.Errorf("http = %#v", got)
		}
		a := obj(t, m, "auth")
		if got, want := keys(t, a), sorted("required", "scheme", "status", "challenge", "resource_metadata_url", "resource_metadata", "authorization_servers"); !slices.Equal(got, want) {
			t.Errorf("auth keys %q, want %q", got, want)
		}
		wantChallenge := `Bearer resource_metadata="` + s.MetadataURL + `", scope="` + lab.OAuthScope + `"`
		if a["required"] != true || a["scheme"] != "oauth" || a["status"] != float64(401) || a["challenge"] != wantChallenge || a["resource_metadata_url"] != s.MetadataURL {
			t.Errorf("auth = %#v; want challenge %q", a, wantChallenge)
		}
		prm, _ := json.Marshal(a["resource_metadata"])
		wantPRM, _ := json.Marshal(map[string]any{
			"resource": s.URL, "authorization_servers": []string{lab.AuthorizationServer}, "scopes_supported": []string{lab.OAuthScope},
			"bearer_methods_supported": []string{"header"}, "resource_name": "Acme CRM",
		})
		if string(prm) != string(wantPRM) {
			t.Errorf("auth.resource_metadata = %s, want %s", prm, wantPRM)
		}
		ases, _ := json.Marshal(a["authorization_servers"])
		if want := `[{"error":"on another host than the target; not fetched (see FollowAuthServers, --follow-auth-servers)","fetched":false,"issuer":"https://auth.example.test","reachable":false}]`; string(ases) != want {
			t.Errorf("auth.authorization_servers = %s, want %s", ases, want)
		}
		// Behind the bearer check a foreign Origin or Host gets the same
		// 401: not determined.
		if got, want := obj(t, m, "origin"), map[string]any{"validated": nil, "tested_with": "http://rebind.invalid", "status": float64(401)}; !mapsEqual(got, want) {
			t.Errorf("origin = %#v, want %#v", got, want)
		}
		if got, want := obj(t, m, "host_header"), map[string]any{"validated": nil, "tested_with": "rebind.invalid", "status": float64(401)}; !mapsEqual(got, want) {
			t.Errorf("host_header = %#v, want %#v", got, want)
		}
		if got := obj(t, m, "mcp"); !mapsEqual(got, map[string]any{"transport": "streamable-http", "session": false, "server": map[string]any{}, "confidence": "likely"}) {
			t.Errorf("mcp = %#v", got)
		}
		if fs := m["findings"].([]any); len(fs) != 0 {
			t.Errorf("findings %#v, want []", fs)
		}
	})
}

func mapsEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestInteropCredentials scans protected lab servers with operator-supplied
// headers (--header): the right credential lists what the server exposes,
// a wrong one lists nothing, and the verdict stays "authentication
// required" either way.
func TestInteropCredentials(t *testing.T) {
	t.Parallel()
	oauth := startLab(t, lab.KindOAuth, nil)
	basic := startLab(t, lab.KindBasic, nil)
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	basicAuth := func(user, pw string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		r.SetBasicAuth(user, pw)
		return http.Header{"Authorization": r.Header.Values("Authorization")}
	}
	oauthOpen := view{
		URL: oauth.URL, Status: result.StatusMCP,
		Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
		Server:     result.ServerInfo{Name: lab.OAuthServerName, Title: labTitles[lab.KindOAuth], Version: lab.OAuthServerVersion},
		Confidence: "confirmed",
		// The verdict of the unauthenticated attempt, marked as scanned
		// with credentials.
		AuthRequired: true, AuthScheme: result.AuthOAuth, AuthStatus: http.StatusUnauthorized, WithCreds: true,
		MetadataURL: oauth.MetadataURL,
		AuthServers: []result.AuthServer{labAuthServer},
		Tools:       lab.ToolNames(lab.KindOAuth), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
		Listed: true,
		// The checks send the credentials too: the SDK then answers a
		// foreign Origin (MCPW-008, low: authentication is still
		// required) and refuses a foreign Host.
		Origin: sdkOrigin, Host: sdkHost,
		Findings: []string{"MCPW-008/low"},
	}
	oauthRejected := view{
		URL: oauth.URL, Status: result.StatusMCP, HTTPStatus: http.StatusUnauthorized,
		Error:     "the supplied credentials were rejected (HTTP 401)",
		Transport: result.TransportStreamable, Confidence: "likely",
		AuthRequired: true, AuthScheme: result.AuthOAuth, AuthStatus: http.StatusUnauthorized, WithCreds: true,
		MetadataURL: oauth.MetadataURL,
		AuthServers: []result.AuthServer{labAuthServer},
		Origin:      protectedOrigin, Host: protectedHost,
		// Rejected credentials say nothing about the metadata: no MCPW-002.
		Findings: []string{},
	}
	basicOpen := view{
		URL: basic.URL, Status: result.StatusMCP,
		Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
		Server:       result.ServerInfo{Name: lab.BasicServerName, Title: "Acme Admin", Version: lab.BasicServerVersion},
		Confidence:   "confirmed",
		AuthRequired: true, AuthScheme: result.AuthBasic, AuthStatus: http.StatusUnauthorized, WithCreds: true,
		Tools: lab.ToolNames(lab.KindBasic), Resources: labResources, Templates: labTemplates, Prompts: labPrompts,
		Listed: true,
		Origin: sdkOrigin, Host: sdkHost,
		Findings: []string{"MCPW-008/low", "MCPW-005/info"},
	}
	tests := []struct {
		name    string
		srv     *lab.Server
		headers http.Header
		want    view
	}{
		{"oauth right token", oauth, bearer(oauth.BearerToken), oauthOpen},
		{"oauth wrong token", oauth, bearer("not-" + oauth.BearerToken), oauthRejected},
		{"basic right password", basic, basicAuth(basic.BasicUser, basic.BasicPassword), basicOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eps, _ := scanAll(t, scan.Options{Probe: probe.Options{Headers: tt.headers}}, service(t, tt.srv.Addr))
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1", len(eps))
			}
			checkView(t, eps[0], tt.want)
			if tt.want.Listed && eps[0].Auth.ResourceMetadata == nil && tt.srv.Kind == lab.KindOAuth {
				t.Error("the authenticated record lost the resource metadata")
			}
		})
	}
}

// everythingTools are the tools the pinned TypeScript reference server lists
// to a client that declares no capabilities: get-roots-list (needs roots),
// trigger-sampling-request and trigger-elicitation-request are absent.
var everythingTools = sorted(
	"echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference",
	"get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource", "simulate-research-query",
	"toggle-simulated-logging", "toggle-subscriber-updates", "trigger-long-running-operation",
)

var everythingResources = []string{
	"demo://resource/static/document/architecture.md", "demo://resource/static/document/extension.md",
	"demo://resource/static/document/features.md", "demo://resource/static/document/how-it-works.md",
	"demo://resource/static/document/instructions.md", "demo://resource/static/document/startup.md",
	"demo://resource/static/document/structure.md",
}

// The reference server's Express app sends Access-Control-Allow-Origin: *
// and checks neither Origin nor Host: the handshake succeeds with both
// foreign values.
const (
	everythingOrigin = "validated=false status=200 allow_origin=*"
	everythingHost   = "validated=false status=200"
)

// TestInteropEverything scans the official TypeScript reference server
// (npm @modelcontextprotocol/server-everything, pinned) over both of its
// HTTP transports.
func TestInteropEverything(t *testing.T) {
	t.Parallel()
	server := result.ServerInfo{Name: "mcp-servers/everything", Title: "Everything Reference Server", Version: "2.0.0"}
	tests := []struct {
		transport string
		want      func(base string) view
	}{
		{mcptest.TransportStreamableHTTP, func(base string) view {
			return view{
				URL: base + mcptest.EverythingMCPPath, Status: result.StatusMCP,
				Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
				Server: server, Confidence: "confirmed",
				// Express routes /mcp/ to the /mcp handler.
				Aliases:    []string{"/mcp/"},
				AuthScheme: result.AuthNone,
				Tools:      everythingTools, Resources: everythingResources,
				Templates: []string{"demo://resource/dynamic/text/{resourceId}", "demo://resource/dynamic/blob/{resourceId}"},
				Prompts:   []string{"simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"},
				Listed:    true,
				Origin:    everythingOrigin, Host: everythingHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-010/medium", "MCPW-011/medium"},
			}
		}},
		{mcptest.TransportSSE, func(base string) view {
			return view{
				URL: base + mcptest.EverythingSSEPath, Status: result.StatusMCP,
				Transport: result.TransportSSE, Protocol: "2024-11-05",
				Server: server, Confidence: "confirmed",
				AuthScheme: result.AuthNone,
				Tools:      everythingTools, Resources: everythingResources,
				Templates: []string{"demo://resource/dynamic/text/{resourceId}", "demo://resource/dynamic/blob/{resourceId}"},
				Prompts:   []string{"simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"},
				Listed:    true,
				Origin:    everythingOrigin, Host: everythingHost,
				Findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-010/medium", "MCPW-011/medium", "MCPW-004/low"},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			t.Parallel()
			e := mcptest.StartEverythingProcess(t, tt.transport, nextIP())
			svc := target.Service{Host: e.Host, Port: e.Port}
			eps, _ := scanAll(t, scan.Options{}, svc)
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1", len(eps))
			}
			checkAddress(t, eps[0], e.Host, e.Port)
			checkView(t, eps[0], tt.want(e.URL))
			if !strings.Contains(eps[0].MCP.Instructions, "Everything Server") {
				t.Errorf("instructions %.80q", eps[0].MCP.Instructions)
			}
		})
	}
}

// sdkServer is an official-SDK server with one tool that must never be
// called.
func sdkServer(t *testing.T, name string) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1.0.0"}, nil)
	type in struct {
		SQL string `json:"sql"`
	}
	mcp.AddTool(s, &mcp.Tool{Name: "query_database", Description: "run SQL"}, func(context.Context, *mcp.CallToolRequest, in) (*mcp.CallToolResult, any, error) {
		t.Error("the scanner called a tool")
		return nil, nil, nil
	})
	return s
}

// serve serves h on a fresh loopback address until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", nextIP()+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func streamable(s *mcp.Server) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
}

// TestInteropDiscovery covers where on a port the endpoints are found: a
// URL target probes only its path; a host:port target tries the default
// paths, records one endpoint per transport and lists the other paths that
// answered as the same server as aliases.
func TestInteropDiscovery(t *testing.T) {
	t.Parallel()
	open := func(u string, aliases ...string) view {
		return view{
			URL: u, Status: result.StatusMCP,
			Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
			Server: result.ServerInfo{Name: "discovery", Version: "1.0.0"}, Confidence: "confirmed", Aliases: aliases,
			AuthScheme: result.AuthNone, Tools: []string{"query_database"}, Listed: true,
			Origin: sdkOrigin, Host: sdkHost,
			Findings: []string{"MCPW-001/high", "MCPW-009/high"},
		}
	}
	t.Run("url target", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.KindOpenStreamable, nil)
		h, p := hostPort(t, s.Addr)
		eps, sum := scanAll(t, scan.Options{}, target.Service{Host: h, Port: p, Scheme: "http", Paths: []string{lab.DefaultPath}})
		if len(eps) != 1 || eps[0].URL != s.URL || eps[0].Status != result.StatusMCP || eps[0].MCP.Aliases != nil {
			t.Fatalf("records %+v, want one for %s", eps, s.URL)
		}
		// discover (405 from the stateful handler), initialize,
		// initialized, four lists and the closing DELETE; no other path.
		// Then the Origin check's initialize and the DELETE of the
		// session the SDK opened for it, and the Host check's
		// initialize, which gets 403.
		if sum.Requests != 8+3 {
			t.Errorf("%d requests, want 11", sum.Requests)
		}
	})
	t.Run("url target without mcp", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.KindOpenStreamable, nil)
		h, p := hostPort(t, s.Addr)
		eps, _ := scanAll(t, scan.Options{}, target.Service{Host: h, Port: p, Scheme: "http", Paths: []string{"/nope"}})
		if len(eps) != 1 {
			t.Fatalf("%d records, want 1", len(eps))
		}
		checkView(t, eps[0], view{URL: "http://" + s.Addr + "/nope", Status: result.StatusNotMCP, HTTPStatus: http.StatusNotFound, Findings: []string{}})
	})
	t.Run("lab at a custom path", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.KindOpenStreamable, &lab.Options{Path: "/api/mcp"})
		eps, _ := scanAll(t, scan.Options{}, service(t, s.Addr))
		if len(eps) != 1 || eps[0].URL != "http://"+s.Addr+"/api/mcp" || eps[0].MCP == nil || eps[0].MCP.Aliases != nil {
			t.Fatalf("records %+v, want one at /api/mcp", eps)
		}
	})
	t.Run("handler at the root", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		mux.Handle("/", streamable(sdkServer(t, "discovery")))
		addr := serve(t, mux)
		eps, _ := scanAll(t, scan.Options{}, service(t, addr))
		if len(eps) != 1 {
			t.Fatalf("%d records, want 1", len(eps))
		}
		checkView(t, eps[0], open("http://"+addr+"/mcp", "/mcp/", "/sse", "/api/mcp", "/", "/messages"))
	})
	t.Run("one record per transport", func(t *testing.T) {
		t.Parallel()
		s := sdkServer(t, "discovery")
		mux := http.NewServeMux()
		mux.Handle("/mcp", streamable(s))
		mux.Handle("/sse", mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil))
		addr := serve(t, mux)
		eps, _ := scanAll(t, scan.Options{}, service(t, addr))
		if len(eps) != 2 {
			t.Fatalf("%d records, want 2", len(eps))
		}
		checkView(t, eps[0], open("http://"+addr+"/mcp"))
		sse := open("http://" + addr + "/sse")
		sse.Transport, sse.Protocol, sse.Session = result.TransportSSE, "2024-11-05", false
		sse.Findings = []string{"MCPW-001/high", "MCPW-009/high", "MCPW-004/low"}
		checkView(t, eps[1], sse)
	})
}

// startTLS serves h over TLS on the loopback address ip, with cfg's
// certificate, or httptest's self-signed one (for example.com, 127.0.0.1
// and ::1) when cfg is nil.
func startTLS(t *testing.T, ip string, h http.Handler, cfg *tls.Config) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.TLS = cfg
	// Plain HTTP probes make the TLS server log handshake errors.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// privateCA returns a TLS config whose certificate for ip is issued by a
// CA of its own: a valid name, a chain no system trusts.
func privateCA(t *testing.T, ip string) (*tls.Config, *x509.Certificate) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, leafKey := newKey(), newKey()
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mcpwarden test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mcp.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, DNSNames: []string{"mcp.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leafCert, _ := x509.ParseCertificate(leafDER)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey, Leaf: leafCert}}}, leafCert
}

// TestInteropTLS scans SDK servers behind TLS: with the scheme unknown
// (host:port) the prober switches to https on the plain-HTTP error page,
// records the certificate and the risk assessment flags it.
func TestInteropTLS(t *testing.T) {
	t.Parallel()
	selfSigned := startTLS(t, nextIP(), streamable(sdkServer(t, "tls")), nil)
	ssAddr := strings.TrimPrefix(selfSigned.URL, "https://")
	ssHost, ssPort := hostPort(t, ssAddr)

	caIP := nextIP()
	caCfg, caLeaf := privateCA(t, caIP)
	mux := http.NewServeMux()
	mux.Handle("/mcp", streamable(sdkServer(t, "tls")))
	caAddr := strings.TrimPrefix(startTLS(t, caIP, mux, caCfg).URL, "https://")
	caHost, caPort := hostPort(t, caAddr)

	tlsOpen := func(addr string, findings ...string) view {
		return view{
			URL: "https://" + addr + "/mcp", Status: result.StatusMCP,
			Transport: result.TransportStreamable, Protocol: "2025-11-25", Session: true,
			Server: result.ServerInfo{Name: "tls", Version: "1.0.0"}, Confidence: "confirmed",
			AuthScheme: result.AuthNone, Tools: []string{"query_database"}, Listed: true,
			Origin: sdkOrigin, Host: sdkHost,
			Findings: findings,
		}
	}
	// httptest's certificate is self-signed and names 127.0.0.1, not
	// the address scanned.
	selfSignedOpen := tlsOpen(ssAddr, "MCPW-001/high", "MCPW-009/high", "MCPW-015/medium", "MCPW-016/medium")
	// Its handler answers on every path: the default paths are aliases.
	selfSignedEverywhere := selfSignedOpen
	selfSignedEverywhere.Aliases = []string{"/mcp/", "/sse", "/api/mcp", "/", "/messages"}
	// The private CA's certificate names the address: only the chain is
	// untrusted.
	caOpen := tlsOpen(caAddr, "MCPW-001/high", "MCPW-009/high", "MCPW-007/medium")

	type certWant struct {
		leaf                                       *x509.Certificate
		selfSigned, nameMismatch, unknownAuthority bool
		verifyError                                string
	}
	ssCert := certWant{selfSigned.Certificate(), true, true, true, "x509: certificate is valid for 127.0.0.1, ::1, not " + ssHost}
	caCert := certWant{caLeaf, false, false, true, "x509: certificate signed by unknown authority"}
	tests := []struct {
		name string
		svc  target.Service
		want view
		cert *certWant
	}{
		{"self-signed, scheme detected", target.Service{Host: ssHost, Port: ssPort}, selfSignedEverywhere, &ssCert},
		{"self-signed, scheme detected on a url path", target.Service{Host: ssHost, Port: ssPort, Paths: []string{"/mcp"}}, selfSignedOpen, &ssCert},
		{"self-signed, https given", target.Service{Host: ssHost, Port: ssPort, Scheme: "https", Paths: []string{"/mcp"}}, selfSignedOpen, &ssCert},
		// A fixed scheme is not switched: the TLS server's plain-text
		// 400 is all there is.
		{"self-signed, http given", target.Service{Host: ssHost, Port: ssPort, Scheme: "http", Paths: []string{"/mcp"}},
			view{URL: "http://" + ssAddr + "/mcp", Status: result.StatusNotMCP, HTTPStatus: http.StatusBadRequest, Findings: []string{}}, nil},
		{"private CA, scheme detected", target.Service{Host: caHost, Port: caPort}, caOpen, &caCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eps, _ := scanAll(t, scan.Options{}, tt.svc)
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1", len(eps))
			}
			ep := eps[0]
			checkView(t, ep, tt.want)
			if tt.cert == nil {
				if ep.TLS != nil {
					t.Errorf("TLS info %+v on a plain-HTTP record", ep.TLS)
				}
				return
			}
			ti, c := ep.TLS, tt.cert
			if ti == nil {
				t.Fatal("no TLS info")
			}
			if ti.Version != tls.VersionName(tls.VersionTLS13) || ti.CipherSuite == "" {
				t.Errorf("version %q cipher %q, want TLS 1.3", ti.Version, ti.CipherSuite)
			}
			if ti.Subject != c.leaf.Subject.String() || ti.Issuer != c.leaf.Issuer.String() || !slices.Equal(ti.DNSNames, c.leaf.DNSNames) ||
				!ti.NotBefore.Equal(c.leaf.NotBefore) || !ti.NotAfter.Equal(c.leaf.NotAfter) {
				t.Errorf("certificate fields %+v, want those of %v", ti, c.leaf.Subject)
			}
			if ti.Valid || ti.SelfSigned != c.selfSigned || ti.NameMismatch != c.nameMismatch || ti.UnknownAuthority != c.unknownAuthority || ti.VerifyError != c.verifyError {
				t.Errorf("valid %v self_signed %v name_mismatch %v unknown_authority %v verify_error %q; want invalid, %v %v %v %q",
					ti.Valid, ti.SelfSigned, ti.NameMismatch, ti.UnknownAuthority, ti.VerifyError, c.selfSigned, c.nameMismatch, c.unknownAuthority, c.verifyError)
			}
			for _, f := range ep.Findings {
				if f.Rule == "MCPW-007" && f.Evidence != ti.VerifyError {
					t.Errorf("MCPW-007 evidence %q, want the verify error %q", f.Evidence, ti.VerifyError)
				}
			}
		})
	}
}
