package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWT verification.
//
// Why go-jose (github.com/go-jose/go-jose/v4): it is the maintained JOSE
// library of the Go ecosystem (the successor of square/go-jose), it has no
// "none" algorithm at all, and its parser takes the list of accepted
// algorithms explicitly, so the allowlist is enforced before any key is
// touched. On top of that this file checks that the algorithm fits the
// key's type, so an HS256 token can never be checked with an RSA key's
// bytes: keys from a JWKS are public keys, and HMAC is only possible with a
// shared secret configured explicitly, which then excludes every other
// algorithm.

// Defaults of JWTOptions.
const (
	DefaultLeeway             = 60 * time.Second
	DefaultRefreshInterval    = time.Hour
	DefaultMinRefreshInterval = 30 * time.Second
	maxLeeway                 = 5 * time.Minute
	minSharedSecretLen        = 32
	minRSABits                = 2048
)

// DefaultAlgorithms is the allowlist when JWTOptions.Algorithms is empty.
var DefaultAlgorithms = []string{"RS256", "ES256", "EdDSA", "PS256"}

var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
var hmacAlgs = []string{"HS256", "HS384", "HS512"}

// JWTOptions configures NewJWT. Zero values take the documented defaults.
type JWTOptions struct {
	// Issuer is the expected iss, exactly. Required: https, or http on a
	// loopback host.
	Issuer string
	// Audiences are the accepted aud values: the canonical resource URL
	// first, then extra ones for identity providers that put a client id
	// there. Required. A token's aud must contain one of them. Values are
	// compared exactly. An extra audience that is a client id also admits
	// that client's ID tokens; add one only when the IdP leaves no choice.
	Audiences []string
	// JWKSURL is where the issuer's keys are. Empty: discovered from
	// <issuer>/.well-known/oauth-authorization-server (RFC 8414), then
	// .well-known/openid-configuration (OIDC).
	JWKSURL string
	// Algorithms is the allowlist of "alg" values. Empty: DefaultAlgorithms
	// (or HS256 with SharedSecret). "none" is always refused, and HMAC
	// algorithms only with SharedSecret.
	Algorithms []string
	// SharedSecret switches to HMAC: tokens are checked with this secret
	// (at least 32 bytes) and only HS256/HS384/HS512 are accepted; no JWKS
	// is used. Empty: asymmetric keys from the JWKS only.
	SharedSecret []byte
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero: 60s;
	// at most 5m.
	Leeway time.Duration
	// RequiredScopes must all be granted, else Authenticate returns a
	// *ScopeError (403 insufficient_scope).
	RequiredScopes []string
	// HTTPClient fetches metadata and keys. Nil: a client with a 10s
	// timeout that does not follow redirects.
	HTTPClient *http.Client
	// RefreshInterval is how old the cached JWKS may get before it is
	// fetched again. Zero: 1h.
	RefreshInterval time.Duration
	// MinRefreshInterval is the least time between two fetches, also when
	// tokens name unknown key ids (key rotation). Zero: 30s.
	MinRefreshInterval time.Duration
	// GroupsClaim names the claim holding the principal's groups (a string
	// or an array of strings); dots descend into objects
	// ("realm_access.roles"). Empty: no groups.
	GroupsClaim string
	// VerifiedCacheTTL, when positive, remembers a token that passed every
	// check for that long (never past its exp), keyed by the token's
	// SHA-256, so that a client repeating its token costs a hash instead
	// of a signature check. A key dropped from the JWKS then stops
	// working for cached tokens only after this delay. Zero: no cache.
	VerifiedCacheTTL time.Duration
	// Logger gets JWKS refresh failures. Nil: discard.
	Logger *slog.Logger
}

// LogValue redacts the shared secret when the options are logged.
func (o JWTOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", o.Issuer),
		slog.Any("audiences", o.Audiences),
		slog.String("jwks_url", o.JWKSURL),
		slog.Any("algorithms", o.Algorithms),
		slog.String("shared_secret", redacted(len(o.SharedSecret) > 0)),
		slog.Duration("leeway", o.Leeway),
		slog.Any("required_scopes", o.RequiredScopes),
		slog.String("groups_claim", o.GroupsClaim),
	)
}

// JWT authenticates OAuth 2.1 JWT access tokens from the Authorization
// header against an issuer's keys. It is safe for concurrent use.
type JWT struct {
	opts    JWTOptions
	algs    []jose.SignatureAlgorithm
	client  *http.Client
	jwksURL string
	log     *slog.Logger
	now     func() time.Time

	fetchMu sync.Mutex // one fetch at a time

	mu          sync.Mutex
	keys        []jose.JSONWebKey
	fetchedAt   time.Time
	lastAttempt time.Time
	gen         uint64 // incremented on every successful fetch

	cacheMu  sync.Mutex
	verified map[[sha256.Size]byte]verifiedEntry
}

type verifiedEntry struct {
	p     *Principal
	until time.Time
}

// maxVerifiedCache bounds the verified-token cache.
const maxVerifiedCache = 10000

var _ Authenticator = (*JWT)(nil)

// NewJWT checks opts, discovers the JWKS URL when needed and fetches the
// keys once, so that a wrong configuration fails at start.
func NewJWT(ctx context.Context, opts JWTOptions) (*JWT, error) {
	j := &JWT{opts: opts, now: time.Now, verified: map[[sha256.Size]byte]verifiedEntry{}}
	o := &j.opts
	o.Audiences = slices.Clone(o.Audiences)
	o.Algorithms = slices.Clone(o.Algorithms)
	o.RequiredScopes = slices.Clone(o.RequiredScopes)
	o.SharedSecret = slices.Clone(o.SharedSecret)
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("auth: jwt: no issuer"))
	} else if _, err := checkServerURL("jwt issuer", o.Issuer); err != nil {
		errs = append(errs, err)
	}
	if len(o.Audiences) == 0 {
		errs = append(errs, errors.New("auth: jwt: no audience"))
	}
	for _, a := range o.Audiences {
		if a == "" {
			errs = append(errs, errors.New("auth: jwt: empty audience"))
		}
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	if o.Leeway < 0 || o.Leeway > maxLeeway {
		errs = append(errs, fmt.Errorf("auth: jwt: leeway %v outside 0..%v", o.Leeway, maxLeeway))
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MinRefreshInterval == 0 {
		o.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if o.VerifiedCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("auth: jwt: negative verified cache ttl %v", o.VerifiedCacheTTL))
	}
	if o.RefreshInterval < 0 || o.MinRefreshInterval < 0 || o.MinRefreshInterval > o.RefreshInterval {
		errs = append(errs, fmt.Errorf("auth: jwt: refresh interval %v and minimum %v: want 0 <= minimum <= interval", o.RefreshInterval, o.MinRefreshInterval))
	}
	hmacMode := len(o.SharedSecret) > 0
	if len(o.Algorithms) == 0 {
		o.Algorithms = slices.Clone(DefaultAlgorithms)
		if hmacMode {
			o.Algorithms = []string{"HS256"}
		}
	}
	for _, a := range o.Algorithms {
		switch {
		case hmacMode && slices.Contains(hmacAlgs, a), !hmacMode && slices.Contains(asymmetricAlgs, a):
			j.algs = append(j.algs, jose.SignatureAlgorithm(a))
		case slices.Contains(hmacAlgs, a):
			errs = append(errs, fmt.Errorf("auth: jwt: algorithm %q needs a shared secret", a))
		case hmacMode && slices.Contains(asymmetricAlgs, a):
			errs = append(errs, fmt.Errorf("auth: jwt: algorithm %q cannot be mixed with a shared secret", a))
		default:
			errs = append(errs, fmt.Errorf("auth: jwt: algorithm %q not supported", a))
		}
	}
	if hmacMode {
		if len(o.SharedSecret) < minSharedSecretLen {
			errs = append(errs, fmt.Errorf("auth: jwt: shared secret shorter than %d bytes", minSharedSecretLen))
		}
		if o.JWKSURL != "" {
			errs = append(errs, errors.New("auth: jwt: a shared secret and a JWKS URL exclude each other"))
		}
	} else if o.JWKSURL != "" {
		if _, err := checkServerURL("jwks url", o.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if o.GroupsClaim != "" && slices.Contains(strings.Split(o.GroupsClaim, "."), "") {
		errs = append(errs, fmt.Errorf("auth: jwt: groups claim %q has an empty part", o.GroupsClaim))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	j.client = defaultHTTPClient(o.HTTPClient)
	j.log = o.Logger
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	if hmacMode {
		j.keys = []jose.JSONWebKey{{Key: o.SharedSecret}}
		return j, nil
	}
	j.jwksURL = o.JWKSURL
	if j.jwksURL == "" {
		u, err := discoverJWKSURL(ctx, j.client, o.Issuer)
		if err != nil {
			return nil, err
		}
		j.jwksURL = u
	}
	keys, err := fetchJWKS(ctx, j.client, j.jwksURL)
	if err != nil {
		return nil, fmt.Errorf("auth: jwt: %w", err)
	}
	now := j.now()
	j.keys, j.fetchedAt, j.lastAttempt, j.gen = keys, now, now, 1
	return j, nil
}

// JWKSURL returns the URL keys are fetched from ("" with a shared secret).
func (j *JWT) JWKSURL() string { return j.jwksURL }

// Authenticate implements Authenticator. A bearer token with the API key
// prefix, or no bearer token, is ErrNoCredentials.
func (j *JWT) Authenticate(r *http.Request) (*Principal, error) {
	tok, err := BearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(tok, APIKeyPrefix) {
		return nil, ErrNoCredentials
	}
	return j.Verify(r.Context(), tok)
}

// jwtHeader is the part of a JOSE header read before verification.
type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// tokenClaims are the claims this package reads.
type tokenClaims struct {
	jwt.Claims
	Scope    json.RawMessage `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	Azp      string          `json:"azp"`
}

// Verify checks a raw JWT access token and returns its principal.
func (j *JWT) Verify(ctx context.Context, raw string) (*Principal, error) {
	if len(raw) > maxCredentialLen {
		return nil, invalid("oauth", ReasonMalformed, "token too long")
	}
	if j.opts.VerifiedCacheTTL <= 0 {
		return j.verify(ctx, raw)
	}
	key := sha256.Sum256([]byte(raw))
	now := j.now()
	j.cacheMu.Lock()
	e, ok := j.verified[key]
	j.cacheMu.Unlock()
	if ok && now.Before(e.until) {
		return clonePrincipal(e.p), nil
	}
	p, err := j.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	until := now.Add(j.opts.VerifiedCacheTTL)
	if p.ExpiresAt.Before(until) {
		until = p.ExpiresAt
	}
	j.cacheMu.Lock()
	if len(j.verified) >= maxVerifiedCache {
		for k, v := range j.verified {
			if !now.Before(v.until) {
				delete(j.verified, k)
			}
		}
		if len(j.verified) >= maxVerifiedCache {
			clear(j.verified)
		}
	}
	j.verified[key] = verifiedEntry{p: clonePrincipal(p), until: until}
	j.cacheMu.Unlock()
	return p, nil
}

func (j *JWT) verify(ctx context.Context, raw string) (*Principal, error) {
	const m = "oauth"
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, invalidf(m, ReasonMalformed, "%d dot-separated parts, want 3 (JWS compact)", len(parts))
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, invalid(m, ReasonMalformed, "header is not base64url")
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, invalid(m, ReasonMalformed, "header is not a JSON object")
	}
	if !slices.Contains(j.algs, jose.SignatureAlgorithm(h.Alg)) {
		return nil, invalidf(m, ReasonAlgNotAllowed, "alg %q", h.Alg)
	}
	if h.Typ != "" && !strings.EqualFold(h.Typ, "JWT") && !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil, invalidf(m, ReasonWrongType, "typ %q", h.Typ)
	}
	sig, err := jose.ParseSignedCompact(raw, j.algs)
	if err != nil {
		return nil, invalid(m, ReasonMalformed, "not a JWS")
	}
	alg := jose.SignatureAlgorithm(h.Alg)

	keys, err := j.candidates(ctx, h.Kid, alg)
	if err != nil {
		return nil, err
	}
	var payload []byte
	for _, k := range keys {
		if p, err := sig.Verify(k.Key); err == nil {
			payload = p
			break
		}
	}
	if payload == nil {
		return nil, invalidf(m, ReasonBadSignature, "kid %q", h.Kid)
	}

	var c tokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalid(m, ReasonMalformed, "claims do not decode")
	}
	if err := j.checkClaims(&c); err != nil {
		return nil, err
	}
	scopes, err := parseScopes(c.Scope, c.Scp)
	if err != nil {
		return nil, invalid(m, ReasonMalformed, err.Error())
	}
	p := &Principal{
		Subject:  c.Subject,
		Method:   "oauth",
		Issuer:   c.Issuer,
		ClientID: c.ClientID,
		Scopes:   scopes,
	}
	if p.ClientID == "" {
		p.ClientID = c.Azp
	}
	if c.Expiry != nil {
		p.ExpiresAt = c.Expiry.Time()
	}
	if j.opts.GroupsClaim != "" {
		g, err := claimStrings(payload, j.opts.GroupsClaim)
		if err != nil {
			return nil, invalid(m, ReasonMalformed, err.Error())
		}
		p.Groups = g
	}
	if err := RequireScopes(p, j.opts.RequiredScopes); err != nil {
		return nil, err
	}
	return p, nil
}

func (j *JWT) checkClaims(c *tokenClaims) error {
	const m = "oauth"
	now := j.now()
	lw := j.opts.Leeway
	if c.Issuer != j.opts.Issuer {
		return invalidf(m, ReasonWrongIssuer, "iss %q", c.Issuer)
	}
	if len(c.Audience) == 0 {
		return invalid(m, ReasonMissingAudience, "")
	}
	if !slices.ContainsFunc(j.opts.Audiences, c.Audience.Contains) {
		return invalidf(m, ReasonWrongAudience, "aud %q", []string(c.Audience))
	}
	if c.Expiry == nil {
		return invalid(m, ReasonMissingExpiry, "")
	}
	if now.After(c.Expiry.Time().Add(lw)) {
		return invalidf(m, ReasonExpired, "exp %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Add(lw).Before(c.NotBefore.Time()) {
		return invalidf(m, ReasonNotYetValid, "nbf %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	}
	if c.IssuedAt != nil && now.Add(lw).Before(c.IssuedAt.Time()) {
		return invalidf(m, ReasonIssuedInFuture, "iat %s", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	if c.Subject == "" {
		return invalid(m, ReasonMissingSubject, "")
	}
	return nil
}

// candidates returns the keys that may have signed a token with kid and
// alg, refreshing the JWKS when it is stale or kid is unknown (at most once
// per MinRefreshInterval).
func (j *JWT) candidates(ctx context.Context, kid string, alg jose.SignatureAlgorithm) ([]jose.JSONWebKey, error) {
	const m = "oauth"
	if len(j.opts.SharedSecret) > 0 {
		return j.keys, nil
	}
	j.mu.Lock()
	keys, gen := j.keys, j.gen
	stale := j.now().Sub(j.fetchedAt) >= j.opts.RefreshInterval
	j.mu.Unlock()
	if stale && j.refresh(ctx, gen) {
		j.mu.Lock()
		keys, gen = j.keys, j.gen
		j.mu.Unlock()
	}
	byKid := keysByKid(keys, kid)
	if len(byKid) == 0 && kid != "" && j.refresh(ctx, gen) {
		j.mu.Lock()
		keys = j.keys
		j.mu.Unlock()
		byKid = keysByKid(keys, kid)
	}
	if len(byKid) == 0 {
		return nil, invalidf(m, ReasonUnknownKey, "kid %q", kid)
	}
	var fit []jose.JSONWebKey
	for _, k := range byKid {
		if keyFits(k, alg) {
			fit = append(fit, k)
		}
	}
	if len(fit) == 0 {
		return nil, invalidf(m, ReasonAlgNotAllowed, "alg %q does not fit key %q", alg, kid)
	}
	return fit, nil
}

// keysByKid returns the keys with the given id, or all keys for "".
func keysByKid(keys []jose.JSONWebKey, kid string) []jose.JSONWebKey {
	if kid == "" {
		return keys
	}
	var out []jose.JSONWebKey
	for _, k := range keys {
		if k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// keyFits reports whether a token signed with alg can be checked with k:
// the key type must be the algorithm's (RSA for RS/PS, the curve for ES,
// Ed25519 for EdDSA), and a key that names an alg or a use must agree.
func keyFits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	if k.Use != "" && k.Use != "sig" {
		return false
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(string(alg), "RS") || strings.HasPrefix(string(alg), "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return key.Curve == elliptic.P256()
		case jose.ES384:
			return key.Curve == elliptic.P384()
		case jose.ES512:
			return key.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	case []byte:
		return strings.HasPrefix(string(alg), "HS")
	}
	return false
}

// refresh fetches the JWKS, unless a fetch succeeded since generation gen
// (then it reports true without fetching) or the last attempt is younger
// than MinRefreshInterval. It reports whether newer keys are available.
func (j *JWT) refresh(ctx context.Context, gen uint64) bool {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	j.mu.Lock()
	if j.gen != gen {
		j.mu.Unlock()
		return true
	}
	if j.now().Sub(j.lastAttempt) < j.opts.MinRefreshInterval {
		j.mu.Unlock()
		return false
	}
	j.lastAttempt = j.now()
	j.mu.Unlock()

	// The fetch outlives a client that hangs up, so that one cancelled
	// request cannot waste the refresh slot of everyone else.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultHTTPTimeout)
	defer cancel()
	keys, err := fetchJWKS(ctx, j.client, j.jwksURL)
	if err != nil {
		j.log.Warn("jwks refresh failed, keeping the cached keys", "url", j.jwksURL, "err", err)
		return false
	}
	j.mu.Lock()
	j.keys, j.fetchedAt = keys, j.now()
	j.gen++
	j.mu.Unlock()
	return true
}

// fetchJWKS downloads a JWK Set and keeps its public signing keys. Keys
// that do not parse, symmetric keys and encryption keys are skipped; a set
// with no usable key is an error.
func fetchJWKS(ctx context.Context, c *http.Client, u string) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := getJSON(ctx, c, u, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			if key.N.BitLen() < minRSABits {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			// A JWKS must not publish private keys; use only the public half.
			k = k.Public()
		default:
			continue // symmetric or unknown: never a verification key from a JWKS
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks %s: no usable public signing key", u)
	}
	return keys, nil
}

// discoverJWKSURL reads the issuer's metadata (RFC 8414, then OIDC) and
// returns its jwks_uri. The metadata's issuer must equal issuer.
func discoverJWKSURL(ctx context.Context, c *http.Client, issuer string) (string, error) {
	u, err := checkServerURL("jwt issuer", issuer)
	if err != nil {
		return "", err
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	origin := u.Scheme + "://" + u.Host
	candidates := []string{origin + "/.well-known/oauth-authorization-server" + path}
	candidates = append(candidates, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration")
	if path != "" {
		candidates = append(candidates, origin+"/.well-known/openid-configuration"+path)
	}
	var errs []error
	for _, mu := range candidates {
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, c, mu, &md); err != nil {
			errs = append(errs, err)
			continue
		}
		if md.Issuer != issuer {
			errs = append(errs, fmt.Errorf("%s: issuer %q, want %q", mu, md.Issuer, issuer))
			continue
		}
		if md.JWKSURI == "" {
			errs = append(errs, fmt.Errorf("%s: no jwks_uri", mu))
			continue
		}
		if _, err := checkServerURL("jwks_uri", md.JWKSURI); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mu, err))
			continue
		}
		return md.JWKSURI, nil
	}
	return "", fmt.Errorf("auth: jwt: discover keys of %s: %w", issuer, errors.Join(errs...))
}

// parseScopes merges the space-separated "scope" string (an array is also
// accepted) and "scp" (string or array), keeping first-seen order.
func parseScopes(scope, scp json.RawMessage) ([]string, error) {
	var out []string
	for _, raw := range []json.RawMessage{scope, scp} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var s string
		var list []string
		if err := json.Unmarshal(raw, &s); err == nil {
			list = strings.Fields(s)
		} else if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errors.New("scope claim is neither a string nor an array of strings")
		}
		for _, v := range list {
			for _, f := range strings.Fields(v) {
				if !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	return out, nil
}

// claimStrings reads the claim at a dotted path as a string or an array of
// strings. A missing claim yields nil.
func claimStrings(payload []byte, path string) ([]string, error) {
	cur := json.RawMessage(payload)
	for name := range strings.SplitSeq(path, ".") {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil {
			return nil, nil
		}
		next, ok := obj[name]
		if !ok {
			return nil, nil
		}
		cur = next
	}
	if string(cur) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(cur, &s); err == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(cur, &list); err != nil {
		return nil, fmt.Errorf("claim %q is neither a string nor an array of strings", path)
	}
	return list, nil
}
