package ratelimit

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startRedis runs a private redis-server listening only on a Unix socket
// (no TCP port at all) and returns a client for it. Outside CI the test is
// skipped when redis-server is not installed; in CI (CI=true) it fails.
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed (.ci/run installs it)")
		}
		t.Skip("redis-server not installed")
	}
	// Unix socket paths are short; t.TempDir may be too long.
	dir, err := os.MkdirTemp("", "rl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// allower is how the gate can use either limiter.
type allower interface {
	AllowContext(ctx context.Context, key, method, tool string) (bool, time.Duration, string, error)
}

var (
	_ allower = (*Limiter)(nil)
	_ allower = (*RedisLimiter)(nil)
)

func TestRedisLimiter(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	limits := Limits{
		RequestsPerSecond: 0.01, Burst: 3, // one token per 100s: no refill during the test
		ToolCallsPerSecond: 0.01, ToolBurst: 2,
		PerTool: map[string]Rate{"shell": {PerSecond: 0.001}},
	}
	// Two replicas sharing one Redis.
	a, b := NewRedis(c, "", limits), NewRedis(c, "", limits)
	check := func(r *RedisLimiter, key, method, tool string, wantOK bool, wantWhich string, minRetry, maxRetry time.Duration) {
		t.Helper()
		ok, retry, which, err := r.AllowContext(ctx, key, method, tool)
		if err != nil {
			t.Fatal(err)
		}
		if ok != wantOK || which != wantWhich || retry < minRetry || retry > maxRetry {
			t.Fatalf("Allow(%s, %s, %s) = (%v, %v, %q), want (%v, %v..%v, %q)", key, method, tool, ok, retry, which, wantOK, minRetry, maxRetry, wantWhich)
		}
	}
	check(a, "key:alice", ToolsCall, "shell", true, "", 0, 0)
	// The per-tool bucket is empty on the other replica too; the refusal
	// takes no token from the other buckets.
	check(b, "key:alice", ToolsCall, "shell", false, "tool:shell", 999*time.Second, 1000*time.Second)
	check(b, "key:alice", ToolsCall, "echo", true, "", 0, 0)
	check(a, "key:alice", ToolsCall, "echo", false, WhichToolCalls, 99*time.Second, 100*time.Second)
	check(a, "key:alice", "tools/list", "", true, "", 0, 0)
	check(b, "key:alice", "initialize", "", false, WhichRequests, 99*time.Second, 100*time.Second)
	// Other principals are independent.
	check(b, "key:bob", "tools/list", "", true, "", 0, 0)
	// Buckets expire in Redis once they would be full again.
	ttl, err := c.PTTL(ctx, "mcpwarden:rl:{key:alice}:requests").Result()
	if err != nil || ttl <= 0 || ttl > 301*time.Second {
		t.Errorf("requests bucket TTL %v (%v), want (0, 301s]", ttl, err)
	}
	// No limits: Redis is not asked.
	if ok, _, _, err := NewRedis(c, "", Limits{}).AllowContext(ctx, "x", ToolsCall, "shell"); !ok || err != nil {
		t.Errorf("unlimited: %v %v", ok, err)
	}
}

func TestRedisLimiterRefills(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	r := NewRedis(c, "test:", Limits{RequestsPerSecond: 20, Burst: 1}) // 50ms per token
	if ok, _, _, err := r.AllowContext(ctx, "p", "ping", ""); !ok || err != nil {
		t.Fatalf("first: %v %v", ok, err)
	}
	ok, retry, which, err := r.AllowContext(ctx, "p", "ping", "")
	if ok || err != nil || retry != time.Second || which != WhichRequests {
		t.Fatalf("second: %v %v %q %v, want refused with retry 1s", ok, retry, which, err)
	}
	time.Sleep(60 * time.Millisecond)
	if ok, _, _, err := r.AllowContext(ctx, "p", "ping", ""); !ok || err != nil {
		t.Fatalf("after refill: %v %v", ok, err)
	}
	if n, _ := c.Exists(ctx, "test:{p}:requests").Result(); n != 1 {
		t.Error("prefix not used for the key")
	}
}

func TestRedisLimiterDown(t *testing.T) {
	// A socket nobody listens on: the error is reported, not hidden.
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Skip(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ok, _, _, err := NewRedis(c, "", Limits{RequestsPerSecond: 1}).AllowContext(context.Background(), "p", "ping", "")
	if err == nil || ok {
		t.Fatalf("Allow with Redis down = %v, %v; want an error", ok, err)
	}
	if !strings.Contains(err.Error(), "ratelimit: redis") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func TestRedisConcurrency(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	limits := Limits{MaxConcurrent: 2}
	a, b := NewRedis(c, "", limits), NewRedis(c, "", limits) // two replicas
	acquire := func(r *RedisLimiter, key string, lease time.Duration, want bool) func() {
		t.Helper()
		release, ok, err := r.AcquireContext(ctx, key, lease)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Fatalf("Acquire(%s) ok = %v, want %v", key, ok, want)
		}
		return release
	}
	inflight := func(key string) int64 {
		t.Helper()
		n, err := a.InFlight(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	r1 := acquire(a, "alice", 0, true)
	r2 := acquire(b, "alice", 0, true)
	acquire(a, "alice", 0, false) // the third across both replicas
	acquire(b, "alice", 0, false)
	acquire(b, "bob", 0, true)() // other principals are independent
	if n := inflight("alice"); n != 2 {
		t.Fatalf("alice in flight = %d, want 2", n)
	}
	r1()
	r1() // idempotent: must not free another holder's slot
	if n := inflight("alice"); n != 1 {
		t.Fatalf("after one release: %d in flight, want 1", n)
	}
	r3 := acquire(b, "alice", 0, true)
	acquire(a, "alice", 0, false)
	r2()
	r3()
	if n := inflight("alice"); n != 0 {
		t.Fatalf("after all releases: %d in flight, want 0", n)
	}

	// A held slot is renewed past its lease; a slot whose holder vanished
	// (a crashed replica: simulated by a slot added without renewal) ends
	// with its lease.
	const lease = 300 * time.Millisecond
	held := acquire(a, "carol", lease, true)
	now, err := c.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ZAdd(ctx, "mcpwarden:rl:{carol}:inflight", redis.Z{Score: float64(now.Add(lease).UnixMicro()), Member: "crashed-replica"}).Err(); err != nil {
		t.Fatal(err)
	}
	acquire(b, "carol", lease, false)
	time.Sleep(3 * lease)
	if n := inflight("carol"); n != 1 {
		t.Fatalf("carol after 3 leases: %d in flight, want 1 (the renewed one)", n)
	}
	acquire(b, "carol", lease, true)()
	held()

	// No limit: Redis is not asked.
	if rel, ok, err := NewRedis(c, "", Limits{}).AcquireContext(ctx, "x", 0); !ok || err != nil || rel == nil {
		t.Errorf("unlimited: %v %v", ok, err)
	}
}

func TestRedisConcurrencyDown(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Skip(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	rel, ok, err := NewRedis(c, "", Limits{MaxConcurrent: 1}).AcquireContext(context.Background(), "p", 0)
	if err == nil || ok || rel != nil {
		t.Fatalf("Acquire with Redis down = %v, %v; want an error", ok, err)
	}
}
