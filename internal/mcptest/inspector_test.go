package mcptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestInspectorPins(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := findRepoRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ dir, version string }{
		{InspectorVulnDir, InspectorVulnVersion},
		{InspectorFixedDir, InspectorFixedVersion},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(root, "testdata", tc.dir)
			var pkg struct {
				Private      bool              `json:"private"`
				Scripts      map[string]string `json:"scripts"`
				Dependencies map[string]string `json:"dependencies"`
				Overrides    map[string]string `json:"overrides"`
			}
			readJSON(t, filepath.Join(dir, "package.json"), &pkg)
			if !pkg.Private || len(pkg.Scripts) != 0 {
				t.Errorf("package.json: private=%v scripts=%v, want private and no scripts", pkg.Private, pkg.Scripts)
			}
			if want := map[string]string{InspectorPackage: tc.version}; !mapsEqual(pkg.Dependencies, want) {
				t.Errorf("dependencies = %v, want %v", pkg.Dependencies, want)
			}
			wantOver := map[string]string{}
			for _, sub := range InspectorSubPackages {
				wantOver[sub] = tc.version
			}
			if !mapsEqual(pkg.Overrides, wantOver) {
				t.Errorf("overrides = %v, want %v", pkg.Overrides, wantOver)
			}

			var lock struct {
				LockfileVersion int `json:"lockfileVersion"`
				Packages        map[string]struct {
					Version          string `json:"version"`
					Integrity        string `json:"integrity"`
					HasInstallScript bool   `json:"hasInstallScript"`
				} `json:"packages"`
			}
			readJSON(t, filepath.Join(dir, "package-lock.json"), &lock)
			if lock.LockfileVersion != 3 {
				t.Errorf("lockfileVersion = %d, want 3", lock.LockfileVersion)
			}
			for _, name := range append([]string{InspectorPackage}, InspectorSubPackages...) {
				key := "node_modules/" + name
				if got := lock.Packages[key]; got.Version != tc.version || !strings.HasPrefix(got.Integrity, "sha512-") {
					t.Errorf("lockfile %s = %+v, want version %s with a sha512 integrity", key, got, tc.version)
				}
			}
			for key, p := range lock.Packages {
				// setup-npm.sh installs with --ignore-scripts: a package
				// that needs its install script would be broken.
				if p.HasInstallScript {
					t.Errorf("lockfile %s has an install script", key)
				}
			}

			inst, err := resolveInspector(dir)
			if err != nil {
				missingDeps(t, err.Error())
			}
			if inst.version != tc.version {
				t.Errorf("installed proxy version %s, want %s: %s", inst.version, tc.version, setupHint)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestStartInspector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir, host, version string
		opts                     []InspectorOption
		// wantConfig is the status of GET /config without a token,
		// wantOrigin with a foreign Origin and no token.
		wantConfig, wantOrigin int
	}{
		{"vulnerable", InspectorVulnDir, "127.0.0.71", InspectorVulnVersion, nil, http.StatusOK, http.StatusOK},
		{"fixed", InspectorFixedDir, "127.0.0.72", InspectorFixedVersion, nil, http.StatusUnauthorized, http.StatusForbidden},
		{"fixed without auth", InspectorFixedDir, "127.0.0.73", InspectorFixedVersion, []InspectorOption{WithoutProxyAuth()}, http.StatusOK, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := StartInspector(t, tc.dir, tc.host, tc.opts...)
			if in.Version != tc.version {
				t.Errorf("Version = %q, want %q", in.Version, tc.version)
			}
			if in.Host != tc.host || in.UIURL != "http://"+tc.host+":"+strconv.Itoa(in.UIPort) ||
				in.ProxyURL != "http://"+tc.host+":"+strconv.Itoa(in.ProxyPort) {
				t.Errorf("addresses: host %s UI %s proxy %s", in.Host, in.UIURL, in.ProxyURL)
			}
			if (in.Token == "") != in.AuthOmitted {
				t.Errorf("Token %q with AuthOmitted %v", in.Token, in.AuthOmitted)
			}
			checkInspectorListeners(t, in)

			hc := loopbackHTTPClient()
			if resp, body := get(t, hc, in.UIURL+"/", "text/html"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "<title>MCP Inspector</title>") {
				t.Errorf("UI: HTTP %d %q", resp.StatusCode, body)
			}
			if resp, body := get(t, hc, in.ProxyURL+"/health", "application/json"); resp.StatusCode != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
				t.Errorf("proxy /health: HTTP %d %q", resp.StatusCode, body)
			}
			if got := proxyConfigStatus(t, hc, in.ProxyURL, "", ""); got != tc.wantConfig {
				t.Errorf("GET /config without token: HTTP %d, want %d", got, tc.wantConfig)
			}
			if got := proxyConfigStatus(t, hc, in.ProxyURL, "", "http://rebind.invalid"); got != tc.wantOrigin {
				t.Errorf("GET /config with a foreign Origin: HTTP %d, want %d", got, tc.wantOrigin)
			}
			if in.Token != "" {
				if got := proxyConfigStatus(t, hc, in.ProxyURL, in.Token, ""); got != http.StatusOK {
					t.Errorf("GET /config with the token: HTTP %d, want 200", got)
				}
			}
		})
	}
}

func proxyConfigStatus(t *testing.T, hc *http.Client, base, token, origin string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/config", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set(InspectorProxyAuthHeader, "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s/config: %v", base, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		t.Fatalf("GET %s/config: body: %v", base, err)
	}
	return resp.StatusCode
}

// checkInspectorListeners asserts from /proc that the processes of the
// Inspector's group listen on exactly its two addresses, that nothing listens
// on a wildcard address with either port, and that the process serving the
// proxy port runs in.ProxyScript, of the package version in.Version.
func checkInspectorListeners(t *testing.T, in *Inspector) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Logf("listener check needs /proc (linux); skipped on %s", runtime.GOOS)
		return
	}
	listening, err := procListeners()
	if err != nil {
		t.Fatalf("read /proc/net/tcp*: %v", err)
	}
	pids, err := processGroup(in.PID)
	if err != nil {
		t.Fatalf("process group %d: %v", in.PID, err)
	}
	if len(pids) < 3 {
		t.Errorf("process group %d has pids %v, want the launcher, the proxy and the UI server", in.PID, pids)
	}
	ui := netip.AddrPortFrom(netip.MustParseAddr(in.Host), uint16(in.UIPort))
	proxy := netip.AddrPortFrom(netip.MustParseAddr(in.Host), uint16(in.ProxyPort))
	var own []netip.AddrPort
	proxyPID := 0
	for _, pid := range pids {
		inodes, err := processSocketInodes(pid)
		if err != nil {
			t.Fatalf("sockets of pid %d: %v", pid, err)
		}
		for inode := range inodes {
			ap, ok := listening[inode]
			if !ok {
				continue
			}
			own = append(own, ap)
			if ap == proxy {
				proxyPID = pid
			}
		}
	}
	slices.SortFunc(own, func(a, b netip.AddrPort) int { return a.Compare(b) })
	want := []netip.AddrPort{ui, proxy}
	slices.SortFunc(want, func(a, b netip.AddrPort) int { return a.Compare(b) })
	if !slices.Equal(own, want) {
		t.Errorf("the Inspector's processes listen on %v, want exactly %v", own, want)
	}
	for _, ap := range listening {
		if (int(ap.Port()) == in.UIPort || int(ap.Port()) == in.ProxyPort) && ap.Addr().IsUnspecified() {
			t.Errorf("a socket listens on wildcard %s", ap)
		}
	}
	if proxyPID == 0 {
		return
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(proxyPID) + "/cmdline")
	if err != nil {
		t.Fatalf("cmdline of the proxy (pid %d): %v", proxyPID, err)
	}
	args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	if len(args) < 2 {
		t.Fatalf("proxy pid %d runs %q, want node and a script", proxyPID, args)
	}
	script := args[1]
	if filepath.Clean(script) != filepath.Clean(in.ProxyScript) {
		t.Errorf("the proxy runs %s, want %s", script, in.ProxyScript)
	}
	if v, err := NearestPackageVersion(script); err != nil || v != in.Version {
		t.Errorf("the running proxy's package version = %q (%v), want %q", v, err, in.Version)
	}
}

// processGroup lists the pids whose process group is pgid.
func processGroup(pgid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if g, ok := statPGRP(string(data)); ok && g == pgid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// statPGRP reads the process group from /proc/<pid>/stat: "pid (comm) state
// ppid pgrp ...", where comm may hold spaces and parentheses.
func statPGRP(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 3 {
		return 0, false
	}
	g, err := strconv.Atoi(f[2])
	return g, err == nil
}

func TestStatPGRP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		stat string
		want int
		ok   bool
	}{
		{"123 (node) S 1 123 123 0 -1", 123, true},
		{"77 (a) b) c) R 5 66 66 0", 66, true},
		{"77 (x", 0, false},
		{"77 (x) S 1", 0, false},
		{"77 (x) S 1 nan", 0, false},
	}
	for _, tc := range tests {
		g, ok := statPGRP(tc.stat)
		if g != tc.want || ok != tc.ok {
			t.Errorf("statPGRP(%q) = %d, %v, want %d, %v", tc.stat, g, ok, tc.want, tc.ok)
		}
	}
}

func TestStartInspectorBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir, host, want string
	}{
		{"path in dir", "../npm-inspector-vuln", "127.0.0.1", `inspector dir "../npm-inspector-vuln"`},
		{"other npm dir", "npm", "127.0.0.1", `inspector dir "npm"`},
		{"empty dir", "", "127.0.0.1", `inspector dir ""`},
		{"wildcard", InspectorVulnDir, "0.0.0.0", `host "0.0.0.0": not a loopback address`},
		{"private", InspectorFixedDir, "10.1.2.3", `host "10.1.2.3": not a loopback address`},
		{"name", InspectorFixedDir, "localhost", `host "localhost": not an IP literal`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := runFake(t, func(tb testing.TB) { StartInspector(tb, tc.dir, tc.host) })
			if !strings.Contains(f.fatal, tc.want) {
				t.Errorf("fatal = %q, want it to contain %q (skip %q)", f.fatal, tc.want, f.skip)
			}
		})
	}
}

func TestNearestPackageVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"package.json":       `{"name":"outer","version":"1.2.3"}`,
		"inner/package.json": `{"name":"inner"}`,
		"bad/package.json":   `{`,
		"a/b/index.js":       ``,
	} {
		name = filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, name, content)
	}
	tests := []struct {
		file, want, err string
	}{
		{filepath.Join(dir, "a", "b", "index.js"), "1.2.3", ""},
		{filepath.Join(dir, "inner", "x.js"), "", "has no version"},
		{filepath.Join(dir, "bad", "x.js"), "", "unexpected end of JSON"},
	}
	for _, tc := range tests {
		got, err := NearestPackageVersion(tc.file)
		if got != tc.want || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("NearestPackageVersion(%s) = %q, %v; want %q, error containing %q", tc.file, got, err, tc.want, tc.err)
		}
	}
}

func TestBinScript(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, want string
		ok        bool
	}{
		{`"cli/build/cli.js"`, "cli/build/cli.js", true},
		{`{"mcp-inspector":"cli/build/cli.js"}`, "cli/build/cli.js", true},
		{`{"a":"x.js","b":"y.js"}`, "", false},
		{`{}`, "", false},
		{`""`, "", false},
		{`null`, "", false},
	}
	for _, tc := range tests {
		got, err := binScript(json.RawMessage(tc.raw))
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("binScript(%s) = %q, %v; want %q, ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
	}
}

func TestNodeOptionsQuote(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`/a/b.cjs`:         `"/a/b.cjs"`,
		`/my dir/b.cjs`:    `"/my dir/b.cjs"`,
		`/q"uote\back.cjs`: `"/q\"uote\\back.cjs"`,
	}
	for in, want := range tests {
		if got := nodeOptionsQuote(in); got != want {
			t.Errorf("nodeOptionsQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
