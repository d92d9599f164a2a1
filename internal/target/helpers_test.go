package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// key renders a service in one comparable string.
func key(s Service) string {
	return fmt.Sprintf("%s|%d|%s|%s|%s", s.Host, s.Port, s.Scheme, strings.Join(s.Paths, ","), s.Source)
}

// collect runs a stream over inputs and returns the sorted service keys.
func collect(t testing.TB, opts *Options, inputs ...Input) []string {
	t.Helper()
	got, err := tryCollect(opts, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tryCollect(opts *Options, inputs ...Input) ([]string, error) {
	s, err := NewStream(opts, inputs...)
	if err != nil {
		return nil, err
	}
	var out []string
	err = s.Each(context.Background(), func(svc Service) error {
		out = append(out, key(svc))
		return nil
	})
	slices.Sort(out)
	return out, err
}

// decodeAll decodes a target file of the given format and returns its
// blocks' services in natural order (no permutation), checking every port.
func decodeAll(f Format, name, data string, ports []int, limit int) ([]Service, error) {
	var out []Service
	emit := func(b *block) error {
		for i := uint64(0); i < b.size() && len(out) < limit; i++ {
			ai, pi := i/uint64(len(b.ports)), i%uint64(len(b.ports))
			s := Service{Host: b.host, Port: b.ports[pi], Scheme: b.scheme, Paths: b.paths, Source: b.source}
			if b.schemes != nil {
				s.Scheme = b.schemes[pi]
			}
			if b.host == "" {
				s.Host = addrAt(b.first, ai).String()
			}
			out = append(out, s)
		}
		return nil
	}
	err := decode(Input{Name: name, Reader: strings.NewReader(data), Format: f}, ports, emit)
	return out, err
}

// checkServices fails when a decoder produced an unusable service.
func checkServices(t testing.TB, svcs []Service) {
	t.Helper()
	for _, s := range svcs {
		if !validPort(s.Port) {
			t.Fatalf("service %+v has invalid port", s)
		}
		if s.Host == "" {
			t.Fatalf("service %+v has no host", s)
		}
		if s.Scheme != "" && s.Scheme != "http" && s.Scheme != "https" {
			t.Fatalf("service %+v has bad scheme", s)
		}
	}
}

var errStop = errors.New("stop")

// chunkReader hands out its chunks one Read at a time, then padLines blank
// lines, then fails: a decoder that reads ahead to the end before handing
// over a record is caught by exhausted.
type chunkReader struct {
	chunks []string
	read   int
}

const padLines = 1000

var errReadAll = errors.New("chunkReader: read to the end")

func (r *chunkReader) Read(p []byte) (int, error) {
	r.read++
	switch {
	case r.read <= len(r.chunks):
		return copy(p, r.chunks[r.read-1]), nil
	case r.read <= len(r.chunks)+padLines:
		return copy(p, "\n"), nil
	}
	return 0, errReadAll
}

// exhausted reports whether the reader has been read past its padding.
func (r *chunkReader) exhausted() bool { return r.read > len(r.chunks)+padLines }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// checkBlock fails when a decoder produced an unusable block; it expands
// only the first few services, since a list line may be a /8.
func checkBlock(t testing.TB, b *block) {
	t.Helper()
	if len(b.ports) == 0 || b.nAddr == 0 || b.nAddr > MaxAddrs {
		t.Fatalf("block %+v: %d ports, %d addresses", b, len(b.ports), b.nAddr)
	}
	if b.schemes != nil && len(b.schemes) != len(b.ports) {
		t.Fatalf("block %+v: %d schemes for %d ports", b, len(b.schemes), len(b.ports))
	}
	if b.host == "" && !b.first.IsValid() {
		t.Fatalf("block %+v has no host", b)
	}
	n := min(b.size(), 10)
	svcs := make([]Service, 0, n)
	for i := uint64(0); i < n; i++ {
		svcs = append(svcs, natural(b, i))
	}
	checkServices(t, svcs)
}

// fuzzDecode runs one decoder over data, checking every block.
func fuzzDecode(t *testing.T, f Format, data []byte) {
	err := decode(Input{Name: "fuzz", Reader: bytes.NewReader(data), Format: f}, []int{80, 65535}, func(b *block) error {
		checkBlock(t, b)
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), "fuzz") {
		t.Fatalf("error %q does not name the input", err)
	}
}
