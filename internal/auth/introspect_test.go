package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

func newTestIntrospection(t *testing.T, iss *mcptest.Issuer, edit func(*IntrospectionOptions)) *Introspection {
	t.Helper()
	id, secret := iss.RegisterClient(nil, false)
	o := IntrospectionOptions{Endpoint: iss.URL + "/introspect", ClientID: id, ClientSecret: secret, Audiences: []string{testResource}, Issuer: iss.URL}
	if edit != nil {
		edit(&o)
	}
	in, err := NewIntrospection(o)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestIntrospection(t *testing.T) {
	iss := startIssuer(t)
	in := newTestIntrospection(t, iss, nil)
	claims := func(edit func(map[string]any)) map[string]any {
		c := iss.Claims("bob", testResource, "tools:read")
		c["client_id"] = "cli"
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name    string
		token   func() string
		wantErr error
		reason  Reason
	}{
		{"active", func() string { return iss.MintOpaque(claims(nil)) }, nil, ""},
		{"aud list", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["aud"] = []string{"x", testResource} }))
		}, nil, ""},
		{"unknown token", func() string { return "opaque-unknown" }, ErrInvalidCredentials, ReasonInactive},
		{"wrong audience", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["aud"] = "https://other.example/mcp" }))
		}, ErrInvalidCredentials, ReasonWrongAudience},
		{"missing audience", func() string { return iss.MintOpaque(claims(func(c map[string]any) { delete(c, "aud") })) }, ErrInvalidCredentials, ReasonMissingAudience},
		{"wrong issuer", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["iss"] = "https://evil.example" }))
		}, ErrInvalidCredentials, ReasonWrongIssuer},
		{"expired", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }))
		}, ErrInvalidCredentials, ReasonExpired},
		{"not yet valid", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() }))
		}, ErrInvalidCredentials, ReasonNotYetValid},
		{"refresh token type", func() string {
			return iss.MintOpaque(claims(func(c map[string]any) { c["token_type"] = "refresh_token" }))
		}, ErrInvalidCredentials, ReasonWrongType},
		{"api key goes elsewhere", func() string { return APIKeyPrefix + strings.Repeat("a", 43) }, ErrNoCredentials, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := in.Authenticate(bearerRequest(tt.token()))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Subject != "bob" || p.ClientID != "cli" || p.Method != "oauth" || !slices.Equal(p.Scopes, []string{"tools:read"}) || p.ExpiresAt.IsZero() {
					t.Errorf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || ReasonOf(err) != tt.reason {
				t.Fatalf("err %v (reason %q), want %v / %q", err, ReasonOf(err), tt.wantErr, tt.reason)
			}
		})
	}
	if _, err := in.Authenticate(bearerRequest("")); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("no token: %v", err)
	}
}

// countingEndpoint answers introspection requests with body and counts
// them, recording the tokens it saw.
func countingEndpoint(t *testing.T, body string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method != http.MethodPost || r.FormValue("token") == "" || r.FormValue("token_type_hint") != "access_token" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != "rs" || secret != "s%3Ac" {
			http.Error(w, "bad client", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestIntrospectionCache(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	srv, n := countingEndpoint(t, `{"active":true,"sub":"carol","scope":"a b","exp":`+itoa(exp)+`}`)
	in, err := NewIntrospection(IntrospectionOptions{Endpoint: srv.URL, ClientID: "rs", ClientSecret: "s:c"})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	in.now = clock.Now
	for range 3 {
		p, err := in.Verify(context.Background(), "tok-1")
		if err != nil || p.Subject != "carol" {
			t.Fatalf("%+v %v", p, err)
		}
		p.Scopes[0] = "mutated"
	}
	if n.Load() != 1 {
		t.Fatalf("%d calls for one token, want 1 (cached)", n.Load())
	}
	if p, _ := in.Verify(context.Background(), "tok-1"); p.Scopes[0] != "a" {
		t.Error("cached principal shared with callers")
	}
	for k := range in.cache {
		if strings.Contains(string(k[:]), "tok-1") {
			t.Error("cache key holds the token")
		}
	}
	if _, err := in.Verify(context.Background(), "tok-2"); err != nil || n.Load() != 2 {
		t.Fatalf("second token: %v, %d calls", err, n.Load())
	}
	clock.Add(DefaultIntrospectionCacheTTL + time.Second)
	if _, err := in.Verify(context.Background(), "tok-1"); err != nil || n.Load() != 3 {
		t.Fatalf("after the TTL: %v, %d calls, want 3", err, n.Load())
	}

	// The cache never outlives the token.
	soon := time.Now().Add(5 * time.Second)
	srv2, n2 := countingEndpoint(t, `{"active":true,"sub":"dave","exp":`+itoa(soon.Unix())+`}`)
	in2, err := NewIntrospection(IntrospectionOptions{Endpoint: srv2.URL, ClientID: "rs", ClientSecret: "s:c", CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	clock2 := &fakeClock{t: time.Now()}
	in2.now = clock2.Now
	if _, err := in2.Verify(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	clock2.Add(10 * time.Second)
	if _, err := in2.Verify(context.Background(), "t"); ReasonOf(err) != ReasonExpired || n2.Load() != 2 {
		t.Fatalf("past exp: %v after %d calls", err, n2.Load())
	}

	// Inactive answers are cached too; failures are not.
	srv3, n3 := countingEndpoint(t, `{"active":false}`)
	in3, _ := NewIntrospection(IntrospectionOptions{Endpoint: srv3.URL, ClientID: "rs", ClientSecret: "s:c"})
	for range 2 {
		if _, err := in3.Verify(context.Background(), "t"); ReasonOf(err) != ReasonInactive {
			t.Fatal(err)
		}
	}
	if n3.Load() != 1 {
		t.Errorf("%d calls for an inactive token, want 1", n3.Load())
	}
	in4, _ := NewIntrospection(IntrospectionOptions{Endpoint: srv3.URL, ClientID: "rs", ClientSecret: "wrong"})
	for range 2 {
		if _, err := in4.Verify(context.Background(), "t"); ReasonOf(err) != ReasonUnavailable {
			t.Fatal(err)
		}
	}
	if n3.Load() != 3 {
		t.Errorf("failures were cached: %d calls", n3.Load())
	}
}

func TestNewIntrospectionOptions(t *testing.T) {
	for _, tt := range []struct {
		o    IntrospectionOptions
		want string
	}{
		{IntrospectionOptions{}, "no endpoint"},
		{IntrospectionOptions{Endpoint: "http://idp.example/introspect"}, "loopback"},
		{IntrospectionOptions{Endpoint: "ftp://127.0.0.1/x"}, "scheme"},
		{IntrospectionOptions{Endpoint: "https://idp.example/i", ClientSecret: "s"}, "without client id"},
	} {
		if _, err := NewIntrospection(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.o, err, tt.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
