package mcptest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func startTestIssuer(t *testing.T, opts *IssuerOptions) *Issuer {
	t.Helper()
	iss, err := StartIssuer("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := iss.Close(); err != nil {
			t.Error(err)
		}
	})
	return iss
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getJSONDoc(t *testing.T, u string) map[string]any {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return m
}

func postForm(t *testing.T, u string, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func fetchJWKS(t *testing.T, iss *Issuer) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	return set
}

func TestStartIssuerLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "10.1.2.3:0", "[::]:0", "example.com:0", "127.0.0.1"} {
		if iss, err := StartIssuer(addr, nil); err == nil {
			iss.Close()
			t.Errorf("StartIssuer(%q) accepted", addr)
		}
	}
}

func TestIssuerMetadataAndJWKS(t *testing.T) {
	iss := startTestIssuer(t, &IssuerOptions{ScopesSupported: []string{"mcp"}})
	if !strings.HasPrefix(iss.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q", iss.URL)
	}
	for _, p := range []string{"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"} {
		md := getJSONDoc(t, iss.URL+p)
		if md["issuer"] != iss.URL || md["jwks_uri"] != iss.URL+"/jwks" || md["token_endpoint"] != iss.URL+"/token" ||
			md["authorization_endpoint"] != iss.URL+"/authorize" || md["registration_endpoint"] != iss.URL+"/register" {
			t.Errorf("%s: %v", p, md)
		}
		if got, _ := json.Marshal(md["code_challenge_methods_supported"]); string(got) != `["S256"]` {
			t.Errorf("code_challenge_methods_supported %s", got)
		}
		if got, _ := json.Marshal(md["grant_types_supported"]); string(got) != `["authorization_code","client_credentials","refresh_token"]` {
			t.Errorf("grant_types_supported %s", got)
		}
		if got, _ := json.Marshal(md["response_types_supported"]); string(got) != `["code"]` {
			t.Errorf("response_types_supported %s", got)
		}
	}
	set := fetchJWKS(t, iss)
	rk, ek := iss.CurrentKeyIDs()
	if len(set.Keys) != 2 || len(set.Key(rk)) != 1 || len(set.Key(ek)) != 1 {
		t.Fatalf("JWKS %+v", set.Keys)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %s is not a valid public key", k.KeyID)
		}
	}
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	rk2, ek2 := iss.CurrentKeyIDs()
	set = fetchJWKS(t, iss)
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KeyID)
	}
	if rk2 == rk || !slices.Equal(kids, []string{rk, ek, rk2, ek2}) {
		t.Errorf("after rotation kids %v", kids)
	}
	if err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if set = fetchJWKS(t, iss); len(set.Keys) != 4 || len(set.Key(rk)) != 0 {
		t.Errorf("two rotations later the first key is still there")
	}
	if iss.JWKSRequests() != 3 {
		t.Errorf("JWKSRequests %d, want 3", iss.JWKSRequests())
	}
}

func TestIssuerMint(t *testing.T) {
	iss := startTestIssuer(t, nil)
	set := fetchJWKS(t, iss)
	claims := iss.Claims("alice", "https://gw.example/mcp", "a", "b")
	verify := func(tok string, alg jose.SignatureAlgorithm) (map[string]any, error) {
		sig, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{alg})
		if err != nil {
			return nil, err
		}
		keys := set.Key(sig.Signatures[0].Header.KeyID)
		if len(keys) != 1 {
			t.Fatalf("kid %q not in JWKS", sig.Signatures[0].Header.KeyID)
		}
		payload, err := sig.Verify(keys[0].Key)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(payload, &m)
	}
	for _, alg := range []string{"RS256", "PS256", "ES256"} {
		tok, err := iss.MintWith(MintOptions{Alg: alg}, claims)
		if err != nil {
			t.Fatal(err)
		}
		m, err := verify(tok, jose.SignatureAlgorithm(alg))
		if err != nil || m["sub"] != "alice" || m["scope"] != "a b" || m["iss"] != iss.URL {
			t.Errorf("%s: %v %v", alg, m, err)
		}
		foreign, _ := iss.MintWith(MintOptions{Alg: alg, Foreign: true}, claims)
		if _, err := verify(foreign, jose.SignatureAlgorithm(alg)); err == nil {
			t.Errorf("%s foreign token verified with the JWKS", alg)
		}
	}
	header := func(tok string) map[string]any {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		var h map[string]any
		_ = json.Unmarshal(b, &h)
		return h
	}
	none, _ := iss.MintWith(MintOptions{Alg: "none"}, claims)
	if h := header(none); h["alg"] != "none" || !strings.HasSuffix(none, ".") {
		t.Errorf("none token %q", none)
	}
	hs, _ := iss.MintWith(MintOptions{Alg: "HS256"}, claims)
	parts := strings.Split(hs, ".")
	mac := hmac.New(sha256.New, iss.RSAPublicKeyPEM())
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] || header(hs)["alg"] != "HS256" {
		t.Error("HS256 token not keyed with the RSA public key PEM")
	}
	if !bytes.HasPrefix(iss.RSAPublicKeyPEM(), []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Error("RSAPublicKeyPEM")
	}
	tok, _ := iss.MintWith(MintOptions{KeyID: "other", NoTyp: true}, claims)
	if h := header(tok); h["kid"] != "other" || h["typ"] != nil {
		t.Errorf("header %v", h)
	}
	tok, _ = iss.MintWith(MintOptions{NoKeyID: true, Typ: "JWT"}, claims)
	if h := header(tok); h["kid"] != nil || h["typ"] != "JWT" {
		t.Errorf("header %v", h)
	}
	if _, err := iss.MintWith(MintOptions{Alg: "RS1"}, claims); err == nil {
		t.Error("unknown alg accepted")
	}
}

func decodeClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssuerAuthorizationCodeFlow(t *testing.T) {
	iss := startTestIssuer(t, &IssuerOptions{Subject: "user-1"})
	const redirect = "http://127.0.0.1:1/callback"
	const resource = "http://127.0.0.1:2/mcp"

	// Dynamic registration of a public client, as the TypeScript SDK does.
	body := `{"redirect_uris":["` + redirect + `"],"token_endpoint_auth_method":"none","grant_types":["authorization_code","refresh_token"],"client_name":"ts"}`
	resp, err := http.Post(iss.URL+"/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	id, _ := reg["client_id"].(string)
	if resp.StatusCode != http.StatusCreated || id == "" || reg["client_secret"] != nil || reg["token_endpoint_auth_method"] != "none" {
		t.Fatalf("register: %d %v", resp.StatusCode, reg)
	}

	out, err := iss.ExchangeCode(context.Background(), id, "", redirect, "tools:read tools:call", resource)
	if err != nil {
		t.Fatal(err)
	}
	c := decodeClaims(t, out["access_token"].(string))
	if c["sub"] != "user-1" || c["aud"] != resource || c["scope"] != "tools:read tools:call" || c["client_id"] != id || c["iss"] != iss.URL || out["token_type"] != "Bearer" {
		t.Errorf("token %v claims %v", out, c)
	}
	rt, _ := out["refresh_token"].(string)
	code, refreshed := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}}, "", "")
	if code != 200 || refreshed["access_token"] == nil || refreshed["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", code, refreshed)
	}
	if code, m := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {id}}, "", ""); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("reused refresh token: %d %v", code, m)
	}

	// A confidential client, with the default audience.
	iss2 := startTestIssuer(t, &IssuerOptions{Audience: "default-aud"})
	cid, secret := iss2.RegisterClient([]string{redirect}, false)
	out, err = iss2.ExchangeCode(context.Background(), cid, secret, redirect, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if c := decodeClaims(t, out["access_token"].(string)); c["aud"] != "default-aud" || c["sub"] != "test-user" {
		t.Errorf("claims %v", c)
	}
	if _, err := iss2.ExchangeCode(context.Background(), cid, "wrong", redirect, "", ""); err == nil {
		t.Error("wrong client secret accepted")
	}
}

func TestIssuerAuthorizeAndTokenErrors(t *testing.T) {
	iss := startTestIssuer(t, nil)
	const redirect = "http://127.0.0.1:1/cb"
	id, _ := iss.RegisterClient([]string{redirect}, true)
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	authorize := func(q url.Values) (int, url.Values) {
		resp, err := noRedirect.Get(iss.URL + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return resp.StatusCode, loc.Query()
	}
	good := func() url.Values {
		return url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"s1"}}
	}
	with := func(k, v string) url.Values { q := good(); q.Set(k, v); return q }
	if code, _ := authorize(with("client_id", "nobody")); code != 400 {
		t.Errorf("unknown client: %d", code)
	}
	if code, _ := authorize(with("redirect_uri", "http://127.0.0.1:1/evil")); code != 400 {
		t.Errorf("unregistered redirect: %d", code)
	}
	if code, q := authorize(with("code_challenge_method", "plain")); code != 302 || q.Get("error") != "invalid_request" || q.Get("state") != "s1" {
		t.Errorf("plain PKCE: %d %v", code, q)
	}
	if code, q := authorize(with("response_type", "token")); code != 302 || q.Get("error") != "unsupported_response_type" {
		t.Errorf("implicit: %d %v", code, q)
	}
	code, q := authorize(good())
	if code != 302 || q.Get("code") == "" || q.Get("iss") != iss.URL || q.Get("state") != "s1" {
		t.Fatalf("authorize: %d %v", code, q)
	}
	exchange := func(ac, v string) (int, map[string]any) {
		return postForm(t, iss.URL+"/token", url.Values{"grant_type": {"authorization_code"}, "code": {ac}, "redirect_uri": {redirect}, "code_verifier": {v}, "client_id": {id}}, "", "")
	}
	if st, m := exchange(q.Get("code"), strings.Repeat("w", 50)); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("wrong verifier: %d %v", st, m)
	}
	if st, m := exchange(q.Get("code"), verifier); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("code reused after a failed exchange: %d %v", st, m)
	}
	_, q = authorize(good())
	if st, m := exchange(q.Get("code"), verifier); st != 200 || m["access_token"] == nil {
		t.Fatalf("exchange: %d %v", st, m)
	}
	if st, _ := exchange(q.Get("code"), verifier); st != 400 {
		t.Errorf("code reused: %d", st)
	}
	if st, m := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}}, "", ""); st != 400 || m["error"] != "unauthorized_client" {
		t.Errorf("client_credentials for a public client: %d %v", st, m)
	}

	for _, bad := range []string{
		`{"redirect_uris":[]}`,
		`{"redirect_uris":["/relative"]}`,
		`{"redirect_uris":["http://127.0.0.1:1/#frag"]}`,
		`{"redirect_uris":["http://127.0.0.1:1/"],"token_endpoint_auth_method":"private_key_jwt"}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"none"}`,
		`{"grant_types":["password"],"redirect_uris":["http://127.0.0.1:1/"]}`,
		`not json`,
	} {
		resp, err := http.Post(iss.URL+"/register", "application/json", strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("register %s: %d", bad, resp.StatusCode)
		}
	}
}

func TestIssuerClientCredentialsAndIntrospection(t *testing.T) {
	iss := startTestIssuer(t, nil)
	id, secret := iss.RegisterClient(nil, false)
	st, m := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"s1"}, "resource": {"https://gw.example/mcp"}}, id, secret)
	if st != 200 || m["refresh_token"] != nil {
		t.Fatalf("client_credentials: %d %v", st, m)
	}
	if c := decodeClaims(t, m["access_token"].(string)); c["sub"] != id || c["aud"] != "https://gw.example/mcp" || c["scope"] != "s1" {
		t.Errorf("claims %v", c)
	}
	if st, m := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"client_credentials"}}, id, "nope"); st != 401 || m["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, m)
	}
	if st, m := postForm(t, iss.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}, "", ""); st != 200 {
		t.Errorf("client_secret_post: %d %v", st, m)
	}

	tok := iss.MintOpaque(map[string]any{"sub": "x", "scope": "a"})
	if st, m := postForm(t, iss.URL+"/introspect", url.Values{"token": {tok}}, id, secret); st != 200 || m["active"] != true || m["sub"] != "x" {
		t.Errorf("introspect: %d %v", st, m)
	}
	if st, _ := postForm(t, iss.URL+"/introspect", url.Values{"token": {tok}}, "", ""); st != 401 {
		t.Errorf("introspect without client auth: %d", st)
	}
	iss.Revoke(tok)
	if st, m := postForm(t, iss.URL+"/introspect", url.Values{"token": {tok}}, id, secret); st != 200 || m["active"] != false || len(m) != 1 {
		t.Errorf("revoked: %d %v", st, m)
	}
	if iss.TokenRequests() != 3 {
		t.Errorf("TokenRequests %d", iss.TokenRequests())
	}
}
