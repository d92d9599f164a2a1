package mcptest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Issuer is a test OAuth 2.1 authorization server on a loopback address:
// RFC 8414 metadata (also at the OIDC discovery path), a JWKS with an RSA
// and an EC key, key rotation, an auto-approving authorization_code flow
// with PKCE S256, client_credentials and refresh_token grants, minimal
// RFC 7591 dynamic client registration, RFC 7662 introspection of opaque
// tokens made by MintOpaque, and Mint helpers that sign arbitrary tokens,
// including hostile ones (alg none, HMAC keyed with the public key, keys of
// another issuer). Close it when done.
//
// Endpoints (relative to URL): /.well-known/oauth-authorization-server,
// /.well-known/openid-configuration, /jwks, /authorize, /token, /register,
// /introspect.
type Issuer struct {
	// URL is the issuer identifier, "http://ip:port" (no trailing slash).
	URL string
	// Addr is the "ip:port" the server listens on.
	Addr string

	opts IssuerOptions
	ln   net.Listener
	srv  *http.Server

	jwksRequests  atomic.Int64
	tokenRequests atomic.Int64

	mu       sync.Mutex
	keys     []*issuerKey // published: previous generation, then current
	current  map[string]*issuerKey
	foreign  map[string]*issuerKey // "RSA"/"EC": keys of nobody's JWKS
	keyGen   int
	clients  map[string]*issuerClient
	codes    map[string]*issuerCode
	refresh  map[string]*issuerRefresh
	opaque   map[string]map[string]any
	closeErr error
	closed   bool
}

// IssuerOptions configures StartIssuer. Zero values take the defaults.
type IssuerOptions struct {
	// Subject is the sub of tokens from the authorization_code flow (the
	// auto-approved "user"). Empty: "test-user".
	Subject string
	// TokenTTL is the lifetime of access tokens from /token. Zero: 5m.
	TokenTTL time.Duration
	// Audience is the aud of tokens from /token when the client sends no
	// RFC 8707 resource parameter. Empty: such tokens carry no aud.
	Audience string
	// ScopesSupported is published in the metadata.
	ScopesSupported []string
}

// MintOptions says how MintWith signs a token.
type MintOptions struct {
	// Alg is "RS256" (empty), "PS256", "ES256", "HS256" or "none".
	Alg string
	// KeyID replaces the kid header; empty: the signing key's kid.
	KeyID string
	// NoKeyID leaves the kid header out.
	NoKeyID bool
	// Foreign signs with a key that is in no JWKS (the key of "another
	// issuer") while keeping the current key's kid unless KeyID is set.
	Foreign bool
	// HMACKey is the HS256 secret. Nil: the PEM of the current RSA public
	// key, the classic algorithm confusion attack.
	HMACKey []byte
	// Typ is the typ header. Empty: "at+jwt". NoTyp leaves it out.
	Typ   string
	NoTyp bool
}

type issuerKey struct {
	kid string
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

type issuerClient struct {
	id, secret   string // secret "" for public clients
	redirectURIs []string
	authMethod   string
	grantTypes   []string
}

type issuerCode struct {
	client, redirectURI, challenge, scope, resource string
	expires                                         time.Time
}

type issuerRefresh struct {
	client, sub, scope, resource string
}

const (
	issuerCodeTTL      = time.Minute
	issuerMaxBody      = 64 << 10
	issuerDefaultTTL   = 5 * time.Minute
	issuerDefaultUser  = "test-user"
	issuerAuthNone     = "none"
	issuerAuthBasic    = "client_secret_basic"
	issuerAuthPost     = "client_secret_post"
	issuerGrantCode    = "authorization_code"
	issuerGrantClient  = "client_credentials"
	issuerGrantRefresh = "refresh_token"
)

// StartIssuer starts an issuer on addr, an "ip:port" with a loopback IP
// ("localhost" means 127.0.0.1; port 0 picks a free port). opts may be nil.
func StartIssuer(addr string, opts *IssuerOptions) (*Issuer, error) {
	bind, err := hostileLoopbackAddr(addr)
	if err != nil {
		return nil, err
	}
	iss := &Issuer{
		current: map[string]*issuerKey{},
		foreign: map[string]*issuerKey{},
		clients: map[string]*issuerClient{},
		codes:   map[string]*issuerCode{},
		refresh: map[string]*issuerRefresh{},
		opaque:  map[string]map[string]any{},
	}
	if opts != nil {
		iss.opts = *opts
		iss.opts.ScopesSupported = slices.Clone(opts.ScopesSupported)
	}
	if iss.opts.Subject == "" {
		iss.opts.Subject = issuerDefaultUser
	}
	if iss.opts.TokenTTL == 0 {
		iss.opts.TokenTTL = issuerDefaultTTL
	}
	if err := iss.Rotate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("mcptest: issuer: listen on %q: %w", addr, err)
	}
	iss.ln = ln
	iss.Addr = ln.Addr().String()
	iss.URL = "http://" + iss.Addr
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", iss.handleMetadata)
	mux.HandleFunc("GET /.well-known/openid-configuration", iss.handleMetadata)
	mux.HandleFunc("GET /jwks", iss.handleJWKS)
	mux.HandleFunc("GET /authorize", iss.handleAuthorize)
	mux.HandleFunc("POST /token", iss.handleToken)
	mux.HandleFunc("POST /register", iss.handleRegister)
	mux.HandleFunc("POST /introspect", iss.handleIntrospect)
	iss.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = iss.srv.Serve(ln) }()
	return iss, nil
}

// Close stops the server and closes its connections.
func (iss *Issuer) Close() error {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if !iss.closed {
		iss.closed = true
		if err := iss.srv.Close(); err != nil {
			iss.closeErr = fmt.Errorf("mcptest: close issuer %s: %w", iss.Addr, err)
		}
	}
	return iss.closeErr
}

// JWKSURL is where the issuer publishes its keys.
func (iss *Issuer) JWKSURL() string { return iss.URL + "/jwks" }

// JWKSRequests counts the JWKS fetches served so far.
func (iss *Issuer) JWKSRequests() int64 { return iss.jwksRequests.Load() }

// TokenRequests counts the requests to /token so far.
func (iss *Issuer) TokenRequests() int64 { return iss.tokenRequests.Load() }

// Rotate makes a new RSA and EC signing key current. The JWKS then
// publishes the new keys and the previous generation (so tokens signed
// just before still verify); older keys are dropped.
func (iss *Issuer) Rotate() error {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return fmt.Errorf("mcptest: issuer: %w", err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("mcptest: issuer: %w", err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keyGen++
	r := &issuerKey{kid: fmt.Sprintf("rsa-%d", iss.keyGen), rsa: rk}
	e := &issuerKey{kid: fmt.Sprintf("ec-%d", iss.keyGen), ec: ek}
	prev := []*issuerKey{iss.current["RSA"], iss.current["EC"]}
	iss.keys = nil
	for _, k := range prev {
		if k != nil {
			iss.keys = append(iss.keys, k)
		}
	}
	iss.keys = append(iss.keys, r, e)
	iss.current["RSA"], iss.current["EC"] = r, e
	return nil
}

// CurrentKeyIDs returns the kids of the current RSA and EC keys.
func (iss *Issuer) CurrentKeyIDs() (rsaKid, ecKid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.current["RSA"].kid, iss.current["EC"].kid
}

// RSAPublicKeyPEM returns the current RSA public key as PKIX PEM, the
// bytes an algorithm confusion attack uses as HMAC secret.
func (iss *Issuer) RSAPublicKeyPEM() []byte {
	iss.mu.Lock()
	k := iss.current["RSA"].rsa
	iss.mu.Unlock()
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err) // an RSA public key always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Claims returns valid access token claims from this issuer: iss, sub,
// aud (a string, or a []string), exp in 5 minutes, iat and nbf now, a
// fresh jti, and scope (space-separated) when scopes are given.
func (iss *Issuer) Claims(sub string, aud any, scopes ...string) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": iss.URL,
		"sub": sub,
		"aud": aud,
		"exp": now.Add(5 * time.Minute).Unix(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"jti": issuerRandom(12),
	}
	if len(scopes) > 0 {
		c["scope"] = strings.Join(scopes, " ")
	}
	return c
}

// Mint signs claims, exactly as given, with the current RSA key (RS256,
// typ at+jwt, kid set).
func (iss *Issuer) Mint(claims map[string]any) (string, error) {
	return iss.MintWith(MintOptions{}, claims)
}

// MintWith signs claims as o says.
func (iss *Issuer) MintWith(o MintOptions, claims map[string]any) (string, error) {
	alg := o.Alg
	if alg == "" {
		alg = "RS256"
	}
	kty := "RSA"
	if alg == "ES256" {
		kty = "EC"
	}
	var key *issuerKey
	switch alg {
	case "RS256", "PS256", "ES256":
		iss.mu.Lock()
		key = iss.current[kty]
		iss.mu.Unlock()
	case "HS256", "none":
	default:
		return "", fmt.Errorf("mcptest: mint: unsupported alg %q", alg)
	}
	header := map[string]any{"alg": alg}
	if !o.NoTyp {
		header["typ"] = "at+jwt"
		if o.Typ != "" {
			header["typ"] = o.Typ
		}
	}
	kid := o.KeyID
	if kid == "" {
		iss.mu.Lock()
		kid = iss.current[kty].kid
		iss.mu.Unlock()
	}
	if !o.NoKeyID {
		header["kid"] = kid
	}
	if o.Foreign && key != nil {
		f, err := iss.foreignKey(kty)
		if err != nil {
			return "", err
		}
		key = f
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("mcptest: mint: %w", err)
	}
	pb, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("mcptest: mint: claims: %w", err)
	}
	input := issuerB64(hb) + "." + issuerB64(pb)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.rsa, crypto.SHA256, sum[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.rsa, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "ES256":
		var r, s *big.Int
		r, s, err = ecdsa.Sign(rand.Reader, key.ec, sum[:])
		if err == nil {
			sig = make([]byte, 64)
			r.FillBytes(sig[:32])
			s.FillBytes(sig[32:])
		}
	case "HS256":
		secret := o.HMACKey
		if secret == nil {
			secret = iss.RSAPublicKeyPEM()
		}
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		sig = mac.Sum(nil)
	case "none":
	}
	if err != nil {
		return "", fmt.Errorf("mcptest: mint: sign: %w", err)
	}
	return input + "." + issuerB64(sig), nil
}

// MintOpaque returns a random opaque access token whose introspection
// answers active with claims (plus "active": true).
func (iss *Issuer) MintOpaque(claims map[string]any) string {
	tok := issuerRandom(32)
	iss.mu.Lock()
	iss.opaque[tok] = maps.Clone(claims)
	iss.mu.Unlock()
	return tok
}

// Revoke makes an opaque token inactive.
func (iss *Issuer) Revoke(token string) {
	iss.mu.Lock()
	delete(iss.opaque, token)
	iss.mu.Unlock()
}

// RegisterClient adds a client as /register would: a confidential one
// (client_secret_basic, returns a secret) unless public is set.
func (iss *Issuer) RegisterClient(redirectURIs []string, public bool) (id, secret string) {
	c := &issuerClient{
		id:           "client-" + issuerRandom(8),
		redirectURIs: slices.Clone(redirectURIs),
		authMethod:   issuerAuthBasic,
		grantTypes:   []string{issuerGrantCode, issuerGrantClient, issuerGrantRefresh},
	}
	if public {
		c.authMethod = issuerAuthNone
		c.grantTypes = []string{issuerGrantCode, issuerGrantRefresh}
	} else {
		c.secret = issuerRandom(24)
	}
	iss.mu.Lock()
	iss.clients[c.id] = c
	iss.mu.Unlock()
	return c.id, c.secret
}

func (iss *Issuer) foreignKey(kty string) (*issuerKey, error) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	if k := iss.foreign[kty]; k != nil {
		return k, nil
	}
	k := &issuerKey{kid: "foreign"}
	var err error
	if kty == "RSA" {
		k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("mcptest: issuer: %w", err)
	}
	iss.foreign[kty] = k
	return k, nil
}

func (iss *Issuer) handleMetadata(w http.ResponseWriter, _ *http.Request) {
	md := map[string]any{
		"issuer":                                iss.URL,
		"authorization_endpoint":                iss.URL + "/authorize",
		"token_endpoint":                        iss.URL + "/token",
		"jwks_uri":                              iss.JWKSURL(),
		"registration_endpoint":                 iss.URL + "/register",
		"introspection_endpoint":                iss.URL + "/introspect",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{issuerGrantCode, issuerGrantClient, issuerGrantRefresh},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{issuerAuthBasic, issuerAuthPost, issuerAuthNone},
		"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		"subject_types_supported":               []string{"public"},
	}
	if len(iss.opts.ScopesSupported) > 0 {
		md["scopes_supported"] = iss.opts.ScopesSupported
	}
	issuerJSON(w, http.StatusOK, md)
}

func (iss *Issuer) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	iss.jwksRequests.Add(1)
	iss.mu.Lock()
	var keys []map[string]any
	for _, k := range iss.keys {
		if k.rsa != nil {
			pub := k.rsa.PublicKey
			keys = append(keys, map[string]any{
				"kty": "RSA", "kid": k.kid, "use": "sig", // no alg: RS256 and PS256
				"n": issuerB64(pub.N.Bytes()), "e": issuerB64(big.NewInt(int64(pub.E)).Bytes()),
			})
		} else {
			pub := k.ec.PublicKey
			x, y := make([]byte, 32), make([]byte, 32)
			pub.X.FillBytes(x)
			pub.Y.FillBytes(y)
			keys = append(keys, map[string]any{
				"kty": "EC", "kid": k.kid, "use": "sig", "alg": "ES256", "crv": "P-256",
				"x": issuerB64(x), "y": issuerB64(y),
			})
		}
	}
	iss.mu.Unlock()
	issuerJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// handleAuthorize auto-approves a valid request and redirects back with a
// code. Errors before the redirect URI is trusted are 400 pages.
func (iss *Issuer) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	iss.mu.Lock()
	c := iss.clients[q.Get("client_id")]
	iss.mu.Unlock()
	if c == nil {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	switch {
	case redirect == "" && len(c.redirectURIs) == 1:
		redirect = c.redirectURIs[0]
	case !slices.Contains(c.redirectURIs, redirect):
		http.Error(w, "redirect_uri not registered", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect) // registered URIs parsed at registration
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		v.Set("iss", iss.URL)
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
		return
	case q.Get("code_challenge_method") != "S256" || !issuerValidPKCE(q.Get("code_challenge")):
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 required"}})
		return
	}
	code := issuerRandom(32)
	iss.mu.Lock()
	iss.codes[code] = &issuerCode{
		client: c.id, redirectURI: redirect, challenge: q.Get("code_challenge"),
		scope: q.Get("scope"), resource: q.Get("resource"), expires: time.Now().Add(issuerCodeTTL),
	}
	iss.mu.Unlock()
	back(url.Values{"code": {code}})
}

// issuerValidPKCE checks a verifier or S256 challenge: 43 to 128 characters of
// RFC 7636's unreserved set.
func issuerValidPKCE(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

func (iss *Issuer) handleToken(w http.ResponseWriter, r *http.Request) {
	iss.tokenRequests.Add(1)
	r.Body = http.MaxBytesReader(w, r.Body, issuerMaxBody)
	if err := r.ParseForm(); err != nil {
		issuerOAuthError(w, http.StatusBadRequest, "invalid_request", "bad form body")
		return
	}
	c, ok := iss.clientAuth(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		issuerOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	grant := r.PostForm.Get("grant_type")
	if !slices.Contains(c.grantTypes, grant) {
		issuerOAuthError(w, http.StatusBadRequest, "unauthorized_client", "grant type not allowed for this client")
		return
	}
	var sub, scope, resource string
	switch grant {
	case issuerGrantCode:
		code := r.PostForm.Get("code")
		iss.mu.Lock()
		ac := iss.codes[code]
		delete(iss.codes, code) // single use, also when the exchange fails
		iss.mu.Unlock()
		verifier := r.PostForm.Get("code_verifier")
		sum := sha256.Sum256([]byte(verifier))
		switch {
		case ac == nil || time.Now().After(ac.expires) || ac.client != c.id:
			issuerOAuthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
			return
		case r.PostForm.Get("redirect_uri") != ac.redirectURI:
			issuerOAuthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri mismatch")
			return
		case !issuerValidPKCE(verifier) || subtle.ConstantTimeCompare([]byte(issuerB64(sum[:])), []byte(ac.challenge)) != 1:
			issuerOAuthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		resource = ac.resource
		if res := r.PostForm.Get("resource"); res != "" && res != resource {
			if resource != "" {
				issuerOAuthError(w, http.StatusBadRequest, "invalid_target", "resource differs from the authorization request")
				return
			}
			resource = res
		}
		sub, scope = iss.opts.Subject, ac.scope
	case issuerGrantClient:
		sub, scope, resource = c.id, r.PostForm.Get("scope"), r.PostForm.Get("resource")
	case issuerGrantRefresh:
		rt := r.PostForm.Get("refresh_token")
		iss.mu.Lock()
		g := iss.refresh[rt]
		delete(iss.refresh, rt) // rotated on every use
		iss.mu.Unlock()
		if g == nil || g.client != c.id {
			issuerOAuthError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
		sub, scope, resource = g.sub, g.scope, g.resource
		if res := r.PostForm.Get("resource"); res != "" {
			resource = res
		}
	default:
		issuerOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	var aud any
	switch {
	case resource != "":
		aud = resource
	case iss.opts.Audience != "":
		aud = iss.opts.Audience
	}
	claims := iss.Claims(sub, aud)
	if aud == nil {
		delete(claims, "aud")
	}
	claims["exp"] = time.Now().Add(iss.opts.TokenTTL).Unix()
	claims["client_id"] = c.id
	if scope != "" {
		claims["scope"] = scope
	}
	at, err := iss.Mint(claims)
	if err != nil {
		issuerOAuthError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	out := map[string]any{
		"access_token": at,
		"token_type":   "Bearer",
		"expires_in":   int(iss.opts.TokenTTL / time.Second),
	}
	if scope != "" {
		out["scope"] = scope
	}
	if grant != issuerGrantClient {
		rt := issuerRandom(32)
		iss.mu.Lock()
		iss.refresh[rt] = &issuerRefresh{client: c.id, sub: sub, scope: scope, resource: resource}
		iss.mu.Unlock()
		out["refresh_token"] = rt
	}
	w.Header().Set("Cache-Control", "no-store")
	issuerJSON(w, http.StatusOK, out)
}

// clientAuth authenticates the client of a token or introspection request
// by its registered method (Basic, form secret, or none for public ones).
func (iss *Issuer) clientAuth(r *http.Request) (*issuerClient, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err error
		if id, err = url.QueryUnescape(id); err != nil {
			return nil, false
		}
		if secret, err = url.QueryUnescape(secret); err != nil {
			return nil, false
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	iss.mu.Lock()
	c := iss.clients[id]
	iss.mu.Unlock()
	if c == nil {
		return nil, false
	}
	switch c.authMethod {
	case issuerAuthNone:
		return c, !basic && secret == ""
	case issuerAuthBasic, issuerAuthPost:
		return c, secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) == 1
	}
	return nil, false
}

// handleRegister is minimal RFC 7591 dynamic client registration.
func (iss *Issuer) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURIs            []string `json:"redirect_uris"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
		GrantTypes              []string `json:"grant_types"`
		ResponseTypes           []string `json:"response_types"`
		ClientName              string   `json:"client_name"`
		Scope                   string   `json:"scope"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, issuerMaxBody+1))
	if err != nil || len(body) > issuerMaxBody || json.Unmarshal(body, &req) != nil {
		issuerOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "body is not a JSON object of at most 64 KiB")
		return
	}
	if req.TokenEndpointAuthMethod == "" {
		req.TokenEndpointAuthMethod = issuerAuthBasic
	}
	if !slices.Contains([]string{issuerAuthNone, issuerAuthBasic, issuerAuthPost}, req.TokenEndpointAuthMethod) {
		issuerOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "unsupported token_endpoint_auth_method")
		return
	}
	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{issuerGrantCode}
	}
	for _, g := range req.GrantTypes {
		if !slices.Contains([]string{issuerGrantCode, issuerGrantClient, issuerGrantRefresh}, g) ||
			(g == issuerGrantClient && req.TokenEndpointAuthMethod == issuerAuthNone) {
			issuerOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", fmt.Sprintf("grant type %q not allowed", g))
			return
		}
	}
	if slices.Contains(req.GrantTypes, issuerGrantCode) && len(req.RedirectURIs) == 0 {
		issuerOAuthError(w, http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris required")
		return
	}
	for _, ru := range req.RedirectURIs {
		u, err := url.Parse(ru)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			issuerOAuthError(w, http.StatusBadRequest, "invalid_redirect_uri", fmt.Sprintf("%q is not an absolute URI without fragment", ru))
			return
		}
	}
	c := &issuerClient{
		id:           "client-" + issuerRandom(8),
		redirectURIs: req.RedirectURIs,
		authMethod:   req.TokenEndpointAuthMethod,
		grantTypes:   req.GrantTypes,
	}
	if c.authMethod != issuerAuthNone {
		c.secret = issuerRandom(24)
	}
	iss.mu.Lock()
	iss.clients[c.id] = c
	iss.mu.Unlock()
	out := map[string]any{
		"client_id":                  c.id,
		"client_id_issued_at":        time.Now().Unix(),
		"redirect_uris":              c.redirectURIs,
		"token_endpoint_auth_method": c.authMethod,
		"grant_types":                c.grantTypes,
		"response_types":             []string{"code"},
	}
	if req.ClientName != "" {
		out["client_name"] = req.ClientName
	}
	if c.secret != "" {
		out["client_secret"] = c.secret
		out["client_secret_expires_at"] = 0
	}
	issuerJSON(w, http.StatusCreated, out)
}

// handleIntrospect answers RFC 7662 requests from confidential clients
// about tokens made by MintOpaque.
func (iss *Issuer) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, issuerMaxBody)
	if err := r.ParseForm(); err != nil {
		issuerOAuthError(w, http.StatusBadRequest, "invalid_request", "bad form body")
		return
	}
	c, ok := iss.clientAuth(r)
	if !ok || c.secret == "" {
		issuerOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	iss.mu.Lock()
	claims, found := iss.opaque[r.PostForm.Get("token")]
	claims = maps.Clone(claims)
	iss.mu.Unlock()
	if !found {
		issuerJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	claims["active"] = true
	issuerJSON(w, http.StatusOK, claims)
}

func issuerOAuthError(w http.ResponseWriter, status int, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	w.Header().Set("Cache-Control", "no-store")
	issuerJSON(w, status, body)
}

func issuerJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func issuerB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// issuerRandom returns n random bytes in base64url.
func issuerRandom(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return issuerB64(b)
}

// ExchangeCode runs the authorization_code + PKCE flow the way a client
// does, for tests: it calls /authorize (auto-approved), reads the code
// from the redirect without following it, and exchanges it at /token. It
// returns the token response.
func (iss *Issuer) ExchangeCode(ctx context.Context, clientID, clientSecret, redirectURI, scope, resource string) (map[string]any, error) {
	verifier := issuerRandom(48)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type": {"code"}, "client_id": {clientID}, "redirect_uri": {redirectURI},
		"code_challenge": {issuerB64(sum[:])}, "code_challenge_method": {"S256"}, "state": {"st"},
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	if resource != "" {
		q.Set("resource", resource)
	}
	hc := &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, iss.URL+"/authorize?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mcptest: authorize: %w", err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		return nil, fmt.Errorf("mcptest: authorize: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "st" {
		return nil, fmt.Errorf("mcptest: authorize: redirect %q without code and state", loc)
	}
	form := url.Values{"grant_type": {issuerGrantCode}, "code": {code}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	if clientSecret == "" {
		form.Set("client_id", clientID)
	}
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, iss.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if clientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(clientSecret))
	}
	resp, err = hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mcptest: token: %w", err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, issuerMaxBody)).Decode(&out); err != nil {
		return nil, fmt.Errorf("mcptest: token: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("mcptest: token: status %d: %v", resp.StatusCode, out["error"])
	}
	return out, nil
}
