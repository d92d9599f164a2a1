// Package target turns what an operator points mcpwarden at (URLs, hosts,
// host:port, CIDRs, ranges, target files, nmap/masscan/zmap output) into a
// stream of services to probe, with exclusions and sharding. Targets are
// streamed, never materialised: a /8 never sits in memory.
//
// The entry points: ParseSpec (one target), ParsePorts (--ports),
// ParseExclusions and ReadExclusions (--exclude, --exclude-file), ParseShard
// ("I/N", 0-based) and NewStream, whose Each yields the services of literal
// specs and target files (plain lists, nmap XML, masscan JSON and list
// output, zmap CSV, detected by their first bytes) in a keyed pseudorandom
// order that N shards split exactly. Host names are passed through, never
// resolved here.
package target

// Service is one host:port (and, for URL targets, scheme and path) to probe.
type Service struct {
	// Host is an IP literal (no brackets, no zone unless given) or a DNS name.
	Host string
	Port int
	// Scheme is "http" or "https" when the input fixed it (a URL, an nmap
	// service name), or "" to let the prober detect TLS.
	Scheme string
	// Paths, when non-nil, are the only paths to probe (a URL target with a
	// path). nil means the prober's path list (--paths or DefaultPaths).
	Paths []string
	// Source names the input that produced this service ("args", "file.txt:12")
	// for messages.
	Source string
}

// DefaultPorts are the ports MCP servers are commonly found on.
var DefaultPorts = []int{80, 443, 3000, 3001, 5000, 8000, 8080, 8443, 8811, 6274, 6277}

// DefaultPaths are the paths probed on every port when a target has none.
var DefaultPaths = []string{"/mcp", "/mcp/", "/sse", "/api/mcp", "/", "/messages"}
