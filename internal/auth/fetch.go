package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxDocumentSize caps metadata, JWKS and introspection responses.
const maxDocumentSize = 1 << 20

// defaultHTTPTimeout bounds each request of the default HTTP client.
const defaultHTTPTimeout = 10 * time.Second

func defaultHTTPClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{
		Timeout: defaultHTTPTimeout,
		// Metadata and keys come from the configured URLs only; a redirect
		// elsewhere is refused rather than followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkServerURL accepts https URLs, and http only for loopback hosts
// (tests and local development): tokens and keys must not travel in clear.
func checkServerURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("auth: %s %q is not an absolute URL", what, raw)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("auth: %s %q has a fragment", what, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("auth: %s %q: http is only allowed for loopback hosts, use https", what, raw)
		}
	default:
		return nil, fmt.Errorf("auth: %s %q: scheme must be https", what, raw)
	}
	return u, nil
}

// getJSON fetches url with GET and decodes a JSON object of at most
// maxDocumentSize bytes into dst. A non-200 status is an error.
func getJSON(ctx context.Context, c *http.Client, rawURL string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("get %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("get %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	return decodeJSONResponse(resp, rawURL, dst)
}

func decodeJSONResponse(resp *http.Response, rawURL string, dst any) error {
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("%s: status %d", rawURL, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
		return fmt.Errorf("%s: content type %q is not JSON", rawURL, ct)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return fmt.Errorf("%s: read: %w", rawURL, err)
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("%s: response larger than %d bytes", rawURL, maxDocumentSize)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return fmt.Errorf("%s: decode: %w", rawURL, err)
	}
	return nil
}
