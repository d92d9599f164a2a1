package exposure

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		svc    Service
		want   Class
		signal string // a signal that must be among the verdict's
	}{
		{
			name: "fastmcp legacy sse endpoint event",
			svc: Service{Port: 8000, HTTP: &HTTPBanner{Status: 200, Path: "/sse", Server: "uvicorn",
				Headers: hdr("Content-Type", "text/event-stream; charset=utf-8"),
				Body:    "event: endpoint\r\ndata: /messages/?session_id=9f1c2e7ab4d54e0e8e3f5a1b2c3d4e5f\r\n\r\n"}},
			want: LikelyMCP, signal: "sse endpoint event",
		},
		{
			name: "typescript sdk sse endpoint event in raw banner",
			svc:  Service{Port: 3001, Banner: "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\nevent: endpoint\ndata: /message?sessionId=3f0e0c5e-8a43-4c0a-9d62-0e1b7f8a9c21\n\n"},
			want: LikelyMCP, signal: "sse endpoint event",
		},
		{
			name: "streamable initialize result",
			svc: Service{Port: 8080, HTTP: &HTTPBanner{Status: 200, Path: "/mcp", Headers: hdr("Content-Type", "application/json", "Mcp-Session-Id", "5b0f2c3a"),
				Body: `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},"serverInfo":{"name":"acme-ops","version":"1.4.2"}}}`}},
			want: LikelyMCP, signal: "initialize result (serverInfo, protocolVersion)",
		},
		{
			name: "session header alone",
			svc:  Service{Port: 8080, HTTP: &HTTPBanner{Status: 200, Path: "/", Headers: hdr("Mcp-Session-Id", "abc")}},
			want: LikelyMCP, signal: "mcp-session-id header",
		},
		{
			name: "typescript example without session",
			svc: Service{Port: 3000, HTTP: &HTTPBanner{Status: 400, Path: "/mcp", Headers: hdr("Content-Type", "application/json; charset=utf-8", "X-Powered-By", "Express"),
				Body: `{"jsonrpc":"2.0","error":{"code":-32000,"message":"Bad Request: No valid session ID provided"},"id":null}`}},
			want: LikelyMCP, signal: "mcp sdk error: no valid session id provided",
		},
		{
			name: "oauth protected mcp",
			svc: Service{Port: 443, TLS: true, HTTP: &HTTPBanner{Status: 401, Path: "/",
				Headers: hdr("Www-Authenticate", `Bearer resource_metadata="https://tools.example.com/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`)}},
			want: LikelyMCP, signal: "mcp authorization challenge",
		},
		{
			name: "oauth resource server, not obviously mcp",
			svc: Service{Port: 443, HTTP: &HTTPBanner{Status: 401, Path: "/api",
				Headers: hdr("Www-Authenticate", `Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"`)}},
			want: PossiblyMCP, signal: "oauth resource_metadata challenge",
		},
		{
			name: "cors exposes the session header",
			svc:  Service{Port: 8000, HTTP: &HTTPBanner{Status: 404, Path: "/", Headers: hdr("Access-Control-Expose-Headers", "Mcp-Session-Id")}},
			want: LikelyMCP, signal: "cors names mcp-session-id",
		},
		{
			name: "mcp inspector ui",
			svc:  Service{Port: 6274, HTTP: &HTTPBanner{Status: 200, Path: "/", Title: "MCP Inspector", Body: "<!doctype html><html><head><title>MCP Inspector</title></head></html>"}},
			want: LikelyMCP, signal: "mcp inspector ui",
		},
		{
			name: "2026 discover result",
			svc: Service{Port: 8000, HTTP: &HTTPBanner{Status: 200, Path: "/mcp",
				Body: `{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2026-07-28"]}}`}},
			want: LikelyMCP, signal: "server/discover result",
		},
		{
			name: "405 on /mcp",
			svc:  Service{Port: 8000, HTTP: &HTTPBanner{Status: 405, Path: "/mcp", Headers: hdr("Allow", "POST")}},
			want: PossiblyMCP, signal: "mcp path /mcp",
		},
		{
			name: "plain json-rpc api",
			svc:  Service{Port: 8545, HTTP: &HTTPBanner{Status: 200, Path: "/", Body: `{"jsonrpc":"2.0","id":1,"result":"0x1"}`}},
			want: PossiblyMCP, signal: "json-rpc 2.0 body",
		},
		{
			name: "event stream without endpoint event",
			svc:  Service{Port: 8080, HTTP: &HTTPBanner{Status: 200, Path: "/events", Headers: hdr("Content-Type", "text/event-stream"), Body: "data: {\"tick\":1}\n\n"}},
			want: PossiblyMCP, signal: "text/event-stream",
		},
		{
			name: "known server name",
			svc:  Service{Port: 8096, Product: "supergateway", HTTP: &HTTPBanner{Status: 404, Path: "/"}},
			want: PossiblyMCP, signal: "known mcp server name supergateway",
		},
		{
			name: "censys hit matched by query only",
			svc:  Service{Port: 8000, QueryMatch: "MCP text in the HTTP response (Censys search)", HTTP: &HTTPBanner{Path: "/"}},
			want: PossiblyMCP, signal: "index search matched: MCP text in the HTTP response (Censys search)",
		},
		{
			name: "nginx welcome page",
			svc: Service{Port: 80, HTTP: &HTTPBanner{Status: 200, Path: "/", Title: "Welcome to nginx!", Server: "nginx/1.24.0",
				Headers: hdr("Content-Type", "text/html"), Body: "<html><head><title>Welcome to nginx!</title></head><body>protocolVersion</body></html>"}},
			want: NotMCP,
		},
		{
			name: "ssh",
			svc:  Service{Port: 22, Banner: "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\nKey type: ssh-ed25519\n"},
			want: NotMCP,
		},
		{
			name: "empty",
			svc:  Service{Port: 1},
			want: NotMCP,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.svc.IP = netip.MustParseAddr("198.51.100.7")
			v := Classify(&tt.svc)
			if v.Class != tt.want {
				t.Errorf("class %s, want %s (signals %q)", v.Class, tt.want, v.Signals)
			}
			if tt.signal != "" && !slices.Contains(v.Signals, tt.signal) {
				t.Errorf("signals %q lack %q", v.Signals, tt.signal)
			}
			if tt.want == NotMCP && len(v.Signals) != 0 {
				t.Errorf("not-mcp with signals %q", v.Signals)
			}
		})
	}
}

func TestClassifyLargeBanner(t *testing.T) {
	// A signal beyond the 64 KiB the classifier reads is not seen.
	body := strings.Repeat("x", maxClassifyBytes) + `{"jsonrpc":"2.0","result":{"protocolVersion":"2025-06-18","serverInfo":{}}}`
	v := Classify(&Service{Port: 80, HTTP: &HTTPBanner{Path: "/", Body: body}})
	if v.Class != NotMCP {
		t.Errorf("class %s, want not-mcp", v.Class)
	}
}

func FuzzClassify(f *testing.F) {
	f.Add("/sse", "text/event-stream", "event: endpoint\ndata: /messages/?session_id=1\n", "", "uvicorn")
	f.Add("/mcp", "application/json", `{"jsonrpc":"2.0","result":{"protocolVersion":"2025-03-26","serverInfo":{"name":"x"}}}`, "", "")
	f.Add("/", "", "", "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer resource_metadata=\"https://h/.well-known/oauth-protected-resource/mcp\"\r\n\r\n", "")
	f.Add("/?a#b", "text/html", "<title>MCP Inspector</title>", "SSH-2.0-x", "FastMCP")
	f.Fuzz(func(t *testing.T, path, ctype, body, banner, product string) {
		s := &Service{Port: 80, Banner: banner, Product: product, HTTP: &HTTPBanner{Path: path, Body: body, Headers: hdr("Content-Type", ctype)}}
		v := Classify(s)
		switch v.Class {
		case LikelyMCP, PossiblyMCP:
			if len(v.Signals) == 0 {
				t.Fatalf("class %s without signals", v.Class)
			}
		case NotMCP:
			if len(v.Signals) != 0 {
				t.Fatalf("not-mcp with signals %q", v.Signals)
			}
		default:
			t.Fatalf("unknown class %q", v.Class)
		}
		if again := Classify(s); again.Class != v.Class {
			t.Fatalf("not deterministic: %s then %s", v.Class, again.Class)
		}
	})
}
