package scan_test

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/probe"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
)

// hostileOpts are short per-request caps, so that the timing kinds end
// quickly; the scan as a whole runs under scanAll's 30 s deadline and must
// finish well inside it (never interrupted). The listing caps are below the
// defaults so that the risk assessment of every listed tool stays cheap
// under -race.
func hostileOpts() scan.Options {
	return scan.Options{Probe: probe.Options{
		ConnectTimeout: time.Second,
		RequestTimeout: time.Second,
		ServiceTimeout: 5 * time.Second,
		MaxBodyBytes:   1 << 20,
		MaxPages:       hostileMaxPages,
		MaxItems:       hostileMaxItems,
	}}
}

const (
	hostileMaxPages = 10
	hostileMaxItems = 1000
)

func startHostile(t *testing.T, kind mcptest.Hostile) *mcptest.HostileServer {
	t.Helper()
	h, err := mcptest.StartHostile(kind, nextIP()+":0")
	if err != nil {
		t.Fatalf("StartHostile(%s): %v", kind, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("close %s: %v", kind, err)
		}
	})
	return h
}

func toolNames(ep *result.Endpoint) []string {
	var out []string
	for _, x := range ep.Tools {
		out = append(out, x.Name)
	}
	return out
}

func hasFinding(ep *result.Endpoint, rule string) bool {
	return slices.ContainsFunc(ep.Findings, func(f finding.Finding) bool { return f.Rule == rule })
}

// seqTools reports whether names are tool_000000, tool_000001, ... in order.
func seqTools(names []string) bool {
	for i, n := range names {
		if n != fmt.Sprintf("tool_%06d", i) {
			return false
		}
	}
	return true
}

// TestHostile scans every hostile fake with short timeouts: each scan ends
// with a clear verdict, well inside its deadlines, and nothing follows the
// server anywhere it should not go.
func TestHostile(t *testing.T) {
	t.Parallel()
	checks := map[mcptest.Hostile]func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint){
		mcptest.Tarpit: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// Nothing answers: the port is given up after the first
			// path instead of waiting once per path.
			if ep.Status != result.StatusTimeout || ep.Error != "no answer in time" || h.Requests() != 1 {
				t.Errorf("status %s %q after %d connections; want timeout after 1", ep.Status, ep.Error, h.Requests())
			}
		},
		mcptest.SlowDrip: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			if ep.Status != result.StatusTimeout || ep.Error != "no answer in time" || h.Requests() != 1 {
				t.Errorf("status %s %q after %d requests; want timeout after 1", ep.Status, ep.Error, h.Requests())
			}
		},
		mcptest.HeaderDrip: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// The server writes its first byte on accept: when it
			// arrives before the request is sent, net/http drops the
			// connection at once; otherwise the headers never end.
			timeout := ep.Status == result.StatusTimeout && ep.Error == "no answer in time"
			early := ep.Status == result.StatusError && ep.Error == "the server sent data before it received a request"
			if !timeout && !early || h.Requests() != 1 {
				t.Errorf("status %s %q after %d connections; want timeout (or early data) after 1", ep.Status, ep.Error, h.Requests())
			}
		},
		mcptest.EndlessSSE: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// Streams that never carry a reply nor an endpoint event:
			// something answers, but not MCP, and the service deadline
			// ends the probing.
			if ep.Status != result.StatusNotMCP || ep.HTTP == nil || ep.HTTP.Status != 200 || ep.HTTP.ContentType != "text/event-stream" || ep.MCP != nil {
				t.Errorf("status %s http %+v mcp %+v; want not-mcp after a 200 text/event-stream", ep.Status, ep.HTTP, ep.MCP)
			}
		},
		mcptest.HugeBody: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			if ep.Status != result.StatusError || !strings.HasPrefix(ep.Error, "response too large") || !strings.Contains(ep.Error, "more than 1048576 bytes") {
				t.Errorf("status %s %q; want error: response too large", ep.Status, ep.Error)
			}
		},
		mcptest.GzipBomb: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// Never inflated: an unrequested encoding is an error.
			want := "the server sent an encoded body that was not asked for (Content-Encoding: gzip); body not decoded"
			if ep.Status != result.StatusError || ep.Error != want {
				t.Errorf("status %s %q; want error %q", ep.Status, ep.Error, want)
			}
		},
		mcptest.InvalidJSON: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			if ep.Status != result.StatusNotMCP || ep.HTTP == nil || ep.HTTP.Status != 200 || ep.HTTP.ContentType != "application/json" || ep.MCP != nil {
				t.Errorf("status %s http %+v mcp %+v; want not-mcp after a 200 application/json", ep.Status, ep.HTTP, ep.MCP)
			}
		},
		mcptest.InvalidUTF8: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// scanAll has checked that every string is valid UTF-8; the
			// text keeps what it said, bad bytes replaced.
			if ep.Status != result.StatusMCP || ep.MCP.Server.Version != "0.0.1" || ep.MCP.ProtocolVersion != mcptest.HostileProtocolVersion {
				t.Fatalf("status %s mcp %+v", ep.Status, ep.MCP)
			}
			wantName := "evil\uFFFD\x1b[2J\x1b[31mpwned\x1b[0m\a\uFFFD(\u009b31m\u202eexe.txt"
			if ep.MCP.Server.Name != wantName {
				t.Errorf("server name %q, want %q", ep.MCP.Server.Name, wantName)
			}
			if got, want := toolNames(ep), []string{"read_file", "ls\x1b[0m\uFFFD"}; !slices.Equal(got, want) {
				t.Errorf("tools %q, want %q", got, want)
			}
			if d := ep.Tools[0].Description; !strings.HasPrefix(d, "Reads files.\uFFFD \x1b[8mhidden") || !strings.HasSuffix(d, "\x1b]8;;\a\uFFFD") {
				t.Errorf("description %q", d)
			}
			if !strings.Contains(ep.MCP.Instructions, "ignore previous instructions") {
				t.Errorf("instructions %q", ep.MCP.Instructions)
			}
		},
		mcptest.RedirectLoop: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// One request, MaxRedirects hops, then a verdict.
			if ep.Status != result.StatusError || ep.Error != "redirect limit reached after 3" || h.Requests() != 4 {
				t.Errorf("status %s %q after %d requests; want the redirect limit after 4", ep.Status, ep.Error, h.Requests())
			}
		},
		mcptest.RedirectOffsite: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			want := "refused cross-origin redirect to " + mcptest.HostileOffsiteOrigin + "/mcp"
			if ep.Status != result.StatusError || ep.Error != want || h.Requests() != 1 {
				t.Errorf("status %s %q after %d requests; want %q", ep.Status, ep.Error, h.Requests(), want)
			}
		},
		mcptest.StuckCursor: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			if ep.Status != result.StatusMCP || !slices.Equal(toolNames(ep), []string{"stuck"}) {
				t.Fatalf("status %s tools %q; want the one tool once", ep.Status, toolNames(ep))
			}
			want := []string{"tools/list: the cursor did not advance", "tools/list: 1 repeated tool name dropped"}
			if ep.Listing == nil || !ep.Listing.Truncated || ep.Listing.Pages != 2 || !slices.Equal(ep.Listing.Errors, want) {
				t.Errorf("listing %+v; want truncated after 2 pages with %q", ep.Listing, want)
			}
			if !hasFinding(ep, "MCPW-006") {
				t.Errorf("findings %+v lack MCPW-006", ep.Findings)
			}
		},
		mcptest.ManyTools: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// The one 12 MB reply is cut at the body cap; the items that
			// arrived whole are kept up to the item cap.
			names := toolNames(ep)
			if ep.Status != result.StatusMCP || len(names) != hostileMaxItems || !seqTools(names) {
				t.Fatalf("status %s, %d tools; want tool_000000..tool_%06d", ep.Status, len(names), hostileMaxItems-1)
			}
			want := []string{fmt.Sprintf("tools/list: stopped at %d items (the response was also over 1048576 bytes)", hostileMaxItems)}
			if ep.Listing == nil || !ep.Listing.Truncated || !slices.Equal(ep.Listing.Errors, want) {
				t.Errorf("listing %+v; want truncated with %q", ep.Listing, want)
			}
			if !hasFinding(ep, "MCPW-006") {
				t.Errorf("findings %+v lack MCPW-006", ep.Findings)
			}
		},
		mcptest.ManyToolsPaged: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			names := toolNames(ep)
			if ep.Status != result.StatusMCP || len(names) != hostileMaxPages*mcptest.HostileToolsPageSize || !seqTools(names) {
				t.Fatalf("status %s, %d tools; want the first %d pages", ep.Status, len(names), hostileMaxPages)
			}
			want := []string{fmt.Sprintf("tools/list: stopped after %d pages", hostileMaxPages)}
			if ep.Listing == nil || !ep.Listing.Truncated || ep.Listing.Pages != hostileMaxPages || !slices.Equal(ep.Listing.Errors, want) {
				t.Errorf("listing %+v; want truncated after %d pages with %q", ep.Listing, hostileMaxPages, want)
			}
			if !hasFinding(ep, "MCPW-006") {
				t.Errorf("findings %+v lack MCPW-006", ep.Findings)
			}
		},
		mcptest.LyingSSE: func(t *testing.T, h *mcptest.HostileServer, ep *result.Endpoint) {
			// The endpoint event is the only MCP sign; its target on
			// another origin is reported, never posted to.
			want := "the endpoint event points to another origin (" + mcptest.HostileOffsiteOrigin + "/message); not followed"
			if ep.Status != result.StatusMCP || ep.Error != want || ep.MCP.Transport != result.TransportSSE ||
				ep.MCP.Confidence != "likely" || len(ep.Tools) != 0 {
				t.Errorf("status %s %q mcp %+v; want a likely SSE endpoint with %q", ep.Status, ep.Error, ep.MCP, want)
			}
		},
	}
	for _, kind := range mcptest.HostileKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			check, ok := checks[kind]
			if !ok {
				t.Fatalf("no check for hostile kind %s", kind)
			}
			h := startHostile(t, kind)
			svc := service(t, h.Addr)
			eps, _ := scanAll(t, hostileOpts(), svc)
			if len(eps) != 1 {
				t.Fatalf("%d records, want 1: %+v", len(eps), eps)
			}
			ep := eps[0]
			if ep.URL != h.URL+"/mcp" || ep.Host != svc.Host || ep.Port != svc.Port {
				t.Errorf("record for %s (%s:%d), want %s/mcp", ep.URL, ep.Host, ep.Port, h.URL)
			}
			check(t, h, ep)
		})
	}
}

// TestHostileManyToolsBodyCap raises the item cap so that the body cap is
// what stops the one huge tools/list reply: the tools that arrived whole
// are kept, in order.
func TestHostileManyToolsBodyCap(t *testing.T) {
	t.Parallel()
	h := startHostile(t, mcptest.ManyTools)
	opts := hostileOpts()
	opts.Probe.MaxItems = mcptest.HostileManyToolsCount
	opts.Probe.MaxBodyBytes = 64 << 10
	opts.Probe.Paths = []string{"/mcp"}
	eps, _ := scanAll(t, opts, service(t, h.Addr))
	if len(eps) != 1 {
		t.Fatalf("%d records", len(eps))
	}
	ep := eps[0]
	names := toolNames(ep)
	// Some 115 bytes a tool: about 570 fit in 64 KiB.
	if len(names) < 400 || len(names) > 700 || !seqTools(names) {
		t.Fatalf("%d tools (first %q); want the hundreds that fit in 64 KiB, in order", len(names), names[:min(3, len(names))])
	}
	want := fmt.Sprintf("tools/list: response over 65536 bytes; kept the %d complete items before the cap", len(names))
	if ep.Listing == nil || !ep.Listing.Truncated || !slices.Equal(ep.Listing.Errors, []string{want}) {
		t.Errorf("listing %+v; want truncated with %q", ep.Listing, want)
	}
}

// TestHostileMemory measures the heap while the scanner reads the
// oversized replies: a body read whole, or a gzip bomb inflated, would
// take a gigabyte; capped reads stay within a few MiB. Not parallel, so
// that nothing else allocates meanwhile.
func TestHostileMemory(t *testing.T) {
	const bound = 64 << 20
	for _, kind := range []mcptest.Hostile{mcptest.HugeBody, mcptest.GzipBomb, mcptest.ManyTools} {
		t.Run(string(kind), func(t *testing.T) {
			h := startHostile(t, kind)
			svc := service(t, h.Addr)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)

			// Sample the heap while the scan runs.
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				for {
					var m runtime.MemStats
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			})
			opts := hostileOpts()
			// What is measured is the body read; few items keep the
			// risk assessment out of the numbers.
			opts.Probe.MaxItems = 100
			eps, _ := scanAll(t, opts, svc)
			close(stop)
			wg.Wait()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)

			if len(eps) != 1 {
				t.Fatalf("%d records", len(eps))
			}
			grown := int64(peak.Load()) - int64(before.HeapInuse)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s: peak heap in use +%d KiB, allocated %d KiB in all", kind, grown>>10, allocated>>10)
			if grown > bound {
				t.Errorf("heap in use grew by %d MiB during the scan, want under %d MiB", grown>>20, bound>>20)
			}
			// Everything allocated over the whole scan stays far below
			// the gigabyte a full read takes. Not under -race: its
			// sync.Pool drops what regexp caches, and the risk
			// assessment's patterns then allocate per match.
			if !raceEnabled && allocated > 4*bound {
				t.Errorf("the scan allocated %d MiB in all, want under %d MiB", allocated>>20, 4*bound>>20)
			}
		})
	}
}
