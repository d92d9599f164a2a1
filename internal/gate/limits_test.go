package gate

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
)

// countLimiter allows n calls per principal key, then refuses.
type countLimiter struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
	tool []string
}

func (c *countLimiter) Allow(key, method, tool string) (bool, time.Duration, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen[key]++
	c.tool = append(c.tool, method+"|"+tool)
	if c.seen[key] > c.n {
		return false, 1500 * time.Millisecond, "test limit"
	}
	return true, 0, ""
}

// busyLimiter refuses every concurrency slot.
type busyLimiter struct{ countLimiter }

func (b *busyLimiter) Acquire(string) (func(), bool) { return nil, false }

func TestRateLimit(t *testing.T) {
	u := startUpstream(t, upStateless)
	lim := &countLimiter{n: 1, seen: map[string]int{}}
	tg := startGate(t, u, func(o *Options) { o.RateLimiter = lim })
	alice := map[string]string{"Authorization": "Bearer alice-token"}
	if status, _, body := send(t, "POST", tg.url, alice, "", call(1, "echo")); status != 200 {
		t.Fatalf("first call: %d %s", status, body)
	}
	before := u.requests.Load()
	status, hdr, body := send(t, "POST", tg.url, alice, "", call(2, "echo"))
	if status != 429 || hdr.Get("Retry-After") != "2" || !contains(rpcCodes(body), CodeRateLimited) {
		t.Errorf("second call: %d Retry-After %q %s", status, hdr.Get("Retry-After"), body)
	}
	if u.requests.Load() != before {
		t.Error("a rate-limited call reached the upstream")
	}
	// Keyed by principal, not session: bob is not affected.
	if status, _, _ := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer bob-token"}, "", call(3, "echo")); status != 200 {
		t.Errorf("bob: %d", status)
	}
	lim.mu.Lock()
	if lim.tool[0] != "tools/call|echo" {
		t.Errorf("limiter asked %v", lim.tool)
	}
	lim.mu.Unlock()

	busy := startGate(t, u, func(o *Options) { o.RateLimiter = &busyLimiter{countLimiter{n: 100, seen: map[string]int{}}} })
	before = u.requests.Load()
	if status, _, _ := send(t, "POST", busy.url, alice, "", call(4, "echo")); status != 429 || u.requests.Load() != before {
		t.Errorf("concurrency limit: %d", status)
	}
}

// scopeAuth refuses every token with the auth package's ScopeError.
type scopeAuth struct{}

func (scopeAuth) Authenticate(r *http.Request) (*auth.Principal, error) {
	if r.Header.Get("Authorization") == "" {
		return nil, auth.ErrNoCredentials
	}
	return nil, fmt.Errorf("test: %w", &auth.ScopeError{Required: []string{"mcp:read", "mcp:write"}, Missing: []string{"mcp:write"}})
}

func TestAuthenticatorScopeError(t *testing.T) {
	u := startUpstream(t, upStateless)
	tg := startGate(t, u, func(o *Options) { o.Routes[0].Authenticators = []Authenticator{scopeAuth{}} })
	status, hdr, _ := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer x"}, "", call(1, "echo"))
	wa := hdr.Get("WWW-Authenticate")
	if status != 403 || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="mcp:read mcp:write"`) {
		t.Errorf("status %d, challenge %q", status, wa)
	}
	if u.requests.Load() != 0 {
		t.Error("upstream reached")
	}
}

// TestUpstreamRefusal: an upstream 401 (the gate's own credential is
// wrong) becomes 502 and its challenge is not shown to the client.
func TestUpstreamRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="http://127.0.0.1:1/x"`)
		w.WriteHeader(401)
	}))
	defer srv.Close()
	tg := startGate(t, &upstream{url: srv.URL + "/mcp"}, nil)
	status, hdr, _ := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer alice-token"}, "", call(1, "echo"))
	if status != 502 || hdr.Get("WWW-Authenticate") != "" {
		t.Errorf("status %d, WWW-Authenticate %q", status, hdr.Get("WWW-Authenticate"))
	}
}

// TestSlowClient: a client that trickles its body gets 408 after
// BodyTimeout and the upstream sees nothing.
func TestSlowClient(t *testing.T) {
	u := startUpstream(t, upStateless)
	tg := startGate(t, u, func(o *Options) { o.BodyTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(tg.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /mcp HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer alice-token\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":", strings.TrimPrefix(tg.srv.URL, "http://"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a slow client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || u.requests.Load() != 0 {
		t.Errorf("status %d, upstream requests %d", resp.StatusCode, u.requests.Load())
	}
}

// TestUpstreamStallsMidBody: a JSON body that stops arriving ends after
// UpstreamTimeout with 502 instead of holding the client forever.
func TestUpstreamStallsMidBody(t *testing.T) {
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":{"tools":[`))
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(stall)
	tg := startGate(t, &upstream{url: srv.URL + "/mcp"}, func(o *Options) { o.UpstreamTimeout = 200 * time.Millisecond })
	start := time.Now()
	status, _, _ := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer alice-token"}, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	if status != 502 || time.Since(start) > 5*time.Second {
		t.Errorf("status %d after %v, want 502 soon", status, time.Since(start))
	}
}
