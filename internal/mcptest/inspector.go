package mcptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The MCP Inspector installs under testdata: one directory per version, each
// with its own package.json (the Inspector and its proxy, client and CLI
// sub-packages pinned to one exact version with npm overrides) and
// package-lock.json. scripts/setup-npm.sh installs them.
const (
	// InspectorVulnDir holds the Inspector at InspectorVulnVersion, whose
	// proxy has neither a session token nor an Origin check
	// (CVE-2025-49596).
	InspectorVulnDir = "npm-inspector-vuln"
	// InspectorFixedDir holds the Inspector at InspectorFixedVersion, whose
	// proxy demands its session token and checks Origin.
	InspectorFixedDir = "npm-inspector-fixed"

	// InspectorPackage is the npm package of the Inspector.
	InspectorPackage = "@modelcontextprotocol/inspector"
	// InspectorVulnVersion is the last version before the CVE-2025-49596 fix.
	InspectorVulnVersion = "0.14.0"
	// InspectorFixedVersion is the newest fixed version whose engines allow
	// Node.js 20 (0.16.0 and later declare node >= 22.7.5).
	InspectorFixedVersion = "0.15.0"
)

// InspectorSubPackages are the packages the Inspector depends on and that the
// testdata package.json files pin, with npm overrides, to the Inspector's own
// version: without the overrides, 0.14.0's caret ranges pull a fixed proxy.
var InspectorSubPackages = []string{
	"@modelcontextprotocol/inspector-cli",
	"@modelcontextprotocol/inspector-client",
	"@modelcontextprotocol/inspector-server",
}

// InspectorProxyAuthHeader is the request header that carries the proxy's
// session token ("Bearer <token>") from 0.14.1 on.
const InspectorProxyAuthHeader = "X-MCP-Proxy-Auth"

const inspectorStartTimeout = 30 * time.Second

// Inspector is a running MCP Inspector: its UI (a static web server) and its
// proxy, both started by the Inspector's own launcher, as `npx
// @modelcontextprotocol/inspector` starts them.
type Inspector struct {
	// UIURL is the base URL of the UI, e.g. "http://127.0.0.42:40123".
	UIURL string
	// ProxyURL is the base URL of the proxy, e.g. "http://127.0.0.42:40124".
	ProxyURL string
	// Host is the loopback address both listen on.
	Host string
	// UIPort and ProxyPort are their TCP ports.
	UIPort, ProxyPort int
	// Version is the version of the package whose proxy script runs (the
	// package.json nearest above it), which the sub-packages agree with.
	Version string
	// ProxyScript is the absolute path of the proxy's entry script.
	ProxyScript string
	// Token is the session token the proxy was given. Versions before
	// 0.14.1 ignore it; with WithoutProxyAuth the proxy demands none.
	Token string
	// AuthOmitted is true when started with WithoutProxyAuth.
	AuthOmitted bool
	// PID is the launcher's process id, also the process group id of the
	// launcher, the proxy and the UI server on Unix.
	PID int

	out *cappedBuffer
}

// Output returns what the Inspector has written to stdout and stderr so far
// (the last 64 KiB at most).
func (in *Inspector) Output() string { return in.out.String() }

// InspectorOption configures StartInspector.
type InspectorOption func(*inspectorConfig)

type inspectorConfig struct {
	omitAuth bool
}

// WithoutProxyAuth starts the proxy with DANGEROUSLY_OMIT_AUTH=true, so that
// a fixed version answers without its session token.
func WithoutProxyAuth() InspectorOption {
	return func(c *inspectorConfig) { c.omitAuth = true }
}

// StartInspector starts the MCP Inspector installed in testdata/<dir>
// (InspectorVulnDir or InspectorFixedDir) with its UI and proxy listening only
// on host, a loopback address such as "127.0.0.42" or "::1", on free ports.
// The loopback preload (testdata/npm/loopback-preload.cjs) is carried to the
// launcher and every node process it spawns through NODE_OPTIONS; no browser
// is opened. The process group is killed in t.Cleanup. If the npm packages
// are not installed the test is skipped, or fails when CI=true.
func StartInspector(t testing.TB, dir, host string, opts ...InspectorOption) *Inspector {
	t.Helper()
	var cfg inspectorConfig
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := checkInspectorDir(dir); err != nil {
		t.Fatalf("mcptest: %v", err)
	}
	addr, err := checkLoopback(host)
	if err != nil {
		t.Fatalf("mcptest: %v", err)
	}
	root := repoRoot(t)
	npmDir := filepath.Join(root, "testdata", dir)
	inst, err := resolveInspector(npmDir)
	if err != nil {
		missingDeps(t, err.Error())
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missingDeps(t, fmt.Sprintf("node not found in PATH (%v)", err))
	}
	preload := filepath.Join(root, "testdata", "npm", "loopback-preload.cjs")
	if _, err := os.Stat(preload); err != nil {
		t.Fatalf("mcptest: loopback preload: %v", err)
	}
	token := ""
	if !cfg.omitAuth {
		token = randomToken()
	}

	var lastErr error
	for range 3 {
		in, err := startInspector(t, node, preload, npmDir, inst, addr, token, cfg.omitAuth)
		if err == nil {
			return in
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("mcptest: start %s %s on %s: %v", InspectorPackage, inst.version, addr, lastErr)
	return nil
}

// inspectorInstall is what resolveInspector found under a testdata directory.
type inspectorInstall struct {
	launcher    string // the package's bin script
	proxyScript string // the proxy entry the launcher spawns
	version     string
}

var inspectorDirRE = regexp.MustCompile(`^npm-inspector-[a-z0-9]+(-[a-z0-9]+)*$`)

func checkInspectorDir(dir string) error {
	if !inspectorDirRE.MatchString(dir) {
		return fmt.Errorf("inspector dir %q: want a testdata directory name such as %q or %q", dir, InspectorVulnDir, InspectorFixedDir)
	}
	return nil
}

// resolveInspector finds the launcher and the proxy script the launcher runs,
// reads the version of the package that holds the proxy script, and checks
// that every sub-package is installed at that same version.
func resolveInspector(npmDir string) (*inspectorInstall, error) {
	pkgDir := filepath.Join(npmDir, "node_modules", filepath.FromSlash(InspectorPackage))
	var pkg struct {
		Version string          `json:"version"`
		Bin     json.RawMessage `json:"bin"`
	}
	if err := readJSONFile(filepath.Join(pkgDir, "package.json"), &pkg); err != nil {
		return nil, fmt.Errorf("%s is not installed in %s (%v)", InspectorPackage, npmDir, err)
	}
	bin, err := binScript(pkg.Bin)
	if err != nil {
		return nil, fmt.Errorf("%s package.json: %w", InspectorPackage, err)
	}
	launcher := filepath.Join(pkgDir, filepath.FromSlash(bin))
	// The launcher (cli/build/cli.js) spawns "../../server/build/index.js"
	// relative to itself: the copy of the proxy inside the Inspector
	// package, not the inspector-server dependency.
	proxyScript := filepath.Join(filepath.Dir(launcher), "..", "..", "server", "build", "index.js")
	for _, f := range []string{launcher, proxyScript} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%s is incomplete: %v", InspectorPackage, err)
		}
	}
	version, err := NearestPackageVersion(proxyScript)
	if err != nil {
		return nil, err
	}
	for _, sub := range InspectorSubPackages {
		var sp struct {
			Version string `json:"version"`
		}
		if err := readJSONFile(filepath.Join(npmDir, "node_modules", filepath.FromSlash(sub), "package.json"), &sp); err != nil {
			return nil, fmt.Errorf("%s is not installed in %s (%v)", sub, npmDir, err)
		}
		if sp.Version != version {
			return nil, fmt.Errorf("%s %s is installed beside %s %s: the overrides are not in effect", sub, sp.Version, InspectorPackage, version)
		}
	}
	return &inspectorInstall{launcher: launcher, proxyScript: proxyScript, version: version}, nil
}

// binScript returns the single bin script of a package.json "bin" field.
func binScript(raw json.RawMessage) (string, error) {
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return one, nil
	}
	var many map[string]string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) != 1 {
		return "", fmt.Errorf("bin %s: want one script", raw)
	}
	for _, v := range many {
		return v, nil
	}
	return "", errors.New("bin: empty")
}

// NearestPackageVersion returns the "version" of the package.json nearest
// above file: the version of the package that file belongs to.
func NearestPackageVersion(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("package of %s: %w", file, err)
	}
	for d := filepath.Dir(abs); ; {
		var pkg struct {
			Version string `json:"version"`
		}
		name := filepath.Join(d, "package.json")
		err := readJSONFile(name, &pkg)
		switch {
		case err == nil && pkg.Version != "":
			return pkg.Version, nil
		case err == nil:
			return "", fmt.Errorf("package of %s: %s has no version", file, name)
		case !errors.Is(err, os.ErrNotExist):
			return "", fmt.Errorf("package of %s: %w", file, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("package of %s: no package.json above it", file)
		}
		d = parent
	}
}

func readJSONFile(name string, v any) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func startInspector(t testing.TB, node, preload, dir string, inst *inspectorInstall, addr netip.Addr, token string, omitAuth bool) (*Inspector, error) {
	t.Helper()
	uiPort, err := freePort(addr)
	if err != nil {
		return nil, err
	}
	proxyPort, err := freePort(addr)
	if err != nil {
		return nil, err
	}
	if proxyPort == uiPort {
		return nil, fmt.Errorf("ports %d and %d: %w", uiPort, proxyPort, errAddrInUse)
	}
	cmd := exec.Command(node, inst.launcher)
	cmd.Dir = dir
	cmd.Env = inspectorEnv(preload, addr.String(), uiPort, proxyPort, token, omitAuth)
	proc, err := startNodeProc(t, "inspector", cmd)
	if err != nil {
		return nil, err
	}
	uiAddr := net.JoinHostPort(addr.String(), strconv.Itoa(uiPort))
	proxyAddr := net.JoinHostPort(addr.String(), strconv.Itoa(proxyPort))
	if err := proc.waitListening([]string{uiAddr, proxyAddr}, inspectorStartTimeout, "EADDRINUSE", "IS IN USE"); err != nil {
		return nil, err
	}
	out, stop := proc.out, proc.stop

	in := &Inspector{
		UIURL:       "http://" + uiAddr,
		ProxyURL:    "http://" + proxyAddr,
		Host:        addr.String(),
		UIPort:      uiPort,
		ProxyPort:   proxyPort,
		Version:     inst.version,
		ProxyScript: inst.proxyScript,
		Token:       token,
		AuthOmitted: omitAuth,
		PID:         cmd.Process.Pid,
		out:         out,
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("mcptest: %s %s (UI %s, proxy %s) output:\n%s", InspectorPackage, inst.version, uiAddr, proxyAddr, out.String())
		}
	})
	return in, nil
}

// inspectorEnv is the launcher's environment. NODE_OPTIONS carries the
// loopback preload to the launcher and, through the environment the launcher
// passes on, to the proxy and UI processes it spawns. HOST is what versions
// from 0.14.1 on bind to; the preload enforces the address for all of them.
// The token is given under both names the versions read (MCP_PROXY_TOKEN up
// to 0.15, MCP_PROXY_AUTH_TOKEN later).
func inspectorEnv(preload, host string, uiPort, proxyPort int, token string, omitAuth bool) []string {
	env := []string{
		BindHostEnv + "=" + host,
		"NODE_OPTIONS=--require " + nodeOptionsQuote(preload),
		"HOST=" + host,
		"CLIENT_PORT=" + strconv.Itoa(uiPort),
		"SERVER_PORT=" + strconv.Itoa(proxyPort),
		"MCP_AUTO_OPEN_ENABLED=false",
		"BROWSER=none",
	}
	if omitAuth {
		env = append(env, "DANGEROUSLY_OMIT_AUTH=true")
	} else {
		env = append(env, "MCP_PROXY_TOKEN="+token, "MCP_PROXY_AUTH_TOKEN="+token)
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// nodeOptionsQuote quotes a path for NODE_OPTIONS, whose parser takes a
// double-quoted string with backslash escapes for '"' and '\'.
func nodeOptionsQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
