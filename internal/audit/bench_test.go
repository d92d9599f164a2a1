package audit

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkWrite measures records/s with 64 concurrent writers per sink and
// durability; sync mode relies on group commit to stay fast.
//
//	go test -run=^$ -bench=Write -benchtime=2000x ./internal/audit
func BenchmarkWrite(b *testing.B) {
	for _, kind := range []string{"jsonl", "sqlite"} {
		for _, d := range []Durability{DurabilityNone, DurabilityBatch, DurabilitySync} {
			b.Run(kind+"/"+string(d), func(b *testing.B) {
				s, err := OpenWith(kind+":"+filepath.Join(b.TempDir(), "audit"), &Options{Durability: d})
				if err != nil {
					b.Fatal(err)
				}
				r := &Record{Time: time.Now(), RequestID: "req", Principal: "key:alice", AuthMethod: "apikey",
					ClientAddr: "127.0.0.1:1", Method: "tools/call", Name: "echo", Decision: "allow",
					ArgsDigest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", LatencyMS: 0.4}
				b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := s.Write(context.Background(), r); err != nil {
							b.Error(err)
							return
						}
					}
				})
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkWriteSyncSerial is sync mode with one writer: every record pays
// its own fsync, the baseline group commit is measured against.
func BenchmarkWriteSyncSerial(b *testing.B) {
	s, err := OpenJSONL(filepath.Join(b.TempDir(), "audit"), &Options{Durability: DurabilitySync})
	if err != nil {
		b.Fatal(err)
	}
	r := &Record{Time: time.Now(), RequestID: "req", Principal: "key:alice", Method: "tools/call", Name: "echo", Decision: "allow"}
	for b.Loop() {
		if err := s.Write(context.Background(), r); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
