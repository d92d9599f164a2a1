package exposure

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Indexed is one service inside the operator's scope, merged over every
// index and record that listed it.
type Indexed struct {
	// Service is the most telling record: the highest class, then the most
	// recent.
	Service *Service
	Verdict Verdict
	Match   Match
	Sources []Source
	// FirstSeen and LastSeen bound the observations of every record;
	// LastSeenMCP is the latest observation classified likely or possibly
	// MCP (zero when none was).
	FirstSeen, LastSeen, LastSeenMCP time.Time
}

// Collector keeps the services of a scope: each added service is checked
// against the scope (outside: dropped and counted, never kept), classified
// and merged with earlier records of the same address, port and transport.
// It is safe for concurrent use.
type Collector struct {
	scope *Scope
	mu    sync.Mutex
	m     map[string]*Indexed
	out   map[Source]int
}

// NewCollector returns a collector for sc.
func NewCollector(sc *Scope) *Collector {
	return &Collector{scope: sc, m: map[string]*Indexed{}, out: map[Source]int{}}
}

// Add checks, classifies and keeps s; it reports whether s is inside the
// scope.
func (c *Collector) Add(s *Service) bool {
	if s == nil || s.Validate() != nil {
		return false
	}
	m, ok := c.scope.Contains(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		c.out[s.Source]++
		return false
	}
	v := Classify(s)
	key := s.Key()
	ix := c.m[key]
	if ix == nil {
		ix = &Indexed{Service: s, Verdict: v, Match: m}
		c.m[key] = ix
	} else if r, rOld := v.Class.Rank(), ix.Verdict.Class.Rank(); r > rOld || r == rOld && s.Seen.After(ix.Service.Seen) {
		ix.Service, ix.Verdict = s, v
	}
	if m.ByAddress && !ix.Match.ByAddress {
		ix.Match = m
	}
	if !slices.Contains(ix.Sources, s.Source) {
		ix.Sources = append(ix.Sources, s.Source)
		slices.Sort(ix.Sources)
	}
	if !s.Seen.IsZero() {
		if ix.FirstSeen.IsZero() || s.Seen.Before(ix.FirstSeen) {
			ix.FirstSeen = s.Seen
		}
		if s.Seen.After(ix.LastSeen) {
			ix.LastSeen = s.Seen
		}
		if v.Class != NotMCP && s.Seen.After(ix.LastSeenMCP) {
			ix.LastSeenMCP = s.Seen
		}
	}
	return true
}

// OutOfScope returns how many services of src were dropped as outside the
// scope.
func (c *Collector) OutOfScope(src Source) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out[src]
}

// Indexed returns the kept services ordered by address, port and transport.
func (c *Collector) Indexed() []*Indexed {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Indexed, 0, len(c.m))
	for _, ix := range c.m {
		out = append(out, ix)
	}
	slices.SortFunc(out, func(a, b *Indexed) int {
		return cmp.Or(a.Service.IP.Compare(b.Service.IP), cmp.Compare(a.Service.Port, b.Service.Port),
			strings.Compare(a.Service.Transport, b.Service.Transport))
	})
	return out
}

// Host is the host a verification connects to: the indexed address when
// the address is inside an address target, otherwise the operator's
// domain name that matched (so that the connection goes where the
// operator's DNS points, never to an address only a reverse DNS record
// ties to the operator).
func (ix *Indexed) Host() string {
	if ix.Match.ByAddress {
		return ix.Service.IP.String()
	}
	return ix.Match.Hostname
}

// Target is the service a verification probes. The path list is the
// prober's default plus the path the index saw, when that is an MCP path.
func (ix *Indexed) Target() target.Service {
	t := target.Service{Host: ix.Host(), Port: ix.Service.Port, Scheme: "http", Source: "index:" + ix.Service.Key()}
	if ix.Service.TLS {
		t.Scheme = "https"
	}
	if h := ix.Service.HTTP; h != nil && isMCPPath(strings.ToLower(h.Path)) && !slices.Contains(target.DefaultPaths, h.Path) {
		t.Paths = append([]string{h.Path}, target.DefaultPaths...)
	}
	return t
}

// URL is the address of the indexed service as a URL.
func (ix *Indexed) URL() string {
	t := ix.Target()
	path := "/"
	if h := ix.Service.HTTP; h != nil && h.Path != "" {
		path = h.Path
	}
	host := t.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s://%s:%d%s", t.Scheme, host, t.Port, path)
}

// Saw says in one line what the index recorded ("HTTP 200
// text/event-stream at /sse, server uvicorn").
func (ix *Indexed) Saw() string {
	s := ix.Service
	h := s.HTTP
	if h == nil {
		line, _, _ := strings.Cut(strings.TrimSpace(s.Banner), "\n")
		if line = strings.TrimSpace(line); line == "" {
			return fmt.Sprintf("an open %s port", s.Transport)
		}
		return fmt.Sprintf("%s banner %q", s.Transport, clip(line, 80))
	}
	var parts []string
	if h.Status > 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", h.Status))
	} else {
		parts = append(parts, "HTTP")
	}
	if h.Headers != nil {
		if ct := h.Headers.Get("Content-Type"); ct != "" {
			ct, _, _ = strings.Cut(ct, ";")
			parts = append(parts, clip(ct, 60))
		}
	}
	out := strings.Join(parts, " ") + " at " + clip(h.Path, 80)
	if h.Server != "" {
		out += fmt.Sprintf(", server %q", clip(h.Server, 60))
	}
	if h.Title != "" {
		out += fmt.Sprintf(", title %q", clip(h.Title, 60))
	}
	return out
}

func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}
