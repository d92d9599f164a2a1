package gate

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Upstream kinds the tests run.
const (
	upStateful  = "stateful"  // streamable HTTP, sessions, SSE responses
	upStateless = "stateless" // streamable HTTP, no sessions, JSON responses
	upSSE       = "sse"       // legacy HTTP+SSE
)

// upstream is a real go-sdk MCP server that counts what reaches it and
// notes any client credential that leaks through the gate.
type upstream struct {
	srv      *httptest.Server
	url      string
	requests atomic.Int64
	leaks    atomic.Int64
	mu       sync.Mutex
	calls    map[string]int // tool name -> handler invocations
	sawAuth  []string       // values of the upstream credential header
}

func (u *upstream) toolCalls(name string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls[name]
}

const upstreamCredHeader = "X-Upstream-Key"

func startUpstream(t *testing.T, kind string) *upstream {
	t.Helper()
	u := &upstream{calls: map[string]int{}}
	srv := mcp.NewServer(&mcp.Implementation{Name: "gate-test-upstream", Version: "1.0.0"}, nil)
	type textIn struct {
		Text string `json:"text"`
	}
	for _, name := range []string{"echo", "run_shell_command", "read_file", "Echo"} {
		mcp.AddTool(srv, &mcp.Tool{Name: name, Description: "test tool " + name},
			func(ctx context.Context, req *mcp.CallToolRequest, in textIn) (*mcp.CallToolResult, any, error) {
				u.mu.Lock()
				u.calls[name]++
				u.mu.Unlock()
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + in.Text}}}, nil, nil
			})
	}
	for _, uri := range []string{"file:///public.txt", "file:///secret.txt"} {
		srv.AddResource(&mcp.Resource{URI: uri, Name: strings.TrimPrefix(uri, "file:///")},
			func(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
				return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, Text: "content of " + uri}}}, nil
			})
	}
	for _, name := range []string{"greet", "admin_prompt"} {
		srv.AddPrompt(&mcp.Prompt{Name: name}, func(ctx context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: name}}}}, nil
		})
	}
	get := func(*http.Request) *mcp.Server { return srv }
	var h http.Handler
	path := "/mcp"
	switch kind {
	case upStateful:
		h = mcp.NewStreamableHTTPHandler(get, nil)
	case upStateless:
		h = mcp.NewStreamableHTTPHandler(get, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	case upSSE:
		h = mcp.NewSSEHandler(get, nil)
		path = "/sse"
	default:
		t.Fatalf("unknown upstream kind %q", kind)
	}
	mux := http.NewServeMux()
	mux.Handle(path, h)
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.requests.Add(1)
		if r.Header.Get("Authorization") != "" || r.Header.Get("X-Api-Key") != "" || r.Header.Get("Cookie") != "" {
			u.leaks.Add(1)
		}
		if v := r.Header.Get(upstreamCredHeader); v != "" {
			u.mu.Lock()
			u.sawAuth = append(u.sawAuth, v)
			u.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	u.url = u.srv.URL + path
	return u
}

// tokenAuth is a test authenticator: a static map of bearer tokens (also
// accepted as X-API-Key) to principals.
type tokenAuth map[string]*auth.Principal

func (a tokenAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	tok := r.Header.Get("X-API-Key")
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "bearer") {
			return nil, auth.ErrNoCredentials
		}
		tok = strings.TrimSpace(rest)
	}
	if tok == "" {
		return nil, auth.ErrNoCredentials
	}
	p, ok := a[tok]
	if !ok {
		return nil, fmt.Errorf("test: unknown token: %w", auth.ErrInvalidCredentials)
	}
	cp := *p
	return &cp, nil
}

var testPrincipals = tokenAuth{
	"alice-token": {Subject: "alice", Method: "apikey", KeyName: "alice", Scopes: []string{"mcp"}},
	"bob-token":   {Subject: "bob", Method: "oauth", Issuer: "https://issuer.test", Groups: []string{"admin"}, Scopes: []string{"mcp"}},
	"carol-token": {Subject: "carol", Method: "oauth", Issuer: "https://issuer.test"},
}

// testPolicy: everyone may use echo, the public resource and the greet
// prompt; only group admin may use read_file; nothing else.
var testPolicy = &Policy{Rules: []Rule{
	{Effect: Allow, Kinds: []Kind{KindTool}, Names: []string{"echo"}},
	{Effect: Allow, Kinds: []Kind{KindTool}, Names: []string{"read_file"}, Groups: []string{"admin"}},
	{Effect: Allow, Kinds: []Kind{KindResource}, Names: []string{"file:///public.txt"}},
	{Effect: Allow, Kinds: []Kind{KindPrompt}, Names: []string{"greet"}},
}}

// memSink is an in-memory audit sink.
type memSink struct {
	mu     sync.Mutex
	recs   []audit.Record
	closed bool
}

func (m *memSink) Write(_ context.Context, r *audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, *r)
	return nil
}

func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func (m *memSink) records() []audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]audit.Record(nil), m.recs...)
}

type testGate struct {
	g    *Gate
	srv  *httptest.Server
	url  string // the gate's MCP endpoint
	sink *memSink
}

// startGate puts a gate with the test authenticator and policy in front
// of u; tweak may adjust the options.
func startGate(t *testing.T, u *upstream, tweak func(*Options)) *testGate {
	t.Helper()
	sink := &memSink{}
	opts := Options{
		Routes: []Route{{
			Upstream:       u.url,
			UpstreamHeader: http.Header{upstreamCredHeader: {"upstream-secret"}},
			Authenticators: []Authenticator{testPrincipals},
			Policy:         testPolicy,
			Metadata:       &ResourceMetadata{AuthorizationServers: []string{"https://issuer.test"}, ScopesSupported: []string{"mcp"}},
		}},
		Audit: sink,
	}
	if tweak != nil {
		tweak(&opts)
	}
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() { srv.Close(); g.Close() })
	return &testGate{g: g, srv: srv, url: srv.URL + g.Paths()[0], sink: sink}
}

// bearer is a RoundTripper adding a credential to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	r.Header.Set("Cookie", "session=client-cookie")
	return b.base.RoundTrip(r)
}

func clientFor(token string) *http.Client {
	return &http.Client{Transport: bearer{token: token, base: http.DefaultTransport}}
}

// newLoopbackServer serves h on 127.0.0.1 and returns its base URL.
func newLoopbackServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
