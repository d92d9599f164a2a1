// Package auth authenticates HTTP requests for mcpwarden's servers (the
// gate, and later the watch dashboard): OAuth 2.1 bearer tokens (JWT
// against an issuer's JWKS, or opaque tokens by RFC 7662 introspection),
// API keys stored as hashes, and mTLS client certificates. Each method
// yields the same Principal.
package auth

import (
	"errors"
	"net/http"
	"time"
)

// Principal is who a request authenticated as.
type Principal struct {
	// Subject identifies the principal: the token's sub, the API key's
	// name, or the certificate's SAN/CN.
	Subject string `json:"subject"`
	// Method is "oauth", "apikey", "mtls" or "none".
	Method string `json:"method"`
	// KeyName is the API key's name (Method "apikey").
	KeyName string `json:"key_name,omitempty"`
	// Issuer and ClientID come from an OAuth token.
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// Groups and Scopes feed the per-tool policy.
	Groups []string `json:"groups,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
	// ExpiresAt is when the credential stops being valid (zero: never).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// Key is the principal's identity for rate limits, sessions and audit:
// method and subject (and issuer for OAuth), never a credential.
func (p *Principal) Key() string {
	if p == nil {
		return "anonymous"
	}
	return p.Method + ":" + p.Issuer + ":" + p.Subject
}

// Errors an Authenticator returns. The caller turns them into 401/403 with
// a WWW-Authenticate challenge; the client sees no more than the challenge.
var (
	// ErrNoCredentials: the request carries no credential this
	// authenticator understands (try the next one; 401 if none does).
	ErrNoCredentials = errors.New("auth: no credentials")
	// ErrInvalidCredentials: a credential was presented and is wrong,
	// expired, for another audience, ... (401 invalid_token).
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
)

// Authenticator checks one kind of credential.
type Authenticator interface {
	// Authenticate returns the principal of r, or an error wrapping
	// ErrNoCredentials or ErrInvalidCredentials. It must not read the
	// request body.
	Authenticate(r *http.Request) (*Principal, error)
}
