package host

import (
	"context"
	"encoding/binary"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
	"github.com/mcpwarden/mcpwarden/internal/scan"
)

// quickScan keeps probes of the tests short.
var quickScan = scan.Options{Concurrency: 8}

func init() {
	quickScan.Probe.ConnectTimeout = 2 * time.Second
	quickScan.Probe.RequestTimeout = 3 * time.Second
	quickScan.Probe.ServiceTimeout = 15 * time.Second
}

// tree returns a Reader of a captured proc tree of package procfs.
func tree(t *testing.T, name string) *procfs.Reader {
	t.Helper()
	dir := filepath.Join("procfs", "testdata", name)
	b, err := os.ReadFile(filepath.Join(dir, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	return &procfs.Reader{Proc: os.DirFS(filepath.Join(dir, "proc")), Users: procfs.ParsePasswd(b), Order: binary.LittleEndian}
}

func startLab(t *testing.T, kind lab.Kind) *lab.Server {
	t.Helper()
	srv, err := lab.Start(context.Background(), kind, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(l.Addr().String())
	l.Close()
	return ap
}

// mapping stands loopback servers in for listeners of a captured tree: the
// captured bind address is what the verdict judges, the probe goes to the
// loopback stand-in. Unmapped listeners are not probed.
func mapping(m map[string]string) func(netip.AddrPort) (netip.AddrPort, bool) {
	return func(b netip.AddrPort) (netip.AddrPort, bool) {
		to, ok := m[b.String()]
		if !ok {
			return netip.AddrPort{}, false
		}
		return netip.MustParseAddrPort(to), true
	}
}

func addrs(s ...string) func() ([]netip.Addr, error) {
	return func() ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func audit(t *testing.T, opts Options) ([]*result.Endpoint, *Result) {
	t.Helper()
	opts.NoConfigs = true
	if opts.Scan.Concurrency == 0 {
		opts.Scan = quickScan
	}
	var recs []*result.Endpoint
	res, err := Audit(context.Background(), opts, func(ep *result.Endpoint) error {
		recs = append(recs, ep)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, res
}

func byListen(recs []*result.Endpoint, addr string, port int) []*result.Endpoint {
	var out []*result.Endpoint
	for _, r := range recs {
		if r.Listen != nil && r.Listen.Address == addr && r.Listen.Port == port {
			out = append(out, r)
		}
	}
	return out
}

func ruleSev(fs []finding.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+"/"+f.Severity.String())
	}
	return out
}

func findRule(fs []finding.Finding, id string) *finding.Finding {
	for i := range fs {
		if fs[i].Rule == id {
			return &fs[i]
		}
	}
	return nil
}

// TestWildcardVerdicts runs the audit on the captured tree of a machine
// with a FastMCP server on 0.0.0.0:8000 and server-everything on [::]:3000.
// No test binds a wildcard address: an official Go SDK server on
// 127.0.0.1 stands in for the FastMCP listener (the probe goes to it, the
// verdict judges the captured bind), and a closed loopback port for the
// busy server-everything.
func TestWildcardVerdicts(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable)
	closed := closedPort(t)
	m := mapping(map[string]string{"0.0.0.0:8000": open.Addr, "[::]:3000": closed.String()})
	tests := []struct {
		name   string
		local  func() ([]netip.Addr, error)
		sev    finding.Severity
		reason string
	}{
		{"public address", addrs("127.0.0.1", "192.168.1.5", "203.0.113.5"), finding.Critical, "public address 203.0.113.5"},
		{"private only", addrs("127.0.0.1", "10.0.0.5", "fd00::5"), finding.High, "no public address"},
		{"public IPv6 only, IPv4 wildcard", addrs("10.0.0.5", "2001:4860::5"), finding.High, "no public address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, _ := audit(t, Options{Proc: tree(t, "wildcard-node"), ProbeAddr: m, LocalAddrs: tt.local})
			fast := byListen(recs, "0.0.0.0", 8000)
			if len(fast) == 0 {
				t.Fatalf("no record for 0.0.0.0:8000 in %d records", len(recs))
			}
			var mcpRec *result.Endpoint
			for _, r := range fast {
				if r.Status == result.StatusMCP {
					mcpRec = r
				}
			}
			if mcpRec == nil {
				t.Fatalf("0.0.0.0:8000 not recognised as MCP: %+v", fast[0])
			}
			p := mcpRec.Process
			if p == nil || p.PID != 4343 || p.User != "dev" || p.MCPServer != "fastmcp" || !strings.Contains(p.Command, "fastmcp run server.py") {
				t.Errorf("process %+v", p)
			}
			if mcpRec.Listen.ProbedAt != "127.0.0.1" {
				t.Errorf("probed at %q", mcpRec.Listen.ProbedAt)
			}
			f := findRule(mcpRec.Findings, rules.ListenerExposed)
			if f == nil || f.Severity != tt.sev {
				t.Fatalf("findings %v, want %s at %s", ruleSev(mcpRec.Findings), rules.ListenerExposed, tt.sev)
			}
			for _, want := range []string{"pid 4343 (user dev)", "0.0.0.0:8000 (every interface)", "without credentials", tt.reason,
				"fix: run it with --host 127.0.0.1", "run_shell_command"} {
				if !strings.Contains(f.Evidence, want) {
					t.Errorf("evidence %q lacks %q", f.Evidence, want)
				}
			}
			if findRule(mcpRec.Findings, rules.Unauthenticated) != nil {
				t.Errorf("MCPW-001 judged the loopback stand-in: %v", ruleSev(mcpRec.Findings))
			}
			if f := findRule(mcpRec.Findings, rules.LocalWebReachable); f == nil || !strings.Contains(f.Evidence, "process: pid 4343") {
				t.Errorf("MCPW-009 missing or without the process: %+v", f)
			}

			every := byListen(recs, "::", 3000)
			if len(every) != 1 {
				t.Fatalf("records for [::]:3000: %d", len(every))
			}
			u := findRule(every[0].Findings, rules.ListenerMCPUnconfirmed)
			if u == nil || !strings.Contains(u.Evidence, "mcp-server-everything") || !strings.Contains(u.Evidence, "no bind-address option") ||
				!strings.Contains(u.Evidence, "found no open MCP endpoint (closed") {
				t.Errorf("[::]:3000 findings %+v", every[0].Findings)
			}
			if every[0].Process.PID != 4242 {
				t.Errorf("[::]:3000 process %+v", every[0].Process)
			}
		})
	}
}

// TestDockerAndNotProbed: a docker-proxy on 0.0.0.0:8811 (probed through a
// loopback stand-in) gets the publish fix; a listener that is not probed
// is judged by its command line and says so.
func TestDockerAndNotProbed(t *testing.T) {
	open := startLab(t, lab.KindOpenStateless)
	recs, _ := audit(t, Options{Proc: tree(t, "docker"), ProbeAddr: mapping(map[string]string{"0.0.0.0:8811": open.Addr}),
		LocalAddrs: addrs("192.168.1.5")})
	var proxy *result.Endpoint
	for _, r := range byListen(recs, "0.0.0.0", 8811) {
		if r.Status == result.StatusMCP {
			proxy = r
		}
	}
	if proxy == nil {
		t.Fatal("no MCP record for the docker-proxy listener")
	}
	f := findRule(proxy.Findings, rules.ListenerExposed)
	if f == nil || f.Severity != finding.High || !strings.Contains(f.Evidence, "docker run -p 127.0.0.1:HOSTPORT:CONTAINERPORT") {
		t.Errorf("docker-proxy findings %+v", proxy.Findings)
	}
	fetch := byListen(recs, "0.0.0.0", 8080)
	if len(fetch) != 1 || fetch[0].Status != result.StatusNotProbed {
		t.Fatalf("records for 0.0.0.0:8080: %+v", fetch)
	}
	if fetch[0].Process.Container != "docker:4f1e2d3c4b5a" || fetch[0].Listen.ProbedAt != "" {
		t.Errorf("record %+v %+v", fetch[0].Process, fetch[0].Listen)
	}
	if u := findRule(fetch[0].Findings, rules.ListenerMCPUnconfirmed); u == nil || !strings.Contains(u.Evidence, "not probed: probes stay on loopback") {
		t.Errorf("findings %+v", fetch[0].Findings)
	}
}

// TestHiddenOwner: sockets whose owner is not visible are reported, with
// the note and an info finding.
func TestHiddenOwner(t *testing.T) {
	rd := tree(t, "unreadable")
	rd.Proc = denyFS{rd.Proc, "10/fd"}
	recs, res := audit(t, Options{Proc: rd, ProbeAddr: mapping(nil), LocalAddrs: addrs()})
	if len(recs) != 3 {
		t.Fatalf("%d records, want every listener", len(recs))
	}
	h := byListen(recs, "0.0.0.0", 5000)
	if len(h) != 1 || h[0].Process.Note != procfs.NoteNeedsRoot || h[0].Process.PID != 0 {
		t.Fatalf("records %+v", h)
	}
	if f := findRule(h[0].Findings, rules.ListenerOwnerHidden); f == nil || !strings.Contains(f.Evidence, "not visible without root") {
		t.Errorf("findings %+v", h[0].Findings)
	}
	if !slices.ContainsFunc(res.Warnings, func(w string) bool { return strings.Contains(w, "1 processes are not visible without root") }) {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// TestJudgeListener checks the verdict table on synthetic records.
func TestJudgeListener(t *testing.T) {
	openRec := func() *result.Endpoint {
		return &result.Endpoint{Status: result.StatusMCP, URL: "http://127.0.0.1:9/mcp", Host: "127.0.0.1", Port: 9,
			MCP:      &result.MCPInfo{Confidence: "confirmed"},
			Auth:     &result.AuthInfo{Scheme: result.AuthNone},
			Tools:    []result.Tool{{Name: "t"}},
			Findings: []finding.Finding{rules.New(rules.Unauthenticated, finding.Low, "x")}}
	}
	authRec := func() *result.Endpoint {
		r := openRec()
		r.Auth = &result.AuthInfo{Required: true, Scheme: result.AuthOAuth}
		r.Findings = nil
		return r
	}
	owner := []procfs.Process{{PID: 7, User: "dev", Cmdline: []string{"node", "srv.js", "--api-key", "supersecretvalue1"}}}
	mcpOwner := []procfs.Process{{PID: 8, User: "dev", Cmdline: []string{"uvx", "mcp-server-fetch"}}}
	l := func(addr string, owners []procfs.Process) *procfs.Listener {
		return &procfs.Listener{Socket: procfs.Socket{Addr: netip.MustParseAddrPort(addr), UID: 1000}, Owners: owners}
	}
	pub := []netip.Addr{netip.MustParseAddr("198.51.100.7")}
	tests := []struct {
		name   string
		ep     *result.Endpoint
		l      *procfs.Listener
		public []netip.Addr
		want   []string
	}{
		{"wildcard open public", openRec(), l("0.0.0.0:9", owner), pub, []string{"MCPW-025/critical"}},
		{"wildcard open private", openRec(), l("0.0.0.0:9", owner), nil, []string{"MCPW-025/high"}},
		{"ipv6 wildcard open, public v4", openRec(), l("[::]:9", owner), pub, []string{"MCPW-025/critical"}},
		{"specific public bind", openRec(), l("198.51.100.7:9", owner), nil, []string{"MCPW-025/critical"}},
		{"specific private bind", openRec(), l("10.1.2.3:9", owner), pub, []string{"MCPW-025/high"}},
		{"loopback open keeps scan verdict", openRec(), l("127.0.0.1:9", owner), pub, []string{"MCPW-001/low"}},
		{"wildcard with auth", authRec(), l("0.0.0.0:9", owner), pub, nil},
		{"not probed, recognised", &result.Endpoint{Status: result.StatusNotProbed}, l("10.1.2.3:9", mcpOwner), nil, []string{"MCPW-026/medium"}},
		{"not probed, unknown", &result.Endpoint{Status: result.StatusNotProbed}, l("10.1.2.3:9", owner), nil, nil},
		{"hidden owner", &result.Endpoint{Status: result.StatusNotMCP}, &procfs.Listener{Socket: procfs.Socket{Addr: netip.MustParseAddrPort("0.0.0.0:9")}, OwnerNote: procfs.NoteNeedsRoot}, nil, []string{"MCPW-027/info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			judgeListener(tt.ep, tt.l, "127.0.0.1", tt.public)
			if got := ruleSev(tt.ep.Findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
			for _, f := range tt.ep.Findings {
				if strings.Contains(f.Evidence, "supersecretvalue1") {
					t.Errorf("secret in evidence %q", f.Evidence)
				}
			}
			if tt.ep.Process != nil && strings.Contains(tt.ep.Process.Command, "supersecretvalue1") {
				t.Errorf("secret in command %q", tt.ep.Process.Command)
			}
		})
	}
}

// denyFS answers permission denied under one path, as procfs does for
// another user's fd directory without root.
type denyFS struct {
	fs.FS
	deny string
}

func (d denyFS) denied(name string) bool {
	return name == d.deny || strings.HasPrefix(name, d.deny+"/")
}

func (d denyFS) Open(name string) (fs.File, error) {
	if d.denied(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func (d denyFS) ReadLink(name string) (string, error) {
	if d.denied(name) {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrPermission}
	}
	return fs.ReadLink(d.FS, name)
}

func (d denyFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(d.FS, name) }

// TestDualStackFallback: a listener on :: whose ::1 does not answer is
// probed again at 127.0.0.1 (a dual-stack socket with IPv6 off on
// loopback). The test dials [::1]:P, where nothing listens, and finds the
// stand-in server on 127.0.0.1:P; it binds no wildcard address.
func TestDualStackFallback(t *testing.T) {
	open := startLab(t, lab.KindOpenStreamable)
	port := netip.MustParseAddrPort(open.Addr).Port()
	v6 := netip.AddrPortFrom(netip.IPv6Loopback(), port).String()
	recs, _ := audit(t, Options{Proc: tree(t, "wildcard-node"), ProbeAddr: mapping(map[string]string{"[::]:3000": v6}),
		LocalAddrs: addrs("10.0.0.1", "fd00::1")})
	rs := byListen(recs, "::", 3000)
	var mcpRec *result.Endpoint
	for _, r := range rs {
		if r.Status == result.StatusMCP {
			mcpRec = r
		}
	}
	if mcpRec == nil {
		t.Fatalf("records %d, none MCP", len(rs))
	}
	if mcpRec.Listen.ProbedAt != "127.0.0.1" || mcpRec.Process.PID != 4242 {
		t.Errorf("listen %+v process %+v", mcpRec.Listen, mcpRec.Process)
	}
	if f := findRule(mcpRec.Findings, rules.ListenerExposed); f == nil || f.Severity != finding.High {
		t.Errorf("findings %v, want MCPW-025/high", ruleSev(mcpRec.Findings))
	}
	// Only the retried record is emitted for the listener, not the closed
	// ::1 attempt.
	for _, r := range rs {
		if r.Listen.ProbedAt != "127.0.0.1" {
			t.Errorf("record probed at %q emitted", r.Listen.ProbedAt)
		}
	}
}
