package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// PeerRecord is one peer address of one listener as the connection
// sampler of watch saw it, merged over every sample.
type PeerRecord struct {
	// Listener is the bound address of the listener ("127.0.0.1:8000",
	// "[::]:3000"); Peer the peer's address without port.
	Listener string `json:"listener"`
	Peer     string `json:"peer"`
	// Group is the host-audit group that sampled it; URL the endpoint of
	// the listener ("" when the audit found none).
	Group string `json:"group"`
	URL   string `json:"url,omitempty"`
	// PeerPort is the peer's port in the last sample that saw it.
	PeerPort int `json:"peer_port"`
	// Class is the peer's address class (host.PeerClass).
	Class string `json:"class"`
	// OnHost is true for a peer on this machine; Gate when that peer is a
	// running mcpwarden gate; Gated when a gate fronts the listener.
	OnHost bool `json:"on_host"`
	Gate   bool `json:"gate,omitempty"`
	Gated  bool `json:"gated,omitempty"`
	// PID and Process name the process of an on-host peer (0 and "" when
	// not known).
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	// FirstSeen and LastSeen bound the samples that saw the peer; Samples
	// counts them. RecordPeers sets all three.
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Samples   int64     `json:"samples"`
}

// Connections keeps the peers of the listeners of host-audit groups. Both
// stores implement it.
type Connections interface {
	// RecordPeers merges one sample taken at at: each peer is inserted
	// with first_seen at, or has its last_seen moved to at (never back),
	// its other fields replaced and its sample count raised. Peers are
	// unique by Listener and Peer; a repeated pair in peers is an error.
	RecordPeers(ctx context.Context, at time.Time, peers []PeerRecord) error
	// Peers returns the peers of a listener, most recently seen first;
	// limit <= 0 means all.
	Peers(ctx context.Context, listener string, limit int) ([]PeerRecord, error)
	// PrunePeers deletes the peers last seen before the given time and
	// returns how many it deleted.
	PrunePeers(ctx context.Context, before time.Time) (int64, error)
}

var (
	_ Connections = (*SQLite)(nil)
	_ Connections = (*Postgres)(nil)
)

// maxPeerField bounds the text fields of a peer row.
const maxPeerField = 2000

func (s *sqlStore) RecordPeers(ctx context.Context, at time.Time, peers []PeerRecord) error {
	if at.IsZero() {
		return fmt.Errorf("store: record peers: no sample time")
	}
	seen := make(map[[2]string]bool, len(peers))
	for i, p := range peers {
		switch {
		case p.Listener == "" || p.Peer == "":
			return fmt.Errorf("store: peer %d: listener and peer address are required", i)
		case p.Group == "":
			return fmt.Errorf("store: peer %d (%s on %s): no group", i, p.Peer, p.Listener)
		case seen[[2]string{p.Listener, p.Peer}]:
			return fmt.Errorf("store: peer %s on %s listed twice", p.Peer, p.Listener)
		}
		seen[[2]string{p.Listener, p.Peer}] = true
	}
	// One order for every writer: concurrent samples lock rows alike.
	sorted := slices.Clone(peers)
	slices.SortFunc(sorted, func(a, b PeerRecord) int {
		if c := strings.Compare(a.Listener, b.Listener); c != 0 {
			return c
		}
		return strings.Compare(a.Peer, b.Peer)
	})
	ts := at.UnixNano()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, p := range sorted {
			_, err := tx.ExecContext(ctx, s.q(`INSERT INTO peers
	(listener, peer, grp, url, peer_port, class, on_host, gate, gated, pid, process, first_seen, last_seen, samples)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (listener, peer) DO UPDATE SET
	grp = excluded.grp, url = excluded.url, peer_port = excluded.peer_port, class = excluded.class,
	on_host = excluded.on_host, gate = excluded.gate, gated = excluded.gated, pid = excluded.pid,
	process = excluded.process, samples = peers.samples + 1,
	first_seen = CASE WHEN excluded.first_seen < peers.first_seen THEN excluded.first_seen ELSE peers.first_seen END,
	last_seen = CASE WHEN excluded.last_seen > peers.last_seen THEN excluded.last_seen ELSE peers.last_seen END`),
				clipPeer(p.Listener), clipPeer(p.Peer), clipPeer(p.Group), clipPeer(p.URL), p.PeerPort, clipPeer(p.Class), b2i(p.OnHost),
				b2i(p.Gate), b2i(p.Gated), p.PID, clipPeer(p.Process), ts, ts)
			if err != nil {
				return fmt.Errorf("peer %s on %s: %w", p.Peer, p.Listener, err)
			}
		}
		return nil
	})
}

// clipPeer bounds a text field, keeping valid UTF-8.
func clipPeer(v string) string {
	if len(v) <= maxPeerField {
		return v
	}
	return strings.ToValidUTF8(v[:maxPeerField], "")
}

func (s *sqlStore) Peers(ctx context.Context, listener string, limit int) ([]PeerRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT listener, peer, grp, url, peer_port, class, on_host, gate, gated, pid,
	process, first_seen, last_seen, samples
FROM peers WHERE listener = ? ORDER BY last_seen DESC, peer LIMIT ?`), listener, sqlLimit(limit))
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []PeerRecord
	for rows.Next() {
		var p PeerRecord
		var onHost, gate, gated int
		var first, last int64
		if err := rows.Scan(&p.Listener, &p.Peer, &p.Group, &p.URL, &p.PeerPort, &p.Class, &onHost, &gate, &gated, &p.PID,
			&p.Process, &first, &last, &p.Samples); err != nil {
			return nil, s.wrap(err)
		}
		p.OnHost, p.Gate, p.Gated = onHost != 0, gate != 0, gated != 0
		p.FirstSeen, p.LastSeen = fromNanos(first), fromNanos(last)
		out = append(out, p)
	}
	return out, s.wrap(rows.Err())
}

func (s *sqlStore) PrunePeers(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM peers WHERE last_seen < ?`), before.UnixNano())
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap(err)
}
