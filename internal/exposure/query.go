package exposure

import (
	"fmt"
	"strings"
)

// maxTermsPerQuery bounds how many targets one index query names, so that a
// long target list becomes several queries of reasonable length.
const maxTermsPerQuery = 20

// ShodanPlan is what to ask Shodan for a scope: host lookups (free of
// query credits) for single addresses, and searches with net: and
// hostname: filters (each page of a filtered search costs one query
// credit) for ranges and domains.
type ShodanPlan struct {
	Lookups  []string
	Searches []string
}

// Shodan builds the Shodan plan of sc. Shodan's filters AND together and
// its search has no OR, so MCP signals are not added to the queries: every
// service Shodan holds in the operator's own space is fetched and
// classified locally (see Classify), which also catches MCP servers whose
// banners only show a weak signal.
func (sc *Scope) Shodan() ShodanPlan {
	var p ShodanPlan
	for _, a := range sc.Addrs() {
		p.Lookups = append(p.Lookups, a.String())
	}
	var nets []string
	for _, r := range sc.Ranges() {
		for _, pf := range rangePrefixes(r[0], r[1]) {
			nets = append(nets, pf.String())
		}
	}
	for _, batch := range batches(nets) {
		p.Searches = append(p.Searches, "net:"+strings.Join(batch, ","))
	}
	for _, batch := range batches(sc.Domains()) {
		p.Searches = append(p.Searches, "hostname:"+strings.Join(batch, ","))
	}
	return p
}

// censysSignals narrows a Censys search to services whose recorded HTTP
// response carries an MCP signal (Censys' query language has OR, unlike
// Shodan's). Header-only signals are matched locally on the host records.
var censysSignals = []string{
	`services.http.response.body: "protocolVersion"`,
	`services.http.response.body: "serverInfo"`,
	`services.http.response.body: "event: endpoint"`,
	`services.http.response.body: "No valid session ID provided"`,
	`services.http.response.body: "resource_metadata"`,
	`services.http.response.html_title: "MCP Inspector"`,
}

// Censys builds Censys Search v2 queries for sc: the address targets as ip
// terms (ranges as [first to last]) and domains as dns.names terms, ORed,
// and, when signals is true, ANDed with the MCP signal clause.
func (sc *Scope) Censys(signals bool) []string {
	var terms []string
	for _, a := range sc.Addrs() {
		terms = append(terms, fmt.Sprintf("ip: %q", a.String()))
	}
	for _, r := range sc.Ranges() {
		terms = append(terms, fmt.Sprintf("ip: [%s to %s]", r[0], r[1]))
	}
	for _, d := range sc.Domains() {
		terms = append(terms, fmt.Sprintf("dns.names: %q", d), fmt.Sprintf("dns.reverse_dns.names: %q", d))
	}
	var out []string
	for _, batch := range batches(terms) {
		q := "(" + strings.Join(batch, " or ") + ")"
		if signals {
			q += " and (" + strings.Join(censysSignals, " or ") + ")"
		}
		out = append(out, q)
	}
	return out
}

func batches(items []string) [][]string {
	var out [][]string
	for len(items) > 0 {
		n := min(len(items), maxTermsPerQuery)
		out = append(out, items[:n])
		items = items[n:]
	}
	return out
}
