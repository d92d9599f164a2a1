package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// The MCP Inspector (@modelcontextprotocol/inspector) runs two servers: a UI
// (a static web server that answers every path and method with the same
// index.html) and a proxy (Express) that starts MCP servers, stdio commands
// included, on request. Before 0.14.1 the proxy has neither a session token
// nor an Origin check (CVE-2025-49596); later versions demand the header
// "X-MCP-Proxy-Auth: Bearer <token>" unless started with
// DANGEROUSLY_OMIT_AUTH.
//
// What is recognised, without ever asking the proxy to start anything:
//   - the UI by its page title, in the reply the path probing already got;
//     its version from the JS bundle the page names (the bundle embeds the
//     client's package.json version);
//   - the proxy by its answers: POST /mcp without a session gets 500 "{}"
//     (no auth) or 401 with the Inspector's own "Unauthorized" body, and
//     every answer exposes the mcp-session-id header; then GET /config,
//     a read-only route behind the token from 0.14.1 on, tells whether the
//     token is demanded, and, when it is not, the same request with a
//     foreign Origin tells an old proxy (no Origin check) from a new one
//     with authentication turned off. The proxy shows no version number.
//
// Requests never go to /stdio, /sse or /message and never carry
// transportType, command or args parameters.
const (
	inspectorUIPort    = 6274
	inspectorProxyPort = 6277

	// inspectorForeignOrigin is sent to tell an old proxy from a new one.
	inspectorForeignOrigin = "http://rebind.invalid"
	// inspectorConfigPath is the proxy's read-only configuration route.
	inspectorConfigPath = "/config"
)

// inspector identifies the MCP Inspector's UI or proxy on a service that
// spoke HTTP. first is the first HTTP reply the path probing got on the
// service (nil when none). It returns nil for anything else. Services that
// show no trace of the Inspector in first get no extra request, except on
// the Inspector's default ports (6274: GET /; 6277: GET /config), where one
// is sent.
func (s *svcProbe) inspector(ctx context.Context, first *reply) *result.InspectorInfo {
	if first != nil && inspectorPage(first) {
		return s.inspectorUI(ctx, first)
	}
	if inspectorProxyHint(first) || s.svc.Port == inspectorProxyPort {
		if info := s.inspectorProxy(ctx, first); info != nil {
			return info
		}
	}
	if s.svc.Port == inspectorUIPort && ctx.Err() == nil {
		r, err := s.c.send(ctx, http.MethodGet, s.c.urlFor("/"), nil, http.Header{"Accept": {"text/html"}}, "")
		if err == nil && inspectorPage(r) {
			return s.inspectorUI(ctx, r)
		}
	}
	return nil
}

// inspectorUI describes the UI whose page is page, with the version read
// from the bundle the page loads.
func (s *svcProbe) inspectorUI(ctx context.Context, page *reply) *result.InspectorInfo {
	info := &result.InspectorInfo{
		Component: "ui",
		Evidence:  fmt.Sprintf("the page at %s is titled %q", pathOf(page.url), "MCP Inspector"),
	}
	src, ok := inspectorBundle(page.body)
	if !ok {
		info.Evidence += "; it names no same-origin script to read a version from"
		return info
	}
	v, err := s.bundleVersion(ctx, s.c.urlFor(src))
	switch {
	case err != nil:
		_, msg := classify(err)
		info.Evidence += fmt.Sprintf("; %s could not be read (%s)", src, msg)
	case v == "":
		info.Evidence += fmt.Sprintf("; no version found in %s", src)
	default:
		info.Version = v
		info.Evidence += fmt.Sprintf("; version %s in %s", v, src)
	}
	info.Evidence = capText(info.Evidence, 600)
	return info
}

// inspectorProxy asks a suspected proxy for /config, without a token, and
// judges the answer; nil means the service did not answer as the proxy.
func (s *svcProbe) inspectorProxy(ctx context.Context, first *reply) *result.InspectorInfo {
	cfgURL := s.c.urlFor(inspectorConfigPath)
	hdr := http.Header{"Accept": {"application/json"}}
	r, err := s.c.send(ctx, http.MethodGet, cfgURL, nil, hdr, "")
	if err != nil {
		r = nil
	}
	info := &result.InspectorInfo{Component: "proxy"}
	switch {
	case r != nil && inspectorConfig(r):
		info.TokenRequired = new(false)
		info.Evidence = "GET /config answered 200 with the proxy's configuration without a session token"
		hdr.Set("Origin", inspectorForeignOrigin)
		r2, err := s.c.send(ctx, http.MethodGet, cfgURL, nil, hdr, "")
		switch {
		case err != nil:
			// The verdict on the token stands; the Origin check is
			// left unsaid.
		case inspectorConfig(r2):
			info.OriginChecked = new(false)
			info.Evidence += "; with Origin: " + inspectorForeignOrigin + " too (no DNS-rebinding check, as before 0.14.1)"
		case inspectorOriginRefused(r2):
			info.OriginChecked = new(true)
			info.Evidence += "; Origin: " + inspectorForeignOrigin + " was refused (0.14.1 or later, with authentication turned off)"
		}
	case r != nil && inspectorUnauthorized(r):
		info.TokenRequired = new(true)
		info.Evidence = fmt.Sprintf("GET /config without a session token got %d %q", r.status, "Authentication required")
	case r != nil && inspectorOriginRefused(r):
		// 1.x with authentication off refuses requests without an
		// allowed Origin; whether a token is needed is not shown.
		info.Evidence = fmt.Sprintf("GET /config without an Origin got %d %q", r.status, "Forbidden - invalid origin")
	case first != nil && inspectorUnauthorized(first):
		info.TokenRequired = new(true)
		info.Evidence = fmt.Sprintf("%s without a session token got %d %q", pathOf(first.url), first.status, "Authentication required")
	default:
		return nil
	}
	info.Evidence = capText(info.Evidence, 600)
	return info
}

// inspectorPage reports whether r is the UI's index.html.
func inspectorPage(r *reply) bool {
	return r != nil && r.status == http.StatusOK && r.contentType == "text/html" &&
		bytes.Contains(bytes.ToLower(r.body), []byte("<title>mcp inspector</title>"))
}

// inspectorProxyHint reports whether first looks like the proxy's answer to
// the path probing: its 401 or 403 bodies, or (no token) the 500 "{}" of a
// POST /mcp without session or the 404 of a GET, both with the proxy's
// mcp-session-id exposure header.
func inspectorProxyHint(first *reply) bool {
	if first == nil {
		return false
	}
	if inspectorUnauthorized(first) || inspectorOriginRefused(first) {
		return true
	}
	exposed := false
	for _, v := range first.header.Values("Access-Control-Expose-Headers") {
		exposed = exposed || strings.Contains(strings.ToLower(v), "mcp-session-id")
	}
	body := bytes.TrimSpace(first.body)
	return exposed && (first.status == http.StatusInternalServerError && string(body) == "{}" ||
		first.status == http.StatusNotFound && (bytes.HasPrefix(body, []byte("Session not found")) ||
			bytes.HasPrefix(body, []byte("Transport not found"))))
}

// inspectorError decodes the proxy's JSON error body {"error": ..., "message": ...}.
func inspectorError(r *reply) (errText, message string) {
	if r == nil || r.contentType != "application/json" {
		return "", ""
	}
	var e struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(r.body, &e) != nil {
		return "", ""
	}
	return e.Error, e.Message
}

// inspectorUnauthorized reports whether r is the proxy's refusal of a
// request without its session token.
func inspectorUnauthorized(r *reply) bool {
	if r == nil || r.status != http.StatusUnauthorized {
		return false
	}
	e, m := inspectorError(r)
	return e == "Unauthorized" && strings.Contains(m, "session token")
}

// inspectorOriginRefused reports whether r is the proxy's refusal of an
// Origin it does not allow (or of a missing one, 1.x without auth).
func inspectorOriginRefused(r *reply) bool {
	if r == nil || r.status != http.StatusForbidden {
		return false
	}
	e, _ := inspectorError(r)
	return e == "Forbidden - invalid origin" || e == "Forbidden - same-origin request"
}

// inspectorConfig reports whether r is the proxy's /config answer: a JSON
// object with its defaultEnvironment and defaultCommand (whose values, the
// proxy's environment, are not kept).
func inspectorConfig(r *reply) bool {
	if r == nil || r.status != http.StatusOK || r.contentType != "application/json" {
		return false
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal(r.body, &cfg) != nil {
		return false
	}
	_, env := cfg["defaultEnvironment"]
	_, cmd := cfg["defaultCommand"]
	return env && cmd
}

// scriptSrcRE finds the src of script tags in the UI's index.html.
var scriptSrcRE = regexp.MustCompile(`(?i)<script\b[^>]*\bsrc\s*=\s*["']([^"'<>\s]{1,300})["']`)

// safeBundleRE is what a bundle path may look like: a same-origin path of
// plain segments ending in .js, with no query, no scheme and no host.
var safeBundleRE = regexp.MustCompile(`^(?:\./|/)?(?:[A-Za-z0-9_@-][A-Za-z0-9_.@-]*/)*[A-Za-z0-9_@-][A-Za-z0-9_.@-]*\.js$`)

// inspectorBundle returns the absolute path of the first script the page
// loads, if it is a plain same-origin path.
func inspectorBundle(page []byte) (string, bool) {
	for _, m := range scriptSrcRE.FindAllSubmatch(page, 8) {
		src := string(m[1])
		if !safeBundleRE.MatchString(src) || strings.Contains(src, "..") {
			continue
		}
		return "/" + strings.TrimPrefix(strings.TrimPrefix(src, "./"), "/"), true
	}
	return "", false
}

// bundleVersionRE matches the Inspector client's version where its bundle
// defines it: `const version$1 = "0.14.0"; const packageJson = { version:
// version$1 }` (0.x and 1.x), or an inlined clientInfo
// `name: "mcp-inspector", version: "..."`.
var bundleVersionRE = regexp.MustCompile(
	`(?:const|let|var) version(?:\$\d+)? ?= ?"(\d{1,4}\.\d{1,4}\.\d{1,6}(?:-[0-9A-Za-z.]{1,40})?)";?\s{0,20}(?:const|let|var) packageJson ?= ?\{\s{0,20}version:` +
		`|name: ?["'` + "`" + `]mcp-inspector["'` + "`" + `],\s{0,20}version: ?["'` + "`" + `](\d{1,4}\.\d{1,4}\.\d{1,6}(?:-[0-9A-Za-z.]{1,40})?)["'` + "`" + `]`)

// bundleOverlap is how much of the previous chunk is searched again with
// the next, so that a match across a chunk boundary is found; it exceeds the
// longest match bundleVersionRE allows.
const bundleOverlap = 512

// findBundleVersion returns the version bundleVersionRE finds in b ("0.0.0",
// a placeholder of later builds, is no version).
func findBundleVersion(b []byte) string {
	// Both forms name a literal; most chunks of a bundle hold neither, and
	// are passed over without running the expression.
	if !bytes.Contains(b, []byte("packageJson")) && !bytes.Contains(b, []byte("mcp-inspector")) {
		return ""
	}
	for _, m := range bundleVersionRE.FindAllSubmatch(b, -1) {
		v := string(m[1])
		if v == "" {
			v = string(m[2])
		}
		if v != "" && v != "0.0.0" {
			return v
		}
	}
	return ""
}

// bundleVersion streams the UI's bundle and returns the version it embeds
// ("" when none). The bundle is megabytes of JavaScript and the version sits
// deep in it, while client.send keeps only the first KiB of a non-JSON body;
// so this request is made here, with send's accounting: the rate limiter,
// the request counter, the request timeout, no unrequested decoding, and at
// most Options.MaxBodyBytes read.
func (s *svcProbe) bundleVersion(ctx context.Context, rawURL string) (string, error) {
	if err := s.p.wait(ctx); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, s.p.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", fmt.Errorf("probe: build request: %w", err)
	}
	req.Header.Set("User-Agent", s.p.opts.UserAgent)
	req.Header.Set("Accept", "*/*")
	s.p.counted()
	resp, err := s.c.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("probe: bundle: HTTP %d", resp.StatusCode)
	}
	if encoded(resp.Header) {
		return "", fmt.Errorf("%w (Content-Encoding: %s)", errUnrequestedEncoding, capText(resp.Header.Get("Content-Encoding"), 64))
	}
	return scanBundle(io.LimitReader(resp.Body, s.p.opts.MaxBodyBytes))
}

// scanBundle reads r in chunks of 64 KiB (short reads are gathered, so that
// the search runs once per chunk, not once per read) and returns the first
// version found.
func scanBundle(r io.Reader) (string, error) {
	buf := make([]byte, 0, 64<<10+bundleOverlap)
	chunk := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(r, chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			if v := findBundleVersion(buf); v != "" {
				return v, nil
			}
			if len(buf) > bundleOverlap {
				buf = append(buf[:0], buf[len(buf)-bundleOverlap:]...)
			}
		}
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return "", nil // the end of the body (or of the byte cap)
		case err != nil:
			return "", err
		}
	}
}
