package model

import (
	"net/netip"
	"time"
)

// ConnDetail is the detail of connection.external and connection.bypass
// events: one peer of one MCP listener of this machine.
type ConnDetail struct {
	// Listener is the bound address of the listener ("0.0.0.0:9000").
	Listener string `json:"listener"`
	// Peer is the peer's address (without port), PeerPort the port of the
	// connection that raised the event, PeerClass its address class.
	Peer      string `json:"peer"`
	PeerPort  int    `json:"peer_port"`
	PeerClass string `json:"peer_class"`
	// OnHost is true when the peer is this machine; PID and Process name
	// its process when known.
	OnHost  bool   `json:"on_host,omitempty"`
	PID     int    `json:"pid,omitempty"`
	Process string `json:"process,omitempty"`
	// Gated is true when a gate fronts the listener.
	Gated bool `json:"gated,omitempty"`
	// Rule is the rule id the connection breaks (MCPW-032..034), "" when
	// none applies; Severity its severity name.
	Rule     string `json:"rule,omitempty"`
	Severity string `json:"severity"`
	// Connections counts the peer's connections in the sample.
	Connections int `json:"connections"`
}

// ConnKey is the dedup key of a connection event: one per listener and
// peer (the peer address, plus the process for a peer on this machine),
// whatever the sample, so that a peer raises its event once.
func ConnKey(t Type, listener, peer string) string {
	return Key(t, listener, peer, "", "")
}

// IndexDetail is the detail of an index.new event: an endpoint inside the
// operator's targets that an internet scanning database lists.
type IndexDetail struct {
	Source    string `json:"source"`
	IP        string `json:"ip"`
	Port      int    `json:"port"`
	Transport string `json:"transport"`
	// Class is the classification of what the index saw (likely-mcp,
	// possibly-mcp) and Signals the evidence for it.
	Class   string   `json:"class"`
	Signals []string `json:"signals,omitempty"`
	// Saw sums up the indexed banner; Hostnames are the names the index
	// gives the address.
	Saw       string   `json:"saw,omitempty"`
	Hostnames []string `json:"hostnames,omitempty"`
	// FirstSeen and LastSeen bound the index's observations (zero when
	// the index gives no time).
	FirstSeen time.Time `json:"first_seen,omitzero"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Severity is high for likely-mcp, medium for possibly-mcp.
	Severity string `json:"severity"`
}

// IndexKey is the dedup key of index.new: one per index, address and port,
// so that an endpoint raises the event once when it first appears in an
// index.
func IndexKey(source string, ip netip.Addr, port int) string {
	return Key(IndexNew, source, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String(), "", "")
}
