// Package dashboard serves the web dashboard of mcpwarden watch: an
// inventory of the endpoints the store knows with their authentication
// state and risk, a page per endpoint (tools with risk tags, the history of
// observations, tool diffs), the events timeline, the findings by severity
// and a chart of exposed endpoints over time, plus a JSON API for the same
// data.
//
// The pages are rendered on the server with html/template (every value
// escaped) and work without JavaScript; the stylesheet and the small
// progressive script are embedded in the binary. Every response carries a
// strict Content-Security-Policy (no inline script or style, no framing)
// and the dashboard only answers GET and HEAD: it changes nothing, so there
// is no state-changing request to forge.
//
// # Routes
//
// Pages: / (inventory and history chart), /endpoint?url=U[&observations=N],
// /events[?type=T&since=S&limit=N], /findings[?severity=MIN],
// /history[?runs=N]. JSON: /api/inventory, /api/endpoint?url=U (with the
// full scan record of each observation), /api/events?since=S|after=ID
// [&type=T&limit=N] (oldest first; next_after for polling),
// /api/findings[?severity=MIN], /api/history[?runs=N]. S is an RFC 3339
// time or a duration back from now ("24h", "7d"). Unknown, repeated or
// out-of-range parameters get 400, a query over 4 KiB gets 414.
//
// The store has no query for the history chart or for the newest events;
// both are computed from its methods within fixed bounds (see data.go),
// and the chart is cached until another run completes.
//
// # Access
//
// With Options.Authenticators set, every request (pages, API and assets)
// must pass one of them, or gets 401 with a WWW-Authenticate challenge.
// Without them the dashboard is meant for loopback only, and to resist DNS
// rebinding it then accepts only requests whose Host is an IP literal or
// "localhost": a hostile web page cannot reach it through a name of its
// own that resolves to 127.0.0.1.
package dashboard

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures New.
type Options struct {
	// Store is the watch database the dashboard reads. Required.
	Store store.Store
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// Authenticators, when not empty, are asked in order (auth.Chain) for
	// every request; a request none of them accepts gets 401. Nil or empty
	// means no authentication (loopback use, see the package doc).
	Authenticators []auth.Authenticator
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ContentSecurityPolicy is the policy sent with every response.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type server struct {
	store  store.Store
	log    *slog.Logger
	auth   auth.Authenticator // nil: no authentication
	now    func() time.Time
	pages  *pageSet
	static http.Handler

	// eventPage is how many events one store call reads; maxEventScan
	// caps the events one request reads.
	eventPage, maxEventScan int

	histMu    sync.Mutex
	histCache map[int]historyCache // by number of runs
}

// New returns the dashboard handler. It serves the pages under "/", the
// JSON API under "/api/" and the embedded assets under "/static/".
func New(opts Options) (http.Handler, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	return s.chain(s.routes()), nil
}

func newServer(opts Options) (*server, error) {
	if opts.Store == nil {
		return nil, errors.New("dashboard: no store")
	}
	s := &server{store: opts.Store, log: opts.Logger, now: opts.Now, histCache: map[int]historyCache{},
		eventPage: defaultEventPage, maxEventScan: defaultMaxEventScan}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, a := range opts.Authenticators {
		if a == nil {
			return nil, fmt.Errorf("dashboard: authenticator %d is nil", i)
		}
	}
	if len(opts.Authenticators) > 0 {
		s.auth = auth.Chain(opts.Authenticators...)
	}
	pages, err := loadPages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("dashboard: static assets: %w", err)
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return s, nil
}

func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/{$}", s.page(s.inventoryPage))
	mux.HandleFunc("/endpoint", s.page(s.endpointPage))
	mux.HandleFunc("/events", s.page(s.eventsPage))
	mux.HandleFunc("/findings", s.page(s.findingsPage))
	mux.HandleFunc("/history", s.page(s.historyPage))
	mux.HandleFunc("/api/inventory", s.api(s.apiInventory))
	mux.HandleFunc("/api/endpoint", s.api(s.apiEndpoint))
	mux.HandleFunc("/api/events", s.api(s.apiEvents))
	mux.HandleFunc("/api/findings", s.api(s.apiFindings))
	mux.HandleFunc("/api/history", s.api(s.apiHistory))
	mux.Handle("/static/", s.staticHandler())
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "no such API: "+r.URL.Path)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, http.StatusNotFound, "No such page.")
	})
	return mux
}

// chain wraps the routes in the middleware, outermost first:
//  1. recover: a panic becomes a 500, logged;
//  2. headers: security headers on every response, errors included;
//  3. methods: only GET and HEAD (the dashboard changes nothing);
//  4. host: without authentication, only loopback-style Host headers
//     (DNS rebinding);
//  5. authenticate: with authenticators, every request needs a principal;
//  6. bounds: the query string is capped in size.
func (s *server) chain(h http.Handler) http.Handler {
	h = s.bounds(h)
	h = s.authenticate(h)
	h = s.hostCheck(h)
	h = methods(h)
	h = securityHeaders(h)
	return s.recoverer(h)
}

func (s *server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("dashboard: panic", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

func methods(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: the dashboard is read-only", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// hostCheck refuses, when no authentication is configured, requests whose
// Host is a name other than localhost: a browser only sends such a Host to
// a loopback listener after DNS rebinding.
func (s *server) hostCheck(h http.Handler) http.Handler {
	if s.auth != nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			s.log.Warn("dashboard: refused host", "host", truncate(r.Host, 100), "remote", r.RemoteAddr)
			http.Error(w, "misdirected request: without authentication the dashboard answers only to an IP address or localhost",
				http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether hostport names the server by IP literal or
// as localhost.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return false
	}
	if net.ParseIP(host) != nil {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// authenticate requires a principal when authenticators are configured.
func (s *server) authenticate(h http.Handler) http.Handler {
	if s.auth == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r)
		if err == nil && p != nil {
			h.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="mcpwarden watch"`
		if err != nil && !errors.Is(err, auth.ErrNoCredentials) {
			challenge += `, error="invalid_token"`
			s.log.Info("dashboard: refused credentials", "reason", string(auth.ReasonOf(err)), "remote", r.RemoteAddr)
		}
		w.Header().Set("WWW-Authenticate", challenge)
		http.Error(w, "authentication required", http.StatusUnauthorized)
	})
}

// Bounds of the request.
const (
	maxQueryLen = 4096
	maxURLParam = 2048
)

func (s *server) bounds(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > maxQueryLen {
			http.Error(w, fmt.Sprintf("query string longer than %d bytes", maxQueryLen), http.StatusRequestURITooLong)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *server) staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=300")
		s.static.ServeHTTP(w, r)
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
