package target

import (
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
	}{
		{"0/1", Shard{0, 1}},
		{"0/4", Shard{0, 4}},
		{"3/4", Shard{3, 4}},
		{" 2 / 3 ", Shard{2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShard(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseShard(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseShardErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `shard "": want I/N`},
		{"3", `shard "3": want I/N`},
		{"a/4", "whole numbers"},
		{"1/b", "whole numbers"},
		{"4/4", `shard "4/4": shard index 4 out of range 0-3 (the index is 0-based)`},
		{"-1/4", "shard index -1 out of range"},
		{"0/0", "shard count 0 must be at least 1"},
		{"0/-2", "shard count -2 must be at least 1"},
		{"1/2/3", "whole numbers"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseShard(tt.in)
			if err == nil {
				t.Fatalf("ParseShard(%q) = %+v, want error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseShard(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestShardString(t *testing.T) {
	if got := (Shard{}).String(); got != "0/1" {
		t.Errorf("zero Shard = %q", got)
	}
	if got := (Shard{2, 5}).String(); got != "2/5" {
		t.Errorf("Shard{2,5} = %q", got)
	}
	if err := (Shard{}).Validate(); err != nil {
		t.Errorf("zero Shard invalid: %v", err)
	}
}

// TestShare checks share against counting positions one by one.
func TestShare(t *testing.T) {
	for n := uint64(1); n <= 7; n++ {
		for i := uint64(0); i < n; i++ {
			for off := uint64(0); off < 2*n; off++ {
				for size := uint64(0); size <= 20; size++ {
					var wantFirst, wantCount uint64
					wantFirst = size
					for k := uint64(0); k < size; k++ {
						if (off+k)%n == i {
							if wantCount == 0 {
								wantFirst = k
							}
							wantCount++
						}
					}
					first, count := share(i, n, off, size)
					if count != wantCount || count > 0 && first != wantFirst {
						t.Fatalf("share(%d,%d,%d,%d) = %d,%d want %d,%d", i, n, off, size, first, count, wantFirst, wantCount)
					}
				}
			}
		}
	}
}

func TestPermIsBijection(t *testing.T) {
	sizes := []uint64{1, 2, 3, 4, 5, 7, 8, 255, 256, 257, 1000, 4096, 65536 + 7}
	for _, n := range sizes {
		for _, key := range []uint64{0, 1, 0xdeadbeef} {
			p := newPerm(n, key)
			seen := make([]bool, n)
			for i := uint64(0); i < n; i++ {
				v := p.at(i)
				if v >= n {
					t.Fatalf("n=%d key=%d: at(%d) = %d out of range", n, key, i, v)
				}
				if seen[v] {
					t.Fatalf("n=%d key=%d: value %d produced twice", n, key, v)
				}
				seen[v] = true
			}
		}
	}
}

func TestPermDeterministicAndKeyed(t *testing.T) {
	const n = 1000
	a, b, c := newPerm(n, 42), newPerm(n, 42), newPerm(n, 43)
	diff := 0
	for i := uint64(0); i < n; i++ {
		if a.at(i) != b.at(i) {
			t.Fatalf("same key, different order at %d", i)
		}
		if a.at(i) != c.at(i) {
			diff++
		}
	}
	if diff < n/2 {
		t.Errorf("keys 42 and 43 agree on %d of %d positions", n-diff, n)
	}
}

// TestPermSpreads checks the order is not sequential: consecutive positions
// of a /16-sized block land far apart on average, and the first 256
// positions touch many different /24s.
func TestPermSpreads(t *testing.T) {
	const n = 1 << 16
	p := newPerm(n, 7)
	var total uint64
	nets := map[uint64]bool{}
	prev := p.at(0)
	for i := uint64(1); i < 256; i++ {
		v := p.at(i)
		if v > prev {
			total += v - prev
		} else {
			total += prev - v
		}
		nets[v>>8] = true
		prev = v
	}
	if avg := total / 255; avg < n/8 {
		t.Errorf("average jump %d, want at least %d", avg, n/8)
	}
	if len(nets) < 150 {
		t.Errorf("first 256 positions hit only %d of 256 /24s", len(nets))
	}
}

func TestPermLargeDomain(t *testing.T) {
	// 2^48 × 65535 services: the largest block; at() must stay in range.
	n := uint64(MaxAddrs) * MaxPort
	p := newPerm(n, 99)
	for i := uint64(0); i < 1000; i++ {
		if v := p.at(n - 1 - i); v >= n {
			t.Fatalf("at(%d) = %d >= %d", n-1-i, v, n)
		}
	}
}

func BenchmarkPerm(b *testing.B) {
	p := newPerm(11<<24, 1)
	var sink uint64
	for i := 0; b.Loop(); i++ {
		sink += p.at(uint64(i) % (11 << 24))
	}
	_ = sink
}
