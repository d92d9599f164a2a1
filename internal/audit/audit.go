// Package audit records one entry per JSON-RPC request that passes through
// the gate (who, what, decision, outcome) to durable sinks, and reads them
// back for 'mcpwarden audit'. Credentials never enter a record.
package audit

import (
	"context"
	"time"
)

// Record is one audited JSON-RPC request.
type Record struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`       // the gate's id for the HTTP request
	RPCID      string    `json:"rpc_id,omitempty"` // the JSON-RPC id, as sent
	Principal  string    `json:"principal"`        // auth.Principal.Key()
	AuthMethod string    `json:"auth_method"`      // oauth, apikey, mtls, none
	ClientAddr string    `json:"client_addr"`
	Session    string    `json:"session,omitempty"` // a digest of the session id, never the id
	Route      string    `json:"route,omitempty"`
	Method     string    `json:"method"`         // tools/call, tools/list, ...
	Name       string    `json:"name,omitempty"` // tool, resource URI or prompt name
	// ArgsDigest is the SHA-256 of the canonical JSON arguments; Args is
	// set only when the operator opts in, with configured fields redacted.
	ArgsDigest string         `json:"args_digest,omitempty"`
	Args       map[string]any `json:"args,omitempty"`
	Decision   string         `json:"decision"` // allow, deny, error
	Reason     string         `json:"reason,omitempty"`
	Upstream   int            `json:"upstream_status,omitempty"`
	LatencyMS  float64        `json:"latency_ms"`
	BytesIn    int64          `json:"bytes_in"`
	BytesOut   int64          `json:"bytes_out"`
}

// Sink stores records. Write must be safe for concurrent use; when the sink
// is durable, Write returns only once the record is on stable storage.
type Sink interface {
	Write(ctx context.Context, r *Record) error
	Close() error
}
