package store

import (
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/store/pgtest"
)

func TestSQLitePeers(t *testing.T) {
	testPeers(t, sqliteBackend())
}

func TestPostgresPeers(t *testing.T) {
	srv := pgtest.Start(t)
	testPeers(t, backend{name: "postgres", newAddr: func(t *testing.T) string { return srv.NewDB(t) }})
}

func connsOf(t *testing.T, s Store) Connections {
	t.Helper()
	if ss, ok := s.(*suiteStore); ok {
		s = ss.Store
	}
	c, ok := s.(Connections)
	if !ok {
		t.Fatalf("%T is not a Connections store", s)
	}
	return c
}

func testPeers(t *testing.T, b backend) {
	t.Run("FirstAndLastSeen", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		c := connsOf(t, s)
		t0 := s.clock.Now()
		const l = "0.0.0.0:9000"
		ext := PeerRecord{Listener: l, Peer: "203.0.113.7", Group: "host", URL: "http://127.0.0.1:9000/mcp", PeerPort: 40000, Class: "public"}
		loc := PeerRecord{Listener: l, Peer: "127.0.0.1", Group: "host", URL: "http://127.0.0.1:9000/mcp", PeerPort: 50000,
			Class: "loopback", OnHost: true, PID: 200, Process: "curl http://127.0.0.1:9000/mcp"}
		other := PeerRecord{Listener: "127.0.0.1:8000", Peer: "127.0.0.1", Group: "host", PeerPort: 1234, Class: "loopback", OnHost: true, Gated: true, Gate: true}
		if err := c.RecordPeers(ctx, t0, []PeerRecord{ext, loc, other}); err != nil {
			t.Fatal(err)
		}
		t1 := t0.Add(5 * time.Second)
		ext.PeerPort = 40001
		if err := c.RecordPeers(ctx, t1, []PeerRecord{ext}); err != nil {
			t.Fatal(err)
		}
		// A late sample never moves last_seen back.
		if err := c.RecordPeers(ctx, t0.Add(time.Second), []PeerRecord{ext}); err != nil {
			t.Fatal(err)
		}
		got, err := c.Peers(ctx, l, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("peers of %s = %+v", l, got)
		}
		e, lo := got[0], got[1]
		if e.Peer != "203.0.113.7" || !e.FirstSeen.Equal(t0) || !e.LastSeen.Equal(t1) || e.Samples != 3 || e.PeerPort != 40001 ||
			e.Class != "public" || e.OnHost || e.Group != "host" || e.URL != ext.URL {
			t.Errorf("external peer = %+v", e)
		}
		if lo.Peer != "127.0.0.1" || !lo.LastSeen.Equal(t0) || lo.Samples != 1 || !lo.OnHost || lo.PID != 200 || !strings.HasPrefix(lo.Process, "curl") {
			t.Errorf("local peer = %+v", lo)
		}
		if g, _ := c.Peers(ctx, "127.0.0.1:8000", 0); len(g) != 1 || !g[0].Gated || !g[0].Gate {
			t.Errorf("peers of the gated listener = %+v", g)
		}
		if g, _ := c.Peers(ctx, l, 1); len(g) != 1 || g[0].Peer != "203.0.113.7" {
			t.Errorf("limit 1 = %+v", g)
		}
		n, err := c.PrunePeers(ctx, t0.Add(time.Second))
		if err != nil || n != 2 {
			t.Fatalf("PrunePeers = %d, %v; want 2", n, err)
		}
		if g, _ := c.Peers(ctx, l, 0); len(g) != 1 || g[0].Peer != "203.0.113.7" {
			t.Errorf("after prune = %+v", g)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		c := connsOf(t, s)
		now := s.clock.Now()
		p := PeerRecord{Listener: "127.0.0.1:1", Peer: "10.0.0.1", Group: "g", Class: "private"}
		for name, tc := range map[string]struct {
			at    time.Time
			peers []PeerRecord
			want  string
		}{
			"no time":     {time.Time{}, []PeerRecord{p}, "no sample time"},
			"no listener": {now, []PeerRecord{{Peer: "10.0.0.1", Group: "g"}}, "listener and peer"},
			"no group":    {now, []PeerRecord{{Listener: "127.0.0.1:1", Peer: "10.0.0.1"}}, "no group"},
			"twice":       {now, []PeerRecord{p, p}, "listed twice"},
		} {
			t.Run(name, func(t *testing.T) {
				err := c.RecordPeers(ctx, tc.at, tc.peers)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("RecordPeers = %v, want an error with %q", err, tc.want)
				}
			})
		}
		if g, err := c.Peers(ctx, "127.0.0.1:1", 0); err != nil || len(g) != 0 {
			t.Errorf("bad input stored %+v (%v)", g, err)
		}
	})
}
