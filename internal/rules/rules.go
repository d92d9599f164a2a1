// Package rules is the catalogue of every check mcpwarden reports: a stable
// id (MCPW-NNN), a default severity, a title, why it matters and how to fix
// it. Every subsystem builds its findings through New so that ids, titles
// and remediation text live in exactly one place.
package rules

import (
	"fmt"
	"sort"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

// Rule is one catalogue entry. Ids are never reused or renumbered.
type Rule struct {
	ID       string           `json:"id"`
	Severity finding.Severity `json:"severity"`
	Title    string           `json:"title"`
	Why      string           `json:"why"`
	Fix      string           `json:"fix"`
}

// The rule ids, as constants so that a typo is a compile error.
const (
	Unauthenticated       = "MCPW-001"
	ResourceMetadataBad   = "MCPW-002"
	PlaintextHTTP         = "MCPW-003"
	LegacySSE             = "MCPW-004"
	NonOAuthAuth          = "MCPW-005"
	ListingTruncated      = "MCPW-006"
	TLSCertificateInvalid = "MCPW-007"
)

var catalogue = []Rule{
	{
		ID: Unauthenticated, Severity: finding.High,
		Title: "MCP server reachable without authentication",
		Why: "Anyone who can reach this address can connect as an MCP client, list the tools and call them " +
			"with the server's privileges: no credential, no rate limit, no audit trail. Severity grows with " +
			"what the server exposes and with the address class (public > private > loopback).",
		Fix: "Bind the server to 127.0.0.1 if only local clients use it, or put an authenticating gateway " +
			"in front of it (mcpwarden gate, or another proxy that enforces OAuth 2.1 bearer tokens as the MCP " +
			"authorization specification describes) and make the server reachable only through it.",
	},
	{
		ID: ResourceMetadataBad, Severity: finding.Medium,
		Title: "OAuth-protected MCP server without valid protected resource metadata",
		Why: "MCP clients discover the authorization server through RFC 9728 protected resource metadata " +
			"(WWW-Authenticate resource_metadata or /.well-known/oauth-protected-resource). Without it, " +
			"compliant clients cannot authenticate, and operators are tempted to switch authentication off.",
		Fix: "Serve RFC 9728 metadata whose resource is the canonical URL of the MCP endpoint and whose " +
			"authorization_servers lists at least one issuer, and point to it from the 401 challenge with " +
			"resource_metadata=\"<absolute URL>\".",
	},
	{
		ID: PlaintextHTTP, Severity: finding.Medium,
		Title: "MCP endpoint served over plaintext HTTP on a non-loopback address",
		Why: "Requests, tool arguments, results and any bearer token cross the network unencrypted and " +
			"can be read or changed by anyone on the path.",
		Fix: "Serve the endpoint over HTTPS (terminate TLS in the server or in a gateway such as " +
			"mcpwarden gate), or bind it to loopback.",
	},
	{
		ID: LegacySSE, Severity: finding.Low,
		Title: "Deprecated HTTP+SSE transport (protocol 2024-11-05)",
		Why: "The legacy HTTP+SSE transport is deprecated; servers that still offer it are usually old " +
			"and predate the Origin validation and authorization requirements of later revisions.",
		Fix: "Upgrade the server to an SDK release that speaks streamable HTTP, and retire the /sse endpoint.",
	},
	{
		ID: NonOAuthAuth, Severity: finding.Info,
		Title: "MCP endpoint protected by a non-OAuth scheme",
		Why: "The endpoint demands credentials, but not the OAuth 2.1 bearer flow that the MCP " +
			"authorization specification describes; static secrets are rarely rotated or scoped.",
		Fix: "Prefer OAuth 2.1 bearer tokens with audience binding; keep static keys scoped, hashed and rotated.",
	},
	{
		ID: ListingTruncated, Severity: finding.Info,
		Title: "Listing incomplete: page, item or size cap reached",
		Why: "The server returned more pages or items than the scan's caps allow, or a cursor that never " +
			"advanced; what it exposes may be more than is listed here.",
		Fix: "Raise --max-pages / --max-items for this target if the listing is legitimate.",
	},
	{
		ID: TLSCertificateInvalid, Severity: finding.Medium,
		Title: "TLS certificate not valid for this endpoint",
		Why: "Clients that verify certificates cannot connect safely; clients that skip verification can " +
			"be intercepted.",
		Fix: "Install a certificate from a trusted CA that covers the host name and is within its validity period.",
	},
}

var byID = func() map[string]Rule {
	m := make(map[string]Rule, len(catalogue))
	for _, r := range catalogue {
		if _, dup := m[r.ID]; dup {
			panic("rules: duplicate id " + r.ID)
		}
		m[r.ID] = r
	}
	return m
}()

// All returns the catalogue sorted by id.
func All() []Rule {
	out := append([]Rule(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the rule with the given id.
func Lookup(id string) (Rule, bool) {
	r, ok := byID[id]
	return r, ok
}

// New builds a finding of rule id at severity sev. It panics on an unknown
// id: that is a programming error, caught by every test that fires the rule.
func New(id string, sev finding.Severity, evidence string) finding.Finding {
	r, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("rules: unknown rule %q", id))
	}
	return finding.Finding{Rule: r.ID, Severity: sev, Title: r.Title, Evidence: evidence}
}

// Default builds a finding of rule id at the rule's default severity.
func Default(id, evidence string) finding.Finding {
	r, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("rules: unknown rule %q", id))
	}
	return New(id, r.Severity, evidence)
}
