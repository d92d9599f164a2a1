package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/scan"
)

var (
	fleetSize        = flag.Int("fleet.size", 5000, "BenchmarkFleet: number of fleet endpoints")
	fleetConcurrency = flag.Int("fleet.concurrency", 1000, "BenchmarkFleet: scanner and baseline concurrency")
	fleetTimeout     = flag.Duration("fleet.timeout", 5*time.Second, "BenchmarkFleet: request timeout of scanner and baseline (the scanner's default)")
	fleetPaths       = flag.String("fleet.paths", "default,known", "BenchmarkFleet: path modes to measure (default: the prober's path list on each host:port; known: the endpoint's own path)")
)

// The goals of the benchmark (issue: "scanner at scale").
const (
	goalRatio  = 0.7 // scanner requests/s over the baseline's
	goalRSSMiB = 300 // peak RSS at concurrency 1,000
)

// TestFleetChild is the fleet child process of BenchmarkFleet and
// TestFleetVerdicts; it is skipped unless ChildEnv is set.
func TestFleetChild(t *testing.T) {
	if os.Getenv(ChildEnv) == "" {
		t.Skip("runs only as the fleet child process (" + ChildEnv + " set)")
	}
	if err := ServeChild(context.Background(), os.Getenv, os.Stdin, os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// spawn starts a fleet in a child process running this test binary.
func spawn(tb testing.TB, opts FleetOptions) *Remote {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	r, err := SpawnFleet(tb.Context(), exe, []string{"-test.run=^TestFleetChild$", "-test.count=1", "-test.timeout=0"}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Error(err)
		}
	})
	return r
}

func composition(eps []Endpoint) string {
	c := Counts(eps)
	var parts []string
	for _, k := range Kinds() {
		if c[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

// scanOptions are the scanner settings of the benchmark and the test.
func scanOptions(concurrency int, timeout time.Duration) scan.Options {
	return scan.Options{
		Concurrency: concurrency,
		Probe:       probe.Options{RequestTimeout: timeout},
	}
}

func reportErrors(tb testing.TB, what string, errs []error) {
	tb.Helper()
	if len(errs) == 0 {
		return
	}
	shown := errs[:min(len(errs), 20)]
	tb.Fatalf("%d %s wrong (load average %s on %d CPUs: timeouts on a busy machine can be CPU starvation: rerun when idle or raise -fleet.timeout), the first %d:\n%v",
		len(errs), what, loadavg(), runtime.NumCPU(), len(shown), errors.Join(shown...))
}

// TestFleetVerdicts scans a small fleet served by a child process, in both
// path modes, and requires the correct verdict on every endpoint; it also
// runs the baseline client over it.
func TestFleetVerdicts(t *testing.T) {
	needLinux(t)
	if _, err := RaiseFileLimit(); err != nil {
		t.Fatal(err)
	}
	r := spawn(t, FleetOptions{Size: 200, FirstIP: "127.66.128.1", Seed: 7})
	eps := r.Endpoints
	if len(eps) != 200 {
		t.Fatalf("fleet has %d endpoints, want 200", len(eps))
	}
	for _, k := range Kinds() {
		if Counts(eps)[k] == 0 {
			t.Fatalf("fleet has no %s endpoint: %s", k, composition(eps))
		}
	}
	t.Logf("fleet: %s", composition(eps))
	for _, known := range []bool{false, true} {
		t.Run(fmt.Sprintf("knownPaths=%v", known), func(t *testing.T) {
			var out strings.Builder
			res, err := RunScan(t.Context(), eps, ScanConfig{Scan: scanOptions(100, 2*time.Second), KnownPaths: known, Output: &out})
			if err != nil {
				t.Fatal(err)
			}
			reportErrors(t, "verdicts", CheckAll(eps, res.Observed))
			if lines := strings.Count(out.String(), "\n"); lines != len(eps) {
				t.Errorf("the JSONL report has %d lines, want %d", lines, len(eps))
			}
			if res.Summary.Targets != int64(len(eps)) {
				t.Errorf("summary counts %d targets, want %d", res.Summary.Targets, len(eps))
			}
			if res.ResponsiveRequests <= 0 || res.ResponsiveRequests > res.Summary.Requests || res.Responsive > res.Elapsed {
				t.Errorf("responsive window %v / %d requests inconsistent with %v / %d", res.Responsive, res.ResponsiveRequests, res.Elapsed, res.Summary.Requests)
			}
			t.Logf("%d requests in %v (%d requests in %v before the tarpits' timeout)", res.Summary.Requests, res.Elapsed.Round(time.Millisecond), res.ResponsiveRequests, res.Responsive.Round(time.Millisecond))
		})
	}
	t.Run("baseline", func(t *testing.T) {
		res, err := RunBaseline(t.Context(), eps, BaselineOptions{Concurrency: 100, RequestTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		reportErrors(t, "baseline outcomes", CheckBaseline(eps, res.Outcomes))
		if res.Requests != int64(len(eps)) {
			t.Errorf("baseline sent %d requests, want %d", res.Requests, len(eps))
		}
	})
}

// BenchmarkFleet scans a fleet of -fleet.size endpoints (default 5,000) in
// a child process and reports, for each path mode, the scanner's
// endpoints/s, requests/s and peak RSS, and the requests/s of the bare
// baseline client in the same run. It fails when a verdict is wrong or a
// goal is missed. Run it with `make bench`.
func BenchmarkFleet(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("needs all of 127.0.0.0/8 on loopback and /proc (Linux)")
	}
	if _, err := RaiseFileLimit(); err != nil {
		b.Fatal(err)
	}
	if *fleetConcurrency < 1 {
		b.Fatalf("-fleet.concurrency %d: want at least 1", *fleetConcurrency)
	}
	if *fleetTimeout <= 0 {
		b.Fatalf("-fleet.timeout %v: want a positive duration", *fleetTimeout)
	}
	modes := strings.Split(*fleetPaths, ",")
	for _, m := range modes {
		if m != "default" && m != "known" {
			b.Fatalf("-fleet.paths: unknown mode %q (want default, known or both)", m)
		}
	}
	start := time.Now()
	r := spawn(b, FleetOptions{Size: *fleetSize})
	eps := r.Endpoints
	b.Logf("machine: %d CPUs, %s memory, GOMAXPROCS %d, %s", runtime.NumCPU(), memTotal(), runtime.GOMAXPROCS(0), runtime.Version())
	b.Logf("fleet: %d endpoints (%s) up in %v", len(eps), composition(eps), time.Since(start).Round(time.Millisecond))
	b.Logf("settings: concurrency %d, request timeout %v, per-host and other scan options at their defaults", *fleetConcurrency, *fleetTimeout)
	for _, m := range modes {
		b.Run("paths="+m, func(b *testing.B) { benchScan(b, eps, m == "known", cpuMeter{b, r.PID()}) })
	}
}

// cpuMeter measures the CPU time this process and the fleet child use.
type cpuMeter struct {
	tb    testing.TB
	child int
}

func (m cpuMeter) now() (self, fleet time.Duration) {
	self, err := ProcessCPU(os.Getpid())
	if err != nil {
		m.tb.Fatal(err)
	}
	fleet, err = ProcessCPU(m.child)
	if err != nil {
		m.tb.Fatal(err)
	}
	return self, fleet
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	n, err := parseStatus(b, "MemTotal:")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func usPerReq(d time.Duration, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(d.Microseconds()) / float64(n)
}

// benchScan measures one path mode: per iteration two baseline passes,
// the scan, and a third baseline pass. The baseline figure is the best
// pass: a short pass can fall in a quiet moment of the machine, and the
// best one makes the comparison harder for the scanner, not easier.
func benchScan(b *testing.B, eps []Endpoint, known bool, cpu cpuMeter) {
	ctx := b.Context()
	bopts := BaselineOptions{Concurrency: *fleetConcurrency, RequestTimeout: *fleetTimeout}
	var (
		scanEnds, scanReqs, scanRespReqs, baseReqs   int64
		scanWall, scanResp                           time.Duration
		scanCPU, scanFleetCPU, baseCPU, baseFleetCPU time.Duration
		baseRate, baseWallRate                       float64
		peak, basePeak, floor                        int64
	)
	// resetRSS drops the garbage of the previous phase and restarts the
	// peak RSS from the current RSS, which it returns.
	resetRSS := func() int64 {
		runtime.GC()
		debug.FreeOSMemory()
		if err := ResetPeakRSS(); err != nil {
			b.Fatal(err)
		}
		rss, err := RSS()
		if err != nil {
			b.Fatal(err)
		}
		return rss
	}
	peakRSS := func() int64 {
		p, err := PeakRSS()
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	baseline := func() {
		resetRSS()
		s0, f0 := cpu.now()
		res, err := RunBaseline(ctx, eps, bopts)
		if err != nil {
			b.Fatal(err)
		}
		s1, f1 := cpu.now()
		basePeak = max(basePeak, peakRSS())
		baseCPU += s1 - s0
		baseFleetCPU += f1 - f0
		baseReqs += res.Requests
		reportErrors(b, "baseline outcomes", CheckBaseline(eps, res.Outcomes))
		baseRate = max(baseRate, PerSecond(res.ResponsiveRequests, res.Responsive))
		baseWallRate = max(baseWallRate, PerSecond(res.Requests, res.Elapsed))
	}
	b.Logf("load average before: %s", loadavg())
	b.StopTimer()
	for range b.N {
		baseline()
		baseline()

		floor = max(floor, resetRSS())
		s0, f0 := cpu.now()
		b.StartTimer()
		res, err := RunScan(ctx, eps, ScanConfig{Scan: scanOptions(*fleetConcurrency, *fleetTimeout), KnownPaths: known})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		s1, f1 := cpu.now()
		peak = max(peak, peakRSS())
		scanCPU += s1 - s0
		scanFleetCPU += f1 - f0
		reportErrors(b, "verdicts", CheckAll(eps, res.Observed))
		scanEnds += int64(len(eps))
		scanReqs += res.Summary.Requests
		scanRespReqs += res.ResponsiveRequests
		scanWall += res.Elapsed
		scanResp += res.Responsive

		baseline()
	}
	b.Logf("load average after: %s", loadavg())
	scanRate := PerSecond(scanRespReqs, scanResp)
	ratio := scanRate / baseRate
	mib := func(n int64) float64 { return float64(n) / (1 << 20) }
	peakMiB := mib(peak)
	b.ReportMetric(PerSecond(scanEnds, scanWall), "endpoints/s")
	b.ReportMetric(baseWallRate, "base-endpoints/s")
	b.ReportMetric(scanRate, "scan-req/s")
	b.ReportMetric(baseRate, "base-req/s")
	b.ReportMetric(ratio, "req/s-ratio")
	b.ReportMetric(peakMiB, "peak-RSS-MiB")
	b.ReportMetric(mib(basePeak), "base-peak-RSS-MiB")
	b.ReportMetric(float64(scanReqs)/float64(scanEnds), "req/endpoint")
	b.Logf("scanner: %d endpoints in %v (%.0f endpoints/s), %d requests (%.0f req/s); %d requests in %v before the tarpits' timeout: %.0f req/s",
		scanEnds, scanWall.Round(time.Millisecond), PerSecond(scanEnds, scanWall), scanReqs, PerSecond(scanReqs, scanWall), scanRespReqs, scanResp.Round(time.Millisecond), scanRate)
	b.Logf("baseline: best of %d passes %.0f req/s before the tarpits' timeout, %.0f req/s (= endpoints/s) wall clock", 3*b.N, baseRate, baseWallRate)
	b.Logf("ratio scanner/baseline: req/s %.2f (wall clock %.2f), endpoints/s %.2f", ratio, PerSecond(scanReqs, scanWall)/baseWallRate, PerSecond(scanEnds, scanWall)/baseWallRate)
	b.Logf("peak RSS: scanner %.1f MiB (RSS %.1f MiB when it started), baseline %.1f MiB, ratio %.2f", peakMiB, mib(floor), mib(basePeak), float64(peak)/float64(basePeak))
	b.Logf("CPU per request: scanner %.0f µs + fleet %.0f µs; baseline client %.0f µs + fleet %.0f µs",
		usPerReq(scanCPU, scanReqs), usPerReq(scanFleetCPU, scanReqs), usPerReq(baseCPU, baseReqs), usPerReq(baseFleetCPU, baseReqs))
	goals := []struct {
		ok   bool
		text string
	}{
		{true, "every endpoint got its correct verdict"},
		{ratio >= goalRatio, fmt.Sprintf("scanner req/s %.2f of the baseline's (goal >= %.1f)", ratio, goalRatio)},
	}
	if *fleetConcurrency <= 1000 {
		goals = append(goals, struct {
			ok   bool
			text string
		}{peakMiB < goalRSSMiB, fmt.Sprintf("peak RSS %.1f MiB at concurrency %d (goal < %d MiB)", peakMiB, *fleetConcurrency, goalRSSMiB)})
	}
	for _, g := range goals {
		if g.ok {
			b.Logf("goal met: %s", g.text)
		} else {
			b.Errorf("goal missed: %s", g.text)
		}
	}
}
