package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func runGateCmd(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb lockedBuffer
	code := runGate(ctx, &Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}, args)
	return code, out.String(), errb.String()
}

func TestGateHelp(t *testing.T) {
	code, out, _ := runGateCmd(t, t.Context(), "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, f := range []string{"--listen", "--upstream", "--path", "--api-keys", "--jwt-issuer", "--audience", "--allow-origin",
		"--public-name", "--trusted-proxy", "--tls-cert", "--tls-key", "--self-signed", "--allow-unauthenticated",
		"--upstream-header", "--upstream-cmd", "-- CMD", "--audit", "--policy", "--rate", "--tool-rate", "--scope", "--client-ca", "--max-concurrent", "keys new", "Examples:"} {
		if !strings.Contains(out, f) {
			t.Errorf("--help does not explain %s", f)
		}
	}
}

func TestGateUsageErrors(t *testing.T) {
	dir := t.TempDir()
	badPolicy := filepath.Join(dir, "policy.json")
	os.WriteFile(badPolicy, []byte(`{"rules":[{"effect":"permit"}]}`), 0o600)
	up := "http://127.0.0.1:9/mcp"
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--upstream is required"},
		{[]string{"--upstream", "ftp://x/mcp"}, `"ftp://x/mcp"`},
		{[]string{"--upstream", up, "--listen", "nope"}, `--listen "nope"`},
		{[]string{"--upstream", up, "--listen", "0.0.0.0:0"}, "--public-name"},
		{[]string{"--upstream", up, "--listen", "0.0.0.0:0", "--public-name", "mcp.example.com"}, "refusing to listen"},
		{[]string{"--upstream", up, "--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"--upstream", up, "--policy", badPolicy}, "rules[0].effect"},
		{[]string{"--upstream", up, "--policy", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"--upstream", up, "--api-keys", filepath.Join(dir, "nokeys.txt")}, "nokeys.txt"},
		{[]string{"--upstream", up, "--upstream-header", "no colon"}, "Name: value"},
		{[]string{"--upstream", up, "--rate", "-1"}, "--rate"},
		{[]string{"--upstream", up, "--client-ca", "ca.pem"}, "--client-ca needs TLS"},
		{[]string{"--upstream", up, "--self-signed", "--client-ca", filepath.Join(dir, "noca.pem")}, "noca.pem"},
		{[]string{"--upstream", up, "--self-signed", "--tls-cert", "c", "--tls-key", "k"}, "exclude"},
		{[]string{"--upstream", up, "--audience", "https://x"}, "--jwt-issuer"},
		{[]string{"--upstream", up, "--allow-origin", "*"}, `"*"`},
		{[]string{"--upstream", up, "--trusted-proxy", "10.0.0.0/99"}, "10.0.0.0/99"},
		{[]string{"--upstream", up, "--max-body", "huge"}, "huge"},
		{[]string{"--upstream", up, "extra"}, `"extra"`},
		{[]string{"--"}, "nothing after --"},
		{[]string{"--upstream", up, "--", "cat"}, "exclude each other"},
		{[]string{"--upstream-cmd", "cat", "--", "cat"}, "not both"},
		{[]string{"--", "/nonexistent/mcp-server", "--flag"}, "/nonexistent/mcp-server"},
		{[]string{"--upstream-cmd", "  "}, "empty command"},
		{[]string{"keys", "new"}, "usage"},
		{[]string{"keys", "new", "bot"}, "--keys-file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := runGateCmd(t, t.Context(), tt.args...)
			if code != ExitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 mentioning %s", code, errOut, tt.want)
			}
		})
	}
}

// TestGateEndToEnd makes a key with 'gate keys new', starts the gate in
// front of a go-sdk upstream on loopback, and checks that the key works,
// that no key gets 401, and that cancelling stops the gate cleanly.
func TestGateEndToEnd(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.txt")
	code, key, errOut := runGateCmd(t, t.Context(), "keys", "new", "ci-bot", "--keys-file", keys)
	key = strings.TrimSpace(key)
	if code != ExitOK || key == "" || strings.Contains(key, "\n") {
		t.Fatalf("keys new: exit %d, stdout %q, stderr %q", code, key, errOut)
	}
	if code, _, errOut := runGateCmd(t, t.Context(), "keys", "new", "ci-bot", "--keys-file", keys); code != ExitError || !strings.Contains(errOut, "already") {
		t.Errorf("duplicate key name: exit %d, %q", code, errOut)
	}
	line, _ := os.ReadFile(keys)
	if strings.Contains(string(line), key) {
		t.Fatal("the keys file holds the key itself, not its hash")
	}
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"rules":[{"effect":"allow","kinds":["tool"],"names":["echo"],"keys":["ci-bot"]}]}`), 0o600)
	auditFile := filepath.Join(dir, "audit.jsonl")

	srv := mcp.NewServer(&mcp.Implementation{Name: "up", Version: "1"}, nil)
	for _, name := range []string{"echo", "wipe"} {
		mcp.AddTool(srv, &mcp.Tool{Name: name}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + "-ran"}}}, nil, nil
		})
	}
	up := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}))
	defer up.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- runGate(ctx, &Env{Stdout: &bytes.Buffer{}, Stderr: &errb}, []string{
			"--listen", "127.0.0.1:0", "--upstream", up.URL + "/mcp", "--api-keys", keys,
			"--policy", policy, "--audit", "jsonl:" + auditFile, "--upstream-header", "X-Up: secret"})
	}()
	re := regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+/mcp)`)
	var gateURL string
	for deadline := time.Now().Add(10 * time.Second); gateURL == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(errb.String()); m != nil {
			gateURL = m[1]
		}
	}
	if gateURL == "" {
		t.Fatalf("the gate did not start: %s", errb.String())
	}
	post := func(hdr map[string]string, tool string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", gateURL,
			strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"`+tool+`","arguments":{}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if status, body := post(map[string]string{"X-API-Key": key}, "echo"); status != 200 || !strings.Contains(body, "echo-ran") {
		t.Errorf("with the key: %d %s", status, body)
	}
	if status, body := post(map[string]string{"Authorization": "Bearer " + key}, "wipe"); status != 200 || !strings.Contains(body, "-32001") || strings.Contains(body, "wipe-ran") {
		t.Errorf("denied tool: %d %s", status, body)
	}
	if status, _ := post(nil, "echo"); status != 401 {
		t.Errorf("without a key: %d, want 401", status)
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d after cancel: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the gate did not stop")
	}
	trail, err := os.ReadFile(auditFile)
	if err != nil || !strings.Contains(string(trail), `"decision":"deny"`) || !strings.Contains(string(trail), `"name":"echo"`) || strings.Contains(string(trail), key) {
		t.Errorf("audit trail (err %v):\n%s", err, trail)
	}
}
