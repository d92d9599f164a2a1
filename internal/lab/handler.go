package lab

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// sessionTimeout closes idle stateful sessions, so that a long-running demo
// or benchmark fleet scanned over and over does not pile them up.
const sessionTimeout = 5 * time.Minute

// labUserID is the subject of the one accepted bearer token; the SDK binds
// stateful sessions to it.
const labUserID = "lab-user"

// fill sets the exported identity fields of s from its kind and options.
func (s *Server) fill(o *Options) {
	base := "http://" + s.Addr
	if s.Kind == KindWeb {
		s.URL = base + "/"
		return
	}
	p := profiles[s.Kind]
	s.Name, s.Version = p.name, p.version
	s.URL = base + o.Path
	s.Tools = slices.Clone(p.tools)
	for i := 1; i <= o.ExtraTools; i++ {
		s.Tools = append(s.Tools, ExtraToolName(i))
	}
	slices.Sort(s.Tools) // the SDK lists tools sorted by name
	switch s.Kind {
	case KindOAuth:
		s.MetadataURL = base + WellKnownPRMPath + o.Path
		s.BearerToken = o.BearerToken
	case KindOAuthNoMetadata:
		s.BearerToken = o.BearerToken
	case KindBasic:
		s.BasicUser, s.BasicPassword = o.BasicUser, o.BasicPassword
	}
}

// newMCPServer builds the SDK server of s.Kind with its catalogue.
func (s *Server) newMCPServer(o *Options) *mcp.Server {
	p := profiles[s.Kind]
	sopts := &mcp.ServerOptions{
		Instructions: p.instructions,
		Logger:       s.logger,
		PageSize:     o.PageSize,
	}
	if s.Kind == KindModern {
		sopts.SupportedProtocolVersions = []string{ModernProtocolVersion}
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: p.name, Title: p.title, Version: p.version}, sopts)
	for _, name := range p.tools {
		addTool(srv, name)
	}
	addExtraTools(srv, o.ExtraTools)
	if p.resources {
		addResources(srv)
	}
	return srv
}

// handler builds the whole HTTP handler of s, one chain per kind, read top
// to bottom: outermost middleware first, the SDK handler last.
func (s *Server) handler(o *Options) (http.Handler, error) {
	mux := http.NewServeMux()
	if s.Kind == KindWeb {
		mux.HandleFunc("GET /{$}", webPage)
		mux.HandleFunc("GET "+WebStatusPath, webStatus)
		return mux, nil // everything else: the mux's 404
	}

	s.mcp = s.newMCPServer(o)
	getServer := func(*http.Request) *mcp.Server { return s.mcp }
	streamable := func(stateless, jsonResponse bool) http.Handler {
		return mcp.NewStreamableHTTPHandler(getServer, &mcp.StreamableHTTPOptions{
			Stateless:                  stateless,
			JSONResponse:               jsonResponse,
			Logger:                     s.logger,
			SessionTimeout:             sessionTimeout,
			DisableLocalhostProtection: o.DisableLocalhostProtection,
		})
	}
	endpoint := pattern(o.Path)

	switch s.Kind {
	case KindOpenStreamable:
		// No authentication: the SDK's stateful handler alone.
		mux.Handle(endpoint, streamable(false, false))
	case KindOpenStateless:
		// No authentication, no sessions, JSON bodies.
		mux.Handle(endpoint, streamable(true, true))
	case KindOpenSSE:
		// Legacy HTTP+SSE: GET opens the stream, POST ?sessionid= sends.
		mux.Handle(endpoint, mcp.NewSSEHandler(getServer, &mcp.SSEOptions{
			DisableLocalhostProtection: o.DisableLocalhostProtection,
		}))
	case KindOAuth:
		// 1. the SDK bearer check: 401 + resource_metadata and scope
		//    without the one token, 403 without the scope;
		// 2. the SDK streamable handler.
		// RFC 9728 metadata, public, at the path-specific and root URLs.
		bearer := auth.RequireBearerToken(tokenVerifier(o.BearerToken), &auth.RequireBearerTokenOptions{
			ResourceMetadataURL: s.MetadataURL,
			Scopes:              []string{OAuthScope},
		})
		mux.Handle(endpoint, bearer(streamable(false, false)))
		prm := auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
			Resource:               s.URL,
			AuthorizationServers:   []string{AuthorizationServer},
			ScopesSupported:        []string{OAuthScope},
			BearerMethodsSupported: []string{"header"},
			ResourceName:           profiles[s.Kind].title,
		})
		mux.Handle(pattern(WellKnownPRMPath+o.Path), prm)
		mux.Handle(WellKnownPRMPath, prm)
	case KindOAuthNoMetadata:
		// 1. a bare Bearer challenge (realm only) without the one token;
		// 2. the SDK streamable handler. No metadata anywhere.
		mux.Handle(endpoint, bareBearer(o.BearerToken, s.Name)(streamable(false, false)))
	case KindBasic:
		// 1. HTTP Basic with the one credential;
		// 2. the SDK streamable handler.
		mux.Handle(endpoint, basicAuth(o.BasicUser, o.BasicPassword, s.Name)(streamable(false, false)))
	case KindModern:
		// 1. unless Options.ModernSDKOnly, the 2026-07-28 server
		//    validation the SDK leaves out for legacy requests (see
		//    modernOnly);
		// 2. the SDK stateless handler, narrowed to 2026-07-28.
		var h http.Handler = streamable(true, false)
		if !o.ModernSDKOnly {
			h = modernOnly([]string{ModernProtocolVersion})(h)
		}
		mux.Handle(endpoint, h)
	default:
		return nil, fmt.Errorf("lab: no handler for kind %q", s.Kind)
	}
	return mux, nil
}

// pattern turns a path into a ServeMux pattern matching exactly that path
// (a trailing slash would otherwise match the whole subtree).
func pattern(path string) string {
	if strings.HasSuffix(path, "/") {
		return path + "{$}"
	}
	return path
}

// tokenVerifier accepts exactly want, for one hour from each check, with
// scope OAuthScope.
func tokenVerifier(want string) auth.TokenVerifier {
	return func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		if subtle.ConstantTimeCompare([]byte(token), []byte(want)) != 1 {
			return nil, fmt.Errorf("lab: %w", auth.ErrInvalidToken)
		}
		return &auth.TokenInfo{
			Scopes:     []string{OAuthScope},
			Expiration: time.Now().Add(time.Hour),
			UserID:     labUserID,
		}, nil
	}
}

// bareBearer requires "Authorization: Bearer <want>" and otherwise answers
// 401 with a challenge that carries a realm and nothing to discover.
func bareBearer(want, realm string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			if strings.EqualFold(scheme, "bearer") && subtle.ConstantTimeCompare([]byte(token), []byte(want)) == 1 {
				next.ServeHTTP(w, r)
				return
			}
			challenge := fmt.Sprintf("Bearer realm=%q", realm)
			if scheme != "" {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		})
	}
}

// basicAuth requires the one Basic credential.
func basicAuth(user, password, realm string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, pw, ok := r.BasicAuth()
			userOK := subtle.ConstantTimeCompare([]byte(u), []byte(user)) == 1
			pwOK := subtle.ConstantTimeCompare([]byte(pw), []byte(password)) == 1
			if ok && userOK && pwOK {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm))
			http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		})
	}
}

// maxPeek bounds how much of a rejected request body modernOnly reads to
// find the request id.
const maxPeek = 64 << 10

// modernOnly applies the 2026-07-28 server validation to POSTs whose
// MCP-Protocol-Version header is absent or not in supported. The SDK alone
// would answer a header-less initialize with a 2025-11-25 result (its
// documented legacy-handshake rule) and a legacy header with a plain-text
// 400; a server that speaks only 2026-07-28 must instead reject such a
// request with 400 and a JSON-RPC error naming the versions it supports:
//   - an initialize, or any request with an unsupported version header:
//     -32022 UnsupportedProtocolVersion, data {supported, requested};
//   - any other request without the header: -32020 HeaderMismatch.
//
// Other methods (GET, DELETE) reach the SDK, which answers 405.
func modernOnly(supported []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			version := r.Header.Get("Mcp-Protocol-Version")
			if r.Method != http.MethodPost || slices.Contains(supported, version) {
				next.ServeHTTP(w, r)
				return
			}
			var msg struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
				Params struct {
					ProtocolVersion string `json:"protocolVersion"`
				} `json:"params"`
			}
			body, _ := io.ReadAll(io.LimitReader(r.Body, maxPeek))
			_ = json.Unmarshal(body, &msg) // unparsable: answer without an id
			rpcErr := map[string]any{}
			switch {
			case version != "":
				rpcErr["code"] = mcp.CodeUnsupportedProtocolVersion
				rpcErr["message"] = "Unsupported protocol version " + version + "; supported: " + strings.Join(supported, ", ")
				rpcErr["data"] = mcp.UnsupportedProtocolVersionData{Supported: supported, Requested: version}
			case msg.Method == "initialize":
				rpcErr["code"] = mcp.CodeUnsupportedProtocolVersion
				rpcErr["message"] = "initialize is not supported; this server speaks only protocol " + strings.Join(supported, ", ")
				rpcErr["data"] = mcp.UnsupportedProtocolVersionData{Supported: supported, Requested: msg.Params.ProtocolVersion}
			default:
				rpcErr["code"] = mcp.CodeHeaderMismatch
				rpcErr["message"] = "missing required header MCP-Protocol-Version (supported: " + strings.Join(supported, ", ") + ")"
			}
			resp := map[string]any{"jsonrpc": "2.0", "error": rpcErr}
			if len(msg.ID) > 0 && string(msg.ID) != "null" {
				resp["id"] = msg.ID
			}
			writeJSON(w, http.StatusBadRequest, resp)
		})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(data, '\n'))
}

// webPage is the KindWeb home page.
func webPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>`+WebTitle+`</title></head>
<body>
<h1>`+WebTitle+`</h1>
<p>All systems operational.</p>
<ul><li>API: operational</li><li>Dashboard: operational</li></ul>
</body>
</html>
`)
}

// webStatus is the KindWeb JSON API.
func webStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status":     "ok",
		"components": map[string]string{"api": "operational", "dashboard": "operational"},
	})
}
