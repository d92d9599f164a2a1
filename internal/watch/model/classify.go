package model

import (
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Answered reports whether something answered at the endpoint: an MCP
// server, another service, or a record judged without a probe.
func Answered(s result.Status) bool {
	return s == result.StatusMCP || s == result.StatusNotMCP || s == result.StatusNotProbed
}

// Conclusive reports whether an observation with status s says for sure
// what is at the endpoint: it answered, or the connection was refused.
// Timeouts and errors are not conclusive: the endpoint may be there.
func Conclusive(s result.Status) bool {
	return Answered(s) || s == result.StatusClosed
}

// ToolsListed reports whether ep carries a complete-enough tool list to
// compare with another: an MCP endpoint that did not hide its tools behind
// authentication and whose tools/list did not fail.
func ToolsListed(ep *result.Endpoint) bool {
	if ep == nil || ep.Status != result.StatusMCP {
		return false
	}
	if ep.Auth != nil && ep.Auth.Required && !ep.Auth.WithCredentials {
		return false
	}
	if ep.Listing != nil {
		for _, e := range ep.Listing.Errors {
			if strings.HasPrefix(e, "tools/list") {
				return false
			}
		}
	}
	return true
}

// rank orders statuses by how much a record says, for Dedupe.
func rank(s result.Status) int {
	switch s {
	case result.StatusMCP:
		return 5
	case result.StatusNotMCP:
		return 4
	case result.StatusNotProbed:
		return 3
	case result.StatusClosed:
		return 2
	case result.StatusTimeout:
		return 1
	}
	return 0
}

// Dedupe drops nil records and records without a URL, and keeps one record
// per URL: the one whose status says most (mcp first), the earliest of
// equals. The order of first appearance is kept.
func Dedupe(eps []*result.Endpoint) []*result.Endpoint {
	out := make([]*result.Endpoint, 0, len(eps))
	at := map[string]int{}
	for _, ep := range eps {
		if ep == nil || ep.URL == "" {
			continue
		}
		if i, ok := at[ep.URL]; ok {
			if rank(ep.Status) > rank(out[i].Status) {
				out[i] = ep
			}
			continue
		}
		at[ep.URL] = len(out)
		out = append(out, ep)
	}
	return out
}
