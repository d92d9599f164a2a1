package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

func TestApportion(t *testing.T) {
	for _, tc := range []struct {
		name string
		mix  map[Kind]int
		size int
		want map[Kind]int
	}{
		{"default 5000", DefaultMix, 5000, map[Kind]int{
			KindOpenStreamable: 2000, KindOpenStateless: 500, KindModern: 100, KindOAuth: 500,
			KindSSE: 500, KindWeb: 750, KindClosed: 625, KindTarpit: 25}},
		{"default 200 keeps one tarpit", DefaultMix, 200, map[Kind]int{
			KindOpenStreamable: 80, KindOpenStateless: 20, KindModern: 4, KindOAuth: 20,
			KindSSE: 20, KindWeb: 30, KindClosed: 25, KindTarpit: 1}},
		{"tiny fleet gets every kind", DefaultMix, 8, map[Kind]int{
			KindOpenStreamable: 1, KindOpenStateless: 1, KindModern: 1, KindOAuth: 1,
			KindSSE: 1, KindWeb: 1, KindClosed: 1, KindTarpit: 1}},
		{"remainders", map[Kind]int{KindWeb: 1, KindClosed: 1, KindTarpit: 1}, 10, map[Kind]int{
			KindWeb: 4, KindClosed: 3, KindTarpit: 3}},
		{"one kind", map[Kind]int{KindSSE: 5}, 3, map[Kind]int{KindSSE: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := apportion(tc.mix, tc.size)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, k := range Kinds() {
				total += got[k]
				if got[k] != tc.want[k] {
					t.Errorf("%s: got %d, want %d", k, got[k], tc.want[k])
				}
			}
			if total != tc.size {
				t.Errorf("total %d, want %d", total, tc.size)
			}
		})
	}
}

func TestPlanRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts FleetOptions
		want string
	}{
		{"negative size", FleetOptions{Size: -1}, "fleet size -1"},
		{"too big", FleetOptions{Size: MaxSize + 1}, "out of range"},
		{"bad port", FleetOptions{Port: 70000}, "fleet port 70000"},
		{"not loopback", FleetOptions{FirstIP: "10.0.0.1"}, `"10.0.0.1" is not a loopback`},
		{"IPv6", FleetOptions{FirstIP: "::1"}, "not a loopback IPv4"},
		{"garbage IP", FleetOptions{FirstIP: "127.x"}, `"127.x"`},
		{"leaves 127/8", FleetOptions{FirstIP: "127.255.255.250", Size: 10}, "leave 127.0.0.0/8"},
		{"unknown kind", FleetOptions{Mix: map[Kind]int{"gopher": 1}}, `unknown kind "gopher"`},
		{"negative weight", FleetOptions{Mix: map[Kind]int{KindWeb: -1}}, "negative weight -1"},
		{"empty mix", FleetOptions{Mix: map[Kind]int{KindWeb: 0}}, "no kind with a positive weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := plan(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestPlanIsDeterministicAndMixed(t *testing.T) {
	a, first, err := plan(FleetOptions{Size: 1000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if first.String() != DefaultFirstIP {
		t.Errorf("first IP %s, want %s", first, DefaultFirstIP)
	}
	b, _, _ := plan(FleetOptions{Size: 1000, Seed: 3})
	c, _, _ := plan(FleetOptions{Size: 1000, Seed: 4})
	if !slices.Equal(a, b) {
		t.Error("the same seed gave two fleets")
	}
	if slices.Equal(a, c) {
		t.Error("two seeds gave the same fleet")
	}
	// Shuffled: the first tenth holds more than one kind.
	if kinds := Counts(toEndpoints(a[:100])); len(kinds) < 4 {
		t.Errorf("the first 100 endpoints hold only %v", kinds)
	}
}

func toEndpoints(ks []Kind) []Endpoint {
	out := make([]Endpoint, len(ks))
	for i, k := range ks {
		out[i] = Endpoint{Kind: k}
	}
	return out
}

// needLinux skips tests that bind 127.66.x.y: Linux routes all of
// 127.0.0.0/8 to the loopback interface, other systems need aliases.
func needLinux(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs all of 127.0.0.0/8 on loopback (Linux)")
	}
}

func TestStartFleetInProcess(t *testing.T) {
	needLinux(t)
	ctx := t.Context()
	f, err := StartFleet(ctx, FleetOptions{Size: 16, FirstIP: "127.66.200.1", Mix: map[Kind]int{
		KindOpenStreamable: 1, KindOAuth: 1, KindSSE: 1, KindWeb: 1, KindClosed: 1, KindTarpit: 1,
		KindOpenStateless: 1, KindModern: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Endpoints) != 16 {
		t.Fatalf("%d endpoints, want 16", len(f.Endpoints))
	}
	port := 0
	for i, e := range f.Endpoints {
		h, p, err := e.HostPort()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			port = p
			if h != "127.66.200.1" {
				t.Errorf("first endpoint on %s, want 127.66.200.1", h)
			}
		}
		if p != port {
			t.Errorf("endpoint %s is not on the fleet port %d", e.Addr, port)
		}
		c, err := net.DialTimeout("tcp", e.Addr, time.Second)
		switch {
		case e.Kind == KindClosed && err == nil:
			c.Close()
			t.Errorf("closed endpoint %s accepts connections", e.Addr)
		case e.Kind != KindClosed && err != nil:
			t.Errorf("%s endpoint %s: %v", e.Kind, e.Addr, err)
		case err == nil:
			c.Close()
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, e := range f.Endpoints {
		if c, err := net.DialTimeout("tcp", e.Addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", e.Addr)
		}
	}
}

func TestStartFleetPortInUse(t *testing.T) {
	needLinux(t)
	ln, err := net.Listen("tcp", "127.66.201.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	_, err = StartFleet(t.Context(), FleetOptions{Size: 3, FirstIP: "127.66.201.1", Port: port, Mix: map[Kind]int{KindWeb: 1}})
	if err == nil || !strings.Contains(err.Error(), "127.66.201.2") {
		t.Fatalf("got %v, want an error naming the busy address", err)
	}
}

func TestCheck(t *testing.T) {
	streamable := Endpoint{Kind: KindOpenStreamable, Addr: "127.66.0.1:80", Path: "/mcp"}
	good := Observation{Path: "/mcp", Status: result.StatusMCP, Transport: result.TransportStreamable,
		AuthScheme: result.AuthNone, Server: "acme-ops", Tools: 4, Resources: 2, Templates: 1, Prompts: 1}
	oauth := Endpoint{Kind: KindOAuth, Addr: "127.66.0.2:80", Path: "/mcp"}
	oauthGood := Observation{Path: "/mcp", Status: result.StatusMCP, Transport: result.TransportStreamable,
		AuthRequired: true, AuthScheme: result.AuthOAuth}
	with := func(o Observation, f func(*Observation)) Observation { f(&o); return o }
	for _, tc := range []struct {
		name string
		e    Endpoint
		obs  []Observation
		want string // "" = correct
	}{
		{"open streamable", streamable, []Observation{good}, ""},
		{"no record", streamable, nil, "0 records, want 1"},
		{"two records", streamable, []Observation{good, good}, "2 records"},
		{"wrong transport", streamable, []Observation{with(good, func(o *Observation) { o.Transport = result.TransportSSE })}, "transport sse, want streamable-http"},
		{"short listing", streamable, []Observation{with(good, func(o *Observation) { o.Prompts = 0; o.Error = "prompts/list: timeout" })}, "prompts 0, want 1 (error: prompts/list: timeout)"},
		{"open reported protected", streamable, []Observation{with(good, func(o *Observation) { o.AuthRequired = true })}, "auth.required true, want false"},
		{"not mcp", streamable, []Observation{{Status: result.StatusNotMCP}}, "status not-mcp, want mcp"},
		{"oauth", oauth, []Observation{oauthGood}, ""},
		{"oauth without metadata", oauth, []Observation{with(oauthGood, func(o *Observation) { o.AuthScheme = result.AuthBearer })}, "auth.scheme bearer, want oauth"},
		{"web", Endpoint{Kind: KindWeb, Path: "/"}, []Observation{{Status: result.StatusNotMCP, Path: "/mcp"}}, ""},
		{"closed", Endpoint{Kind: KindClosed}, []Observation{{Status: result.StatusClosed}}, ""},
		{"closed seen as timeout", Endpoint{Kind: KindClosed}, []Observation{{Status: result.StatusTimeout}}, "status timeout, want closed"},
		{"tarpit", Endpoint{Kind: KindTarpit}, []Observation{{Status: result.StatusTimeout}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.e, tc.obs)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestObserve(t *testing.T) {
	ep := &result.Endpoint{
		URL: "http://127.66.0.1:80/sse", Status: result.StatusMCP,
		MCP:     &result.MCPInfo{Transport: result.TransportSSE, Server: result.ServerInfo{Name: "x"}},
		Auth:    &result.AuthInfo{Scheme: result.AuthNone},
		Tools:   make([]result.Tool, 3),
		Listing: &result.Listing{Errors: []string{"prompts/list: boom"}},
	}
	got := Observe(ep)
	want := Observation{Path: "/sse", Status: result.StatusMCP, Transport: result.TransportSSE, AuthScheme: result.AuthNone,
		Server: "x", Tools: 3, Error: "prompts/list: boom"}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestParseStatus(t *testing.T) {
	status := []byte("Name:\tx\nVmPeak:\t  3060 kB\nVmHWM:\t  1700 kB\nVmRSS:\t 1650 kB\nBad:\t12 MB\nNeg:\t-1 kB\n")
	for _, tc := range []struct {
		key  string
		want int64
		err  string
	}{
		{"VmHWM:", 1700 << 10, ""},
		{"VmRSS:", 1650 << 10, ""},
		{"VmSwap:", 0, `no "VmSwap:" line`},
		{"Bad:", 0, "unexpected"},
		{"Neg:", 0, "bad"},
	} {
		got, err := parseStatus(status, tc.key)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want error containing %q", tc.key, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.key, got, err, tc.want)
		}
	}
}

func TestPeakRSS(t *testing.T) {
	if err := ResetPeakRSS(); err != nil {
		t.Skip(err)
	}
	before, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1
	}
	after, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	if after < before+32<<20 {
		t.Errorf("peak RSS %d after touching 64 MiB, was %d", after, before)
	}
	b = nil
	if err := ResetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	rss, err := RSS()
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Errorf("RSS %d", rss)
	}
}

func TestParseStatCPU(t *testing.T) {
	line := []byte("1234 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 100 0 0")
	got, err := parseStatCPU(line)
	if err != nil || got != 3*time.Second {
		t.Fatalf("got %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"no name here", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 5"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := ProcessCPU(-5); err == nil {
		t.Error("ProcessCPU(-5): no error")
	}
}

func TestServicesOf(t *testing.T) {
	eps := []Endpoint{{Kind: KindSSE, Addr: "127.66.0.1:8080", Path: "/sse"}, {Kind: KindWeb, Addr: "127.66.0.2:8080", Path: "/"}}
	for _, known := range []bool{false, true} {
		got, err := ServicesOf(eps, known)
		if err != nil {
			t.Fatal(err)
		}
		want := []target.Service{{Host: "127.66.0.1", Port: 8080, Source: "fleet"}, {Host: "127.66.0.2", Port: 8080, Source: "fleet"}}
		if known {
			want[0].Scheme, want[0].Paths = "http", []string{"/sse"}
			want[1].Scheme, want[1].Paths = "http", []string{"/"}
		}
		for i := range want {
			if got[i].Host != want[i].Host || got[i].Port != want[i].Port || got[i].Scheme != want[i].Scheme || !slices.Equal(got[i].Paths, want[i].Paths) {
				t.Errorf("known=%v: service %d = %+v, want %+v", known, i, got[i], want[i])
			}
		}
	}
	if _, err := ServicesOf([]Endpoint{{Addr: "127.66.0.1"}}, false); err == nil {
		t.Error("an address without a port was accepted")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	n := 0
	err := Services{{Host: "127.0.0.1", Port: 1}}.Each(ctx, func(target.Service) error { n++; return nil })
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Each on a cancelled context: %v after %d calls", err, n)
	}
}

func TestServeChildErrors(t *testing.T) {
	env := func(v string) func(string) string { return func(string) string { return v } }
	for _, tc := range []struct{ name, val, want string }{
		{"unset", "", "MCPW_FLEET is not set"},
		{"not JSON", "{", "MCPW_FLEET"},
		{"unknown field", `{"sise":3}`, "unknown field"},
		{"bad GC percent", `{"size":3,"gc_percent":-2}`, "gc_percent -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ServeChild(t.Context(), env(tc.val), strings.NewReader(""), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("bad fleet is reported in the manifest", func(t *testing.T) {
		var out strings.Builder
		err := ServeChild(t.Context(), env(`{"size":3,"first_ip":"10.1.1.1"}`), strings.NewReader(""), &out)
		if err == nil {
			t.Fatal("no error")
		}
		m, rerr := readManifest(strings.NewReader("PASS\n" + out.String()))
		if rerr != nil || !strings.Contains(m.Error, "10.1.1.1") {
			t.Fatalf("manifest %+v, %v: want the error", m, rerr)
		}
	})
}

func TestServeChildServesUntilEOF(t *testing.T) {
	needLinux(t)
	pr, pw := io.Pipe()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- ServeChild(t.Context(), func(string) string {
			return `{"size":3,"first_ip":"127.66.202.1","mix":{"web":1}}`
		}, pr, out)
	}()
	var m manifest
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if m, err = readManifest(strings.NewReader(out.String())); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no manifest")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(m.Endpoints) != 3 {
		t.Fatalf("manifest lists %d endpoints, want 3", len(m.Endpoints))
	}
	c, err := net.DialTimeout("tcp", m.Endpoints[0].Addr, time.Second)
	if err != nil {
		t.Fatalf("fleet not serving: %v", err)
	}
	c.Close()
	select {
	case err := <-done:
		t.Fatalf("ServeChild returned before EOF: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	pw.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("ServeChild did not return after EOF")
	}
}

func TestReadManifest(t *testing.T) {
	if _, err := readManifest(strings.NewReader("=== RUN x\nPASS\n")); err == nil {
		t.Error("output without a manifest was accepted")
	}
	if _, err := readManifest(strings.NewReader(manifestPrefix + "{not json\n")); err == nil {
		t.Error("a broken manifest was accepted")
	}
	m, err := readManifest(strings.NewReader("noise\n" + manifestPrefix + `{"endpoints":[{"kind":"web","addr":"127.66.0.1:80","path":"/"}]}` + "\nPASS\n"))
	if err != nil || len(m.Endpoints) != 1 || m.Endpoints[0].Kind != KindWeb {
		t.Fatalf("got %+v, %v", m, err)
	}
}

func TestSpawnFleetErrors(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh")
	}
	if _, err := SpawnFleet(t.Context(), "/nonexistent/binary", nil, FleetOptions{Size: 3}); err == nil || !strings.Contains(err.Error(), "/nonexistent/binary") {
		t.Errorf("got %v, want an error naming the binary", err)
	}
	if _, err := SpawnFleet(t.Context(), "/bin/true", nil, FleetOptions{Size: -3}); err == nil || !strings.Contains(err.Error(), "-3") {
		t.Errorf("got %v, want the bad size named", err)
	}
	// A child that exits without a manifest.
	if _, err := SpawnFleet(t.Context(), "/bin/sh", []string{"-c", "echo boom >&2"}, FleetOptions{Size: 3}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("got %v, want the child's stderr in the error", err)
	}
}

func TestTail(t *testing.T) {
	tl := &tail{max: 5}
	io.WriteString(tl, "abc")
	io.WriteString(tl, "defg")
	if got := tl.String(); got != "cdefg" {
		t.Fatalf("got %q, want cdefg", got)
	}
}

func TestPerSecond(t *testing.T) {
	if got := PerSecond(500, 250*time.Millisecond); got != 2000 {
		t.Errorf("got %v, want 2000", got)
	}
	if got := PerSecond(5, 0); got != 0 {
		t.Errorf("got %v for an empty duration, want 0", got)
	}
}

func TestCheckBaseline(t *testing.T) {
	eps := []Endpoint{{Kind: KindWeb, Addr: "a:1"}, {Kind: KindClosed, Addr: "b:1"}, {Kind: KindTarpit, Addr: "c:1"}}
	if errs := CheckBaseline(eps, []Outcome{{Status: 405}, {Failure: "refused"}, {Failure: "timeout"}}); len(errs) != 0 {
		t.Errorf("correct outcomes rejected: %v", errs)
	}
	errs := CheckBaseline(eps, []Outcome{{Failure: "timeout"}, {Status: 200}, {Failure: "refused"}})
	if len(errs) != 3 {
		t.Errorf("got %d errors for three wrong outcomes: %v", len(errs), errs)
	}
	if errs := CheckBaseline(eps, nil); len(errs) != 1 {
		t.Errorf("missing outcomes: %v", errs)
	}
}
