//go:build linux

package host

import (
	"context"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"
)

// benchConns is the number of established inbound connections the
// sampling benchmark holds open (each is two sockets in the table: both
// ends are this process, on loopback).
const benchConns = 1000

// BenchmarkConnSample measures one connection sample, the step `watch`
// repeats, with 1,000 established connections to one listener, against
// the cost of reading /proc/net/tcp alone in the same run. cpu-ns/op is
// the process's user+system CPU time per sample (getrusage), so work on
// other threads (GC) is counted too. See docs/benchmarks.md.
func BenchmarkConnSample(b *testing.B) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < 3*benchConns && lim.Max >= 3*benchConns {
		lim.Cur = lim.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	ln, _ := loopbackConns(b, benchConns)
	lnAddr := netip.MustParseAddrPort(ln.Addr().String())
	ctx := context.Background()
	check := func(b *testing.B, opts ConnOptions) {
		s, err := SampleConnections(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if lc := s.For(lnAddr); lc == nil || len(lc.Peers) != benchConns {
			b.Fatalf("sample does not hold the %d connections", benchConns)
		}
	}
	cases := []struct {
		name string
		run  func(b *testing.B)
	}{
		{"baseline-read-proc-net-tcp", func(b *testing.B) {
			for b.Loop() {
				if _, err := os.ReadFile("/proc/net/tcp"); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"sample-tables-only", func(b *testing.B) {
			opts := ConnOptions{Listeners: []netip.AddrPort{lnAddr}, NoGateDiscovery: true, NoPeerProcesses: true}
			check(b, opts)
			for b.Loop() {
				if _, err := SampleConnections(ctx, opts); err != nil {
					b.Fatal(err)
				}
			}
		}},
		{"sample-full", func(b *testing.B) {
			opts := ConnOptions{Listeners: []netip.AddrPort{lnAddr}}
			check(b, opts)
			for b.Loop() {
				if _, err := SampleConnections(ctx, opts); err != nil {
					b.Fatal(err)
				}
			}
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			before := cpuTime(b)
			c.run(b)
			b.ReportMetric(float64((cpuTime(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
