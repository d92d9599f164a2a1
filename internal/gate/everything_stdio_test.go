package gate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// everythingStdioTools are the tools the pinned TypeScript reference server
// (@modelcontextprotocol/server-everything, testdata/npm) lists to the Go
// SDK client: those internal/scan/interop_test.go lists for a client that
// declares no capabilities, plus get-roots-list, since the Go SDK client
// declares the roots capability.
var everythingStdioTools = []string{
	"echo", "get-annotated-message", "get-env", "get-resource-links", "get-resource-reference", "get-roots-list",
	"get-structured-content", "get-sum", "get-tiny-image", "gzip-file-as-resource", "simulate-research-query",
	"toggle-simulated-logging", "toggle-subscriber-updates", "trigger-long-running-operation",
}

// everythingCommand returns the argv that runs the reference server in
// stdio mode, or skips the test (fails it when CI=true) when node or the
// npm packages are missing.
func everythingCommand(t *testing.T) []string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: run scripts/setup-npm.sh", what)
		}
		t.Skipf("%s: run scripts/setup-npm.sh", what)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := ""
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
	npm := filepath.Join(root, "testdata", "npm")
	entry := filepath.Join(npm, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js")
	if _, err := os.Stat(entry); err != nil {
		missing(fmt.Sprintf("server-everything is not installed (%v)", err))
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(fmt.Sprintf("node not found (%v)", err))
	}
	// The preload refuses any listen other than loopback; in stdio mode
	// the server should not listen at all.
	return []string{node, "--require", filepath.Join(npm, "loopback-preload.cjs"), entry, "stdio"}
}

// TestEverythingStdioThroughGate spawns the reference server as a stdio
// upstream and drives it through the gate with the official Go SDK client:
// the tools are listed with the denied one filtered out, the denied tool is
// refused, and two concurrent sessions each get a child process of their
// own with no crosstalk between their JSON-RPC ids.
func TestEverythingStdioThroughGate(t *testing.T) {
	argv := everythingCommand(t)
	su, err := NewStdioUpstream(StdioOptions{Command: argv, Env: []string{"MCPW_BIND_HOST=127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close() })
	pol := &Policy{Rules: []Rule{{Effect: Deny, Kinds: []Kind{KindTool}, Names: []string{"get-env"}}}, Default: Allow}
	tg := startGate(t, &upstream{url: StdioUpstreamURL}, func(o *Options) {
		o.Routes[0].Transport = su.Transport()
		o.Routes[0].UpstreamHeader = nil
		o.Routes[0].Policy = pol
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	want := slices.DeleteFunc(slices.Clone(everythingStdioTools), func(s string) bool { return s == "get-env" })
	tokens := []string{"alice-token", "bob-token"}
	sessions := make([]*mcp.ClientSession, len(tokens))
	for i, tok := range tokens {
		client := mcp.NewClient(&mcp.Implementation{Name: "everything-stdio-" + tok, Version: "0"}, nil)
		cs, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: tg.url, HTTPClient: clientFor(tok), MaxRetries: -1}, nil)
		if err != nil {
			t.Fatalf("%s: connect through the gate: %v", tok, err)
		}
		defer cs.Close()
		sessions[i] = cs
	}

	// One child per session.
	su.mu.Lock()
	pids := map[int]bool{}
	for _, c := range su.sessions {
		pids[c.cmd.Process.Pid] = true
	}
	su.mu.Unlock()
	if len(pids) != len(tokens) {
		t.Fatalf("%d distinct child processes for %d sessions", len(pids), len(tokens))
	}

	var wg sync.WaitGroup
	for i, cs := range sessions {
		tok := tokens[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Errorf("%s: tools/list: %v", tok, err)
				return
			}
			var names []string
			for _, tl := range res.Tools {
				names = append(names, tl.Name)
			}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Errorf("%s: tools = %v\nwant %v", tok, names, want)
			}
			// Both sessions use the same JSON-RPC ids at the same time; each
			// must get back only its own answers.
			for n := range 10 {
				msg := fmt.Sprintf("%s-%d", tok, n)
				out, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": msg}})
				if err != nil {
					t.Errorf("%s: echo %d: %v", tok, n, err)
					return
				}
				if len(out.Content) != 1 {
					t.Errorf("%s: echo %d: %d contents", tok, n, len(out.Content))
					return
				}
				if got, ok := out.Content[0].(*mcp.TextContent); !ok || got.Text != "Echo: "+msg {
					t.Errorf("%s: echo %d = %#v, want %q (crosstalk?)", tok, n, out.Content[0], "Echo: "+msg)
				}
			}
			sum, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "get-sum", Arguments: map[string]any{"a": 2, "b": 3}})
			if err != nil || sum.IsError || len(sum.Content) == 0 || !strings.Contains(sum.Content[0].(*mcp.TextContent).Text, "5") {
				t.Errorf("%s: get-sum: %v %+v", tok, err, sum)
			}
			_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get-env"})
			if err == nil || !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("%s: denied get-env: %v", tok, err)
			}
		}()
	}
	wg.Wait()

	// The denied calls were refused by the gate and audited as such.
	denied := 0
	for _, r := range tg.sink.records() {
		if r.Method == "tools/call" && r.Name == "get-env" {
			if r.Decision != "deny" {
				t.Errorf("get-env audited with decision %q", r.Decision)
			}
			denied++
		}
	}
	if denied != len(tokens) {
		t.Errorf("%d get-env audit records, want %d", denied, len(tokens))
	}

	// Closing the sessions (DELETE) ends their children.
	for _, cs := range sessions {
		cs.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		su.mu.Lock()
		n := len(su.sessions)
		su.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d server-everything children still running after the clients left", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
