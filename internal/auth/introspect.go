package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of IntrospectionOptions.
const (
	DefaultIntrospectionCacheTTL = 30 * time.Second
	maxIntrospectionCache        = 10000
)

// IntrospectionOptions configures NewIntrospection.
type IntrospectionOptions struct {
	// Endpoint is the RFC 7662 introspection URL. Required: https, or http
	// on a loopback host.
	Endpoint string
	// ClientID and ClientSecret authenticate this resource server to the
	// endpoint (HTTP Basic). Empty ClientID: no client authentication.
	ClientID     string
	ClientSecret string
	// Audiences are the accepted aud values. Empty: aud is not checked
	// (some servers omit it); else the response must carry one of them.
	Audiences []string
	// Issuer, when set, must equal the response's iss if it has one.
	Issuer string
	// CacheTTL is how long an answer is reused, never past the token's
	// exp. Zero: 30s; negative: no cache.
	CacheTTL time.Duration
	// RequiredScopes must all be granted, else a *ScopeError.
	RequiredScopes []string
	// HTTPClient calls the endpoint. Nil: 10s timeout, no redirects.
	HTTPClient *http.Client
	// Logger gets endpoint failures. Nil: discard.
	Logger *slog.Logger
}

// LogValue redacts the client secret when the options are logged.
func (o IntrospectionOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", o.Endpoint),
		slog.String("client_id", o.ClientID),
		slog.String("client_secret", redacted(o.ClientSecret != "")),
		slog.Any("audiences", o.Audiences),
		slog.String("issuer", o.Issuer),
		slog.Duration("cache_ttl", o.CacheTTL),
	)
}

// redacted stands in for a secret in logs.
func redacted(set bool) string {
	if set {
		return "REDACTED"
	}
	return ""
}

// Introspection authenticates opaque bearer tokens by asking the
// authorization server (RFC 7662). Answers are cached briefly under the
// SHA-256 of the token, never the token itself. Safe for concurrent use.
type Introspection struct {
	opts   IntrospectionOptions
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]introspectionEntry
}

type introspectionEntry struct {
	p       *Principal
	err     error
	expires time.Time
}

var _ Authenticator = (*Introspection)(nil)

// NewIntrospection checks opts and returns the authenticator. It makes no
// request.
func NewIntrospection(opts IntrospectionOptions) (*Introspection, error) {
	in := &Introspection{opts: opts, now: time.Now, cache: map[[sha256.Size]byte]introspectionEntry{}}
	o := &in.opts
	o.Audiences = slices.Clone(o.Audiences)
	o.RequiredScopes = slices.Clone(o.RequiredScopes)
	if o.Endpoint == "" {
		return nil, errors.New("auth: introspection: no endpoint")
	}
	if _, err := checkServerURL("introspection endpoint", o.Endpoint); err != nil {
		return nil, err
	}
	if o.ClientID == "" && o.ClientSecret != "" {
		return nil, errors.New("auth: introspection: client secret without client id")
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultIntrospectionCacheTTL
	}
	in.client = defaultHTTPClient(o.HTTPClient)
	in.log = o.Logger
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in, nil
}

// Authenticate implements Authenticator for bearer tokens without the API
// key prefix.
func (in *Introspection) Authenticate(r *http.Request) (*Principal, error) {
	tok, err := BearerToken(r.Header)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(tok, APIKeyPrefix) {
		return nil, ErrNoCredentials
	}
	return in.Verify(r.Context(), tok)
}

// introspectionResponse is the part of RFC 7662's answer used here.
type introspectionResponse struct {
	Active    bool            `json:"active"`
	Scope     json.RawMessage `json:"scope"`
	ClientID  string          `json:"client_id"`
	Username  string          `json:"username"`
	Sub       string          `json:"sub"`
	Aud       json.RawMessage `json:"aud"`
	Iss       string          `json:"iss"`
	Exp       *float64        `json:"exp"`
	Nbf       *float64        `json:"nbf"`
	TokenType string          `json:"token_type"`
}

// Verify introspects a raw token (or answers from the cache).
func (in *Introspection) Verify(ctx context.Context, raw string) (*Principal, error) {
	const m = "oauth"
	if len(raw) > maxCredentialLen {
		return nil, invalid(m, ReasonMalformed, "token too long")
	}
	key := sha256.Sum256([]byte(raw))
	now := in.now()
	if in.opts.CacheTTL > 0 {
		in.mu.Lock()
		e, ok := in.cache[key]
		in.mu.Unlock()
		if ok && now.Before(e.expires) {
			return clonePrincipal(e.p), e.err
		}
	}
	resp, err := in.call(ctx, raw)
	if err != nil {
		in.log.Warn("token introspection failed", "endpoint", in.opts.Endpoint, "err", err)
		// Not cached: the next request tries again.
		return nil, invalid(m, ReasonUnavailable, "introspection failed")
	}
	p, err := in.judge(resp, now)
	if in.opts.CacheTTL > 0 {
		exp := now.Add(in.opts.CacheTTL)
		if p != nil && !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
			exp = p.ExpiresAt
		}
		in.store(key, introspectionEntry{p: clonePrincipal(p), err: err, expires: exp}, now)
	}
	return p, err
}

func (in *Introspection) store(key [sha256.Size]byte, e introspectionEntry, now time.Time) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.cache) >= maxIntrospectionCache {
		for k, v := range in.cache {
			if !now.Before(v.expires) {
				delete(in.cache, k)
			}
		}
		if len(in.cache) >= maxIntrospectionCache {
			clear(in.cache) // still full of live entries: start over
		}
	}
	in.cache[key] = e
}

func (in *Introspection) call(ctx context.Context, raw string) (*introspectionResponse, error) {
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.opts.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if in.opts.ClientID != "" {
		req.SetBasicAuth(url.QueryEscape(in.opts.ClientID), url.QueryEscape(in.opts.ClientSecret))
	}
	res, err := in.client.Do(req)
	if err != nil {
		// The error text of net/http holds the URL, never the form body.
		return nil, err
	}
	defer res.Body.Close()
	var out introspectionResponse
	if err := decodeJSONResponse(res, in.opts.Endpoint, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// judge turns an introspection answer into a principal or a refusal.
func (in *Introspection) judge(r *introspectionResponse, now time.Time) (*Principal, error) {
	const m = "oauth"
	if !r.Active {
		return nil, invalid(m, ReasonInactive, "")
	}
	if in.opts.Issuer != "" && r.Iss != "" && r.Iss != in.opts.Issuer {
		return nil, invalidf(m, ReasonWrongIssuer, "iss %q", r.Iss)
	}
	if len(in.opts.Audiences) > 0 {
		aud, err := stringOrList(r.Aud)
		if err != nil {
			return nil, invalid(m, ReasonMalformed, "aud: "+err.Error())
		}
		if len(aud) == 0 {
			return nil, invalid(m, ReasonMissingAudience, "")
		}
		if !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(in.opts.Audiences, a) }) {
			return nil, invalidf(m, ReasonWrongAudience, "aud %q", aud)
		}
	}
	var exp time.Time
	if r.Exp != nil {
		exp = time.Unix(int64(*r.Exp), 0)
		if !now.Before(exp) {
			return nil, invalid(m, ReasonExpired, "")
		}
	}
	if r.Nbf != nil && now.Before(time.Unix(int64(*r.Nbf), 0)) {
		return nil, invalid(m, ReasonNotYetValid, "")
	}
	if r.TokenType != "" && !strings.EqualFold(r.TokenType, "Bearer") && !strings.EqualFold(r.TokenType, "access_token") {
		return nil, invalidf(m, ReasonWrongType, "token_type %q", r.TokenType)
	}
	scopes, err := parseScopes(r.Scope, nil)
	if err != nil {
		return nil, invalid(m, ReasonMalformed, err.Error())
	}
	p := &Principal{Subject: r.Sub, Method: "oauth", Issuer: r.Iss, ClientID: r.ClientID, Scopes: scopes, ExpiresAt: exp}
	if p.Issuer == "" {
		p.Issuer = in.opts.Issuer // keeps Principal.Key stable when iss is omitted
	}
	if p.Subject == "" {
		p.Subject = r.Username
	}
	if p.Subject == "" {
		p.Subject = r.ClientID
	}
	if p.Subject == "" {
		return nil, invalid(m, ReasonMissingSubject, "")
	}
	if err := RequireScopes(p, in.opts.RequiredScopes); err != nil {
		return nil, err
	}
	return p, nil
}

// stringOrList decodes a JSON string or array of strings (absent: nil).
func stringOrList(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, fmt.Errorf("neither a string nor an array of strings")
	}
	return list, nil
}

func clonePrincipal(p *Principal) *Principal {
	if p == nil {
		return nil
	}
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	c.Groups = slices.Clone(p.Groups)
	return &c
}
