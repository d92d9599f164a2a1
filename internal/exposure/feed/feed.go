// Package feed is what the index clients (shodan, censys) share: an HTTP
// client for JSON APIs that only differs between tests and real use by its
// base URL, with a request rate limit, a size and time cap on every
// response, bounded retries on 429 and 5xx that honour Retry-After, and
// secrets redacted from every error; and a streamed reader of export files
// (gzip or plain, JSON Lines or one JSON array) with a per-record size cap.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrUnauthorized: the service refused the credentials (401 or 403).
	ErrUnauthorized = errors.New("credentials refused")
	// ErrRateLimited: 429 persisted after the allowed retries, or the
	// service asked to wait longer than the client may.
	ErrRateLimited = errors.New("rate limited")
	// ErrTooLarge: a response body exceeded Options.MaxBody.
	ErrTooLarge = errors.New("response too large")
)

// Options configure a Client. Zero fields take the documented defaults.
type Options struct {
	// Name prefixes every error ("shodan"). Required.
	Name string
	// BaseURL is the API root, e.g. https://api.shodan.io. Required; tests
	// point it at a local server, nothing else changes.
	BaseURL string
	// HTTP is the client used; nil means a new client whose transport is
	// http.DefaultTransport's clone.
	HTTP *http.Client
	// Rate is the request rate (requests per second) the service allows;
	// 0 means 1. Requests never go faster, retries included.
	Rate float64
	// MaxBody caps one response body; default 32 MiB.
	MaxBody int64
	// Timeout bounds one request, headers to last byte; default 60s.
	Timeout time.Duration
	// MaxRetries is how often a 429, a 5xx or a transport error is
	// retried; default 3. Negative means no retry.
	MaxRetries int
	// RetryBase is the first backoff when the service gives no
	// Retry-After; it doubles per attempt. Default 1s.
	RetryBase time.Duration
	// MaxRetryWait is the longest Retry-After the client waits; a longer
	// one fails with ErrRateLimited at once. Default 2m.
	MaxRetryWait time.Duration
	// Secrets are redacted from every error and log line.
	Secrets []string
	// UserAgent is sent on every request; empty means "mcpwarden".
	UserAgent string
	// Logger receives debug lines (paths only, never query strings); nil
	// discards.
	Logger *slog.Logger
}

// Client sends GET requests to one JSON API. It is safe for concurrent
// use.
type Client struct {
	o    Options
	base *url.URL
	lim  *rate.Limiter
}

// New checks o and returns a client.
func New(o Options) (*Client, error) {
	if o.Name == "" {
		return nil, errors.New("feed: missing name")
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q: want http(s)://host[:port][/path]", o.Name, o.BaseURL)
	}
	if o.Rate <= 0 {
		o.Rate = 1
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 32 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 2 * time.Minute
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.UserAgent == "" {
		o.UserAgent = "mcpwarden"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Secrets = append([]string(nil), o.Secrets...)
	base.Path = strings.TrimSuffix(base.Path, "/")
	return &Client{o: o, base: base, lim: rate.NewLimiter(rate.Limit(o.Rate), 1)}, nil
}

// HTTPError is a response with a status the client does not retry (or
// that persisted through the retries).
type HTTPError struct {
	Service string
	Path    string
	Status  int
	// Message is the service's error text (the "error" member of its JSON
	// body, or the start of the body), secrets redacted.
	Message string
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s: %s: HTTP %d: %s", e.Service, e.Path, e.Status, msg)
}

// Is makes errors.Is(err, ErrUnauthorized) and ErrRateLimited work.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// redactedError carries a message with secrets removed; its cause stays
// reachable with errors.Is/As but is never printed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Redact replaces every secret in s with "[redacted]".
func (c *Client) Redact(s string) string {
	for _, sec := range c.o.Secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

func (c *Client) errorf(err error, format string, a ...any) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its message holds the full URL, query string included
	}
	msg := c.o.Name + ": " + fmt.Sprintf(format, a...)
	if err != nil {
		msg += ": " + err.Error()
	}
	return &redactedError{msg: c.Redact(msg), err: err}
}

// Get sends GET base+path?query with header and returns the body of a 2xx
// answer. path is shown in errors, the query string never.
func (c *Client) Get(ctx context.Context, path string, query url.Values, header http.Header) ([]byte, error) {
	u := *c.base
	u.Path = c.base.Path + path
	u.RawQuery = query.Encode()
	for attempt := 0; ; attempt++ {
		if err := c.lim.Wait(ctx); err != nil {
			return nil, c.errorf(err, "GET %s", path)
		}
		body, status, hdr, err := c.once(ctx, u.String(), header)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || errors.Is(err, ErrTooLarge) {
				return nil, c.errorf(err, "GET %s", path)
			}
			wait = c.backoff(attempt)
			err = c.errorf(err, "GET %s", path)
		case status >= 200 && status < 300:
			return body, nil
		case status == http.StatusTooManyRequests:
			wait = retryAfter(hdr, time.Now())
			if wait < 0 {
				wait = c.backoff(attempt)
			}
			err = &HTTPError{Service: c.o.Name, Path: path, Status: status, Message: c.Redact(errorText(body))}
			if wait > c.o.MaxRetryWait {
				return nil, fmt.Errorf("%w (the service asks to wait %s)", err, wait.Round(time.Second))
			}
		case status >= 500:
			wait = retryAfter(hdr, time.Now())
			if wait < 0 || wait > c.o.MaxRetryWait {
				wait = c.backoff(attempt)
			}
			err = &HTTPError{Service: c.o.Name, Path: path, Status: status, Message: c.Redact(errorText(body))}
		default:
			return nil, &HTTPError{Service: c.o.Name, Path: path, Status: status, Message: c.Redact(errorText(body))}
		}
		if attempt >= c.o.MaxRetries {
			return nil, fmt.Errorf("%w (after %d attempts)", err, attempt+1)
		}
		c.o.Logger.Debug("retrying", "service", c.o.Name, "path", path, "wait", wait, "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, c.errorf(ctx.Err(), "GET %s", path)
		case <-t.C:
		}
	}
}

func (c *Client) backoff(attempt int) time.Duration {
	return time.Duration(float64(c.o.RetryBase) * math.Pow(2, float64(min(attempt, 10))))
}

// once sends one request and reads at most MaxBody bytes of the answer.
func (c *Client) once(ctx context.Context, u string, header http.Header) ([]byte, int, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, nil, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.o.UserAgent)
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return nil, 0, nil, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.o.MaxBody {
		return nil, resp.StatusCode, resp.Header, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, resp.ContentLength, c.o.MaxBody)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.o.MaxBody+1))
	if err != nil {
		return nil, resp.StatusCode, resp.Header, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(b)) > c.o.MaxBody {
		return nil, resp.StatusCode, resp.Header, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.o.MaxBody)
	}
	return b, resp.StatusCode, resp.Header, nil
}

// retryAfter reads a Retry-After header (delta seconds or an HTTP date);
// -1 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 && n < 1e6 {
		return time.Duration(n * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// errorText extracts a service's error message: the "error", "message" or
// "detail" member of a JSON body, or the start of a text body.
func errorText(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		for _, k := range []string{"error", "message", "detail", "error_type"} {
			if s, ok := m[k].(string); ok && s != "" {
				return clip(s, 300)
			}
		}
	}
	s := strings.TrimSpace(string(body))
	if strings.HasPrefix(s, "<") {
		return ""
	}
	return clip(strings.ToValidUTF8(s, "?"), 300)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
