package probe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/risk"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// pathCounter is an http.Handler that counts requests per path and serves
// fixed JSON documents; every other path gets 404.
type pathCounter struct {
	mu   sync.Mutex
	hits map[string]int
	docs map[string]string
}

func (p *pathCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.hits == nil {
		p.hits = map[string]int{}
	}
	p.hits[r.URL.Path]++
	doc, ok := p.docs[r.URL.Path]
	p.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, doc)
}

func (p *pathCounter) counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.hits)
}

// loopbackOnly is a dialler that fails the test on any address outside
// 127.0.0.0/8 and refuses the excluded ones as the scan pipeline does.
func loopbackOnly(t *testing.T, excluded ...string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().Is4() || !ap.Addr().IsLoopback() {
			t.Errorf("dial %s %s: not a 127.0.0.0/8 address", network, addr)
			return nil, fmt.Errorf("test: refused %s", addr)
		}
		if slices.Contains(excluded, ap.Addr().String()) {
			return nil, fmt.Errorf("dial %s: %w", addr, ErrExcluded)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// protectedMCP serves, on ip, an OAuth-protected endpoint at /mcp (the SDK
// bearer check, which answers every request 401) whose RFC 9728 metadata
// lists issuers(base), base being the server's own origin. extra handles
// every other path.
func protectedMCP(t *testing.T, ip string, issuers func(base string) []string, extra http.Handler) (host string, port int, base string) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	base = "http://" + ln.Addr().String()
	prm := base + "/.well-known/oauth-protected-resource/mcp"
	verifier := func(context.Context, string, *http.Request) (*auth.TokenInfo, error) {
		return nil, auth.ErrInvalidToken
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", auth.RequireBearerToken(verifier, &auth.RequireBearerTokenOptions{ResourceMetadataURL: prm})(http.NotFoundHandler()))
	mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
		Resource: base + "/mcp", AuthorizationServers: issuers(base),
	}))
	if extra != nil {
		mux.Handle("/", extra)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port, base
}

// TestAuthServers checks what the prober records of the authorization
// servers a protected endpoint lists: a good one, one without S256 and with
// a plaintext token endpoint, one without metadata (all three on the
// target's host, on another port), one on another host (never contacted)
// and a fifth beyond the cap; and the findings risk draws from them.
func TestAuthServers(t *testing.T) {
	const ip = "127.0.0.71"
	as := &pathCounter{}
	asHost, asPort := listen(t, ip, as, false)
	asBase := "http://" + net.JoinHostPort(asHost, strconv.Itoa(asPort))
	as.docs = map[string]string{
		"/.well-known/oauth-authorization-server/good": `{"issuer":"` + asBase + `/good",
			"authorization_endpoint":"https://as.example.test/authorize","token_endpoint":"https://as.example.test/token",
			"registration_endpoint":"https://as.example.test/register","code_challenge_methods_supported":["plain","S256"]}`,
		"/.well-known/oauth-authorization-server/nos256": `{"issuer":"` + asBase + `/nos256",
			"authorization_endpoint":"https://as.example.test/authorize","token_endpoint":"http://as.example.test/token",
			"code_challenge_methods_supported":["plain"]}`,
	}
	const elsewhere = "https://auth.example.test"
	host, port, _ := protectedMCP(t, ip, func(string) []string {
		return []string{asBase + "/good", asBase + "/nos256", asBase + "/missing", elsewhere, asBase + "/fifth"}
	}, nil)

	p := New(Options{
		Dial: loopbackOnly(t),
		Resolve: func(_ context.Context, name string) ([]string, error) {
			t.Errorf("resolved %q: nothing needs a DNS lookup", name)
			return nil, errors.New("test: no resolution")
		},
	})
	eps := p.Probe(t.Context(), target.Service{Host: host, Port: port, Scheme: "http", Paths: []string{"/mcp"}})
	if len(eps) != 1 || eps[0].Auth == nil || eps[0].Auth.Scheme != result.AuthOAuth || eps[0].Auth.MetadataError != "" {
		t.Fatalf("records %+v, want one OAuth-protected endpoint with valid metadata", eps)
	}
	ep := eps[0]
	missing := func(path string) string {
		return asBase + path + ": HTTP 404"
	}
	want := []result.AuthServer{
		{
			Issuer: asBase + "/good", MetadataURL: asBase + "/.well-known/oauth-authorization-server/good", Reachable: true, Fetched: true,
			TokenEndpoint: "https://as.example.test/token", AuthorizationEndpoint: "https://as.example.test/authorize",
			CodeChallengeMethods: []string{"plain", "S256"}, RegistrationEndpoint: "https://as.example.test/register",
		},
		{
			Issuer: asBase + "/nos256", MetadataURL: asBase + "/.well-known/oauth-authorization-server/nos256", Reachable: true, Fetched: true,
			TokenEndpoint: "http://as.example.test/token", AuthorizationEndpoint: "https://as.example.test/authorize",
			CodeChallengeMethods: []string{"plain"},
		},
		{
			Issuer: asBase + "/missing", Fetched: true,
			Error: "no authorization server metadata: " + missing("/.well-known/oauth-authorization-server/missing") + "; " +
				missing("/.well-known/openid-configuration/missing") + "; " + missing("/missing/.well-known/openid-configuration"),
		},
		{Issuer: elsewhere, Error: "on another host than the target; not fetched (see FollowAuthServers, --follow-auth-servers)"},
	}
	if !reflect.DeepEqual(ep.Auth.AuthorizationServers, want) {
		t.Errorf("authorization_servers\n got %+v\nwant %+v", ep.Auth.AuthorizationServers, want)
	}
	wantHits := map[string]int{
		"/.well-known/oauth-authorization-server/good":    1,
		"/.well-known/oauth-authorization-server/nos256":  1,
		"/.well-known/oauth-authorization-server/missing": 1,
		"/.well-known/openid-configuration/missing":       1,
		"/missing/.well-known/openid-configuration":       1,
	}
	if got := as.counts(); !reflect.DeepEqual(got, wantHits) {
		t.Errorf("the authorization server got %v, want %v (nothing for the fifth, beyond the cap)", got, wantHits)
	}
	// The protected endpoint answers 401 to the foreign Origin and Host
	// as to anything else: not determined.
	if o := ep.Origin; o == nil || o.Validated != nil || o.Status != http.StatusUnauthorized || o.TestedWith != ForeignOrigin {
		t.Errorf("origin %+v, want validated null after a 401", o)
	}
	if h := ep.HostHeader; h == nil || h.Validated != nil || h.Status != http.StatusUnauthorized {
		t.Errorf("host_header %+v, want validated null after a 401", h)
	}

	risk.Assess(ep)
	var got []string
	for _, f := range ep.Findings {
		got = append(got, f.Rule+"/"+f.Severity.String()+": "+f.Evidence)
	}
	wantFindings := []string{
		"MCPW-023/high: " + asBase + "/nos256 has token_endpoint http://as.example.test/token",
		"MCPW-021/medium: " + asBase + "/missing: " + want[2].Error,
		"MCPW-022/medium: " + asBase + "/nos256 lists code_challenge_methods_supported [plain]",
	}
	if !slices.Equal(got, wantFindings) {
		t.Errorf("findings\n got %q\nwant %q", got, wantFindings)
	}
}

// TestFollowAuthServers covers an issuer that is the target itself (same
// port: the connection is reused), an issuer on another host, fetched only
// with FollowAuthServers (through the resolver and the dialler, so that
// exclusions apply), an excluded one and an invalid one.
func TestFollowAuthServers(t *testing.T) {
	const ip = "127.0.0.72"
	other := &pathCounter{}
	_, otherPort := listen(t, ip, other, false)
	tenant := "http://as.test:" + strconv.Itoa(otherPort) + "/tenant"
	other.docs = map[string]string{
		// Only the appended OpenID Connect form, with an issuer that is
		// not the one listed.
		"/tenant/.well-known/openid-configuration": `{"issuer":"http://as.test/tenant","token_endpoint":"https://as.test/token",
			"code_challenge_methods_supported":["S256"]}`,
	}
	self := &pathCounter{}
	host, port, base := protectedMCP(t, ip, func(base string) []string {
		return []string{base, tenant, "ftp://127.0.0.72/x", "http://excluded.test:1/"}
	}, self)
	self.docs = map[string]string{
		"/.well-known/oauth-authorization-server": `{"issuer":"` + base + `","token_endpoint":"` + base + `/token",
			"code_challenge_methods_supported":["S256"]}`,
	}
	selfAS := result.AuthServer{
		Issuer: base, MetadataURL: base + "/.well-known/oauth-authorization-server", Reachable: true, Fetched: true,
		TokenEndpoint: base + "/token", CodeChallengeMethods: []string{"S256"},
	}
	invalid := result.AuthServer{Issuer: "ftp://127.0.0.72/x", Error: "the issuer is not an absolute http(s) URL without query or fragment; not fetched"}
	notFollowed := "on another host than the target; not fetched (see FollowAuthServers, --follow-auth-servers)"
	tests := []struct {
		follow      bool
		want        []result.AuthServer
		otherHits   int
		resolutions []string
	}{
		{false, []result.AuthServer{
			selfAS,
			{Issuer: tenant, Error: notFollowed},
			invalid,
			{Issuer: "http://excluded.test:1/", Error: notFollowed},
		}, 0, nil},
		{true, []result.AuthServer{
			selfAS,
			{
				Issuer: tenant, MetadataURL: tenant + "/.well-known/openid-configuration", Reachable: true, Fetched: true,
				TokenEndpoint: "https://as.test/token", CodeChallengeMethods: []string{"S256"},
				Error: `the metadata's issuer "http://as.test/tenant" is not the issuer "` + tenant + `" it was fetched for (RFC 8414 section 3.3)`,
			},
			invalid,
			{Issuer: "http://excluded.test:1/", Error: "the address is excluded; not fetched"},
		}, 3, []string{"as.test", "excluded.test"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("follow=%v", tt.follow), func(t *testing.T) {
			var mu sync.Mutex
			var resolved []string
			p := New(Options{
				FollowAuthServers: tt.follow,
				Dial:              loopbackOnly(t, "127.0.0.99"),
				Resolve: func(_ context.Context, name string) ([]string, error) {
					mu.Lock()
					resolved = append(resolved, name)
					mu.Unlock()
					switch name {
					case "as.test":
						return []string{ip}, nil
					case "excluded.test":
						return []string{"127.0.0.99"}, nil
					}
					t.Errorf("resolved %q", name)
					return nil, errors.New("test: unknown name")
				},
			})
			before := other.counts()
			eps := p.Probe(t.Context(), target.Service{Host: host, Port: port, Scheme: "http", Paths: []string{"/mcp"}})
			if len(eps) != 1 || eps[0].Auth == nil {
				t.Fatalf("records %+v, want one protected endpoint", eps)
			}
			if got := eps[0].Auth.AuthorizationServers; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("authorization_servers\n got %+v\nwant %+v", got, tt.want)
			}
			after := other.counts()
			hits := 0
			for k, v := range after {
				hits += v - before[k]
			}
			if hits != tt.otherHits {
				t.Errorf("the other host's server got %d requests, want %d", hits, tt.otherHits)
			}
			if !slices.Equal(resolved, tt.resolutions) {
				t.Errorf("resolved %q, want %q", resolved, tt.resolutions)
			}
		})
	}
}

func TestAuthServerMetadataURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://as.example.test", []string{
			"https://as.example.test/.well-known/oauth-authorization-server",
			"https://as.example.test/.well-known/openid-configuration",
		}},
		{"https://as.example.test/", []string{
			"https://as.example.test/.well-known/oauth-authorization-server",
			"https://as.example.test/.well-known/openid-configuration",
		}},
		{"https://as.example.test:8443/realms/acme/", []string{
			"https://as.example.test:8443/.well-known/oauth-authorization-server/realms/acme",
			"https://as.example.test:8443/.well-known/openid-configuration/realms/acme",
			"https://as.example.test:8443/realms/acme/.well-known/openid-configuration",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			u, err := url.Parse(tt.issuer)
			if err != nil {
				t.Fatal(err)
			}
			if got := authServerMetadataURLs(u); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFillAuthServer(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		problem string
		want    result.AuthServer
	}{
		{"not json", `<html>`, "not a JSON object", result.AuthServer{Issuer: "https://as.test"}},
		{"an array", `["S256"]`, "not a JSON object", result.AuthServer{Issuer: "https://as.test"}},
		{"wrong types are dropped", `{"issuer":"https://as.test","token_endpoint":7,"code_challenge_methods_supported":["S256",{"x":1}]}`, "",
			result.AuthServer{Issuer: "https://as.test", TokenEndpoint: "7", CodeChallengeMethods: []string{"S256"}}},
		{"no issuer", `{"token_endpoint":"https://as.test/t"}`, "", result.AuthServer{Issuer: "https://as.test", TokenEndpoint: "https://as.test/t",
			Error: `the metadata's issuer "" is not the issuer "https://as.test" it was fetched for (RFC 8414 section 3.3)`}},
		{"a trailing slash is a mismatch", `{"issuer":"https://as.test/"}`, "", result.AuthServer{Issuer: "https://as.test",
			Error: `the metadata's issuer "https://as.test/" is not the issuer "https://as.test" it was fetched for (RFC 8414 section 3.3)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			as := result.AuthServer{Issuer: "https://as.test"}
			if got := fillAuthServer(&as, []byte(tt.body)); got != tt.problem {
				t.Errorf("problem %q, want %q", got, tt.problem)
			}
			if !reflect.DeepEqual(as, tt.want) {
				t.Errorf("got %+v, want %+v", as, tt.want)
			}
		})
	}
}

// FuzzFillAuthServer feeds hostile discovery documents to the decoder: it
// must not panic, and what it keeps stays within the caps.
func FuzzFillAuthServer(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://as.test","token_endpoint":"https://as.test/token","code_challenge_methods_supported":["S256"]}`))
	f.Add([]byte(`{"issuer":null,"code_challenge_methods_supported":[1,true,{},[],"plain"]}`))
	f.Add([]byte(`{"token_endpoint":"\xff\xfe"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		as := result.AuthServer{Issuer: "https://as.test"}
		problem := fillAuthServer(&as, body)
		if problem != "" && (as.TokenEndpoint != "" || len(as.CodeChallengeMethods) > 0) {
			t.Errorf("unusable document (%s) left fields set: %+v", problem, as)
		}
		if len(as.CodeChallengeMethods) > 16 || len(as.TokenEndpoint) > 2048 || len(as.AuthorizationEndpoint) > 2048 || len(as.RegistrationEndpoint) > 2048 {
			t.Errorf("caps exceeded: %d methods, endpoints of %d, %d, %d bytes", len(as.CodeChallengeMethods),
				len(as.TokenEndpoint), len(as.AuthorizationEndpoint), len(as.RegistrationEndpoint))
		}
		for _, m := range as.CodeChallengeMethods {
			if m == "" || len(m) > 64 {
				t.Errorf("method %q kept", m)
			}
		}
	})
}
