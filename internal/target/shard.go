package target

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
)

// Shard selects one of Count disjoint shares of a stream, so that Count
// machines given the same inputs, options and seed scan every service exactly
// once between them. Index is 0-based, like Kubernetes'
// JOB_COMPLETION_INDEX: the shards of a three-way split are 0/3, 1/3 and 2/3.
// The zero Shard means the whole stream (the same as 0/1).
type Shard struct {
	Index int
	Count int
}

// ParseShard reads "I/N" with 0 <= I < N (0-based), e.g. "0/4".
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Shard{}, fmt.Errorf("shard %q: want I/N, e.g. 0/4 (I is 0-based)", s)
	}
	i, err1 := strconv.Atoi(strings.TrimSpace(is))
	n, err2 := strconv.Atoi(strings.TrimSpace(ns))
	if err1 != nil || err2 != nil {
		return Shard{}, fmt.Errorf("shard %q: want I/N with whole numbers, e.g. 0/4", s)
	}
	sh := Shard{Index: i, Count: n}
	if n < 1 {
		return Shard{}, fmt.Errorf("shard %q: shard count %d must be at least 1", s, n)
	}
	if err := sh.Validate(); err != nil {
		return Shard{}, fmt.Errorf("shard %q: %w", s, err)
	}
	return sh, nil
}

// Validate reports whether sh is usable: the zero Shard, or Count >= 1 and
// 0 <= Index < Count.
func (sh Shard) Validate() error {
	switch {
	case sh == Shard{}:
		return nil
	case sh.Count < 1:
		return fmt.Errorf("shard count %d must be at least 1", sh.Count)
	case sh.Index < 0 || sh.Index >= sh.Count:
		return fmt.Errorf("shard index %d out of range 0-%d (the index is 0-based)", sh.Index, sh.Count-1)
	}
	return nil
}

// String returns "I/N".
func (sh Shard) String() string {
	if sh.Count == 0 {
		return "0/1"
	}
	return strconv.Itoa(sh.Index) + "/" + strconv.Itoa(sh.Count)
}

// norm returns index and count as uint64, the zero Shard as 0/1.
func (sh Shard) norm() (i, n uint64) {
	if sh.Count <= 0 {
		return 0, 1
	}
	return uint64(sh.Index), uint64(sh.Count)
}

// share returns the first position k in [0, size) with (off+k) mod n == i,
// and how many such positions there are.
func share(i, n, off, size uint64) (first, count uint64) {
	first = (i + n - off%n) % n
	if first >= size {
		return first, 0
	}
	return first, (size-first-1)/n + 1
}

// feistelRounds is enough for a well-mixed order; the permutation is about
// spreading load, not secrecy.
const feistelRounds = 4

// perm is a keyed pseudorandom permutation of [0, n) in O(1) memory: a
// balanced Feistel network over the smallest even bit width that holds n-1,
// with cycle walking (re-encrypt until the value falls below n). The domain
// is less than 4n, so under four encryptions are needed on average.
type perm struct {
	n    uint64
	half uint
	mask uint64
	keys [feistelRounds]uint64
}

func newPerm(n, key uint64) perm {
	p := perm{n: n}
	if n <= 1 {
		return p
	}
	w := uint(bits.Len64(n - 1))
	if w < 2 {
		w = 2
	}
	w += w & 1
	p.half = w / 2
	p.mask = 1<<p.half - 1
	state := key
	for r := range p.keys {
		state += 0x9e3779b97f4a7c15
		p.keys[r] = mix64(state)
	}
	return p
}

// at returns the element at position i (i < n) of the permutation.
func (p *perm) at(i uint64) uint64 {
	if p.n <= 1 {
		return i
	}
	x := i
	for {
		x = p.encrypt(x)
		if x < p.n {
			return x
		}
	}
}

func (p *perm) encrypt(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for _, k := range p.keys {
		l, r = r, l^(mix64(r^k)&p.mask)
	}
	return l<<p.half | r
}

// mix64 is the SplitMix64 finaliser, a fast bijective 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// blockKey derives the permutation key of the b-th block from the seed, so
// every shard computes the same order for the same block.
func blockKey(seed, b uint64) uint64 {
	return mix64(seed ^ mix64(b+0x632be59bd9b4e019))
}
