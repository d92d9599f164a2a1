package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

const version20241105 = "2024-11-05"

// sseEvent is one event, or the error that ended the stream.
type sseEvent struct {
	ev  mcpwire.Event
	err error
}

// sseSession opens GET url as an event stream and, when its first event is
// the legacy transport's "endpoint" event, runs the handshake and listings
// by POSTing to that endpoint and reading replies from the stream.
func (s *svcProbe) sseSession(ctx context.Context, rawURL string, creds http.Header) (*result.Endpoint, error) {
	if err := s.p.wait(ctx); err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("probe: build request: %w", err)
	}
	req.Header = s.headers(creds, "Accept", "text/event-stream")
	req.Header.Set("User-Agent", s.p.opts.UserAgent)
	s.p.counted()
	// The stream stays open for the whole handshake, so the request
	// timeout applies to each wait, not to the stream: a timer cancels
	// a server that never sends headers.
	headerTimer := time.AfterFunc(s.p.opts.RequestTimeout, cancel)
	resp, err := s.c.hc.Do(req)
	headerTimer.Stop()
	if err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("probe: GET %s: %w", redactString(rawURL), context.DeadlineExceeded)
		}
		return nil, err
	}
	defer resp.Body.Close()
	rawURL = resp.Request.URL.String()
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		b, _ := mcpwire.ReadAll(io.LimitReader(resp.Body, 4096), 4096)
		r := &reply{url: rawURL, status: resp.StatusCode, header: resp.Header, contentType: ct, body: b}
		if len(b) > 0 && b[0] == '{' {
			r.msgs, r.decodeErr = mcpwire.Decode(b)
		}
		ep, _ := s.authOutcome(ctx, r, rawURL)
		return ep, nil
	}
	if resp.StatusCode != http.StatusOK || !strings.EqualFold(ct, "text/event-stream") || encoded(resp.Header) {
		// The wait is bounded like every other: the stream's context has
		// no timeout of its own here.
		t := time.AfterFunc(s.p.opts.RequestTimeout, cancel)
		drain(resp)
		t.Stop()
		return nil, nil
	}
	events := make(chan sseEvent, 16)
	go func() {
		defer close(events)
		sr := mcpwire.NewSSEReader(resp.Body, 256<<10, s.p.opts.MaxBodyBytes)
		for {
			ev, err := sr.Next()
			select {
			case events <- sseEvent{ev, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// next waits for the next event until deadline: one request timeout
	// per exchange, so that a stream of pings, comments and notifications
	// cannot hold a reply back until the service deadline.
	next := func(deadline time.Time) (mcpwire.Event, error) {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case e, ok := <-events:
			if !ok {
				return mcpwire.Event{}, io.EOF
			}
			return e.ev, e.err
		case <-t.C:
			return mcpwire.Event{}, fmt.Errorf("probe: waiting for an event: %w", context.DeadlineExceeded)
		case <-ctx.Done():
			return mcpwire.Event{}, ctx.Err()
		}
	}
	first, err := next(time.Now().Add(s.p.opts.RequestTimeout))
	if err != nil || first.Type != "endpoint" {
		// A streamable server's GET stream, or something else: not
		// the legacy transport.
		return nil, nil
	}
	base, _ := url.Parse(rawURL)
	ref, perr := url.Parse(strings.TrimSpace(string(first.Data)))
	if perr != nil {
		return nil, nil
	}
	post := base.ResolveReference(ref)
	ep := &result.Endpoint{
		URL:    rawURL,
		Status: result.StatusMCP,
		MCP:    &result.MCPInfo{Transport: result.TransportSSE, ProtocolVersion: version20241105, Confidence: "likely"},
		Auth:   &result.AuthInfo{Required: false, Scheme: result.AuthNone},
	}
	if post.Scheme != base.Scheme || post.Host != base.Host {
		ep.Error = "the endpoint event points to another origin (" + redactURL(post) + "); not followed"
		return ep, nil
	}
	postURL := post.String()
	rpc := func(ctx context.Context, method string, params map[string]any) (*mcpwire.Message, error) {
		id := ""
		if method != "notifications/initialized" {
			id = s.id()
		}
		var body []byte
		if id == "" {
			body = mcpwire.Request(nil, method, optParams(params))
		} else {
			body = mcpwire.Request(json.RawMessage(id), method, optParams(params))
		}
		r, err := s.c.send(ctx, http.MethodPost, postURL, body, s.headers(creds), "")
		if err != nil {
			return nil, err
		}
		if r.status >= 300 {
			return nil, fmt.Errorf("POST to the message endpoint: HTTP %d", r.status)
		}
		if id == "" {
			return nil, nil
		}
		if m := r.response(id); m != nil { // some servers answer inline
			return m, nil
		}
		deadline := time.Now().Add(s.p.opts.RequestTimeout)
		for {
			ev, err := next(deadline)
			if err != nil {
				return nil, err
			}
			if ev.Type != "message" {
				continue
			}
			ms, err := mcpwire.Decode(ev.Data)
			if err != nil {
				return nil, err
			}
			for i := range ms {
				if ms[i].IsResponse() && trimQuotes(string(ms[i].ID)) == trimQuotes(id) {
					return &ms[i], nil
				}
			}
		}
	}
	m, err := rpc(ctx, "initialize", map[string]any{
		"protocolVersion": version20241105,
		"capabilities":    map[string]any{},
		"clientInfo":      clientInfo(),
	})
	if err != nil || m.Result == nil {
		if err != nil {
			ep.Error = "handshake failed: " + shortErr(err)
		} else {
			ep.Error = "initialize returned an error: " + capText(m.Error.Message, 200)
		}
		return ep, nil
	}
	var ir initResult
	if json.Unmarshal(m.Result, &ir) != nil || !versionRE.MatchString(ir.ProtocolVersion) {
		ep.Error = "initialize result is not MCP"
		return ep, nil
	}
	full := s.newEndpoint(rawURL, result.TransportSSE, ir)
	s.noteCORS(full, resp.Header)
	if s.knownAs(full, creds != nil) {
		return full, nil
	}
	_, _ = rpc(ctx, "notifications/initialized", nil)
	s.list(ctx, full, rpc)
	return full, nil
}

func redactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return redactURL(u)
}
