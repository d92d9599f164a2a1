package dashboard

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// The endpoint page of a host-audit listener shows its sampled peers; the
// page of an endpoint without a listener has no such section.
func TestEndpointPeers(t *testing.T) {
	ctx := t.Context()
	s, err := store.Open(ctx, "sqlite:"+t.TempDir()+"/peers.db", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	const u, plain = "http://127.0.0.1:9000/mcp", "http://127.0.0.1:9100/mcp"
	ep := mcpRecord(u, 9000, at, result.AuthNone)
	ep.Listen = &result.ListenInfo{Address: "0.0.0.0", Port: 9000}
	quiet := mcpRecord("http://127.0.0.1:9200/mcp", 9200, at, result.AuthNone)
	quiet.Listen = &result.ListenInfo{Address: "127.0.0.1", Port: 9200}
	run, err := s.BeginRun(ctx, "box")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompleteRun(ctx, run, []*result.Endpoint{ep, quiet, mcpRecord(plain, 9100, at, result.AuthNone)}, nil); err != nil {
		t.Fatal(err)
	}
	cs := s.(store.Connections)
	peers := []store.PeerRecord{
		{Listener: "0.0.0.0:9000", Peer: "203.0.113.7", Group: "box", URL: u, PeerPort: 40000, Class: "public"},
		{Listener: "0.0.0.0:9000", Peer: "127.0.0.1 /usr/bin/<curl>", Group: "box", URL: u, PeerPort: 50000, Class: "loopback",
			OnHost: true, PID: 200, Process: "curl http://127.0.0.1:9000/mcp"},
	}
	if err := cs.RecordPeers(ctx, at, peers); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecordPeers(ctx, at.Add(5*time.Second), peers[:1]); err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	body := get(t, h, "/endpoint?url="+url.QueryEscape(u)).Body.String()
	mustContain(t, body,
		`<h2>Peers of 0.0.0.0:9000</h2>`,
		`<tr class="peer-external"><td>203.0.113.7</td><td>public</td><td></td><td class="num">40000</td><td>2026-11-01 10:00:00Z</td><td>2026-11-01 10:00:05Z</td><td class="num">2</td></tr>`,
		// Text from the peer's process is escaped.
		`<tr><td>127.0.0.1 /usr/bin/&lt;curl&gt;</td><td>loopback</td><td>pid 200 curl http://127.0.0.1:9000/mcp</td>`,
	)
	if i, j := strings.Index(body, "203.0.113.7"), strings.Index(body, "pid 200"); i < 0 || j < i {
		t.Error("peers are not most recently seen first")
	}
	mustContain(t, get(t, h, "/endpoint?url="+url.QueryEscape("http://127.0.0.1:9200/mcp")).Body.String(),
		`<h2>Peers of 127.0.0.1:9200</h2>`, `No inbound connection sampled`)
	mustNotContain(t, get(t, h, "/endpoint?url="+url.QueryEscape(plain)).Body.String(), `id="peers"`)

	v := decode[endpointView](t, get(t, h, "/api/endpoint?url="+url.QueryEscape(u)))
	if v.Listener != "0.0.0.0:9000" || len(v.Peers) != 2 || v.Peers[0].Samples != 2 {
		t.Errorf("API endpoint listener %q peers %+v", v.Listener, v.Peers)
	}
}
