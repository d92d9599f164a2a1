package exposure

import (
	"regexp"
	"strings"
)

// Class is how sure the banner makes us that a service is MCP.
type Class string

// The classes, most certain first.
const (
	// LikelyMCP: the banner carries a signal only MCP servers send (an
	// initialize result, an Mcp-Session-Id header, an SSE endpoint event,
	// an MCP SDK error message, an MCP authorization challenge).
	LikelyMCP Class = "likely-mcp"
	// PossiblyMCP: the banner carries a weaker hint (an MCP path, an event
	// stream, JSON-RPC, a known MCP server name) that a handshake must confirm.
	PossiblyMCP Class = "possibly-mcp"
	// NotMCP: nothing in the banner points to MCP.
	NotMCP Class = "not-mcp"
)

// Rank orders classes: 2 for LikelyMCP, 1 for PossiblyMCP, 0 otherwise.
func (c Class) Rank() int {
	switch c {
	case LikelyMCP:
		return 2
	case PossiblyMCP:
		return 1
	}
	return 0
}

// Verdict is the classification of one service with the signals behind it.
type Verdict struct {
	Class   Class
	Signals []string
}

// maxClassifyBytes bounds how much of a banner the classifier looks at.
const maxClassifyBytes = 64 << 10

var (
	reJSONRPC         = regexp.MustCompile(`"jsonrpc"\s*:\s*"2\.0"`)
	reProtocolVersion = regexp.MustCompile(`"protocolversion"\s*:\s*"20\d\d-\d\d-\d\d"`)
	reServerInfo      = regexp.MustCompile(`"serverinfo"\s*:\s*\{`)
	reEndpointEvent   = regexp.MustCompile(`(?m)^event:\s*endpoint\s*$`)
	reEndpointData    = regexp.MustCompile(`(?m)^data:\s*\S*(?:/messages?/?\?session_?id=|sessionid=)`)
)

// knownServers are product or server names of MCP servers, gateways and
// tools, matched in the Server header, the title and the product.
var knownServers = []string{
	"fastmcp", "mcp-proxy", "supergateway", "mcp inspector", "mcp-inspector",
	"mcp-remote", "modelcontextprotocol", "mcp server", "mcp-server", "mcp gateway", "mcp-gateway",
}

// sdkErrors are error texts the official SDKs answer with when a plain GET
// reaches an MCP endpoint.
var sdkErrors = []string{
	"no valid session id provided",
	"not acceptable: client must accept text/event-stream",
	"missing session id",
	"invalid or missing session id",
	"mcp-session-id header is required",
	"session not found",
}

// mcpPaths are paths MCP servers are commonly served on.
var mcpPaths = []string{"/mcp", "/mcp/", "/sse", "/sse/", "/api/mcp", "/messages", "/messages/", "/message"}

// Classify judges s from what the index recorded. It never panics and
// looks at no more than 64 KiB of body and banner.
func Classify(s *Service) Verdict {
	var strong, weak []string
	add := func(list *[]string, sig string) {
		for _, x := range *list {
			if x == sig {
				return
			}
		}
		*list = append(*list, sig)
	}
	text := capLower(s.Banner)
	var body, ctype, server, title, path string
	if h := s.HTTP; h != nil {
		body = capLower(h.Body)
		title = strings.ToLower(h.Title)
		server = strings.ToLower(h.Server)
		path = strings.ToLower(h.Path)
		if h.Headers != nil {
			ctype = strings.ToLower(h.Headers.Get("Content-Type"))
			if server == "" {
				server = strings.ToLower(h.Headers.Get("Server"))
			}
			if h.Headers.Get("Mcp-Session-Id") != "" {
				add(&strong, "mcp-session-id header")
			}
			if h.Headers.Get("Mcp-Protocol-Version") != "" {
				add(&strong, "mcp-protocol-version header")
			}
			for _, name := range []string{"Access-Control-Expose-Headers", "Access-Control-Allow-Headers"} {
				if strings.Contains(strings.ToLower(strings.Join(h.Headers.Values(name), ",")), "mcp-session-id") {
					add(&strong, "cors names mcp-session-id")
				}
			}
			for _, ch := range h.Headers.Values("Www-Authenticate") {
				lc := strings.ToLower(ch)
				if strings.Contains(lc, "resource_metadata") {
					if strings.Contains(lc, "oauth-protected-resource/mcp") || strings.Contains(lc, "oauth-protected-resource/sse") || isMCPPath(path) {
						add(&strong, "mcp authorization challenge")
					} else {
						add(&weak, "oauth resource_metadata challenge")
					}
				}
			}
		}
	}
	// The raw banner of some indexes holds the response head (and body);
	// header signals found there count the same.
	if strings.Contains(text, "\nmcp-session-id:") {
		add(&strong, "mcp-session-id header")
	}
	if strings.Contains(text, "\nmcp-protocol-version:") {
		add(&strong, "mcp-protocol-version header")
	}
	if strings.Contains(text, "resource_metadata=") && strings.Contains(text, "oauth-protected-resource/mcp") {
		add(&strong, "mcp authorization challenge")
	}
	if ctype == "" && strings.Contains(text, "\ncontent-type: text/event-stream") {
		ctype = "text/event-stream"
	}
	for _, b := range []string{body, text} {
		if b == "" {
			continue
		}
		if reProtocolVersion.MatchString(b) && reServerInfo.MatchString(b) {
			add(&strong, "initialize result (serverInfo, protocolVersion)")
		}
		if reEndpointEvent.MatchString(b) {
			if reEndpointData.MatchString(b) || strings.HasPrefix(ctype, "text/event-stream") {
				add(&strong, "sse endpoint event")
			} else {
				add(&weak, "sse endpoint event")
			}
		}
		for _, e := range sdkErrors {
			if strings.Contains(b, e) && reJSONRPC.MatchString(b) {
				add(&strong, "mcp sdk error: "+e)
			}
		}
		if reJSONRPC.MatchString(b) {
			add(&weak, "json-rpc 2.0 body")
		}
		if strings.Contains(b, `"supportedversions"`) && reJSONRPC.MatchString(b) {
			add(&strong, "server/discover result")
		}
	}
	if strings.Contains(title, "mcp inspector") || strings.Contains(body, "<title>mcp inspector</title>") {
		add(&strong, "mcp inspector ui")
	}
	if strings.HasPrefix(ctype, "text/event-stream") {
		add(&weak, "text/event-stream")
	}
	if isMCPPath(path) {
		add(&weak, "mcp path "+path)
	}
	product := strings.ToLower(s.Product)
	for _, name := range knownServers {
		for _, field := range []string{server, title, product} {
			if field != "" && strings.Contains(field, name) {
				add(&weak, "known mcp server name "+name)
			}
		}
	}
	if s.QueryMatch != "" {
		add(&weak, "index search matched: "+s.QueryMatch)
	}
	switch {
	case len(strong) > 0:
		return Verdict{Class: LikelyMCP, Signals: append(strong, weak...)}
	case len(weak) > 0:
		return Verdict{Class: PossiblyMCP, Signals: weak}
	}
	return Verdict{Class: NotMCP}
}

func isMCPPath(p string) bool {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	for _, m := range mcpPaths {
		if p == m {
			return true
		}
	}
	return false
}

func capLower(s string) string {
	if len(s) > maxClassifyBytes {
		s = s[:maxClassifyBytes]
	}
	return strings.ToLower(s)
}
