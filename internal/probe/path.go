package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Protocol revisions the prober speaks.
const (
	version20260728 = "2026-07-28"
	version20251125 = "2025-11-25"
	version20250618 = "2025-06-18"
)

const (
	metaProtocolVersion    = "io.modelcontextprotocol/protocolVersion"
	metaClientInfo         = "io.modelcontextprotocol/clientInfo"
	metaClientCapabilities = "io.modelcontextprotocol/clientCapabilities"
	metaServerInfo         = "io.modelcontextprotocol/serverInfo"

	codeUnsupportedVersion = -32022
)

// svcProbe is the state of probing one host:port.
type svcProbe struct {
	p           *Prober
	svc         target.Service
	c           *client
	schemeFixed bool // the scheme came from the target, or an exchange proved it
	nextID      int

	// found are the endpoints found so far on this port, in path order;
	// aliasOf maps an endpoint that turned out to be one of them, found
	// again on another path, to it (see knownAs).
	found   []*result.Endpoint
	aliasOf map[*result.Endpoint]*result.Endpoint

	// cors holds the CORS headers of the answer that identified each
	// endpoint (see webChecks); authServers caches what was seen of each
	// authorization server, by issuer (see authServersOf).
	cors        map[*result.Endpoint]corsSeen
	authServers map[string]result.AuthServer
}

func (s *svcProbe) id() string {
	s.nextID++
	return itoa(s.nextID)
}

// pathOutcome is what probing one path found.
type pathOutcome struct {
	ep    *result.Endpoint // an MCP endpoint, open or protected
	first *reply           // the first HTTP answer on this path
	err   error            // a transport error that ended the path
}

func clientInfo() map[string]any {
	return map[string]any{"name": ClientName, "version": Version}
}

// probePath runs, on one path, the 2026-07-28 discover probe, the
// streamable initialize handshake and the legacy SSE handshake, stopping at
// the first that identifies MCP. When an endpoint demands authentication
// and the operator gave headers, the path is probed again with them.
func (s *svcProbe) probePath(ctx context.Context, path string) pathOutcome {
	out := s.probePathWith(ctx, path, nil)
	if out.ep == nil || out.ep.Auth == nil || !out.ep.Auth.Required || len(s.p.opts.Headers) == 0 {
		return out
	}
	again := s.probePathWith(ctx, pathOf(out.ep.URL), s.p.opts.Headers)
	if again.ep != nil && (again.ep.Auth == nil || !again.ep.Auth.Required) {
		again.ep.Auth = out.ep.Auth
		again.ep.Auth.WithCredentials = true
		again.first = out.first
		return again
	}
	// The verdict stays the unauthenticated one; the rejection is said in
	// Error, not in MetadataError, which is about the server's metadata.
	out.ep.Auth.WithCredentials = true
	switch {
	case again.ep != nil && again.ep.Auth != nil:
		out.ep.Error = fmt.Sprintf("the supplied credentials were rejected (HTTP %d)", again.ep.Auth.Status)
	case again.err != nil:
		_, msg := classify(again.err)
		out.ep.Error = "the retry with the supplied credentials failed: " + msg
	default:
		out.ep.Error = "with the supplied credentials the endpoint did not answer as MCP"
	}
	return out
}

func (s *svcProbe) probePathWith(ctx context.Context, path string, creds http.Header) pathOutcome {
	url := s.c.urlFor(path)
	var out pathOutcome
	var supported []string

	// 1. server/discover, the 2026-07-28 stateless probe.
	id := s.id()
	body := mcpwire.Request(json.RawMessage(id), "server/discover", map[string]any{
		"_meta": map[string]any{
			metaProtocolVersion:    version20260728,
			metaClientInfo:         clientInfo(),
			metaClientCapabilities: map[string]any{},
		},
	})
	hdr := s.headers(creds, "MCP-Protocol-Version", version20260728, "Mcp-Method", "server/discover")
	r, err := s.exchange(ctx, http.MethodPost, url, body, hdr, id)
	if err != nil {
		out.err = err
		return out
	}
	out.first = r
	url = r.url
	if ep, handled := s.authOutcome(ctx, r, url); handled {
		out.ep = ep
		return out
	}
	if m := r.response(id); m != nil {
		if m.Result != nil {
			if ep := s.statelessSession(ctx, r, m, url, creds); ep != nil {
				out.ep = ep
				return out
			}
		} else if m.Error != nil && m.Error.Code == codeUnsupportedVersion {
			var d struct {
				Supported []string `json:"supported"`
			}
			if json.Unmarshal(m.Error.Data, &d) == nil {
				supported = d.Supported
			}
		}
	}
	skipPost := (r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed) && !r.anyJSONRPC()

	// 2. initialize, the streamable HTTP handshake (2025-03-26 .. 2025-11-25).
	if !skipPost {
		ep, err := s.streamableSession(ctx, url, creds)
		if err != nil && !isTimeout(err) {
			err = nil // a failed POST does not rule out SSE on GET
		}
		if ep != nil {
			if ep.MCP != nil && len(supported) > 0 && len(ep.MCP.SupportedVersions) == 0 {
				ep.MCP.SupportedVersions = supported
			}
			out.ep = ep
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
	}

	// 3. GET with Accept: text/event-stream, the legacy HTTP+SSE transport.
	ep, err := s.sseSession(ctx, url, creds)
	if ep != nil {
		out.ep = ep
		return out
	}
	if err != nil && isTimeout(err) {
		out.err = err
	}
	return out
}

// headers builds request headers: the operator's credentials when asked
// for, plus the given key/value pairs.
func (s *svcProbe) headers(creds http.Header, kv ...string) http.Header {
	h := http.Header{}
	for k, vs := range creds {
		h[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", "application/json, text/event-stream")
	}
	return h
}

// exchange sends one request and, while the scheme is unproven, switches
// between http and https once when the answer shows the other one is spoken.
func (s *svcProbe) exchange(ctx context.Context, method, url string, body []byte, hdr http.Header, wantID string) (*reply, error) {
	r, err := s.c.send(ctx, method, url, body, hdr, wantID)
	if s.schemeFixed {
		return r, err
	}
	if err != nil && isDialError(err) {
		return r, err
	}
	other := ""
	if s.c.scheme == "http" && looksLikeTLS(r, err) {
		other = "https"
	} else if s.c.scheme == "https" && err != nil && looksLikePlain(err) {
		other = "http"
	}
	if other == "" {
		if err == nil {
			s.schemeFixed = true
		}
		return r, err
	}
	old := s.c.scheme
	s.c.scheme = other
	url = other + strings.TrimPrefix(url, old)
	r2, err2 := s.c.send(ctx, method, url, body, hdr, wantID)
	if err2 == nil {
		s.schemeFixed = true
		return r2, nil
	}
	// Neither worked: keep the first error, which is the more telling.
	s.c.scheme = old
	return r, err
}

func isDialError(err error) bool {
	st, _ := classify(err)
	return st == result.StatusClosed || st == result.StatusTimeout && strings.Contains(err.Error(), "dial")
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
