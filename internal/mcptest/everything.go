package mcptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Transports of the reference server, as its CLI spells them.
const (
	// TransportStreamableHTTP serves the 2025-03-26+ Streamable HTTP transport
	// on [EverythingMCPPath].
	TransportStreamableHTTP = "streamableHttp"
	// TransportSSE serves the 2024-11-05 HTTP+SSE transport: the stream on
	// [EverythingSSEPath], client messages on [EverythingMessagePath].
	TransportSSE = "sse"
)

// Paths served by the reference server. Everything else answers 404.
const (
	// EverythingMCPPath is the Streamable HTTP endpoint (POST, GET, DELETE).
	// A GET or a non-initialize POST without a valid Mcp-Session-Id gets 400
	// with the JSON-RPC error "Bad Request: No valid session ID provided".
	EverythingMCPPath = "/mcp"
	// EverythingSSEPath is the legacy SSE stream (GET); its first event is
	// "endpoint" with data "/message?sessionId=<uuid>".
	EverythingSSEPath = "/sse"
	// EverythingMessagePath takes legacy SSE client messages (POST, with the
	// sessionId query parameter); replies arrive on the SSE stream.
	EverythingMessagePath = "/message"
)

// EverythingPackage and EverythingVersion name the npm package pinned in
// testdata/npm/package.json (and its lockfile).
const (
	EverythingPackage = "@modelcontextprotocol/server-everything"
	EverythingVersion = "2026.8.31"
)

// BindHostEnv is the environment variable testdata/npm/loopback-preload.cjs
// reads: the only address the node process may listen on.
const BindHostEnv = "MCPW_BIND_HOST"

const (
	everythingStartTimeout = 20 * time.Second
	everythingStopTimeout  = 5 * time.Second
	everythingOutputCap    = 64 << 10
	setupHint              = "run scripts/setup-npm.sh"
)

// Everything is a running reference server.
type Everything struct {
	// URL is the base URL, e.g. "http://127.0.0.42:40123" or
	// "http://[::1]:40123", without a path.
	URL string
	// Transport is TransportStreamableHTTP or TransportSSE.
	Transport string
	// Host is the loopback address the server listens on.
	Host string
	// Port is the TCP port it listens on.
	Port int
	// PID is the node process id (also its process group id on Unix).
	PID int

	out *cappedBuffer
}

// Output returns what the server has written to stdout and stderr so far
// (the last 64 KiB at most).
func (e *Everything) Output() string { return e.out.String() }

// StartEverything starts the pinned TypeScript reference server
// (@modelcontextprotocol/server-everything) with the given transport
// (TransportStreamableHTTP or TransportSSE) listening only on host, a loopback
// address such as "127.0.0.42" or "::1", and returns its base URL, e.g.
// "http://127.0.0.42:40123". Append EverythingMCPPath or EverythingSSEPath.
// The process group is killed in t.Cleanup. If the npm packages are not
// installed the test is skipped, or fails when CI=true.
func StartEverything(t testing.TB, transport, host string) (baseURL string) {
	t.Helper()
	return StartEverythingProcess(t, transport, host).URL
}

// StartEverythingProcess is StartEverything returning the process details as
// well as the URL.
func StartEverythingProcess(t testing.TB, transport, host string) *Everything {
	t.Helper()
	if err := checkTransport(transport); err != nil {
		t.Fatalf("mcptest: %v", err)
	}
	addr, err := checkLoopback(host)
	if err != nil {
		t.Fatalf("mcptest: %v", err)
	}
	root := repoRoot(t)
	npmDir := filepath.Join(root, "testdata", "npm")
	entry := requireInstalled(t, npmDir)
	node, err := exec.LookPath("node")
	if err != nil {
		missingDeps(t, fmt.Sprintf("node not found in PATH (%v)", err))
	}
	preload := filepath.Join(npmDir, "loopback-preload.cjs")
	if _, err := os.Stat(preload); err != nil {
		t.Fatalf("mcptest: loopback preload: %v", err)
	}

	// The port is picked by binding and closing it, so another process may
	// take it before node does; retry a few times on EADDRINUSE.
	var lastErr error
	for range 3 {
		e, err := startNode(t, node, preload, entry, npmDir, transport, addr)
		if err == nil {
			return e
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("mcptest: start %s %s on %s: %v", EverythingPackage, transport, addr, lastErr)
	return nil
}

var errAddrInUse = errors.New("address already in use")

func startNode(t testing.TB, node, preload, entry, dir, transport string, addr netip.Addr) (*Everything, error) {
	t.Helper()
	port, err := freePort(addr)
	if err != nil {
		return nil, err
	}
	hostPort := net.JoinHostPort(addr.String(), strconv.Itoa(port))
	cmd := exec.Command(node, "--require", preload, entry, transport)
	cmd.Dir = dir
	cmd.Env = nodeEnv(addr.String(), port)
	proc, err := startNodeProc(t, "node", cmd)
	if err != nil {
		return nil, err
	}
	if err := proc.waitListening([]string{hostPort}, everythingStartTimeout, "EADDRINUSE", "already in use"); err != nil {
		return nil, err
	}
	out, stop := proc.out, proc.stop

	e := &Everything{
		URL:       "http://" + hostPort,
		Transport: transport,
		Host:      addr.String(),
		Port:      port,
		PID:       cmd.Process.Pid,
		out:       out,
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("mcptest: %s (%s on %s) output:\n%s", EverythingPackage, transport, hostPort, out.String())
		}
	})
	return e, nil
}

// nodeEnv is a small environment for node: no NODE_OPTIONS or other inherited
// settings that could load code or change where it listens.
func nodeEnv(host string, port int) []string {
	env := []string{
		BindHostEnv + "=" + host,
		"PORT=" + strconv.Itoa(port),
		"NODE_ENV=test",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func checkTransport(transport string) error {
	switch transport {
	case TransportStreamableHTTP, TransportSSE:
		return nil
	}
	return fmt.Errorf("transport %q: want %q or %q", transport, TransportStreamableHTTP, TransportSSE)
}

// checkLoopback accepts an IPv4 address in 127.0.0.0/8 or ::1, nothing else
// (no names, no zones, no IPv4-mapped forms).
func checkLoopback(host string) (netip.Addr, error) {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("host %q: not an IP literal: %w", host, err)
	}
	if addr.Zone() != "" || addr.Is4In6() || !addr.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("host %q: not a loopback address (want 127.0.0.0/8 or ::1)", host)
	}
	return addr, nil
}

// repoRoot is the repository root seen from the test's working directory;
// it fails the test when there is none.
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("mcptest: working directory: %v", err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatalf("mcptest: %v", err)
	}
	return root
}

// findRepoRoot walks up from dir to the directory holding go.mod.
func findRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("repo root: %w", err)
	}
	for d := dir; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("repo root: no go.mod in %s or any parent", dir)
		}
		d = parent
	}
}

// requireInstalled returns the server's entry script under npmDir, or skips
// (fails under CI=true) when the npm packages are not installed.
func requireInstalled(t testing.TB, npmDir string) string {
	t.Helper()
	entry := filepath.Join(npmDir, "node_modules", filepath.FromSlash(EverythingPackage), "dist", "index.js")
	if _, err := os.Stat(entry); err != nil {
		missingDeps(t, fmt.Sprintf("%s is not installed (%v)", EverythingPackage, err))
	}
	return entry
}

// missingDeps skips the test, or fails it when CI=true (CI must not silently
// skip the tests against the reference server).
func missingDeps(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("mcptest: %s: %s", what, setupHint)
	}
	t.Skipf("mcptest: %s: %s", what, setupHint)
}

// freePort returns a TCP port that was free on addr a moment ago.
func freePort(addr netip.Addr) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		return 0, fmt.Errorf("free port on %s: %w", addr, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cappedBuffer keeps the last max bytes written to it; safe for concurrent use.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	if len(p) > b.max {
		p = p[len(p)-b.max:]
	}
	if over := b.buf.Len() + len(p) - b.max; over > 0 {
		b.buf.Next(over)
	}
	b.buf.Write(p)
	return n, nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
