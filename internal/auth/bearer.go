package auth

import (
	"errors"
	"net/http"
	"strings"
)

// APIKeyPrefix starts every API key made by [NewKey]. A bearer token with
// this prefix is an API key and goes to the API key authenticator; every
// other bearer token goes to the OAuth authenticators.
const APIKeyPrefix = "mcpw_"

// maxCredentialLen bounds a credential header value; longer ones are
// refused before any parsing or hashing.
const maxCredentialLen = 16 << 10

// Errors from BearerToken, wrapped in the authenticators' errors.
var (
	errNoBearer        = errors.New("no bearer token")
	errMalformedBearer = errors.New("malformed authorization header")
)

// BearerToken returns the token of the request's "Authorization: Bearer"
// header (the scheme is case-insensitive). It never looks at the query
// string or the body: RFC 6750's access_token parameter is not supported,
// so a token there authenticates nothing. The error wraps
// [ErrNoCredentials] when there is no Authorization header or its scheme
// is not Bearer, and [ErrInvalidCredentials] when there are several
// Authorization headers or the bearer value is not a token68.
func BearerToken(h http.Header) (string, error) {
	vals := h.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", ErrNoCredentials
	case 1:
	default:
		return "", invalid("bearer", ReasonAmbiguous, "several Authorization headers")
	}
	v := vals[0]
	scheme, rest, _ := strings.Cut(v, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	if len(v) > maxCredentialLen {
		return "", invalid("bearer", ReasonMalformed, "authorization header too long")
	}
	tok := strings.TrimLeft(rest, " ")
	tok = strings.TrimRight(tok, " ")
	if tok == "" || !isToken68(tok) {
		return "", invalid("bearer", ReasonMalformed, "bearer value is not a token68")
	}
	return tok, nil
}

// isToken68 reports whether s matches RFC 9110's token68:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// Chain returns an Authenticator that asks each of auths in order: the
// first answer that is not ErrNoCredentials (a principal, or a refusal) is
// the chain's answer. When every one finds no credential, or auths is
// empty, the chain returns ErrNoCredentials. A refusal ends the chain: a
// bad token is never rescued by a later method.
func Chain(auths ...Authenticator) Authenticator {
	return chain(append([]Authenticator(nil), auths...))
}

type chain []Authenticator

func (c chain) Authenticate(r *http.Request) (*Principal, error) {
	for _, a := range c {
		p, err := a.Authenticate(r)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err == nil && p == nil {
			return nil, invalid("chain", ReasonUnavailable, "authenticator returned no principal")
		}
		return p, err
	}
	return nil, ErrNoCredentials
}
