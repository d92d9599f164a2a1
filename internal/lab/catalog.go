package lab

import (
	"context"
	"fmt"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The serverInfo of each MCP kind. Names and versions differ per kind so
// that a test can tell which server answered.
const (
	OpenServerName               = "acme-ops" // KindOpenStreamable
	OpenServerVersion            = "2.4.1"
	StatelessServerName          = "acme-analytics" // KindOpenStateless
	StatelessServerVersion       = "1.3.0"
	SSEServerName                = "acme-legacy-ops" // KindOpenSSE
	SSEServerVersion             = "0.9.2"
	OAuthServerName              = "acme-crm" // KindOAuth
	OAuthServerVersion           = "3.2.0"
	OAuthNoMetadataServerName    = "acme-wiki" // KindOAuthNoMetadata
	OAuthNoMetadataServerVersion = "1.0.4"
	BasicServerName              = "acme-admin" // KindBasic
	BasicServerVersion           = "0.4.0"
	ModernServerName             = "acme-edge" // KindModern
	ModernServerVersion          = "2026.7.0"
)

// Tool names. [ToolNames] says which kind lists which.
const (
	ToolQueryDatabase   = "query_database"
	ToolRunShellCommand = "run_shell_command"
	ToolReadFile        = "read_file"
	ToolListDeployments = "list_deployments"
	ToolExportReport    = "export_report"
	ToolGetSecret       = "get_secret"
	ToolSearchCustomers = "search_customers"
	ToolUpdateCustomer  = "update_customer"
	ToolSearchWiki      = "search_wiki"
	ToolPurgeCache      = "purge_cache"
)

// QueryDatabaseDescription is the description of [ToolQueryDatabase].
const QueryDatabaseDescription = "Run a read/write SQL query against the production Postgres"

// Resources, resource template and prompt of the kinds that have them
// (see [HasResources]).
const (
	ResourceConfigURI     = "file:///etc/app/config.yaml"
	ResourceSchemaURI     = "postgres://db.internal:5432/app_production/schema"
	ResourceTemplateLogs  = "file:///var/log/acme/{service}.log"
	PromptIncidentSummary = "incident_summary"
)

// ExtraToolName is the name of the i-th extra tool (1-based), e.g.
// extra_tool_00001. The SDK lists all tools sorted by name, so extra tools
// may come before or between catalogue tools.
func ExtraToolName(i int) string { return fmt.Sprintf("extra_tool_%05d", i) }

// profile is what one kind's MCP server exposes.
type profile struct {
	name, title, version string
	instructions         string
	tools                []string // sorted, as tools/list returns them
	resources            bool     // the two resources, the template and the prompt
}

// profiles holds the MCP kinds; KindWeb has none.
var profiles = map[Kind]profile{
	KindOpenStreamable: {
		name: OpenServerName, title: "Acme Ops", version: OpenServerVersion,
		instructions: "Internal operations tools for the Acme platform team: SQL, shell and file access on production.",
		tools:        []string{ToolListDeployments, ToolQueryDatabase, ToolReadFile, ToolRunShellCommand},
		resources:    true,
	},
	KindOpenStateless: {
		name: StatelessServerName, title: "Acme Analytics", version: StatelessServerVersion,
		instructions: "Analytics helpers: ad-hoc SQL on the production replica and report exports.",
		tools:        []string{ToolExportReport, ToolQueryDatabase, ToolReadFile, ToolRunShellCommand},
		resources:    true,
	},
	KindOpenSSE: {
		name: SSEServerName, title: "Acme Ops (legacy)", version: SSEServerVersion,
		instructions: "Legacy operations server kept for old agents. Prefer acme-ops.",
		tools:        []string{ToolGetSecret, ToolQueryDatabase, ToolReadFile, ToolRunShellCommand},
		resources:    true,
	},
	KindOAuth: {
		name: OAuthServerName, title: "Acme CRM", version: OAuthServerVersion,
		instructions: "Customer records. Requires an access token with scope " + OAuthScope + ".",
		tools:        []string{ToolQueryDatabase, ToolSearchCustomers, ToolUpdateCustomer},
		resources:    true,
	},
	KindOAuthNoMetadata: {
		name: OAuthNoMetadataServerName, title: "Acme Wiki", version: OAuthNoMetadataServerVersion,
		instructions: "Search the internal wiki.",
		tools:        []string{ToolSearchWiki},
	},
	KindBasic: {
		name: BasicServerName, title: "Acme Admin", version: BasicServerVersion,
		instructions: "Administration console tools.",
		tools:        []string{ToolQueryDatabase, ToolReadFile, ToolRunShellCommand},
		resources:    true,
	},
	KindModern: {
		name: ModernServerName, title: "Acme Edge", version: ModernServerVersion,
		instructions: "Edge cache and data tools (MCP " + ModernProtocolVersion + " only).",
		tools:        []string{ToolPurgeCache, ToolQueryDatabase},
		resources:    true,
	},
}

// ToolNames returns the exact tool names a server of kind k lists without
// extra tools, in listing order (sorted). It returns nil for KindWeb and
// unknown kinds.
func ToolNames(k Kind) []string {
	p, ok := profiles[k]
	if !ok {
		return nil
	}
	return slices.Clone(p.tools)
}

// HasResources reports whether a server of kind k lists the resources
// [ResourceConfigURI] and [ResourceSchemaURI], the template
// [ResourceTemplateLogs] and the prompt [PromptIncidentSummary].
func HasResources(k Kind) bool { return profiles[k].resources }

// Tool input types. The SDK infers each input schema from them: a field
// without omitempty is required.
type (
	queryDatabaseIn struct {
		SQL      string `json:"sql" jsonschema:"the SQL statement to execute; writes are committed"`
		Database string `json:"database,omitempty" jsonschema:"database name, default app_production"`
		MaxRows  int    `json:"max_rows,omitempty" jsonschema:"maximum number of rows to return"`
	}
	runShellCommandIn struct {
		Command        string `json:"command" jsonschema:"the command line, run with /bin/sh -c"`
		WorkingDir     string `json:"working_dir,omitempty" jsonschema:"working directory, default /srv/app"`
		TimeoutSeconds int    `json:"timeout_seconds,omitempty" jsonschema:"kill the command after this many seconds"`
	}
	readFileIn struct {
		Path string `json:"path" jsonschema:"absolute path of the file to read"`
	}
	listDeploymentsIn struct {
		Environment string `json:"environment,omitempty" jsonschema:"production, staging or dev"`
	}
	exportReportIn struct {
		Query  string `json:"query" jsonschema:"SQL producing the report rows"`
		Format string `json:"format,omitempty" jsonschema:"csv or xlsx"`
		Email  string `json:"email,omitempty" jsonschema:"send the report to this address"`
	}
	getSecretIn struct {
		Path string `json:"path" jsonschema:"Vault KV v2 path, e.g. secret/data/prod/db"`
	}
	searchCustomersIn struct {
		Query string `json:"query" jsonschema:"name, email or customer id"`
		Limit int    `json:"limit,omitempty" jsonschema:"maximum number of results"`
	}
	updateCustomerIn struct {
		CustomerID string            `json:"customer_id" jsonschema:"the customer to update"`
		Fields     map[string]string `json:"fields" jsonschema:"field names and their new values"`
	}
	searchWikiIn struct {
		Query string `json:"query" jsonschema:"full-text search terms"`
	}
	purgeCacheIn struct {
		Pattern string `json:"pattern" jsonschema:"URL glob to purge from every edge node"`
	}
)

func ptr[T any](v T) *T { return &v }

// addTool registers one of the catalogue tools on srv.
func addTool(srv *mcp.Server, name string) {
	switch name {
	case ToolQueryDatabase:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: QueryDatabaseDescription,
			Annotations: &mcp.ToolAnnotations{Title: "Query production database",
				DestructiveHint: ptr(true), OpenWorldHint: ptr(false)},
		}, canned[queryDatabaseIn](name))
	case ToolRunShellCommand:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Execute a shell command on the application host and return stdout and stderr",
			Annotations: &mcp.ToolAnnotations{Title: "Run shell command",
				DestructiveHint: ptr(true), OpenWorldHint: ptr(true)},
		}, canned[runShellCommandIn](name))
	case ToolReadFile:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Read a file from the application host's filesystem",
			Annotations: &mcp.ToolAnnotations{Title: "Read file", ReadOnlyHint: true,
				IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[readFileIn](name))
	case ToolListDeployments:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "List the services deployed in an environment with their versions",
			Annotations: &mcp.ToolAnnotations{Title: "List deployments", ReadOnlyHint: true,
				IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[listDeploymentsIn](name))
	case ToolExportReport:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Run a query on the production replica and export the rows as a report, optionally by email",
			Annotations: &mcp.ToolAnnotations{Title: "Export report",
				DestructiveHint: ptr(false), OpenWorldHint: ptr(true)},
		}, canned[exportReportIn](name))
	case ToolGetSecret:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Fetch a secret from HashiCorp Vault by path",
			Annotations: &mcp.ToolAnnotations{Title: "Get secret", ReadOnlyHint: true,
				IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[getSecretIn](name))
	case ToolSearchCustomers:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Search customer records by name, email or id",
			Annotations: &mcp.ToolAnnotations{Title: "Search customers", ReadOnlyHint: true,
				IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[searchCustomersIn](name))
	case ToolUpdateCustomer:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Update fields of a customer record",
			Annotations: &mcp.ToolAnnotations{Title: "Update customer",
				DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[updateCustomerIn](name))
	case ToolSearchWiki:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Full-text search over the internal wiki",
			Annotations: &mcp.ToolAnnotations{Title: "Search wiki", ReadOnlyHint: true,
				IdempotentHint: true, OpenWorldHint: ptr(false)},
		}, canned[searchWikiIn](name))
	case ToolPurgeCache:
		mcp.AddTool(srv, &mcp.Tool{
			Name:        name,
			Description: "Purge cached objects matching a URL pattern from every edge node",
			Annotations: &mcp.ToolAnnotations{Title: "Purge CDN cache",
				DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(true)},
		}, canned[purgeCacheIn](name))
	default:
		// The catalogue and the profiles are constants of this package.
		panic("lab: no tool named " + name)
	}
}

// extraToolSchema is the input schema of every extra tool.
var extraToolSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		"id": map[string]any{"type": "string", "description": "record id"},
	},
	"required": []string{"id"},
}

// addExtraTools registers n generated tools for big listings.
func addExtraTools(srv *mcp.Server, n int) {
	for i := 1; i <= n; i++ {
		name := ExtraToolName(i)
		srv.AddTool(&mcp.Tool{
			Name:        name,
			Description: fmt.Sprintf("Generated tool %d of %d for listing tests", i, n),
			InputSchema: extraToolSchema,
			Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
		}, func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return cannedResult(name), nil
		})
	}
}

// canned returns a typed handler that does nothing and says so.
func canned[In any](name string) mcp.ToolHandlerFor[In, any] {
	return func(context.Context, *mcp.CallToolRequest, In) (*mcp.CallToolResult, any, error) {
		return cannedResult(name), nil, nil
	}
}

func cannedResult(name string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{
		Text: "lab server: " + name + " is not executed; this is a canned response",
	}}}
}

// cannedConfig is the text of ResourceConfigURI. It holds no real secret.
const cannedConfig = `service: acme-api
environment: production
database:
  host: db.internal
  name: app_production
  user: app
  password: lab-placeholder-not-a-secret
`

// addResources registers the resources, the template and the prompt.
func addResources(srv *mcp.Server) {
	srv.AddResource(&mcp.Resource{
		URI:         ResourceConfigURI,
		Name:        "app-config",
		Title:       "Application configuration",
		Description: "The production configuration file of acme-api, including database credentials",
		MIMEType:    "application/yaml",
	}, textResource(cannedConfig, "application/yaml"))
	srv.AddResource(&mcp.Resource{
		URI:         ResourceSchemaURI,
		Name:        "production-schema",
		Title:       "Production database schema",
		Description: "Tables and columns of the production Postgres database",
		MIMEType:    "text/plain",
	}, textResource("users(id, email, password_hash)\norders(id, user_id, total)\n", "text/plain"))
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		URITemplate: ResourceTemplateLogs,
		Name:        "service-log",
		Title:       "Service log",
		Description: "The current log file of a service",
		MIMEType:    "text/plain",
	}, textResource("lab server: canned log line\n", "text/plain"))
	srv.AddPrompt(&mcp.Prompt{
		Name:        PromptIncidentSummary,
		Title:       "Incident summary",
		Description: "Summarise an incident from its timeline and logs",
		Arguments: []*mcp.PromptArgument{
			{Name: "incident_id", Description: "the incident identifier", Required: true},
			{Name: "audience", Description: "engineering or executive"},
		},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		return &mcp.GetPromptResult{
			Description: "Incident summary",
			Messages: []*mcp.PromptMessage{{
				Role:    "user",
				Content: &mcp.TextContent{Text: "Summarise incident " + req.Params.Arguments["incident_id"] + "."},
			}},
		}, nil
	})
}

// textResource returns a handler answering any URI with fixed text.
func textResource(text, mime string) mcp.ResourceHandler {
	return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
		return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{
			URI: req.Params.URI, MIMEType: mime, Text: text,
		}}}, nil
	}
}
