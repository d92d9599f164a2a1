package host

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/clientcfg"
	"github.com/mcpwarden/mcpwarden/internal/host/mcpcmd"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// listenerSource lists the machine's listening sockets with their owners:
// procfs on Linux, gopsutil elsewhere (system_*.go).
type listenerSource interface {
	Listeners(ctx context.Context) (*procfs.Result, error)
}

// listeners enumerates, probes and judges the listening sockets.
func (a *auditor) listeners(ctx context.Context) error {
	var src listenerSource = a.opts.Proc
	if a.opts.Proc == nil {
		var err error
		if src, err = systemListeners(); err != nil {
			a.warn("listeners: %v; use --no-listeners to audit client configurations only", err)
			return nil
		}
	}
	found, err := src.Listeners(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		a.warn("listeners: %v", err)
		return nil
	}
	for _, w := range found.Warnings {
		a.warn("listeners: %s", w)
	}
	if found.Unreadable > 0 {
		a.warn("listeners: the open files of %d processes are not visible without root; their sockets are reported as %q",
			found.Unreadable, procfs.NoteNeedsRoot)
	}
	var ls []procfs.Listener
	for _, l := range found.Listeners {
		if len(a.opts.Ports) == 0 || slices.Contains(a.opts.Ports, int(l.Addr.Port())) {
			ls = append(ls, l)
		}
	}
	public := a.publicAddrs()
	probeAddr := a.opts.ProbeAddr
	if probeAddr == nil {
		probeAddr = DefaultProbeAddr
	}

	// Listeners sharing a probe address (rare: 0.0.0.0 and a mapping in a
	// test) share one probe.
	byProbe := map[netip.AddrPort][]int{}
	var svcs services
	var notProbed []int
	for i, l := range ls {
		pa, ok := probeAddr(l.Addr)
		if !ok || !pa.Addr().Unmap().IsLoopback() {
			notProbed = append(notProbed, i)
			continue
		}
		pa = netip.AddrPortFrom(pa.Addr().Unmap(), pa.Port())
		if _, dup := byProbe[pa]; !dup {
			svcs = append(svcs, target.Service{Host: pa.Addr().String(), Port: int(pa.Port()), Source: "listener " + l.String()})
		}
		byProbe[pa] = append(byProbe[pa], i)
	}
	// A socket on :: usually accepts IPv4 too (dual stack); when ::1 does
	// not answer (IPv6 off on loopback) it is probed again at 127.0.0.1.
	got, probeErr := a.probe(ctx, svcs)
	var retry services
	retryOf := map[netip.AddrPort][]int{}
	for _, svc := range svcs {
		key := netip.AddrPortFrom(netip.MustParseAddr(svc.Host), uint16(svc.Port))
		idx := byProbe[key]
		if probeErr == nil && key.Addr() == netip.IPv6Loopback() && allDown(got[key]) && !slices.ContainsFunc(idx, func(i int) bool {
			return ls[i].Addr.Addr() != netip.IPv6Unspecified()
		}) {
			v4 := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), key.Port())
			if _, taken := byProbe[v4]; !taken {
				retry = append(retry, target.Service{Host: v4.Addr().String(), Port: svc.Port, Source: "listener [::] over IPv4"})
				retryOf[v4] = idx
				continue
			}
		}
		if err := a.emitListeners(got[key], key, idx, ls, public); err != nil {
			return err
		}
	}
	if probeErr != nil {
		return probeErr // interrupted: the records so far are emitted
	}
	if len(retry) > 0 {
		got, probeErr := a.probe(ctx, retry)
		for _, svc := range retry {
			key := netip.AddrPortFrom(netip.MustParseAddr(svc.Host), uint16(svc.Port))
			if err := a.emitListeners(got[key], key, retryOf[key], ls, public); err != nil {
				return err
			}
		}
		if probeErr != nil {
			return probeErr
		}
	}
	for _, i := range notProbed {
		l := &ls[i]
		ep := &result.Endpoint{
			Schema: result.Schema, URL: "tcp://" + l.String(), Host: l.Addr.Addr().String(), IP: l.Addr.Addr().String(),
			Port: int(l.Addr.Port()), Status: result.StatusNotProbed, ScannedAt: time.Now().UTC(),
			Error: "not probed: the listener is bound to a non-loopback address and probes stay on loopback; judged by its command line",
		}
		judgeListener(ep, l, "", public)
		if err := a.put(ep); err != nil {
			return err
		}
	}
	return nil
}

// probe scans svcs through loopback only and returns the records by
// probe address.
func (a *auditor) probe(ctx context.Context, svcs services) (map[netip.AddrPort][]*result.Endpoint, error) {
	got := map[netip.AddrPort][]*result.Endpoint{}
	if len(svcs) == 0 {
		return got, nil
	}
	so := a.opts.Scan
	so.Excluded = loopbackOnly
	so.EmitClosed = true
	if so.Logger == nil {
		so.Logger = a.opts.Logger
	}
	sum, err := scan.Run(ctx, svcs, so, func(ep *result.Endpoint) error {
		if key, ok := recordKey(ep); ok {
			got[key] = append(got[key], ep)
		}
		return nil
	})
	if sum != nil {
		a.res.Summary.Requests += sum.Requests
	}
	return got, err
}

// emitListeners emits, for each listener idx probed at key, a judged copy
// of each probe record.
func (a *auditor) emitListeners(recs []*result.Endpoint, key netip.AddrPort, idx []int, ls []procfs.Listener, public []netip.Addr) error {
	for _, ep := range recs {
		for _, i := range idx {
			c := cloneEndpoint(ep)
			judgeListener(c, &ls[i], key.Addr().String(), public)
			if err := a.put(c); err != nil {
				return err
			}
		}
	}
	return nil
}

// allDown reports whether no probe record got an answer.
func allDown(recs []*result.Endpoint) bool {
	for _, r := range recs {
		if r.Status != result.StatusClosed && r.Status != result.StatusError {
			return false
		}
	}
	return true
}

func recordKey(ep *result.Endpoint) (netip.AddrPort, bool) {
	ad, err := netip.ParseAddr(ep.Host)
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ad.Unmap(), uint16(ep.Port)), true
}

// cloneEndpoint copies the record and its findings slice (the only parts
// judgeListener changes).
func cloneEndpoint(ep *result.Endpoint) *result.Endpoint {
	c := *ep
	c.Findings = slices.Clone(ep.Findings)
	return &c
}

// judgeListener sets Listen and Process on a listener's record and adds
// the host verdicts to its findings. probedAt is the loopback address the
// record's probe used, "" when the listener was not probed.
func judgeListener(ep *result.Endpoint, l *procfs.Listener, probedAt string, public []netip.Addr) {
	ep.Listen = &result.ListenInfo{Address: l.Addr.Addr().String(), Port: int(l.Addr.Port()), ProbedAt: probedAt}
	owner := l.Owner()
	var match mcpcmd.Match
	var recognised bool
	pi := &result.ProcessInfo{Note: l.OwnerNote}
	if owner != nil {
		match, recognised = mcpcmd.Recognize(owner.Cmdline)
		pi.PID, pi.User, pi.Exe, pi.Container = owner.PID, owner.User, owner.Exe, owner.Container
		if len(owner.Cmdline) > 0 {
			pi.Command = strings.Join(clientcfg.RedactArgs(owner.Cmdline), " ")
		} else if owner.Exe != "" {
			pi.Command = "[" + owner.Exe + "]"
		}
		if recognised && match.MCP {
			pi.MCPServer = match.Server
		}
	}
	ep.Process = pi
	who := processLabel(pi, l)

	exposed := !l.IsLoopback()
	open := ep.Status == result.StatusMCP && ep.MCP != nil && ep.MCP.Confidence == "confirmed" &&
		(ep.Auth == nil || !ep.Auth.Required)
	fix := mcpcmd.GateFix
	if recognised {
		fix = match.Fix
	}
	where := bindLabel(l)

	var added []finding.Finding
	switch {
	case exposed && open:
		sev, why := finding.High, "this machine has no public address"
		if pub := exposedPublic(l, public); pub.IsValid() {
			sev, why = finding.Critical, "this machine has the public address "+pub.String()
		}
		ev := fmt.Sprintf("%s listens on %s and completed the MCP handshake without credentials through %s, listing %s; %s; fix: %s",
			who, where, endpointURL(ep), toolSummary(ep), why, fix)
		added = append(added, rules.New(rules.ListenerExposed, sev, ev))
		// The scan's verdict judged the loopback address it probed; this
		// finding replaces it with the bind address's.
		ep.Findings = slices.DeleteFunc(ep.Findings, func(f finding.Finding) bool { return f.Rule == rules.Unauthenticated })
	case exposed && recognised && match.MCP && ep.Status != result.StatusMCP:
		seen := "not probed: probes stay on loopback, so it is judged by its command line only"
		if probedAt != "" {
			seen = fmt.Sprintf("the probe through %s found no open MCP endpoint (%s)", endpointURL(ep), statusText(ep))
		}
		added = append(added, rules.Default(rules.ListenerMCPUnconfirmed,
			fmt.Sprintf("%s runs %s and listens on %s; %s; fix: %s", who, match.Server, where, seen, fix)))
	}
	if owner == nil {
		added = append(added, rules.Default(rules.ListenerOwnerHidden,
			fmt.Sprintf("%s (socket of uid %d): %s", where, l.UID, l.OwnerNote)))
	}
	// Every finding names the process it is about.
	for i := range ep.Findings {
		if ep.Findings[i].Evidence != "" {
			ep.Findings[i].Evidence += "; "
		}
		ep.Findings[i].Evidence += "process: " + who
	}
	ep.Findings = append(added, ep.Findings...)
	slices.SortStableFunc(ep.Findings, func(x, y finding.Finding) int {
		if x.Severity != y.Severity {
			return int(y.Severity) - int(x.Severity)
		}
		return strings.Compare(x.Rule, y.Rule)
	})
	if ep.Findings == nil {
		ep.Findings = []finding.Finding{}
	}
}

// exposedPublic returns the public address that makes the listener
// reachable from the internet: its own for a specific bind, any of the
// machine's for a wildcard one.
func exposedPublic(l *procfs.Listener, public []netip.Addr) netip.Addr {
	if !l.IsWildcard() {
		if isPublic(l.Addr.Addr()) {
			return l.Addr.Addr()
		}
		return netip.Addr{}
	}
	for _, p := range public {
		if l.Addr.Addr().Is4() && !p.Unmap().Is4() {
			continue // an IPv4 wildcard is not reachable over IPv6
		}
		return p
	}
	return netip.Addr{}
}

func bindLabel(l *procfs.Listener) string {
	switch {
	case l.IsWildcard():
		return l.String() + " (every interface)"
	case l.IsLoopback():
		return l.String() + " (loopback)"
	}
	return l.String() + " (a network address)"
}

func processLabel(p *result.ProcessInfo, l *procfs.Listener) string {
	if p.PID == 0 {
		return fmt.Sprintf("the process behind %s (%s)", l.String(), p.Note)
	}
	s := fmt.Sprintf("pid %d", p.PID)
	if p.User != "" {
		s += " (user " + p.User + ")"
	}
	if p.Container != "" {
		s += " in container " + p.Container
	}
	if p.Command != "" {
		cmd := p.Command
		if r := []rune(cmd); len(r) > 160 {
			cmd = string(r[:160]) + "..."
		}
		s += " `" + cmd + "`"
	}
	return s
}

func endpointURL(ep *result.Endpoint) string {
	if ep.URL != "" {
		return ep.URL
	}
	return fmt.Sprintf("%s:%d", ep.Host, ep.Port)
}

func statusText(ep *result.Endpoint) string {
	s := string(ep.Status)
	if ep.Error != "" {
		s += ": " + ep.Error
	}
	if ep.Auth != nil && ep.Auth.Required {
		s += ", authentication required"
	}
	return s
}

func toolSummary(ep *result.Endpoint) string {
	n := len(ep.Tools)
	names := make([]string, 0, 5)
	for i, t := range ep.Tools {
		if i == 5 {
			names = append(names, "...")
			break
		}
		names = append(names, t.Name)
	}
	s := fmt.Sprintf("%d tools", n)
	if n == 1 {
		s = "1 tool"
	}
	if len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	return s
}
