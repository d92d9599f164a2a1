package probe

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Every server here listens on a 127.0.0.x address; nothing else is dialled.

func sdkHandler(name string) http.Handler {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: "1.0.0"}, nil)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
}

// listen serves h (over TLS when tlsOn) on ip and returns host and port.
func listen(t *testing.T, ip string, h http.Handler, tlsOn bool) (string, int) {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsOn {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	host, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(p)
	return host, port
}

// TestSchemeSwitch checks both directions of the TLS detection on one
// path: a service first tried with the wrong scheme ends up on the right
// one. https-first is what ports like 443 and 8443 get; a test cannot bind
// those, so the service probe is built here with the scheme it would start
// with.
func TestSchemeSwitch(t *testing.T) {
	tests := []struct {
		name       string
		ip         string
		serverTLS  bool
		start      string
		wantScheme string
	}{
		{"https first, plain server", "127.0.0.61", false, "https", "http"},
		{"http first, TLS server", "127.0.0.62", true, "http", "https"},
		{"http first, plain server", "127.0.0.63", false, "http", "http"},
		{"https first, TLS server", "127.0.0.64", true, "https", "https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port := listen(t, tt.ip, sdkHandler("switch"), tt.serverTLS)
			p := New(Options{ConnectTimeout: 2 * time.Second, RequestTimeout: 2 * time.Second})
			s := &svcProbe{p: p, svc: target.Service{Host: host, Port: port}}
			s.c = newClient(p, host, host, port, tt.start)
			defer s.c.close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			out := s.probePath(ctx, "/mcp")
			if out.ep == nil || out.ep.Status != result.StatusMCP || out.ep.MCP.Server.Name != "switch" {
				t.Fatalf("no MCP endpoint: %+v (err %v)", out.ep, out.err)
			}
			wantURL := tt.wantScheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + "/mcp"
			if out.ep.URL != wantURL || s.c.scheme != tt.wantScheme || !s.schemeFixed {
				t.Errorf("URL %q scheme %q fixed %v; want %q", out.ep.URL, s.c.scheme, s.schemeFixed, wantURL)
			}
			if gotTLS := s.c.tlsInfo() != nil; gotTLS != tt.serverTLS {
				t.Errorf("TLS recorded: %v, want %v", gotTLS, tt.serverTLS)
			}
		})
	}
}
