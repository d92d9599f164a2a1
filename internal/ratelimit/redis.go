package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// gcraScript checks up to three GCRA buckets of one principal at the
// Redis server's clock and, only if all of them allow the request, moves
// each bucket's theoretical arrival time (TAT) forward. ARGV holds, per
// key, the emission interval and the burst, in microseconds and tokens.
// It returns {1, 0, 0} when allowed, else {0, index of the key needing the
// longest wait (1-based), that wait in microseconds}. A key expires when
// its bucket would be full again, so idle principals cost no memory.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local worst, worsti = 0, 0
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2*i-1])
  local burst = tonumber(ARGV[2*i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local newtat = tat + interval
  local wait = newtat - interval * burst - now
  if wait > worst then worst, worsti = wait, i end
  tats[i] = newtat
end
if worsti > 0 then return {0, worsti, worst} end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX', ttl)
end
return {1, 0, 0}
`)

// RedisLimiter enforces Limits in Redis, so that every gate replica
// sharing the Redis server shares each principal's buckets and in-flight
// slots. Rates use the generic cell rate algorithm at the server's clock;
// buckets expire in Redis once full again. MaxConcurrent is a sorted set
// of leased slots per principal (AcquireContext).
type RedisLimiter struct {
	c      redis.UniversalClient
	l      Limits
	prefix string
}

// NewRedis returns a RedisLimiter using client c. Keys are
// "PREFIX{principal}:requests", ":tool_calls" and ":tool:NAME"; an empty
// prefix means "mcpwarden:rl:". l is copied; invalid values count as zero.
func NewRedis(c redis.UniversalClient, prefix string, l Limits) *RedisLimiter {
	if prefix == "" {
		prefix = "mcpwarden:rl:"
	}
	return &RedisLimiter{c: c, l: New(l).l, prefix: prefix}
}

// AllowContext is Limiter.Allow against the shared buckets in Redis. It
// returns an error when Redis cannot be asked; the caller decides whether
// to fail open or closed.
func (r *RedisLimiter) AllowContext(ctx context.Context, key, method, tool string) (ok bool, retryAfter time.Duration, which string, err error) {
	var keys, whichs []string
	var args []any
	add := func(w string, rt Rate) {
		burst := rt.Burst
		if burst <= 0 {
			burst = max(1, int(math.Ceil(rt.PerSecond)))
		}
		interval := max(int64(math.Round(1e6/rt.PerSecond)), 1)
		// The principal is a hash tag so a cluster keeps its keys together.
		keys = append(keys, r.prefix+"{"+key+"}:"+w)
		whichs = append(whichs, w)
		args = append(args, interval, burst)
	}
	if r.l.RequestsPerSecond > 0 {
		add(WhichRequests, Rate{r.l.RequestsPerSecond, r.l.Burst})
	}
	if method == ToolsCall {
		if r.l.ToolCallsPerSecond > 0 {
			add(WhichToolCalls, Rate{r.l.ToolCallsPerSecond, r.l.ToolBurst})
		}
		if rt, limited := r.l.PerTool[tool]; limited {
			add(WhichToolPrefix+tool, rt)
		}
	}
	if len(keys) == 0 {
		return true, 0, "", nil
	}
	res, err := gcraScript.Run(ctx, r.c, keys, args...).Int64Slice()
	if err != nil {
		return false, 0, "", fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 3 || res[1] < 0 || res[1] > int64(len(keys)) || res[2] < 0 {
		return false, 0, "", errors.New("ratelimit: redis: unexpected script reply")
	}
	if res[0] == 1 {
		return true, 0, "", nil
	}
	wait := time.Duration(min(res[2], math.MaxInt64/1000)) * time.Microsecond
	return false, roundUpSeconds(wait), whichs[res[1]-1], nil
}

// DefaultLease is how long a slot taken with AcquireContext counts in
// Redis without being renewed. A holder renews it every third of the lease
// while its request runs, so only a replica that died (or lost Redis) for
// longer than the lease leaves a slot behind, and then only until the
// lease ends.
const DefaultLease = 30 * time.Second

// acquireScript takes one in-flight slot of a principal: KEYS[1] is a
// sorted set of slot ids scored by lease expiry (microseconds, Redis
// clock). Expired slots are dropped first; then the slot is added if fewer
// than ARGV[1] remain. ARGV[2] is the lease in microseconds, ARGV[3] the
// slot id. Returns 1 when taken, 0 when the principal is at its limit.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local lease = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000) + 1000)
return 1
`)

// renewScript extends a held slot's lease (only if it is still held).
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local lease = tonumber(ARGV[1])
local n = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + lease, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(lease / 1000) + 1000)
return n
`)

// AcquireContext takes one of the principal's MaxConcurrent in-flight
// slots, shared by every replica using the same Redis. It returns ok false
// when the principal already has MaxConcurrent requests in flight across
// all replicas, and an error when Redis cannot be asked (the caller decides
// whether to fail open or closed). After ok, release must be called once
// the request is done; until then the slot's lease (lease, or DefaultLease
// when zero) is renewed in the background. Release is idempotent.
func (r *RedisLimiter) AcquireContext(ctx context.Context, key string, lease time.Duration) (release func(), ok bool, err error) {
	if r.l.MaxConcurrent <= 0 {
		return func() {}, true, nil
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	zkey := r.prefix + "{" + key + "}:inflight"
	var idb [16]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return nil, false, fmt.Errorf("ratelimit: slot id: %w", err)
	}
	id := hex.EncodeToString(idb[:])
	leaseUS := lease.Microseconds()
	n, err := acquireScript.Run(ctx, r.c, []string{zkey}, r.l.MaxConcurrent, leaseUS, id).Int64()
	if err != nil {
		return nil, false, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if n != 1 {
		return nil, false, nil
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lease / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c, cancel := context.WithTimeout(context.Background(), lease/3)
				_ = renewScript.Run(c, r.c, []string{zkey}, leaseUS, id).Err() // a missed renewal only shortens the lease
				cancel()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			<-done
			c, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = r.c.ZRem(c, zkey, id).Err() // if lost, the lease ends it
		})
	}, true, nil
}

// InFlight returns how many unexpired slots key holds in Redis.
func (r *RedisLimiter) InFlight(ctx context.Context, key string) (int64, error) {
	zkey := r.prefix + "{" + key + "}:inflight"
	now, err := r.c.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	n, err := r.c.ZCount(ctx, zkey, fmt.Sprint(now.UnixMicro()+1), "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return n, nil
}
