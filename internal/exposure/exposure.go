// Package exposure answers "what do internet scanning databases already
// know about our MCP servers?". It turns the operator's targets (the scan
// target syntax: addresses, CIDRs, ranges, host names, URLs) into a Scope
// and into index queries, classifies each indexed service from the banner
// the index recorded (likely-mcp, possibly-mcp, not-mcp), drops anything
// outside the operator's own targets, and joins the index's view with what
// a fresh scan sees now into endpoint records with findings.
//
// The index clients live in the sub-packages shodan and censys; feed holds
// what both share (rate-limited, size-capped HTTP with bounded retries, and
// streamed readers of export files). This package does no I/O.
package exposure

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Source names an index.
type Source string

// The indexes.
const (
	SourceShodan Source = "shodan"
	SourceCensys Source = "censys"
)

// Service is one service as an index recorded it: an address, a port and the
// banner the index's crawler saw. Every field comes from untrusted data.
type Service struct {
	Source Source
	IP     netip.Addr
	Port   int
	// Transport is "tcp" or "udp" (lower case).
	Transport string
	// Hostnames are the names the index associates with the address
	// (reverse DNS, certificate names, forward DNS), lower case.
	Hostnames []string
	// Seen is when the index observed the service; zero when unknown.
	Seen time.Time
	// TLS is true when the index saw TLS on the port.
	TLS bool
	// HTTP is the HTTP response the index recorded; nil for non-HTTP
	// services.
	HTTP *HTTPBanner
	// Banner is the raw banner text (capped), for non-HTTP services or as
	// the index stored it.
	Banner string
	// Product is the software the index identified ("uvicorn"), if any.
	Product string
	// QueryMatch names the MCP signal query that made the index return
	// this service when the record itself holds no banner (a Censys search
	// hit that was not looked up); empty otherwise.
	QueryMatch string
}

// HTTPBanner is the HTTP part of an indexed service.
type HTTPBanner struct {
	Status int
	// Path is the path the crawler requested or was redirected to ("/"
	// when unknown).
	Path    string
	Title   string
	Server  string
	Headers http.Header
	// Body is the start of the response body as the index stored it.
	Body string
}

// Key identifies the service independently of the index: "ip:port/tcp".
func (s *Service) Key() string {
	return netip.AddrPortFrom(s.IP, uint16(s.Port)).String() + "/" + s.Transport
}

// Validate reports what makes s unusable (no address, bad port), so that
// readers can skip such records and count them.
func (s *Service) Validate() error {
	switch {
	case !s.IP.IsValid():
		return fmt.Errorf("record without a valid IP address")
	case s.Port < 1 || s.Port > 65535:
		return fmt.Errorf("record for %s with invalid port %s", s.IP, strconv.Itoa(s.Port))
	}
	return nil
}

// Counts are the per-index tallies a run reports.
type Counts struct {
	// Records is the number of well-formed service records received.
	Records int
	// Malformed counts records skipped because they could not be parsed.
	Malformed int
	// OutOfScope counts services dropped because they lie outside the
	// operator's targets.
	OutOfScope int
	// Queries counts requests sent to the index; Credits the query credits
	// they were estimated to cost.
	Queries int
	Credits int
}

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Records += o.Records
	c.Malformed += o.Malformed
	c.OutOfScope += o.OutOfScope
	c.Queries += o.Queries
	c.Credits += o.Credits
}
