// Package result holds the endpoint record: one scanned endpoint with its
// verdict, what it exposes and the findings about it. It is the JSON Lines
// schema "mcpwarden.scan/v1" (docs/jsonl-schema.md) and the input of every
// report writer.
package result

import (
	"encoding/json"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

// Schema is the value of Endpoint.Schema for this version of the record.
const Schema = "mcpwarden.scan/v1"

// Status is the verdict on one endpoint.
type Status string

// The statuses.
const (
	StatusMCP     Status = "mcp"     // an MCP server answered (or demanded MCP authorization)
	StatusNotMCP  Status = "not-mcp" // something answered, but not MCP
	StatusClosed  Status = "closed"  // connection refused or unreachable
	StatusTimeout Status = "timeout" // connected or tried, no answer in time
	StatusError   Status = "error"   // protocol or I/O error that is neither of the above
	// StatusNotProbed marks a record of `mcpwarden host` that was judged
	// without a probe: a client configuration entry, or a listener bound
	// to a non-loopback address (probes stay on loopback).
	StatusNotProbed Status = "static"
)

// Transports reported in MCP.Transport.
const (
	TransportStreamable = "streamable-http"
	TransportSSE        = "sse"
	TransportStateless  = "stateless-http" // the 2026-07-28 stateless protocol
)

// Auth schemes reported in Auth.Scheme.
const (
	AuthNone   = "none"
	AuthOAuth  = "oauth"
	AuthBearer = "bearer"
	AuthBasic  = "basic"
	AuthOther  = "other"
)

// Endpoint is one line of JSONL output.
type Endpoint struct {
	Schema string `json:"schema"`
	URL    string `json:"url"`
	Host   string `json:"host"`
	// IP is the address connected to, when known.
	IP     string `json:"ip,omitempty"`
	Port   int    `json:"port"`
	Status Status `json:"status"`
	// Error explains StatusError, StatusTimeout and StatusClosed.
	Error string `json:"error,omitempty"`

	HTTP *HTTPInfo `json:"http,omitempty"`
	TLS  *TLSInfo  `json:"tls,omitempty"`
	MCP  *MCPInfo  `json:"mcp,omitempty"`
	Auth *AuthInfo `json:"auth,omitempty"`

	Tools             []Tool             `json:"tools,omitempty"`
	Resources         []Resource         `json:"resources,omitempty"`
	ResourceTemplates []ResourceTemplate `json:"resource_templates,omitempty"`
	Prompts           []Prompt           `json:"prompts,omitempty"`
	Listing           *Listing           `json:"listing,omitempty"`

	// Risk sums up what the exposed tools and resources let a caller do.
	Risk *RiskSummary `json:"risk,omitempty"`
	// Origin is the result of repeating the handshake with a foreign
	// Origin header (the CVE-2025-49596 class); set on MCP endpoints.
	Origin *OriginCheck `json:"origin,omitempty"`
	// HostHeader is the result of repeating it with a foreign Host header
	// (DNS rebinding); tested on loopback and private targets only.
	HostHeader *HostCheck `json:"host_header,omitempty"`
	// Inspector is set when the service is the MCP Inspector's UI or proxy.
	Inspector *InspectorInfo `json:"inspector,omitempty"`

	// Listen, Process and Config are set by `mcpwarden host`: the
	// listening socket the record is about and its owning process, or the
	// client configuration entry it comes from.
	Listen  *ListenInfo  `json:"listen,omitempty"`
	Process *ProcessInfo `json:"process,omitempty"`
	Config  *ConfigInfo  `json:"config,omitempty"`
	// Exposure is set by `mcpwarden exposure`: what internet scanning
	// indexes recorded about the service and what mcpwarden sees now.
	Exposure *ExposureInfo `json:"exposure,omitempty"`

	Findings  []finding.Finding `json:"findings"`
	ScannedAt time.Time         `json:"scanned_at"`
	ElapsedMS int64             `json:"elapsed_ms"`
}

// ListenInfo is a listening TCP socket of this machine.
type ListenInfo struct {
	// Address is the bound address: "0.0.0.0" and "::" mean every
	// interface; IPv4-mapped IPv6 addresses are given as IPv4.
	Address string `json:"address"`
	Port    int    `json:"port"`
	// ProbedAt is the loopback address the listener was probed through
	// (127.0.0.1 for 0.0.0.0, ::1 for ::); empty when it was not probed.
	ProbedAt string `json:"probed_at,omitempty"`
	// Gated is true when a `mcpwarden gate` fronts the listener (found
	// from the running gates or declared with --gated): only the gate
	// should reach it. Set by `mcpwarden host --connections`.
	Gated bool `json:"gated,omitempty"`
	// Connections are the established inbound TCP connections to the
	// listener when the audit ran (`mcpwarden host --connections`, MCP
	// listeners only); absent otherwise or when there are none.
	Connections []ConnectionInfo `json:"connections,omitempty"`
}

// ConnectionInfo is one established inbound TCP connection to a listener.
type ConnectionInfo struct {
	// PeerAddress and PeerPort are the other end; IPv4-mapped IPv6
	// addresses are given as IPv4.
	PeerAddress string `json:"peer_address"`
	PeerPort    int    `json:"peer_port"`
	// PeerClass is "loopback", "private" (RFC 1918), "cgnat",
	// "link-local", "unique-local" (fc00::/7), "multicast",
	// "unspecified" or "public".
	PeerClass string `json:"peer_class"`
	// LocalAddress and LocalPort are this machine's end (the address the
	// peer connected to).
	LocalAddress string `json:"local_address"`
	LocalPort    int    `json:"local_port"`
	// OnHost is true when the peer is this machine (loopback or one of
	// its addresses); Process is then the process on the other end, or
	// says why it is not visible.
	OnHost  bool         `json:"on_host,omitempty"`
	Process *ProcessInfo `json:"process,omitempty"`
	// Gate is true when the peer process is a running `mcpwarden gate`.
	Gate bool `json:"gate,omitempty"`
}

// ProcessInfo is the process that owns a listening socket.
type ProcessInfo struct {
	// PID is 0 and Note says why when the owner is not visible.
	PID     int    `json:"pid,omitempty"`
	User    string `json:"user,omitempty"`
	Command string `json:"command,omitempty"`
	Exe     string `json:"exe,omitempty"`
	// Container is "<runtime>:<id12>" when the process runs in a container.
	Container string `json:"container,omitempty"`
	// MCPServer is what the command line was recognised as (a package,
	// module or program name), when it names an MCP server.
	MCPServer string `json:"mcp_server,omitempty"`
	// Note says what could not be seen ("owner not visible without root").
	Note string `json:"note,omitempty"`
}

// ConfigInfo is the MCP client configuration entry a record comes from.
type ConfigInfo struct {
	// Client is the client the file belongs to ("claude-desktop",
	// "claude-code", "cursor", "vscode", "windsurf", "gemini-cli", "zed",
	// "continue", "custom").
	Client string `json:"client"`
	Path   string `json:"path"`
	// ServerName is the entry's name in the file; empty for a record about
	// the whole file (one that could not be parsed).
	ServerName string `json:"server_name,omitempty"`
	// Transport is "stdio", "http", "sse" or "" when the entry does not say.
	Transport string `json:"transport,omitempty"`
	// Project is the project directory of a per-project entry.
	Project string `json:"project,omitempty"`
}

// ExposureInfo is what internet scanning indexes (Shodan, Censys) hold
// about one service of the operator's own targets.
type ExposureInfo struct {
	// Sources are the indexes that list the service ("censys", "shodan").
	Sources []string `json:"sources"`
	// FirstSeen and LastSeen bound the index observations; LastSeenMCP is
	// the latest one whose banner looked like MCP.
	FirstSeen   time.Time `json:"first_seen,omitzero"`
	LastSeen    time.Time `json:"last_seen,omitzero"`
	LastSeenMCP time.Time `json:"last_seen_mcp,omitzero"`
	// Class is the banner's classification: "likely-mcp", "possibly-mcp"
	// or "not-mcp"; Signals are the MCP signals found in it.
	Class   string   `json:"class"`
	Signals []string `json:"signals,omitempty"`
	// IndexSaw says in one line what the index recorded.
	IndexSaw string `json:"index_saw,omitempty"`
	// Hostnames are the names the index ties to the address.
	Hostnames []string `json:"hostnames,omitempty"`
	// MatchedBy is the operator's target the service falls in.
	MatchedBy string `json:"matched_by"`
	// Now is what mcpwarden sees now: "open", "protected", "not-mcp",
	// "gone", or "" when not verified.
	Now string `json:"now,omitempty"`
}

// HTTPInfo is what the first meaningful HTTP answer said.
type HTTPInfo struct {
	Status      int    `json:"status"`
	Server      string `json:"server,omitempty"`
	ContentType string `json:"content_type,omitempty"`
}

// TLSInfo describes the TLS connection of an https endpoint.
type TLSInfo struct {
	Version     string    `json:"version"`
	CipherSuite string    `json:"cipher_suite,omitempty"`
	Subject     string    `json:"subject,omitempty"`
	Issuer      string    `json:"issuer,omitempty"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	SelfSigned  bool      `json:"self_signed"`
	// Valid is true when the chain verifies against the system roots for the
	// host name scanned; VerifyError says why not.
	Valid       bool   `json:"valid"`
	VerifyError string `json:"verify_error,omitempty"`
	// NameMismatch is true when the certificate does not cover the host.
	NameMismatch bool `json:"name_mismatch,omitempty"`
	// UnknownAuthority is true when the chain ends at a CA the system does
	// not trust (a self-signed certificate is one case).
	UnknownAuthority bool `json:"unknown_authority,omitempty"`
	// WeakVersions lists deprecated protocol versions (TLS 1.0, 1.1) the
	// server still accepts, from extra handshakes limited to them.
	WeakVersions []string `json:"weak_versions,omitempty"`
}

// MCPInfo identifies the server.
type MCPInfo struct {
	Transport       string `json:"transport"`
	ProtocolVersion string `json:"protocol_version,omitempty"`
	// SupportedVersions is what server/discover or a version error listed.
	SupportedVersions []string `json:"supported_versions,omitempty"`
	// Session is true when the server issued an Mcp-Session-Id.
	Session bool       `json:"session"`
	Server  ServerInfo `json:"server"`
	// Capabilities is the server's capabilities object, as sent (capped).
	Capabilities json.RawMessage `json:"capabilities,omitempty"`
	Instructions string          `json:"instructions,omitempty"`
	// Confidence is "confirmed" when a handshake succeeded and "likely" when
	// only an MCP authorization challenge was seen.
	Confidence string `json:"confidence"`
	// Aliases lists other paths on the same port that answered as the same
	// server over the same transport.
	Aliases []string `json:"aliases,omitempty"`
}

// ServerInfo is the serverInfo of the initialize (or discover) result.
type ServerInfo struct {
	Name    string `json:"name,omitempty"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version,omitempty"`
}

// AuthInfo is the authentication verdict.
type AuthInfo struct {
	Required bool   `json:"required"`
	Scheme   string `json:"scheme"`
	// Status is the HTTP status of the challenge (401, 403), 0 when none.
	Status int `json:"status,omitempty"`
	// Challenge is the WWW-Authenticate header as received (capped).
	Challenge string `json:"challenge,omitempty"`
	// ResourceMetadataURL is where the RFC 9728 metadata was looked for.
	ResourceMetadataURL string            `json:"resource_metadata_url,omitempty"`
	ResourceMetadata    *ResourceMetadata `json:"resource_metadata,omitempty"`
	// MetadataError says why the metadata could not be used.
	MetadataError string `json:"metadata_error,omitempty"`
	// AuthorizationServers is what the scan saw of each listed server.
	AuthorizationServers []AuthServer `json:"authorization_servers,omitempty"`
	// WithCredentials is true when the scan sent operator-supplied headers.
	WithCredentials bool `json:"with_credentials,omitempty"`
}

// ResourceMetadata is the part of RFC 9728 metadata the scan records.
type ResourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	ResourceName           string   `json:"resource_name,omitempty"`
}

// Tool is one tools/list entry.
type Tool struct {
	Name string `json:"name"`
	// Risk lists the risk categories of the tool (see risk.Categories).
	Risk         []string        `json:"risk,omitempty"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

// Resource is one resources/list entry.
type Resource struct {
	URI string `json:"uri"`
	// Risk lists the risk categories of the resource (sensitive files,
	// credentials).
	Risk        []string `json:"risk,omitempty"`
	Name        string   `json:"name,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	MimeType    string   `json:"mime_type,omitempty"`
}

// ResourceTemplate is one resources/templates/list entry.
type ResourceTemplate struct {
	URITemplate string `json:"uri_template"`
	// Risk lists the risk categories of the template (see Resource.Risk).
	Risk        []string `json:"risk,omitempty"`
	Name        string   `json:"name,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	MimeType    string   `json:"mime_type,omitempty"`
}

// Prompt is one prompts/list entry.
type Prompt struct {
	Name        string           `json:"name"`
	Title       string           `json:"title,omitempty"`
	Description string           `json:"description,omitempty"`
	Arguments   []PromptArgument `json:"arguments,omitempty"`
}

// PromptArgument is one argument of a prompt.
type PromptArgument struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Required    bool   `json:"required,omitempty"`
}

// RiskSummary is the union of the risk categories found on an endpoint.
type RiskSummary struct {
	Categories []string `json:"categories"`
}

// OriginCheck records how the endpoint treats a request from a foreign
// web origin.
type OriginCheck struct {
	// Validated is true when the foreign Origin was refused (403 or
	// another 4xx without an MCP answer), false when the handshake
	// succeeded anyway, null when not tested.
	Validated *bool `json:"validated"`
	// TestedWith is the Origin value sent.
	TestedWith string `json:"tested_with,omitempty"`
	// Status is the HTTP status of the answer to the foreign Origin.
	Status int `json:"status,omitempty"`
	// AllowOrigin and AllowCredentials are the CORS headers the endpoint
	// sent back to the foreign Origin.
	AllowOrigin      string `json:"allow_origin,omitempty"`
	AllowCredentials bool   `json:"allow_credentials,omitempty"`
}

// HostCheck records how the endpoint treats a foreign Host header.
type HostCheck struct {
	Validated  *bool  `json:"validated"`
	TestedWith string `json:"tested_with,omitempty"`
	Status     int    `json:"status,omitempty"`
}

// InspectorInfo describes an MCP Inspector UI or proxy.
type InspectorInfo struct {
	// Component is "ui" or "proxy".
	Component string `json:"component"`
	Version   string `json:"version,omitempty"`
	// TokenRequired is true when the proxy refused a request without its
	// session token, false when it answered, null when not determined.
	TokenRequired *bool `json:"token_required"`
	// OriginChecked is whether the proxy refused a foreign Origin (the
	// check 0.14.1 added), null when not determined.
	OriginChecked *bool  `json:"origin_checked"`
	Evidence      string `json:"evidence,omitempty"`
}

// AuthServer is what the scan saw of one authorization server listed in
// the protected resource metadata.
type AuthServer struct {
	Issuer string `json:"issuer"`
	// MetadataURL is the RFC 8414 or OIDC discovery document fetched.
	MetadataURL string `json:"metadata_url,omitempty"`
	Reachable   bool   `json:"reachable"`
	// Fetched is false when the server was not contacted (another host
	// than the target, see --follow-auth-servers).
	Fetched               bool     `json:"fetched"`
	TokenEndpoint         string   `json:"token_endpoint,omitempty"`
	AuthorizationEndpoint string   `json:"authorization_endpoint,omitempty"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported,omitempty"`
	RegistrationEndpoint  string   `json:"registration_endpoint,omitempty"`
	Error                 string   `json:"error,omitempty"`
}

// Listing says how complete the enumeration is.
type Listing struct {
	// Truncated is true when a page, item or byte cap was reached.
	Truncated bool `json:"truncated"`
	// Pages counts list requests sent, over all lists.
	Pages int `json:"pages"`
	// Errors holds per-list failures ("tools/list: ...").
	Errors []string `json:"errors,omitempty"`
}

// Summary counts a whole run.
type Summary struct {
	Schema      string         `json:"schema"`  // "mcpwarden.summary/v1"
	Targets     int64          `json:"targets"` // host:port services probed
	ByStatus    map[Status]int `json:"by_status"`
	Findings    map[string]int `json:"findings_by_severity"`
	Suppressed  int            `json:"suppressed,omitempty"` // findings a baseline accepted
	Excluded    int64          `json:"excluded"`
	Requests    int64          `json:"requests"`
	ElapsedMS   int64          `json:"elapsed_ms"`
	Interrupted bool           `json:"interrupted,omitempty"`
}

// SummarySchema is the value of Summary.Schema.
const SummarySchema = "mcpwarden.summary/v1"

// Count adds the findings of ep to the summary: suppressed ones apart.
func (s *Summary) Count(ep *Endpoint) {
	if s.Findings == nil {
		s.Findings = map[string]int{}
	}
	for _, f := range ep.Findings {
		if f.Suppressed != nil {
			s.Suppressed++
			continue
		}
		s.Findings[f.Severity.String()]++
	}
}
