package gate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// crashEnv carries the audit log path to the child of TestGateKill9.
const crashEnv = "MCPWARDEN_GATE_CRASH_AUDIT"

// echoHandler is a go-sdk MCP server with one tool, echo, that answers
// "echo:" followed by its text argument. With stateless set it serves
// streamable HTTP without sessions; otherwise with sessions. Both answer
// with JSON bodies.
func echoHandler(stateless bool) http.Handler {
	srv := mcp.NewServer(&mcp.Implementation{Name: "gate-echo", Version: "1.0.0"}, nil)
	type textIn struct {
		Text string `json:"text"`
	}
	mcp.AddTool(srv, &mcp.Tool{Name: "echo", Description: "echoes its text"},
		func(ctx context.Context, req *mcp.CallToolRequest, in textIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo:" + in.Text}}}, nil, nil
		})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: stateless, JSONResponse: true})
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	return mux
}

// rpcClient sends raw JSON-RPC POSTs to one MCP endpoint, with an
// optional bearer token and session id.
type rpcClient struct {
	hc      *http.Client
	url     string
	token   string
	session string
}

// post sends one JSON-RPC message and returns the status and the whole
// body; it records the session id the server hands out.
func (c *rpcClient) post(ctx context.Context, msg string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(msg))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.session != "" {
		req.Header.Set("Mcp-Session-Id", c.session)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, err
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		c.session = sid
	}
	return resp.StatusCode, b, nil
}

// initialize opens a session (initialize, then notifications/initialized).
func (c *rpcClient) initialize(ctx context.Context) error {
	st, b, err := c.post(ctx, `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"gate-bench","version":"1"}}}`)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if st != http.StatusOK || c.session == "" {
		return fmt.Errorf("initialize: status %d, session %q: %.200s", st, c.session, b)
	}
	st, b, err = c.post(ctx, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if err != nil {
		return fmt.Errorf("initialized: %w", err)
	}
	if st != http.StatusAccepted {
		return fmt.Errorf("initialized: status %d: %.200s", st, b)
	}
	return nil
}

// callEcho sends tools/call echo with id and text and checks that the
// response is that call's complete, correct result.
func (c *rpcClient) callEcho(ctx context.Context, id, text string) error {
	idJSON, _ := json.Marshal(id)
	textJSON, _ := json.Marshal(text)
	st, b, err := c.post(ctx, `{"jsonrpc":"2.0","id":`+string(idJSON)+`,"method":"tools/call","params":{"name":"echo","arguments":{"text":`+string(textJSON)+`}}}`)
	if err != nil {
		return err
	}
	if st != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", st, b)
	}
	var resp struct {
		ID     string `json:"id"`
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return fmt.Errorf("response %.200q: %w", b, err)
	}
	if resp.ID != id || len(resp.Result.Content) != 1 || resp.Result.Content[0].Text != "echo:"+text {
		return fmt.Errorf("wrong response for %s: %.200s", id, b)
	}
	return nil
}

// TestGateCrashChild is the child of TestGateKill9: it serves a gate with
// a JSONL audit log (durability from crashDurEnv) in front of an echo upstream on
// 127.0.0.1, prints the gate's MCP URL and serves until it is killed (or
// for at most 30 s, should the parent be lost).
func TestGateCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestGateKill9")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(3)
	}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go func() { _ = http.Serve(upLn, echoHandler(true)) }()
	dur, err := audit.ParseDurability(os.Getenv(crashDurEnv))
	if err != nil {
		fail(err)
	}
	sink, err := audit.OpenWith("jsonl:"+path, &audit.Options{Durability: dur})
	if err != nil {
		fail(err)
	}
	g, err := New(Options{
		Routes: []Route{{
			Upstream:       "http://" + upLn.Addr().String() + "/mcp",
			Authenticators: []Authenticator{testPrincipals},
			Policy:         testPolicy,
		}},
		Audit: sink,
	})
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Printf("http://%s%s\n", ln.Addr(), g.Paths()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Serve(ctx, ln, nil); err != nil {
		fail(err)
	}
	os.Exit(0)
}

// crashDurEnv carries the audit durability to TestGateCrashChild.
const crashDurEnv = "MCPW_GATE_CRASH_DURABILITY"

// TestGateKill9 kills a gate (SIGKILL) while 8 clients call a tool through
// it, with the audit log in sync mode and in batch mode (records written
// to the kernel before the response, synced every 100 ms: a process crash
// loses nothing either), and checks that every response a client received
// in full has its audit record: same JSON-RPC id, same arguments digest,
// decision allow.
func TestGateKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	for _, dur := range []audit.Durability{audit.DurabilitySync, audit.DurabilityBatch} {
		t.Run(string(dur), func(t *testing.T) { gateKill9(t, dur) })
	}
}

func gateKill9(t *testing.T, dur audit.Durability) {
	logPath := filepath.Join(t.TempDir(), "audit.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGateCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+logPath, crashDurEnv+"="+string(dur))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			urlc <- sc.Text()
		}
		close(urlc)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var gateURL string
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatalf("child printed no URL; stderr: %s", stderr.String())
		}
		gateURL = u
	case <-time.After(10 * time.Second):
		t.Fatal("child did not start in 10 s")
	}
	if !strings.HasPrefix(gateURL, "http://127.0.0.1:") {
		t.Fatalf("child printed %q, not a loopback URL", gateURL)
	}

	const workers = 8
	const killAfter = 400 // complete responses before the kill
	type call struct{ id, text string }
	var (
		mu       sync.Mutex
		received []call
		count    atomic.Int64
		killed   atomic.Bool
		failures atomic.Int64 // errors before the kill
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			c := &rpcClient{hc: &http.Client{Transport: tr}, url: gateURL, token: "alice-token"}
			for i := 0; ctx.Err() == nil; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				text := fmt.Sprintf("payload %d/%d", w, i)
				if err := c.callEcho(ctx, id, text); err != nil {
					if killed.Load() {
						return // the gate is gone
					}
					if failures.Add(1) > 5 {
						t.Errorf("call %s: %v", id, err)
						cancel()
						return
					}
					continue
				}
				mu.Lock()
				received = append(received, call{id, text})
				mu.Unlock()
				if count.Add(1) == killAfter {
					if err := cmd.Process.Kill(); err != nil { // SIGKILL
						t.Errorf("kill: %v", err)
					}
					killed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if !killed.Load() {
		t.Fatalf("gate not killed: %d responses before the deadline; child stderr: %s", count.Load(), stderr.String())
	}
	_ = cmd.Wait()
	if failures.Load() > 0 {
		t.Errorf("%d calls failed before the kill", failures.Load())
	}

	type stored struct{ digest, decision, method string }
	records := map[string]stored{}
	torn := 0
	for r, err := range audit.Query(context.Background(), "jsonl:"+logPath, audit.Filter{}) {
		if err != nil {
			torn++
			t.Logf("audit reader: %v", err)
			continue
		}
		var id string
		if json.Unmarshal([]byte(r.RPCID), &id) != nil {
			continue
		}
		records[id] = stored{r.ArgsDigest, r.Decision, r.Method}
	}
	if torn > 1 {
		// Only the record being written at the kill may be torn, and it
		// was never acknowledged.
		t.Errorf("%d unreadable records after kill -9", torn)
	}
	for _, c := range received {
		rec, ok := records[c.id]
		if !ok {
			t.Errorf("response %s was received but has no audit record", c.id)
			continue
		}
		want := audit.Digest(json.RawMessage(`{"text":` + mustJSON(t, c.text) + `}`))
		if rec.method != "tools/call" || rec.decision != "allow" || rec.digest != want {
			t.Errorf("record of %s: method %q decision %q digest %q, want tools/call allow %q", c.id, rec.method, rec.decision, rec.digest, want)
		}
	}
	t.Logf("%d responses received, %d audit records after kill -9", len(received), len(records))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
