// Package bench measures the scanner against a fleet of thousands of
// endpoints on distinct loopback addresses: open, stateless, 2026-era and
// OAuth-protected MCP servers and legacy SSE servers of the official Go SDK
// (package lab), plain web servers, closed ports and tarpits.
//
// The fleet runs in a child process (see [SpawnFleet] and [ServeChild]) so
// that the peak RSS measured in the benchmark process is the scanner's
// alone. In the benchmark process, [RunScan] runs the real scan pipeline
// over the fleet and [RunBaseline] runs a bare HTTP client (one POST per
// endpoint, no MCP logic) at the same concurrency, so that the scanner's
// request rate can be judged against the rate the machine and the fleet
// allow. [Check] says whether every endpoint got its correct verdict.
//
// Nothing here ever connects to an address outside 127.0.0.0/8.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
)

// Kind is the kind of one fleet endpoint.
type Kind string

// The kinds of endpoint a fleet holds. The MCP kinds are lab servers of the
// lab kind of the same name.
const (
	// KindOpenStreamable is a stateful streamable HTTP server, no auth.
	KindOpenStreamable Kind = Kind(lab.KindOpenStreamable)
	// KindOpenStateless is a stateless streamable HTTP server (JSON
	// responses, dual-era: it also answers 2026-07-28 requests), no auth.
	KindOpenStateless Kind = Kind(lab.KindOpenStateless)
	// KindModern is a server speaking only the 2026-07-28 protocol, no auth.
	KindModern Kind = Kind(lab.KindModern)
	// KindOAuth is a streamable server behind a bearer token that answers
	// 401 with resource_metadata and serves RFC 9728 metadata.
	KindOAuth Kind = Kind(lab.KindOAuth)
	// KindSSE is a legacy HTTP+SSE (2024-11-05) server, no auth.
	KindSSE Kind = Kind(lab.KindOpenSSE)
	// KindWeb is a plain web application, not MCP.
	KindWeb Kind = Kind(lab.KindWeb)
	// KindClosed is an address with nothing listening on the fleet port.
	KindClosed Kind = "closed"
	// KindTarpit accepts connections and never answers
	// (mcptest.Tarpit).
	KindTarpit Kind = "tarpit"
)

// Kinds returns every fleet kind in a fixed order.
func Kinds() []Kind {
	return []Kind{KindOpenStreamable, KindOpenStateless, KindModern, KindOAuth, KindSSE, KindWeb, KindClosed, KindTarpit}
}

func knownKind(k Kind) bool { return slices.Contains(Kinds(), k) }

// labKind returns the lab kind that serves k, and false for the kinds that
// are not lab servers (closed, tarpit).
func (k Kind) labKind() (lab.Kind, bool) {
	switch k {
	case KindClosed, KindTarpit:
		return "", false
	}
	return lab.Kind(k), true
}

// DefaultMix is the fleet composition in per mille: 40% open streamable,
// 10% open stateless, 2% 2026-07-28-only, 10% OAuth, 10% legacy SSE, 15%
// web, 12.5% closed and 0.5% tarpits.
var DefaultMix = map[Kind]int{
	KindOpenStreamable: 400,
	KindOpenStateless:  100,
	KindModern:         20,
	KindOAuth:          100,
	KindSSE:            100,
	KindWeb:            150,
	KindClosed:         125,
	KindTarpit:         5,
}

// DefaultFirstIP is the first fleet address when FleetOptions.FirstIP is
// empty. It is far from the 127.0.0.x addresses other tests use.
const DefaultFirstIP = "127.66.0.1"

// MaxSize bounds FleetOptions.Size: each endpoint is a listening socket.
const MaxSize = 15000

// FleetOptions configures a fleet. The zero value is valid.
type FleetOptions struct {
	// Size is the number of endpoints. Zero means 5000; at most [MaxSize].
	Size int `json:"size"`
	// Mix weighs the kinds (any positive scale; per mille by convention).
	// nil means [DefaultMix]. Every kind with a positive weight gets at
	// least one endpoint when Size allows.
	Mix map[Kind]int `json:"mix,omitempty"`
	// FirstIP is the loopback IPv4 address of the first endpoint; the
	// others follow (127.66.0.1, 127.66.0.2, ...). Empty means
	// [DefaultFirstIP].
	FirstIP string `json:"first_ip,omitempty"`
	// Port is the one port every endpoint listens on (closed endpoints
	// are the addresses where nothing does). Zero picks a free port.
	Port int `json:"port,omitempty"`
	// Seed shuffles the kinds over the addresses; the same seed gives the
	// same fleet. Zero means 1.
	Seed uint64 `json:"seed,omitempty"`
	// GCPercent is the garbage collection target (GOGC) of the child
	// process that ServeChild runs; StartFleet ignores it. Zero means
	// [DefaultChildGCPercent]; -1 turns the collector off.
	GCPercent int `json:"gc_percent,omitempty"`
	// Logger receives the lab servers' logs; nil discards them.
	Logger *slog.Logger `json:"-"`
}

// DefaultChildGCPercent is the fleet child's GOGC. Five thousand SDK servers
// make a live heap of some 200 MB that the fleet's per-request garbage
// keeps the collector marking; at the default GOGC of 100 the fleet uses
// about 40% more CPU, taken from the scanner on the same cores. The price
// is memory: a 5,000-endpoint child grows to about 2 GB.
const DefaultChildGCPercent = 400

// Endpoint is one fleet endpoint as the scanner should see it.
type Endpoint struct {
	Kind Kind `json:"kind"`
	// Addr is "ip:port".
	Addr string `json:"addr"`
	// Path is where the endpoint serves MCP (the SSE stream for KindSSE),
	// "/" for KindWeb, and DefaultPath for closed ports and tarpits (what
	// a client would try there).
	Path string `json:"path"`
}

// URL is the endpoint's http URL.
func (e Endpoint) URL() string { return "http://" + e.Addr + e.Path }

// HostPort splits Addr.
func (e Endpoint) HostPort() (string, int, error) {
	h, p, err := net.SplitHostPort(e.Addr)
	if err != nil {
		return "", 0, fmt.Errorf("bench: endpoint address %q: %w", e.Addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", 0, fmt.Errorf("bench: endpoint address %q: bad port", e.Addr)
	}
	return h, n, nil
}

// Fleet is a running fleet.
type Fleet struct {
	// Endpoints in address order.
	Endpoints []Endpoint

	labs     []*lab.Server
	tarpits  []*mcptest.HostileServer
	closeErr error
	once     sync.Once
}

// Counts returns how many endpoints of each kind eps holds.
func Counts(eps []Endpoint) map[Kind]int {
	m := map[Kind]int{}
	for _, e := range eps {
		m[e.Kind]++
	}
	return m
}

// StartFleet starts a fleet. On error everything already started is
// closed. The servers run until Close or until ctx ends.
func StartFleet(ctx context.Context, opts FleetOptions) (*Fleet, error) {
	kinds, first, err := plan(opts)
	if err != nil {
		return nil, err
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(first); err != nil {
			return nil, err
		}
	}
	f := &Fleet{Endpoints: make([]Endpoint, len(kinds))}
	ip := first
	for i, k := range kinds {
		if i > 0 {
			ip = ip.Next()
		}
		f.Endpoints[i] = Endpoint{Kind: k, Addr: net.JoinHostPort(ip.String(), strconv.Itoa(port)), Path: pathOf(k)}
	}
	if err := f.start(ctx, opts.Logger); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// plan validates opts and returns the kind of each endpoint, in address
// order, and the first address.
func plan(opts FleetOptions) ([]Kind, netip.Addr, error) {
	size := opts.Size
	if size == 0 {
		size = 5000
	}
	if size < 0 || size > MaxSize {
		return nil, netip.Addr{}, fmt.Errorf("bench: fleet size %d out of range 1..%d", size, MaxSize)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, netip.Addr{}, fmt.Errorf("bench: fleet port %d out of range 0..65535", opts.Port)
	}
	firstIP := cmp.Or(opts.FirstIP, DefaultFirstIP)
	first, err := netip.ParseAddr(firstIP)
	if err != nil || !first.Is4() || !first.IsLoopback() {
		return nil, netip.Addr{}, fmt.Errorf("bench: first IP %q is not a loopback IPv4 address", firstIP)
	}
	last := first
	for range size - 1 {
		last = last.Next()
	}
	if !last.IsValid() || !last.IsLoopback() {
		return nil, netip.Addr{}, fmt.Errorf("bench: %d addresses from %s leave 127.0.0.0/8", size, firstIP)
	}
	mix := opts.Mix
	if mix == nil {
		mix = DefaultMix
	}
	counts, err := apportion(mix, size)
	if err != nil {
		return nil, netip.Addr{}, err
	}
	kinds := make([]Kind, 0, size)
	for _, k := range Kinds() {
		for range counts[k] {
			kinds = append(kinds, k)
		}
	}
	seed := cmp.Or(opts.Seed, 1)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds, first, nil
}

// apportion splits size over the weighted kinds by largest remainder, then
// gives every kind with a positive weight at least one endpoint, taken
// from the largest share.
func apportion(mix map[Kind]int, size int) (map[Kind]int, error) {
	total := 0
	var present []Kind
	for _, k := range Kinds() {
		w := mix[k]
		if w < 0 {
			return nil, fmt.Errorf("bench: negative weight %d for kind %q", w, k)
		}
		if w > 0 {
			present = append(present, k)
			total += w
		}
	}
	for k := range mix {
		if !knownKind(k) {
			return nil, fmt.Errorf("bench: unknown kind %q in the mix", k)
		}
	}
	if total == 0 {
		return nil, errors.New("bench: the mix has no kind with a positive weight")
	}
	counts := map[Kind]int{}
	rem := map[Kind]int{}
	given := 0
	for _, k := range present {
		counts[k] = size * mix[k] / total
		rem[k] = size * mix[k] % total
		given += counts[k]
	}
	byRem := slices.Clone(present)
	slices.SortStableFunc(byRem, func(a, b Kind) int { return cmp.Compare(rem[b], rem[a]) })
	for i := 0; given < size; i++ {
		counts[byRem[i%len(byRem)]]++
		given++
	}
	for _, k := range present {
		if counts[k] > 0 {
			continue
		}
		big := slices.MaxFunc(present, func(a, b Kind) int { return cmp.Compare(counts[a], counts[b]) })
		if counts[big] <= 1 {
			break // size is smaller than the number of kinds
		}
		counts[big]--
		counts[k]++
	}
	return counts, nil
}

func pathOf(k Kind) string {
	switch k {
	case KindSSE:
		return lab.SSEPath
	case KindWeb:
		return "/"
	}
	return lab.DefaultPath
}

// freePort returns a port that is free on ip right now.
func freePort(ip netip.Addr) (int, error) {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		return 0, fmt.Errorf("bench: find a free port on %s: %w", ip, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start starts the servers of every endpoint, on all CPUs.
func (f *Fleet) start(ctx context.Context, logger *slog.Logger) error {
	type started struct {
		lab    *lab.Server
		tarpit *mcptest.HostileServer
		err    error
	}
	out := make([]started, len(f.Endpoints))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				e := f.Endpoints[i]
				var s started
				switch lk, isLab := e.Kind.labKind(); {
				case isLab:
					s.lab, s.err = lab.Start(ctx, lk, e.Addr, &lab.Options{Logger: logger, Path: labPath(e)})
				case e.Kind == KindTarpit:
					s.tarpit, s.err = mcptest.StartHostile(mcptest.Tarpit, e.Addr)
				}
				out[i] = s
			}
		})
	}
	for i := range f.Endpoints {
		next <- i
	}
	close(next)
	wg.Wait()
	var errs []error
	for i, s := range out {
		if s.lab != nil {
			f.labs = append(f.labs, s.lab)
		}
		if s.tarpit != nil {
			f.tarpits = append(f.tarpits, s.tarpit)
		}
		if s.err != nil && len(errs) < 5 {
			errs = append(errs, fmt.Errorf("bench: start %s endpoint %s: %w", f.Endpoints[i].Kind, f.Endpoints[i].Addr, s.err))
		}
	}
	return errors.Join(errs...)
}

// labPath is the lab's Path option for e (empty for web, which has none).
func labPath(e Endpoint) string {
	if e.Kind == KindWeb {
		return ""
	}
	return e.Path
}

// Close stops every server. It is idempotent.
func (f *Fleet) Close() error {
	f.once.Do(func() {
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for _, s := range f.labs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := s.Close(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		for _, t := range f.tarpits {
			if err := t.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}
