package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Reason says, in a few words safe for logs and the audit trail, why a
// credential was refused. It never contains the credential itself.
type Reason string

// The reasons an authenticator in this package gives.
const (
	ReasonMalformed       Reason = "malformed credential"
	ReasonAmbiguous       Reason = "more than one credential"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not yet valid"
	ReasonIssuedInFuture  Reason = "issued in the future"
	ReasonMissingExpiry   Reason = "no expiry"
	ReasonWrongIssuer     Reason = "wrong issuer"
	ReasonWrongAudience   Reason = "wrong audience"
	ReasonMissingAudience Reason = "missing audience"
	ReasonMissingSubject  Reason = "missing subject"
	ReasonUnknownKey      Reason = "unknown key"
	ReasonBadSignature    Reason = "bad signature"
	ReasonAlgNotAllowed   Reason = "algorithm not allowed"
	ReasonWrongType       Reason = "wrong token type"
	ReasonInactive        Reason = "token not active"
	ReasonUnavailable     Reason = "verifier unavailable"
	ReasonUnknownAPIKey   Reason = "unknown api key"
	ReasonUntrustedCert   Reason = "untrusted certificate"
	ReasonNoIdentity      Reason = "certificate names no identity"
)

// CredentialError is the error an authenticator of this package returns for
// a credential it refuses. It wraps [ErrInvalidCredentials]; Method and
// Reason are for logs and audit, the client only gets the challenge.
type CredentialError struct {
	// Method is the authenticator: "oauth", "apikey" or "mtls".
	Method string
	// Reason is why the credential was refused.
	Reason Reason
	// Detail adds safe context (an issuer, a key id, a line of an error
	// from a verifier), never a credential. May be empty.
	Detail string
}

// Error implements error.
func (e *CredentialError) Error() string {
	s := "auth: invalid credentials: " + e.Method + ": " + string(e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap makes errors.Is(err, ErrInvalidCredentials) true.
func (e *CredentialError) Unwrap() error { return ErrInvalidCredentials }

// ReasonOf returns the Reason of a *CredentialError in err's chain, or ""
// when there is none.
func ReasonOf(err error) Reason {
	var ce *CredentialError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}

func invalid(method string, reason Reason, detail string) error {
	return &CredentialError{Method: method, Reason: reason, Detail: detail}
}

func invalidf(method string, reason Reason, format string, args ...any) error {
	return &CredentialError{Method: method, Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// ScopeError says a principal lacks scopes a request needs: the caller
// answers 403 with error="insufficient_scope" and Required (all of them, in
// one challenge). It wraps [ErrInvalidCredentials] so that code unaware of
// it still refuses the request.
type ScopeError struct {
	// Required is every scope the request needs.
	Required []string
	// Missing is the part of Required the principal lacks.
	Missing []string
}

// Error implements error.
func (e *ScopeError) Error() string {
	return "auth: insufficient scope: missing " + strings.Join(e.Missing, " ")
}

// Unwrap makes errors.Is(err, ErrInvalidCredentials) true.
func (e *ScopeError) Unwrap() error { return ErrInvalidCredentials }

// RequireScopes returns a *ScopeError when p lacks any of required, nil
// otherwise. A nil p lacks every scope.
func RequireScopes(p *Principal, required []string) error {
	var missing []string
	for _, s := range required {
		if p == nil || !slices.Contains(p.Scopes, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &ScopeError{Required: slices.Clone(required), Missing: missing}
}
