package mcptest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Modes and transports of the TypeScript SDK client (RunTSClient).
const (
	// TSClientAPIKey sends TSClientOptions.APIKey as X-API-Key.
	TSClientAPIKey = "apikey"
	// TSClientOAuth runs the SDK's OAuth authorization_code flow.
	TSClientOAuth = "oauth"
	// TSClientStreamable uses StreamableHTTPClientTransport.
	TSClientStreamable = "streamable"
	// TSClientSSE uses the legacy SSEClientTransport.
	TSClientSSE = "sse"
)

// SDKPackage and SDKVersion name the TypeScript SDK pinned in
// testdata/npm/package.json (and its lockfile).
const (
	SDKPackage = "@modelcontextprotocol/sdk"
	SDKVersion = "1.32.2"
)

// tsClientScript is the client, relative to testdata/npm.
const tsClientScript = "tsclient/client.mjs"

const tsClientDefaultTimeout = 60 * time.Second

// TSClientOptions says how RunTSClient runs the client.
type TSClientOptions struct {
	// URL is the MCP endpoint (for TSClientSSE the SSE stream), on a
	// loopback IP literal.
	URL string
	// Mode is TSClientAPIKey or TSClientOAuth.
	Mode string
	// Transport is TSClientStreamable (empty) or TSClientSSE.
	Transport string
	// Allowed and Denied are the tools the client calls after listing;
	// empty: "echo" and "run_shell_command".
	Allowed, Denied string
	// APIKey is the key for TSClientAPIKey (passed in the environment,
	// never on the command line).
	APIKey string
	// Timeout bounds the node process. Zero: 60s.
	Timeout time.Duration
}

// TSError is an error the client caught: its class name, JSON-RPC code
// (if any) and message.
type TSError struct {
	Name    string          `json:"name"`
	Code    json.RawMessage `json:"code,omitempty"`
	Message string          `json:"message"`
}

// TSRequest is one HTTP request the client made.
type TSRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// TSAuthorization is what the SDK put in the authorization request.
type TSAuthorization struct {
	Origin              string `json:"origin"`
	Path                string `json:"path"`
	ClientID            string `json:"clientId"`
	CodeChallengeMethod string `json:"codeChallengeMethod"`
	HasCodeChallenge    bool   `json:"hasCodeChallenge"`
	Resource            string `json:"resource"`
	Scope               string `json:"scope"`
	CallbackIss         string `json:"callbackIss"`
}

// TSClientRun is the client's report of one run.
type TSClientRun struct {
	Mode      string `json:"mode"`
	Transport string `json:"transport"`
	// FirstConnect is the error of the OAuth run's first connect (an
	// UnauthorizedError when the flow works).
	FirstConnect  *TSError         `json:"firstConnect"`
	Authorization *TSAuthorization `json:"authorization"`
	// Client is the dynamically registered client.
	Client *struct {
		ClientID   string `json:"clientId"`
		AuthMethod string `json:"authMethod"`
		HasSecret  bool   `json:"hasSecret"`
	} `json:"client"`
	// Token is what the token endpoint gave the OAuth run.
	Token *struct {
		AccessToken     string `json:"accessToken"`
		TokenType       string `json:"tokenType"`
		HasRefreshToken bool   `json:"hasRefreshToken"`
		Scope           string `json:"scope"`
		Saved           int    `json:"saved"`
	} `json:"token"`
	// Tools are the names tools/list returned.
	Tools []string `json:"tools"`
	// Allowed is the result of calling the allowed tool.
	Allowed *struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"allowed"`
	// Denied is the outcome of calling the denied tool: an error thrown
	// by the SDK, or a result.
	Denied *struct {
		Error  *TSError `json:"error"`
		Result *struct {
			IsError bool   `json:"isError"`
			Text    string `json:"text"`
		} `json:"result"`
	} `json:"denied"`
	// Requests are every HTTP request the client made, in order.
	Requests []TSRequest `json:"requests"`
	// Fatal is set when the run broke (the process then exits 1).
	Fatal *TSError `json:"fatal"`
}

// RequestsTo returns the requests whose URL (without query) is u.
func (r *TSClientRun) RequestsTo(method, u string) []TSRequest {
	var out []TSRequest
	for _, q := range r.Requests {
		base, _, _ := strings.Cut(q.URL, "?")
		if q.Method == method && base == u {
			out = append(out, q)
		}
	}
	return out
}

// RunTSClient runs testdata/npm/tsclient/client.mjs, the official
// TypeScript SDK client, against o.URL and returns its report. The process
// is killed (with its process group) when ctx ends or o.Timeout passes.
// A client that cannot run or prints no report fails the test; a report
// with Fatal set is returned with an error. If node or the npm packages
// are missing the test is skipped, or fails when CI=true.
func RunTSClient(ctx context.Context, t testing.TB, o TSClientOptions) (*TSClientRun, error) {
	t.Helper()
	args, err := tsClientArgs(o)
	if err != nil {
		t.Fatalf("mcptest: tsclient: %v", err)
	}
	npmDir := filepath.Join(repoRoot(t), "testdata", "npm")
	requireSDK(t, npmDir)
	node, err := exec.LookPath("node")
	if err != nil {
		missingDeps(t, fmt.Sprintf("node not found in PATH (%v)", err))
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = tsClientDefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{tsClientScript}, args...)...)
	cmd.Dir = npmDir
	cmd.Env = tsClientEnv(o.APIKey)
	var stdout bytes.Buffer
	stderr := &cappedBuffer{max: everythingOutputCap}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	setProcessGroup(cmd)
	cmd.Cancel = func() error {
		killProcessGroup(cmd, true)
		return nil
	}
	cmd.WaitDelay = everythingStopTimeout
	runErr := cmd.Run()
	if cmd.Process != nil {
		killProcessGroup(cmd, true) // anything it left behind
	}
	if ctx.Err() != nil {
		t.Fatalf("mcptest: tsclient %s %s: killed after %v (%v); stdout:\n%s\nstderr:\n%s", o.Mode, o.URL, timeout, ctx.Err(), stdout.String(), stderr.String())
	}
	line := bytes.TrimSpace(stdout.Bytes())
	run := &TSClientRun{}
	if err := json.Unmarshal(line, run); err != nil {
		t.Fatalf("mcptest: tsclient %s %s: no JSON report (%v; exit: %v); stdout:\n%s\nstderr:\n%s", o.Mode, o.URL, err, runErr, stdout.String(), stderr.String())
	}
	if run.Fatal != nil || runErr != nil {
		return run, fmt.Errorf("mcptest: tsclient %s %s: exit %v, fatal %+v; requests %+v; stderr:\n%s", o.Mode, o.URL, runErr, run.Fatal, run.Requests, stderr.String())
	}
	return run, nil
}

// tsClientEnv is a small environment for the client: no NODE_OPTIONS or
// proxy settings inherited, the API key (possibly empty) in MCPW_API_KEY.
func tsClientEnv(apiKey string) []string {
	env := []string{"NODE_ENV=test", "MCPW_API_KEY=" + apiKey}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func tsClientArgs(o TSClientOptions) ([]string, error) {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("url %q: want an http(s) URL", o.URL)
	}
	if _, err := checkLoopback(u.Hostname()); err != nil {
		return nil, fmt.Errorf("url %q: %w", o.URL, err)
	}
	switch o.Mode {
	case TSClientAPIKey:
		if o.APIKey == "" {
			return nil, fmt.Errorf("mode %q needs an APIKey", o.Mode)
		}
	case TSClientOAuth:
	default:
		return nil, fmt.Errorf("mode %q: want %q or %q", o.Mode, TSClientAPIKey, TSClientOAuth)
	}
	tr := o.Transport
	if tr == "" {
		tr = TSClientStreamable
	}
	if tr != TSClientStreamable && tr != TSClientSSE {
		return nil, fmt.Errorf("transport %q: want %q or %q", o.Transport, TSClientStreamable, TSClientSSE)
	}
	args := []string{"--url", o.URL, "--mode", o.Mode, "--transport", tr}
	if o.Allowed != "" {
		args = append(args, "--allowed", o.Allowed)
	}
	if o.Denied != "" {
		args = append(args, "--denied", o.Denied)
	}
	return args, nil
}

// requireSDK skips (fails under CI=true) unless the pinned SDK and the
// client script are installed under npmDir.
func requireSDK(t testing.TB, npmDir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(npmDir, filepath.FromSlash(tsClientScript))); err != nil {
		t.Fatalf("mcptest: tsclient script: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(npmDir, "node_modules", filepath.FromSlash(SDKPackage), "package.json"))
	if err != nil {
		missingDeps(t, fmt.Sprintf("%s is not installed (%v)", SDKPackage, err))
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("mcptest: %s package.json: %v", SDKPackage, err)
	}
	if pkg.Version != SDKVersion {
		missingDeps(t, fmt.Sprintf("%s is %s, want the pinned %s", SDKPackage, pkg.Version, SDKVersion))
	}
}
