package gate

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/bench"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

var (
	benchConcurrency = flag.Int("gate.concurrency", 64, "clients calling at once in BenchmarkGate")
	benchPhase       = flag.Duration("gate.phase", 3*time.Second, "measured time of each BenchmarkGate phase (after a 0.5 s warm-up)")
	benchSessions    = flag.Int("gate.sessions", 1000, "sessions opened for BenchmarkGate's memory figure")
)

// phaseResult is one load phase: throughput and latency quantiles.
type phaseResult struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
	// cpu is the process's CPU time (client, gate and upstream together)
	// per successful call, over the whole phase.
	cpu time.Duration
}

// runPhase runs conc clients against url, each on its own session reused
// for every call, for warm-up plus d, and measures the calls that start
// after the warm-up.
func runPhase(tb testing.TB, url, token string, conc int, d time.Duration) phaseResult {
	tb.Helper()
	tr := &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx := context.Background()
	clients := make([]*rpcClient, conc)
	for i := range clients {
		clients[i] = &rpcClient{hc: hc, url: url, token: token}
		if err := clients[i].initialize(ctx); err != nil {
			tb.Fatalf("client %d: %v", i, err)
		}
	}
	const warmup = 500 * time.Millisecond
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	lat := make([][]time.Duration, conc)
	errs := make([]int, conc)
	done := make([]int, conc) // successful calls, warm-up included
	cpu0, cpuErr := bench.ProcessCPU(os.Getpid())
	var wg sync.WaitGroup
	for w, c := range clients {
		wg.Go(func() {
			text := "hello " + strings.Repeat("x", 32)
			for i := 0; ; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := c.callEcho(ctx, fmt.Sprintf("w%d-%d", w, i), text)
				if err == nil {
					done[w]++
				}
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					errs[w]++
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	cpu1, cpuErr1 := bench.ProcessCPU(os.Getpid())
	var all []time.Duration
	var res phaseResult
	calls := 0
	for w := range lat {
		all = append(all, lat[w]...)
		res.errors += errs[w]
		calls += done[w]
	}
	if cpuErr == nil && cpuErr1 == nil && calls > 0 {
		res.cpu = (cpu1 - cpu0) / time.Duration(calls)
	}
	if len(all) == 0 {
		tb.Fatalf("no successful call to %s (%d errors)", url, res.errors)
	}
	slices.Sort(all)
	res.rps = float64(len(all)) / d.Seconds()
	res.p50 = all[len(all)/2]
	res.p99 = all[len(all)*99/100]
	return res
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// benchGate serves a gate in front of upstream with authn, the test
// policy and a JSONL audit log of the given durability.
func benchGate(tb testing.TB, ln net.Listener, upstream string, authn Authenticator, dur audit.Durability) (url string, stop func()) {
	tb.Helper()
	sink, err := audit.OpenWith("jsonl:"+filepath.Join(tb.TempDir(), "audit-"+string(dur)+".jsonl"), &audit.Options{Durability: dur})
	if err != nil {
		tb.Fatal(err)
	}
	g, err := New(Options{
		Routes: []Route{{Upstream: upstream, Authenticators: []Authenticator{authn}, Policy: testPolicy}},
		Audit:  sink,
	})
	if err != nil {
		tb.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: g.Handler()}}
	srv.Start()
	return srv.URL + g.Paths()[0], func() { srv.Close(); _ = g.Close() }
}

// bareProxyPhase runs the load through net/http/httputil's ReverseProxy
// (the same upstream transport settings as the gate, nothing checked,
// nothing logged): the reference for what a second HTTP hop alone costs.
func bareProxyPhase(tb testing.TB, ln net.Listener, upBase, upURL string, conc int, d time.Duration) phaseResult {
	tb.Helper()
	target, err := neturl.Parse(upBase)
	if err != nil {
		tb.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	defer tr.CloseIdleConnections()
	rp.Transport = tr // FlushInterval 0: JSON answers go out in one write (event streams are flushed anyway)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: rp}}
	srv.Start()
	defer srv.Close()
	return runPhase(tb, srv.URL+strings.TrimPrefix(upURL, upBase), "", conc, d)
}

// cliJWTCache is the verified-token cache 'mcpwarden gate' turns on.
const cliJWTCache = 30 * time.Second

// heapAndRSS returns the heap in use and the RSS after a full GC.
func heapAndRSS() (heap, rss int64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, _ = bench.RSS()
	return int64(m.HeapInuse), rss
}

// openSessions opens n sessions on url (64 at a time) and returns the
// clients holding them.
func openSessions(tb testing.TB, url, token string, n int) []*rpcClient {
	tb.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	clients := make([]*rpcClient, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var mu sync.Mutex
	var firstErr error
	for i := range clients {
		clients[i] = &rpcClient{hc: hc, url: url, token: token}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := clients[i].initialize(context.Background()); err != nil {
				mu.Lock()
				firstErr = cmpErr(firstErr, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		tb.Fatal(firstErr)
	}
	return clients
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// BenchmarkGate measures, in one run, tools/call at fixed concurrency
// directly to a go-sdk upstream, through a bare httputil.ReverseProxy (the
// cost of the second HTTP hop alone), and through the gate with JWT auth
// (RS256 tokens from the mcptest issuer, the CLI's verified-token cache),
// the test policy and a JSONL audit log (durability batch, then sync, then
// batch without the token cache), and then the memory of 1,000 open
// sessions through the gate. Run it with
//
//	go test -run='^$' -bench=Gate -benchtime=1x ./internal/gate
func BenchmarkGate(b *testing.B) {
	ctx := context.Background()
	up := httptest.NewServer(echoHandler(false))
	defer up.Close()
	upURL := up.URL + "/mcp"
	iss, err := mcptest.StartIssuer("127.0.0.1:0", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()

	conc, d := *benchConcurrency, *benchPhase
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average before: %s", strings.TrimSpace(string(load)))
	}
	b.Logf("GOMAXPROCS %d, concurrency %d, phase %s", runtime.GOMAXPROCS(0), conc, d)

	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		return ln
	}
	// gatePhase starts a gate with a fresh listener (the token's audience
	// is its URL), runs the load and stops it.
	gatePhase := func(name string, dur audit.Durability, cacheTTL time.Duration, conc int, d time.Duration) phaseResult {
		ln := listen()
		aud := "http://" + ln.Addr().String() + "/mcp"
		j, err := auth.NewJWT(ctx, auth.JWTOptions{Issuer: iss.URL, Audiences: []string{aud}, JWKSURL: iss.JWKSURL(), VerifiedCacheTTL: cacheTTL})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := iss.Mint(iss.Claims("bench-user", aud, "mcp"))
		if err != nil {
			b.Fatal(err)
		}
		url, stop := benchGate(b, ln, upURL, j, dur)
		defer stop()
		r := runPhase(b, url, tok, conc, d)
		b.Logf("%-22s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  cpu/call %4.0f µs  errors %d", name, r.rps, ms(r.p50), ms(r.p99), us(r.cpu), r.errors)
		return r
	}

	for range b.N {
		direct := runPhase(b, upURL, "", conc, d)
		b.Logf("%-22s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  cpu/call %4.0f µs  errors %d", "direct", direct.rps, ms(direct.p50), ms(direct.p99), us(direct.cpu), direct.errors)
		// The ceiling of any HTTP proxy on this machine: the standard
		// library's reverse proxy with no checks at all.
		bare := bareProxyPhase(b, listen(), up.URL, upURL, conc, d)
		b.Logf("%-22s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  cpu/call %4.0f µs  errors %d", "bare reverse proxy", bare.rps, ms(bare.p50), ms(bare.p99), us(bare.cpu), bare.errors)
		b.ReportMetric(bare.rps/direct.rps, "bare_proxy_ratio")
		b.ReportMetric(ms(bare.p99-direct.p99), "bare_proxy_p99_added_ms")
		if bare.cpu > 0 {
			b.ReportMetric(float64(direct.cpu)/float64(bare.cpu), "bare_proxy_cpu_ratio")
		}
		// The CLI's settings: JWT verified-token cache on (jwtCacheTTL,
		// 30 s), audit durability sync by default or batch; and once
		// without the cache, to show what it saves.
		batch := gatePhase("gate batch", audit.DurabilityBatch, cliJWTCache, conc, d)
		synced := gatePhase("gate sync", audit.DurabilitySync, cliJWTCache, conc, d)
		nocache := gatePhase("gate batch no-cache", audit.DurabilityBatch, 0, conc, d)

		// One client at a time: the latency the gate adds to a request
		// that does not queue behind others.
		serial := runPhase(b, upURL, "", 1, time.Second)
		b.Logf("%-22s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms  cpu/call %4.0f µs  errors %d", "direct serial", serial.rps, ms(serial.p50), ms(serial.p99), us(serial.cpu), serial.errors)
		serialGate := gatePhase("gate batch serial", audit.DurabilityBatch, cliJWTCache, 1, time.Second)
		serialSync := gatePhase("gate sync serial", audit.DurabilitySync, cliJWTCache, 1, time.Second)
		b.ReportMetric(ms(serial.p50), "serial_direct_p50_ms")
		b.ReportMetric(ms(serial.p99), "serial_direct_p99_ms")
		b.ReportMetric(ms(serialGate.p50-serial.p50), "serial_batch_p50_added_ms")
		b.ReportMetric(ms(serialGate.p99-serial.p99), "serial_batch_p99_added_ms")
		b.ReportMetric(ms(serialSync.p50-serial.p50), "serial_sync_p50_added_ms")
		b.ReportMetric(ms(serialSync.p99-serial.p99), "serial_sync_p99_added_ms")

		b.ReportMetric(direct.rps, "direct_req/s")
		b.ReportMetric(ms(direct.p50), "direct_p50_ms")
		b.ReportMetric(ms(direct.p99), "direct_p99_ms")
		b.ReportMetric(us(direct.cpu), "direct_cpu_us/call")
		for _, p := range []struct {
			name string
			r    phaseResult
		}{{"batch", batch}, {"sync", synced}, {"nocache", nocache}} {
			b.ReportMetric(p.r.rps, p.name+"_req/s")
			b.ReportMetric(p.r.rps/direct.rps, p.name+"_ratio")
			b.ReportMetric(ms(p.r.p50), p.name+"_p50_ms")
			b.ReportMetric(ms(p.r.p99), p.name+"_p99_ms")
			b.ReportMetric(ms(p.r.p99-direct.p99), p.name+"_p99_added_ms")
			if p.r.cpu > 0 {
				b.ReportMetric(us(p.r.cpu), p.name+"_cpu_us/call")
				// The throughput ratio a CPU-bound run would reach with
				// the cores to itself.
				b.ReportMetric(float64(direct.cpu)/float64(p.r.cpu), p.name+"_cpu_ratio")
			}
			if p.r.errors+direct.errors > 0 {
				b.Errorf("%s: %d failed calls (direct %d)", p.name, p.r.errors, direct.errors)
			}
		}

		// Memory: n sessions directly (the upstream's share), then n
		// through the gate (the upstream's and the gate's).
		n := *benchSessions
		h0, r0 := heapAndRSS()
		keepDirect := openSessions(b, upURL, "", n)
		h1, r1 := heapAndRSS()
		ln := listen()
		aud := "http://" + ln.Addr().String() + "/mcp"
		j, err := auth.NewJWT(ctx, auth.JWTOptions{Issuer: iss.URL, Audiences: []string{aud}, JWKSURL: iss.JWKSURL()})
		if err != nil {
			b.Fatal(err)
		}
		tok, err := iss.Mint(iss.Claims("bench-user", aud, "mcp"))
		if err != nil {
			b.Fatal(err)
		}
		url, stop := benchGate(b, ln, upURL, j, audit.DurabilityBatch)
		h2, r2 := heapAndRSS()
		keepGate := openSessions(b, url, tok, n)
		h3, r3 := heapAndRSS()
		runtime.KeepAlive(keepDirect)
		runtime.KeepAlive(keepGate)
		stop()
		const mb = 1 << 20
		b.Logf("%d sessions direct: heap +%.1f MB, RSS +%.1f MB; through the gate: heap +%.1f MB, RSS +%.1f MB; process RSS %.1f MB",
			n, float64(h1-h0)/mb, float64(r1-r0)/mb, float64(h3-h2)/mb, float64(r3-r2)/mb, float64(r3)/mb)
		b.ReportMetric(float64(h1-h0)/mb, "direct_sessions_heap_MB")
		b.ReportMetric(float64(h3-h2)/mb, "gate_sessions_heap_MB")
		b.ReportMetric(float64(r3-r2)/mb, "gate_sessions_rss_MB")
		b.ReportMetric(float64(r3)/mb, "process_rss_MB")
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average after: %s", strings.TrimSpace(string(load)))
	}
}
