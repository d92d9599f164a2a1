package gate

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

// tsGateScope is the scope the gate advertises and the JWT authenticator
// requires; the SDK must ask the issuer for it.
const tsGateScope = "mcp:tools"

// tsGate is a gate guarding a go-sdk upstream with API keys and with JWTs
// from an in-repo issuer, for the TypeScript SDK client.
type tsGate struct {
	iss    *mcptest.Issuer
	up     *upstream
	jwt    *auth.JWT
	sink   *memSink
	base   string // http://127.0.0.1:port
	url    string // the MCP endpoint (or SSE stream): the canonical resource
	apiKey string

	mu   sync.Mutex
	seen []string // "METHOD path" of every request the gate got
}

func (g *tsGate) requests(method, path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, s := range g.seen {
		if s == method+" "+path {
			n++
		}
	}
	return n
}

func startTSGate(t *testing.T, kind string) *tsGate {
	t.Helper()
	iss, err := mcptest.StartIssuer("127.0.0.1:0", &mcptest.IssuerOptions{ScopesSupported: []string{tsGateScope}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	u := startUpstream(t, kind)
	key, line, err := auth.NewKey("ts-bot")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.LoadAPIKeys("ts keys", strings.NewReader(line+"\n"))
	if err != nil {
		t.Fatal(err)
	}

	// The token audience is the gate's own URL, so the listener comes first.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	base := "http://" + srv.Listener.Addr().String()
	resource := base + "/mcp"
	if kind == upSSE {
		resource = base + "/sse"
	}
	jwt, err := auth.NewJWT(t.Context(), auth.JWTOptions{
		Issuer:         iss.URL,
		Audiences:      []string{resource},
		RequiredScopes: []string{tsGateScope},
	})
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	g, err := New(Options{
		Routes: []Route{{
			Upstream:       u.url,
			UpstreamHeader: http.Header{upstreamCredHeader: {"upstream-secret"}},
			Authenticators: []Authenticator{keys, jwt},
			Policy:         testPolicy,
			Metadata:       &ResourceMetadata{AuthorizationServers: []string{iss.URL}, ScopesSupported: []string{tsGateScope}},
		}},
		Audit: sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	tg := &tsGate{iss: iss, up: u, jwt: jwt, sink: sink, base: base, url: resource, apiKey: key}
	h := g.Handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tg.mu.Lock()
		tg.seen = append(tg.seen, r.Method+" "+r.URL.Path)
		tg.mu.Unlock()
		h.ServeHTTP(w, r)
	})
	srv.Start()
	return tg
}

// TestTSClientThroughGate runs the official TypeScript SDK client
// (@modelcontextprotocol/sdk, pinned in testdata/npm) through the gate,
// with an API key and with the SDK's own OAuth flow against the in-repo
// issuer, over streamable HTTP and legacy SSE: the tool list comes back
// filtered, the allowed tool answers, the denied one is refused without
// reaching the upstream, and the audit trail names the principal.
func TestTSClientThroughGate(t *testing.T) {
	tests := []struct {
		name      string
		upstream  string
		transport string
		mode      string
	}{
		{"streamable apikey", upStateful, mcptest.TSClientStreamable, mcptest.TSClientAPIKey},
		{"streamable oauth", upStateful, mcptest.TSClientStreamable, mcptest.TSClientOAuth},
		{"stateless oauth", upStateless, mcptest.TSClientStreamable, mcptest.TSClientOAuth},
		{"legacy sse apikey", upSSE, mcptest.TSClientSSE, mcptest.TSClientAPIKey},
		{"legacy sse oauth", upSSE, mcptest.TSClientSSE, mcptest.TSClientOAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startTSGate(t, tt.upstream)
			opts := mcptest.TSClientOptions{URL: tg.url, Mode: tt.mode, Transport: tt.transport}
			if tt.mode == mcptest.TSClientAPIKey {
				opts.APIKey = tg.apiKey
			}
			run, err := mcptest.RunTSClient(t.Context(), t, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range run.Requests {
				if !strings.HasPrefix(q.URL, tg.base+"/") && !strings.HasPrefix(q.URL, tg.iss.URL+"/") {
					t.Errorf("client requested %s %s, neither the gate nor the issuer", q.Method, q.URL)
				}
			}

			wantPrincipal := "apikey::ts-bot"
			if tt.mode == mcptest.TSClientOAuth {
				checkTSOAuth(t, tg, run)
				wantPrincipal = "oauth:" + tg.iss.URL + ":test-user"
			} else if n := tg.iss.TokenRequests(); n != 0 {
				t.Errorf("API key run: issuer got %d token requests, want 0", n)
			}

			if want := []string{"echo"}; !slices.Equal(run.Tools, want) {
				t.Errorf("tools/list through the gate = %q, want %q (filtered)", run.Tools, want)
			}
			if run.Allowed == nil || run.Allowed.IsError || run.Allowed.Text != "echo:hello from ts" {
				t.Errorf("allowed call = %+v, want text %q", run.Allowed, "echo:hello from ts")
			}
			switch {
			case run.Denied == nil || run.Denied.Error == nil:
				t.Errorf("denied call = %+v, want a JSON-RPC error", run.Denied)
			case string(run.Denied.Error.Code) != "-32001" || !strings.Contains(run.Denied.Error.Message, "forbidden"):
				t.Errorf("denied call error = %+v, want code %d forbidden", run.Denied.Error, CodeForbidden)
			}
			if n := tg.up.toolCalls("run_shell_command"); n != 0 {
				t.Errorf("upstream ran the denied tool %d times", n)
			}
			if n := tg.up.toolCalls("echo"); n != 1 {
				t.Errorf("upstream ran echo %d times, want 1", n)
			}
			if n := tg.up.leaks.Load(); n != 0 {
				t.Errorf("%d upstream requests carried the client's credential", n)
			}
			checkTSAudit(t, tg.sink.records(), wantPrincipal, tt.mode)
		})
	}
}

// checkTSOAuth asserts what the SDK's OAuth flow did, as seen by the
// client, the gate and the issuer.
func checkTSOAuth(t *testing.T, tg *tsGate, run *mcptest.TSClientRun) {
	t.Helper()
	iss := tg.iss
	if run.FirstConnect == nil || run.FirstConnect.Name != "UnauthorizedError" {
		t.Errorf("first connect = %+v, want UnauthorizedError", run.FirstConnect)
	}
	// RFC 9728: the 401 led the SDK to the gate's metadata document.
	prmPath := "/.well-known/oauth-protected-resource" + strings.TrimPrefix(tg.url, tg.base)
	if n := tg.requests(http.MethodGet, prmPath); n < 1 {
		t.Errorf("gate served %s %d times, want at least 1", prmPath, n)
	}
	if reqs := run.RequestsTo(http.MethodGet, tg.base+prmPath); len(reqs) < 1 || reqs[0].Status != http.StatusOK {
		t.Errorf("client's protected resource metadata requests = %+v, want a 200", reqs)
	}
	// RFC 8414 discovery, RFC 7591 registration, authorization, token.
	if reqs := run.RequestsTo(http.MethodGet, iss.URL+"/.well-known/oauth-authorization-server"); len(reqs) < 1 || reqs[0].Status != http.StatusOK {
		t.Errorf("authorization server metadata requests = %+v, want a 200", reqs)
	}
	if reqs := run.RequestsTo(http.MethodPost, iss.URL+"/register"); len(reqs) != 1 || reqs[0].Status != http.StatusCreated {
		t.Errorf("registration requests = %+v, want one 201", reqs)
	}
	if reqs := run.RequestsTo(http.MethodGet, iss.URL+"/authorize"); len(reqs) != 1 || reqs[0].Status != http.StatusFound {
		t.Errorf("authorization requests = %+v, want one 302", reqs)
	}
	if reqs := run.RequestsTo(http.MethodPost, iss.URL+"/token"); len(reqs) != 1 || reqs[0].Status != http.StatusOK {
		t.Errorf("token requests seen by the client = %+v, want one 200", reqs)
	}
	if n := iss.TokenRequests(); n != 1 {
		t.Errorf("issuer got %d token requests, want 1", n)
	}

	if run.Client == nil || !strings.HasPrefix(run.Client.ClientID, "client-") || run.Client.AuthMethod != "none" || run.Client.HasSecret {
		t.Errorf("registered client = %+v, want a public client from /register", run.Client)
	}
	a := run.Authorization
	switch {
	case a == nil:
		t.Fatal("no authorization request recorded")
	case a.Origin != iss.URL || a.Path != "/authorize":
		t.Errorf("authorization endpoint = %s%s, want %s/authorize", a.Origin, a.Path, iss.URL)
	case a.CodeChallengeMethod != "S256" || !a.HasCodeChallenge:
		t.Errorf("PKCE: method %q, challenge present %v; want S256 with a challenge", a.CodeChallengeMethod, a.HasCodeChallenge)
	case a.Resource != tg.url:
		t.Errorf("RFC 8707 resource = %q, want the gate URL %q", a.Resource, tg.url)
	case a.Scope != tsGateScope:
		t.Errorf("requested scope = %q, want %q (from the challenge)", a.Scope, tsGateScope)
	case run.Client != nil && a.ClientID != run.Client.ClientID:
		t.Errorf("authorization client_id = %q, registered %q", a.ClientID, run.Client.ClientID)
	case a.CallbackIss != iss.URL:
		t.Errorf("callback iss = %q, want %q", a.CallbackIss, iss.URL)
	}

	tok := run.Token
	if tok == nil || tok.AccessToken == "" {
		t.Fatalf("no access token in the report: %+v", tok)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") || !tok.HasRefreshToken || tok.Saved != 1 {
		t.Errorf("token response = type %q, refresh token %v, saved %d times; want Bearer, true, 1", tok.TokenType, tok.HasRefreshToken, tok.Saved)
	}
	claims := jwtPayload(t, tok.AccessToken)
	if claims["aud"] != tg.url {
		t.Errorf("token aud = %v, want the gate URL %q", claims["aud"], tg.url)
	}
	if claims["iss"] != iss.URL || claims["sub"] != "test-user" || claims["scope"] != tsGateScope {
		t.Errorf("token claims iss %v sub %v scope %v; want %s test-user %s", claims["iss"], claims["sub"], claims["scope"], iss.URL, tsGateScope)
	}
	if run.Client != nil && claims["client_id"] != run.Client.ClientID {
		t.Errorf("token client_id = %v, want the registered %q", claims["client_id"], run.Client.ClientID)
	}
	p, err := tg.jwt.Verify(t.Context(), tok.AccessToken)
	if err != nil {
		t.Fatalf("the gate's authenticator rejects the SDK's token: %v", err)
	}
	if p.Subject != "test-user" || p.Issuer != iss.URL || p.Method != "oauth" {
		t.Errorf("principal from the token = %+v", p)
	}
}

// jwtPayload decodes (without verifying) a JWT's claims.
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT (%d parts)", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("access token payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("access token payload: %v", err)
	}
	return c
}

// checkTSAudit asserts the audit trail of one client run: every record is
// the principal's, tools/list, the allowed and the denied call are there.
func checkTSAudit(t *testing.T, recs []audit.Record, principal, method string) {
	t.Helper()
	var lists, allowed, denied int
	for _, r := range recs {
		if r.Principal == "anonymous" || r.Principal == "" {
			continue // the OAuth run's unauthenticated first attempt
		}
		if r.Principal != principal || r.AuthMethod != method {
			t.Errorf("audit record of %q (%s), want %q (%s): %+v", r.Principal, r.AuthMethod, principal, method, r)
		}
		switch {
		case r.Method == "tools/list" && r.Decision == "allow":
			lists++
		case r.Method == "tools/call" && r.Name == "echo" && r.Decision == "allow":
			allowed++
		case r.Method == "tools/call" && r.Name == "run_shell_command" && r.Decision == "deny":
			denied++
			if r.ArgsDigest == "" {
				t.Errorf("deny record without an arguments digest: %+v", r)
			}
		}
	}
	if lists != 1 || allowed != 1 || denied != 1 {
		t.Errorf("audit for %s: %d tools/list, %d allowed echo, %d denied run_shell_command records; want 1 each (all records: %+v)", principal, lists, allowed, denied, recs)
	}
}
