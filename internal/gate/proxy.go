package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
)

// proxy handles an authenticated request to a route.
func (g *Gate) proxy(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		g.post(w, r)
	case http.MethodGet:
		g.stream(w, r)
	case http.MethodDelete:
		g.delete(w, r)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		g.reject(w, r, http.StatusMethodNotAllowed, "method not allowed", "method not allowed")
	}
}

// exchange is what the audit records of one POST share.
type exchange struct {
	calls    []Call
	bytesIn  int64
	status   int // upstream status
	bytesOut int64
	// legacy is the client's legacy SSE stream, where refusals go.
	legacy *sseWriter
	// cancel ends the upstream request (nil: only the client's context).
	cancel context.CancelFunc
}

func (g *Gate) post(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	pkey := s.principal.Key()
	if r.ContentLength > g.opts.MaxBody {
		w.Header().Set("Connection", "close")
		n := writeRPCError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, fmt.Sprintf("request body over %d bytes", g.opts.MaxBody))
		g.auditHTTP(r, http.StatusRequestEntityTooLarge, "body too large", n)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(g.opts.BodyTimeout)) // slow clients
	body, err := mcpwire.ReadAll(r.Body, g.opts.MaxBody)
	if err == nil {
		// On an error the deadline stays: the server must not then wait
		// for the rest of a body that is not coming.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if errors.Is(err, mcpwire.ErrTooLarge) {
		w.Header().Set("Connection", "close")
		n := writeRPCError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, fmt.Sprintf("request body over %d bytes", g.opts.MaxBody))
		g.auditHTTP(r, http.StatusRequestEntityTooLarge, "body too large", n)
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		w.Header().Set("Connection", "close")
		g.reject(w, r, http.StatusRequestTimeout, "body read timed out", "request body too slow")
		return
	}
	if err != nil {
		g.reject(w, r, http.StatusBadRequest, "body read failed", "could not read the request body")
		return
	}
	ex := &exchange{bytesIn: int64(len(body))}
	calls, batch, err := Inspect(body)
	if err != nil {
		code, msg := CodeInvalidRequest, "invalid request"
		if errors.Is(err, ErrParse) {
			code, msg = CodeParseError, "parse error"
		}
		n := writeJSON(w, http.StatusBadRequest, newRPCError(nil, code, msg, map[string]any{"detail": strings.TrimPrefix(err.Error(), "gate: ")}))
		g.auditHTTP(r, http.StatusBadRequest, err.Error(), n)
		return
	}
	ex.calls = calls
	if err := CheckHeaders(r.Header, calls); err != nil {
		g.refuseCalls(w, r, ex, http.StatusBadRequest, CodeHeaderMismatch, "header mismatch", err.Error(), -1, batch)
		return
	}

	target := s.route.upstream
	sid := r.Header.Get(headerSession)
	if len(r.Header.Values(headerSession)) > 1 || len(r.Header.Values(headerProtocolVersion)) > 1 {
		g.refuseCalls(w, r, ex, http.StatusBadRequest, CodeInvalidRequest, "repeated header", "repeated Mcp-Session-Id or Mcp-Protocol-Version", -1, batch)
		return
	}
	if tok := r.URL.Query().Get(legacyQuery); tok != "" {
		ls, ok := g.legacy.get(tok, pkey)
		if !ok {
			g.refuseCalls(w, r, ex, http.StatusNotFound, CodeSessionNotFound, "session not found", "unknown or foreign legacy session", -1, batch)
			return
		}
		target = ls.endpoint
		ex.legacy = ls.out
	}
	if sid != "" && !g.sessions.check(sid, pkey) {
		g.refuseCalls(w, r, ex, http.StatusNotFound, CodeSessionNotFound, "session not found", "unknown or foreign session", -1, batch)
		return
	}

	// Policy: one denied member denies the whole batch.
	for i := range calls {
		c := &calls[i]
		if c.Kind == "" {
			continue
		}
		if ok, why := s.route.Policy.Decide(s.principal, c.Kind, c.Name); !ok {
			g.refuseCalls(w, r, ex, http.StatusOK, CodeForbidden, "forbidden", "policy "+why, i, batch)
			return
		}
	}
	if rl := g.opts.RateLimiter; rl != nil {
		for i := range calls {
			c := &calls[i]
			if c.Method == "" {
				continue
			}
			tool := ""
			if c.Kind == KindTool {
				tool = c.Name
			}
			if ok, retry, why := rl.Allow(pkey, c.Method, tool); !ok {
				secs := int((retry + time.Second - 1) / time.Second)
				w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
				g.refuseCalls(w, r, ex, http.StatusTooManyRequests, CodeRateLimited, "rate limited", "rate limit: "+why, i, batch)
				return
			}
		}
	}

	if cl, ok := g.opts.RateLimiter.(ConcurrencyLimiter); ok {
		release, ok := cl.Acquire(pkey)
		if !ok {
			w.Header().Set("Retry-After", "1")
			g.refuseCalls(w, r, ex, http.StatusTooManyRequests, CodeRateLimited, "rate limited", "concurrency limit", -1, batch)
			return
		}
		defer release()
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ex.cancel = cancel
	resp, err := g.forward(ctx, r, http.MethodPost, target, body)
	if err != nil {
		g.upstreamFailed(w, r, ex, err)
		return
	}
	if id := resp.Header.Get(headerSession); id != "" && resp.StatusCode < 300 {
		g.sessions.bind(id, pkey)
	}
	g.respond(w, r, resp, ex, nil, nil)
}

// refuseCalls answers a POST without forwarding it: each request in the
// body gets an error (the denied member names the reason; the others say
// their batch was refused), and every message is audited as denied.
func (g *Gate) refuseCalls(w http.ResponseWriter, r *http.Request, ex *exchange, status, code int, msg, reason string, culprit int, batch bool) {
	var errs []rpcError
	for i := range ex.calls {
		c := &ex.calls[i]
		if !c.IsRequest() {
			continue
		}
		m, data := msg, map[string]any{"reason": msg}
		if culprit >= 0 && i != culprit {
			m, data = "batch refused: another message in it was refused", map[string]any{"reason": "batch"}
		}
		errs = append(errs, newRPCError(c.ID, code, m, data))
	}
	var n int64
	switch {
	case ex.legacy != nil && status == http.StatusOK && len(errs) > 0:
		// A legacy client reads answers only on its stream; the POST
		// itself is accepted, as a legacy server would.
		var payload any = errs[0]
		if batch {
			payload = errs
		}
		b, _ := json.Marshal(payload)
		if err := ex.legacy.message(b); err != nil {
			n = writeRPCError(w, http.StatusNotFound, CodeSessionNotFound, "session not found")
			break
		}
		w.WriteHeader(http.StatusAccepted)
		n = int64(len(b))
	case len(errs) == 0:
		// Only notifications or responses: nothing to answer by id.
		if status == http.StatusOK {
			status = http.StatusForbidden
		}
		n = writeRPCError(w, status, code, msg)
	case batch:
		n = writeJSON(w, status, errs)
	default:
		n = writeJSON(w, status, errs[0])
	}
	ex.status, ex.bytesOut = 0, n
	for i := range ex.calls {
		why := reason
		if culprit >= 0 && i != culprit {
			why = "batch refused: " + reason
		}
		g.auditCall(r, &ex.calls[i], ex, "deny", why)
	}
}

// upstreamFailed answers 502 for an upstream that could not be reached.
func (g *Gate) upstreamFailed(w http.ResponseWriter, r *http.Request, ex *exchange, err error) {
	msg := err.Error()
	g.upstreamErr.Store(&msg)
	g.log.Error("gate: upstream request failed", "route", scopeOf(r).route.Path, "err", err)
	ex.bytesOut = writeRPCError(w, http.StatusBadGateway, -32603, "upstream unavailable")
	for i := range ex.calls {
		g.auditCall(r, &ex.calls[i], ex, "error", "upstream unavailable")
	}
}

// forward sends one request to the upstream with the client's headers
// minus credentials and hop-by-hop fields, plus the route's own header.
func (g *Gate) forward(ctx context.Context, r *http.Request, method string, target *url.URL, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("gate: build upstream request: %w", err)
	}
	copyRequestHeaders(req.Header, r.Header)
	for k, vs := range scopeOf(r).route.UpstreamHeader {
		req.Header[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	client := g.client
	if c := scopeOf(r).route.client; c != nil {
		client = c
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("gate: upstream %s: %w", target.Redacted(), err)
	}
	g.upstreamErr.Store(nil)
	return resp, nil
}

// Request headers never forwarded: credentials (no token passthrough),
// proxy and forwarding headers, Origin (checked by the gate), encodings
// the gate must be able to read, and hop-by-hop fields.
var dropRequestHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "X-Api-Key": true,
	"Origin": true, "Referer": true, "Forwarded": true, "X-Forwarded-For": true,
	"X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Real-Ip": true,
	"Accept-Encoding": true, "Content-Length": true, "Host": true,
}

// Response headers never passed back: the upstream's own challenge,
// cookies and CORS (the gate answers those itself), framing.
var dropResponseHeaders = map[string]bool{
	"Www-Authenticate": true, "Set-Cookie": true, "Content-Length": true,
	"Access-Control-Allow-Origin": true, "Access-Control-Allow-Credentials": true,
	"Access-Control-Allow-Headers": true, "Access-Control-Allow-Methods": true,
	"Access-Control-Expose-Headers": true, "Access-Control-Max-Age": true,
	"X-Request-Id": true, "Vary": true,
}

var hopByHop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Proxy-Authenticate": true,
}

// connectionTokens are the extra hop-by-hop fields a Connection header names.
// It is nil (and allocates nothing) when there is no Connection header.
func connectionTokens(h http.Header) map[string]bool {
	vals := h.Values("Connection")
	if len(vals) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, v := range vals {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				m[http.CanonicalHeaderKey(f)] = true
			}
		}
	}
	return m
}

func copyRequestHeaders(dst, src http.Header) {
	conn := connectionTokens(src)
	for k, vs := range src {
		if dropRequestHeaders[k] || hopByHop[k] || conn[k] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

func copyResponseHeaders(dst, src http.Header) {
	conn := connectionTokens(src)
	for k, vs := range src {
		if dropResponseHeaders[k] || hopByHop[k] || conn[k] {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// respond passes an upstream response to the client: an event stream event
// by event (filtered, flushed), a JSON body filtered whole, anything else
// copied. Audit records are written before the body reaches the client.
// endpoint, when set, rewrites legacy SSE endpoint events.
// out, when set, is the stream writer to use for an event stream.
func (g *Gate) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, ex *exchange, out *sseWriter, endpoint func(sseEvent) ([]byte, bool)) {
	defer discard(resp.Body)
	s := scopeOf(r)
	ex.status = resp.StatusCode
	decision := "allow"
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		// The upstream refused the gate's own credential: the client can
		// do nothing about it and must not see the upstream's challenge.
		g.log.Error("gate: upstream refused the gate's request; check --upstream-header", "route", s.route.Path, "status", resp.StatusCode)
		ex.bytesOut = writeRPCError(w, http.StatusBadGateway, -32603, "upstream refused the gateway")
		g.auditAll(r, ex, "error", fmt.Sprintf("upstream status %d", resp.StatusCode))
		return
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		ex.bytesOut = writeRPCError(w, http.StatusBadGateway, -32603, "upstream sent an encoded body the gateway cannot inspect")
		g.auditAll(r, ex, "error", "upstream content-encoding "+ce)
		return
	}
	allow := func(kind Kind, name string) bool {
		ok, _ := s.route.Policy.Decide(s.principal, kind, name)
		return ok
	}
	copyResponseHeaders(w.Header(), resp.Header)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "text/event-stream":
		w.Header().Set("X-Accel-Buffering", "no")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(resp.StatusCode)
		if out == nil {
			out = newSSEWriter(w)
		}
		defer out.close()
		_, _ = out.write(nil)
		g.auditAll(r, ex, decision, "")
		filter := filterSSE(allow)
		rewrite := func(ev sseEvent) ([]byte, bool, bool) {
			if ev.typ == "endpoint" && endpoint != nil {
				data, ok := endpoint(ev)
				return data, ok, ok
			}
			return filter(ev)
		}
		n, err := rewriteSSE(out, resp.Body, int(g.opts.MaxResponseBody), rewrite)
		ex.bytesOut = n
		if err != nil && r.Context().Err() == nil {
			g.log.Warn("gate: upstream stream ended with an error", "route", s.route.Path, "err", err)
		}
	case "application/json":
		if ex.cancel != nil {
			// A JSON body is read whole before it is passed on: bound it
			// in time as well as in size.
			t := time.AfterFunc(g.opts.UpstreamTimeout, ex.cancel)
			defer t.Stop()
		}
		b, err := mcpwire.ReadAll(resp.Body, g.opts.MaxResponseBody)
		if err != nil {
			g.log.Error("gate: upstream response unreadable", "route", s.route.Path, "err", err)
			ex.bytesOut = writeRPCError(w, http.StatusBadGateway, -32603, "upstream response unreadable")
			g.auditAll(r, ex, "error", "upstream response: "+err.Error())
			return
		}
		out, _, err := FilterLists(b, allow)
		if err != nil {
			ex.bytesOut = writeRPCError(w, http.StatusBadGateway, -32603, "upstream response unreadable")
			g.auditAll(r, ex, "error", "upstream list response unreadable")
			return
		}
		ex.bytesOut = int64(len(out))
		g.auditAll(r, ex, decision, "")
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(out)
	default:
		g.auditAll(r, ex, decision, "")
		w.WriteHeader(resp.StatusCode)
		n, _ := io.Copy(w, io.LimitReader(resp.Body, g.opts.MaxResponseBody))
		ex.bytesOut = n
	}
}

func newSSEWriter(w http.ResponseWriter) *sseWriter {
	rc := http.NewResponseController(w)
	return &sseWriter{w: w, flush: func() { _ = rc.Flush() }}
}

// stream handles GET: a streamable server's notification stream or a
// legacy HTTP+SSE stream, whose endpoint event is rewritten to the gate.
func (g *Gate) stream(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	pkey := s.principal.Key()
	if sid := r.Header.Get(headerSession); sid != "" && !g.sessions.check(sid, pkey) {
		g.reject(w, r, http.StatusNotFound, "unknown or foreign session", "session not found")
		return
	}
	if r.URL.Query().Has(legacyQuery) {
		g.reject(w, r, http.StatusMethodNotAllowed, "GET on a legacy message endpoint", "method not allowed")
		return
	}
	// End the stream when the client goes or the gate shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(g.streams, cancel)
	defer stop()

	resp, err := g.forward(ctx, r, http.MethodGet, s.route.upstream, nil)
	if err != nil {
		msg := err.Error()
		g.upstreamErr.Store(&msg)
		g.log.Error("gate: upstream stream failed", "route", s.route.Path, "err", err)
		writeRPCError(w, http.StatusBadGateway, -32603, "upstream unavailable")
		return
	}
	out := newSSEWriter(w)
	var tokens []string
	defer func() {
		for _, t := range tokens {
			g.legacy.remove(t)
		}
	}()
	endpoint := func(ev sseEvent) ([]byte, bool) {
		ref, err := url.Parse(strings.TrimSpace(string(ev.data)))
		if err != nil {
			g.log.Warn("gate: upstream endpoint event unreadable; dropped", "route", s.route.Path)
			return nil, false
		}
		ep := s.route.upstream.ResolveReference(ref)
		if ep.Scheme != s.route.upstream.Scheme || ep.Host != s.route.upstream.Host {
			g.log.Warn("gate: upstream endpoint on another origin; dropped", "route", s.route.Path, "endpoint", ep.Redacted())
			return nil, false
		}
		tok := newID() + newID()
		if !g.legacy.add(tok, legacyStream{endpoint: ep, principal: pkey, out: out}) {
			g.log.Warn("gate: too many legacy streams; endpoint dropped", "route", s.route.Path)
			return nil, false
		}
		tokens = append(tokens, tok)
		return []byte(s.route.Path + "?" + legacyQuery + "=" + tok), true
	}
	g.respond(w, r, resp, &exchange{}, out, endpoint)
}

// delete forwards a session DELETE and forgets the binding.
func (g *Gate) delete(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	sid := r.Header.Get(headerSession)
	if sid != "" && !g.sessions.check(sid, s.principal.Key()) {
		g.reject(w, r, http.StatusNotFound, "unknown or foreign session", "session not found")
		return
	}
	resp, err := g.forward(r.Context(), r, http.MethodDelete, s.route.upstream, nil)
	if err != nil {
		g.upstreamFailed(w, r, &exchange{}, err)
		return
	}
	if sid != "" && resp.StatusCode < 300 {
		g.sessions.remove(sid)
	}
	g.respond(w, r, resp, &exchange{}, nil, nil)
}

// rawID renders a JSON-RPC id for the audit record.
func rawID(id json.RawMessage) string {
	return string(id)
}
