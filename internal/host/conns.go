package host

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
)

// ConnOptions configures SampleConnections. The zero value samples every
// listener of this machine, finds the running gates and resolves the
// processes of local peers.
type ConnOptions struct {
	// Proc is the proc tree; nil means procfs.System() (Linux only).
	Proc *procfs.Reader
	// Listeners limits the sample to these bound addresses (as in
	// result.ListenInfo: 0.0.0.0:P and [::]:P for wildcard binds); nil
	// means every listening socket.
	Listeners []netip.AddrPort
	// LocalAddrs lists this machine's interface addresses, to tell peers
	// on this machine from others; nil means net.InterfaceAddrs.
	LocalAddrs func() ([]netip.Addr, error)
	// Gated declares listeners that a gate fronts, in addition to those
	// found from the running gates. An address matches a listener bound to
	// it or a wildcard listener on its port.
	Gated []netip.AddrPort
	// NoGateDiscovery skips reading the running gates' command lines and
	// configuration files; only Gated counts.
	NoGateDiscovery bool
	// NoPeerProcesses skips resolving the process on the other end of a
	// local peer (a walk of every /proc/<pid>/fd): cheaper, but a local
	// peer of a gated listener can then not be told from the gate and is
	// never reported as a bypass.
	NoPeerProcesses bool
}

// ConnSample is one sample of the inbound connections of a machine's
// listeners.
type ConnSample struct {
	At time.Time
	// Listeners has one entry per listener sampled (with or without
	// connections), sorted by port then address.
	Listeners []ListenerConns
	// Gates are the running gates found (none with NoGateDiscovery).
	Gates []GateProcess
	// Warnings are what could not be seen, one line each.
	Warnings []string
}

// ListenerConns is a listener and its established inbound connections.
type ListenerConns struct {
	// Listener is the bound address; Net the table ("tcp", "tcp6").
	Listener netip.AddrPort
	Net      string
	// Gated is true when a gate fronts the listener; GatedBy are the pids
	// of the running gates whose upstreams name it (empty when only
	// declared).
	Gated   bool
	GatedBy []int
	Peers   []Peer
}

// Peer is one established inbound connection.
type Peer struct {
	// Local is this machine's end, Remote the peer's (IPv4-mapped
	// addresses unmapped).
	Local  netip.AddrPort
	Remote netip.AddrPort
	Class  PeerClass
	// OnHost is true when the peer address is this machine's (loopback or
	// an interface address).
	OnHost bool
	// Process is the process on the other end of an on-host peer (the
	// owner of the socket whose local end is Remote); nil when not
	// resolved or not visible, and ProcessNote says why.
	Process     *procfs.Process
	ProcessNote string
	// Gate is true when Process is a running mcpwarden gate.
	Gate bool
}

// Peer process notes.
const (
	NotePeerNotResolved = "not resolved (peer processes not sampled)"
	NotePeerOtherNS     = "the other end is not in this network namespace (a container or VM on this machine)"
)

// For returns the entry of the listener bound to addr, or nil.
func (s *ConnSample) For(addr netip.AddrPort) *ListenerConns {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	for i := range s.Listeners {
		if s.Listeners[i].Listener == addr {
			return &s.Listeners[i]
		}
	}
	return nil
}

// SampleConnections reads the connection tables once and returns, for
// each listener, its established inbound connections: those whose local
// end is the listener's port on its address (any address of the same
// family for a wildcard bind). It is the sampling step `watch` repeats:
// two table reads, plus one walk of the process descriptors when a peer
// is on this machine (skipped with NoPeerProcesses), plus the gates'
// command lines (skipped with NoGateDiscovery).
func SampleConnections(ctx context.Context, opts ConnOptions) (*ConnSample, error) {
	rd := opts.Proc
	if rd == nil {
		var err error
		if rd, err = procfs.System(); err != nil {
			return nil, err
		}
	}
	tab, err := rd.Established(ctx)
	if err != nil {
		return nil, err
	}
	s := &ConnSample{At: time.Now().UTC(), Warnings: slices.Clone(tab.Warnings)}

	// The listeners sampled.
	want := map[netip.AddrPort]bool{}
	for _, a := range opts.Listeners {
		want[netip.AddrPortFrom(a.Addr().Unmap(), a.Port())] = true
	}
	byPort := map[uint16][]int{}
	for _, l := range tab.Listening {
		if len(want) > 0 && !want[l.Addr] {
			continue
		}
		if slices.ContainsFunc(s.Listeners, func(x ListenerConns) bool { return x.Listener == l.Addr }) {
			continue // the same address in both tables (a v4-mapped bind)
		}
		byPort[l.Addr.Port()] = append(byPort[l.Addr.Port()], len(s.Listeners))
		s.Listeners = append(s.Listeners, ListenerConns{Listener: l.Addr, Net: l.Net})
	}
	for a := range want {
		if !slices.ContainsFunc(s.Listeners, func(x ListenerConns) bool { return x.Listener == a }) {
			s.Warnings = append(s.Warnings, fmt.Sprintf("connections: no listener on %s", a))
		}
	}

	// Gates, found and declared.
	if !opts.NoGateDiscovery {
		gates, err := FindGates(ctx, rd)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("connections: cannot list the running gates: %v", err))
		}
		s.Gates = gates
		for _, g := range gates {
			for _, n := range g.Notes {
				s.Warnings = append(s.Warnings, fmt.Sprintf("gate pid %d: %s", g.PID, n))
			}
		}
	}
	for i := range s.Listeners {
		lc := &s.Listeners[i]
		for _, g := range s.Gates {
			if slices.ContainsFunc(g.Upstreams, func(u netip.AddrPort) bool { return gatedMatch(u, lc) }) {
				lc.Gated = true
				lc.GatedBy = append(lc.GatedBy, g.PID)
			}
		}
		if slices.ContainsFunc(opts.Gated, func(u netip.AddrPort) bool { return gatedMatch(u, lc) }) {
			lc.Gated = true
		}
	}

	// Inbound connections, and the reverse half of each local one.
	local := localAddrSet(opts.LocalAddrs, &s.Warnings)
	reverse := reverseIndex(tab.Conns)
	peerInodes := map[uint64]bool{}
	for _, c := range tab.Conns {
		i, ok := listenerOf(c, byPort[c.Local.Port()], s.Listeners)
		if !ok {
			continue
		}
		p := Peer{Local: c.Local, Remote: c.Remote, Class: ClassifyPeer(c.Remote.Addr())}
		p.OnHost = p.Class == PeerLoopback || local[p.Remote.Addr()]
		if p.OnHost {
			ino, found := reverse[[2]netip.AddrPort{c.Remote, c.Local}]
			switch {
			case !found:
				p.ProcessNote = NotePeerOtherNS
			case opts.NoPeerProcesses:
				p.ProcessNote = NotePeerNotResolved
			default:
				peerInodes[ino] = true
			}
		}
		s.Listeners[i].Peers = append(s.Listeners[i].Peers, p)
	}
	if len(peerInodes) > 0 {
		if err := s.resolvePeers(ctx, rd, peerInodes, reverse); err != nil {
			return nil, err
		}
	}
	for i := range s.Listeners {
		slices.SortFunc(s.Listeners[i].Peers, func(a, b Peer) int { return a.Remote.Compare(b.Remote) })
	}
	slices.SortFunc(s.Listeners, func(a, b ListenerConns) int {
		if c := int(a.Listener.Port()) - int(b.Listener.Port()); c != 0 {
			return c
		}
		return a.Listener.Addr().Compare(b.Listener.Addr())
	})
	return s, nil
}

// reverseIndex maps each connection's (local, remote) to its inode.
func reverseIndex(conns []procfs.Conn) map[[2]netip.AddrPort]uint64 {
	m := make(map[[2]netip.AddrPort]uint64, len(conns))
	for _, c := range conns {
		m[[2]netip.AddrPort{c.Local, c.Remote}] = c.Inode
	}
	return m
}

// resolvePeers finds the owners of the local peers' sockets.
func (s *ConnSample) resolvePeers(ctx context.Context, rd *procfs.Reader, inodes map[uint64]bool, rev map[[2]netip.AddrPort]uint64) error {
	own, err := rd.SocketOwners(ctx, inodes)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		s.Warnings = append(s.Warnings, fmt.Sprintf("connections: cannot resolve local peers: %v", err))
		own = &procfs.Owners{}
	}
	s.Warnings = append(s.Warnings, own.Warnings...)
	if own.Unreadable > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf(
			"connections: the open files of %d processes are not visible without root; local peers among them are reported as %q",
			own.Unreadable, procfs.NoteNeedsRoot))
	}
	gates := map[int]bool{}
	for _, g := range s.Gates {
		gates[g.PID] = true
	}
	procs := map[int]*procfs.Process{}
	for i := range s.Listeners {
		for j := range s.Listeners[i].Peers {
			p := &s.Listeners[i].Peers[j]
			if !p.OnHost || p.ProcessNote != "" {
				continue
			}
			pids := own.PIDs[rev[[2]netip.AddrPort{p.Remote, p.Local}]]
			if len(pids) == 0 {
				p.ProcessNote = procfs.NoteNotFound
				if own.Unreadable > 0 {
					p.ProcessNote = procfs.NoteNeedsRoot
				}
				continue
			}
			pr, ok := procs[pids[0]]
			if !ok {
				v := rd.Process(pids[0])
				pr = &v
				procs[pids[0]] = pr
			}
			p.Process = pr
			p.Gate = slices.ContainsFunc(pids, func(pid int) bool { return gates[pid] })
		}
	}
	return nil
}

// listenerOf returns the index of the listener a connection was accepted
// on, among the candidates on its local port.
func listenerOf(c procfs.Conn, cand []int, ls []ListenerConns) (int, bool) {
	wild := -1
	for _, i := range cand {
		l := &ls[i]
		if l.Listener.Addr() == c.Local.Addr() {
			return i, true
		}
		if l.Listener.Addr().IsUnspecified() && l.Net == c.Net {
			wild = i
		}
	}
	return wild, wild >= 0
}

// gatedMatch reports whether a gate's upstream (or a --gated address)
// names the listener: the same address, a wildcard listener on the port
// (an upstream of 127.0.0.1:P reaches a listener on 0.0.0.0:P), or a
// wildcard declaration.
func gatedMatch(u netip.AddrPort, lc *ListenerConns) bool {
	if u.Port() != lc.Listener.Port() {
		return false
	}
	ua, la := u.Addr().Unmap(), lc.Listener.Addr()
	switch {
	case ua == la, ua.IsUnspecified():
		return true
	case la == netip.IPv4Unspecified():
		return ua.Is4()
	case la == netip.IPv6Unspecified():
		return true // dual stack unless v6only; the gate's own upstream says it connects here
	}
	return false
}

func localAddrSet(list func() ([]netip.Addr, error), warns *[]string) map[netip.Addr]bool {
	if list == nil {
		list = interfaceAddrs
	}
	addrs, err := list()
	if err != nil {
		*warns = append(*warns, fmt.Sprintf("connections: cannot list this machine's addresses (%v); only loopback peers are treated as local", err))
	}
	m := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		m[a.Unmap().WithZone("")] = true
	}
	return m
}

// ParseGated reads a --gated value: ADDR:PORT ([v6]:PORT for IPv6).
func ParseGated(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("gated %q: want ADDR:PORT, e.g. 127.0.0.1:3000 or [::1]:3000", s)
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("gated %q: port 0", s)
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("gated %q: zoned addresses are not supported", s)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
