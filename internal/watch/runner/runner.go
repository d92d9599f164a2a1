// Package runner runs mcpwarden watch: each target group on its schedule,
// one cycle at a time. A cycle records a run in the store (BeginRun),
// scans the group's targets or audits this machine, compares the records
// with the group's last known state (diff.Fill and diff.Diff), stores the
// records and events in one transaction (CompleteRun) and hands the new
// events to the alert dispatcher. A cycle that fails or is interrupted is
// discarded: it leaves no observation and no event.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/host"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
	"github.com/mcpwarden/mcpwarden/internal/watch/alert"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// DefaultPruneEvery is how often Run applies the retention policy.
const DefaultPruneEvery = time.Hour

// ScanFunc scans one group and emits its records. covered reports
// whether the scan looked at a URL (nil: every endpoint of the group).
type ScanFunc func(ctx context.Context, g config.Group, emit func(*result.Endpoint) error) (covered func(url string) bool, err error)

// Options configures New.
type Options struct {
	Store  store.Store
	Groups []config.Group
	// Routes are the alert routes; they need a Store that is also a
	// store.Outbox (both built-in stores are).
	Routes []config.Route
	// GoneGrace and TLSExpiryDays tune the diff (zero: its defaults).
	GoneGrace     time.Duration
	TLSExpiryDays int
	Retention     store.Retention
	// PruneEvery is how often Run prunes; zero means DefaultPruneEvery.
	PruneEvery time.Duration
	// Scan replaces the built-in scan and host audit (tests).
	Scan ScanFunc
	// HostOptions are the base options of host audits (Scan is set from
	// the group); nil means the defaults.
	HostOptions *host.Options
	// Connections are the base options of connection samples (Listeners
	// and Gated are set from the group, see Sample); nil: the defaults.
	// SelfPID is the process whose connections are not judged (zero: this
	// one, whose audit probes reach the listeners).
	Connections *host.ConnOptions
	SelfPID     int
	// UserAgent of the probes; empty: the prober's default.
	UserAgent string
	// Alert tunes the dispatcher: its Routes, Outbox, Events, Logger, Now
	// and OnResult are set by New.
	Alert alert.Options
	// Metrics receives the counters; nil makes new ones (see Runner.Metrics).
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Runner runs the watch cycles.
type Runner struct {
	o       Options
	log     *slog.Logger
	metrics *Metrics
	alerts  *alert.Dispatcher // nil without routes
	scan    ScanFunc
	mu      sync.Mutex
	busy    map[string]bool // groups in a cycle
	// samplers holds the connection sampling state by group (conns.go).
	samplers sync.Map
}

// CycleResult sums up one cycle.
type CycleResult struct {
	Group   string
	RunID   int64
	Records int
	// Events are the events the cycle stored (repeats of stored events
	// are left out).
	Events   []model.Event
	Duration time.Duration
}

// New checks the options and returns a runner.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("runner: no store")
	}
	if len(opts.Groups) == 0 {
		return nil, errors.New("runner: no target group")
	}
	seen := map[string]bool{}
	for _, g := range opts.Groups {
		if g.Name == "" || seen[g.Name] {
			return nil, fmt.Errorf("runner: group name %q empty or used twice", g.Name)
		}
		seen[g.Name] = true
		if g.Schedule.Cron == nil && g.Schedule.Interval <= 0 {
			return nil, fmt.Errorf("runner: group %q has no schedule", g.Name)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = DefaultPruneEvery
	}
	r := &Runner{o: opts, log: opts.Logger, metrics: opts.Metrics, scan: opts.Scan, busy: map[string]bool{}}
	if r.metrics == nil {
		r.metrics = NewMetrics()
	}
	if r.scan == nil {
		r.scan = r.builtinScan
	}
	if len(opts.Routes) > 0 {
		ob, ok := opts.Store.(store.Outbox)
		if !ok {
			return nil, fmt.Errorf("runner: the store %T keeps no alert outbox", opts.Store)
		}
		ao := opts.Alert
		ao.Routes, ao.Outbox, ao.Events, ao.Logger, ao.Now = opts.Routes, ob, opts.Store, opts.Logger, opts.Now
		ao.OnResult = r.metrics.alertResult
		d, err := alert.New(ao)
		if err != nil {
			return nil, fmt.Errorf("runner: %w", err)
		}
		r.alerts = d
	}
	return r, nil
}

// Metrics returns the runner's collectors.
func (r *Runner) Metrics() *Metrics { return r.metrics }

// Cycle runs one cycle of group g. Two cycles of one group never overlap:
// a second call while one runs fails.
func (r *Runner) Cycle(ctx context.Context, g config.Group) (CycleResult, error) {
	res := CycleResult{Group: g.Name}
	r.mu.Lock()
	if r.busy[g.Name] {
		r.mu.Unlock()
		return res, fmt.Errorf("runner: group %q: a cycle is already running", g.Name)
	}
	r.busy[g.Name] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.busy, g.Name)
		r.mu.Unlock()
	}()
	if g.Source == config.SourceWorkers {
		return r.workersCycle(ctx, g)
	}
	if g.Exposure != nil {
		return r.exposureCycle(ctx, g)
	}

	st := r.o.Store
	prev, err := st.LatestState(ctx, g.Name)
	if err != nil {
		return res, r.failed(g, err)
	}
	runID, err := st.BeginRun(ctx, g.Name)
	if err != nil {
		return res, r.failed(g, err)
	}
	res.RunID = runID
	discard := func(cause error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := st.DiscardRun(dctx, runID); err != nil && !errors.Is(err, store.ErrRunNotRunning) {
			r.log.Error("watch: discard run", "group", g.Name, "run", runID, "error", err)
		}
		return r.failed(g, cause)
	}
	start := time.Now()
	var recs []*result.Endpoint
	covered, err := r.scan(ctx, g, func(ep *result.Endpoint) error {
		recs = append(recs, ep)
		return nil
	})
	res.Duration = time.Since(start)
	r.metrics.duration.WithLabelValues(g.Name).Observe(res.Duration.Seconds())
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return res, discard(fmt.Errorf("scan: %w", err))
	}
	now := r.o.Now()
	dopts := &diff.Options{GoneGrace: r.o.GoneGrace, TLSExpiryDays: r.o.TLSExpiryDays, Covered: covered}
	filled := diff.Fill(prev, recs, now, dopts)
	events := diff.Diff(prev, recs, now, dopts)
	stored, err := st.CompleteRun(ctx, runID, filled, events)
	if err != nil {
		return res, discard(err)
	}
	res.Records, res.Events = len(recs), stored
	if g.Host {
		r.listenersChanged(g.Name)
	}
	r.metrics.runs.WithLabelValues(g.Name, "complete").Inc()
	for _, e := range stored {
		r.metrics.events.WithLabelValues(string(e.Type)).Inc()
	}
	r.log.Info("watch: cycle complete", "group", g.Name, "run", runID, "records", len(recs), "events", len(stored),
		"elapsed", res.Duration.Round(time.Millisecond))
	if items, err := st.Inventory(ctx); err == nil {
		r.metrics.setInventory(items)
	} else {
		r.log.Warn("watch: inventory for metrics", "error", err)
	}
	if r.alerts != nil && len(stored) > 0 {
		r.alerts.Notify()
	}
	return res, nil
}

func (r *Runner) failed(g config.Group, err error) error {
	r.metrics.runs.WithLabelValues(g.Name, "failed").Inc()
	return fmt.Errorf("runner: group %q: %w", g.Name, err)
}

// Alerts enqueues the alerts of stored events and makes one delivery
// attempt at each due alert. It does nothing without routes.
func (r *Runner) Alerts(ctx context.Context) (delivered, failed int, err error) {
	if r.alerts == nil {
		return 0, 0, nil
	}
	if _, err := r.alerts.Enqueue(ctx); err != nil {
		return 0, 0, err
	}
	return r.alerts.Deliver(ctx)
}

// Once runs one cycle of every group, one group after another, then
// delivers the alerts. It returns the results and the first error; a
// failed group does not stop the others.
func (r *Runner) Once(ctx context.Context) ([]CycleResult, error) {
	// Alerts left by an earlier process go out even if a cycle fails.
	var firstErr error
	var out []CycleResult
	for _, g := range r.o.Groups {
		res, err := r.Cycle(ctx, g)
		if err != nil {
			r.log.Error("watch: cycle failed", "group", g.Name, "error", err)
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				return out, firstErr
			}
			continue
		}
		out = append(out, res)
		if g.Host && g.Connections != nil {
			if _, err := r.Sample(ctx, g); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	if _, _, err := r.Alerts(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	if r.o.Retention != (store.Retention{}) {
		if _, err := r.o.Store.Prune(ctx, r.o.Retention); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return out, firstErr
}

// Run runs every group on its schedule, the alert dispatcher and the
// retention policy until ctx ends, then waits for the cycles in progress
// to be discarded and for deliveries in progress to be settled. Each group
// runs once at start.
func (r *Runner) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if r.alerts != nil {
		wg.Go(func() { r.alerts.Run(ctx) })
	}
	for _, g := range r.o.Groups {
		wg.Go(func() { r.schedule(ctx, g) })
		if g.Host && g.Connections != nil {
			wg.Go(func() { r.sampleLoop(ctx, g) })
		}
	}
	if r.o.Retention != (store.Retention{}) {
		wg.Go(func() {
			t := time.NewTicker(r.o.PruneEvery)
			defer t.Stop()
			for {
				if st, err := r.o.Store.Prune(ctx, r.o.Retention); err != nil && ctx.Err() == nil {
					r.log.Error("watch: prune", "error", err)
				} else if err == nil {
					r.log.Debug("watch: pruned", "stats", st)
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		})
	}
	wg.Wait()
	return nil
}

func (r *Runner) schedule(ctx context.Context, g config.Group) {
	for {
		started := r.o.Now()
		if _, err := r.Cycle(ctx, g); err != nil && ctx.Err() == nil {
			r.log.Error("watch: cycle failed", "group", g.Name, "error", err)
		}
		next := g.Schedule.Next(started)
		if now := r.o.Now(); !next.After(now) {
			// The cycle outlasted its interval: start from now.
			next = g.Schedule.Next(now)
		}
		r.log.Debug("watch: next cycle", "group", g.Name, "at", next.Format(time.RFC3339))
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// builtinScan scans a group's targets with the scan engine, or audits
// this machine for a host group.
func (r *Runner) builtinScan(ctx context.Context, g config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
	so := scanOptions(g, r.log, r.o.UserAgent)
	if g.Host {
		var ho host.Options
		if r.o.HostOptions != nil {
			ho = *r.o.HostOptions
		}
		ho.Scan, ho.Logger = so, r.log
		res, err := host.Audit(ctx, ho, emit)
		if res != nil {
			for _, w := range res.Warnings {
				r.log.Debug("watch: host audit", "group", g.Name, "warning", w)
			}
		}
		return nil, err
	}
	inputs := target.SpecInputs(g.Targets...)
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, name := range g.TargetFiles {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("target file: %w", err)
		}
		files = append(files, f)
		inputs = append(inputs, target.FileInput(name, f))
	}
	stream, err := target.NewStream(&target.Options{Ports: g.Ports, Exclude: g.Exclude}, inputs...)
	if err != nil {
		return nil, err
	}
	src := &recording{src: stream, seen: map[string]bool{}}
	_, err = scan.Run(ctx, src, so, emit)
	return src.covered, err
}

func scanOptions(g config.Group, log *slog.Logger, ua string) scan.Options {
	s := g.Scan
	return scan.Options{
		Concurrency: s.Concurrency,
		PerHost:     s.PerHost,
		Rate:        s.Rate,
		Deadline:    s.Deadline,
		Excluded: func(a netip.Addr) bool {
			return g.Exclude != nil && g.Exclude.ContainsAddr(a)
		},
		Logger: log,
		Probe: probe.Options{
			Paths:          g.Paths,
			Headers:        s.Headers,
			UserAgent:      ua,
			ConnectTimeout: s.ConnectTimeout,
			RequestTimeout: s.RequestTimeout,
			ServiceTimeout: s.ServiceTimeout,
			Logger:         log,
		},
	}
}

// recording is a scan source that remembers which host:port services it
// handed out, so that the diff knows what the run covered.
type recording struct {
	src  scan.Source
	mu   sync.Mutex
	seen map[string]bool
}

func (s *recording) Each(ctx context.Context, fn func(target.Service) error) error {
	return s.src.Each(ctx, func(svc target.Service) error {
		s.mu.Lock()
		s.seen[net.JoinHostPort(svc.Host, strconv.Itoa(svc.Port))] = true
		s.mu.Unlock()
		return fn(svc)
	})
}

// covered reports whether the scan probed the host:port of u.
func (s *recording) covered(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	port := p.Port()
	if port == "" {
		switch p.Scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[net.JoinHostPort(p.Hostname(), port)]
}
