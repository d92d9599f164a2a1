package gate

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// denyTool is a RateLimiter that refuses tools/call of one tool.
type denyTool string

func (d denyTool) Allow(key, method, tool string) (bool, time.Duration, string) {
	if tool == string(d) {
		return false, time.Second, "tool " + tool
	}
	return true, 0, ""
}

func TestMetricsScrape(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	}))
	defer up.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/dead"
	dead.Close() // nothing listens there any more

	m := NewMetrics()
	mem := &memSink{}
	g, err := New(Options{
		Routes: []Route{
			{Upstream: up.URL + "/mcp"},
			{Upstream: deadURL},
		},
		RateLimiter: denyTool("slow"),
		Audit:       audit.Multi(mem, m),
	})
	if err != nil {
		t.Fatal(err)
	}
	gs := httptest.NewServer(g.Handler())
	defer gs.Close()
	defer g.Close()

	post := func(path, body string, hdr ...string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, gs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := gs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	ping := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	for range 2 {
		if c := post("/mcp", ping); c != http.StatusOK {
			t.Fatalf("ping: %d", c)
		}
	}
	if c := post("/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow","arguments":{}}}`); c != http.StatusTooManyRequests {
		t.Errorf("rate-limited call: %d, want 429", c)
	}
	if c := post("/mcp", `{"jsonrpc":"2.0","id":3,"method":"x/made-up-1"}`); c != http.StatusOK {
		t.Errorf("unknown method: %d", c)
	}
	if c := post("/mcp", ping, "Origin", "https://evil.example"); c != http.StatusForbidden {
		t.Errorf("foreign origin: %d, want 403", c)
	}
	if c := post("/dead", ping); c != http.StatusBadGateway {
		t.Errorf("dead upstream: %d, want 502", c)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- m.ServeMetrics(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := string(b)
	for _, want := range []string{
		`mcpwarden_gate_requests_total{decision="allow",method="ping",route="/mcp"} 2`,
		`mcpwarden_gate_requests_total{decision="deny",method="tools/call",route="/mcp"} 1`,
		`mcpwarden_gate_requests_total{decision="allow",method="other",route="/mcp"} 1`,
		`mcpwarden_gate_requests_total{decision="deny",method="http",route="/mcp"} 1`,
		`mcpwarden_gate_requests_total{decision="error",method="ping",route="/dead"} 1`,
		`mcpwarden_gate_decisions_total{decision="allow"} 3`,
		`mcpwarden_gate_decisions_total{decision="deny"} 2`,
		`mcpwarden_gate_decisions_total{decision="error"} 1`,
		`mcpwarden_gate_rate_limited_total{limit="rate",route="/mcp"} 1`,
		`mcpwarden_gate_upstream_errors_total{kind="unreachable",route="/dead"} 1`,
		`mcpwarden_gate_upstream_healthy{route="/dead"} 0`,
		`mcpwarden_gate_upstream_healthy{route="/mcp"} 1`,
		`mcpwarden_gate_request_duration_seconds_count{method="ping",route="/mcp"} 2`,
		`mcpwarden_gate_up 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "made-up") {
		t.Error("a client-chosen method name became a label value")
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeMetrics: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeMetrics did not stop")
	}
}

func TestMetricsWriteNil(t *testing.T) {
	if err := NewMetrics().Write(t.Context(), nil); err == nil {
		t.Error("nil record accepted")
	}
}
