package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

func TestChallengeHeader(t *testing.T) {
	const md = "https://gw.example/.well-known/oauth-protected-resource/mcp"
	tests := []struct {
		name   string
		scopes []string
		code   string
		desc   string
		md     string
		want   string
	}{
		{"no token", []string{"mcp:tools"}, "", "", md,
			`Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`},
		{"invalid token", nil, "invalid_token", "token expired", md,
			`Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", error="invalid_token", error_description="token expired"`},
		{"insufficient scope, all scopes", []string{"tools:read", "tools:call", "admin"}, "insufficient_scope", "", md,
			`Bearer resource_metadata="https://gw.example/.well-known/oauth-protected-resource/mcp", scope="tools:read tools:call admin", error="insufficient_scope"`},
		{"quotes escaped", nil, "invalid_token", `say "hi" \ bye`, "",
			`Bearer error="invalid_token", error_description="say \"hi\" \\ bye"`},
		{"header injection", nil, "", "a\r\nSet-Cookie: x=1", "", `Bearer error_description="a  Set-Cookie: x=1"`},
		{"nothing", nil, "", "", "", `Bearer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ChallengeHeader(tt.md, tt.scopes, tt.code, tt.desc); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
	rec := httptest.NewRecorder()
	Challenge(rec, http.StatusForbidden, md, []string{"a", "b"}, "insufficient_scope", "")
	if rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != `Bearer resource_metadata="`+md+`", scope="a b", error="insufficient_scope"` {
		t.Errorf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestProtectedResourceMetadata(t *testing.T) {
	for _, tt := range []struct{ resource, path, url string }{
		{"https://gw.example/mcp", "/.well-known/oauth-protected-resource/mcp", "https://gw.example/.well-known/oauth-protected-resource/mcp"},
		{"https://gw.example:8443/", "/.well-known/oauth-protected-resource", "https://gw.example:8443/.well-known/oauth-protected-resource"},
		{"https://gw.example", "/.well-known/oauth-protected-resource", "https://gw.example/.well-known/oauth-protected-resource"},
		{"http://127.0.0.1:8080/a/b/", "/.well-known/oauth-protected-resource/a/b", "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b"},
	} {
		p, err := MetadataPath(tt.resource)
		u, err2 := MetadataURL(tt.resource)
		if err != nil || err2 != nil || p != tt.path || u != tt.url {
			t.Errorf("%s: %q %q %v %v", tt.resource, p, u, err, err2)
		}
	}
	for _, bad := range []string{"", "/mcp", "ftp://h/x", "https://h/mcp#frag", "https:///nohost"} {
		if _, err := MetadataPath(bad); err == nil {
			t.Errorf("MetadataPath(%q) accepted", bad)
		}
	}

	m := &ProtectedResourceMetadata{Resource: "https://gw.example/mcp", AuthorizationServers: []string{"https://idp.example"}, ScopesSupported: []string{"tools:call"}, ResourceName: "gate"}
	h, err := m.Handler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil))
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body, err)
	}
	want := `{"resource":"https://gw.example/mcp","authorization_servers":["https://idp.example"],"scopes_supported":["tools:call"],"bearer_methods_supported":["header"],"resource_name":"gate"}`
	if rec.Body.String() != want {
		t.Errorf("body\n%s\nwant\n%s", rec.Body, want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
	for _, bad := range []*ProtectedResourceMetadata{
		{Resource: "https://gw.example/mcp"},
		{Resource: "gw.example/mcp", AuthorizationServers: []string{"https://idp.example"}},
		{Resource: "https://gw.example/mcp", AuthorizationServers: []string{"idp"}},
	} {
		if _, err := bad.Handler(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

type fixedAuth struct {
	p   *Principal
	err error
	n   *int
}

func (f fixedAuth) Authenticate(*http.Request) (*Principal, error) {
	*f.n++
	return f.p, f.err
}

func TestChain(t *testing.T) {
	alice := &Principal{Subject: "alice", Method: "apikey"}
	bob := &Principal{Subject: "bob", Method: "oauth"}
	bad := invalid("oauth", ReasonExpired, "")
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil)
	var n1, n2, n3 int
	tests := []struct {
		name  string
		auths []Authenticator
		want  *Principal
		err   error
		calls [3]int
	}{
		{"empty", nil, nil, ErrNoCredentials, [3]int{}},
		{"all none", []Authenticator{fixedAuth{nil, ErrNoCredentials, &n1}, fixedAuth{nil, ErrNoCredentials, &n2}}, nil, ErrNoCredentials, [3]int{1, 1, 0}},
		{"second wins", []Authenticator{fixedAuth{nil, ErrNoCredentials, &n1}, fixedAuth{alice, nil, &n2}, fixedAuth{bob, nil, &n3}}, alice, nil, [3]int{1, 1, 0}},
		{"refusal ends the chain", []Authenticator{fixedAuth{nil, bad, &n1}, fixedAuth{bob, nil, &n2}}, nil, ErrInvalidCredentials, [3]int{1, 0, 0}},
		{"nil principal is refused", []Authenticator{fixedAuth{nil, nil, &n1}, fixedAuth{bob, nil, &n2}}, nil, ErrInvalidCredentials, [3]int{1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n1, n2, n3 = 0, 0, 0
			p, err := Chain(tt.auths...).Authenticate(r)
			if p != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
				t.Errorf("got %v, %v; want %v, %v", p, err, tt.want, tt.err)
			}
			if [3]int{n1, n2, n3} != tt.calls {
				t.Errorf("calls %v, want %v", [3]int{n1, n2, n3}, tt.calls)
			}
		})
	}
}

func TestChainRealAuthenticators(t *testing.T) {
	iss := startIssuer(t)
	j := newTestJWT(t, iss, nil)
	key, line, _ := NewKey("bot")
	keys, err := LoadAPIKeys("k", strings.NewReader(line))
	if err != nil {
		t.Fatal(err)
	}
	c := Chain(j, keys)
	if p, err := c.Authenticate(bearerRequest(key)); err != nil || p.Method != "apikey" {
		t.Errorf("api key through the chain: %+v %v", p, err)
	}
	if p, err := c.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{}, nil))); err != nil || p.Method != "oauth" {
		t.Errorf("jwt through the chain: %+v %v", p, err)
	}
	if _, err := c.Authenticate(bearerRequest("abc.def.ghi")); ReasonOf(err) != ReasonMalformed {
		t.Errorf("garbage through the chain: %v", err)
	}
	if _, err := c.Authenticate(bearerRequest("")); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("nothing through the chain: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for _, tt := range []struct {
		in      []string
		tok     string
		wantErr error
	}{
		{[]string{"Bearer abc"}, "abc", nil},
		{[]string{"BEARER  abc=="}, "abc==", nil},
		{[]string{"Bearer a-b.c_d~e+f/g"}, "a-b.c_d~e+f/g", nil},
		{nil, "", ErrNoCredentials},
		{[]string{"Basic YTpi"}, "", ErrNoCredentials},
		{[]string{"Bearerabc"}, "", ErrNoCredentials},
		{[]string{"Bearer"}, "", ErrInvalidCredentials},
		{[]string{"Bearer a=b"}, "", ErrInvalidCredentials},
		{[]string{"Bearer a b"}, "", ErrInvalidCredentials},
		{[]string{"Bearer =abc"}, "", ErrInvalidCredentials},
		{[]string{"Bearer x", "Bearer y"}, "", ErrInvalidCredentials},
		{[]string{"Bearer " + strings.Repeat("a", maxCredentialLen)}, "", ErrInvalidCredentials},
	} {
		h := http.Header{}
		for _, v := range tt.in {
			h.Add("Authorization", v)
		}
		tok, err := BearerToken(h)
		if tok != tt.tok || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%q: %q, %v", tt.in, tok, err)
		}
	}
}

func TestRequireScopes(t *testing.T) {
	p := &Principal{Scopes: []string{"a", "b"}}
	if err := RequireScopes(p, []string{"a"}); err != nil {
		t.Error(err)
	}
	var se *ScopeError
	if err := RequireScopes(nil, []string{"a"}); !errors.As(err, &se) || se.Missing[0] != "a" {
		t.Error(err)
	}
	if err := RequireScopes(p, []string{"c", "a", "d"}); !errors.As(err, &se) || strings.Join(se.Missing, " ") != "c d" || strings.Join(se.Required, " ") != "c a d" {
		t.Error(err)
	}
}
