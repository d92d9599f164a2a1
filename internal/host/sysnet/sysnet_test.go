package sysnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	gnet "github.com/shirou/gopsutil/v4/net"

	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
)

func TestListenersConversion(t *testing.T) {
	conns := []gnet.ConnectionStat{
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "*", Port: 3000}, Status: "LISTEN", Pid: 42, Uids: []int32{501}},
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "*", Port: 3000}, Status: "LISTEN", Pid: 42}, // the same socket twice (two fds)
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "*", Port: 3000}, Status: "LISTEN", Pid: 41}, // a pre-forked worker
		{Family: syscall.AF_INET6, Laddr: gnet.Addr{IP: "*", Port: 8080}, Status: "LISTEN", Pid: 7},
		{Family: syscall.AF_INET6, Laddr: gnet.Addr{IP: "::ffff:127.0.0.1", Port: 9000}, Status: "LISTEN", Pid: 8},
		{Family: syscall.AF_INET6, Laddr: gnet.Addr{IP: "fe80::1%en0", Port: 9001}, Status: "LISTEN", Pid: 9},
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "192.0.2.10", Port: 22}, Status: "LISTEN"}, // owner hidden
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "127.0.0.1", Port: 5000}, Raddr: gnet.Addr{IP: "127.0.0.1", Port: 40000}, Status: "ESTABLISHED", Pid: 10},
		{Family: syscall.AF_INET, Laddr: gnet.Addr{IP: "not-an-ip", Port: 1}, Status: "LISTEN", Pid: 11},
	}
	s := &Source{
		connections: func(context.Context) ([]gnet.ConnectionStat, error) { return conns, nil },
		process: func(_ context.Context, pid int32) (procfs.Process, error) {
			if pid == 9 {
				return procfs.Process{}, errors.New("access denied")
			}
			return procfs.Process{PID: int(pid), User: "u", Cmdline: []string{"server", "--port"}}, nil
		},
	}
	res, err := s.Listeners(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		addr, net string
		pids      []int
		note      string
	}
	var got []row
	for _, l := range res.Listeners {
		r := row{addr: l.Addr.String(), net: l.Net, note: l.OwnerNote}
		for _, o := range l.Owners {
			r.pids = append(r.pids, o.PID)
		}
		got = append(got, r)
	}
	want := []row{
		{"192.0.2.10:22", "tcp", nil, procfs.NoteNeedsRoot},
		{"0.0.0.0:3000", "tcp", []int{41, 42}, ""},
		{"[::]:8080", "tcp6", []int{7}, ""},
		{"127.0.0.1:9000", "tcp6", []int{8}, ""}, // a v4-mapped bind of an IPv6 socket
		{"[fe80::1]:9001", "tcp6", []int{9}, ""},
	}
	if len(got) != len(want) {
		t.Fatalf("listeners %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i].addr != want[i].addr || got[i].net != want[i].net || !slices.Equal(got[i].pids, want[i].pids) || got[i].note != want[i].note {
			t.Errorf("listener %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if res.Unreadable != 1 {
		t.Errorf("unreadable %d, want 1", res.Unreadable)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "not-an-ip") || !strings.Contains(w, "process 9: access denied") {
		t.Errorf("warnings %q", w)
	}
	if res.Listeners[1].UID != 501 {
		t.Errorf("uid %d, want 501", res.Listeners[1].UID)
	}

	s.connections = func(context.Context) ([]gnet.ConnectionStat, error) { return nil, errors.New("lsof: not found") }
	if _, err := s.Listeners(context.Background()); err == nil || !strings.Contains(err.Error(), "lsof: not found") {
		t.Errorf("error = %v", err)
	}
}

// TestListenersLive reads this machine through gopsutil (on Linux it reads
// /proc too, independently of internal/host/procfs) and finds a listener
// this test opens on loopback, owned by this process.
func TestListenersLive(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := netip.MustParseAddrPort(ln.Addr().String())
	res, err := New().Listeners(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range res.Listeners {
		if l.Addr != want {
			continue
		}
		o := l.Owner()
		if o == nil || o.PID != os.Getpid() || len(o.Cmdline) == 0 || o.Exe == "" {
			t.Fatalf("listener %s owner %+v, want pid %d with its command line", want, o, os.Getpid())
		}
		return
	}
	t.Fatalf("listener %s not found among %d", want, len(res.Listeners))
}
