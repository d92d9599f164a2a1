// Package scan is the scanning pipeline: a target stream feeds a bounded
// queue, N workers probe services under a global request rate and a per-host
// concurrency cap, and one writer receives the endpoint records in the
// caller's goroutine. A panic while probing one target becomes an error
// record for that target, never a crash of the scan.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/risk"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Source yields the services to scan (target.Stream implements it).
type Source interface {
	Each(ctx context.Context, fn func(target.Service) error) error
}

// Options configures a scan. Zero fields take their documented defaults.
type Options struct {
	// Concurrency is the number of services probed at once. Default 256.
	Concurrency int
	// PerHost caps services probed at once on one host. Default 4.
	PerHost int
	// Rate caps HTTP requests per second over the whole scan; 0 = no cap.
	Rate float64
	// Deadline bounds the whole scan; 0 = none.
	Deadline time.Duration
	// Excluded, when set, is consulted before every connection: the last
	// line of defence for --exclude, also against host names that resolve
	// into an excluded range.
	Excluded func(netip.Addr) bool
	// EmitClosed also emits records for closed ports (--all).
	EmitClosed bool
	// Probe configures the prober; its Dial, Wait and OnRequest are set
	// by the pipeline.
	Probe probe.Options
	// Amend, when set, is called on each record after its findings are
	// assessed and before it is counted and emitted (a baseline marks
	// accepted findings there).
	Amend func(*result.Endpoint)
	// Progress, when set, is called after each service with the count of
	// services done and MCP endpoints found.
	Progress func(done, found int64)
	// Logger receives per-target debug logs; nil discards.
	Logger *slog.Logger
}

// ErrInterrupted is returned (wrapped) when the context ended before every
// target was scanned; the records emitted so far are complete.
var ErrInterrupted = errors.New("scan interrupted")

// Run scans every service of src and calls emit, from the caller's
// goroutine, with each endpoint record (findings assessed). It returns the
// run summary; when ctx ends or the deadline passes first, the summary
// says Interrupted and the error wraps ErrInterrupted. An error from emit
// stops the scan and is returned.
func Run(ctx context.Context, src Source, opts Options, emit func(*result.Endpoint) error) (*result.Summary, error) {
	start := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.PerHost <= 0 {
		opts.PerHost = 4
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Deadline)
		defer cancel()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	po := opts.Probe
	connectTimeout := po.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = 3 * time.Second
	}
	dialer := &net.Dialer{Timeout: connectTimeout}
	po.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if opts.Excluded != nil {
			if ap, err := netip.ParseAddrPort(addr); err == nil && opts.Excluded(ap.Addr().Unmap()) {
				return nil, fmt.Errorf("dial %s: %w", addr, probe.ErrExcluded)
			}
		}
		return dialer.DialContext(ctx, network, addr)
	}
	if opts.Rate > 0 {
		burst := int(math.Ceil(opts.Rate / 20))
		lim := rate.NewLimiter(rate.Limit(opts.Rate), max(burst, 1))
		po.Wait = lim.Wait
	}
	prober := probe.New(po)
	hosts := newHostSlots(opts.PerHost)

	sum := &result.Summary{Schema: result.SummarySchema, ByStatus: map[result.Status]int{}, Findings: map[string]int{}}
	queue := make(chan target.Service, opts.Concurrency)
	results := make(chan []*result.Endpoint, opts.Concurrency)

	var srcErr error
	go func() {
		defer close(queue)
		srcErr = src.Each(ctx, func(s target.Service) error {
			select {
			case queue <- s:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for svc := range queue {
				eps := probeOne(ctx, prober, hosts, svc, opts.Logger)
				if ctx.Err() != nil && cutShort(eps) {
					continue // interrupted mid-probe: not a verdict
				}
				results <- eps
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var done, found atomic.Int64
	var emitErr error
	for eps := range results {
		done.Add(1)
		sum.Targets++
		for _, ep := range eps {
			risk.Assess(ep)
			if opts.Amend != nil {
				opts.Amend(ep)
			}
			sum.ByStatus[ep.Status]++
			if ep.Status == result.StatusMCP {
				found.Add(1)
			}
			sum.Count(ep)
			if ep.Status == result.StatusClosed && !opts.EmitClosed {
				continue
			}
			if emitErr == nil {
				if err := emit(ep); err != nil {
					emitErr = err
					stop()
				}
			}
		}
		if opts.Progress != nil {
			opts.Progress(done.Load(), found.Load())
		}
	}
	sum.Requests = prober.Requests()
	sum.ElapsedMS = time.Since(start).Milliseconds()
	if emitErr != nil {
		return sum, emitErr
	}
	if srcErr != nil && !errors.Is(srcErr, context.Canceled) && !errors.Is(srcErr, context.DeadlineExceeded) {
		return sum, fmt.Errorf("scan: targets: %w", srcErr)
	}
	if err := ctx.Err(); err != nil {
		sum.Interrupted = true
		return sum, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	return sum, nil
}

// cutShort reports whether records look like the work of a probe that the
// scan's own cancellation interrupted (no MCP verdict reached).
func cutShort(eps []*result.Endpoint) bool {
	for _, ep := range eps {
		if ep.Status == result.StatusMCP {
			return false
		}
	}
	return true
}

func probeOne(ctx context.Context, p *probe.Prober, hosts *hostSlots, svc target.Service, log *slog.Logger) (eps []*result.Endpoint) {
	release, err := hosts.acquire(ctx, svc.Host)
	if err != nil {
		return nil
	}
	defer release()
	defer func() {
		if r := recover(); r != nil {
			log.Error("probe panicked", "host", svc.Host, "port", svc.Port, "panic", r, "stack", string(debug.Stack()))
			eps = []*result.Endpoint{{
				Schema: result.Schema, URL: fmt.Sprintf("%s:%d", svc.Host, svc.Port), Host: svc.Host, Port: svc.Port,
				Status: result.StatusError, Error: fmt.Sprintf("internal error while probing: %v", r), ScannedAt: time.Now().UTC(),
			}}
		}
	}()
	return p.Probe(ctx, svc)
}

// hostSlots caps concurrent work per host with reference-counted
// semaphores, so memory stays proportional to hosts in flight.
type hostSlots struct {
	per int
	mu  sync.Mutex
	m   map[string]*slot
}

type slot struct {
	sem  chan struct{}
	refs int
}

func newHostSlots(per int) *hostSlots { return &hostSlots{per: per, m: map[string]*slot{}} }

func (h *hostSlots) acquire(ctx context.Context, host string) (func(), error) {
	h.mu.Lock()
	s := h.m[host]
	if s == nil {
		s = &slot{sem: make(chan struct{}, h.per)}
		h.m[host] = s
	}
	s.refs++
	h.mu.Unlock()
	unref := func() {
		h.mu.Lock()
		s.refs--
		if s.refs == 0 {
			delete(h.m, host)
		}
		h.mu.Unlock()
	}
	select {
	case s.sem <- struct{}{}:
		return func() { <-s.sem; unref() }, nil
	case <-ctx.Done():
		unref()
		return nil, ctx.Err()
	}
}
