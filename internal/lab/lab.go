// Package lab runs a small lab of realistic MCP servers, built with the
// official Go SDK, on loopback addresses: open servers over streamable HTTP
// (stateful and stateless) and legacy HTTP+SSE, OAuth-protected servers with
// and without RFC 9728 metadata, a Basic-auth server, a 2026-07-28-only
// server and a plain web application that is not MCP at all.
//
// It backs `mcpwarden demo`, the scanner's interop tests and the benchmark
// fleet. Every listener is bound to a loopback IP and Start refuses any other
// address. Tool, resource and prompt handlers never do anything real: they
// return canned text, and the scanner never calls them anyway.
//
// Every name, version and tool list a server exposes is an exported constant
// (or returned by [ToolNames]) so that tests can assert exact values.
package lab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Kind names one shape of server the lab can run.
type Kind string

// The kinds of server, in the order [Kinds] returns them.
const (
	// KindOpenStreamable is a stateful streamable HTTP server (sessions,
	// SSE responses, a GET stream) with no authentication.
	KindOpenStreamable Kind = "open-streamable"
	// KindOpenStateless is a stateless streamable HTTP server answering
	// with application/json and issuing no session id, with no
	// authentication. Being stateless, the SDK also serves the 2026-07-28
	// protocol on it (it is dual-era).
	KindOpenStateless Kind = "open-stateless"
	// KindOpenSSE is a legacy HTTP+SSE (2024-11-05) server with no
	// authentication; its URL is the SSE stream (path [SSEPath]).
	KindOpenSSE Kind = "open-sse"
	// KindOAuth is a streamable server behind a bearer token check that
	// answers 401 with WWW-Authenticate: Bearer resource_metadata="..." and
	// serves RFC 9728 protected resource metadata.
	KindOAuth Kind = "oauth"
	// KindOAuthNoMetadata answers 401 with a bare Bearer challenge: no
	// resource_metadata parameter and no well-known metadata document.
	KindOAuthNoMetadata Kind = "oauth-no-metadata"
	// KindBasic is a streamable server behind HTTP Basic authentication.
	KindBasic Kind = "basic"
	// KindWeb is not MCP: an HTML page on /, a JSON API at [WebStatusPath]
	// and 404 everywhere else.
	KindWeb Kind = "web"
	// KindModern is a stateless server that speaks only protocol
	// [ModernProtocolVersion]: server/discover works, a legacy initialize
	// fails with 400 and an UnsupportedProtocolVersion error.
	KindModern Kind = "modern"
)

// Kinds returns every kind, in a fixed order.
func Kinds() []Kind {
	return []Kind{KindOpenStreamable, KindOpenStateless, KindOpenSSE, KindOAuth,
		KindOAuthNoMetadata, KindBasic, KindWeb, KindModern}
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds() {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, 0, len(Kinds()))
	for _, k := range Kinds() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("lab: unknown kind %q (want one of %s)", s, strings.Join(names, ", "))
}

// IsMCP reports whether servers of this kind speak MCP (possibly behind
// authentication).
func (k Kind) IsMCP() bool { return k != KindWeb }

// Paths and fixed values the servers use.
const (
	// DefaultPath is the MCP endpoint path of every streamable kind unless
	// Options.Path says otherwise.
	DefaultPath = "/mcp"
	// SSEPath is the SSE stream path of KindOpenSSE unless Options.Path says
	// otherwise; message POSTs go to the same path with ?sessionid=.
	SSEPath = "/sse"
	// WellKnownPRMPath is the root RFC 9728 metadata path. KindOAuth also
	// serves the document at WellKnownPRMPath + the endpoint path.
	WellKnownPRMPath = "/.well-known/oauth-protected-resource"
	// AuthorizationServer is the only entry of authorization_servers in the
	// metadata of KindOAuth. The name is reserved (RFC 6761 .test) and is
	// never contacted.
	AuthorizationServer = "https://auth.example.test"
	// OAuthScope is the scope KindOAuth requires and advertises.
	OAuthScope = "mcp:tools"
	// ModernProtocolVersion is the only protocol version KindModern speaks.
	ModernProtocolVersion = "2026-07-28"
	// WebStatusPath is the JSON API of KindWeb.
	WebStatusPath = "/api/status"
	// WebTitle is the <title> of the KindWeb page.
	WebTitle = "Acme Status"
	// DefaultBasicUser is the Basic user name when Options.BasicUser is empty.
	DefaultBasicUser = "admin"
	// MaxExtraTools bounds Options.ExtraTools.
	MaxExtraTools = 10000
)

// Options configures a server. The zero value (or nil) is valid; every
// field's zero value is documented. Options are copied by Start.
type Options struct {
	// Logger receives lifecycle and SDK messages. nil discards them.
	Logger *slog.Logger
	// ExtraTools adds this many tools named extra_tool_00001 ... (see
	// [ExtraToolName]) to every MCP kind, for big listings. Zero adds none;
	// at most [MaxExtraTools].
	ExtraTools int
	// PageSize is the SDK's page size of list results (tools/list etc.).
	// Zero means the SDK default, mcp.DefaultPageSize (1000).
	PageSize int
	// Path is the MCP endpoint path. Empty means [DefaultPath], or [SSEPath]
	// for KindOpenSSE. Ignored by KindWeb.
	Path string
	// BearerToken is the one token KindOAuth and KindOAuthNoMetadata
	// accept. Empty means a random token (see Server.BearerToken).
	BearerToken string
	// BasicUser and BasicPassword are the one credential KindBasic
	// accepts. Empty means [DefaultBasicUser] and a random password.
	BasicUser     string
	BasicPassword string
	// DisableLocalhostProtection turns off the SDK's DNS-rebinding check
	// (a request reaching a loopback listener with a non-loopback Host
	// header gets 403). false keeps the SDK default, the check on. A Host
	// of 127.x.y.z:port counts as loopback either way.
	DisableLocalhostProtection bool
	// ModernSDKOnly makes KindModern the bare SDK server narrowed to
	// 2026-07-28, without the lab's legacy-request validation: the SDK
	// then answers a header-less initialize with a 2025-11-25 result and
	// serves header-less requests as 2025-03-26 ones, which is what real
	// go-sdk v1.8.0 deployments configured that way do. false (the
	// default) rejects legacy requests as the 2026-07-28 spec requires.
	ModernSDKOnly bool
}

// Server is one running lab server. Its exported fields are set by Start
// and must not be changed.
type Server struct {
	Kind Kind
	// Name and Version are the serverInfo the server reports; both are
	// empty for KindWeb.
	Name    string
	Version string
	// URL is the MCP endpoint, e.g. http://127.0.0.7:41234/mcp (the SSE
	// stream for KindOpenSSE, the page root for KindWeb).
	URL string
	// Addr is the host:port the listener is bound to.
	Addr string
	// Tools are the exact tool names tools/list returns (extras included),
	// in listing order, which is sorted by name. nil for KindWeb.
	Tools []string
	// MetadataURL is the resource_metadata URL KindOAuth advertises.
	MetadataURL string
	// BearerToken is the accepted token of the OAuth kinds.
	BearerToken string
	// BasicUser and BasicPassword are the accepted credential of KindBasic.
	BasicUser     string
	BasicPassword string

	logger    *slog.Logger
	http      *http.Server
	mcp       *mcp.Server // nil for KindWeb
	cancel    context.CancelFunc
	stop      func() bool // detaches the ctx watcher
	served    chan struct{}
	closeOnce sync.Once
	closeErr  error

	connMu   sync.Mutex
	newConns map[net.Conn]bool // connections that have not sent a request yet
	closing  bool
}

// trackConn is the http.Server ConnState hook. It remembers connections
// that have not started a request, because Shutdown waits up to five
// seconds for those (a client's spare pooled connection is one); once the
// server is closing they are closed at once.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	switch {
	case state == http.StateNew && s.closing:
		c.Close()
	case state == http.StateNew:
		s.newConns[c] = true
	default:
		delete(s.newConns, c)
	}
}

// closeNewConns closes the connections that have not started a request and
// makes trackConn close any that arrive later.
func (s *Server) closeNewConns() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	s.closing = true
	for c := range s.newConns {
		c.Close()
	}
	clear(s.newConns)
}

// LogValue implements slog.LogValuer; it never includes credentials.
func (s *Server) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", string(s.Kind)),
		slog.String("name", s.Name),
		slog.String("url", s.URL),
	)
}

// shutdownTimeout bounds the graceful part of Close.
const shutdownTimeout = 2 * time.Second

// Start starts a server of the given kind listening on addr, which must be a
// loopback IP literal with a port ("127.0.0.7:0", "[::1]:8080"). The server
// runs until Close is called or ctx is cancelled.
func Start(ctx context.Context, kind Kind, addr string, opts *Options) (*Server, error) {
	if ctx == nil {
		return nil, errors.New("lab: nil context")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if err := validate(kind, addr, &o); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("lab: start %s: %w", kind, ctx.Err())
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("lab: listen %s: %w", addr, err)
	}
	s := &Server{
		Kind:     kind,
		Addr:     ln.Addr().String(),
		logger:   logger,
		served:   make(chan struct{}),
		newConns: make(map[net.Conn]bool),
	}
	s.fill(&o)

	h, err := s.handler(&o)
	if err != nil {
		ln.Close()
		return nil, err
	}
	// baseCtx is the parent of every request context: cancelling it ends
	// the hanging SSE and GET streams, which Shutdown would otherwise wait
	// for.
	baseCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ConnState:         s.trackConn,
	}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("lab server stopped", "server", s, "err", err)
		}
	}()
	s.stop = context.AfterFunc(ctx, func() { s.Close() })
	logger.Info("lab server started", "server", s)
	return s, nil
}

// Close stops the server: it ends open streams and sessions, shuts the HTTP
// server down gracefully for up to two seconds, then closes what is left
// (a handler still running then is logged, not an error). Close is
// idempotent and safe for concurrent use.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		s.cancel()
		if s.mcp != nil {
			for ss := range s.mcp.Sessions() {
				ss.Close()
			}
		}
		s.closeNewConns()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.logger.Warn("lab server: graceful shutdown incomplete, closing", "server", s, "err", err)
			if err := s.http.Close(); err != nil {
				s.closeErr = fmt.Errorf("lab: close %s: %w", s.Kind, err)
			}
		}
		<-s.served
		s.logger.Info("lab server stopped", "server", s)
	})
	return s.closeErr
}

// validate checks kind, addr and the options, and fills the defaults in o.
func validate(kind Kind, addr string, o *Options) error {
	if _, err := ParseKind(string(kind)); err != nil {
		return err
	}
	if err := checkLoopback(addr); err != nil {
		return err
	}
	if o.ExtraTools < 0 || o.ExtraTools > MaxExtraTools {
		return fmt.Errorf("lab: extra tools %d out of range 0..%d", o.ExtraTools, MaxExtraTools)
	}
	if o.PageSize < 0 {
		return fmt.Errorf("lab: negative page size %d", o.PageSize)
	}
	if o.Path == "" {
		o.Path = DefaultPath
		if kind == KindOpenSSE {
			o.Path = SSEPath
		}
	}
	if err := checkPath(o.Path); err != nil {
		return err
	}
	if o.BearerToken == "" {
		o.BearerToken = rand.Text()
	}
	if !isToken68(o.BearerToken) {
		return fmt.Errorf("lab: bearer token %q is not a valid token68", o.BearerToken)
	}
	if o.BasicUser == "" {
		o.BasicUser = DefaultBasicUser
	}
	if strings.Contains(o.BasicUser, ":") || !isPrintable(o.BasicUser) {
		return fmt.Errorf("lab: basic user %q must be printable ASCII without ':'", o.BasicUser)
	}
	if o.BasicPassword == "" {
		o.BasicPassword = rand.Text()
	}
	if !isPrintable(o.BasicPassword) {
		return errors.New("lab: basic password must be printable ASCII")
	}
	return nil
}

// checkLoopback accepts "ip:port" where ip is a loopback IP literal.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("lab: address %q: %w", addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("lab: address %q: host must be an IP literal", addr)
	}
	if !ip.Unmap().IsLoopback() {
		return fmt.Errorf("lab: address %q is not loopback (127.0.0.0/8 or ::1)", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || port != strconv.FormatUint(p, 10) {
		return fmt.Errorf("lab: address %q: bad port %q", addr, port)
	}
	return nil
}

// checkPath accepts an absolute path with no query, fragment or dot
// segments that does not shadow the metadata paths.
func checkPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/") || p == "/":
		return fmt.Errorf("lab: path %q must start with '/' and not be '/'", p)
	case strings.ContainsAny(p, "?#{} \t\r\n%"):
		return fmt.Errorf("lab: path %q contains a forbidden character", p)
	case strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/.."):
		return fmt.Errorf("lab: path %q is not clean", p)
	case strings.HasPrefix(p, "/.well-known/"):
		return fmt.Errorf("lab: path %q is reserved", p)
	case !isPrintable(p):
		return fmt.Errorf("lab: path %q must be printable ASCII", p)
	}
	return nil
}

// isToken68 reports whether s is a non-empty RFC 7235 token68.
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isPrintable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
