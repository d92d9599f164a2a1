package gate

import (
	"net/http"
	"net/url"
)

// wellKnownPRM is the RFC 9728 well-known path prefix.
const wellKnownPRM = "/.well-known/oauth-protected-resource"

// resourceURL is the canonical URL of rt's endpoint: the configured one,
// or the one the client addressed.
func (g *Gate) resourceURL(r *http.Request, rt *route) string {
	if rt.Metadata != nil && rt.Metadata.Resource != "" {
		return rt.Metadata.Resource
	}
	return g.net.scheme(r) + "://" + g.net.publicHost(r) + rt.Path
}

// metadataURL is where rt's RFC 9728 document is served (RFC 9728 section
// 3.1: the well-known prefix inserted before the resource's path).
func (g *Gate) metadataURL(r *http.Request, rt *route) string {
	u, err := url.Parse(g.resourceURL(r, rt))
	if err != nil {
		return g.net.scheme(r) + "://" + g.net.publicHost(r) + wellKnownPRM + rt.Path
	}
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	return u.Scheme + "://" + u.Host + wellKnownPRM + path
}

// metadataHandler serves rt's RFC 9728 document. It is public (clients
// fetch it before they have a token) but still behind the Host check.
func (g *Gate) metadataHandler(rt *route) http.Handler {
	return g.scope(rt, g.checkHost(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := *rt.Metadata
		m.Resource = g.resourceURL(r, rt)
		doc := struct {
			ResourceMetadata
			BearerMethods []string `json:"bearer_methods_supported"`
		}{m, []string{"header"}}
		writeJSON(w, http.StatusOK, doc)
	})))
}
