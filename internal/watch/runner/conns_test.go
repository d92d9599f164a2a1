package runner

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// procTree is a fake proc tree whose net/tcp the test rewrites between
// samples, in the format and byte order (little endian) of Linux.
type procTree struct {
	dir   string
	inode int
}

func newProcTree(t *testing.T) *procTree {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &procTree{dir: dir, inode: 5000}
}

func (p *procTree) reader() *procfs.Reader {
	return &procfs.Reader{Proc: os.DirFS(p.dir), Order: binary.LittleEndian}
}

// hexAddr renders an IPv4 address and port as /proc/net/tcp does on a
// little-endian machine.
func hexAddr(t *testing.T, s string) string {
	t.Helper()
	ap := netip.MustParseAddrPort(s)
	b := ap.Addr().As4()
	return fmt.Sprintf("%02X%02X%02X%02X:%04X", b[3], b[2], b[1], b[0], ap.Port())
}

// write replaces net/tcp: listeners (state 0A) and established
// connections (state 01) given as "local remote".
func (p *procTree) write(t *testing.T, listeners []string, conns []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	n := 0
	row := func(local, remote, st string) {
		p.inode++
		fmt.Fprintf(&b, "%4d: %s %s %s 00000000:00000000 00:00000000 00000000     0        0 %d 1 0000000000000000 20 0 0 10 -1\n",
			n, hexAddr(t, local), hexAddr(t, remote), st, p.inode)
		n++
	}
	for _, l := range listeners {
		row(l, "0.0.0.0:0", "0A")
	}
	for _, c := range conns {
		local, remote, _ := strings.Cut(c, " ")
		row(local, remote, "01")
	}
	if err := os.WriteFile(filepath.Join(p.dir, "net", "tcp"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listenerRecord is a host-audit record of an MCP listener.
func listenerRecord(url, addr string, port int, authRequired bool) *result.Endpoint {
	ep := record(url, authRequired)
	ep.MCP.Confidence = "confirmed"
	ep.Listen = &result.ListenInfo{Address: addr, Port: port}
	return ep
}

func eventsOf(t *testing.T, evs []model.Event) map[model.Type][]model.ConnDetail {
	t.Helper()
	out := map[model.Type][]model.ConnDetail{}
	for _, e := range evs {
		var d model.ConnDetail
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			t.Fatalf("event %s detail %s: %v", e.Type, e.Detail, err)
		}
		out[e.Type] = append(out[e.Type], d)
	}
	return out
}

func TestSampleConnections(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	tree := newProcTree(t)
	g := config.Group{Name: "box", Host: true, Schedule: config.Schedule{Interval: time.Hour},
		Connections: &config.Connections{Interval: 5 * time.Second, Gated: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8000")}}}
	open := listenerRecord("http://127.0.0.1:9000/mcp", "0.0.0.0", 9000, false)
	gated := listenerRecord("http://127.0.0.1:8000/mcp", "0.0.0.0", 8000, true)
	const selfPID = 4242
	r, err := New(Options{Store: st, Groups: []config.Group{g}, SelfPID: selfPID,
		Routes: []config.Route{{Name: "pager", Kind: config.RouteLog, MaxAttempts: 1, Timeout: time.Second, MinSeverity: finding.High}},
		Connections: &host.ConnOptions{Proc: tree.reader(), NoGateDiscovery: true, NoPeerProcesses: true,
			LocalAddrs: func() ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.200.0.1")}, nil
			}},
		Scan: func(_ context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			emit(open)
			emit(gated)
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	listeners := []string{"0.0.0.0:9000", "0.0.0.0:8000", "127.0.0.1:5432"}

	// Before any audit the group has no listener: nothing is sampled.
	tree.write(t, listeners, nil)
	if res, err := r.Sample(ctx, g); err != nil || res.Listeners != 0 {
		t.Fatalf("sample before the audit = %+v, %v", res, err)
	}
	if _, err := r.Cycle(ctx, g); err != nil {
		t.Fatal(err)
	}

	// 1: one public peer of the open server, a local client, a database
	// client (not an MCP listener) and the gate's loopback connection.
	tree.write(t, listeners, []string{
		"10.200.0.1:9000 203.0.113.7:40000",
		"127.0.0.1:9000 127.0.0.1:50000",
		"127.0.0.1:50000 127.0.0.1:9000",
		"127.0.0.1:5432 203.0.113.9:33000",
		"127.0.0.1:8000 127.0.0.1:51000",
		"127.0.0.1:51000 127.0.0.1:8000",
	})
	res, err := r.Sample(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	got := eventsOf(t, res.Events)
	if res.Listeners != 2 || len(res.Events) != 1 || len(got[model.ConnectionExternal]) != 1 {
		t.Fatalf("sample 1 = %+v", res)
	}
	if d := got[model.ConnectionExternal][0]; d.Peer != "203.0.113.7" || d.PeerClass != "public" || d.Listener != "0.0.0.0:9000" ||
		d.Rule != rules.InboundPublicOpen || d.Severity != "critical" || res.Events[0].URL != open.URL {
		t.Errorf("external event = %+v (url %s)", d, res.Events[0].URL)
	}

	// 2: the same peer on a new connection, and the same in a new sample:
	// nothing new.
	tree.write(t, listeners, []string{
		"10.200.0.1:9000 203.0.113.7:40001",
		"10.200.0.1:9000 203.0.113.7:40002",
		"127.0.0.1:9000 127.0.0.1:50000",
		"127.0.0.1:50000 127.0.0.1:9000",
	})
	for i := range 2 {
		res, err = r.Sample(ctx, g)
		if err != nil || len(res.Events) != 0 {
			t.Fatalf("sample 2.%d = %+v, %v: want no event", i, res, err)
		}
	}
	// A restarted watcher knows nothing in memory: the store's dedup keys
	// keep the peer from firing again.
	r2, err := New(Options{Store: st, Groups: []config.Group{g}, SelfPID: selfPID, Connections: r.o.Connections, Scan: r.o.Scan})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r2.Sample(ctx, g); err != nil || len(res.Events) != 0 || res.Listeners != 2 {
		t.Fatalf("sample after restart = %+v, %v", res, err)
	}

	// 3: a second external peer fires once; a peer from another machine
	// on the gated listener is a bypass; the watcher's own probe and the
	// local peer that cannot be told from the gate are not.
	tree.write(t, listeners, []string{
		"10.200.0.1:9000 203.0.113.7:40002",
		"10.200.0.1:9000 198.51.100.20:41000",
		"10.200.0.1:8000 10.200.0.2:55000",
		"127.0.0.1:8000 127.0.0.1:51000",
		"127.0.0.1:51000 127.0.0.1:8000",
	})
	res, err = r.Sample(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	got = eventsOf(t, res.Events)
	if len(res.Events) != 2 || len(got[model.ConnectionExternal]) != 1 || len(got[model.ConnectionBypass]) != 1 {
		t.Fatalf("sample 3 events = %+v", got)
	}
	if d := got[model.ConnectionExternal][0]; d.Peer != "198.51.100.20" || d.Severity != "critical" {
		t.Errorf("second external peer = %+v", d)
	}
	if d := got[model.ConnectionBypass][0]; d.Peer != "10.200.0.2" || d.Rule != rules.GateBypassed || d.Severity != "critical" ||
		!d.Gated || d.Listener != "0.0.0.0:8000" {
		t.Errorf("bypass = %+v", d)
	}
	if res, err := r.Sample(ctx, g); err != nil || len(res.Events) != 0 {
		t.Fatalf("sample 3 again = %+v, %v", res, err)
	}

	// The peers per listener, with first and last seen.
	cs := st.(store.Connections)
	peers, err := cs.Peers(ctx, "0.0.0.0:9000", 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range peers {
		names = append(names, p.Peer)
		if p.Peer == "203.0.113.7" && (p.Samples != 6 || p.PeerPort != 40002 || !p.LastSeen.After(p.FirstSeen)) {
			t.Errorf("203.0.113.7 = %+v", p)
		}
	}
	slices.Sort(names)
	if want := []string{"127.0.0.1", "198.51.100.20", "203.0.113.7"}; !slices.Equal(names, want) {
		t.Errorf("peers of 0.0.0.0:9000 = %v, want %v", names, want)
	}
	if ps, _ := cs.Peers(ctx, "127.0.0.1:5432", 0); len(ps) != 0 {
		t.Errorf("peers of a listener that is not MCP were stored: %+v", ps)
	}
	if ps, _ := cs.Peers(ctx, "0.0.0.0:8000", 0); len(ps) != 2 || !ps[0].Gated {
		t.Errorf("peers of the gated listener = %+v", ps)
	}

	// The events go out through the routes, with their group.
	if _, _, err := r.Alerts(ctx); err != nil {
		t.Fatal(err)
	}
	alerts, err := st.(store.Outbox).Alerts(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, a := range alerts {
		if a.Group != "box" {
			t.Errorf("alert %d group %q", a.ID, a.Group)
		}
		if strings.HasPrefix(string(a.Event.Type), "connection.") {
			types = append(types, string(a.Event.Type))
		}
	}
	slices.Sort(types)
	if want := []string{"connection.bypass", "connection.external", "connection.external"}; !slices.Equal(types, want) {
		t.Errorf("connection alerts = %v, want %v", types, want)
	}
}

// The watcher's own connections (its audit probes) are never judged, and
// a sample never runs while another one does.
func TestSampleSelfAndBusy(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	tree := newProcTree(t)
	g := config.Group{Name: "box", Host: true, Schedule: config.Schedule{Interval: time.Hour},
		Connections: &config.Connections{Interval: time.Second, Gated: []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:8000")}}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Connections: &host.ConnOptions{Proc: tree.reader(), NoGateDiscovery: true, NoPeerProcesses: true,
			LocalAddrs: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil }},
		Scan: func(_ context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			return nil, emit(listenerRecord("http://127.0.0.1:8000/mcp", "127.0.0.1", 8000, true))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cycle(ctx, g); err != nil {
		t.Fatal(err)
	}
	tree.write(t, []string{"127.0.0.1:8000"}, []string{"127.0.0.1:8000 127.0.0.1:51000"})
	lc := &host.ListenerConns{Listener: netip.MustParseAddrPort("127.0.0.1:8000"), Gated: true, Peers: []host.Peer{
		{Remote: netip.MustParseAddrPort("127.0.0.1:51000"), Class: host.PeerLoopback, OnHost: true, Process: &procfs.Process{PID: 77, Exe: "/usr/bin/curl",
			Cmdline: []string{"/usr/bin/curl", "--token", "c2VjcmV0LXRva2VuLTAxMjM0NTY3", "http://127.0.0.1:8000/mcp"}}},
		{Remote: netip.MustParseAddrPort("127.0.0.1:51001"), Class: host.PeerLoopback, OnHost: true, Process: &procfs.Process{PID: 99, Exe: "/usr/bin/mcpwarden"}},
	}}
	ref := listenerRef{addr: lc.Listener, ep: listenerRecord("http://127.0.0.1:8000/mcp", "127.0.0.1", 8000, true)}
	peers, evs := judgePeers("box", ref, lc, 99, time.Now())
	if len(peers) != 1 || len(evs) != 1 || evs[0].Type != model.ConnectionBypass || evs[0].Subject != "127.0.0.1 /usr/bin/curl" {
		t.Fatalf("judgePeers = %+v, %+v", peers, evs)
	}
	if strings.Contains(string(evs[0].Detail), "c2VjcmV0") || strings.Contains(peers[0].Process, "c2VjcmV0") {
		t.Errorf("a token of the peer's command line was kept: %s / %s", evs[0].Detail, peers[0].Process)
	}
	if d := eventsOf(t, evs)[model.ConnectionBypass][0]; d.Severity != "high" || d.PID != 77 || !strings.HasPrefix(d.Process, "/usr/bin/curl --token") {
		t.Errorf("local bypass = %+v", d)
	}

	s := r.samplerOf(g.Name)
	s.busy.Lock()
	if _, err := r.Sample(ctx, g); !errors.Is(err, ErrSampleBusy) {
		t.Errorf("Sample during a sample = %v, want ErrSampleBusy", err)
	}
	s.busy.Unlock()
	if _, err := r.Sample(ctx, config.Group{Name: "scan", Schedule: g.Schedule}); err == nil {
		t.Error("Sample of a group without connections succeeded")
	}
}

// Run samples on the group's interval.
func TestRunSamples(t *testing.T) {
	st := openSQLite(t)
	tree := newProcTree(t)
	tree.write(t, []string{"0.0.0.0:9000"}, []string{"10.200.0.1:9000 203.0.113.7:40000"})
	g := config.Group{Name: "box", Host: true, Schedule: config.Schedule{Interval: time.Hour},
		Connections: &config.Connections{Interval: 20 * time.Millisecond}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Connections: &host.ConnOptions{Proc: tree.reader(), NoGateDiscovery: true, NoPeerProcesses: true,
			LocalAddrs: func() ([]netip.Addr, error) { return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil }},
		Scan: func(_ context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			return nil, emit(listenerRecord("http://127.0.0.1:9000/mcp", "0.0.0.0", 9000, false))
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for {
		ps, err := st.(store.Connections).Peers(ctx, "0.0.0.0:9000", 0)
		if err == nil && len(ps) == 1 && ps[0].Samples >= 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Run did not sample: %+v, %v", ps, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	evs, _ := st.Events(t.Context(), time.Time{}, 0)
	n := 0
	for _, e := range evs {
		if e.Type == model.ConnectionExternal {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d connection.external events over several samples, want 1", n)
	}
}
