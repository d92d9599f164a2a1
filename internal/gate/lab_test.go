package gate

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestLabUpstreams puts the gate in front of lab servers the scanner knows:
// a 2026-07-28-only server, and an OAuth-protected one reached with the
// gate's own credential (the client's token is never forwarded).
func TestLabUpstreams(t *testing.T) {
	pol := &Policy{Rules: []Rule{{Effect: Allow, Kinds: []Kind{KindTool}, Names: []string{lab.ToolQueryDatabase}}}}
	tests := []struct {
		kind    lab.Kind
		version string
	}{
		{lab.KindModern, lab.ModernProtocolVersion},
		{lab.KindOAuth, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			s, err := lab.Start(t.Context(), tt.kind, "127.0.0.1:0", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			route := Route{Upstream: s.URL, Authenticators: []Authenticator{testPrincipals}, Policy: pol}
			if s.BearerToken != "" {
				route.UpstreamHeader = http.Header{"Authorization": {"Bearer " + s.BearerToken}}
			}
			g, err := New(Options{Routes: []Route{route}})
			if err != nil {
				t.Fatal(err)
			}
			gs := newLoopbackServer(t, g.Handler())
			client := mcp.NewClient(&mcp.Implementation{Name: "gate-lab-test", Version: "0"}, nil)
			var sopts *mcp.ClientSessionOptions
			if tt.version != "" {
				sopts = &mcp.ClientSessionOptions{ProtocolVersion: tt.version}
			}
			cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: gs + "/mcp", HTTPClient: clientFor("alice-token"), MaxRetries: -1}, sopts)
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer cs.Close()
			res, err := cs.ListTools(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
			}
			if !slices.Equal(names, []string{lab.ToolQueryDatabase}) {
				t.Errorf("tools = %v, want only %s (lab lists %v)", names, lab.ToolQueryDatabase, s.Tools)
			}
			_, err = cs.CallTool(t.Context(), &mcp.CallToolParams{Name: lab.ToolRunShellCommand, Arguments: map[string]any{"command": "id"}})
			if err == nil || !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("denied tool: %v", err)
			}
		})
	}
}
