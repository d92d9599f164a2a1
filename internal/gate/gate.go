package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
)

// Authenticator checks one kind of credential (internal/auth provides
// JWT, introspection, API key and mTLS authenticators). It returns an
// error wrapping auth.ErrNoCredentials when the request carries none of
// its kind, and auth.ErrInvalidCredentials when it carries a bad one.
type Authenticator interface {
	Authenticate(r *http.Request) (*auth.Principal, error)
}

// RateLimiter decides whether a principal (by Principal.Key) may make one
// more call of method (and tool, for tools/call). When it may not, it
// returns how long to wait and a reason for the audit trail.
type RateLimiter interface {
	Allow(key, method, tool string) (ok bool, retryAfter time.Duration, reason string)
}

// ConcurrencyLimiter is an optional interface of a RateLimiter (found by
// type assertion): Acquire counts a request in flight for a principal and
// refuses one too many; release must be called when it is done.
type ConcurrencyLimiter interface {
	Acquire(key string) (release func(), ok bool)
}

// AuditSink receives one record per JSON-RPC request (audit.Sink fits).
type AuditSink interface {
	Write(ctx context.Context, r *audit.Record) error
	Close() error
}

// ResourceMetadata is the RFC 9728 Protected Resource Metadata a route
// serves when it accepts OAuth tokens.
type ResourceMetadata struct {
	// Resource is the canonical URL of the route's MCP endpoint; empty:
	// derived from the request (scheme, public host, route path).
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers clients get tokens from.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported are advertised and sent in the 401 challenge.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// ResourceName is a human-readable name.
	ResourceName string `json:"resource_name,omitempty"`
}

// Route is one upstream MCP server and how the gate guards it.
type Route struct {
	// Upstream is the URL of the MCP endpoint (streamable HTTP) or SSE
	// stream (legacy HTTP+SSE); http or https.
	Upstream string
	// Path is where the gate serves it; empty: the upstream's own path.
	Path string
	// UpstreamHeader is added to every upstream request (e.g. the
	// upstream's own credential). Client credentials are never forwarded.
	UpstreamHeader http.Header
	// Authenticators are tried in order; the first that finds its kind of
	// credential decides. None: every request is the "none" principal,
	// which Serve allows only on loopback or with AllowUnauthenticated.
	Authenticators []Authenticator
	// RequiredScopes must all be held by every principal (403
	// insufficient_scope otherwise).
	RequiredScopes []string
	// Metadata, when set, is served at
	// /.well-known/oauth-protected-resource<Path> and named in 401
	// challenges.
	Metadata *ResourceMetadata
	// Policy guards tools, resources and prompts and filters their lists;
	// nil allows everything.
	Policy *Policy
	// Transport reaches this route's upstream (nil: Options.Transport).
	// A StdioUpstream's Transport goes here, with Upstream
	// StdioUpstreamURL.
	Transport http.RoundTripper
}

// Options configure a Gate. The zero value of each field is documented.
type Options struct {
	// Routes: at least one; paths must differ.
	Routes []Route
	// PublicNames are the host names (host or host:port) clients may
	// address the gate by (DNS rebinding protection). Empty: localhost,
	// 127.0.0.1 and ::1 only.
	PublicNames []string
	// AllowedOrigins are browser origins (scheme://host[:port]) allowed
	// besides the gate's own origin. There is no wildcard.
	AllowedOrigins []string
	// TrustedProxies are CIDRs whose X-Forwarded-For/-Host/-Proto headers
	// are believed. Empty: none.
	TrustedProxies []string
	// AllowUnauthenticated lets Serve listen on a non-loopback address
	// with a route that has no Authenticators, and is reported in /healthz.
	AllowUnauthenticated bool
	// MaxBody caps a client request body (default 4 MiB; 413 above).
	MaxBody int64
	// BodyTimeout bounds the reading of a request body (default 30s;
	// 408 after it): slow clients cannot hold a request open.
	BodyTimeout time.Duration
	// MaxResponseBody caps a buffered upstream JSON response and each
	// upstream SSE event (default 16 MiB).
	MaxResponseBody int64
	// UpstreamTimeout bounds the wait for the upstream's response headers,
	// and again the reading of a JSON response body (default 2 minutes);
	// event streams then flow without a total limit.
	UpstreamTimeout time.Duration
	// SessionTTL expires idle session bindings (default 1 hour);
	// MaxSessions bounds them (default 100000).
	SessionTTL  time.Duration
	MaxSessions int
	// RateLimiter, when set, is asked before every forwarded call; when it
	// is also a ConcurrencyLimiter, each forwarded POST holds a slot.
	RateLimiter RateLimiter
	// Audit, when set, gets one record per JSON-RPC request and is closed
	// by Serve on shutdown.
	Audit AuditSink
	// AuditArgs records the arguments of tools/call and prompts/get in the
	// audit trail (Record.Args), not only their digest. Fields named in
	// audit.DefaultRedactFields or AuditRedact are replaced by
	// audit.Redacted at any depth. Off by default: arguments can carry
	// personal data and secrets.
	AuditArgs   bool
	AuditRedact []string
	// Logger gets operational logs (nil: discard). Credentials are never
	// logged.
	Logger *slog.Logger
	// Transport reaches the upstreams (nil: a dedicated http.Transport).
	Transport http.RoundTripper
}

// Defaults.
const (
	DefaultMaxBody         = 4 << 20
	DefaultMaxResponseBody = 16 << 20
	DefaultBodyTimeout     = 30 * time.Second
	DefaultUpstreamTimeout = 2 * time.Minute
	DefaultSessionTTL      = time.Hour
	DefaultMaxSessions     = 100000
)

// Gate is the gateway. Create it with New; serve Handler, or call Serve.
type Gate struct {
	opts   Options
	log    *slog.Logger
	net    netPolicy
	routes []*route
	client *http.Client

	sessions *sessions
	legacy   *legacyStreams

	// streams is cancelled when shutdown starts, ending long-lived streams.
	streams     context.Context
	stopStreams context.CancelFunc
	draining    atomic.Bool
	upstreamErr atomic.Pointer[string]
	closeOnce   sync.Once
}

type route struct {
	Route
	upstream *url.URL
	client   *http.Client // nil: the gate's
}

// New validates opts (reporting every problem at once) and builds a Gate.
func New(opts Options) (*Gate, error) {
	var probs []string
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	if opts.MaxResponseBody <= 0 {
		opts.MaxResponseBody = DefaultMaxResponseBody
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = DefaultUpstreamTimeout
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	g := &Gate{opts: opts, log: opts.Logger}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Routes) == 0 {
		probs = append(probs, "no route: an upstream is required")
	}
	paths := map[string]bool{}
	for i, rt := range opts.Routes {
		u, err := url.Parse(rt.Upstream)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
			probs = append(probs, fmt.Sprintf("route %d: upstream %q: want an http(s) URL without credentials", i, rt.Upstream))
			continue
		}
		if u.Path == "" {
			u.Path = "/"
		}
		r := &route{Route: rt, upstream: u}
		if r.Path == "" {
			r.Path = u.Path
		}
		if !strings.HasPrefix(r.Path, "/") || strings.ContainsAny(r.Path, "?#{} ") || strings.HasPrefix(r.Path, "/.well-known/") ||
			r.Path == "/healthz" || r.Path == "/readyz" {
			probs = append(probs, fmt.Sprintf("route %d: path %q: want an absolute path, not a reserved one", i, r.Path))
		}
		if paths[r.Path] {
			probs = append(probs, fmt.Sprintf("route %d: path %q used twice", i, r.Path))
		}
		paths[r.Path] = true
		for name, vals := range rt.UpstreamHeader {
			for _, v := range vals {
				if strings.ContainsAny(v, "\r\n\x00") {
					probs = append(probs, fmt.Sprintf("route %d: upstream header %s: line break or NUL in value", i, name))
				}
			}
		}
		if rt.Policy != nil {
			if err := rt.Policy.Validate(); err != nil {
				probs = append(probs, fmt.Sprintf("route %d: %v", i, err))
			}
		}
		if m := rt.Metadata; m != nil {
			if len(m.AuthorizationServers) == 0 {
				probs = append(probs, fmt.Sprintf("route %d: metadata: no authorization server", i))
			}
			if m.Resource != "" {
				if ru, err := url.Parse(m.Resource); err != nil || ru.Scheme == "" || ru.Host == "" || ru.Fragment != "" {
					probs = append(probs, fmt.Sprintf("route %d: metadata resource %q: want an absolute URL without fragment", i, m.Resource))
				}
			}
		}
		g.routes = append(g.routes, r)
	}
	names := opts.PublicNames
	if len(names) == 0 {
		names = []string{"localhost", "127.0.0.1", "::1"}
	}
	for _, n := range names {
		hn, err := parseHostName(n)
		if err != nil {
			probs = append(probs, err.Error())
			continue
		}
		g.net.publicNames = append(g.net.publicNames, hn)
	}
	for _, o := range opts.AllowedOrigins {
		no, ok := normalizeOrigin(o)
		if !ok || o == "*" {
			probs = append(probs, fmt.Sprintf("allowed origin %q: want scheme://host[:port]", o))
			continue
		}
		g.net.origins = append(g.net.origins, no)
	}
	for _, c := range opts.TrustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(c))
			if aerr != nil {
				probs = append(probs, fmt.Sprintf("trusted proxy %q: want a CIDR or an IP", c))
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		g.net.trusted = append(g.net.trusted, p.Masked())
	}
	if len(probs) > 0 {
		return nil, fmt.Errorf("gate: %s", strings.Join(probs, "; "))
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:                 nil, // never send upstream traffic through an environment proxy
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: opts.UpstreamTimeout,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
	}
	g.client = &http.Client{
		Transport: tr,
		// Redirects are answered to the client as they are (the upstream
		// credential must not follow a redirect anywhere).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, r := range g.routes {
		if r.Transport != nil {
			c := *g.client
			c.Transport = r.Transport
			r.client = &c
		}
	}
	g.sessions = newSessions(opts.SessionTTL, opts.MaxSessions)
	g.legacy = newLegacyStreams(opts.MaxSessions)
	g.streams, g.stopStreams = context.WithCancel(context.Background())
	return g, nil
}

// Unauthenticated reports whether some route accepts requests without
// credentials.
func (g *Gate) Unauthenticated() bool {
	for _, r := range g.routes {
		if len(r.Authenticators) == 0 {
			return true
		}
	}
	return false
}

// Paths returns the path of every route, in order.
func (g *Gate) Paths() []string {
	var ps []string
	for _, r := range g.routes {
		ps = append(ps, r.Path)
	}
	return ps
}

// Handler is the gate's whole HTTP surface: /healthz, /readyz, the RFC 9728
// metadata of OAuth routes, and each route's path.
func (g *Gate) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", g.healthz)
	mux.HandleFunc("GET /readyz", g.readyz)
	withMeta := 0
	for _, r := range g.routes {
		if r.Metadata != nil {
			withMeta++
			mux.Handle("GET "+exact(wellKnownPRM+r.Path), g.metadataHandler(r))
		}
	}
	for _, r := range g.routes {
		if r.Metadata != nil && withMeta == 1 && r.Path != "/" {
			mux.Handle("GET "+exact(wellKnownPRM), g.metadataHandler(r))
		}
		mux.Handle(exact(r.Path), g.chain(r))
	}
	return mux
}

// exact makes a ServeMux pattern that matches only path itself.
func exact(path string) string {
	if strings.HasSuffix(path, "/") {
		return path + "{$}"
	}
	return path
}

// chain builds a route's request chain; read it top to bottom, outermost
// first.
func (g *Gate) chain(r *route) http.Handler {
	var h http.Handler = http.HandlerFunc(g.proxy) // 6. inspect, policy, limit, forward, filter, audit
	h = g.authenticate(h)                          // 5. credentials -> principal (401/403)
	h = g.checkOrigin(h)                           // 4. Origin allowlist, CORS preflight (403)
	h = g.checkHost(h)                             // 3. Host / X-Forwarded-Host against public names (403)
	h = g.refuseQueryTokens(h)                     // 2. no credential in the query string (400)
	return g.scope(r, h)                           // 1. request id, client address, start time
}

// reqScope is the one request-scope value the audit record is built from.
type reqScope struct {
	id        string
	route     *route
	client    string
	start     time.Time
	principal *auth.Principal
}

type scopeKey struct{}

func scopeOf(r *http.Request) *reqScope { return r.Context().Value(scopeKey{}).(*reqScope) }

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *Gate) scope(rt *route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := &reqScope{id: newID(), route: rt, client: g.net.clientAddr(r), start: time.Now()}
		w.Header().Set("X-Request-Id", s.id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), scopeKey{}, s)))
	})
}

// reject answers an HTTP-level refusal and audits it.
func (g *Gate) reject(w http.ResponseWriter, r *http.Request, status int, reason, msg string) {
	n := writeJSON(w, status, map[string]string{"error": msg})
	g.auditHTTP(r, status, reason, n)
}

func (g *Gate) refuseQueryTokens(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for _, k := range []string{"access_token", "api_key", "apikey", "token"} {
			if q.Has(k) {
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request", error_description="credentials are accepted only in the Authorization or X-API-Key header"`)
				g.reject(w, r, http.StatusBadRequest, "credential in query string", "credentials are not accepted in the query string")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.net.hostAllowed(r) {
			g.log.Warn("gate: refused host", "host", g.net.publicHost(r), "client", scopeOf(r).client)
			g.reject(w, r, http.StatusForbidden, "host not allowed", "host not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin, ok := g.net.originAllowed(r)
		if !ok {
			g.log.Warn("gate: refused origin", "origin", r.Header.Get("Origin"), "client", scopeOf(r).client)
			g.reject(w, r, http.StatusForbidden, "origin not allowed", "origin not allowed")
			return
		}
		w.Header().Add("Vary", "Origin")
		if origin != "" {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate, Retry-After")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
				h.Set("Access-Control-Allow-Headers", "Authorization, X-API-Key, Content-Type, Accept, Last-Event-ID, Mcp-Session-Id, Mcp-Protocol-Version, Mcp-Method, Mcp-Name")
				h.Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if r.Method == http.MethodOptions {
			w.Header().Set("Allow", "GET, POST, DELETE")
			g.reject(w, r, http.StatusMethodNotAllowed, "options", "method not allowed")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (g *Gate) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := scopeOf(r)
		rt := s.route
		if len(rt.Authenticators) == 0 {
			s.principal = &auth.Principal{Subject: "anonymous", Method: "none"}
		}
		for _, a := range rt.Authenticators {
			p, err := a.Authenticate(r)
			if err == nil && p != nil {
				s.principal = p
				break
			}
			if errors.Is(err, auth.ErrNoCredentials) {
				continue
			}
			var se *auth.ScopeError
			if errors.As(err, &se) {
				g.challengeScopes(w, r, http.StatusForbidden, `error="insufficient_scope"`, "insufficient scope", se.Required)
				return
			}
			// A credential was presented and is bad (or the method
			// failed): stop here, do not try it elsewhere.
			g.log.Info("gate: authentication failed", "client", s.client, "err", err)
			g.challenge(w, r, http.StatusUnauthorized, `error="invalid_token"`, "invalid credentials")
			return
		}
		if s.principal == nil {
			g.challenge(w, r, http.StatusUnauthorized, "", "authentication required")
			return
		}
		if missing := missingScopes(s.principal, rt.RequiredScopes); len(missing) > 0 {
			g.challenge(w, r, http.StatusForbidden, `error="insufficient_scope"`, "insufficient scope")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func missingScopes(p *auth.Principal, need []string) []string {
	var missing []string
	for _, n := range need {
		found := false
		for _, s := range p.Scopes {
			if s == n {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, n)
		}
	}
	return missing
}

// challenge answers 401/403 with a Bearer challenge naming the metadata
// and all scopes the route needs.
func (g *Gate) challenge(w http.ResponseWriter, r *http.Request, status int, errParam, msg string) {
	g.challengeScopes(w, r, status, errParam, msg, nil)
}

// challengeScopes is challenge naming scopes (nil: the route's).
func (g *Gate) challengeScopes(w http.ResponseWriter, r *http.Request, status int, errParam, msg string, scopes []string) {
	w.Header().Set("WWW-Authenticate", g.challengeValue(r, errParam, scopes))
	reason := "unauthenticated"
	if status == http.StatusForbidden {
		reason = "insufficient scope"
	} else if errParam != "" {
		reason = "invalid credentials"
	}
	g.reject(w, r, status, reason, msg)
}

func (g *Gate) challengeValue(r *http.Request, errParam string, scopes []string) string {
	rt := scopeOf(r).route
	parts := []string{}
	if errParam != "" {
		parts = append(parts, errParam)
	}
	if rt.Metadata != nil {
		parts = append(parts, fmt.Sprintf("resource_metadata=%q", g.metadataURL(r, rt)))
	} else {
		parts = append(parts, `realm="mcpwarden gate"`)
	}
	if len(scopes) == 0 {
		scopes = rt.RequiredScopes
	}
	if len(scopes) == 0 && rt.Metadata != nil {
		scopes = rt.Metadata.ScopesSupported
	}
	if len(scopes) > 0 {
		parts = append(parts, fmt.Sprintf("scope=%q", strings.Join(scopes, " ")))
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// healthz reports liveness, and loudly that the gate is unauthenticated
// when it is.
func (g *Gate) healthz(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "ok", "authentication": "required"}
	if g.Unauthenticated() {
		body["authentication"] = "none"
		body["warning"] = "UNAUTHENTICATED: a route accepts requests without credentials; anyone who can reach the gate can use its upstream"
	}
	writeJSON(w, http.StatusOK, body)
}

// readyz is 503 while draining or after an upstream connection failure
// that no later success has cleared.
func (g *Gate) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case g.draining.Load():
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
	case g.upstreamErr.Load() != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "upstream unreachable", "error": *g.upstreamErr.Load()})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// discard drains and closes a body, bounded.
func discard(rc io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, rc, 64<<10)
	rc.Close()
}
