package gate

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// TestSessionBoundToPrincipal: the principal whose request received a
// session id is the only one who can use it.
func TestSessionBoundToPrincipal(t *testing.T) {
	u := startUpstream(t, upStateful)
	tg := startGate(t, u, nil)
	status, hdr, body := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer alice-token"}, "", initBody)
	sid := hdr.Get("Mcp-Session-Id")
	if status != 200 || sid == "" {
		t.Fatalf("initialize: status %d, session %q, body %s", status, sid, body)
	}
	if !strings.Contains(hdr.Get("Content-Type"), "text/event-stream") || hdr.Get("X-Accel-Buffering") != "no" {
		t.Errorf("SSE response headers: Content-Type %q, X-Accel-Buffering %q", hdr.Get("Content-Type"), hdr.Get("X-Accel-Buffering"))
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	tests := []struct {
		name   string
		method string
		token  string
		status int
	}{
		{"bob replays alice's session", "POST", "bob-token", 404},
		{"bob opens alice's stream", "GET", "bob-token", 404},
		{"bob deletes alice's session", "DELETE", "bob-token", 404},
		{"alice uses her session", "POST", "alice-token", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := u.requests.Load()
			h := map[string]string{"Authorization": "Bearer " + tt.token, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
			b := ""
			if tt.method == "POST" {
				b = list
			}
			status, _, body := send(t, tt.method, tg.url, h, "", b)
			if status != tt.status {
				t.Fatalf("status = %d, want %d (%s)", status, tt.status, body)
			}
			if tt.status == 404 && u.requests.Load() != before {
				t.Error("a replayed session reached the upstream")
			}
			if tt.status == 200 {
				// SSE-wrapped tools/list, filtered for alice.
				if !strings.Contains(string(body), `"echo"`) || strings.Contains(string(body), "run_shell_command") {
					t.Errorf("filtered SSE tools/list = %s", body)
				}
			}
		})
	}
}

// TestLegacySessionBound: a legacy SSE message endpoint handed to one
// principal is useless to another.
func TestLegacySessionBound(t *testing.T) {
	u := startUpstream(t, upSSE)
	tg := startGate(t, u, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", tg.url, nil)
	req.Header.Set("Authorization", "Bearer alice-token")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Error("no X-Accel-Buffering: no on the SSE stream")
	}
	sc := bufio.NewScanner(resp.Body)
	var endpoint string
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			endpoint = v
			break
		}
	}
	if !strings.HasPrefix(endpoint, "/sse?"+legacyQuery+"=") {
		t.Fatalf("endpoint event = %q, want the gate's own path", endpoint)
	}
	before := u.requests.Load()
	status, _, _ := send(t, "POST", tg.srv.URL+endpoint, map[string]string{"Authorization": "Bearer bob-token"}, "", initBody)
	if status != 404 || u.requests.Load() != before {
		t.Errorf("bob on alice's legacy endpoint: status %d, upstream requests +%d", status, u.requests.Load()-before)
	}
	status, _, _ = send(t, "POST", tg.srv.URL+endpoint, map[string]string{"Authorization": "Bearer alice-token"}, "", initBody)
	if status != 202 {
		t.Errorf("alice on her legacy endpoint: status %d, want 202", status)
	}
}

// TestScopesAndMetadata: missing scopes get 403 insufficient_scope with all
// needed scopes; the RFC 9728 document is served at the path-specific and
// root well-known URLs.
func TestScopesAndMetadata(t *testing.T) {
	u := startUpstream(t, upStateless)
	tg := startGate(t, u, func(o *Options) { o.Routes[0].RequiredScopes = []string{"mcp", "tools"} })
	status, hdr, _ := send(t, "POST", tg.url, map[string]string{"Authorization": "Bearer carol-token"}, "", call(1, "echo"))
	wa := hdr.Get("WWW-Authenticate")
	if status != 403 || !strings.Contains(wa, `error="insufficient_scope"`) || !strings.Contains(wa, `scope="mcp tools"`) || !strings.Contains(wa, "resource_metadata=") {
		t.Errorf("carol: status %d, challenge %q", status, wa)
	}
	if u.requests.Load() != 0 {
		t.Error("upstream reached")
	}
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		status, _, body := send(t, "GET", tg.srv.URL+p, nil, "", "")
		if status != 200 || !strings.Contains(string(body), `"resource":"`+tg.url+`"`) || !strings.Contains(string(body), `"authorization_servers":["https://issuer.test"]`) {
			t.Errorf("GET %s: %d %s", p, status, body)
		}
	}
}

// TestTrustedProxy: behind a trusted proxy, X-Forwarded-Host is the host
// checked and X-Forwarded-For the client recorded.
func TestTrustedProxy(t *testing.T) {
	u := startUpstream(t, upStateless)
	tg := startGate(t, u, func(o *Options) {
		o.TrustedProxies = []string{"127.0.0.0/8"}
		o.PublicNames = []string{"mcp.example.com"}
		o.AllowedOrigins = []string{"https://app.example.com"}
	})
	h := map[string]string{"Authorization": "Bearer alice-token", "X-Forwarded-Host": "mcp.example.com", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
	status, hdr, body := send(t, "POST", tg.url, h, "", call(1, "echo"))
	if status != 200 {
		t.Fatalf("through a trusted proxy: %d %s", status, body)
	}
	recs := tg.sink.records()
	if got := recs[len(recs)-1].ClientAddr; got != "203.0.113.7" {
		t.Errorf("client address = %q, want the forwarded one", got)
	}
	h["Origin"] = "https://app.example.com"
	status, hdr, _ = send(t, "POST", tg.url, h, "", call(2, "echo"))
	if status != 200 || hdr.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(strings.Join(hdr.Values("Vary"), ","), "Origin") {
		t.Errorf("allowed origin: status %d, ACAO %q, Vary %q", status, hdr.Get("Access-Control-Allow-Origin"), hdr.Values("Vary"))
	}
	h["Origin"] = "https://mcp.example.com" // the gate's own origin
	if status, _, _ = send(t, "POST", tg.url, h, "", call(3, "echo")); status != 200 {
		t.Errorf("same-origin request: %d", status)
	}
	h["X-Forwarded-Host"] = "evil.example"
	delete(h, "Origin")
	if status, _, _ = send(t, "POST", tg.url, h, "", call(4, "echo")); status != 403 {
		t.Errorf("forwarded foreign host: %d, want 403", status)
	}
	status, _, body = send(t, "GET", tg.srv.URL+"/.well-known/oauth-protected-resource/mcp", map[string]string{"X-Forwarded-Host": "mcp.example.com", "X-Forwarded-Proto": "https"}, "", "")
	if status != 200 || !strings.Contains(string(body), `"resource":"https://mcp.example.com/mcp"`) {
		t.Errorf("metadata behind the proxy: %d %s", status, body)
	}
}

// TestServeDrainsAndCloses: Serve refuses an exposed unauthenticated
// listener, warns in /healthz when allowed, and on cancel drains and
// closes the audit sink.
func TestServeDrainsAndCloses(t *testing.T) {
	u := startUpstream(t, upStateless)
	sink := &memSink{}
	g, err := New(Options{Routes: []Route{{Upstream: u.url}}, Audit: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.CheckListen("0.0.0.0:8443"); err == nil {
		t.Error("unauthenticated gate allowed on 0.0.0.0")
	}
	if err := g.CheckListen("[::]:8443"); err == nil {
		t.Error("unauthenticated gate allowed on ::")
	}
	if err := g.CheckListen("127.0.0.1:8443"); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
	g2, _ := New(Options{Routes: []Route{{Upstream: u.url}}, AllowUnauthenticated: true})
	if err := g2.CheckListen("0.0.0.0:8443"); err != nil {
		t.Errorf("--allow-unauthenticated still refused: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, nil) }()
	base := "http://" + ln.Addr().String()
	status, _, body := send(t, "GET", base+"/healthz", nil, "", "")
	if status != 200 || !strings.Contains(string(body), "UNAUTHENTICATED") {
		t.Errorf("healthz: %d %s", status, body)
	}
	if status, _, _ = send(t, "GET", base+"/readyz", nil, "", ""); status != 200 {
		t.Errorf("readyz: %d", status)
	}
	if status, _, _ = send(t, "POST", base+"/mcp", nil, "", call(1, "echo")); status != 200 {
		t.Errorf("unauthenticated call on loopback: %d", status)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(DrainTimeout + 5*time.Second):
		t.Fatal("Serve did not return")
	}
	sink.mu.Lock()
	closed := sink.closed
	sink.mu.Unlock()
	if !closed {
		t.Error("audit sink not closed on shutdown")
	}
}

// TestServeSelfSignedTLS serves over a self-signed certificate and checks
// the certificate names and that the PRM URL says https.
func TestServeSelfSignedTLS(t *testing.T) {
	u := startUpstream(t, upStateless)
	g, err := New(Options{Routes: []Route{{Upstream: u.url, Authenticators: []Authenticator{testPrincipals},
		Metadata: &ResourceMetadata{AuthorizationServers: []string{"https://issuer.test"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := SelfSignedTLS([]string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln, conf) }()
	defer func() { cancel(); <-done }()
	leaf, _ := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Post("https://"+ln.Addr().String()+"/mcp", "application/json", strings.NewReader(call(1, "echo")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `resource_metadata="https://`+ln.Addr().String()+`/.well-known/oauth-protected-resource/mcp"`) {
		t.Errorf("status %d, challenge %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

// TestTwoRoutes: each route has its own upstream, path, authenticators,
// policy and metadata document.
func TestTwoRoutes(t *testing.T) {
	a := startUpstream(t, upStateless)
	b := startUpstream(t, upStateless)
	tg := startGate(t, a, func(o *Options) {
		o.Routes[0].Path = "/team-a"
		o.Routes = append(o.Routes, Route{Upstream: b.url, Path: "/team-b", Authenticators: []Authenticator{testPrincipals},
			Policy:   &Policy{Default: Allow},
			Metadata: &ResourceMetadata{AuthorizationServers: []string{"https://other-issuer.test"}}})
	})
	alice := map[string]string{"Authorization": "Bearer alice-token"}
	if status, _, body := send(t, "POST", tg.srv.URL+"/team-b", alice, "", call(1, "run_shell_command")); status != 200 || !strings.Contains(string(body), "run_shell_command:x") {
		t.Errorf("route b allows everything: %d %s", status, body)
	}
	if status, _, body := send(t, "POST", tg.srv.URL+"/team-a", alice, "", call(1, "run_shell_command")); status != 200 || !contains(rpcCodes(body), CodeForbidden) {
		t.Errorf("route a denies: %d %s", status, body)
	}
	if a.toolCalls("run_shell_command") != 0 || b.toolCalls("run_shell_command") != 1 {
		t.Error("calls reached the wrong upstream")
	}
	status, _, body := send(t, "GET", tg.srv.URL+"/.well-known/oauth-protected-resource/team-b", nil, "", "")
	if status != 200 || !strings.Contains(string(body), "other-issuer") {
		t.Errorf("route b metadata: %d %s", status, body)
	}
	if status, _, _ := send(t, "GET", tg.srv.URL+"/.well-known/oauth-protected-resource", nil, "", ""); status != 404 {
		t.Errorf("root metadata with two OAuth routes: %d, want 404 (ambiguous)", status)
	}
	if status, _, _ := send(t, "POST", tg.srv.URL+"/mcp", alice, "", call(1, "echo")); status != 404 {
		t.Errorf("unrouted path: %d, want 404", status)
	}
}

// TestRepeatedSessionHeader: two Mcp-Session-Id values could be read
// differently by the gate and the upstream: 400.
func TestRepeatedSessionHeader(t *testing.T) {
	u := startUpstream(t, upStateful)
	tg := startGate(t, u, nil)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", tg.url, strings.NewReader(call(1, "echo")))
	req.Header.Set("Authorization", "Bearer alice-token")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Add("Mcp-Session-Id", "a")
	req.Header.Add("Mcp-Session-Id", "b")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || u.requests.Load() != 0 {
		t.Errorf("status %d, upstream requests %d", resp.StatusCode, u.requests.Load())
	}
}
