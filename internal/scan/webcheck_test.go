package scan_test

import (
	"crypto/tls"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// TestInteropOriginHost runs the Origin and Host checks against official-SDK
// servers on loopback: as shipped, with the SDK's DNS-rebinding protection
// switched off, and behind net/http's cross-origin protection.
func TestInteropOriginHost(t *testing.T) {
	t.Parallel()
	noRebindingProtection := &lab.Options{DisableLocalhostProtection: true}
	tests := []struct {
		name     string
		start    func(t *testing.T) (addr, path string)
		origin   string
		host     string
		findings []string
		requests int64 // with the endpoint's path as the only path
	}{
		{
			name: "streamable, SDK default",
			start: func(t *testing.T) (string, string) {
				s := startLab(t, lab.KindOpenStreamable, nil)
				return s.Addr, lab.DefaultPath
			},
			origin: sdkOrigin, host: sdkHost,
			findings: []string{"MCPW-001/high", "MCPW-009/high"},
			// discover, initialize, initialized, four lists, DELETE;
			// the Origin check's initialize and its DELETE; the Host
			// check's initialize (403).
			requests: 8 + 2 + 1,
		},
		{
			name: "streamable, localhost protection off",
			start: func(t *testing.T) (string, string) {
				s := startLab(t, lab.KindOpenStreamable, noRebindingProtection)
				return s.Addr, lab.DefaultPath
			},
			origin: sdkOrigin, host: "validated=false status=200",
			findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-010/medium"},
			// Both checks open a session and delete it.
			requests: 8 + 2 + 2,
		},
		{
			name: "stateless, localhost protection off",
			start: func(t *testing.T) (string, string) {
				s := startLab(t, lab.KindOpenStateless, noRebindingProtection)
				return s.Addr, lab.DefaultPath
			},
			origin: sdkOrigin, host: "validated=false status=200",
			findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-010/medium"},
			// discover, four lists; one server/discover per check.
			requests: 5 + 1 + 1,
		},
		{
			name: "sse, localhost protection off",
			start: func(t *testing.T) (string, string) {
				s := startLab(t, lab.KindOpenSSE, noRebindingProtection)
				return s.Addr, lab.SSEPath
			},
			origin: sdkOrigin, host: "validated=false status=200",
			findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-010/medium", "MCPW-004/low"},
			// discover and initialize (405 and 400 from the SSE
			// handler), the GET of the stream, initialize,
			// initialized, four lists; one GET per check.
			requests: 9 + 1 + 1,
		},
		{
			name: "streamable behind http.CrossOriginProtection",
			start: func(t *testing.T) (string, string) {
				h := http.NewCrossOriginProtection().Handler(streamable(sdkServer(t, "protected")))
				return serve(t, h), "/mcp"
			},
			origin: "validated=true status=403", host: sdkHost,
			// Neither web finding: only the exposure itself.
			findings: []string{"MCPW-001/high"},
			// discover, initialize, initialized, tools/list (nothing else
			// advertised), DELETE; one initialize per check.
			requests: 5 + 1 + 1,
		},
		{
			name: "sse behind http.CrossOriginProtection",
			start: func(t *testing.T) (string, string) {
				s := sdkServer(t, "protected")
				h := http.NewCrossOriginProtection().Handler(mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil))
				return serve(t, h), "/sse"
			},
			// GET is a safe method: cross-origin protection lets the
			// stream open with any Origin (it guards the POSTs).
			origin: sdkOrigin, host: sdkHost,
			findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-004/low"},
			requests: 6 + 1 + 1,
		},
		{
			name: "credentialed CORS reflecting the Origin",
			start: func(t *testing.T) (string, string) {
				inner := streamable(sdkServer(t, "reflect"))
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if o := r.Header.Get("Origin"); o != "" {
						w.Header().Set("Access-Control-Allow-Origin", o)
						w.Header().Set("Access-Control-Allow-Credentials", "true")
					}
					inner.ServeHTTP(w, r)
				})
				return serve(t, h), "/mcp"
			},
			origin: sdkOrigin + " allow_origin=http://rebind.invalid allow_credentials", host: sdkHost,
			findings: []string{"MCPW-001/high", "MCPW-009/high", "MCPW-012/high"},
			requests: 5 + 2 + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, path := tt.start(t)
			h, p := hostPort(t, addr)
			eps, sum := scanAll(t, scan.Options{}, target.Service{Host: h, Port: p, Scheme: "http", Paths: []string{path}})
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1", len(eps))
			}
			got := viewOf(eps[0])
			if got.Status != result.StatusMCP || got.Confidence != "confirmed" || got.Origin != tt.origin || got.Host != tt.host ||
				!slices.Equal(got.Findings, tt.findings) {
				t.Errorf("status %s (%s), origin %q, host %q, findings %q;\nwant mcp (confirmed), origin %q, host %q, findings %q",
					got.Status, got.Confidence, got.Origin, got.Host, got.Findings, tt.origin, tt.host, tt.findings)
			}
			if sum.Requests != tt.requests {
				t.Errorf("%d requests, want %d", sum.Requests, tt.requests)
			}
		})
	}
}

// TestInteropWeakTLS scans SDK servers whose TLS configuration accepts TLS
// 1.0 and up, TLS 1.1 and up, and TLS 1.2 and up: the extra handshakes find
// exactly the deprecated versions each accepts, and are not counted as
// requests.
func TestInteropWeakTLS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		min      uint16
		weak     []string
		findings []string
	}{
		{"min TLS 1.0", tls.VersionTLS10, []string{"TLS 1.0", "TLS 1.1"},
			[]string{"MCPW-001/high", "MCPW-009/high", "MCPW-015/medium", "MCPW-016/medium", "MCPW-017/medium"}},
		{"min TLS 1.1", tls.VersionTLS11, []string{"TLS 1.1"},
			[]string{"MCPW-001/high", "MCPW-009/high", "MCPW-015/medium", "MCPW-016/medium", "MCPW-017/medium"}},
		{"min TLS 1.2", tls.VersionTLS12, nil,
			[]string{"MCPW-001/high", "MCPW-009/high", "MCPW-015/medium", "MCPW-016/medium"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startTLS(t, nextIP(), streamable(sdkServer(t, "tls")), &tls.Config{MinVersion: tt.min})
			addr := strings.TrimPrefix(ts.URL, "https://")
			h, p := hostPort(t, addr)
			eps, sum := scanAll(t, scan.Options{}, target.Service{Host: h, Port: p, Scheme: "https", Paths: []string{"/mcp"}})
			if len(eps) != 1 || eps[0].TLS == nil {
				t.Fatalf("records %+v, want one with TLS info", eps)
			}
			ep := eps[0]
			if !slices.Equal(ep.TLS.WeakVersions, tt.weak) {
				t.Errorf("weak_versions %q, want %q", ep.TLS.WeakVersions, tt.weak)
			}
			if ep.TLS.Version != "TLS 1.3" {
				t.Errorf("version %q: the main connection should negotiate TLS 1.3", ep.TLS.Version)
			}
			if got := viewOf(ep).Findings; !slices.Equal(got, tt.findings) {
				t.Errorf("findings %q, want %q", got, tt.findings)
			}
			for _, f := range ep.Findings {
				if f.Rule == "MCPW-017" && f.Evidence != "the server completed handshakes limited to "+strings.Join(tt.weak, " and ") {
					t.Errorf("MCPW-017 evidence %q", f.Evidence)
				}
			}
			// The handshakes are connections, not requests: five for
			// the scan (discover, initialize, initialized, tools/list,
			// DELETE), two for the Origin check (initialize, DELETE),
			// one for the Host check (403).
			if sum.Requests != 5+2+1 {
				t.Errorf("%d requests, want 8", sum.Requests)
			}
		})
	}
}
