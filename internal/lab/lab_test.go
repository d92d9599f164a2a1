package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// Every test server binds a loopback IP; nothing here connects elsewhere.

var httpClient = &http.Client{Timeout: 10 * time.Second}

func start(t *testing.T, kind Kind, addr string, opts *Options) *Server {
	t.Helper()
	s, err := Start(t.Context(), kind, addr, opts)
	if err != nil {
		t.Fatalf("Start(%s, %s): %v", kind, addr, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close(%s): %v", kind, err)
		}
	})
	return s
}

// headerTransport adds fixed headers to every request.
type headerTransport struct {
	header http.Header
}

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.header {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

func clientWith(header http.Header) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: headerTransport{header}}
}

// connect opens an SDK client session to s, over SSE for KindOpenSSE.
func connect(ctx context.Context, s *Server, hc *http.Client, sopts *mcp.ClientSessionOptions) (*mcp.ClientSession, error) {
	if hc == nil {
		hc = httpClient
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "lab-test", Version: "0.0.1"}, nil)
	var tr mcp.Transport
	if s.Kind == KindOpenSSE {
		tr = &mcp.SSEClientTransport{Endpoint: s.URL, HTTPClient: hc}
	} else {
		tr = &mcp.StreamableClientTransport{Endpoint: s.URL, HTTPClient: hc, MaxRetries: -1}
	}
	return client.Connect(ctx, tr, sopts)
}

// listing is everything a session lists.
type listing struct {
	tools, resources, templates, prompts []string
}

func list(ctx context.Context, t *testing.T, cs *mcp.ClientSession) listing {
	t.Helper()
	var l listing
	for tool, err := range cs.Tools(ctx, nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		if tool.InputSchema == nil {
			t.Errorf("tool %s has no input schema", tool.Name)
		}
		l.tools = append(l.tools, tool.Name)
	}
	caps := cs.InitializeResult().Capabilities
	if caps.Resources != nil {
		for r, err := range cs.Resources(ctx, nil) {
			if err != nil {
				t.Fatalf("resources/list: %v", err)
			}
			l.resources = append(l.resources, r.URI)
		}
		for r, err := range cs.ResourceTemplates(ctx, nil) {
			if err != nil {
				t.Fatalf("resources/templates/list: %v", err)
			}
			l.templates = append(l.templates, r.URITemplate)
		}
	}
	if caps.Prompts != nil {
		for p, err := range cs.Prompts(ctx, nil) {
			if err != nil {
				t.Fatalf("prompts/list: %v", err)
			}
			l.prompts = append(l.prompts, p.Name)
		}
	}
	return l
}

func wantListing(k Kind, extra int) listing {
	l := listing{tools: ToolNames(k)}
	for i := 1; i <= extra; i++ {
		l.tools = append(l.tools, ExtraToolName(i))
	}
	slices.Sort(l.tools)
	if HasResources(k) {
		l.resources = []string{ResourceConfigURI, ResourceSchemaURI}
		l.templates = []string{ResourceTemplateLogs}
		l.prompts = []string{PromptIncidentSummary}
	}
	return l
}

func equalListing(a, b listing) bool {
	return slices.Equal(a.tools, b.tools) && slices.Equal(a.resources, b.resources) &&
		slices.Equal(a.templates, b.templates) && slices.Equal(a.prompts, b.prompts)
}

// TestMCPKinds connects to every MCP kind with the official SDK client (and
// the credentials it needs) and checks identity and exact listings.
func TestMCPKinds(t *testing.T) {
	tests := []struct {
		kind        Kind
		addr        string
		name, ver   string
		wantVersion string // negotiated protocol version
		auth        func(*Server) http.Header
	}{
		{KindOpenStreamable, "127.0.0.7:0", OpenServerName, OpenServerVersion, "2025-11-25", nil},
		{KindOpenStateless, "127.0.0.8:0", StatelessServerName, StatelessServerVersion, ModernProtocolVersion, nil},
		{KindOpenSSE, "127.0.0.9:0", SSEServerName, SSEServerVersion, "2025-11-25", nil},
		{KindOAuth, "127.0.0.10:0", OAuthServerName, OAuthServerVersion, "2025-11-25", func(s *Server) http.Header {
			return http.Header{"Authorization": {"Bearer " + s.BearerToken}}
		}},
		{KindOAuthNoMetadata, "127.0.0.11:0", OAuthNoMetadataServerName, OAuthNoMetadataServerVersion, "2025-11-25", func(s *Server) http.Header {
			return http.Header{"Authorization": {"Bearer " + s.BearerToken}}
		}},
		{KindBasic, "127.0.0.12:0", BasicServerName, BasicServerVersion, "2025-11-25", func(s *Server) http.Header {
			r, _ := http.NewRequest("GET", "/", nil)
			r.SetBasicAuth(s.BasicUser, s.BasicPassword)
			return r.Header
		}},
		{KindModern, "127.0.0.13:0", ModernServerName, ModernServerVersion, ModernProtocolVersion, nil},
		{KindOpenStreamable, "[::1]:0", OpenServerName, OpenServerVersion, "2025-11-25", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"@"+tt.addr, func(t *testing.T) {
			s, err := Start(t.Context(), tt.kind, tt.addr, nil)
			if err != nil && strings.HasPrefix(tt.addr, "[") {
				t.Skipf("no IPv6 loopback: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Name != tt.name || s.Version != tt.ver {
				t.Errorf("Server identity = %s %s, want %s %s", s.Name, s.Version, tt.name, tt.ver)
			}
			var hc *http.Client
			if tt.auth != nil {
				hc = clientWith(tt.auth(s))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			cs, err := connect(ctx, s, hc, nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			init := cs.InitializeResult()
			if init.ServerInfo == nil || init.ServerInfo.Name != tt.name || init.ServerInfo.Version != tt.ver {
				t.Errorf("serverInfo = %+v, want %s %s", init.ServerInfo, tt.name, tt.ver)
			}
			if init.ProtocolVersion != tt.wantVersion {
				t.Errorf("protocol version = %s, want %s", init.ProtocolVersion, tt.wantVersion)
			}
			got := list(ctx, t, cs)
			if want := wantListing(tt.kind, 0); !equalListing(got, want) {
				t.Errorf("listing = %+v, want %+v", got, want)
			}
			if !slices.Equal(got.tools, s.Tools) {
				t.Errorf("Server.Tools = %v, listed %v", s.Tools, got.tools)
			}
		})
	}
}

// TestOpenToolSchemas checks the open server's tools in detail: schemas,
// descriptions and annotations, and that a call returns canned text.
func TestOpenToolSchemas(t *testing.T) {
	s := start(t, KindOpenStreamable, "127.0.0.7:0", nil)
	cs, err := connect(t.Context(), s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]*mcp.Tool{}
	for _, tool := range res.Tools {
		tools[tool.Name] = tool
	}
	tests := []struct {
		name     string
		param    string
		readOnly bool
		desc     string
	}{
		{ToolQueryDatabase, "sql", false, QueryDatabaseDescription},
		{ToolRunShellCommand, "command", false, ""},
		{ToolReadFile, "path", true, ""},
		{ToolListDeployments, "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool := tools[tt.name]
			if tool == nil {
				t.Fatalf("tool %s not listed", tt.name)
			}
			if tt.desc != "" && tool.Description != tt.desc {
				t.Errorf("description = %q, want %q", tool.Description, tt.desc)
			}
			if tool.Description == "" {
				t.Error("empty description")
			}
			if tool.Annotations == nil || tool.Annotations.ReadOnlyHint != tt.readOnly {
				t.Errorf("annotations = %+v, want readOnlyHint %v", tool.Annotations, tt.readOnly)
			}
			raw, _ := json.Marshal(tool.InputSchema)
			var schema struct {
				Type       string                     `json:"type"`
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			}
			if err := json.Unmarshal(raw, &schema); err != nil {
				t.Fatalf("schema %s: %v", raw, err)
			}
			if schema.Type != "object" {
				t.Errorf("schema type = %q", schema.Type)
			}
			if tt.param != "" {
				if _, ok := schema.Properties[tt.param]; !ok || !slices.Contains(schema.Required, tt.param) {
					t.Errorf("schema %s lacks required %q", raw, tt.param)
				}
			}
		})
	}
	// The lab is harmless: a call returns canned text.
	out, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: ToolRunShellCommand,
		Arguments: map[string]any{"command": "id"}})
	if err != nil {
		t.Fatal(err)
	}
	text := out.Content[0].(*mcp.TextContent).Text
	if out.IsError || !strings.Contains(text, "canned") {
		t.Errorf("call result = %q (error %v), want canned text", text, out.IsError)
	}
}

// TestPagination checks ExtraTools and PageSize on a stateful, a stateless
// and an SSE server.
func TestPagination(t *testing.T) {
	const extra, pageSize = 7, 3
	for _, kind := range []Kind{KindOpenStreamable, KindOpenStateless, KindOpenSSE} {
		t.Run(string(kind), func(t *testing.T) {
			s := start(t, kind, "127.0.0.20:0", &Options{ExtraTools: extra, PageSize: pageSize})
			cs, err := connect(t.Context(), s, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			first, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Tools) != pageSize || first.NextCursor == "" {
				t.Errorf("first page: %d tools, cursor %q; want %d and a cursor", len(first.Tools), first.NextCursor, pageSize)
			}
			got := list(t.Context(), t, cs)
			if want := wantListing(kind, extra); !slices.Equal(got.tools, want.tools) || !slices.Equal(got.tools, s.Tools) {
				t.Errorf("tools = %v, want %v", got.tools, want.tools)
			}
		})
	}
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, header http.Header, body string) rawResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, data}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

var postHeader = http.Header{
	"Content-Type": {"application/json"},
	"Accept":       {"application/json, text/event-stream"},
}

func withHeader(h http.Header, kv ...string) http.Header {
	h = h.Clone()
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestOAuth(t *testing.T) {
	const token = "lab-token-123"
	s := start(t, KindOAuth, "127.0.0.14:0", &Options{BearerToken: token})
	if s.BearerToken != token {
		t.Fatalf("BearerToken = %q", s.BearerToken)
	}
	wantMeta := "http://" + s.Addr + "/.well-known/oauth-protected-resource/mcp"
	if s.MetadataURL != wantMeta {
		t.Errorf("MetadataURL = %q, want %q", s.MetadataURL, wantMeta)
	}
	wantChallenge := `Bearer resource_metadata="` + wantMeta + `", scope="mcp:tools"`

	for _, tt := range []struct {
		name, method string
		header       http.Header
	}{
		{"post no token", "POST", postHeader},
		{"post wrong token", "POST", withHeader(postHeader, "Authorization", "Bearer nope")},
		{"post basic", "POST", withHeader(postHeader, "Authorization", "Basic YTpi")},
		{"get stream no token", "GET", http.Header{"Accept": {"text/event-stream"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, s.URL, tt.header, initializeBody)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", r.status)
			}
			got := r.header.Values("WWW-Authenticate")
			if len(got) != 1 || got[0] != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			ch, err := oauthex.ParseWWWAuthenticate(got)
			if err != nil || len(ch) != 1 || ch[0].Scheme != "bearer" || ch[0].Params["resource_metadata"] != wantMeta {
				t.Errorf("parsed challenge = %+v, %v", ch, err)
			}
		})
	}

	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		t.Run("metadata "+path, func(t *testing.T) {
			r := do(t, "GET", "http://"+s.Addr+path, nil, "")
			if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d, content type %q", r.status, r.header.Get("Content-Type"))
			}
			var doc struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
				ScopesSupported      []string `json:"scopes_supported"`
			}
			if err := json.Unmarshal(r.body, &doc); err != nil {
				t.Fatalf("metadata %s: %v", r.body, err)
			}
			if doc.Resource != s.URL || !slices.Equal(doc.AuthorizationServers, []string{AuthorizationServer}) ||
				!slices.Equal(doc.ScopesSupported, []string{OAuthScope}) {
				t.Errorf("metadata = %+v", doc)
			}
		})
	}

	t.Run("sdk metadata fetch", func(t *testing.T) {
		prm, err := oauthex.GetProtectedResourceMetadata(t.Context(), s.MetadataURL, s.URL, httpClient)
		if err != nil {
			t.Fatal(err)
		}
		if prm.Resource != s.URL {
			t.Errorf("resource = %q", prm.Resource)
		}
	})
	t.Run("with token", func(t *testing.T) {
		r := do(t, "POST", s.URL, withHeader(postHeader, "Authorization", "Bearer "+token), initializeBody)
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(OAuthServerName)) {
			t.Errorf("status %d, body %s", r.status, r.body)
		}
	})
}

func TestOAuthRandomToken(t *testing.T) {
	a := start(t, KindOAuth, "127.0.0.14:0", nil)
	b := start(t, KindOAuth, "127.0.0.14:0", nil)
	if a.BearerToken == "" || a.BearerToken == b.BearerToken {
		t.Fatalf("random tokens %q and %q", a.BearerToken, b.BearerToken)
	}
	// a's token does not open b.
	r := do(t, "POST", b.URL, withHeader(postHeader, "Authorization", "Bearer "+a.BearerToken), initializeBody)
	if r.status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", r.status)
	}
}

func TestOAuthNoMetadata(t *testing.T) {
	s := start(t, KindOAuthNoMetadata, "127.0.0.15:0", &Options{BearerToken: "wiki-token"})
	for _, tt := range []struct {
		name   string
		header http.Header
		want   string
	}{
		{"no token", postHeader, `Bearer realm="acme-wiki"`},
		{"wrong token", withHeader(postHeader, "Authorization", "Bearer nope"), `Bearer realm="acme-wiki", error="invalid_token"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", s.URL, tt.header, initializeBody)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status = %d", r.status)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tt.want || strings.Contains(got, "resource_metadata") {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.want)
			}
		})
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		if r := do(t, "GET", "http://"+s.Addr+path, nil, ""); r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.status)
		}
	}
	if s.MetadataURL != "" {
		t.Errorf("MetadataURL = %q, want empty", s.MetadataURL)
	}
}

func TestBasic(t *testing.T) {
	s := start(t, KindBasic, "127.0.0.16:0", &Options{BasicPassword: "s3cret"})
	if s.BasicUser != DefaultBasicUser || s.BasicPassword != "s3cret" {
		t.Fatalf("credential = %q %q", s.BasicUser, s.BasicPassword)
	}
	for _, tt := range []struct {
		name string
		user string
		pass string
		want int
	}{
		{"none", "", "", http.StatusUnauthorized},
		{"wrong password", DefaultBasicUser, "nope", http.StatusUnauthorized},
		{"wrong user", "root", "s3cret", http.StatusUnauthorized},
		{"right", DefaultBasicUser, "s3cret", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.URL, nil)
			req.Header = postHeader.Clone()
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			r := do(t, "POST", s.URL, req.Header, initializeBody)
			if r.status != tt.want {
				t.Fatalf("status = %d, want %d", r.status, tt.want)
			}
			if tt.want == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != `Basic realm="acme-admin", charset="UTF-8"` {
				t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestWeb(t *testing.T) {
	s := start(t, KindWeb, "127.0.0.17:0", nil)
	if s.URL != "http://"+s.Addr+"/" || s.Name != "" || s.Tools != nil {
		t.Errorf("server = %+v", s)
	}
	base := "http://" + s.Addr
	tests := []struct {
		method, path string
		header       http.Header
		body         string
		status       int
		ctype        string
		contains     string
	}{
		{"GET", "/", nil, "", 200, "text/html; charset=utf-8", "<title>" + WebTitle + "</title>"},
		{"GET", WebStatusPath, nil, "", 200, "application/json", `"status":"ok"`},
		{"POST", "/mcp", postHeader, initializeBody, 404, "", ""},
		{"GET", "/mcp", http.Header{"Accept": {"text/event-stream"}}, "", 404, "", ""},
		{"GET", "/sse", nil, "", 404, "", ""},
		{"GET", "/.well-known/oauth-protected-resource", nil, "", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.header, tt.body)
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d", r.status, tt.status)
			}
			if tt.ctype != "" && r.header.Get("Content-Type") != tt.ctype {
				t.Errorf("content type = %q, want %q", r.header.Get("Content-Type"), tt.ctype)
			}
			if !bytes.Contains(r.body, []byte(tt.contains)) {
				t.Errorf("body %q lacks %q", r.body, tt.contains)
			}
		})
	}
	t.Run("sdk client", func(t *testing.T) {
		webMCP := &Server{Kind: KindOpenStreamable, URL: base + "/mcp"}
		if cs, err := connect(t.Context(), webMCP, nil, nil); err == nil {
			cs.Close()
			t.Fatal("MCP session to a web app succeeded")
		}
	})
}

// rpcError decodes a JSON-RPC error response.
type rpcError struct {
	ID    json.RawMessage `json:"id"`
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Data    struct {
			Supported []string `json:"supported"`
			Requested string   `json:"requested"`
		} `json:"data"`
	} `json:"error"`
}

func TestModern(t *testing.T) {
	s := start(t, KindModern, "127.0.0.18:0", nil)
	discover := `{"jsonrpc":"2.0","id":7,"method":"server/discover","params":{"_meta":{` +
		`"io.modelcontextprotocol/protocolVersion":"2026-07-28",` +
		`"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"},` +
		`"io.modelcontextprotocol/clientCapabilities":{}}}}`
	modernHeader := withHeader(postHeader, "Mcp-Protocol-Version", ModernProtocolVersion, "Mcp-Method", "server/discover")

	t.Run("server/discover", func(t *testing.T) {
		r := do(t, "POST", s.URL, modernHeader, discover)
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		body := r.body
		if strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
			body = sseData(t, body)
		}
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				SupportedVersions []string `json:"supportedVersions"`
				Meta              map[string]json.RawMessage
			} `json:"result"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
		if resp.ID != 7 || !slices.Equal(resp.Result.SupportedVersions, []string{ModernProtocolVersion}) {
			t.Errorf("discover result = %s", body)
		}
		if !bytes.Contains(body, []byte(`"name":"`+ModernServerName+`"`)) {
			t.Errorf("discover result lacks server name: %s", body)
		}
	})
	for _, tt := range []struct {
		name      string
		header    http.Header
		body      string
		code      int
		requested string
		id        string
	}{
		{"initialize without header", postHeader, initializeBody, mcp.CodeUnsupportedProtocolVersion, "2025-11-25", "1"},
		{"initialize with legacy header", withHeader(postHeader, "Mcp-Protocol-Version", "2025-06-18"), initializeBody, mcp.CodeUnsupportedProtocolVersion, "2025-06-18", "1"},
		{"tools/list without header", postHeader, `{"jsonrpc":"2.0","id":"a","method":"tools/list"}`, mcp.CodeHeaderMismatch, "", `"a"`},
		{"garbage without header", postHeader, `{{{`, mcp.CodeHeaderMismatch, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, "POST", s.URL, tt.header, tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (%s)", r.status, r.body)
			}
			var e rpcError
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("decode %s: %v", r.body, err)
			}
			if e.Error.Code != tt.code || string(e.ID) != tt.id {
				t.Errorf("error = %s, want code %d id %s", r.body, tt.code, tt.id)
			}
			if tt.code == mcp.CodeUnsupportedProtocolVersion &&
				(!slices.Equal(e.Error.Data.Supported, []string{ModernProtocolVersion}) || e.Error.Data.Requested != tt.requested) {
				t.Errorf("error data = %+v", e.Error.Data)
			}
			if !strings.Contains(e.Error.Message, ModernProtocolVersion) {
				t.Errorf("message %q does not name the supported version", e.Error.Message)
			}
		})
	}
	t.Run("GET is 405", func(t *testing.T) {
		if r := do(t, "GET", s.URL, http.Header{"Accept": {"text/event-stream"}}, ""); r.status != http.StatusMethodNotAllowed {
			t.Errorf("status = %d", r.status)
		}
	})
	t.Run("legacy sdk client fails", func(t *testing.T) {
		cs, err := connect(t.Context(), s, nil, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err == nil {
			cs.Close()
			t.Fatal("legacy initialize succeeded")
		}
	})
}

func TestModernSDKOnly(t *testing.T) {
	s := start(t, KindModern, "127.0.0.18:0", &Options{ModernSDKOnly: true})
	// The bare SDK answers a header-less legacy initialize...
	r := do(t, "POST", s.URL, postHeader, initializeBody)
	if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"protocolVersion":"2025-11-25"`)) {
		t.Errorf("initialize: %d %s", r.status, r.body)
	}
	// ...but still speaks 2026-07-28 to a modern client.
	cs, err := connect(t.Context(), s, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if v := cs.InitializeResult().ProtocolVersion; v != ModernProtocolVersion {
		t.Errorf("negotiated %s", v)
	}
}

// sseData returns the data of the first SSE event in body.
func sseData(t *testing.T, body []byte) []byte {
	t.Helper()
	for line := range strings.Lines(string(body)) {
		if data, ok := strings.CutPrefix(strings.TrimRight(line, "\r\n"), "data:"); ok {
			return []byte(strings.TrimSpace(data))
		}
	}
	t.Fatalf("no SSE data in %q", body)
	return nil
}

func TestLocalhostProtection(t *testing.T) {
	for _, tt := range []struct {
		kind    Kind
		disable bool
		host    string
		want    int
	}{
		{KindOpenStreamable, false, "rebind.invalid", http.StatusForbidden},
		{KindOpenStreamable, false, "", http.StatusOK}, // Host: 127.0.0.19:port
		{KindOpenStreamable, true, "rebind.invalid", http.StatusOK},
		{KindOpenStateless, false, "rebind.invalid", http.StatusForbidden},
		{KindOpenStateless, true, "rebind.invalid", http.StatusOK},
		{KindOpenSSE, false, "rebind.invalid", http.StatusForbidden},
	} {
		name := string(tt.kind) + " host=" + tt.host
		if tt.disable {
			name += " disabled"
		}
		t.Run(name, func(t *testing.T) {
			s := start(t, tt.kind, "127.0.0.19:0", &Options{DisableLocalhostProtection: tt.disable})
			method, body, header := "POST", initializeBody, postHeader
			if tt.kind == KindOpenSSE {
				method, body, header = "POST", "{}", http.Header{"Content-Type": {"application/json"}}
			}
			req, err := http.NewRequestWithContext(t.Context(), method, s.URL, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = header.Clone()
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := httpClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestStartRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		addr string
		opts *Options
		want string // part of the error message
	}{
		{"private IP", KindOpenStreamable, "10.0.0.1:0", nil, `"10.0.0.1:0" is not loopback`},
		{"unspecified", KindOpenStreamable, "0.0.0.0:0", nil, `"0.0.0.0:0" is not loopback`},
		{"unspecified v6", KindOpenStreamable, "[::]:0", nil, `"[::]:0" is not loopback`},
		{"empty host", KindOpenStreamable, ":0", nil, `":0": host must be an IP literal`},
		{"name", KindOpenStreamable, "localhost:0", nil, `"localhost:0": host must be an IP literal`},
		{"no port", KindOpenStreamable, "127.0.0.1", nil, `"127.0.0.1"`},
		{"bad port", KindOpenStreamable, "127.0.0.1:99999", nil, `bad port "99999"`},
		{"named port", KindOpenStreamable, "127.0.0.1:http", nil, `bad port "http"`},
		{"unknown kind", "ftp", "127.0.0.1:0", nil, `unknown kind "ftp"`},
		{"negative extra", KindOpenStreamable, "127.0.0.1:0", &Options{ExtraTools: -1}, "extra tools -1"},
		{"too many extra", KindOpenStreamable, "127.0.0.1:0", &Options{ExtraTools: MaxExtraTools + 1}, "extra tools 10001"},
		{"negative page", KindOpenStreamable, "127.0.0.1:0", &Options{PageSize: -2}, "page size -2"},
		{"relative path", KindOpenStreamable, "127.0.0.1:0", &Options{Path: "mcp"}, `path "mcp"`},
		{"root path", KindOpenStreamable, "127.0.0.1:0", &Options{Path: "/"}, `path "/"`},
		{"query path", KindOpenStreamable, "127.0.0.1:0", &Options{Path: "/mcp?x=1"}, `path "/mcp?x=1"`},
		{"dot path", KindOpenStreamable, "127.0.0.1:0", &Options{Path: "/a/../mcp"}, `path "/a/../mcp"`},
		{"well-known path", KindOAuth, "127.0.0.1:0", &Options{Path: "/.well-known/x"}, `path "/.well-known/x"`},
		{"token with space", KindOAuth, "127.0.0.1:0", &Options{BearerToken: "a b"}, `bearer token "a b"`},
		{"user with colon", KindBasic, "127.0.0.1:0", &Options{BasicUser: "a:b"}, `basic user "a:b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(t.Context(), tt.kind, tt.addr, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestCustomPath(t *testing.T) {
	for _, path := range []string{"/api/mcp", "/mcp/"} {
		t.Run(path, func(t *testing.T) {
			s := start(t, KindOAuth, "127.0.0.21:0", &Options{Path: path})
			if want := "http://" + s.Addr + path; s.URL != want {
				t.Fatalf("URL = %q, want %q", s.URL, want)
			}
			hc := clientWith(http.Header{"Authorization": {"Bearer " + s.BearerToken}})
			cs, err := connect(t.Context(), s, hc, nil)
			if err != nil {
				t.Fatal(err)
			}
			cs.Close()
			if r := do(t, "GET", s.MetadataURL, nil, ""); r.status != http.StatusOK {
				t.Errorf("metadata %s: %d", s.MetadataURL, r.status)
			}
			// Only the exact path is the endpoint.
			if r := do(t, "POST", s.URL+"x", postHeader, initializeBody); r.status != http.StatusNotFound {
				t.Errorf("POST %sx = %d, want 404", s.URL, r.status)
			}
		})
	}
}

// TestCloseEndsStreams checks that Close returns promptly with open SSE and
// GET streams, and that cancelling the start context closes the server.
func TestCloseEndsStreams(t *testing.T) {
	for _, kind := range []Kind{KindOpenSSE, KindOpenStreamable} {
		t.Run(string(kind), func(t *testing.T) {
			s, err := Start(t.Context(), kind, "127.0.0.22:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := connect(t.Context(), s, nil, nil) // holds a hanging GET
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			begin := time.Now()
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if d := time.Since(begin); d >= shutdownTimeout {
				t.Errorf("Close took %v", d)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
				t.Error("listener still accepts after Close")
			}
		})
	}
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := Start(ctx, KindWeb, "127.0.0.22:0", nil)
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		deadline := time.Now().Add(5 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", s.Addr, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatal("server still up after its context was cancelled")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close after cancel: %v", err)
		}
	})
	t.Run("nil context", func(t *testing.T) {
		var ctx context.Context // nil on purpose: the guard must catch it
		if _, err := Start(ctx, KindWeb, "127.0.0.22:0", nil); err == nil || !strings.Contains(err.Error(), "nil context") {
			t.Errorf("Start(nil) = %v", err)
		}
	})
	t.Run("cancelled before start", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Start(ctx, KindWeb, "127.0.0.22:0", nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Start = %v, want context.Canceled", err)
		}
	})
}

func TestStartLab(t *testing.T) {
	l, err := StartLab(t.Context(), &LabOptions{FirstIP: "127.0.0.30", Options: Options{ExtraTools: 2}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if len(l.Servers) != len(Kinds()) {
		t.Fatalf("%d servers, want %d", len(l.Servers), len(Kinds()))
	}
	ips := map[netip.Addr]bool{}
	for i, s := range l.Servers {
		if s.Kind != Kinds()[i] || l.Server(s.Kind) != s {
			t.Errorf("server %d is %s", i, s.Kind)
		}
		ap, err := netip.ParseAddrPort(s.Addr)
		if err != nil || !ap.Addr().IsLoopback() || ips[ap.Addr()] {
			t.Errorf("server %s bound to %s", s.Kind, s.Addr)
		}
		ips[ap.Addr()] = true
		if !strings.HasPrefix(s.URL, "http://"+s.Addr+"/") {
			t.Errorf("URL %q not on %s", s.URL, s.Addr)
		}
		if s.Kind.IsMCP() && len(s.Tools) != len(ToolNames(s.Kind))+2 {
			t.Errorf("%s tools = %v", s.Kind, s.Tools)
		}
	}
	if want := netip.MustParseAddr("127.0.0.30"); !ips[want] {
		t.Errorf("no server on %s", want)
	}
	// A quick liveness check of one open server through the lab.
	cs, err := connect(t.Context(), l.Server(KindOpenStateless), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs.Close()
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if l.Server("nope") != nil {
		t.Error("Server(nope) != nil")
	}
}

func TestStartLabRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		opts *LabOptions
		want string
	}{
		{"public first IP", &LabOptions{FirstIP: "192.0.2.1"}, `first IP "192.0.2.1"`},
		{"v6 first IP", &LabOptions{FirstIP: "::1"}, `first IP "::1"`},
		{"bad port", &LabOptions{Port: 70000}, "port 70000"},
		{"duplicate kind", &LabOptions{Kinds: []Kind{KindWeb, KindWeb}}, `kind "web" listed twice`},
		{"unknown kind", &LabOptions{Kinds: []Kind{"gopher"}}, `unknown kind "gopher"`},
		{"runs out of loopback", &LabOptions{FirstIP: "127.255.255.255", Kinds: []Kind{KindWeb, KindModern}}, `no loopback address left for kind "modern"`},
		{"bad server option", &LabOptions{Options: Options{PageSize: -1}}, "page size -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := StartLab(t.Context(), tt.opts)
			if err == nil {
				l.Close()
				t.Fatal("StartLab succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range Kinds() {
		got, err := ParseKind(string(k))
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if _, err := ParseKind("Open-Streamable"); err == nil {
		t.Error("ParseKind is case-insensitive")
	}
	if ToolNames(KindWeb) != nil || HasResources(KindWeb) || KindWeb.IsMCP() {
		t.Error("web kind claims MCP features")
	}
}

func TestLogHidesSecrets(t *testing.T) {
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	s := start(t, KindOAuth, "127.0.0.23:0", &Options{BearerToken: "very-secret-token", Logger: logger})
	logger.Info("explicit", "server", s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "very-secret-token") || !strings.Contains(out, "url="+s.URL) ||
		!strings.Contains(out, "lab server started") || !strings.Contains(out, "lab server stopped") {
		t.Errorf("log = %q", out)
	}
}

// lockedBuffer is a bytes.Buffer safe for the logger's concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
