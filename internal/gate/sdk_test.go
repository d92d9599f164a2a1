package gate

import (
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestSDKClientThroughGate runs the official Go SDK client through the gate
// to real go-sdk upstreams of every transport: connect, list (filtered),
// call an allowed tool, be refused a denied one that never reaches the
// upstream, and never leak the client's credential upstream.
func TestSDKClientThroughGate(t *testing.T) {
	tests := []struct {
		name     string
		upstream string
		version  string // client protocol version ("" = SDK default)
	}{
		{"streamable stateful", upStateful, ""},
		{"streamable stateless", upStateless, ""},
		{"legacy sse", upSSE, ""},
		{"2026-07-28 stateless", upStateless, "2026-07-28"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			u := startUpstream(t, tt.upstream)
			tg := startGate(t, u, nil)
			client := mcp.NewClient(&mcp.Implementation{Name: "gate-test-client", Version: "0.0.1"}, nil)
			var tr mcp.Transport
			if tt.upstream == upSSE {
				tr = &mcp.SSEClientTransport{Endpoint: tg.url, HTTPClient: clientFor("alice-token")}
			} else {
				tr = &mcp.StreamableClientTransport{Endpoint: tg.url, HTTPClient: clientFor("alice-token"), MaxRetries: -1}
			}
			var sopts *mcp.ClientSessionOptions
			if tt.version != "" {
				sopts = &mcp.ClientSessionOptions{ProtocolVersion: tt.version}
			}
			cs, err := client.Connect(ctx, tr, sopts)
			if err != nil {
				t.Fatalf("connect through the gate: %v", err)
			}
			defer cs.Close()

			tools, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			var names []string
			for _, tl := range tools.Tools {
				names = append(names, tl.Name)
			}
			if want := []string{"echo"}; !slices.Equal(names, want) {
				t.Errorf("tools/list through the gate = %v, want %v (filtered)", names, want)
			}
			res, err := cs.ListResources(ctx, nil)
			if err != nil {
				t.Fatalf("resources/list: %v", err)
			}
			if len(res.Resources) != 1 || res.Resources[0].URI != "file:///public.txt" {
				t.Errorf("resources/list = %+v, want only file:///public.txt", res.Resources)
			}
			prompts, err := cs.ListPrompts(ctx, nil)
			if err != nil {
				t.Fatalf("prompts/list: %v", err)
			}
			if len(prompts.Prompts) != 1 || prompts.Prompts[0].Name != "greet" {
				t.Errorf("prompts/list = %+v, want only greet", prompts.Prompts)
			}

			out, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "hi"}})
			if err != nil {
				t.Fatalf("call echo: %v", err)
			}
			if tc, ok := out.Content[0].(*mcp.TextContent); !ok || tc.Text != "echo:hi" {
				t.Errorf("echo result = %+v", out.Content)
			}
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_shell_command", Arguments: map[string]any{"text": "id"}})
			if err == nil || !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("denied tool: err = %v, want a forbidden JSON-RPC error", err)
			}
			if n := u.toolCalls("run_shell_command"); n != 0 {
				t.Errorf("upstream ran the denied tool %d times", n)
			}
			if n := u.toolCalls("echo"); n != 1 {
				t.Errorf("upstream ran echo %d times, want 1", n)
			}
			if n := u.leaks.Load(); n != 0 {
				t.Errorf("%d upstream requests carried the client's Authorization/X-API-Key/Cookie", n)
			}
			u.mu.Lock()
			saw := len(u.sawAuth)
			u.mu.Unlock()
			if saw == 0 {
				t.Error("the upstream never received the configured upstream header")
			}
			// The session still works after a refusal.
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": "again"}}); err != nil {
				t.Errorf("call after a refusal: %v", err)
			}
			recs := tg.sink.records()
			var denied, allowed int
			for _, r := range recs {
				if r.Method == "tools/call" && r.Name == "run_shell_command" && r.Decision == "deny" {
					denied++
					if r.Principal != testPrincipals["alice-token"].Key() || r.ArgsDigest == "" {
						t.Errorf("deny record = %+v", r)
					}
				}
				if r.Method == "tools/call" && r.Name == "echo" && r.Decision == "allow" {
					allowed++
				}
			}
			if denied != 1 || allowed != 2 {
				t.Errorf("audit: %d deny and %d allow records for tools/call, want 1 and 2", denied, allowed)
			}
		})
	}
}
