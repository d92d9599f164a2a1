package risk

import "github.com/mcpwarden/mcpwarden/internal/finding"

// The risk categories: what a tool or resource lets a caller do. The ids
// are stable: they appear in the JSON Lines record (Tool.Risk,
// Resource.Risk, Endpoint.Risk) and in the rules file.
const (
	// CommandExec: run shell commands, scripts or code (also in a
	// container, a pod or a browser page).
	CommandExec = "command-exec"
	// DBQuery: read from a database (queries, schema listings).
	DBQuery = "db-query"
	// DBWrite: insert, update or delete rows or keys, or change a schema.
	// A tool that runs arbitrary SQL is both DBQuery and DBWrite.
	DBWrite = "db-write"
	// FileRead: read files, directory listings or file metadata from the
	// server's file system at a caller-chosen path, or read source
	// repository contents.
	FileRead = "file-read"
	// FileWrite: create, modify, move or delete files, on the server's file
	// system or in a source repository (commits, pushes, staging).
	FileWrite = "file-write"
	// Secrets: read or manage secrets, credentials, keys, certificates or
	// the process environment.
	Secrets = "secrets"
	// CloudInfra: act on cloud accounts, clusters, containers or CI/CD
	// pipelines (AWS, GCP, Azure, Kubernetes, Docker, workflow runs),
	// reads included.
	CloudInfra = "cloud-infra"
	// NetworkFetch: make the server connect to a URL, host or connection
	// string the caller chooses (SSRF). Calling one fixed API is not this.
	NetworkFetch = "network-fetch"
	// Messaging: send, post, draft or read chat messages, email or SMS on
	// someone's behalf.
	Messaging = "messaging"
	// Payments: act on a payment provider account: payments, refunds,
	// payment links, invoices, subscriptions, customers, balances.
	Payments = "payments"
	// Destructive: delete, overwrite, kill or irreversibly change data or
	// resources. See ClassifyTool for how destructiveHint is weighed.
	Destructive = "destructive"
)

// Category describes one risk category.
type Category struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Tier is the severity a finding about this category starts from:
	// Critical for categories that change or take over the host, its data,
	// money or credentials; High for reads and outbound requests.
	Tier finding.Severity `json:"tier"`
}

var categories = []Category{
	{CommandExec, "runs shell commands, scripts or code", finding.Critical},
	{DBQuery, "reads from a database", finding.High},
	{DBWrite, "writes to a database or changes its schema", finding.Critical},
	{FileRead, "reads files or directory listings at a caller-chosen path", finding.High},
	{FileWrite, "creates, changes, moves or deletes files", finding.Critical},
	{Secrets, "reads or manages secrets, credentials or the environment", finding.Critical},
	{CloudInfra, "acts on cloud accounts, clusters, containers or pipelines", finding.Critical},
	{NetworkFetch, "makes the server fetch a caller-chosen URL or host (SSRF)", finding.High},
	{Messaging, "sends or reads messages, email or chat", finding.High},
	{Payments, "acts on a payment provider account", finding.Critical},
	{Destructive, "deletes, overwrites or kills data or resources", finding.Critical},
}

// Categories returns every category in a stable order (a copy).
func Categories() []Category {
	out := make([]Category, len(categories))
	copy(out, categories)
	return out
}

// IsCategory reports whether id is a known category id.
func IsCategory(id string) bool {
	for _, c := range categories {
		if c.ID == id {
			return true
		}
	}
	return false
}

// Tier returns the severity tier of a category: Critical or High. An
// unknown id gets High, so that a category added to the rules before the
// severity matrix knows it is not silently ignored.
func Tier(cat string) finding.Severity {
	for _, c := range categories {
		if c.ID == cat {
			return c.Tier
		}
	}
	return finding.High
}
