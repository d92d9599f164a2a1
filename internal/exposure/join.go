package exposure

import (
	"fmt"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Now is what a verification scan sees of an indexed service.
type Now string

// The states, in the order a service's several records are merged (the
// first that applies wins).
const (
	NowOpen      Now = "open"      // an MCP server answered without credentials
	NowProtected Now = "protected" // an MCP server demanded authentication
	NowNotMCP    Now = "not-mcp"   // something answered, not MCP
	NowGone      Now = "gone"      // closed, unreachable or no answer
)

// StateOf merges the scan records of one service into one state; ok is
// false when there are none.
func StateOf(eps []*result.Endpoint) (now Now, ok bool) {
	best := 0
	for _, ep := range eps {
		var s Now
		r := 0
		switch {
		case ep.Status == result.StatusMCP && (ep.Auth == nil || !ep.Auth.Required):
			s, r = NowOpen, 4
		case ep.Status == result.StatusMCP:
			s, r = NowProtected, 3
		case ep.Status == result.StatusNotMCP:
			s, r = NowNotMCP, 2
		default:
			s, r = NowGone, 1
		}
		if r > best {
			now, best = s, r
		}
	}
	return now, best > 0
}

// Info returns the exposure record of ix with the state now ("" when not
// verified).
func (ix *Indexed) Info(now Now) *result.ExposureInfo {
	e := &result.ExposureInfo{
		FirstSeen: ix.FirstSeen, LastSeen: ix.LastSeen, LastSeenMCP: ix.LastSeenMCP,
		Class: string(ix.Verdict.Class), Signals: ix.Verdict.Signals, IndexSaw: ix.Saw(),
		Hostnames: ix.Service.Hostnames, MatchedBy: ix.Match.Target, Now: string(now),
	}
	for _, s := range ix.Sources {
		e.Sources = append(e.Sources, string(s))
	}
	return e
}

func (ix *Indexed) sources() string {
	parts := make([]string, len(ix.Sources))
	for i, s := range ix.Sources {
		parts[i] = string(s)
	}
	return strings.Join(parts, " and ")
}

func day(t time.Time) string {
	if t.IsZero() {
		return "an unknown date"
	}
	return t.UTC().Format("2006-01-02")
}

func (ix *Indexed) indexed() string {
	s := fmt.Sprintf("%s indexed this service (first seen %s, last seen %s) and saw %s", ix.sources(), day(ix.FirstSeen), day(ix.LastSeen), ix.Saw())
	if len(ix.Verdict.Signals) > 0 {
		s += "; MCP signals: " + strings.Join(ix.Verdict.Signals, ", ")
	}
	return s
}

// Unverified is the record of an indexed service that was not scanned:
// status "static" and, for a likely or possibly MCP banner, an
// IndexedUnverified finding (medium for likely, low for possibly).
func (ix *Indexed) Unverified(at time.Time) *result.Endpoint {
	ep := &result.Endpoint{
		Schema: result.Schema, URL: ix.URL(), Host: ix.Host(), IP: ix.Service.IP.String(), Port: ix.Service.Port,
		Status: result.StatusNotProbed, Exposure: ix.Info(""), Findings: []finding.Finding{}, ScannedAt: at.UTC(),
	}
	switch ix.Verdict.Class {
	case LikelyMCP:
		ep.Findings = append(ep.Findings, rules.New(rules.IndexedUnverified, finding.Medium, ix.indexed()+"."))
	case PossiblyMCP:
		ep.Findings = append(ep.Findings, rules.New(rules.IndexedUnverified, finding.Low, ix.indexed()+"."))
	}
	return ep
}

// Verified attaches the index's view to the scan records of ix (the
// records are changed in place) and adds the exposure finding to the record
// that decided the state: IndexedStillOpen when an MCP server answered
// without credentials, IndexedNowClosed when the index saw MCP and the
// server is now protected, not MCP or gone. With no record it returns the
// Unverified record.
func (ix *Indexed) Verified(eps []*result.Endpoint, at time.Time) []*result.Endpoint {
	now, ok := StateOf(eps)
	if !ok {
		return []*result.Endpoint{ix.Unverified(at)}
	}
	info := ix.Info(now)
	primary := -1
	for i, ep := range eps {
		ep.Exposure = info
		if st, _ := StateOf(eps[i : i+1]); st == now && primary < 0 {
			primary = i
		}
	}
	ep := eps[primary]
	switch {
	case now == NowOpen:
		ep.Findings = append(ep.Findings, rules.Default(rules.IndexedStillOpen,
			ix.indexed()+"; mcpwarden completed an MCP handshake without credentials just now."))
	case ix.Verdict.Class != NotMCP:
		ep.Findings = append(ep.Findings, rules.Default(rules.IndexedNowClosed,
			fmt.Sprintf("%s; last seen as MCP on %s; now %s.", ix.indexed(), day(ix.LastSeenMCP), describeNow(now, ep))))
	}
	return eps
}

func describeNow(now Now, ep *result.Endpoint) string {
	switch now {
	case NowProtected:
		if ep.Auth != nil && ep.Auth.Scheme != "" {
			return "protected (" + ep.Auth.Scheme + " authentication required)"
		}
		return "protected"
	case NowNotMCP:
		return "something answers that is not MCP"
	}
	if ep.Error != "" {
		return "gone (" + clip(ep.Error, 100) + ")"
	}
	return "gone"
}
