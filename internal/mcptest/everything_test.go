package mcptest

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Tools every session of the pinned server lists.
var everythingBaseTools = []string{
	"echo",
	"get-annotated-message",
	"get-env",
	"get-resource-links",
	"get-resource-reference",
	"get-structured-content",
	"get-sum",
	"get-tiny-image",
	"gzip-file-as-resource",
	"simulate-research-query",
	"toggle-simulated-logging",
	"toggle-subscriber-updates",
	"trigger-long-running-operation",
}

func withTools(base []string, extra ...string) []string {
	out := append(slices.Clone(base), extra...)
	slices.Sort(out)
	return out
}

func TestEverythingClient(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		host      string
		caps      *mcp.ClientCapabilities // nil: the SDK default, {"roots":{"listChanged":true}}
		wantTools []string
	}{
		{
			name:      "streamable default capabilities",
			transport: TransportStreamableHTTP,
			host:      "127.0.0.42",
			wantTools: withTools(everythingBaseTools, "get-roots-list"),
		},
		{
			name:      "streamable no capabilities",
			transport: TransportStreamableHTTP,
			host:      "127.0.0.42",
			caps:      &mcp.ClientCapabilities{},
			wantTools: withTools(everythingBaseTools),
		},
		{
			name:      "sse default capabilities",
			transport: TransportSSE,
			host:      "127.0.0.43",
			wantTools: withTools(everythingBaseTools, "get-roots-list"),
		},
		{
			name:      "sse no capabilities",
			transport: TransportSSE,
			host:      "127.0.0.43",
			caps:      &mcp.ClientCapabilities{},
			wantTools: withTools(everythingBaseTools),
		},
		{
			name:      "streamable ipv6 loopback",
			transport: TransportStreamableHTTP,
			host:      "::1",
			wantTools: withTools(everythingBaseTools, "get-roots-list"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.host == "::1" {
				requireIPv6Loopback(t)
			}
			e := StartEverythingProcess(t, tt.transport, tt.host)
			wantPrefix := "http://" + net.JoinHostPort(tt.host, "")
			if !strings.HasPrefix(e.URL, wantPrefix) || e.URL != "http://"+net.JoinHostPort(tt.host, strconv.Itoa(e.Port)) {
				t.Fatalf("URL = %q, want %s<port %d>", e.URL, wantPrefix, e.Port)
			}

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			hc := loopbackHTTPClient()
			var transport mcp.Transport
			switch tt.transport {
			case TransportStreamableHTTP:
				transport = &mcp.StreamableClientTransport{Endpoint: e.URL + EverythingMCPPath, HTTPClient: hc, MaxRetries: -1}
			case TransportSSE:
				transport = &mcp.SSEClientTransport{Endpoint: e.URL + EverythingSSEPath, HTTPClient: hc}
			}
			client := mcp.NewClient(&mcp.Implementation{Name: "mcpwarden-test", Version: "0"}, &mcp.ClientOptions{Capabilities: tt.caps})
			cs, err := client.Connect(ctx, transport, nil)
			if err != nil {
				t.Fatalf("connect %s: %v", e.URL, err)
			}
			defer cs.Close()

			ir := cs.InitializeResult()
			if ir == nil || ir.ServerInfo == nil {
				t.Fatalf("no initialize result / serverInfo: %+v", ir)
			}
			if got, want := *ir.ServerInfo, (mcp.Implementation{
				Name: "mcp-servers/everything", Title: "Everything Reference Server", Version: "2.0.0",
			}); got.Name != want.Name || got.Title != want.Title || got.Version != want.Version {
				t.Errorf("serverInfo = %+v, want name %q title %q version %q", got, want.Name, want.Title, want.Version)
			}
			if ir.ProtocolVersion != "2025-11-25" {
				t.Errorf("protocolVersion = %q, want 2025-11-25", ir.ProtocolVersion)
			}
			if c := ir.Capabilities; c == nil || c.Tools == nil || c.Resources == nil || c.Prompts == nil || c.Logging == nil {
				t.Errorf("capabilities = %+v, want tools, resources, prompts and logging", c)
			}

			var got []string
			for tool, err := range cs.Tools(ctx, nil) {
				if err != nil {
					t.Fatalf("tools/list: %v", err)
				}
				got = append(got, tool.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.wantTools) {
				t.Errorf("tools = %q\nwant    %q", got, tt.wantTools)
			}

			checkOnlyLoopbackListeners(t, e)
		})
	}
}

// TestEverythingPaths checks the paths and the unauthenticated answers a
// scanner sees, without any MCP client.
func TestEverythingPaths(t *testing.T) {
	t.Parallel()
	hc := loopbackHTTPClient()

	t.Run("streamable", func(t *testing.T) {
		t.Parallel()
		base := StartEverything(t, TransportStreamableHTTP, "127.0.0.44")
		resp, body := get(t, hc, base+EverythingMCPPath, "text/event-stream")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "No valid session ID provided") {
			t.Errorf("GET %s = %d %q, want 400 with the TypeScript session error", EverythingMCPPath, resp.StatusCode, body)
		}
		resp, _ = get(t, hc, base+EverythingSSEPath, "text/event-stream")
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the streamable server = %d, want 404", EverythingSSEPath, resp.StatusCode)
		}
	})
	t.Run("sse", func(t *testing.T) {
		t.Parallel()
		base := StartEverything(t, TransportSSE, "127.0.0.45")
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+EverythingSSEPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", EverythingSSEPath, err)
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
			t.Fatalf("GET %s = %d %q, want 200 text/event-stream", EverythingSSEPath, resp.StatusCode, ct)
		}
		sc := bufio.NewScanner(resp.Body)
		var event, data string
		for sc.Scan() && (event == "" || data == "") {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		if event != "endpoint" || !strings.HasPrefix(data, EverythingMessagePath+"?sessionId=") {
			t.Errorf("first event = %q data %q, want endpoint %s?sessionId=...", event, data, EverythingMessagePath)
		}
		resp2, _ := get(t, hc, base+EverythingMCPPath, "text/event-stream")
		if resp2.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the SSE server = %d, want 404", EverythingMCPPath, resp2.StatusCode)
		}
	})
}

func get(t *testing.T, hc *http.Client, url, accept string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return resp, string(buf[:n])
}

// loopbackHTTPClient never uses a proxy, so requests go straight to loopback.
func loopbackHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: 15 * time.Second}}
}

func requireIPv6Loopback(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
}

// checkOnlyLoopbackListeners asserts from /proc that every TCP socket the node
// process listens on is bound to e.Host:e.Port, and that nothing at all
// listens on a wildcard address with that port.
func checkOnlyLoopbackListeners(t *testing.T, e *Everything) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Logf("listener check needs /proc (linux); skipped on %s", runtime.GOOS)
		return
	}
	listening, err := procListeners()
	if err != nil {
		t.Fatalf("read /proc/net/tcp*: %v", err)
	}
	inodes, err := processSocketInodes(e.PID)
	if err != nil {
		t.Fatalf("sockets of pid %d: %v", e.PID, err)
	}
	want := netip.AddrPortFrom(netip.MustParseAddr(e.Host), uint16(e.Port))
	var own []netip.AddrPort
	for inode := range inodes {
		if ap, ok := listening[inode]; ok {
			own = append(own, ap)
		}
	}
	if len(own) == 0 {
		t.Fatalf("pid %d has no listening TCP socket (want %s)", e.PID, want)
	}
	for _, ap := range own {
		if ap != want {
			t.Errorf("pid %d listens on %s, want only %s", e.PID, ap, want)
		}
	}
	for _, ap := range listening {
		if int(ap.Port()) == e.Port && ap.Addr().IsUnspecified() {
			t.Errorf("a socket listens on wildcard %s", ap)
		}
	}
}

// procListeners maps socket inode to local address for every TCP socket in
// LISTEN state in /proc/net/tcp and /proc/net/tcp6.
func procListeners() (map[uint64]netip.AddrPort, error) {
	out := make(map[uint64]netip.AddrPort)
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(name)
		if err != nil {
			if os.IsNotExist(err) && strings.HasSuffix(name, "6") {
				continue
			}
			return nil, err
		}
		if err := parseProcNetTCP(string(data), out); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

const tcpListen = "0A"

func parseProcNetTCP(data string, out map[uint64]netip.AddrPort) error {
	lines := strings.Split(strings.TrimSpace(data), "\n")
	for i, line := range lines {
		if i == 0 {
			continue // header
		}
		f := strings.Fields(line)
		if len(f) < 10 {
			return fmt.Errorf("line %d: %d fields, want at least 10: %q", i+1, len(f), line)
		}
		if f[3] != tcpListen {
			continue
		}
		ap, err := parseProcAddr(f[1])
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		inode, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: inode %q: %w", i+1, f[9], err)
		}
		out[inode] = ap
	}
	return nil
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or 32 hex digits (IPv6) plus
// port: the kernel prints each 32-bit word of the address in host byte order.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q: no port", s)
	}
	raw, err := hex.DecodeString(hexAddr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q: bad hex address", s)
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: bad port: %w", s, err)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(b[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

func processSocketInodes(pid int) (map[uint64]bool, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make(map[uint64]bool)
	for _, ent := range ents {
		link, err := os.Readlink(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if v, ok := strings.CutPrefix(link, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(v, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out, nil
}

func TestParseProcAddr(t *testing.T) {
	// The kernel's text depends on host byte order; build the expected text
	// the same way it does so the test holds on any architecture.
	word := func(b ...byte) string { return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b)) }
	tests := []struct {
		in   string
		want string
	}{
		{word(127, 0, 0, 42) + ":1F90", "127.0.0.42:8080"},
		{word(0, 0, 0, 0) + ":0BB8", "0.0.0.0:3000"},
		{word(0, 0, 0, 0) + word(0, 0, 0, 0) + word(0, 0, 0, 0) + word(0, 0, 0, 1) + ":0050", "[::1]:80"},
		{word(0, 0, 0, 0) + word(0, 0, 0, 0) + word(0, 0, 0xff, 0xff) + word(127, 0, 0, 1) + ":0050", "127.0.0.1:80"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := parseProcAddr(tt.in)
			if err != nil {
				t.Fatalf("parseProcAddr(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Errorf("parseProcAddr(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "XYZ:0050", "0100:0050", "0100007F:10000"} {
		if _, err := parseProcAddr(bad); err == nil || !strings.Contains(err.Error(), strconv.Quote(bad)) {
			t.Errorf("parseProcAddr(%q) error = %v, want an error naming the input", bad, err)
		}
	}
}

// TestLoopbackPreload runs every listen() signature under the preload, behind
// a guard that sits between the preload and Node's real listen: the guard
// refuses any call the preload did not rewrite to the loopback host, so a
// broken preload can never bind a wildcard address during the test.
func TestLoopbackPreload(t *testing.T) {
	t.Parallel()
	node, preload := nodeAndPreload(t)
	const host = "127.0.0.46"
	guard := filepath.Join(t.TempDir(), "guard.cjs")
	writeFile(t, guard, `'use strict';
const net = require('node:net');
const real = net.Server.prototype.listen;
const want = process.env.MCPW_GUARD_HOST || process.env.`+BindHostEnv+`;
net.Server.prototype.listen = function (...args) {
  const o = args[0];
  const pathOnly = (typeof o === 'string') || (o && typeof o === 'object' && typeof o.path === 'string' && o.path !== '');
  if (!pathOnly && !(o && typeof o === 'object' && o.host === want)) {
    console.error('GUARD: unrewritten listen ' + JSON.stringify(args));
    process.exit(7);
  }
  return real.apply(this, args);
};
`)
	sock := filepath.Join(t.TempDir(), "s.sock")
	tests := []struct {
		name   string
		module string // node:net or node:http
		args   string // JavaScript listen arguments; cb is a callback
		want   string // JSON of server.address() (host:port checked, port > 0), or "path"
	}{
		{"port only", "node:net", "0", host},
		{"port string", "node:net", "'0'", host},
		{"port and callback", "node:net", "0, cb", host},
		{"port host", "node:net", "0, '0.0.0.0'", host},
		{"port host callback", "node:net", "0, '0.0.0.0', cb", host},
		{"port ipv6 wildcard", "node:http", "0, '::', cb", host},
		{"port host backlog callback", "node:net", "0, '0.0.0.0', 511, cb", host},
		{"port backlog callback", "node:net", "0, 128, cb", host},
		{"port undefined host", "node:net", "0, undefined, cb", host},
		{"no arguments", "node:net", "", host},
		{"callback only", "node:http", "cb", host},
		{"options", "node:net", "{port: 0, host: '0.0.0.0', ipv6Only: true}", host},
		{"options callback", "node:http", "{port: 0}, cb", host},
		{"options no port", "node:net", "{host: '::'}, cb", host},
		{"options exclusive", "node:net", "{port: 0, exclusive: true, backlog: 5}, cb", host},
		{"unix socket path", "node:net", strconv.Quote(sock) + ", cb", "path"},
		{"unix socket options", "node:net", "{path: " + strconv.Quote(sock+"2") + "}", "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			script := `'use strict';
let called = false;
const cb = () => { called = true; };
const s = require('` + tt.module + `').createServer();
s.on('error', (e) => { console.error('ERROR ' + e.message); process.exit(3); });
s.on('listening', () => setImmediate(() => {
  console.log(JSON.stringify({address: s.address(), called}));
  s.close();
}));
s.listen(` + tt.args + `);
`
			out, stderr, err := runNode(t, node, []string{BindHostEnv + "=" + host}, "--require", guard, "--require", preload, "-e", script)
			if err != nil {
				t.Fatalf("node: %v\nstderr: %s", err, stderr)
			}
			var res struct {
				Address json.RawMessage `json:"address"`
				Called  bool            `json:"called"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("output %q: %v", out, err)
			}
			if strings.Contains(tt.args, "cb") && !res.Called {
				t.Errorf("listen callback not called")
			}
			if tt.want == "path" {
				var p string
				if err := json.Unmarshal(res.Address, &p); err != nil || !strings.HasPrefix(p, sock) {
					t.Errorf("address = %s, want the socket path", res.Address)
				}
				return
			}
			var a struct {
				Address string `json:"address"`
				Port    int    `json:"port"`
			}
			if err := json.Unmarshal(res.Address, &a); err != nil {
				t.Fatalf("address %s: %v", res.Address, err)
			}
			if a.Address != tt.want || a.Port <= 0 {
				t.Errorf("listening on %s:%d, want %s:<port>", a.Address, a.Port, tt.want)
			}
		})
	}

	t.Run("ipv6 loopback", func(t *testing.T) {
		t.Parallel()
		requireIPv6Loopback(t)
		script := `const s = require('node:net').createServer();
s.listen(0, '0.0.0.0', () => { console.log(s.address().address); s.close(); });`
		out, stderr, err := runNode(t, node, []string{BindHostEnv + "=0:0:0:0:0:0:0:1", "MCPW_GUARD_HOST=::1"}, "--require", guard, "--require", preload, "-e", script)
		if err != nil {
			t.Fatalf("node: %v\nstderr: %s", err, stderr)
		}
		if out != "::1" {
			t.Errorf("listening on %q, want ::1", out)
		}
	})

	t.Run("inherited fd refused", func(t *testing.T) {
		t.Parallel()
		script := `const s = require('node:net').createServer();
try { s.listen({fd: 0}); } catch (e) { console.log(e.message); process.exit(0); }
console.log('accepted'); process.exit(1);`
		out, stderr, err := runNode(t, node, []string{BindHostEnv + "=" + host}, "--require", guard, "--require", preload, "-e", script)
		if err != nil || !strings.Contains(out, "refused") {
			t.Errorf("listen({fd}) = %q (%v, stderr %q), want a refusal", out, err, stderr)
		}
	})
}

// TestLoopbackPreloadRejects checks that node aborts before running any code
// when the bind host is missing or not loopback.
func TestLoopbackPreloadRejects(t *testing.T) {
	t.Parallel()
	node, preload := nodeAndPreload(t)
	tests := []struct {
		name    string
		env     []string
		wantErr string
	}{
		{"unset", nil, "is not set"},
		{"empty", []string{BindHostEnv + "="}, "is not set"},
		{"ipv4 wildcard", []string{BindHostEnv + "=0.0.0.0"}, `"0.0.0.0" is not a loopback address`},
		{"ipv6 wildcard", []string{BindHostEnv + "=::"}, `"::" is not a loopback address`},
		{"private", []string{BindHostEnv + "=10.0.0.1"}, `"10.0.0.1" is not a loopback address`},
		{"mapped loopback", []string{BindHostEnv + "=::ffff:127.0.0.1"}, `"::ffff:127.0.0.1" is not a loopback address`},
		{"name", []string{BindHostEnv + "=localhost"}, `"localhost" is not an IP literal`},
		{"leading zeros", []string{BindHostEnv + "=127.0.0.01"}, `"127.0.0.01" is not an IP literal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The script would print "ran" if the preload let node start.
			out, stderr, err := runNode(t, node, tt.env, "--require", preload, "-e", "console.log('ran')")
			if err == nil || strings.Contains(out, "ran") {
				t.Fatalf("node started (out %q, err %v), want an abort", out, err)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantErr)
			}
		})
	}
}

func nodeAndPreload(t *testing.T) (node, preload string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		missingDeps(t, fmt.Sprintf("node not found in PATH (%v)", err))
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return node, filepath.Join(root, "testdata", "npm", "loopback-preload.cjs")
}

func runNode(t *testing.T, node string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return strings.TrimSpace(o.String()), e.String(), err
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPinnedVersion ties EverythingVersion to package.json, the lockfile and
// what is installed (a stale node_modules fails here with the setup hint).
func TestPinnedVersion(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	npmDir := filepath.Join(root, "testdata", "npm")

	var pkg struct {
		Private      bool              `json:"private"`
		Scripts      map[string]string `json:"scripts"`
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSON(t, filepath.Join(npmDir, "package.json"), &pkg)
	if !pkg.Private || len(pkg.Scripts) != 0 {
		t.Errorf("package.json: private=%v scripts=%v, want private and no scripts", pkg.Private, pkg.Scripts)
	}
	if got := pkg.Dependencies[EverythingPackage]; got != EverythingVersion {
		t.Errorf("package.json pins %s %q, want exactly %q", EverythingPackage, got, EverythingVersion)
	}

	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	readJSON(t, filepath.Join(npmDir, "package-lock.json"), &lock)
	if lock.LockfileVersion != 3 {
		t.Errorf("lockfileVersion = %d, want 3", lock.LockfileVersion)
	}
	key := "node_modules/" + EverythingPackage
	if got := lock.Packages[key]; got.Version != EverythingVersion || !strings.HasPrefix(got.Integrity, "sha512-") {
		t.Errorf("lockfile %s = %+v, want version %s with a sha512 integrity", key, got, EverythingVersion)
	}

	entry := requireInstalled(t, npmDir)
	var installed struct {
		Version string `json:"version"`
	}
	readJSON(t, filepath.Join(filepath.Dir(filepath.Dir(entry)), "package.json"), &installed)
	if installed.Version != EverythingVersion {
		t.Errorf("installed %s %s, want %s: %s", EverythingPackage, installed.Version, EverythingVersion, setupHint)
	}
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// fakeTB records Fatalf/Skipf and ends the goroutine as testing.T does.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runFake(tb testing.TB, fn func(testing.TB)) *fakeTB {
	f := &fakeTB{TB: tb}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestStartEverythingBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, transport, host, want string
	}{
		{"stdio transport", "stdio", "127.0.0.1", `transport "stdio"`},
		{"empty transport", "", "127.0.0.1", `transport ""`},
		{"wildcard v4", TransportSSE, "0.0.0.0", `host "0.0.0.0": not a loopback address`},
		{"wildcard v6", TransportSSE, "::", `host "::": not a loopback address`},
		{"private", TransportSSE, "192.168.1.10", `host "192.168.1.10": not a loopback address`},
		{"mapped", TransportSSE, "::ffff:127.0.0.1", `host "::ffff:127.0.0.1": not a loopback address`},
		{"zoned", TransportSSE, "::1%lo", `host "::1%lo": not a loopback address`},
		{"name", TransportSSE, "localhost", `host "localhost": not an IP literal`},
		{"empty host", TransportSSE, "", `host "": not an IP literal`},
		{"host with port", TransportSSE, "127.0.0.1:80", `host "127.0.0.1:80": not an IP literal`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := runFake(t, func(tb testing.TB) { StartEverything(tb, tt.transport, tt.host) })
			if !strings.Contains(f.fatal, tt.want) {
				t.Errorf("Fatalf = %q, want it to contain %q", f.fatal, tt.want)
			}
		})
	}
}

func TestMissingDeps(t *testing.T) {
	empty := t.TempDir()
	for _, tt := range []struct {
		ci        string
		wantFatal bool
	}{{"true", true}, {"", false}, {"false", false}} {
		t.Run("CI="+tt.ci, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			f := runFake(t, func(tb testing.TB) { requireInstalled(tb, empty) })
			msg := f.skip
			if tt.wantFatal {
				msg = f.fatal
			}
			if msg == "" || (tt.wantFatal && f.skip != "") || (!tt.wantFatal && f.fatal != "") {
				t.Fatalf("fatal %q skip %q, want only %s", f.fatal, f.skip, map[bool]string{true: "fatal", false: "skip"}[tt.wantFatal])
			}
			if !strings.Contains(msg, "run scripts/setup-npm.sh") || !strings.Contains(msg, EverythingPackage) {
				t.Errorf("message %q lacks the package or the setup hint", msg)
			}
		})
	}
}

func TestFindRepoRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.test\n")
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(filepath.Join(deep, "go.mod"), 0o700); err != nil { // a directory named go.mod does not count
		t.Fatal(err)
	}
	got, err := findRepoRoot(deep)
	if err != nil || got != root {
		t.Errorf("findRepoRoot(%q) = %q, %v; want %q", deep, got, err, root)
	}
}

func TestCappedBuffer(t *testing.T) {
	t.Parallel()
	b := &cappedBuffer{max: 8}
	for _, s := range []string{"abc", "defgh", "ij", "0123456789XY"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got := b.String(); got != "456789XY" {
		t.Errorf("String() = %q, want the last 8 bytes %q", got, "456789XY")
	}
	b2 := &cappedBuffer{max: 8}
	b2.Write([]byte("abcdef"))
	b2.Write([]byte("ghij"))
	if got := b2.String(); got != "cdefghij" {
		t.Errorf("String() = %q, want %q", got, "cdefghij")
	}
}
