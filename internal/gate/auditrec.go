package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// auditTimeout bounds one audit write.
const auditTimeout = 5 * time.Second

func (g *Gate) baseRecord(r *http.Request) *audit.Record {
	s := scopeOf(r)
	rec := &audit.Record{
		Time:       s.start.UTC(),
		RequestID:  s.id,
		ClientAddr: s.client,
		Route:      s.route.Path,
		LatencyMS:  float64(time.Since(s.start).Microseconds()) / 1000,
	}
	if s.principal != nil {
		rec.Principal = s.principal.Key()
		rec.AuthMethod = s.principal.Method
	}
	if sid := r.Header.Get(headerSession); sid != "" {
		rec.Session = sessionDigest(sid)
	} else if tok := r.URL.Query().Get(legacyQuery); tok != "" {
		rec.Session = sessionDigest(tok)
	}
	return rec
}

// auditCall writes the record of one JSON-RPC message.
func (g *Gate) auditCall(r *http.Request, c *Call, ex *exchange, decision, reason string) {
	if g.opts.Audit == nil {
		return
	}
	rec := g.baseRecord(r)
	rec.RPCID = rawID(c.ID)
	rec.Method = c.Method
	rec.Name = c.Name
	rec.ArgsDigest = audit.Digest(c.Args)
	if g.opts.AuditArgs {
		rec.Args = g.auditArgs(c.Args)
	}
	rec.Decision = decision
	rec.Reason = reason
	rec.Upstream = ex.status
	rec.BytesIn = ex.bytesIn
	rec.BytesOut = ex.bytesOut
	g.writeAudit(r, rec)
}

// auditArgs decodes raw arguments for the audit record and redacts them.
// Arguments that are not a JSON object (the protocol wants one) are kept
// under the key "_raw" as their JSON text, redacted the same way when they
// are an array of objects.
func (g *Gate) auditArgs(raw json.RawMessage) map[string]any {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as the client sent them
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil // Inspect accepted the body, so this does not happen
	}
	fields := g.redactFields()
	if m, ok := v.(map[string]any); ok {
		return audit.Redact(m, fields)
	}
	return audit.Redact(map[string]any{"_raw": v}, fields)
}

// redactFields are the default credential field names plus the
// operator's.
func (g *Gate) redactFields() []string {
	return append(slices.Clip(audit.DefaultRedactFields), g.opts.AuditRedact...)
}

// auditAll writes one record per message of an exchange.
func (g *Gate) auditAll(r *http.Request, ex *exchange, decision, reason string) {
	for i := range ex.calls {
		g.auditCall(r, &ex.calls[i], ex, decision, reason)
	}
}

// auditHTTP records a request refused before its body was read.
func (g *Gate) auditHTTP(r *http.Request, status int, reason string, bytesOut int64) {
	if g.opts.Audit == nil {
		return
	}
	rec := g.baseRecord(r)
	rec.Decision = "deny"
	if status >= 500 {
		rec.Decision = "error"
	}
	rec.Reason = reason
	rec.BytesOut = bytesOut
	g.writeAudit(r, rec)
}

func (g *Gate) writeAudit(r *http.Request, rec *audit.Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), auditTimeout)
	defer cancel()
	if err := g.opts.Audit.Write(ctx, rec); err != nil {
		g.log.Error("gate: audit write failed", "request_id", rec.RequestID, "err", err)
	}
}
