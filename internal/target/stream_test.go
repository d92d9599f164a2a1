package target

import (
	"context"
	"errors"
	"io"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// mixedInputs returns fresh inputs of every kind: literal specs (CIDRs,
// ranges, URLs, host:port, names) and target files of several formats.
func mixedInputs(t testing.TB) []Input {
	t.Helper()
	file := func(name string) Input {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return FileInput(name, strings.NewReader(string(data)))
	}
	in := SpecInputs("127.0.0.0/26", "127.1.0.1-127.1.0.40", "http://127.0.0.1:8811/mcp", "localhost:3000", "[::1]", "fd00::/122")
	in = append(in, file("targets.txt"), file("nmap.xml"))
	in = append(in, SpecInputs("127.2.0.7", "127.3.0.250-127.3.1.3")...)
	in = append(in, file("masscan.json"), file("zmap.csv"), file("masscan.txt"))
	return in
}

// expected expands mixedInputs without permutation or sharding.
func expected(t testing.TB, ports []int) []string {
	t.Helper()
	var want []string
	for _, in := range mixedInputs(t) {
		if in.Reader == nil {
			sp, err := ParseSpec(in.Spec)
			if err != nil {
				t.Fatal(err)
			}
			b := specBlock(sp, ports, "args")
			for i := uint64(0); i < b.size(); i++ {
				want = append(want, key(natural(b, i)))
			}
			continue
		}
		data, _ := readAllString(in)
		svcs, err := decodeAll(FormatAuto, in.Name, data, ports, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, keysOf(svcs)...)
	}
	slices.Sort(want)
	return want
}

func natural(b *block, i uint64) Service {
	ai, pi := i/uint64(len(b.ports)), i%uint64(len(b.ports))
	s := Service{Host: b.host, Port: b.ports[pi], Scheme: b.scheme, Paths: b.paths, Source: b.source}
	if b.host == "" {
		s.Host = addrAt(b.first, ai).String()
	}
	return s
}

func readAllString(in Input) (string, error) {
	b, err := io.ReadAll(in.Reader)
	return string(b), err
}

func TestStreamUnsharded(t *testing.T) {
	ports := []int{80, 8080, 3000}
	got := collect(t, &Options{Ports: ports}, mixedInputs(t)...)
	want := expected(t, ports)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d services, want %d\nfirst got  %q\nfirst want %q", len(got), len(want), head(got), head(want))
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Errorf("duplicate service %s", got[i])
		}
	}
	if !slices.Contains(got, "127.0.0.1|8811|http|/mcp|args") {
		t.Error("URL service missing")
	}
}

func head(s []string) []string { return s[:min(5, len(s))] }

func TestShardsPartition(t *testing.T) {
	ports := []int{80, 443}
	all := collect(t, &Options{Ports: ports, Seed: 9}, mixedInputs(t)...)
	for _, n := range []int{1, 2, 3, 5, 7, 16, 1000} {
		var union []string
		sizes := make([]int, n)
		for i := 0; i < n; i++ {
			got := collect(t, &Options{Ports: ports, Seed: 9, Shard: Shard{i, n}}, mixedInputs(t)...)
			sizes[i] = len(got)
			union = append(union, got...)
		}
		slices.Sort(union)
		if !reflect.DeepEqual(union, all) {
			t.Fatalf("N=%d: union of shards has %d services, unsharded %d (disjoint: %v)", n, len(union), len(all), len(slices.Compact(slices.Clone(union))) == len(union))
		}
		if lo, hi := slices.Min(sizes), slices.Max(sizes); hi-lo > 1 {
			t.Errorf("N=%d: shard sizes %d..%d differ by more than one", n, lo, hi)
		}
	}
}

func TestShardsWithExclusions(t *testing.T) {
	excl, err := ParseExclusions([]string{"127.0.0.0/28", "127.1.0.0/24", "localhost", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	ports := []int{80}
	full, err := NewStream(&Options{Ports: ports, Exclude: excl}, mixedInputs(t)...)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	if err := full.Each(context.Background(), func(s Service) error {
		if excl.Excludes(s) {
			t.Errorf("excluded service %+v yielded", s)
		}
		all = append(all, key(s))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	total := len(expected(t, ports))
	if int64(len(all))+full.Excluded() != int64(total) {
		t.Errorf("yielded %d + excluded %d != %d", len(all), full.Excluded(), total)
	}
	const n = 4
	var union []string
	var excluded int64
	for i := 0; i < n; i++ {
		s, err := NewStream(&Options{Ports: ports, Exclude: excl, Shard: Shard{i, n}}, mixedInputs(t)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Each(context.Background(), func(svc Service) error { union = append(union, key(svc)); return nil }); err != nil {
			t.Fatal(err)
		}
		excluded += s.Excluded()
	}
	slices.Sort(union)
	if !reflect.DeepEqual(union, all) {
		t.Errorf("sharded union %d services, unsharded %d", len(union), len(all))
	}
	if excluded != full.Excluded() {
		t.Errorf("shards excluded %d, unsharded %d", excluded, full.Excluded())
	}
}

func TestStreamWholeBlockExcluded(t *testing.T) {
	excl, _ := ParseExclusions([]string{"127.0.0.0/8"})
	s, err := NewStream(&Options{Exclude: excl, Shard: Shard{1, 3}}, SpecInputs("127.0.0.0/8", "127.0.0.1:80")...)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := s.Each(context.Background(), func(Service) error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	n, exact := s.Count()
	if calls != 0 || !exact || s.Excluded() != int64(n) {
		t.Errorf("calls %d, excluded %d, count %d (exact %v)", calls, s.Excluded(), n, exact)
	}
}

func TestStreamOrderSpreads(t *testing.T) {
	s, err := NewStream(&Options{Ports: []int{80, 443}, Seed: 1}, SpecInputs("127.0.0.0/24")...)
	if err != nil {
		t.Fatal(err)
	}
	var order []Service
	_ = s.Each(context.Background(), func(svc Service) error { order = append(order, svc); return nil })
	if len(order) != 512 {
		t.Fatalf("%d services", len(order))
	}
	hosts := map[string]bool{}
	adjacent := 0
	for i, svc := range order[:64] {
		hosts[svc.Host] = true
		if i > 0 && order[i-1].Host == svc.Host {
			adjacent++
		}
	}
	if len(hosts) < 50 || adjacent > 2 {
		t.Errorf("first 64 services: %d hosts, %d back-to-back repeats of a host", len(hosts), adjacent)
	}
	sequential := 0
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if a.Port == b.Port && addrAt(mustAddr(a.Host), 1) == mustAddr(b.Host) {
			sequential++
		}
	}
	if sequential > 10 {
		t.Errorf("%d steps go to the next address", sequential)
	}
}

func TestStreamSeed(t *testing.T) {
	order := func(seed uint64) []string {
		s, err := NewStream(&Options{Ports: []int{80}, Seed: seed}, SpecInputs("127.0.0.0/26")...)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		_ = s.Each(context.Background(), func(svc Service) error { out = append(out, svc.Host); return nil })
		return out
	}
	a, b, c := order(5), order(5), order(6)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, different order")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds, same order")
	}
	slices.Sort(a)
	slices.Sort(c)
	if !reflect.DeepEqual(a, c) {
		t.Error("different seeds, different sets")
	}
}

// TestStreamLazy iterates the start of a /8 × default ports (184M
// services) and checks memory stays tiny: nothing is materialised.
func TestStreamLazy(t *testing.T) {
	for _, spec := range []string{"127.0.0.0/8", "fd00::/80"} {
		t.Run(spec, func(t *testing.T) {
			s, err := NewStream(nil, SpecInputs(spec)...)
			if err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n := 0
			err = s.Each(context.Background(), func(svc Service) error {
				if n++; n == 1000 {
					return errStop
				}
				return nil
			})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, errStop) || n != 1000 {
				t.Fatalf("err %v after %d", err, n)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
				t.Errorf("allocated %d bytes for 1000 services", alloc)
			}
			if mallocs := after.Mallocs - before.Mallocs; mallocs > 3000 {
				t.Errorf("%d allocations for 1000 services", mallocs)
			}
		})
	}
}

func TestStreamAllocsPerService(t *testing.T) {
	s, err := NewStream(nil, SpecInputs("127.0.0.0/8")...)
	if err != nil {
		t.Fatal(err)
	}
	avg := testing.AllocsPerRun(5, func() {
		n := 0
		_ = s.Each(context.Background(), func(Service) error {
			if n++; n == 100 {
				return errStop
			}
			return nil
		})
	})
	// One allocation per service (the address string) plus a constant.
	if avg > 110 {
		t.Errorf("%.0f allocations for 100 services", avg)
	}
}

func TestStreamStops(t *testing.T) {
	s, err := NewStream(nil, SpecInputs("127.0.0.0/16", "127.1.0.0/16")...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = s.Each(ctx, func(Service) error {
		if n++; n == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || n != 10 {
		t.Errorf("cancel: err %v after %d services", err, n)
	}
	if err := s.Each(ctx, func(Service) error { t.Fatal("called after cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: err %v", err)
	}

	n = 0
	err = s.Each(context.Background(), func(Service) error { n++; return errStop })
	if err != errStop || n != 1 {
		t.Errorf("fn error: err %v after %d", err, n)
	}
}

func TestStreamFileConsumedOnce(t *testing.T) {
	s, err := NewStream(nil, FileInput("t.txt", strings.NewReader("127.0.0.1:80\n")))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.Each(context.Background(), func(Service) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("first Each: %v, %d", err, n)
	}
	if err := s.Each(context.Background(), func(Service) error { return nil }); err == nil || !strings.Contains(err.Error(), "already consumed") {
		t.Errorf("second Each: %v", err)
	}
	specs, _ := NewStream(nil, SpecInputs("127.0.0.1")...)
	a, _ := tryCollectStream(specs)
	b, _ := tryCollectStream(specs)
	if len(a) != len(DefaultPorts) || !reflect.DeepEqual(a, b) {
		t.Errorf("spec stream twice: %v / %v", a, b)
	}
}

func tryCollectStream(s *Stream) ([]string, error) {
	var out []string
	err := s.Each(context.Background(), func(svc Service) error { out = append(out, key(svc)); return nil })
	return out, err
}

func TestStreamFileErrors(t *testing.T) {
	_, err := tryCollect(nil, Input{Name: "bad.txt", Reader: strings.NewReader("127.0.0.1\nnot_a_host\n")})
	if err == nil || !strings.Contains(err.Error(), `bad.txt:2: target "not_a_host"`) {
		t.Errorf("error %v", err)
	}
	_, err = tryCollect(nil, Input{Reader: strings.NewReader("x_y\n")})
	if err == nil || !strings.HasPrefix(err.Error(), "input:1:") {
		t.Errorf("unnamed reader error %v", err)
	}
	_, err = tryCollect(nil, Input{Name: "f", Reader: strings.NewReader("127.0.0.1"), Format: "xlsx"})
	if err == nil || !strings.Contains(err.Error(), `unknown target format "xlsx"`) {
		t.Errorf("bad format error %v", err)
	}
	// A forced format is not sniffed: as a list, "saddr" is a host name.
	got, err := tryCollect(&Options{Ports: []int{80}}, Input{Name: "forced", Reader: strings.NewReader("saddr\n127.0.0.1\n"), Format: FormatList})
	if err != nil || !reflect.DeepEqual(got, []string{"127.0.0.1|80|||forced:2", "saddr|80|||forced:1"}) {
		t.Errorf("forced list: %q, %v", got, err)
	}
}

func TestNewStreamErrors(t *testing.T) {
	tests := []struct {
		name  string
		opts  *Options
		specs []string
		want  []string
	}{
		{"bad port", &Options{Ports: []int{80, 0}}, nil, []string{"port 0 out of range"}},
		{"bad shard", &Options{Shard: Shard{3, 3}}, nil, []string{"shard: shard index 3 out of range 0-2"}},
		{"bad specs all named", nil, []string{"127.0.0.1", "10.0.0.0/33", "bad_host", "[::1"},
			[]string{`target "10.0.0.0/33": invalid CIDR prefix length`, `target "bad_host"`, `target "[::1": missing ']'`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewStream(tt.opts, SpecInputs(tt.specs...)...)
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestStreamServices(t *testing.T) {
	in := SpecInputs("https://localhost/mcp", "127.0.0.1")
	in[1].Name = "cli"
	got := collect(t, &Options{Ports: []int{3000, 3000, 80}}, in...)
	want := []string{
		"127.0.0.1|3000|||cli",
		"127.0.0.1|80|||cli",
		"localhost|443|https|/mcp|args",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestStreamCount(t *testing.T) {
	specs := SpecInputs("127.0.0.0/24", "127.1.0.1-7", "http://localhost/", "[::1]:1")
	var sum uint64
	for i := 0; i < 3; i++ {
		s, err := NewStream(&Options{Ports: []int{1, 2}, Shard: Shard{i, 3}}, specs...)
		if err != nil {
			t.Fatal(err)
		}
		n, exact := s.Count()
		if !exact {
			t.Error("spec-only stream not exact")
		}
		got, _ := tryCollectStream(s)
		if uint64(len(got)) != n {
			t.Errorf("shard %d: Count %d, Each yielded %d", i, n, len(got))
		}
		sum += n
	}
	if sum != 256*2+7*2+1+1 {
		t.Errorf("sum of counts %d", sum)
	}
	s, _ := NewStream(nil, FileInput("f", strings.NewReader("")))
	if _, exact := s.Count(); exact {
		t.Error("stream with a file claims an exact count")
	}
}

// cancelReader cancels a context on its first Read.
type cancelReader struct {
	r      io.Reader
	cancel func()
}

func (c *cancelReader) Read(p []byte) (int, error) {
	c.cancel()
	return c.r.Read(p)
}

// TestStreamFileStopsOnCancel checks a file is not read to its end after
// cancellation, even when this shard gets none of its services.
func TestStreamFileStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := strings.Repeat("127.0.0.1:80\n", 10000)
	s, err := NewStream(&Options{Shard: Shard{1 << 29, 1 << 30}}, FileInput("f", &cancelReader{strings.NewReader(data), cancel}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Each(ctx, func(Service) error { t.Fatal("unexpected service"); return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}
