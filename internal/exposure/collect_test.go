package exposure

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

var (
	t1 = time.Date(2025, 9, 1, 10, 0, 0, 0, time.UTC)
	t2 = time.Date(2025, 10, 14, 6, 12, 44, 0, time.UTC)
	t3 = time.Date(2025, 11, 20, 8, 0, 0, 0, time.UTC)
)

func sseService(src Source, ip string, seen time.Time) *Service {
	return &Service{Source: src, IP: netip.MustParseAddr(ip), Port: 8000, Transport: "tcp", Seen: seen,
		HTTP: &HTTPBanner{Status: 200, Path: "/sse", Server: "uvicorn", Headers: hdr("Content-Type", "text/event-stream"),
			Body: "event: endpoint\r\ndata: /messages/?session_id=1\r\n\r\n"}}
}

func TestCollector(t *testing.T) {
	sc, err := ParseScope([]string{"198.51.100.0/24", "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCollector(sc)
	if !c.Add(sseService(SourceShodan, "198.51.100.7", t2)) {
		t.Fatal("in-scope service dropped")
	}
	// The same service seen earlier by Censys, as a plain web page: merged.
	older := &Service{Source: SourceCensys, IP: netip.MustParseAddr("198.51.100.7"), Port: 8000, Transport: "tcp", Seen: t1,
		HTTP: &HTTPBanner{Status: 404, Path: "/"}}
	c.Add(older)
	// Later, not MCP any more: class stays likely, LastSeen moves, LastSeenMCP not.
	later := &Service{Source: SourceShodan, IP: netip.MustParseAddr("198.51.100.7"), Port: 8000, Transport: "tcp", Seen: t3,
		HTTP: &HTTPBanner{Status: 404, Path: "/"}}
	c.Add(later)
	if c.Add(sseService(SourceShodan, "192.0.2.10", t2)) {
		t.Error("out-of-scope service kept")
	}
	named := sseService(SourceCensys, "192.0.2.11", t2)
	named.Hostnames = []string{"mcp.example.com"}
	if !c.Add(named) {
		t.Error("service under the operator's domain dropped")
	}
	if c.Add(&Service{Source: SourceShodan}) {
		t.Error("invalid service kept")
	}
	if n := c.OutOfScope(SourceShodan); n != 1 {
		t.Errorf("out of scope %d, want 1", n)
	}
	got := c.Indexed()
	if len(got) != 2 {
		t.Fatalf("%d indexed, want 2", len(got))
	}
	ix := got[1]
	if ix.Service.IP.String() != "198.51.100.7" {
		ix = got[0]
	}
	if ix.Verdict.Class != LikelyMCP || !ix.FirstSeen.Equal(t1) || !ix.LastSeen.Equal(t3) || !ix.LastSeenMCP.Equal(t2) {
		t.Errorf("merged %+v", ix)
	}
	if !slices.Equal(ix.Sources, []Source{SourceCensys, SourceShodan}) {
		t.Errorf("sources %q", ix.Sources)
	}
	if tg := ix.Target(); tg.Host != "198.51.100.7" || tg.Port != 8000 || tg.Scheme != "http" || tg.Paths != nil {
		t.Errorf("target %+v", tg)
	}
	if u := ix.URL(); u != "http://198.51.100.7:8000/sse" {
		t.Errorf("URL %q", u)
	}
	if s := ix.Saw(); s != `HTTP 200 text/event-stream at /sse, server "uvicorn"` {
		t.Errorf("Saw %q", s)
	}
	// Matched by name: the verification goes to the operator's name.
	for _, x := range got {
		if x.Service.IP.String() == "192.0.2.11" && x.Host() != "mcp.example.com" {
			t.Errorf("host %q, want mcp.example.com", x.Host())
		}
	}
}

func TestTargetPaths(t *testing.T) {
	sc, _ := ParseScope([]string{"198.51.100.0/24"})
	c := NewCollector(sc)
	s := sseService(SourceShodan, "198.51.100.8", t2)
	s.HTTP.Path = "/messages/"
	s.TLS = true
	c.Add(s)
	tg := c.Indexed()[0].Target()
	if tg.Scheme != "https" || len(tg.Paths) == 0 || tg.Paths[0] != "/messages/" {
		t.Errorf("target %+v", tg)
	}
}

func TestVerdicts(t *testing.T) {
	sc, _ := ParseScope([]string{"198.51.100.0/24"})
	c := NewCollector(sc)
	c.Add(sseService(SourceShodan, "198.51.100.7", t2))
	ix := c.Indexed()[0]
	now := time.Now()

	un := ix.Unverified(now)
	if un.Status != result.StatusNotProbed || un.Exposure == nil || un.Exposure.Now != "" || len(un.Findings) != 1 ||
		un.Findings[0].Rule != rules.IndexedUnverified || un.Findings[0].Severity.String() != "medium" {
		t.Fatalf("unverified %+v", un)
	}
	if !strings.Contains(un.Findings[0].Evidence, "2025-10-14") || !strings.Contains(un.Findings[0].Evidence, "sse endpoint event") {
		t.Errorf("evidence %q", un.Findings[0].Evidence)
	}

	tests := []struct {
		name string
		eps  []*result.Endpoint
		now  Now
		rule string
	}{
		{"open", []*result.Endpoint{
			{Status: result.StatusNotMCP, URL: "http://198.51.100.7:8000/"},
			{Status: result.StatusMCP, URL: "http://198.51.100.7:8000/sse", Auth: &result.AuthInfo{Scheme: result.AuthNone}},
		}, NowOpen, rules.IndexedStillOpen},
		{"protected", []*result.Endpoint{
			{Status: result.StatusMCP, Auth: &result.AuthInfo{Required: true, Scheme: result.AuthOAuth}},
		}, NowProtected, rules.IndexedNowClosed},
		{"gone", []*result.Endpoint{{Status: result.StatusClosed, Error: "connection refused"}}, NowGone, rules.IndexedNowClosed},
		{"not mcp", []*result.Endpoint{{Status: result.StatusNotMCP}}, NowNotMCP, rules.IndexedNowClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := ix.Verified(tt.eps, now)
			if len(out) != len(tt.eps) {
				t.Fatalf("%d records", len(out))
			}
			var fired []string
			for _, ep := range out {
				if ep.Exposure == nil || ep.Exposure.Now != string(tt.now) {
					t.Errorf("exposure %+v", ep.Exposure)
				}
				for _, f := range ep.Findings {
					fired = append(fired, f.Rule)
					if f.Rule == rules.IndexedNowClosed && !strings.Contains(f.Evidence, "last seen as MCP on 2025-10-14") {
						t.Errorf("evidence %q", f.Evidence)
					}
				}
			}
			if !slices.Equal(fired, []string{tt.rule}) {
				t.Errorf("findings %q, want [%s]", fired, tt.rule)
			}
		})
	}
	// A possibly-MCP banner: low when unverified; nothing when it is gone now.
	c.Add(&Service{Source: SourceCensys, IP: netip.MustParseAddr("198.51.100.8"), Port: 8080, Transport: "tcp", Seen: t1,
		HTTP: &HTTPBanner{Status: 405, Path: "/mcp"}})
	var maybe *Indexed
	for _, x := range c.Indexed() {
		if x.Service.Port == 8080 {
			maybe = x
		}
	}
	if ep := maybe.Unverified(now); len(ep.Findings) != 1 || ep.Findings[0].Severity.String() != "low" || ep.Exposure.Class != "possibly-mcp" {
		t.Errorf("possibly-mcp unverified: %+v", ep.Findings)
	}
	if out := maybe.Verified([]*result.Endpoint{{Status: result.StatusNotMCP}}, now); len(out[0].Findings) != 1 || out[0].Findings[0].Rule != rules.IndexedNowClosed {
		t.Errorf("possibly-mcp now not-mcp: %+v", out[0].Findings)
	}
	if out := ix.Verified(nil, now); len(out) != 1 || out[0].Status != result.StatusNotProbed {
		t.Errorf("no scan record: %+v", out)
	}
}
