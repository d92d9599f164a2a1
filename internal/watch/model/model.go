// Package model holds the data shared by the watch store and the diff
// engine: events and their types, the last known state of every endpoint,
// observations, tool definitions with their content hashes, and the rules
// that say which observations count as a baseline for which comparison.
package model

import (
	"encoding/json"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Type is the type of an event.
type Type string

// The event types. They are part of the output format: never renamed.
const (
	EndpointNew     Type = "endpoint.new"
	EndpointGone    Type = "endpoint.gone"
	AuthDropped     Type = "auth.dropped"
	AuthAdded       Type = "auth.added"
	ToolAdded       Type = "tool.added"
	ToolRemoved     Type = "tool.removed"
	ToolChanged     Type = "tool.changed"
	FindingNew      Type = "finding.new"
	FindingResolved Type = "finding.resolved"
	TLSExpiring     Type = "tls.expiring"
	// ConnectionExternal, ConnectionBypass and IndexNew come from the
	// connection sampler and the exposure groups (see sources.go).
	ConnectionExternal Type = "connection.external"
	ConnectionBypass   Type = "connection.bypass"
	IndexNew           Type = "index.new"
)

// Types lists every event type in a stable order.
var Types = []Type{
	EndpointNew, EndpointGone, AuthDropped, AuthAdded, ToolAdded, ToolRemoved,
	ToolChanged, FindingNew, FindingResolved, TLSExpiring,
	ConnectionExternal, ConnectionBypass, IndexNew,
}

// Valid reports whether t is one of Types.
func (t Type) Valid() bool {
	for _, v := range Types {
		if t == v {
			return true
		}
	}
	return false
}

// Event is one change between two runs.
type Event struct {
	// ID is assigned by the store; 0 before the event is stored.
	ID   int64     `json:"id,omitempty"`
	Time time.Time `json:"time"`
	Type Type      `json:"type"`
	URL  string    `json:"url"`
	// Subject names what the event is about inside the endpoint: a tool
	// name, a rule id, a host:port for a certificate; empty for events
	// about the endpoint itself.
	Subject string `json:"subject,omitempty"`
	// Detail is a JSON object whose fields depend on Type.
	Detail json.RawMessage `json:"detail"`
	// RunID is the run that stored the event; 0 before it is stored.
	RunID int64 `json:"run,omitempty"`
	// Key is the deduplication key: storing two events with the same key
	// keeps the first one only.
	Key string `json:"key"`
}

// State is the last known state of a set of endpoints, keyed by URL.
type State struct {
	Endpoints map[string]*EndpointState
}

// EndpointState is what is known of one endpoint before a run: its
// presence and the observations each comparison uses as its baseline.
// Any of the observations may be nil.
type EndpointState struct {
	URL       string
	FirstSeen time.Time
	// LastSeen is the time of the last observation in which something
	// answered (see Answered).
	LastSeen time.Time
	// Present is true between an endpoint.new event and the next
	// endpoint.gone event.
	Present bool
	// PresentSince is the time of the last endpoint.new or endpoint.gone
	// event; zero before the first one.
	PresentSince time.Time

	// Latest is the last stored observation, whatever its status.
	Latest *Observation
	// MCP is the last observation with status mcp (the auth baseline).
	MCP *Observation
	// Listed is the last observation whose tools were listed (the tool
	// baseline, see ToolsListed).
	Listed *Observation
	// Conclusive is the last conclusive observation (the findings
	// baseline, see Conclusive).
	Conclusive *Observation
}

// Observation is one endpoint as one run saw it.
type Observation struct {
	ID       int64         `json:"id"`
	RunID    int64         `json:"run"`
	URL      string        `json:"url"`
	Observed time.Time     `json:"observed"`
	Status   result.Status `json:"status"`
	// AuthRequired and AuthScheme repeat Endpoint.Auth ("" when the
	// record has no auth verdict).
	AuthRequired bool   `json:"auth_required"`
	AuthScheme   string `json:"auth_scheme,omitempty"`
	// Tools are the tool definitions of the record with their hashes.
	Tools []ToolDef `json:"tools,omitempty"`
	// Findings are the rule ids and severities of the record's findings.
	Findings []FindingRef `json:"findings,omitempty"`
	// Endpoint is the whole scan record.
	Endpoint *result.Endpoint `json:"endpoint"`
}

// ToolDef is a tool definition reduced to what is hashed.
type ToolDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	Annotations json.RawMessage `json:"annotations,omitempty"`
	// Hash is ToolHash of the definition (hex sha256).
	Hash string `json:"hash"`
}

// FindingRef is a finding as the store indexes it.
type FindingRef struct {
	Rule       string `json:"rule"`
	Severity   string `json:"severity"`
	Suppressed bool   `json:"suppressed,omitempty"`
}

// ObservationOf builds the observation of ep seen at observed (ep.ScannedAt
// when observed is zero). The tool hashes are computed here.
func ObservationOf(ep *result.Endpoint, observed time.Time) *Observation {
	if observed.IsZero() {
		observed = ep.ScannedAt
	}
	o := &Observation{URL: ep.URL, Observed: observed, Status: ep.Status, Endpoint: ep}
	if ep.Auth != nil {
		o.AuthRequired, o.AuthScheme = ep.Auth.Required, ep.Auth.Scheme
	}
	for _, t := range ep.Tools {
		o.Tools = append(o.Tools, ToolDefOf(t))
	}
	for _, f := range ep.Findings {
		o.Findings = append(o.Findings, FindingRef{Rule: f.Rule, Severity: f.Severity.String(), Suppressed: f.Suppressed != nil})
	}
	return o
}

// ToolDefOf reduces t to its hashed definition.
func ToolDefOf(t result.Tool) ToolDef {
	d := ToolDef{Name: t.Name, Description: t.Description, InputSchema: t.InputSchema, Annotations: t.Annotations}
	d.Hash = ToolHash(d)
	return d
}
