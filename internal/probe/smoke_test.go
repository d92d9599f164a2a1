package probe

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpwarden/mcpwarden/internal/target"
)

type qin struct {
	SQL string `json:"sql" jsonschema:"the query"`
}

func sdkServer(t *testing.T, mk func(*mcp.Server) http.Handler) (string, int) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "smoke", Version: "1.2.3"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "query_database", Description: "run sql"}, func(ctx context.Context, r *mcp.CallToolRequest, in qin) (*mcp.CallToolResult, any, error) {
		t.Error("the prober called a tool")
		return nil, nil, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mk(s)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "127.0.0.1", ln.Addr().(*net.TCPAddr).Port
}

func TestSmoke(t *testing.T) {
	for name, mk := range map[string]func(*mcp.Server) http.Handler{
		"stateful": func(s *mcp.Server) http.Handler {
			return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
		},
		"stateless": func(s *mcp.Server) http.Handler {
			return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
		},
		"sse": func(s *mcp.Server) http.Handler {
			return mcp.NewSSEHandler(func(*http.Request) *mcp.Server { return s }, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			host, port := sdkServer(t, mk)
			p := New(Options{})
			eps := p.Probe(context.Background(), target.Service{Host: host, Port: port, Paths: []string{"/mcp"}})
			b, _ := json.MarshalIndent(eps, "", " ")
			t.Logf("%s", b)
			t.Logf("requests: %d", p.Requests())
		})
	}
}
