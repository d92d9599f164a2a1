package auth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// WellKnownProtectedResource is RFC 9728's well-known path prefix.
const WellKnownProtectedResource = "/.well-known/oauth-protected-resource"

// ProtectedResourceMetadata is the RFC 9728 document a protected MCP
// endpoint serves so that clients find its authorization servers.
type ProtectedResourceMetadata struct {
	// Resource is the absolute canonical URL of the MCP endpoint (no
	// fragment), the audience tokens must carry. Required.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuer URLs clients may get tokens
	// from. Required (non-empty) for MCP.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported lists the scopes the resource understands.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported is how tokens are accepted; the handler
	// always serves ["header"], the only method this package accepts.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name. Optional.
	ResourceName string `json:"resource_name,omitempty"`
}

// Validate checks the fields MCP requires.
func (m *ProtectedResourceMetadata) Validate() error {
	if _, err := MetadataPath(m.Resource); err != nil {
		return err
	}
	if len(m.AuthorizationServers) == 0 {
		return fmt.Errorf("auth: protected resource metadata: no authorization_servers")
	}
	for _, s := range m.AuthorizationServers {
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.RawQuery != "" {
			return fmt.Errorf("auth: protected resource metadata: authorization server %q is not an absolute URL without query and fragment", s)
		}
	}
	return nil
}

// MetadataPath returns where RFC 9728 places the metadata of resource:
// the well-known prefix followed by the resource's path
// ("https://h/mcp" -> "/.well-known/oauth-protected-resource/mcp").
func MetadataPath(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("auth: resource %q is not an absolute http(s) URL", resource)
	}
	if u.Fragment != "" || strings.Contains(resource, "#") {
		return "", fmt.Errorf("auth: resource %q has a fragment", resource)
	}
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	return WellKnownProtectedResource + p, nil
}

// MetadataURL returns the absolute URL of resource's metadata document,
// the value of resource_metadata in challenges.
func MetadataURL(resource string) (string, error) {
	p, err := MetadataPath(resource)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(resource)
	return u.Scheme + "://" + u.Host + p, nil
}

// Handler serves m (after Validate) as JSON to GET and HEAD. Mount it at
// MetadataPath(m.Resource), and at the bare well-known path too when the
// resource is the only one on its host.
func (m *ProtectedResourceMetadata) Handler() (http.Handler, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	doc := *m
	doc.BearerMethodsSupported = []string{"header"}
	body, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("auth: protected resource metadata: %w", err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=300")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	}), nil
}

// ChallengeHeader builds a WWW-Authenticate value:
//
//	Bearer resource_metadata="...", scope="a b", error="...", error_description="..."
//
// Empty parameters are left out (just "Bearer" when all are). Values are
// quoted strings with '"' and '\' escaped; control characters become
// spaces so nothing can break the header.
func ChallengeHeader(resourceMetadataURL string, scopes []string, errCode, desc string) string {
	var params []string
	add := func(name, v string) {
		if v != "" {
			params = append(params, name+"="+quote(v))
		}
	}
	add("resource_metadata", resourceMetadataURL)
	add("scope", strings.Join(scopes, " "))
	add("error", errCode)
	add("error_description", desc)
	if len(params) == 0 {
		return "Bearer"
	}
	return "Bearer " + strings.Join(params, ", ")
}

// Challenge sets the WWW-Authenticate header built by ChallengeHeader and
// writes status: 401 with errCode "invalid_token" (or "" when no
// credential was sent), 403 with "insufficient_scope" and every scope the
// request needs. The caller may write a body afterwards.
func Challenge(w http.ResponseWriter, status int, resourceMetadataURL string, scopes []string, errCode, desc string) {
	w.Header().Set("WWW-Authenticate", ChallengeHeader(resourceMetadataURL, scopes, errCode, desc))
	w.WriteHeader(status)
}

// quote returns s as an RFC 9110 quoted-string.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
