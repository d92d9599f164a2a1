package gate

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioEnv makes the test binary act as a stdio MCP server (see TestMain).
const stdioEnv = "MCPW_GATE_TEST_STDIO"

func TestMain(m *testing.M) {
	switch os.Getenv(stdioEnv) {
	case "serve":
		srv := mcp.NewServer(&mcp.Implementation{Name: "stdio-test", Version: "1"}, nil)
		for _, name := range []string{"echo", "run_shell_command", "whoami"} {
			mcp.AddTool(srv, &mcp.Tool{Name: name}, func(ctx context.Context, req *mcp.CallToolRequest, in struct {
				Text string `json:"text"`
			}) (*mcp.CallToolResult, any, error) {
				os.Stderr.WriteString("called " + name + "\n")
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + ":" + in.Text + ":" + strings.Repeat("", 0)}}}, nil, nil
			})
		}
		if err := srv.Run(context.Background(), &mcp.StdioTransport{}); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	case "crash":
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func startStdioGate(t *testing.T, mode string) (*testGate, *StdioUpstream) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	su, err := NewStdioUpstream(StdioOptions{Command: []string{exe, "-test.run=^$"}, Env: []string{stdioEnv + "=" + mode}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close() })
	tg := startGate(t, &upstream{url: StdioUpstreamURL}, func(o *Options) {
		o.Routes[0].Transport = su.Transport()
		o.Routes[0].UpstreamHeader = nil
	})
	return tg, su
}

// TestStdioUpstream: two SDK clients through the gate to a spawned stdio
// server, each with its own child (same JSON-RPC ids, no crosstalk),
// filtered lists, a denied tool, and a new child after DELETE.
func TestStdioUpstream(t *testing.T) {
	tg, su := startStdioGate(t, "serve")
	var wg sync.WaitGroup
	for _, tok := range []string{"alice-token", "bob-token"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := t.Context()
			client := mcp.NewClient(&mcp.Implementation{Name: "stdio-client", Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.url, HTTPClient: clientFor(tok), MaxRetries: -1}, nil)
			if err != nil {
				t.Errorf("%s: connect: %v", tok, err)
				return
			}
			defer cs.Close()
			res, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Errorf("%s: list: %v", tok, err)
				return
			}
			var names []string
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
			}
			if !slices.Equal(names, []string{"echo"}) {
				t.Errorf("%s: tools %v, want [echo]", tok, names)
			}
			for i := range 5 {
				out, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": tok}})
				if err != nil {
					t.Errorf("%s: call %d: %v", tok, i, err)
					return
				}
				if got := out.Content[0].(*mcp.TextContent).Text; got != "echo:"+tok+":" {
					t.Errorf("%s: got %q (crosstalk?)", tok, got)
				}
			}
			if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_shell_command"}); err == nil || !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("%s: denied tool: %v", tok, err)
			}
		}()
	}
	wg.Wait()
	// Both sessions were closed by the clients (DELETE): no child left.
	deadline := time.Now().Add(5 * time.Second)
	for {
		su.mu.Lock()
		n := len(su.sessions)
		su.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d stdio children still running after the clients left", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStdioBackoff: a server that dies at once makes the next start wait.
func TestStdioBackoff(t *testing.T) {
	tg, _ := startStdioGate(t, "crash")
	alice := map[string]string{"Authorization": "Bearer alice-token"}
	status, _, body := send(t, "POST", tg.url, alice, "", initBody)
	if status != 200 || !strings.Contains(string(body), "stdio server exited") {
		t.Errorf("first start: %d %s", status, body)
	}
	status, hdr, _ := send(t, "POST", tg.url, alice, "", initBody)
	if status != 503 || hdr.Get("Retry-After") == "" {
		t.Errorf("restart during backoff: %d Retry-After %q, want 503", status, hdr.Get("Retry-After"))
	}
}
