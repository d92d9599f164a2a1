package cli

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/gate"
)

// pingUpstream answers every JSON-RPC POST with an empty result and counts
// the requests it saw.
func pingUpstream(t *testing.T, seen *atomic.Int32) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the client's credential reached the upstream")
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	t.Cleanup(up.Close)
	return up
}

// buildTestGate parses args as the gate command line and builds the gate
// without listening.
func buildTestGate(t *testing.T, getenv func(string) string, args ...string) (*gate.Gate, error) {
	t.Helper()
	cfg := &gateConfig{}
	fs := gateFlags(cfg)
	if _, err := parseInterspersed(fs, args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if err := layerSettings(cfg, set, getenv); err != nil {
		return nil, err
	}
	if err := readIntrospectionSecret(cfg, getenv); err != nil {
		return nil, err
	}
	opts, _, cleanup, err := buildGate(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if cfg.redisClient != nil {
		t.Cleanup(func() { cfg.redisClient.Close() })
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(cleanup)
	g, err := gate.New(*opts)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { g.Close() })
	return g, nil
}

func ping(t *testing.T, h http.Handler, token string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Host = "127.0.0.1:8443"
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// introspector is an RFC 7662 endpoint on loopback that wants HTTP Basic
// client authentication and knows one active token.
func introspector(t *testing.T, clientID, secret string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok || id != clientID || sec != secret {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		r.ParseForm()
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("token") == "opaque-good" {
			json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "alice", "scope": "mcp"})
			return
		}
		io.WriteString(w, `{"active":false}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGateIntrospectionFlags(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("s3cret\n"), 0o600)
	noEnv := func(string) string { return "" }

	t.Run("secret from file", func(t *testing.T) {
		var seen atomic.Int32
		up := pingUpstream(t, &seen)
		is := introspector(t, "gate", "s3cret")
		g, err := buildTestGate(t, noEnv, "--upstream", up.URL+"/mcp", "--introspection-url", is.URL,
			"--introspection-client-id", "gate", "--introspection-client-secret-file", secretFile)
		if err != nil {
			t.Fatal(err)
		}
		h := g.Handler()
		if rec := ping(t, h, "opaque-good"); rec.Code != http.StatusOK {
			t.Errorf("active token: %d %s", rec.Code, rec.Body)
		}
		if rec := ping(t, h, "opaque-bad"); rec.Code != http.StatusUnauthorized {
			t.Errorf("inactive token: %d, want 401", rec.Code)
		}
		if rec := ping(t, h, ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("no token: %d, want 401", rec.Code)
		}
		if n := seen.Load(); n != 1 {
			t.Errorf("upstream saw %d requests, want 1", n)
		}
	})
	t.Run("secret from environment", func(t *testing.T) {
		var seen atomic.Int32
		up := pingUpstream(t, &seen)
		is := introspector(t, "gate", "from-env")
		env := func(k string) string {
			if k == envIntrospectionSecret {
				return "from-env"
			}
			return ""
		}
		g, err := buildTestGate(t, env, "--upstream", up.URL+"/mcp", "--introspection-url", is.URL, "--introspection-client-id", "gate")
		if err != nil {
			t.Fatal(err)
		}
		if rec := ping(t, g.Handler(), "opaque-good"); rec.Code != http.StatusOK {
			t.Errorf("active token: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("advertised authorization server", func(t *testing.T) {
		var seen atomic.Int32
		up := pingUpstream(t, &seen)
		is := introspector(t, "gate", "s3cret")
		g, err := buildTestGate(t, noEnv, "--upstream", up.URL+"/mcp", "--introspection-url", is.URL,
			"--introspection-client-id", "gate", "--introspection-client-secret-file", secretFile,
			"--authorization-server", "https://login.example.com/tenant", "--scope", "mcp")
		if err != nil {
			t.Fatal(err)
		}
		rec := ping(t, g.Handler(), "")
		ch := rec.Header().Get("WWW-Authenticate")
		if rec.Code != http.StatusUnauthorized || !strings.Contains(ch, `resource_metadata="http://127.0.0.1:8443/.well-known/oauth-protected-resource/mcp"`) {
			t.Fatalf("no token: %d, challenge %q; want 401 pointing at the metadata", rec.Code, ch)
		}
		req := httptest.NewRequest(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil)
		req.Host = "127.0.0.1:8443"
		req.RemoteAddr = "127.0.0.1:40000"
		mrec := httptest.NewRecorder()
		g.Handler().ServeHTTP(mrec, req)
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
		}
		if err := json.Unmarshal(mrec.Body.Bytes(), &md); err != nil || mrec.Code != http.StatusOK {
			t.Fatalf("metadata: %d %s", mrec.Code, mrec.Body)
		}
		if md.Resource != "http://127.0.0.1:8443/mcp" || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != "https://login.example.com/tenant" ||
			len(md.ScopesSupported) != 1 || md.ScopesSupported[0] != "mcp" {
			t.Errorf("metadata = %+v", md)
		}
	})
	t.Run("wrong secret fails closed", func(t *testing.T) {
		var seen atomic.Int32
		up := pingUpstream(t, &seen)
		is := introspector(t, "gate", "other")
		g, err := buildTestGate(t, noEnv, "--upstream", up.URL+"/mcp", "--introspection-url", is.URL,
			"--introspection-client-id", "gate", "--introspection-client-secret-file", secretFile)
		if err != nil {
			t.Fatal(err)
		}
		if rec := ping(t, g.Handler(), "opaque-good"); rec.Code == http.StatusOK || seen.Load() != 0 {
			t.Errorf("introspection refused the gate, yet status %d and upstream saw %d", rec.Code, seen.Load())
		}
	})

	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	up := "http://127.0.0.1:9/mcp"
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--upstream", up, "--introspection-client-secret", "x"}, "not defined"},
		{[]string{"--upstream", up, "--introspection-url", "http://127.0.0.1:9/i", "--introspection-client-id", "g",
			"--introspection-client-secret-file", filepath.Join(dir, "missing")}, "missing"},
		{[]string{"--upstream", up, "--introspection-url", "http://127.0.0.1:9/i", "--introspection-client-id", "g",
			"--introspection-client-secret-file", empty}, "alone on one line"},
		{[]string{"--upstream", up, "--introspection-client-id", "g"}, "need --introspection-url"},
		{[]string{"--upstream", up, "--authorization-server", "https://login.example.com"}, "--authorization-server is for --introspection-url"},
		{[]string{"--upstream", up, "--introspection-url", "http://127.0.0.1:9/i", "--authorization-server", "http://login.example.com"}, "want https"},
		{[]string{"--upstream", up, "--introspection-url", "http://127.0.0.1:9/i", "--introspection-client-secret-file", secretFile}, "--introspection-client-id"},
		{[]string{"--upstream", up, "--introspection-url", "http://auth.example.com/introspect"}, "--introspection-url"},
		{[]string{"--upstream", up, "--audit", "stdout", "--audit-durability", "eventually"}, "eventually"},
		{[]string{"--upstream", up, "--audit-args"}, "need --audit"},
		{[]string{"--upstream", up, "--audit-redact", "ssn"}, "need --audit"},
	}
	for _, tt := range bad {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := runGateCmd(t, t.Context(), tt.args...)
			if code != ExitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %s", code, errOut, tt.want)
			}
			if strings.Contains(errOut, "s3cret") {
				t.Error("the secret appears in the error output")
			}
		})
	}
}

func TestGateAuditDurability(t *testing.T) {
	cfg := &gateConfig{}
	gateFlags(cfg)
	if cfg.auditDurability != "batch" {
		t.Fatalf("default --audit-durability %q, want batch", cfg.auditDurability)
	}
	for _, d := range []string{"", "sync", "batch"} {
		t.Run("durability="+d, func(t *testing.T) {
			var seen atomic.Int32
			up := pingUpstream(t, &seen)
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			args := []string{"--upstream", up.URL + "/mcp", "--audit", "jsonl:" + path}
			if d != "" {
				args = append(args, "--audit-durability", d)
			}
			g, err := buildTestGate(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			if rec := ping(t, g.Handler(), ""); rec.Code != http.StatusOK {
				t.Fatalf("ping: %d %s", rec.Code, rec.Body)
			}
			// Both sync and batch have the record in the file by the time
			// the response is written; sync has also synced it.
			b, err := os.ReadFile(path)
			if err != nil || !strings.Contains(string(b), `"method":"ping"`) {
				t.Errorf("audit file after the response: %q, %v", b, err)
			}
		})
	}
}

// TestGateMetricsListen starts the gate with --metrics-listen, sends one
// request through it and scrapes /metrics on the separate listener.
func TestGateMetricsListen(t *testing.T) {
	var seen atomic.Int32
	up := pingUpstream(t, &seen)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runGate(ctx, &Env{Stdout: io.Discard, Stderr: &errb, Getenv: func(string) string { return "" }}, []string{
			"--listen", "127.0.0.1:0", "--upstream", up.URL + "/mcp", "--metrics-listen", "127.0.0.1:0"})
	}()
	gateRE := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+/mcp)`)
	metricsRE := regexp.MustCompile(`metrics on (http://127\.0\.0\.1:\d+/metrics)`)
	var gateURL, metricsURL string
	for deadline := time.Now().Add(10 * time.Second); gateURL == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := gateRE.FindStringSubmatch(errb.String()); m != nil {
			gateURL = m[1]
			if mm := metricsRE.FindStringSubmatch(errb.String()); mm != nil {
				metricsURL = mm[1]
			}
		}
	}
	if gateURL == "" || metricsURL == "" {
		t.Fatalf("the gate did not start with metrics: %s", errb.String())
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, gateURL, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ping through the gate: %d", resp.StatusCode)
	}
	mresp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if want := `mcpwarden_gate_requests_total{decision="allow",method="ping",route="/mcp"} 1`; !strings.Contains(string(b), want) {
		t.Errorf("/metrics lacks %s:\n%s", want, b)
	}
	// The metrics listener is separate: the gate's port does not serve it.
	if r2, err := http.Get(strings.TrimSuffix(gateURL, "/mcp") + "/metrics"); err == nil {
		r2.Body.Close()
		if r2.StatusCode == http.StatusOK {
			t.Error("the gate's own listener serves /metrics")
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gate did not stop")
	}
	if _, err := http.Get(metricsURL); err == nil {
		t.Error("the metrics listener still answers after shutdown")
	}
}

func TestGateMetricsListenBad(t *testing.T) {
	code, _, errOut := runGateCmd(t, t.Context(), "--upstream", "http://127.0.0.1:9/mcp", "--metrics-listen", "nope")
	if code != ExitError || !strings.Contains(errOut, `--metrics-listen "nope"`) {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestGateCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("routes:\n  - upstream: http://127.0.0.1:3000/mcp\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(`listen: 0.0.0.0:8443
allowed_origins: ["*"]
limits: {upstream_timeout: soon}
audit: {sink: syslog}
routes:
  - upstream: ftp://127.0.0.1/mcp
`), 0o600)
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("routes: []\nlisten_on: 127.0.0.1:1\n"), 0o600)

	code, out, errOut := runGateCmd(t, t.Context(), "check", good)
	if code != ExitOK || strings.TrimSpace(out) != "ok" {
		t.Errorf("good config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runGateCmd(t, t.Context(), "check", bad)
	if code != ExitError || out != "" {
		t.Errorf("bad config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"6 problem(s)", "no authentication method", "public_names", `"*"`, `"soon"`, `"syslog"`, "ftp://"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("bad config: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := runGateCmd(t, t.Context(), "check", unknown); code != ExitError || !strings.Contains(errOut, "listen_on") {
		t.Errorf("unknown key: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runGateCmd(t, t.Context(), "check", filepath.Join(dir, "none.yaml")); code != ExitError || !strings.Contains(errOut, "none.yaml") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	if code, _, _ := runGateCmd(t, t.Context(), "check"); code != ExitError {
		t.Errorf("no file: exit %d", code)
	}
}

// TestGateConfigFile runs two routes from a config file: one with API
// keys, one open; the environment and flags override the file's listen.
func TestGateConfigFile(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.txt")
	code, key, errOut := runGateCmd(t, t.Context(), "keys", "new", "bot", "--keys-file", keys)
	if code != ExitOK {
		t.Fatalf("keys new: %s", errOut)
	}
	key = strings.TrimSpace(key)
	var seenA, seenB atomic.Int32
	upA, upB := pingUpstream(t, &seenA), pingUpstream(t, &seenB)
	conf := filepath.Join(dir, "gate.yaml")
	os.WriteFile(conf, []byte(`listen: 127.0.0.1:7001
audit: {sink: "jsonl:`+filepath.Join(dir, "audit.jsonl")+`", durability: sync}
routes:
  - path: /a
    upstream: `+upA.URL+`/mcp
    auth: {api_keys: `+keys+`}
    policy: {default: allow, rules: [{effect: deny, kinds: [tool], names: [rm]}]}
  - path: /b
    upstream: `+upB.URL+`/mcp
`), 0o600)

	g, err := buildTestGate(t, nil, "--config", conf)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(g.Paths(), ","); got != "/a,/b" {
		t.Fatalf("paths %s", got)
	}
	h := g.Handler()
	pingAt := func(path, token string) int {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Host = "127.0.0.1:7001"
		req.RemoteAddr = "127.0.0.1:40000"
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := pingAt("/a", ""); c != http.StatusUnauthorized {
		t.Errorf("/a without key: %d, want 401", c)
	}
	if c := pingAt("/a", key); c != http.StatusOK {
		t.Errorf("/a with key: %d", c)
	}
	if c := pingAt("/b", ""); c != http.StatusOK {
		t.Errorf("/b (open): %d", c)
	}
	if seenA.Load() != 1 || seenB.Load() != 1 {
		t.Errorf("upstreams saw %d and %d requests, want 1 and 1", seenA.Load(), seenB.Load())
	}

	// Layering: file < environment < flags.
	layered := func(env map[string]string, args ...string) *gateConfig {
		t.Helper()
		cfg := &gateConfig{}
		fs := gateFlags(cfg)
		if _, err := parseInterspersed(fs, append([]string{"--config", conf}, args...)); err != nil {
			t.Fatal(err)
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if err := layerSettings(cfg, set, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if c := layered(nil); c.listen != "127.0.0.1:7001" || !strings.HasSuffix(c.auditSpec, "audit.jsonl") || c.auditDurability != "sync" {
		t.Errorf("file: listen %s audit %s durability %s", c.listen, c.auditSpec, c.auditDurability)
	}
	env := map[string]string{"MCPW_GATE_LISTEN": "127.0.0.1:7002", "MCPW_GATE_METRICS_LISTEN": "127.0.0.1:7003"}
	if c := layered(env); c.listen != "127.0.0.1:7002" || c.metricsListen != "127.0.0.1:7003" {
		t.Errorf("env: listen %s metrics %s", c.listen, c.metricsListen)
	}
	if c := layered(env, "--listen", "127.0.0.1:7004"); c.listen != "127.0.0.1:7004" {
		t.Errorf("flag: listen %s", c.listen)
	}

	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("routes:\n  - upstream: ftp://x/mcp\n  - path: /healthz\n    upstream: http://127.0.0.1:1/x\n"), 0o600)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", conf, "--upstream", "http://127.0.0.1:1/mcp"}, "--upstream: with --config"},
		{[]string{"--config", conf, "--", "cat"}, "--upstream-cmd: with --config"},
		{[]string{"--config", bad}, "2 problem(s)"},
		{[]string{"--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
	} {
		code, _, errOut := runGateCmd(t, t.Context(), tt.args...)
		if code != ExitError || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, %q; want %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestGateRedisFlag(t *testing.T) {
	up := "http://127.0.0.1:9/mcp"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--upstream", up, "--redis", "redis://127.0.0.1:1/0"}, "add --rate, --tool-rate or --max-concurrent"},
		{[]string{"--upstream", up, "--rate", "5", "--redis", "http://:hunter2@127.0.0.1:1/0"}, "--redis"},
		{[]string{"--upstream", up, "--rate", "5", "--redis", "redis://127.0.0.1:1/notadb"}, "--redis"},
	} {
		code, _, errOut := runGateCmd(t, t.Context(), tt.args...)
		if code != ExitError || !strings.Contains(errOut, tt.want) {
			t.Errorf("%q: exit %d, %q; want %q", tt.args, code, errOut, tt.want)
		}
		if strings.Contains(errOut, "hunter2") {
			t.Errorf("%q: the Redis password appears in the error", tt.args)
		}
	}

	// Nothing listens on 127.0.0.1:1: the shared limiter cannot be asked,
	// and the gate refuses rather than letting the request through.
	var seen atomic.Int32
	upSrv := pingUpstream(t, &seen)
	g, err := buildTestGate(t, nil, "--upstream", upSrv.URL+"/mcp", "--rate", "100", "--redis", "redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	rec := ping(t, g.Handler(), "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || seen.Load() != 0 {
		t.Errorf("Redis down: status %d, Retry-After %q, upstream saw %d; want 429 and nothing forwarded",
			rec.Code, rec.Header().Get("Retry-After"), seen.Load())
	}
	// The same for the shared concurrency limit alone.
	g, err = buildTestGate(t, nil, "--upstream", upSrv.URL+"/mcp", "--max-concurrent", "4", "--redis", "redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	rec = ping(t, g.Handler(), "")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || seen.Load() != 0 {
		t.Errorf("Redis down, --max-concurrent: status %d, Retry-After %q, upstream saw %d; want 429 and nothing forwarded",
			rec.Code, rec.Header().Get("Retry-After"), seen.Load())
	}
}

func TestGateHelpNewFlags(t *testing.T) {
	_, out, _ := runGateCmd(t, t.Context(), "--help")
	for _, f := range []string{"--introspection-url", "--introspection-client-id", "--introspection-client-secret-file",
		envIntrospectionSecret, "--audit-durability", "--metrics-listen", "--config", "gate check", "--redis", "MCPW_GATE_LISTEN"} {
		if !strings.Contains(out, f) {
			t.Errorf("--help does not explain %s", f)
		}
	}
}
