package host

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/clientcfg"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// IsMCPListener reports whether a listener record is about an MCP server:
// its probe completed the MCP handshake or found MCP authentication, its
// command line names an MCP server, or a gate fronts it.
func IsMCPListener(ep *result.Endpoint, lc *ListenerConns) bool {
	if ep == nil || ep.Listen == nil {
		return false
	}
	return ep.Status == result.StatusMCP || (ep.Process != nil && ep.Process.MCPServer != "") || (lc != nil && lc.Gated)
}

// JudgeConnections adds a listener's sampled connections to its record
// (Listen.Connections, Listen.Gated) with the findings they call for, and
// returns the findings it added (already in ep.Findings). It does nothing
// for a record that is not about an MCP listener (IsMCPListener) or when
// lc is nil.
//
// Per peer address, at most one finding: a gated listener reached by
// anything but the gate is MCPW-034 (critical from another machine, high
// from a local process); otherwise a public peer of a server that answers
// without authentication is MCPW-032, and any other peer that is not this
// machine, connected to a server meant to be local only (bound to
// loopback, or answering without authentication, which only local
// callers can safely be trusted with), is MCPW-033. Local peers whose
// process is not visible are never judged a bypass.
func JudgeConnections(ep *result.Endpoint, lc *ListenerConns) []finding.Finding {
	if lc == nil || !IsMCPListener(ep, lc) {
		return nil
	}
	ep.Listen.Gated = lc.Gated
	ep.Listen.Connections = nil
	for _, p := range lc.Peers {
		ep.Listen.Connections = append(ep.Listen.Connections, connectionInfo(p))
	}
	open := ep.Status == result.StatusMCP && ep.MCP != nil && ep.MCP.Confidence == "confirmed" &&
		(ep.Auth == nil || !ep.Auth.Required)
	bound, _ := netip.ParseAddr(ep.Listen.Address)
	localOnly := bound.IsLoopback() || open
	where := netip.AddrPortFrom(bound, uint16(ep.Listen.Port)).String()
	who := listenerLabel(ep, where)

	type key struct {
		rule string
		peer netip.Addr
	}
	groups := map[key][]Peer{}
	var order []key
	for _, p := range lc.Peers {
		var rule string
		switch {
		case lc.Gated:
			if p.Gate || (p.OnHost && p.Process == nil && p.ProcessNote != NotePeerOtherNS) {
				continue // the gate, or a local process that cannot be told from it
			}
			rule = rules.GateBypassed
		case p.OnHost:
			continue
		case p.Class == PeerPublic && open:
			rule = rules.InboundPublicOpen
		case p.Class != PeerLoopback && localOnly:
			rule = rules.InboundLocalOnlyBreak
		default:
			continue
		}
		k := key{rule, p.Remote.Addr()}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p)
	}

	var added []finding.Finding
	for _, k := range order {
		ps := groups[k]
		peer := peerLabel(ps)
		var f finding.Finding
		switch k.rule {
		case rules.GateBypassed:
			sev, from := finding.Critical, "another machine"
			if ps[0].OnHost {
				sev, from = finding.High, "a local process that is not the gate"
			}
			f = rules.New(rules.GateBypassed, sev, fmt.Sprintf(
				"%s listens on %s behind %s, yet %s is connected to it directly: %s; its calls skip the gate's "+
					"authentication and audit; fix: bind the upstream to 127.0.0.1 (or an interface only the gate "+
					"reaches) and firewall port %d so that only the gate can connect",
				who, where, gateLabel(lc), from, peer, ep.Listen.Port))
		case rules.InboundPublicOpen:
			f = rules.Default(rules.InboundPublicOpen, fmt.Sprintf(
				"%s listens on %s and answers MCP without authentication; a public address is connected: %s; "+
					"fix: firewall port %d or bind the server to 127.0.0.1 now, put mcpwarden gate in front, and "+
					"treat the peer as an intruder (check the server's logs, rotate what its tools reach)",
				who, where, peer, ep.Listen.Port))
		case rules.InboundLocalOnlyBreak:
			why := "answers MCP without authentication, so only local callers can be trusted with it"
			if bound.IsLoopback() {
				why = "is bound to loopback, so something forwards network traffic to it (DNAT with route_localnet, a tunnel or a proxy)"
			}
			fix := "bind the server to 127.0.0.1 or firewall port %d, and reach it from other machines only through mcpwarden gate"
			if bound.IsLoopback() {
				fix = "remove the forwarding to port %d (iptables -t nat -S, route_localnet, ssh -R/-L, socat) or replace it with mcpwarden gate"
			}
			f = rules.Default(rules.InboundLocalOnlyBreak, fmt.Sprintf(
				"%s listens on %s and %s; a peer that is not this machine is connected: %s; fix: "+fix,
				who, where, why, peer, ep.Listen.Port))
		}
		added = append(added, f)
	}
	if len(added) == 0 {
		return nil
	}
	ep.Findings = append(ep.Findings, added...)
	slices.SortStableFunc(ep.Findings, func(x, y finding.Finding) int {
		if x.Severity != y.Severity {
			return int(y.Severity) - int(x.Severity)
		}
		return strings.Compare(x.Rule, y.Rule)
	})
	return added
}

func connectionInfo(p Peer) result.ConnectionInfo {
	ci := result.ConnectionInfo{
		PeerAddress: p.Remote.Addr().String(), PeerPort: int(p.Remote.Port()), PeerClass: string(p.Class),
		LocalAddress: p.Local.Addr().String(), LocalPort: int(p.Local.Port()), OnHost: p.OnHost, Gate: p.Gate,
	}
	if p.OnHost {
		ci.Process = processInfo(p.Process, p.ProcessNote)
	}
	return ci
}

func processInfo(pr *procfs.Process, note string) *result.ProcessInfo {
	if pr == nil {
		return &result.ProcessInfo{Note: note}
	}
	pi := &result.ProcessInfo{PID: pr.PID, User: pr.User, Exe: pr.Exe, Container: pr.Container}
	if len(pr.Cmdline) > 0 {
		pi.Command = strings.Join(clientcfg.RedactArgs(pr.Cmdline), " ")
	} else if pr.Exe != "" {
		pi.Command = "[" + pr.Exe + "]"
	}
	return pi
}

// listenerLabel names the listener's process as the host findings do.
func listenerLabel(ep *result.Endpoint, where string) string {
	pi := ep.Process
	if pi == nil || pi.PID == 0 {
		note := "owner not visible"
		if pi != nil && pi.Note != "" {
			note = pi.Note
		}
		return fmt.Sprintf("the process behind %s (%s)", where, note)
	}
	return processLabel(pi, nil)
}

// peerLabel describes the connections from one peer address.
func peerLabel(ps []Peer) string {
	p := ps[0]
	ports := make([]string, 0, len(ps))
	for i, q := range ps {
		if i == 5 {
			ports = append(ports, fmt.Sprintf("and %d more", len(ps)-5))
			break
		}
		ports = append(ports, fmt.Sprint(q.Remote.Port()))
	}
	s := fmt.Sprintf("%s (%s", p.Remote.Addr(), p.Class)
	if len(ps) == 1 {
		s += ", port " + ports[0]
	} else {
		s += fmt.Sprintf(", %d connections from ports %s", len(ps), strings.Join(ports, ", "))
	}
	s += ")"
	if p.OnHost {
		pi := processInfo(p.Process, p.ProcessNote)
		if pi.PID != 0 {
			s += fmt.Sprintf(", process pid %d", pi.PID)
			if pi.Command != "" {
				cmd := pi.Command
				if r := []rune(cmd); len(r) > 120 {
					cmd = string(r[:120]) + "..."
				}
				s += " `" + cmd + "`"
			}
		} else if pi.Note != "" {
			s += ", process: " + pi.Note
		}
	}
	return s
}

func gateLabel(lc *ListenerConns) string {
	if len(lc.GatedBy) == 0 {
		return "a gate (declared with --gated)"
	}
	pids := make([]string, len(lc.GatedBy))
	for i, p := range lc.GatedBy {
		pids[i] = fmt.Sprint(p)
	}
	return "mcpwarden gate (pid " + strings.Join(pids, ", ") + ")"
}
