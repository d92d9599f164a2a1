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

	Findings  []finding.Finding `json:"findings"`
	ScannedAt time.Time         `json:"scanned_at"`
	ElapsedMS int64             `json:"elapsed_ms"`
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
	Name         string          `json:"name"`
	Title        string          `json:"title,omitempty"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	OutputSchema json.RawMessage `json:"output_schema,omitempty"`
	Annotations  json.RawMessage `json:"annotations,omitempty"`
}

// Resource is one resources/list entry.
type Resource struct {
	URI         string `json:"uri"`
	Name        string `json:"name,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mime_type,omitempty"`
}

// ResourceTemplate is one resources/templates/list entry.
type ResourceTemplate struct {
	URITemplate string `json:"uri_template"`
	Name        string `json:"name,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	MimeType    string `json:"mime_type,omitempty"`
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
	Excluded    int64          `json:"excluded"`
	Requests    int64          `json:"requests"`
	ElapsedMS   int64          `json:"elapsed_ms"`
	Interrupted bool           `json:"interrupted,omitempty"`
}

// SummarySchema is the value of Summary.Schema.
const SummarySchema = "mcpwarden.summary/v1"
