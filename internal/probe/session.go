package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// rpcFunc sends one request over an established MCP channel and returns
// the response message.
type rpcFunc func(ctx context.Context, method string, params map[string]any) (*mcpwire.Message, error)

// initResult is the part of an initialize (or discover) result the prober
// reads. Fields are raw so that a hostile type mismatch in one of them does
// not hide the others.
type initResult struct {
	ProtocolVersion   string                     `json:"protocolVersion"`
	ServerInfo        json.RawMessage            `json:"serverInfo"`
	Capabilities      json.RawMessage            `json:"capabilities"`
	Instructions      json.RawMessage            `json:"instructions"`
	SupportedVersions []string                   `json:"supportedVersions"`
	Meta              map[string]json.RawMessage `json:"_meta"`
}

var versionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func decodeServerInfo(raw json.RawMessage) result.ServerInfo {
	var si struct {
		Name    any `json:"name"`
		Title   any `json:"title"`
		Version any `json:"version"`
	}
	_ = json.Unmarshal(raw, &si)
	return result.ServerInfo{Name: str(si.Name, 256), Title: str(si.Title, 256), Version: str(si.Version, 128)}
}

// str renders a JSON scalar as text, capped; other types give "".
func str(v any, max int) string {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64, bool:
		s = fmt.Sprint(x)
	}
	return capText(s, max)
}

func capabilities(raw json.RawMessage) (caps map[string]json.RawMessage, keep json.RawMessage) {
	if len(raw) == 0 || len(raw) > 64<<10 {
		return nil, nil
	}
	if json.Unmarshal(raw, &caps) != nil {
		return nil, nil
	}
	return caps, raw
}

// streamableSession runs initialize, notifications/initialized and the
// listings over streamable HTTP.
func (s *svcProbe) streamableSession(ctx context.Context, url string, creds http.Header) (*result.Endpoint, error) {
	id := s.id()
	body := mcpwire.Request(json.RawMessage(id), "initialize", map[string]any{
		"protocolVersion": version20251125,
		"capabilities":    map[string]any{},
		"clientInfo":      clientInfo(),
	})
	r, err := s.exchange(ctx, http.MethodPost, url, body, s.headers(creds), id)
	if err != nil {
		return nil, err
	}
	url = r.url
	if ep, handled := s.authOutcome(ctx, r, url); handled {
		return ep, nil
	}
	m := r.response(id)
	if m == nil || m.Result == nil || r.status >= 300 {
		return nil, nil
	}
	var ir initResult
	if json.Unmarshal(m.Result, &ir) != nil || !versionRE.MatchString(ir.ProtocolVersion) {
		return nil, nil
	}
	sessionID := r.header.Get("Mcp-Session-Id")
	if !validSessionID(sessionID) {
		sessionID = ""
	}
	ep := s.newEndpoint(url, result.TransportStreamable, ir)
	ep.MCP.Session = sessionID != ""
	s.noteCORS(ep, r.header)

	hdrFor := func() http.Header {
		h := s.headers(creds)
		if sessionID != "" {
			h.Set("Mcp-Session-Id", sessionID)
		}
		if ir.ProtocolVersion >= version20250618 {
			h.Set("MCP-Protocol-Version", ir.ProtocolVersion)
		}
		return h
	}
	if s.knownAs(ep, creds != nil) {
		if sessionID != "" {
			_, _ = s.c.send(ctx, http.MethodDelete, url, nil, hdrFor(), "")
		}
		return ep, nil
	}
	// notifications/initialized: 202 expected; the answer does not matter.
	if _, err := s.c.send(ctx, http.MethodPost, url, mcpwire.Request(nil, "notifications/initialized", nil), hdrFor(), ""); err != nil && isTimeout(err) {
		return ep, nil
	}
	rpc := func(ctx context.Context, method string, params map[string]any) (*mcpwire.Message, error) {
		id := s.id()
		r, err := s.c.send(ctx, http.MethodPost, url, mcpwire.Request(json.RawMessage(id), method, optParams(params)), hdrFor(), id)
		if err != nil {
			return nil, err
		}
		return replyMessage(r, id)
	}
	s.list(ctx, ep, rpc)
	if sessionID != "" {
		// Politeness: end the session we opened (405 is a fine answer).
		_, _ = s.c.send(ctx, http.MethodDelete, url, nil, hdrFor(), "")
	}
	return ep, nil
}

// optParams turns a nil params map into an absent "params" member: a typed
// nil map would be sent as "params": null, which strict servers (the
// TypeScript SDK) reject with 400.
func optParams(params map[string]any) any {
	if params == nil {
		return nil
	}
	return params
}

// replyMessage extracts the response with id from r, or says why there is
// none: a decoding error, or the JSON-RPC error a server sent without an id
// (the usual shape of a 400 for a request it could not parse).
func replyMessage(r *reply, id string) (*mcpwire.Message, error) {
	if m := r.response(id); m != nil {
		return m, nil
	}
	if r.decodeErr != nil {
		return nil, fmt.Errorf("HTTP %d: %w", r.status, r.decodeErr)
	}
	for i := range r.msgs {
		if e := r.msgs[i].Error; e != nil && r.msgs[i].Method == "" {
			return nil, fmt.Errorf("HTTP %d: error %d: %s", r.status, e.Code, capText(e.Message, 200))
		}
	}
	return nil, fmt.Errorf("HTTP %d without a JSON-RPC response", r.status)
}

// statelessSession lists over the 2026-07-28 stateless protocol after a
// successful server/discover. It returns nil when the server turns out not
// to accept stateless requests (a stateful server answering discover), so
// that the caller falls back to initialize.
func (s *svcProbe) statelessSession(ctx context.Context, r *reply, m *mcpwire.Message, url string, creds http.Header) *result.Endpoint {
	var ir initResult
	if json.Unmarshal(m.Result, &ir) != nil || len(ir.SupportedVersions) == 0 {
		return nil
	}
	version := ""
	for _, v := range ir.SupportedVersions {
		if v == version20260728 {
			version = v
		}
	}
	if version == "" {
		return nil
	}
	if si, ok := ir.Meta[metaServerInfo]; ok && len(ir.ServerInfo) == 0 {
		ir.ServerInfo = si
	}
	ir.ProtocolVersion = version
	ep := s.newEndpoint(url, result.TransportStateless, ir)
	ep.MCP.SupportedVersions = capList(ir.SupportedVersions, 20)
	s.noteCORS(ep, r.header)
	rpc := func(ctx context.Context, method string, params map[string]any) (*mcpwire.Message, error) {
		id := s.id()
		if params == nil {
			params = map[string]any{}
		}
		params["_meta"] = map[string]any{
			metaProtocolVersion:    version,
			metaClientInfo:         clientInfo(),
			metaClientCapabilities: map[string]any{},
		}
		hdr := s.headers(creds, "MCP-Protocol-Version", version, "Mcp-Method", method)
		r, err := s.c.send(ctx, http.MethodPost, url, mcpwire.Request(json.RawMessage(id), method, params), hdr, id)
		if err != nil {
			return nil, err
		}
		return replyMessage(r, id)
	}
	// A stateful server answers discover but rejects stateless calls with
	// -32022: probe with the first list call before committing.
	first, err := rpc(ctx, "tools/list", nil)
	if err == nil && first.Error != nil && first.Error.Code == codeUnsupportedVersion {
		return nil
	}
	if s.knownAs(ep, creds != nil) {
		return ep
	}
	s.listWithFirst(ctx, ep, rpc, first, err)
	return ep
}

func (s *svcProbe) newEndpoint(url, transport string, ir initResult) *result.Endpoint {
	caps, rawCaps := capabilities(ir.Capabilities)
	_ = caps
	var instr string
	_ = json.Unmarshal(ir.Instructions, &instr)
	return &result.Endpoint{
		URL:    url,
		Status: result.StatusMCP,
		MCP: &result.MCPInfo{
			Transport:       transport,
			ProtocolVersion: capText(ir.ProtocolVersion, 32),
			Server:          decodeServerInfo(ir.ServerInfo),
			Capabilities:    rawCaps,
			Instructions:    capText(instr, 2048),
			Confidence:      "confirmed",
		},
		Auth: &result.AuthInfo{Required: false, Scheme: result.AuthNone},
	}
}

func capList(in []string, n int) []string {
	if len(in) > n {
		in = in[:n]
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = capText(v, 32)
	}
	return out
}

// validSessionID accepts visible ASCII only, as the spec requires, capped.
func validSessionID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// trimQuotes makes "1" and 1 compare equal for servers that stringify ids.
func trimQuotes(s string) string { return strings.Trim(s, `"`) }
