package auth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

const testResource = "http://127.0.0.1:9/mcp"

func startIssuer(t *testing.T) *mcptest.Issuer {
	t.Helper()
	iss, err := mcptest.StartIssuer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = iss.Close() })
	return iss
}

// fakeClock is a settable clock for JWT.now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestJWT(t *testing.T, iss *mcptest.Issuer, edit func(*JWTOptions)) *JWT {
	t.Helper()
	o := JWTOptions{Issuer: iss.URL, Audiences: []string{testResource, "client-in-aud"}, GroupsClaim: "realm.groups"}
	if edit != nil {
		edit(&o)
	}
	j, err := NewJWT(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func bearerRequest(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9/mcp", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func mint(t *testing.T, iss *mcptest.Issuer, o mcptest.MintOptions, edit func(map[string]any)) string {
	t.Helper()
	c := iss.Claims("alice", testResource, "tools:read", "tools:call")
	if edit != nil {
		edit(c)
	}
	tok, err := iss.MintWith(o, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJWTAttackCorpus(t *testing.T) {
	iss := startIssuer(t)
	j := newTestJWT(t, iss, nil)
	rsaKid, _ := iss.CurrentKeyIDs()
	now := time.Now()
	set := func(k string, v any) func(map[string]any) { return func(c map[string]any) { c[k] = v } }
	del := func(k string) func(map[string]any) { return func(c map[string]any) { delete(c, k) } }
	valid := mint(t, iss, mcptest.MintOptions{}, nil)
	parts := strings.Split(valid, ".")
	other := strings.Split(mint(t, iss, mcptest.MintOptions{}, set("sub", "mallory")), ".")

	tests := []struct {
		name    string
		req     func() *http.Request
		wantErr error  // nil: success
		reason  Reason // checked when wantErr is ErrInvalidCredentials
		subject string
	}{
		{"valid RS256", func() *http.Request { return bearerRequest(valid) }, nil, "", "alice"},
		{"valid ES256", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "ES256"}, nil)) }, nil, "", "alice"},
		{"valid PS256", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "PS256"}, nil)) }, nil, "", "alice"},
		{"valid without kid", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{NoKeyID: true}, nil)) }, nil, "", "alice"},
		{"typ JWT", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{Typ: "JWT"}, nil)) }, nil, "", "alice"},
		{"no typ", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{NoTyp: true}, nil)) }, nil, "", "alice"},
		{"lower-case scheme", func() *http.Request {
			r := bearerRequest("")
			r.Header.Set("Authorization", "bearer "+valid)
			return r
		}, nil, "", "alice"},
		{"extra accepted audience", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", "client-in-aud")))
		}, nil, "", "alice"},
		{"audience list with ours", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", []string{"https://elsewhere.example/", testResource})))
		}, nil, "", "alice"},
		{"expired within leeway", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("exp", now.Add(-30*time.Second).Unix())))
		}, nil, "", "alice"},

		{"no header", func() *http.Request { return bearerRequest("") }, ErrNoCredentials, "", ""},
		{"basic scheme", func() *http.Request {
			r := bearerRequest("")
			r.SetBasicAuth("alice", "pw")
			return r
		}, ErrNoCredentials, "", ""},
		{"token only in query string", func() *http.Request {
			return httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9/mcp?access_token="+valid, nil)
		}, ErrNoCredentials, "", ""},
		{"api key bearer", func() *http.Request { return bearerRequest("mcpw_" + strings.Repeat("A", 43)) }, ErrNoCredentials, "", ""},
		{"empty bearer", func() *http.Request {
			r := bearerRequest("")
			r.Header.Set("Authorization", "Bearer ")
			return r
		}, ErrInvalidCredentials, ReasonMalformed, ""},
		{"not token68", func() *http.Request { return bearerRequest("a b") }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"two authorization headers", func() *http.Request {
			r := bearerRequest(valid)
			r.Header.Add("Authorization", "Bearer "+valid)
			return r
		}, ErrInvalidCredentials, ReasonAmbiguous, ""},
		{"garbled", func() *http.Request { return bearerRequest("abc.def.ghi") }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"two parts", func() *http.Request { return bearerRequest(parts[0] + "." + parts[1]) }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"JWE shape", func() *http.Request { return bearerRequest("a.b.c.d.e") }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"header not JSON", func() *http.Request { return bearerRequest("bm90anNvbg." + parts[1] + "." + parts[2]) }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"signature not base64", func() *http.Request { return bearerRequest(parts[0] + "." + parts[1] + ".%%") }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"expired", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("exp", now.Add(-2*time.Minute).Unix())))
		}, ErrInvalidCredentials, ReasonExpired, ""},
		{"no exp", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{}, del("exp"))) }, ErrInvalidCredentials, ReasonMissingExpiry, ""},
		{"not yet valid", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("nbf", now.Add(5*time.Minute).Unix())))
		}, ErrInvalidCredentials, ReasonNotYetValid, ""},
		{"issued in the future", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("iat", now.Add(5*time.Minute).Unix())))
		}, ErrInvalidCredentials, ReasonIssuedInFuture, ""},
		{"wrong issuer", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("iss", "https://evil.example")))
		}, ErrInvalidCredentials, ReasonWrongIssuer, ""},
		{"issuer with trailing slash", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("iss", iss.URL+"/")))
		}, ErrInvalidCredentials, ReasonWrongIssuer, ""},
		{"wrong audience", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", "https://elsewhere.example/mcp")))
		}, ErrInvalidCredentials, ReasonWrongAudience, ""},
		{"token for another resource on this host", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", "http://127.0.0.1:9/other")))
		}, ErrInvalidCredentials, ReasonWrongAudience, ""},
		{"missing audience", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{}, del("aud"))) }, ErrInvalidCredentials, ReasonMissingAudience, ""},
		{"empty audience list", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", []string{})))
		}, ErrInvalidCredentials, ReasonMissingAudience, ""},
		{"missing subject", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{}, del("sub"))) }, ErrInvalidCredentials, ReasonMissingSubject, ""},
		{"alg none", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "none"}, nil)) }, ErrInvalidCredentials, ReasonAlgNotAllowed, ""},
		{"alg none without signature part", func() *http.Request {
			tok := mint(t, iss, mcptest.MintOptions{Alg: "none"}, nil)
			return bearerRequest(strings.TrimSuffix(tok, "."))
		}, ErrInvalidCredentials, ReasonMalformed, ""},
		{"HS256 signed with the RSA public key", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "HS256"}, nil))
		}, ErrInvalidCredentials, ReasonAlgNotAllowed, ""},
		{"ES256 token naming the RSA key", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "ES256", KeyID: rsaKid}, nil))
		}, ErrInvalidCredentials, ReasonAlgNotAllowed, ""},
		{"key of another issuer", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{Foreign: true}, nil))
		}, ErrInvalidCredentials, ReasonBadSignature, ""},
		{"EC key of another issuer", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "ES256", Foreign: true}, nil))
		}, ErrInvalidCredentials, ReasonBadSignature, ""},
		{"payload swapped", func() *http.Request { return bearerRequest(parts[0] + "." + other[1] + "." + parts[2]) }, ErrInvalidCredentials, ReasonBadSignature, ""},
		{"signature stripped", func() *http.Request { return bearerRequest(parts[0] + "." + parts[1] + ".") }, ErrInvalidCredentials, ReasonBadSignature, ""},
		{"wrong typ", func() *http.Request {
			return bearerRequest(mint(t, iss, mcptest.MintOptions{Typ: "id_token+jwt"}, nil))
		}, ErrInvalidCredentials, ReasonWrongType, ""},
		{"scope not a string", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("scope", 42))) }, ErrInvalidCredentials, ReasonMalformed, ""},
		{"audience a number", func() *http.Request { return bearerRequest(mint(t, iss, mcptest.MintOptions{}, set("aud", 42))) }, ErrInvalidCredentials, ReasonMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := j.Authenticate(tt.req())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.Subject != tt.subject || p.Method != "oauth" || p.Issuer != iss.URL {
					t.Errorf("principal %+v", p)
				}
				return
			}
			if p != nil {
				t.Errorf("principal %+v with error", p)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if errors.Is(err, ErrNoCredentials) && errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("err %v is both", err)
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Errorf("reason %q, want %q (err %v)", got, tt.reason, err)
			}
			if strings.Contains(err.Error(), parts[2]) {
				t.Errorf("error %q holds a signature", err)
			}
		})
	}
}

func TestJWTPrincipalClaims(t *testing.T) {
	iss := startIssuer(t)
	j := newTestJWT(t, iss, nil)
	exp := time.Now().Add(3 * time.Minute).Truncate(time.Second)
	tok := mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) {
		c["scope"] = "a  b"
		c["scp"] = []string{"c", "a"}
		c["azp"] = "the-client"
		c["exp"] = exp.Unix()
		c["realm"] = map[string]any{"groups": []string{"ops", "dev"}}
	})
	p, err := j.Authenticate(bearerRequest(tok))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Scopes, []string{"a", "b", "c"}) || !slices.Equal(p.Groups, []string{"ops", "dev"}) ||
		p.ClientID != "the-client" || !p.ExpiresAt.Equal(exp) || p.Key() != "oauth:"+iss.URL+":alice" {
		t.Errorf("principal %+v", p)
	}

	tok = mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) {
		delete(c, "scope")
		c["scp"] = "x y"
		c["client_id"] = "cid"
		c["azp"] = "ignored"
		c["realm"] = map[string]any{"groups": "solo"}
	})
	p, err = j.Authenticate(bearerRequest(tok))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Scopes, []string{"x", "y"}) || !slices.Equal(p.Groups, []string{"solo"}) || p.ClientID != "cid" {
		t.Errorf("principal %+v", p)
	}

	tok = mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) { c["realm"] = map[string]any{"groups": 7} })
	if _, err := j.Authenticate(bearerRequest(tok)); ReasonOf(err) != ReasonMalformed {
		t.Errorf("numeric groups: %v", err)
	}
}

func TestJWTRequiredScopes(t *testing.T) {
	iss := startIssuer(t)
	j := newTestJWT(t, iss, func(o *JWTOptions) { o.RequiredScopes = []string{"tools:read", "admin", "audit"} })
	_, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{}, nil)))
	var se *ScopeError
	if !errors.As(err, &se) || !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("err %v, want *ScopeError", err)
	}
	if !slices.Equal(se.Required, []string{"tools:read", "admin", "audit"}) || !slices.Equal(se.Missing, []string{"admin", "audit"}) {
		t.Errorf("scope error %+v", se)
	}
	j = newTestJWT(t, iss, func(o *JWTOptions) { o.RequiredScopes = []string{"tools:call"} })
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{}, nil))); err != nil {
		t.Errorf("granted scope refused: %v", err)
	}
}

func TestJWTKeyRotation(t *testing.T) {
	iss := startIssuer(t)
	clock := &fakeClock{t: time.Now()}
	j := newTestJWT(t, iss, func(o *JWTOptions) { o.MinRefreshInterval = time.Minute; o.RefreshInterval = time.Hour })
	j.now = clock.Now
	j.lastAttempt, j.fetchedAt = clock.Now(), clock.Now()
	fetches := iss.JWKSRequests()
	old := mint(t, iss, mcptest.MintOptions{}, nil)

	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	fresh := mint(t, iss, mcptest.MintOptions{}, nil)
	// Just after the start fetch, the refetch is rate-limited.
	if _, err := j.Authenticate(bearerRequest(fresh)); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("new kid within the minimum interval: %v", err)
	}
	if got := iss.JWKSRequests() - fetches; got != 0 {
		t.Fatalf("%d fetches within the minimum interval", got)
	}
	clock.Add(2 * time.Minute)
	if _, err := j.Authenticate(bearerRequest(fresh)); err != nil {
		t.Fatalf("after rotation and refetch: %v", err)
	}
	if got := iss.JWKSRequests() - fetches; got != 1 {
		t.Fatalf("%d fetches for one rotation, want 1", got)
	}
	// The previous generation is still published.
	if _, err := j.Authenticate(bearerRequest(old)); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	// A flood of unknown kids costs at most one fetch per interval.
	bogus := mint(t, iss, mcptest.MintOptions{KeyID: "nope"}, nil)
	for range 20 {
		if _, err := j.Authenticate(bearerRequest(bogus)); ReasonOf(err) != ReasonUnknownKey {
			t.Fatalf("bogus kid: %v", err)
		}
	}
	if got := iss.JWKSRequests() - fetches; got != 1 {
		t.Fatalf("%d fetches after a flood right after a fetch, want 1", got)
	}
	clock.Add(2 * time.Minute)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := j.Authenticate(bearerRequest(bogus)); ReasonOf(err) != ReasonUnknownKey {
				t.Errorf("bogus kid: %v", err)
			}
		})
	}
	wg.Wait()
	if got := iss.JWKSRequests() - fetches; got != 2 {
		t.Fatalf("%d fetches after a concurrent flood, want 2", got)
	}
	// Two rotations later the old key is gone; a stale cache refetches.
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	if _, err := j.Authenticate(bearerRequest(old)); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("retired key: %v", err)
	}
}

func TestJWTSharedSecret(t *testing.T) {
	iss := startIssuer(t)
	secret := []byte(strings.Repeat("s", 32))
	j, err := NewJWT(context.Background(), JWTOptions{Issuer: iss.URL, Audiences: []string{testResource}, SharedSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if j.JWKSURL() != "" {
		t.Errorf("JWKS URL %q with a shared secret", j.JWKSURL())
	}
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "HS256", HMACKey: secret}, nil))); err != nil {
		t.Fatalf("HS256 with the secret: %v", err)
	}
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "HS256", HMACKey: []byte(strings.Repeat("x", 32))}, nil))); ReasonOf(err) != ReasonBadSignature {
		t.Errorf("HS256 with another secret: %v", err)
	}
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{}, nil))); ReasonOf(err) != ReasonAlgNotAllowed {
		t.Errorf("RS256 in HMAC mode: %v", err)
	}
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{Alg: "none"}, nil))); ReasonOf(err) != ReasonAlgNotAllowed {
		t.Errorf("none in HMAC mode: %v", err)
	}
}

func TestNewJWTOptions(t *testing.T) {
	iss := startIssuer(t)
	ok := JWTOptions{Issuer: iss.URL, Audiences: []string{testResource}}
	tests := []struct {
		name string
		edit func(*JWTOptions)
		want string
	}{
		{"no issuer", func(o *JWTOptions) { o.Issuer = "" }, "no issuer"},
		{"relative issuer", func(o *JWTOptions) { o.Issuer = "/x" }, "not an absolute URL"},
		{"http remote issuer", func(o *JWTOptions) { o.Issuer = "http://idp.example" }, "only allowed for loopback"},
		{"no audience", func(o *JWTOptions) { o.Audiences = nil }, "no audience"},
		{"alg none", func(o *JWTOptions) { o.Algorithms = []string{"RS256", "none"} }, `algorithm "none" not supported`},
		{"HS256 without secret", func(o *JWTOptions) { o.Algorithms = []string{"HS256"} }, "needs a shared secret"},
		{"secret mixed", func(o *JWTOptions) {
			o.SharedSecret = []byte(strings.Repeat("s", 32))
			o.Algorithms = []string{"HS256", "RS256"}
		}, "cannot be mixed"},
		{"short secret", func(o *JWTOptions) { o.SharedSecret = []byte("short") }, "shorter than 32"},
		{"secret and jwks", func(o *JWTOptions) {
			o.SharedSecret = []byte(strings.Repeat("s", 32))
			o.JWKSURL = iss.JWKSURL()
		}, "exclude each other"},
		{"leeway", func(o *JWTOptions) { o.Leeway = time.Hour }, "leeway"},
		{"refresh order", func(o *JWTOptions) { o.MinRefreshInterval = 2 * time.Hour }, "want 0 <= minimum <= interval"},
		{"groups path", func(o *JWTOptions) { o.GroupsClaim = "a..b" }, "empty part"},
		{"jwks not reachable", func(o *JWTOptions) { o.JWKSURL = iss.URL + "/nothing" }, "status 404"},
		{"wrong issuer in metadata", func(o *JWTOptions) { o.Issuer = iss.URL + "/tenant" }, "discover keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			j, err := NewJWT(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewJWT = %v, %v; want error with %q", j, err, tt.want)
			}
		})
	}
	j, err := NewJWT(context.Background(), ok)
	if err != nil {
		t.Fatal(err)
	}
	if j.JWKSURL() != iss.JWKSURL() {
		t.Errorf("discovered %q, want %q", j.JWKSURL(), iss.JWKSURL())
	}
}

func TestJWTDiscoveryOIDCFallback(t *testing.T) {
	iss := startIssuer(t)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/tenant/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"issuer":"` + srv.URL + `/tenant","jwks_uri":"` + iss.JWKSURL() + `"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	j, err := NewJWT(context.Background(), JWTOptions{Issuer: srv.URL + "/tenant", Audiences: []string{testResource}})
	if err != nil {
		t.Fatal(err)
	}
	if j.JWKSURL() != iss.JWKSURL() {
		t.Errorf("jwks %q", j.JWKSURL())
	}
	// Tokens must name the configured issuer, not the key host.
	tok := mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) { c["iss"] = srv.URL + "/tenant" })
	if _, err := j.Authenticate(bearerRequest(tok)); err != nil {
		t.Errorf("token of the tenant: %v", err)
	}
	if _, err := j.Authenticate(bearerRequest(mint(t, iss, mcptest.MintOptions{}, nil))); ReasonOf(err) != ReasonWrongIssuer {
		t.Errorf("token of the key host: %v", err)
	}
}

func TestFetchJWKSFiltersKeys(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/sym":
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`))
		case "/small":
			// A 512-bit RSA key, too weak to trust.
			_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"s","e":"AQAB","n":"` + strings.Repeat("q", 86) + `"},{"kty":"bogus"}]}`))
		case "/huge":
			_, _ = w.Write([]byte(`{"keys":["` + strings.Repeat("x", maxDocumentSize) + `"]}`))
		case "/html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<html>`))
		}
	}))
	defer srv.Close()
	for path, want := range map[string]string{
		"/sym":   "no usable public signing key",
		"/small": "no usable public signing key",
		"/huge":  "larger than",
		"/html":  "not JSON",
	} {
		if _, err := fetchJWKS(context.Background(), srv.Client(), srv.URL+path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
}

// TestJWTFromTokenEndpoint gets a token the way a client does (client
// credentials with an RFC 8707 resource) and presents it.
func TestJWTFromTokenEndpoint(t *testing.T) {
	iss := startIssuer(t)
	j := newTestJWT(t, iss, nil)
	id, secret := iss.RegisterClient(nil, false)
	get := func(resource string) string {
		form := "grant_type=client_credentials&scope=tools%3Acall&resource=" + resource
		req, _ := http.NewRequest(http.MethodPost, iss.URL+"/token", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
			t.Fatalf("token: %d %v", resp.StatusCode, err)
		}
		return out.AccessToken
	}
	p, err := j.Authenticate(bearerRequest(get(testResource)))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != id || p.ClientID != id || !slices.Equal(p.Scopes, []string{"tools:call"}) {
		t.Errorf("principal %+v", p)
	}
	if _, err := j.Authenticate(bearerRequest(get("http://127.0.0.1:9/other"))); ReasonOf(err) != ReasonWrongAudience {
		t.Errorf("token for another resource: %v", err)
	}
}

func TestOptionsLogValueRedacts(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("cfg", "jwt", JWTOptions{Issuer: "https://i", SharedSecret: []byte("topsecret-topsecret-topsecret-00")},
		"introspection", IntrospectionOptions{Endpoint: "https://i/x", ClientID: "rs", ClientSecret: "hunter2"})
	if strings.Contains(buf.String(), "topsecret") || strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "REDACTED") {
		t.Errorf("log %s", buf.String())
	}
}

// BenchmarkJWTAuthenticate is the per-request cost of a cached-key RS256
// check, the gate's hot path with OAuth.
func BenchmarkJWTAuthenticate(b *testing.B) {
	iss, err := mcptest.StartIssuer("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	j, err := NewJWT(context.Background(), JWTOptions{Issuer: iss.URL, Audiences: []string{testResource}})
	if err != nil {
		b.Fatal(err)
	}
	c := iss.Claims("alice", testResource, "tools:call")
	c["exp"] = time.Now().Add(time.Hour).Unix()
	tok, err := iss.Mint(c)
	if err != nil {
		b.Fatal(err)
	}
	r := bearerRequest(tok)
	for b.Loop() {
		if _, err := j.Authenticate(r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestJWTVerifiedCache(t *testing.T) {
	iss := startIssuer(t)
	clock := &fakeClock{t: time.Now()}
	j := newTestJWT(t, iss, func(o *JWTOptions) { o.VerifiedCacheTTL = 30 * time.Second; o.RequiredScopes = []string{"tools:read"} })
	j.now = clock.Now
	exp := time.Now().Add(40 * time.Second)
	tok := mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) { c["exp"] = exp.Unix() })
	p, err := j.Authenticate(bearerRequest(tok))
	if err != nil {
		t.Fatal(err)
	}
	p.Scopes[0] = "mutated"
	if len(j.verified) != 1 {
		t.Fatalf("%d cached", len(j.verified))
	}
	// Cached: a check that would now fail (issuer changed) is skipped.
	j.opts.Issuer = "https://changed.example"
	if p, err := j.Authenticate(bearerRequest(tok)); err != nil || p.Scopes[0] != "tools:read" {
		t.Fatalf("cached token: %+v %v", p, err)
	}
	// Past the TTL the token is checked again.
	clock.Add(31 * time.Second)
	if _, err := j.Authenticate(bearerRequest(tok)); ReasonOf(err) != ReasonWrongIssuer {
		t.Fatalf("after the TTL: %v", err)
	}
	// Refusals are never cached; the cache never outlives exp.
	j.opts.Issuer = iss.URL
	if _, err := j.Authenticate(bearerRequest(tok)); err != nil {
		t.Fatal(err)
	}
	clock.Add(70 * time.Second) // past exp + leeway
	if _, err := j.Authenticate(bearerRequest(tok)); ReasonOf(err) != ReasonExpired {
		t.Fatalf("past exp: %v", err)
	}
	bad := mint(t, iss, mcptest.MintOptions{}, func(c map[string]any) { c["scope"] = "none" })
	for range 2 {
		if _, err := j.Authenticate(bearerRequest(bad)); !errors.As(err, new(*ScopeError)) {
			t.Fatalf("missing scope: %v", err)
		}
	}
}
