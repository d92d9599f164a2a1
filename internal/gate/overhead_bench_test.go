package gate

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

// cannedUpstream answers every request with the same JSON-RPC result, in
// process and without goroutines: what is left to measure is the proxy.
type cannedUpstream struct{ body []byte }

func (c cannedUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(c.body)))
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(c.body)), ContentLength: int64(len(c.body)), Request: r}, nil
}

// BenchmarkGateOverhead measures the gate's own work per tools/call, with
// no network and no real upstream (a canned response): JWT check with the
// CLI's verified-token cache, JSON-RPC inspection, policy, upstream
// request building, response handling and a JSONL audit record (batch).
// Its baseline, in the same run, is net/http/httputil's ReverseProxy over
// the same canned upstream: a proxy that checks nothing. Run with
//
//	go test -run='^$' -bench=GateOverhead -benchmem ./internal/gate
func BenchmarkGateOverhead(b *testing.B) {
	const call = `{"jsonrpc":"2.0","id":"w1-1","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}}}`
	up := cannedUpstream{body: []byte(`{"jsonrpc":"2.0","id":"w1-1","result":{"content":[{"type":"text","text":"echo:hello xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]}}`)}
	const host = "127.0.0.1:8443"
	newReq := func(token string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://"+host+"/mcp", strings.NewReader(call))
		r.RemoteAddr = "127.0.0.1:40000"
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Header.Set("MCP-Protocol-Version", "2025-11-25")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		return r
	}

	b.Run("bare-reverse-proxy", func(b *testing.B) {
		target, _ := url.Parse("http://127.0.0.1:9")
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = up
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			rp.ServeHTTP(w, newReq(""))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})

	b.Run("gate", func(b *testing.B) {
		iss, err := mcptest.StartIssuer("127.0.0.1:0", nil)
		if err != nil {
			b.Fatal(err)
		}
		defer iss.Close()
		aud := "http://" + host + "/mcp"
		j, err := auth.NewJWT(context.Background(), auth.JWTOptions{Issuer: iss.URL, Audiences: []string{aud}, JWKSURL: iss.JWKSURL(), VerifiedCacheTTL: cliJWTCache})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := iss.Mint(iss.Claims("bench-user", aud, "mcp"))
		if err != nil {
			b.Fatal(err)
		}
		sink, err := audit.OpenWith("jsonl:"+filepath.Join(b.TempDir(), "audit.jsonl"), &audit.Options{Durability: audit.DurabilityBatch})
		if err != nil {
			b.Fatal(err)
		}
		g, err := New(Options{
			Routes: []Route{{Upstream: "http://127.0.0.1:9/mcp", Authenticators: []Authenticator{j}, Policy: testPolicy}},
			Audit:  sink, Transport: up, UpstreamTimeout: time.Minute,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer g.Close()
		h := g.Handler()
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, newReq(tok))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
