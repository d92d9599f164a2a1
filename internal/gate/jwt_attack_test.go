package gate

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// jwtGate is a gate guarding a stateless go-sdk upstream with real JWT
// verification against an in-repo issuer.
type jwtGate struct {
	iss  *mcptest.Issuer
	up   *upstream
	base string // the gate's origin, http://127.0.0.1:port
	url  string // the gate's MCP endpoint (the canonical resource)
}

// Scopes the JWT gate requires, in the order they must appear in the
// insufficient_scope challenge.
var jwtGateScopes = []string{"mcp:read", "mcp:tools"}

const jwtExtraAudience = "extra-client-id"

func startJWTGate(t *testing.T) *jwtGate {
	t.Helper()
	iss, err := mcptest.StartIssuer("127.0.0.1:0", &mcptest.IssuerOptions{ScopesSupported: jwtGateScopes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	u := startUpstream(t, upStateless)

	// The audience is the gate's own URL, so the listener comes first.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	resource := base + "/mcp"
	jwt, err := auth.NewJWT(t.Context(), auth.JWTOptions{
		Issuer:         iss.URL,
		Audiences:      []string{resource, jwtExtraAudience},
		RequiredScopes: jwtGateScopes,
	})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	g, err := New(Options{Routes: []Route{{
		Upstream:       u.url,
		Authenticators: []Authenticator{jwt},
		Metadata:       &ResourceMetadata{AuthorizationServers: []string{iss.URL}, ScopesSupported: jwtGateScopes},
	}}})
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	srv.Config.Handler = g.Handler()
	srv.Start()
	t.Cleanup(func() { srv.Close(); g.Close() })
	return &jwtGate{iss: iss, up: u, base: base, url: resource}
}

func mustMint(t *testing.T, iss *mcptest.Issuer, o mcptest.MintOptions, claims map[string]any) string {
	t.Helper()
	tok, err := iss.MintWith(o, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestJWTAttackCorpus sends hostile and broken OAuth tokens through a gate
// verifying JWTs against a real issuer's JWKS. Each case asserts the exact
// status, the exact WWW-Authenticate challenge, and that the upstream saw
// nothing; the valid token (and the extra configured audience) then get
// through.
func TestJWTAttackCorpus(t *testing.T) {
	jg := startJWTGate(t)
	iss := jg.iss
	metaURL := jg.base + "/.well-known/oauth-protected-resource/mcp"
	scopes := jwtGateScopes
	claims := func(edit func(map[string]any)) map[string]any {
		c := iss.Claims("alice", jg.url, scopes...)
		if edit != nil {
			edit(c)
		}
		return c
	}
	mint := func(o mcptest.MintOptions, edit func(map[string]any)) string {
		return mustMint(t, iss, o, claims(edit))
	}
	rs := mcptest.MintOptions{}
	valid := mint(rs, nil)
	now := time.Now()

	challengeNone := `Bearer resource_metadata="` + metaURL + `", scope="mcp:read mcp:tools"`
	challengeInvalid := `Bearer error="invalid_token", resource_metadata="` + metaURL + `", scope="mcp:read mcp:tools"`
	challengeScope := `Bearer error="insufficient_scope", resource_metadata="` + metaURL + `", scope="mcp:read mcp:tools"`
	challengeQuery := `Bearer error="invalid_request", error_description="credentials are accepted only in the Authorization or X-API-Key header"`

	tests := []struct {
		name      string
		query     string
		authz     string // Authorization header value; "" sends none
		status    int
		challenge string
	}{
		{"missing token", "", "", 401, challengeNone},
		{"non-bearer scheme", "", "Basic YWxpY2U6eA==", 401, challengeNone},
		{"empty bearer", "", "Bearer ", 401, challengeInvalid},
		{"garbled token", "", "Bearer not-a-jwt", 401, challengeInvalid},
		{"garbled three parts", "", "Bearer aaa.bbb.ccc", 401, challengeInvalid},
		{"truncated signature", "", "Bearer " + valid[:len(valid)-8], 401, challengeInvalid},
		{"tampered payload", "", "Bearer " + tamper(t, valid), 401, challengeInvalid},
		{"expired", "", "Bearer " + mint(rs, func(c map[string]any) {
			c["exp"] = now.Add(-10 * time.Minute).Unix()
			c["iat"] = now.Add(-20 * time.Minute).Unix()
			c["nbf"] = now.Add(-20 * time.Minute).Unix()
		}), 401, challengeInvalid},
		{"not yet valid", "", "Bearer " + mint(rs, func(c map[string]any) { c["nbf"] = now.Add(10 * time.Minute).Unix() }), 401, challengeInvalid},
		{"wrong issuer", "", "Bearer " + mint(rs, func(c map[string]any) { c["iss"] = "http://127.0.0.1:9/other-issuer" }), 401, challengeInvalid},
		{"issuer with trailing slash", "", "Bearer " + mint(rs, func(c map[string]any) { c["iss"] = iss.URL + "/" }), 401, challengeInvalid},
		{"wrong audience", "", "Bearer " + mint(rs, func(c map[string]any) { c["aud"] = "some-other-client" }), 401, challengeInvalid},
		{"missing audience", "", "Bearer " + mint(rs, func(c map[string]any) { delete(c, "aud") }), 401, challengeInvalid},
		{"token for another resource", "", "Bearer " + mint(rs, func(c map[string]any) { c["aud"] = jg.base + "/other" }), 401, challengeInvalid},
		{"token for the same path on another port", "", "Bearer " + mint(rs, func(c map[string]any) { c["aud"] = "http://127.0.0.1:1/mcp" }), 401, challengeInvalid},
		{"unknown kid", "", "Bearer " + mint(mcptest.MintOptions{KeyID: "no-such-kid"}, nil), 401, challengeInvalid},
		{"alg none", "", "Bearer " + mint(mcptest.MintOptions{Alg: "none"}, nil), 401, challengeInvalid},
		{"alg none without kid", "", "Bearer " + mint(mcptest.MintOptions{Alg: "none", NoKeyID: true}, nil), 401, challengeInvalid},
		{"HS256 keyed with the RSA public key", "", "Bearer " + mint(mcptest.MintOptions{Alg: "HS256"}, nil), 401, challengeInvalid},
		{"foreign RSA key with a known kid", "", "Bearer " + mint(mcptest.MintOptions{Foreign: true}, nil), 401, challengeInvalid},
		{"foreign EC key with a known kid", "", "Bearer " + mint(mcptest.MintOptions{Alg: "ES256", Foreign: true}, nil), 401, challengeInvalid},
		{"token in the query string only", "?access_token=" + valid, "", 400, challengeQuery},
		{"valid token also in the query string", "?access_token=" + valid, "Bearer " + valid, 400, challengeQuery},
		{"no scopes", "", "Bearer " + mint(rs, func(c map[string]any) { delete(c, "scope") }), 403, challengeScope},
		{"one of two scopes", "", "Bearer " + mint(rs, func(c map[string]any) { c["scope"] = "mcp:read" }), 403, challengeScope},
		{"scope prefix is not the scope", "", "Bearer " + mint(rs, func(c map[string]any) { c["scope"] = "mcp:read mcp:tool" }), 403, challengeScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.authz != "" {
				hdr["Authorization"] = tt.authz
			}
			before := jg.up.requests.Load()
			status, h, body := send(t, "POST", jg.url+tt.query, hdr, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			if status != tt.status {
				t.Errorf("status = %d, want %d; body %.300s", status, tt.status, body)
			}
			if got := h.Values("WWW-Authenticate"); len(got) != 1 || got[0] != tt.challenge {
				t.Errorf("WWW-Authenticate = %q\nwant %q", got, tt.challenge)
			}
			if n := jg.up.requests.Load() - before; n != 0 {
				t.Errorf("the upstream saw %d requests", n)
			}
		})
	}
	if n := jg.up.requests.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests from the corpus", n)
	}

	// The valid token, and one for the extra configured audience, list the
	// upstream's tools through the official SDK client.
	for _, tc := range []struct{ name, token string }{
		{"valid token", valid},
		{"extra configured audience", mint(rs, func(c map[string]any) { c["aud"] = []string{"unrelated", jwtExtraAudience} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := jg.up.requests.Load()
			client := mcp.NewClient(&mcp.Implementation{Name: "jwt-gate-test", Version: "0"}, nil)
			cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: jg.url, HTTPClient: clientFor(tc.token), MaxRetries: -1}, nil)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			res, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
			}
			slices.Sort(names)
			if want := []string{"Echo", "echo", "read_file", "run_shell_command"}; !slices.Equal(names, want) {
				t.Errorf("tools = %v, want %v", names, want)
			}
			if jg.up.requests.Load() == before {
				t.Error("the upstream saw nothing for a valid token")
			}
		})
	}
	if n := jg.up.leaks.Load(); n != 0 {
		t.Errorf("%d upstream requests carried client credentials", n)
	}
}

// tamper replaces the payload of a signed token without re-signing it.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory"}`))
	return strings.Join(parts, ".")
}

// TestJWTResourceMetadata checks the gate's RFC 9728 document: served at
// the well-known path plus the route path (and, for a single OAuth route,
// at the bare well-known path), naming the gate's endpoint as the resource
// and the issuer as its only authorization server, without credentials.
func TestJWTResourceMetadata(t *testing.T) {
	jg := startJWTGate(t)
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		t.Run(path, func(t *testing.T) {
			resp, err := http.Get(jg.base + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var doc struct {
				Resource             string   `json:"resource"`
				AuthorizationServers []string `json:"authorization_servers"`
				ScopesSupported      []string `json:"scopes_supported"`
				BearerMethods        []string `json:"bearer_methods_supported"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatalf("metadata %s: %v", b, err)
			}
			if doc.Resource != jg.url {
				t.Errorf("resource = %q, want %q", doc.Resource, jg.url)
			}
			if !slices.Equal(doc.AuthorizationServers, []string{jg.iss.URL}) {
				t.Errorf("authorization_servers = %v, want [%s]", doc.AuthorizationServers, jg.iss.URL)
			}
			if !slices.Equal(doc.ScopesSupported, jwtGateScopes) {
				t.Errorf("scopes_supported = %v, want %v", doc.ScopesSupported, jwtGateScopes)
			}
			if !slices.Equal(doc.BearerMethods, []string{"header"}) {
				t.Errorf("bearer_methods_supported = %v, want [header]", doc.BearerMethods)
			}
		})
	}
	// Foreign Host: the document is not served to a rebinding page.
	status, _, _ := send(t, "GET", jg.base+"/.well-known/oauth-protected-resource/mcp", nil, "evil.example", "")
	if status != 403 {
		t.Errorf("metadata with a foreign Host: status %d, want 403", status)
	}
	if n := jg.up.requests.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests", n)
	}
}
