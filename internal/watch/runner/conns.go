package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host"
	"github.com/mcpwarden/mcpwarden/internal/host/clientcfg"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// ErrSampleBusy is returned by Sample when the previous sample of the
// group is still running: the new one is skipped.
var ErrSampleBusy = errors.New("the previous connection sample is still running")

// listenerRefresh is how long the listeners of a group, read from its
// last host audit in the store, are reused between samples.
const listenerRefresh = 30 * time.Second

// SampleResult sums up one connection sample.
type SampleResult struct {
	Group string
	// Listeners counts the MCP listeners sampled, Peers the peers
	// recorded (one per listener and peer address).
	Listeners, Peers int
	// Events are the connection events the sample stored (each new peer
	// once).
	Events   []model.Event
	Duration time.Duration
}

// sampler is the state of one group's connection sampling.
type sampler struct {
	busy sync.Mutex // held by a sample in progress

	// Guarded by busy.
	listeners map[netip.AddrPort]listenerRef
	loaded    time.Time
	stale     bool
	// known are the dedup keys of connection events already stored (or
	// found stored): they are not offered to the store again.
	known  map[string]bool
	pruned time.Time
}

// listenerRef is a listener of the last host audit with its record.
type listenerRef struct {
	addr netip.AddrPort
	ep   *result.Endpoint
}

func (r *Runner) samplerOf(group string) *sampler {
	v, _ := r.samplers.LoadOrStore(group, &sampler{known: map[string]bool{}, stale: true})
	return v.(*sampler)
}

// listenersChanged makes the next sample of group re-read its listeners
// (a host audit of the group completed).
func (r *Runner) listenersChanged(group string) {
	if v, ok := r.samplers.Load(group); ok {
		s := v.(*sampler)
		if s.busy.TryLock() {
			s.stale = true
			s.busy.Unlock()
		} else {
			// A sample is running: the refresh interval catches up.
			r.log.Debug("watch: listeners changed during a sample", "group", group)
		}
	}
}

// sampleLoop samples g's connections every g.Connections.Interval until
// ctx ends. A tick that comes while a sample runs is dropped: samples
// never overlap and never come more often than the interval.
func (r *Runner) sampleLoop(ctx context.Context, g config.Group) {
	t := time.NewTicker(g.Connections.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := r.Sample(ctx, g); err != nil && ctx.Err() == nil {
			if errors.Is(err, ErrSampleBusy) {
				r.log.Debug("watch: connection sample skipped", "group", g.Name, "error", err)
				continue
			}
			r.log.Error("watch: connection sample failed", "group", g.Name, "error", err)
		}
	}
}

// Sample takes one connection sample of host group g: the established
// inbound connections of the MCP listeners its last audit found. It
// records the peers in the store (a store.Connections) and stores a
// connection.external event for each new peer that is not this machine
// and a connection.bypass event for each new peer that reached a gated
// listener without the gate, then wakes the alert dispatcher. It fails
// with ErrSampleBusy while another sample of g runs.
func (r *Runner) Sample(ctx context.Context, g config.Group) (SampleResult, error) {
	res := SampleResult{Group: g.Name}
	if !g.Host || g.Connections == nil {
		return res, fmt.Errorf("runner: group %q: connection sampling is for host groups with connections set", g.Name)
	}
	cs, ok := r.o.Store.(store.Connections)
	if !ok {
		return res, fmt.Errorf("runner: the store %T keeps no connections", r.o.Store)
	}
	s := r.samplerOf(g.Name)
	if !s.busy.TryLock() {
		return res, ErrSampleBusy
	}
	defer s.busy.Unlock()
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()

	now := r.o.Now()
	if s.stale || now.Sub(s.loaded) >= listenerRefresh || now.Before(s.loaded) {
		ls, err := r.loadListeners(ctx, g.Name)
		if err != nil {
			return res, fmt.Errorf("runner: group %q: listeners: %w", g.Name, err)
		}
		s.listeners, s.loaded, s.stale = ls, now, false
	}
	if len(s.listeners) == 0 {
		return res, nil // no audit yet, or no listener
	}
	var co host.ConnOptions
	if r.o.Connections != nil {
		co = *r.o.Connections
	}
	co.Gated = append(slices.Clone(co.Gated), g.Connections.Gated...)
	co.Listeners = nil
	for a := range s.listeners {
		co.Listeners = append(co.Listeners, a)
	}
	slices.SortFunc(co.Listeners, func(a, b netip.AddrPort) int { return a.Compare(b) })
	sample, err := host.SampleConnections(ctx, co)
	if err != nil {
		return res, fmt.Errorf("runner: group %q: sample connections: %w", g.Name, err)
	}
	for _, w := range sample.Warnings {
		if !strings.HasPrefix(w, "connections: no listener on") {
			r.log.Debug("watch: connections", "group", g.Name, "warning", w)
		}
	}
	self := r.o.SelfPID
	if self == 0 {
		self = os.Getpid()
	}
	var peers []store.PeerRecord
	var cands []model.Event
	for _, a := range co.Listeners {
		ref := s.listeners[a]
		lc := sample.For(a)
		if lc == nil || !host.IsMCPListener(ref.ep, lc) {
			continue
		}
		res.Listeners++
		ps, evs := judgePeers(g.Name, ref, lc, self, now)
		peers = append(peers, ps...)
		cands = append(cands, evs...)
	}
	res.Peers = len(peers)
	if len(peers) > 0 {
		if err := cs.RecordPeers(ctx, now, peers); err != nil {
			return res, fmt.Errorf("runner: group %q: %w", g.Name, err)
		}
	}
	cands = slices.DeleteFunc(cands, func(e model.Event) bool { return s.known[e.Key] })
	if len(cands) > 0 {
		stored, err := r.storeEvents(ctx, g.Name, cands)
		if err != nil {
			return res, fmt.Errorf("runner: group %q: %w", g.Name, err)
		}
		for _, e := range cands {
			s.known[e.Key] = true
		}
		res.Events = stored
		for _, e := range stored {
			r.metrics.events.WithLabelValues(string(e.Type)).Inc()
		}
		if len(stored) > 0 {
			r.log.Info("watch: new connection peers", "group", g.Name, "events", len(stored))
			if r.alerts != nil {
				r.alerts.Notify()
			}
		}
	}
	if keep := r.o.Retention.Observations; keep > 0 && now.Sub(s.pruned) >= r.o.PruneEvery {
		s.pruned = now
		if n, err := cs.PrunePeers(ctx, now.Add(-keep)); err != nil {
			r.log.Warn("watch: prune peers", "group", g.Name, "error", err)
		} else if n > 0 {
			r.log.Debug("watch: pruned peers", "group", g.Name, "peers", n)
		}
	}
	return res, nil
}

// storeEvents stores events that belong to no scan in a run of their own,
// so that they carry the group (alert routes filter on it). Repeats of
// stored events are left out as ever.
func (r *Runner) storeEvents(ctx context.Context, group string, events []model.Event) ([]model.Event, error) {
	st := r.o.Store
	runID, err := st.BeginRun(ctx, group)
	if err != nil {
		return nil, err
	}
	stored, err := st.CompleteRun(ctx, runID, nil, events)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if derr := st.DiscardRun(dctx, runID); derr != nil && !errors.Is(derr, store.ErrRunNotRunning) {
			r.log.Error("watch: discard run", "group", group, "run", runID, "error", derr)
		}
		return nil, err
	}
	return stored, nil
}

// loadListeners returns the listeners of the group's endpoints as the
// store last saw them. When several records share a listener (several
// paths), an MCP one is preferred, then the first URL.
func (r *Runner) loadListeners(ctx context.Context, group string) (map[netip.AddrPort]listenerRef, error) {
	state, err := r.o.Store.LatestState(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[netip.AddrPort]listenerRef{}
	for _, es := range state.Endpoints {
		if es.Latest == nil || es.Latest.Endpoint == nil || es.Latest.Endpoint.Listen == nil {
			continue
		}
		ep := es.Latest.Endpoint
		a, err := netip.ParseAddr(ep.Listen.Address)
		if err != nil || ep.Listen.Port < 1 || ep.Listen.Port > 65535 {
			continue
		}
		ap := netip.AddrPortFrom(a.Unmap().WithZone(""), uint16(ep.Listen.Port))
		if old, ok := out[ap]; ok {
			oldMCP, newMCP := old.ep.Status == result.StatusMCP, ep.Status == result.StatusMCP
			if oldMCP && !newMCP || oldMCP == newMCP && old.ep.URL < ep.URL {
				continue
			}
		}
		out[ap] = listenerRef{addr: ap, ep: ep}
	}
	return out, nil
}

// peerGroup is the connections of one peer (address, plus process for a
// peer on this machine) to one listener.
type peerGroup struct {
	key   string
	conns []host.Peer
}

// peerKey names a peer: its address, and for a peer on this machine whose
// process is known, the program too, so that a new local program is a new
// peer while its reconnections are not.
func peerKey(p host.Peer) string {
	k := p.Remote.Addr().Unmap().WithZone("").String()
	if p.OnHost && p.Process != nil {
		prog := p.Process.Exe
		if prog == "" && len(p.Process.Cmdline) > 0 {
			prog = p.Process.Cmdline[0]
		}
		if prog != "" {
			k += " " + prog
		}
	}
	return k
}

// redactedCommand is a peer's command line as the host report shows it:
// secrets in its arguments (tokens, keys, passwords) redacted.
func redactedCommand(pr *procfs.Process) string {
	if len(pr.Cmdline) > 0 {
		return strings.Join(clientcfg.RedactArgs(pr.Cmdline), " ")
	}
	if pr.Exe != "" {
		return "[" + pr.Exe + "]"
	}
	return ""
}

// judgePeers turns a listener's sampled connections into peer rows and
// candidate events, as host.JudgeConnections judges them: on a gated
// listener anything but the gate is a bypass (a local process that cannot
// be told from the gate excepted); on any other MCP listener, a peer that
// is not this machine is external. The watch process's own connections
// (its audit probes) are left out.
func judgePeers(group string, ref listenerRef, lc *host.ListenerConns, self int, now time.Time) ([]store.PeerRecord, []model.Event) {
	var groups []*peerGroup
	byKey := map[string]*peerGroup{}
	for _, p := range lc.Peers {
		if p.Process != nil && p.Process.PID == self {
			continue
		}
		k := peerKey(p)
		pg := byKey[k]
		if pg == nil {
			pg = &peerGroup{key: k}
			byKey[k] = pg
			groups = append(groups, pg)
		}
		pg.conns = append(pg.conns, p)
	}
	ep := ref.ep
	open := ep.Status == result.StatusMCP && ep.MCP != nil && ep.MCP.Confidence == "confirmed" &&
		(ep.Auth == nil || !ep.Auth.Required)
	localOnly := ref.addr.Addr().IsLoopback() || open
	listener := ref.addr.String()

	var peers []store.PeerRecord
	var events []model.Event
	for _, pg := range groups {
		p := pg.conns[0]
		gate := slices.ContainsFunc(pg.conns, func(q host.Peer) bool { return q.Gate })
		pr := store.PeerRecord{Listener: listener, Peer: pg.key, Group: group, URL: ep.URL, PeerPort: int(p.Remote.Port()),
			Class: string(p.Class), OnHost: p.OnHost, Gate: gate, Gated: lc.Gated}
		if p.Process != nil {
			pr.PID, pr.Process = p.Process.PID, redactedCommand(p.Process)
		} else if p.OnHost {
			pr.Process = p.ProcessNote
		}
		peers = append(peers, pr)

		var typ model.Type
		var rule string
		var sev finding.Severity
		switch {
		case lc.Gated:
			if gate || (p.OnHost && p.Process == nil && p.ProcessNote != host.NotePeerOtherNS) {
				continue
			}
			typ, rule, sev = model.ConnectionBypass, rules.GateBypassed, finding.Critical
			if p.OnHost {
				sev = finding.High
			}
		case p.OnHost:
			continue
		default:
			typ, sev = model.ConnectionExternal, finding.Medium
			switch {
			case p.Class == host.PeerPublic && open:
				rule, sev = rules.InboundPublicOpen, finding.Critical
			case p.Class != host.PeerLoopback && localOnly:
				rule, sev = rules.InboundLocalOnlyBreak, finding.High
			}
		}
		d := model.ConnDetail{Listener: listener, Peer: p.Remote.Addr().Unmap().WithZone("").String(), PeerPort: pr.PeerPort,
			PeerClass: pr.Class, OnHost: p.OnHost, PID: pr.PID, Process: pr.Process, Gated: lc.Gated, Rule: rule,
			Severity: sev.String(), Connections: len(pg.conns)}
		b, _ := json.Marshal(d)
		url := ep.URL
		if url == "" {
			url = "tcp://" + listener
		}
		events = append(events, model.Event{Time: now, Type: typ, URL: url, Subject: pg.key, Detail: b,
			Key: model.ConnKey(typ, listener, pg.key)})
	}
	return peers, events
}
