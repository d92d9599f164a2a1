package target

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Options configure a Stream. The zero value (and a nil *Options) means:
// DefaultPorts, no exclusions, the whole stream, seed 0.
type Options struct {
	// Ports are the ports of every target that does not fix its own (bare
	// hosts, CIDRs, ranges, zmap rows without sport). nil or empty means
	// DefaultPorts. Duplicates are dropped.
	Ports []int
	// Exclude removes services whose host is excluded; nil excludes nothing.
	// Excluded services keep their place in the shard split: exclusions
	// change what is probed, never which shard owns a service.
	Exclude *Exclusions
	// Shard selects this machine's share; the zero Shard is the whole stream.
	Shard Shard
	// Seed keys the order within each block. Every shard of one scan must
	// use the same seed; a different seed gives a different order, not a
	// different set.
	Seed uint64
}

// Input is one source of targets: a literal spec, or a reader of a target
// file (set Reader). SpecInputs and FileInput build them.
type Input struct {
	// Spec is one target spec (see ParseSpec); used when Reader is nil.
	Spec string
	// Reader is a target file; the Stream reads it once, lazily, during Each.
	Reader io.Reader
	// Name names the input in Service.Source and errors: the file name for a
	// Reader (default "input"), the origin of a Spec (default "args").
	Name string
	// Format is the Reader's format; FormatAuto sniffs it.
	Format Format
}

// SpecInputs returns one Input per spec, named "args".
func SpecInputs(specs ...string) []Input {
	in := make([]Input, len(specs))
	for i, s := range specs {
		in[i] = Input{Spec: s}
	}
	return in
}

// FileInput returns an Input reading a target file of auto-detected format.
func FileInput(name string, r io.Reader) Input { return Input{Name: name, Reader: r} }

// Stream yields the services of its inputs lazily, in a spread-out order,
// filtered by exclusions and restricted to one shard.
//
// Each input is cut into blocks: a literal spec is one block (its addresses ×
// its ports); a target file gives one block per line or per host record.
// Within a block of n services, position k holds element perm(k) of a keyed
// pseudorandom permutation of [0, n) over the address × port index space, so
// neither one network nor the ports of one host are hit in a burst. Position
// k of block b belongs to shard (offset(b)+k) mod Count, where offset(b) is
// the number of services in the blocks before b: the shards partition the
// stream exactly. Memory is O(1) per block; a /8 is never materialised.
type Stream struct {
	opts     Options
	ports    []int
	inputs   []streamInput
	hasFiles bool
	excluded atomic.Int64

	mu       sync.Mutex
	consumed bool // a reader input has been read
}

type streamInput struct {
	Input
	spec *block // parsed literal spec, or nil for a reader
}

// NewStream checks options and parses every literal spec now (reporting all
// bad specs together); target files are only read by Each.
func NewStream(opts *Options, inputs ...Input) (*Stream, error) {
	s := &Stream{}
	if opts != nil {
		s.opts = *opts
	}
	ports, err := normalizePorts(s.opts.Ports)
	if err != nil {
		return nil, err
	}
	s.ports = ports
	s.opts.Ports = ports
	if err := s.opts.Shard.Validate(); err != nil {
		return nil, fmt.Errorf("shard: %w", err)
	}
	var errs []error
	for _, in := range inputs {
		si := streamInput{Input: in}
		if in.Reader == nil {
			if si.Name == "" {
				si.Name = "args"
			}
			sp, err := ParseSpec(in.Spec)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			si.spec = specBlock(sp, ports, si.Name)
		} else {
			if si.Name == "" {
				si.Name = "input"
			}
			s.hasFiles = true
		}
		s.inputs = append(s.inputs, si)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Each calls fn for every service of this shard that is not excluded, in
// order, until the inputs end, ctx is cancelled (returns ctx.Err()) or fn
// returns an error (returned as is). The Service's Paths slice is shared:
// fn must not modify it. A stream with target files can be iterated once;
// one with only literal specs any number of times.
func (s *Stream) Each(ctx context.Context, fn func(Service) error) error {
	if s.hasFiles {
		s.mu.Lock()
		used := s.consumed
		s.consumed = true
		s.mu.Unlock()
		if used {
			return errors.New("target: stream with target files already consumed")
		}
	}
	i, n := s.opts.Shard.norm()
	w := &walker{
		ctx: ctx, done: ctx.Done(), fn: fn,
		shard: i, shards: n, seed: s.opts.Seed,
		excl: s.opts.Exclude, excluded: &s.excluded,
	}
	for _, in := range s.inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if in.spec != nil {
			if err := w.run(in.spec); err != nil {
				return err
			}
			continue
		}
		if err := decode(in.Input, s.ports, w.run); err != nil {
			return err
		}
	}
	return nil
}

// Excluded returns how many services of this shard Each has skipped because
// of exclusions so far (summed over calls).
func (s *Stream) Excluded() int64 { return s.excluded.Load() }

// Count returns how many services this shard will get from the literal
// specs, before exclusions. exact is false when the stream has target files,
// whose services are not counted (and whose sizes shift the shard split, so
// the count of specs after a file can be off by one per block).
func (s *Stream) Count() (n uint64, exact bool) {
	i, shards := s.opts.Shard.norm()
	var off uint64
	for _, in := range s.inputs {
		if in.spec == nil {
			continue
		}
		size := in.spec.size()
		_, c := share(i, shards, off, size)
		n += c
		off = (off + size%shards) % shards
	}
	return n, !s.hasFiles
}

// decode reads one target file and hands its blocks to emit.
func decode(in Input, ports []int, emit func(*block) error) error {
	br := bufio.NewReaderSize(in.Reader, sniffSize)
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	f := in.Format
	if f == FormatAuto {
		var err error
		if f, err = detectFormat(br); err != nil {
			return fmt.Errorf("%s: %w", in.Name, err)
		}
	}
	sk := &sink{name: in.Name, ports: ports, emit: emit}
	switch f {
	case FormatList:
		return decodeList(br, sk)
	case FormatNmapXML:
		return decodeNmap(br, sk)
	case FormatMasscanJSON:
		return decodeMasscanJSON(br, sk)
	case FormatMasscanList:
		return decodeMasscanList(br, sk)
	case FormatZmapCSV:
		return decodeZmap(br, sk)
	}
	return fmt.Errorf("%s: unknown target format %q", in.Name, f)
}

// block is a set of services: either one host (a DNS name or an IP literal
// with zone) or nAddr consecutive addresses from first, times ports.
type block struct {
	source  string
	host    string
	first   netip.Addr // valid when host == ""
	nAddr   uint64
	ports   []int
	schemes []string // per port; nil means scheme for all
	scheme  string
	paths   []string
}

func (b *block) size() uint64 { return b.nAddr * uint64(len(b.ports)) }

func (b *block) last() netip.Addr { return addrAt(b.first, b.nAddr-1) }

// specBlock turns a parsed spec into a block, taking ports when the spec
// fixes none.
func specBlock(sp Spec, ports []int, source string) *block {
	b := &block{source: source, scheme: sp.Scheme, paths: sp.Paths, ports: ports, nAddr: 1}
	if sp.Port != 0 {
		b.ports = []int{sp.Port}
	}
	switch {
	case sp.Host != "":
		b.host = sp.Host
	default:
		b.first, b.nAddr = sp.First, sp.Addrs()
	}
	return b
}

// walker runs blocks through permutation, sharding and exclusion.
type walker struct {
	ctx      context.Context
	done     <-chan struct{}
	fn       func(Service) error
	shard    uint64
	shards   uint64
	seed     uint64
	off      uint64 // services before the current block, mod shards
	blocks   uint64 // blocks seen
	excl     *Exclusions
	excluded *atomic.Int64
}

func (w *walker) run(b *block) error {
	size := b.size()
	first, count := share(w.shard, w.shards, w.off, size)
	w.off = (w.off + size%w.shards) % w.shards
	key := blockKey(w.seed, w.blocks)
	w.blocks++
	select {
	case <-w.done:
		return w.ctx.Err()
	default:
	}
	if count == 0 {
		return nil
	}
	if b.host != "" && w.excl.ContainsHost(b.host) ||
		b.host == "" && w.excl.containsRange(b.first, b.last()) {
		w.excluded.Add(int64(count))
		return nil
	}
	p := newPerm(size, key)
	for k := first; ; k += w.shards {
		select {
		case <-w.done:
			return w.ctx.Err()
		default:
		}
		if err := w.emit(b, p.at(k)); err != nil {
			return err
		}
		if size-k <= w.shards {
			return nil
		}
	}
}

// emit yields element e of block b unless its address is excluded.
func (w *walker) emit(b *block, e uint64) error {
	nPorts := uint64(len(b.ports))
	ai, pi := e/nPorts, e%nPorts
	svc := Service{Host: b.host, Port: b.ports[pi], Scheme: b.scheme, Paths: b.paths, Source: b.source}
	if b.schemes != nil {
		svc.Scheme = b.schemes[pi]
	}
	if b.host == "" {
		a := addrAt(b.first, ai)
		if w.excl.ContainsAddr(a) {
			w.excluded.Add(1)
			return nil
		}
		svc.Host = a.String()
	}
	return w.fn(svc)
}
