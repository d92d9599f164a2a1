package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
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

// RedisLimiter enforces the rate limits of Limits (not MaxConcurrent) in
// Redis, so that every gate replica sharing the Redis server shares each
// principal's buckets. It uses the generic cell rate algorithm at the
// server's clock; buckets expire in Redis once full again. In-flight
// concurrency stays per replica: use a Limiter's Acquire for it.
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
