// Package sysnet lists the listening TCP sockets of this machine and the
// processes that own them through gopsutil, for the systems where
// mcpwarden has no procfs to read: macOS, Windows and the BSDs. On Linux
// the host audit reads procfs itself (internal/host/procfs), which also
// names containers and says exactly what needs root.
//
// The result has the shape of procfs.Result so that the audit judges
// listeners the same way whatever the system.
package sysnet

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"syscall"

	gnet "github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"

	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
)

// Source lists listeners. The zero value is not usable; use New.
type Source struct {
	connections func(ctx context.Context) ([]gnet.ConnectionStat, error)
	process     func(ctx context.Context, pid int32) (procfs.Process, error)
}

// New returns a Source backed by the operating system (gopsutil: the
// IP Helper API on Windows, lsof on macOS, the system's tables on BSDs).
func New() *Source {
	return &Source{
		connections: func(ctx context.Context) ([]gnet.ConnectionStat, error) {
			return gnet.ConnectionsWithContext(ctx, "tcp")
		},
		process: processInfo,
	}
}

// Listeners returns the listening TCP sockets (IPv4 and IPv6), sorted by
// port then address, each with the processes that hold it. A socket whose
// owner the system does not show (another user's process without
// administrator rights) has no owners and procfs.NoteNeedsRoot.
func (s *Source) Listeners(ctx context.Context) (*procfs.Result, error) {
	conns, err := s.connections(ctx)
	if err != nil {
		return nil, fmt.Errorf("sysnet: list TCP sockets: %w", err)
	}
	res := &procfs.Result{}
	byAddr := map[netip.AddrPort]*procfs.Listener{}
	var order []netip.AddrPort
	seenPID := map[netip.AddrPort]map[int32]bool{}
	for _, c := range conns {
		if !strings.EqualFold(c.Status, "LISTEN") {
			continue
		}
		ap, network, ok := localAddr(c)
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("listening socket with an unreadable address %q port %d", c.Laddr.IP, c.Laddr.Port))
			continue
		}
		l := byAddr[ap]
		if l == nil {
			l = &procfs.Listener{Socket: procfs.Socket{Addr: ap, Net: network, UID: -1}}
			if len(c.Uids) > 0 {
				l.UID = int(c.Uids[0])
			}
			byAddr[ap] = l
			seenPID[ap] = map[int32]bool{}
			order = append(order, ap)
		}
		if c.Pid <= 0 || seenPID[ap][c.Pid] {
			continue
		}
		seenPID[ap][c.Pid] = true
		p, err := s.process(ctx, c.Pid)
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("process %d: %v", c.Pid, err))
			p = procfs.Process{PID: int(c.Pid)}
		}
		l.Owners = append(l.Owners, p)
	}
	for _, ap := range order {
		l := byAddr[ap]
		if len(l.Owners) == 0 {
			l.OwnerNote = procfs.NoteNeedsRoot
			res.Unreadable++
		}
		slices.SortFunc(l.Owners, func(a, b procfs.Process) int { return cmp.Compare(a.PID, b.PID) })
		res.Listeners = append(res.Listeners, *l)
	}
	slices.SortFunc(res.Listeners, func(a, b procfs.Listener) int {
		if c := cmp.Compare(a.Addr.Port(), b.Addr.Port()); c != 0 {
			return c
		}
		return a.Addr.Addr().Compare(b.Addr.Addr())
	})
	return res, nil
}

// localAddr reads a connection's local address: "*" (lsof's wildcard)
// becomes 0.0.0.0 or :: by the socket's family, IPv4-mapped IPv6 is
// unmapped, and the table is "tcp" or "tcp6" as on Linux.
func localAddr(c gnet.ConnectionStat) (netip.AddrPort, string, bool) {
	if c.Laddr.Port == 0 || c.Laddr.Port > 65535 {
		return netip.AddrPort{}, "", false
	}
	v6 := c.Family == uint32(syscall.AF_INET6)
	ip := strings.TrimSuffix(strings.TrimPrefix(c.Laddr.IP, "["), "]")
	var a netip.Addr
	switch ip {
	case "*", "":
		a = netip.IPv4Unspecified()
		if v6 {
			a = netip.IPv6Unspecified()
		}
	default:
		var err error
		if a, err = netip.ParseAddr(ip); err != nil {
			return netip.AddrPort{}, "", false
		}
		a = a.WithZone("")
	}
	network := "tcp"
	if v6 || (a.Is6() && !a.Is4In6()) {
		network = "tcp6"
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(c.Laddr.Port)), network, true
}

// processInfo reads what the audit reports of a process. Fields the
// system will not show (another user's process) stay empty.
func processInfo(ctx context.Context, pid int32) (procfs.Process, error) {
	p := procfs.Process{PID: int(pid), UID: -1}
	proc, err := process.NewProcessWithContext(ctx, pid)
	if err != nil {
		return p, err
	}
	if uids, err := proc.UidsWithContext(ctx); err == nil && len(uids) > 0 {
		p.UID = int(uids[0])
	}
	if u, err := proc.UsernameWithContext(ctx); err == nil {
		p.User = u
	}
	if exe, err := proc.ExeWithContext(ctx); err == nil {
		p.Exe = exe
	}
	if args, err := proc.CmdlineSliceWithContext(ctx); err == nil && len(args) > 0 {
		p.Cmdline = args
	}
	return p, nil
}
