// Package ratelimit enforces per-principal request, tool-call, per-tool and
// concurrency limits for the gate. Limits are keyed by the principal's key,
// never by session, so opening a new session does not reset them. Buckets
// of principals idle for longer than Limits.IdleTimeout are evicted, so
// memory stays bounded by the number of recently active principals.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Which limit refused a request, as returned by Allow and in metrics.
const (
	WhichRequests    = "requests"
	WhichToolCalls   = "tool_calls"
	WhichToolPrefix  = "tool:" // followed by the tool name
	WhichConcurrency = "concurrency"
)

// ToolsCall is the JSON-RPC method the tool limits apply to.
const ToolsCall = "tools/call"

// DefaultIdleTimeout is how long an unused principal's buckets are kept.
const DefaultIdleTimeout = 10 * time.Minute

// Rate is a token bucket: PerSecond tokens are added each second up to
// Burst. A zero Burst means max(1, ceil(PerSecond)).
type Rate struct {
	PerSecond float64 `json:"per_second" yaml:"per_second"`
	Burst     int     `json:"burst,omitempty" yaml:"burst,omitempty"`
}

// Limits are the limits applied to each principal separately. A zero rate
// or MaxConcurrent means no such limit.
type Limits struct {
	// RequestsPerSecond limits every JSON-RPC request; Burst is its bucket
	// size (0 means max(1, ceil(RequestsPerSecond))).
	RequestsPerSecond float64
	Burst             int
	// ToolCallsPerSecond limits tools/call requests in addition;
	// ToolBurst is its bucket size (0 as for Burst).
	ToolCallsPerSecond float64
	ToolBurst          int
	// PerTool limits calls of individual tools by exact name, in addition.
	PerTool map[string]Rate
	// MaxConcurrent caps the requests in flight per principal (Acquire).
	MaxConcurrent int
	// IdleTimeout is how long an unused principal's state is kept;
	// 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// Validate reports every invalid value at once.
func (l Limits) Validate() error {
	var errs []error
	check := func(name string, r float64, burst int) {
		if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			errs = append(errs, fmt.Errorf("ratelimit: %s rate %v must be a finite number >= 0", name, r))
		}
		if burst < 0 {
			errs = append(errs, fmt.Errorf("ratelimit: %s burst %d must be >= 0", name, burst))
		}
	}
	check("requests", l.RequestsPerSecond, l.Burst)
	check("tool calls", l.ToolCallsPerSecond, l.ToolBurst)
	for name, r := range l.PerTool {
		if name == "" {
			errs = append(errs, errors.New("ratelimit: per-tool limit with an empty tool name"))
		}
		check(fmt.Sprintf("tool %q", name), r.PerSecond, r.Burst)
		if r.PerSecond == 0 {
			errs = append(errs, fmt.Errorf("ratelimit: tool %q rate must be > 0 (omit the tool for no limit)", name))
		}
	}
	if l.MaxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: max concurrent %d must be >= 0", l.MaxConcurrent))
	}
	if l.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: idle timeout %v must be >= 0", l.IdleTimeout))
	}
	return errors.Join(errs...)
}

const shardCount = 64

// Limiter holds the buckets of every recently active principal. It is safe
// for concurrent use.
type Limiter struct {
	l      Limits
	now    func() time.Time // a test clock; time.Now otherwise
	sweep  time.Duration    // how often a shard looks for idle entries
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu        sync.Mutex
	m         map[string]*entry
	peak      int // most entries since the map was last rebuilt
	lastSweep time.Time
}

// entry is one principal's state, guarded by its shard's mutex.
type entry struct {
	req, calls *rate.Limiter
	tools      map[string]*rate.Limiter
	inflight   int
	lastUsed   time.Time
}

// New returns a Limiter enforcing l. Limits should have passed Validate;
// invalid values are treated as zero (no such limit). l is copied.
func New(l Limits) *Limiter {
	c := l
	c.PerTool = make(map[string]Rate, len(l.PerTool))
	for k, v := range l.PerTool {
		if v.PerSecond > 0 && !math.IsInf(v.PerSecond, 0) {
			c.PerTool[k] = v
		}
	}
	if !(c.RequestsPerSecond > 0) || math.IsInf(c.RequestsPerSecond, 0) {
		c.RequestsPerSecond = 0
	}
	if !(c.ToolCallsPerSecond > 0) || math.IsInf(c.ToolCallsPerSecond, 0) {
		c.ToolCallsPerSecond = 0
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	lim := &Limiter{l: c, now: time.Now, seed: maphash.MakeSeed()}
	lim.sweep = max(c.IdleTimeout/10, time.Second)
	for i := range lim.shards {
		lim.shards[i].m = make(map[string]*entry)
	}
	return lim
}

func bucket(r Rate) *rate.Limiter {
	b := r.Burst
	if b <= 0 {
		b = max(1, int(math.Ceil(r.PerSecond)))
	}
	return rate.NewLimiter(rate.Limit(r.PerSecond), b)
}

func (l *Limiter) shardOf(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%shardCount]
}

// get returns key's entry, creating it; the shard is locked.
func (l *Limiter) get(sh *shard, key string, now time.Time) *entry {
	if now.Sub(sh.lastSweep) >= l.sweep {
		l.sweepShard(sh, now)
	}
	e := sh.m[key]
	if e == nil {
		e = &entry{}
		if l.l.RequestsPerSecond > 0 {
			e.req = bucket(Rate{l.l.RequestsPerSecond, l.l.Burst})
		}
		if l.l.ToolCallsPerSecond > 0 {
			e.calls = bucket(Rate{l.l.ToolCallsPerSecond, l.l.ToolBurst})
		}
		sh.m[key] = e
		sh.peak = max(sh.peak, len(sh.m))
	}
	e.lastUsed = now
	return e
}

// Allow takes one token for a request by the principal key with the
// JSON-RPC method and, for tools/call, the tool name. When a limit refuses
// it, no token is taken from any bucket, retryAfter is when the request
// would be allowed (whole seconds, at least 1s) and which names the limit
// that needs the longest wait: "requests", "tool_calls" or "tool:NAME".
func (l *Limiter) Allow(key, method, tool string) (ok bool, retryAfter time.Duration, which string) {
	now := l.now()
	sh := l.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := l.get(sh, key, now)
	var checks [3]struct {
		lim   *rate.Limiter
		which string
	}
	n := 0
	if e.req != nil {
		checks[n].lim, checks[n].which = e.req, WhichRequests
		n++
	}
	if method == ToolsCall {
		if e.calls != nil {
			checks[n].lim, checks[n].which = e.calls, WhichToolCalls
			n++
		}
		if r, limited := l.l.PerTool[tool]; limited {
			if e.tools == nil {
				e.tools = make(map[string]*rate.Limiter)
			}
			b := e.tools[tool]
			if b == nil {
				b = bucket(r)
				e.tools[tool] = b
			}
			checks[n].lim, checks[n].which = b, WhichToolPrefix+tool
			n++
		}
	}
	var res [3]*rate.Reservation
	var worst time.Duration
	for i := range n {
		res[i] = checks[i].lim.ReserveN(now, 1)
		d := time.Duration(math.MaxInt64)
		if res[i].OK() {
			d = res[i].DelayFrom(now)
		}
		if d > worst {
			worst, which = d, checks[i].which
		}
	}
	if worst <= 0 {
		return true, 0, ""
	}
	for i := range n {
		res[i].CancelAt(now)
	}
	return false, roundUpSeconds(worst), which
}

// AllowContext is Allow with the signature of RedisLimiter.AllowContext,
// so that a caller can use either; it never fails.
func (l *Limiter) AllowContext(_ context.Context, key, method, tool string) (bool, time.Duration, string, error) {
	ok, retry, which := l.Allow(key, method, tool)
	return ok, retry, which, nil
}

// roundUpSeconds rounds d up to whole seconds, at least one.
func roundUpSeconds(d time.Duration) time.Duration {
	if d > time.Duration(math.MaxInt64)-time.Second {
		return time.Duration(math.MaxInt64/int64(time.Second)) * time.Second
	}
	s := (d + time.Second - 1) / time.Second
	return max(s, 1) * time.Second
}

// Acquire counts one more request in flight for key. It returns false when
// key already has MaxConcurrent requests in flight; otherwise release must
// be called once the request is done (extra calls are ignored).
func (l *Limiter) Acquire(key string) (release func(), ok bool) {
	if l.l.MaxConcurrent <= 0 {
		return func() {}, true
	}
	sh := l.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := l.get(sh, key, l.now())
	if e.inflight >= l.l.MaxConcurrent {
		return nil, false
	}
	e.inflight++
	var once sync.Once
	return func() {
		once.Do(func() {
			sh.mu.Lock()
			e.inflight--
			e.lastUsed = l.now()
			sh.mu.Unlock()
		})
	}, true
}

// Sweep removes the state of every principal idle for longer than
// IdleTimeout with nothing in flight. Allow and Acquire also sweep lazily;
// call Sweep from a janitor to reclaim memory when traffic stops.
func (l *Limiter) Sweep() {
	now := l.now()
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		l.sweepShard(sh, now)
		sh.mu.Unlock()
	}
}

func (l *Limiter) sweepShard(sh *shard, now time.Time) {
	sh.lastSweep = now
	for k, e := range sh.m {
		if e.inflight == 0 && now.Sub(e.lastUsed) > l.l.IdleTimeout {
			delete(sh.m, k)
		}
	}
	// Go maps do not shrink: rebuild one that emptied out, so a burst of
	// principals does not pin its memory forever.
	if sh.peak > 64 && len(sh.m) < sh.peak/4 {
		m := make(map[string]*entry, len(sh.m))
		for k, e := range sh.m {
			m[k] = e
		}
		sh.m, sh.peak = m, len(m)
	}
}

// Len returns the number of principals whose state is kept.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
