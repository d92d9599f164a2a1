package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// client is the HTTP machinery for one host:port: a transport of its own
// (closed when the service is done), dials forced to the resolved address,
// the TLS state of the first handshake, and request accounting.
type client struct {
	p      *Prober
	hc     *http.Client // follows same-origin redirects
	direct *http.Client // follows none: a redirect is the answer
	tr     *http.Transport
	host   string // as targeted: IP literal or DNS name
	ip     string // the address dialled
	port   int
	scheme string // "http" or "https"; fixed by the first successful exchange

	mu  sync.Mutex
	tls *result.TLSInfo
}

func newClient(p *Prober, host, ip string, port int, scheme string) *client {
	c := &client{p: p, host: host, ip: ip, port: port, scheme: scheme}
	dialAddr := net.JoinHostPort(ip, strconv.Itoa(port))
	c.tr = &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return p.opts.Dial(ctx, network, dialAddr)
		},
		TLSClientConfig: &tls.Config{
			// Certificates are recorded and verified by hand (see
			// recordTLS): a scanner must reach servers whose certificates
			// are bad, and report that.
			InsecureSkipVerify: true,
			MinVersion:         tls.VersionTLS10,
			VerifyConnection: func(cs tls.ConnectionState) error {
				c.recordTLS(cs)
				return nil
			},
		},
		TLSHandshakeTimeout:    p.opts.ConnectTimeout,
		ResponseHeaderTimeout:  p.opts.RequestTimeout,
		MaxIdleConnsPerHost:    2,
		MaxConnsPerHost:        4,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		ForceAttemptHTTP2:      false,
	}
	if net.ParseIP(host) == nil {
		c.tr.TLSClientConfig.ServerName = host
	}
	c.hc = &http.Client{
		Transport: c.tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > p.opts.MaxRedirects {
				return fmt.Errorf("%w after %d", errRedirectLimit, p.opts.MaxRedirects)
			}
			first := via[0].URL
			if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return fmt.Errorf("%w to %s", errRedirectOffsite, redactURL(req.URL))
			}
			return nil
		},
	}
	c.direct = &http.Client{
		Transport: c.tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return c
}

var (
	errRedirectLimit       = errors.New("redirect limit reached")
	errRedirectOffsite     = errors.New("refused cross-origin redirect")
	errUnrequestedEncoding = errors.New("the server sent an encoded body that was not asked for")
)

// encoded reports whether a response carries a Content-Encoding other than
// identity.
func encoded(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return true
			}
		}
	}
	return false
}

func (c *client) close() { c.tr.CloseIdleConnections() }

// base is scheme://host:port.
func (c *client) base() string {
	return c.scheme + "://" + net.JoinHostPort(c.host, strconv.Itoa(c.port))
}

func (c *client) urlFor(path string) string {
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	return c.base() + path
}

func (c *client) recordTLS(cs tls.ConnectionState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls != nil || len(cs.PeerCertificates) == 0 {
		return
	}
	leaf := cs.PeerCertificates[0]
	info := &result.TLSInfo{
		Version:     tls.VersionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		Subject:     leaf.Subject.String(),
		Issuer:      leaf.Issuer.String(),
		DNSNames:    leaf.DNSNames,
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		SelfSigned:  bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignatureFrom(leaf) == nil,
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: c.host, Intermediates: inter})
	info.Valid = err == nil
	if err != nil {
		info.VerifyError = err.Error()
		// Verify reports one reason; the chain and the name are judged
		// apart so that the record says both.
		var ua x509.UnknownAuthorityError
		_, chainErr := leaf.Verify(x509.VerifyOptions{Intermediates: inter})
		info.UnknownAuthority = errors.As(chainErr, &ua)
		info.NameMismatch = leaf.VerifyHostname(c.host) != nil
	}
	c.tls = info
}

// setWeakVersions records the deprecated versions the server accepted.
func (c *client) setWeakVersions(vs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls != nil {
		c.tls.WeakVersions = vs
	}
}

func (c *client) tlsInfo() *result.TLSInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tls
}

// reply is one HTTP exchange as the prober sees it.
type reply struct {
	url         string // final URL after same-origin redirects
	status      int
	header      http.Header
	contentType string // media type only, lower case
	body        []byte // JSON bodies and the start of anything else
	msgs        []mcpwire.Message
	decodeErr   error
}

// jsonrpcResponse returns the response message with the given id.
func (r *reply) response(id string) *mcpwire.Message {
	for i := range r.msgs {
		if r.msgs[i].IsResponse() && trimQuotes(string(r.msgs[i].ID)) == trimQuotes(id) {
			return &r.msgs[i]
		}
	}
	return nil
}

// anyJSONRPC reports whether the reply carried a JSON-RPC message at all.
func (r *reply) anyJSONRPC() bool { return len(r.msgs) > 0 }

// send performs one request with the request timeout and reads the body:
// JSON bodies whole (capped), event streams until the response with wantID
// arrives, anything else only its first KiB. hdr is added to the request;
// a Host entry in it becomes the request's Host header (the rebinding
// check), the connection still goes to the scanned address.
func (c *client) send(ctx context.Context, method, rawURL string, body []byte, hdr http.Header, wantID string) (*reply, error) {
	return c.sendVia(ctx, c.hc, method, rawURL, body, hdr, wantID)
}

// sendVia is send with the given http.Client (c.hc or c.direct).
func (c *client) sendVia(ctx context.Context, hc *http.Client, method, rawURL string, body []byte, hdr http.Header, wantID string) (*reply, error) {
	if err := c.p.wait(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.p.opts.RequestTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("probe: build request: %w", err)
	}
	req.Header.Set("User-Agent", c.p.opts.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	setHost(req)
	c.p.counted()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := &reply{url: resp.Request.URL.String(), status: resp.StatusCode, header: resp.Header}
	r.contentType, _, _ = mime.ParseMediaType(resp.Header.Get("Content-Type"))
	r.contentType = strings.ToLower(r.contentType)
	if encoded(resp.Header) {
		// The transport asks for no compression (DisableCompression),
		// so an encoded body is unrequested: it is never inflated (a
		// gzip bomb stays 1 KiB), only its start is kept. A success
		// with such a body is an error; a challenge or a 404 is still
		// judged by its status and headers.
		r.body, _ = mcpwire.ReadAll(io.LimitReader(resp.Body, 1024), 1024)
		if resp.StatusCode < 300 {
			return r, fmt.Errorf("%w (Content-Encoding: %s); body not decoded", errUnrequestedEncoding, capText(resp.Header.Get("Content-Encoding"), 64))
		}
		return r, nil
	}
	switch {
	case r.contentType == "text/event-stream":
		if wantID != "" { // a notification's stream is not read
			r.msgs, r.decodeErr = c.readSSEReply(resp.Body, wantID)
		}
	case r.contentType == "application/json" || strings.HasSuffix(r.contentType, "+json") || resp.StatusCode == http.StatusUnauthorized:
		b, err := mcpwire.ReadAll(resp.Body, c.p.opts.MaxBodyBytes)
		r.body = b
		if err != nil {
			return r, &partialBody{body: b, err: fmt.Errorf("probe: read body: %w", err)}
		}
		if len(bytes.TrimSpace(b)) > 0 {
			r.msgs, r.decodeErr = mcpwire.Decode(b)
		}
	default:
		// Not JSON: keep the start for fingerprinting and TLS
		// detection, and drop the rest.
		r.body, _ = mcpwire.ReadAll(io.LimitReader(resp.Body, 1024), 1024)
		if json := bytes.TrimSpace(r.body); len(json) > 0 && json[0] == '{' {
			r.msgs, r.decodeErr = mcpwire.Decode(json)
		}
		drain(resp)
	}
	return r, nil
}

// drainCap bounds what is read and thrown away so that a connection can be
// reused: a short body costs less than a new connection, a long one more.
const drainCap = 64 << 10

// drain reads the rest of a body whose announced length is at most
// drainCap, so that net/http can keep the connection for the next request.
// A longer or unannounced body (a stream) is left, and Body.Close closes the
// connection.
func drain(resp *http.Response) {
	if resp.ContentLength >= 0 && resp.ContentLength <= drainCap {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainCap))
	}
}

// setHost moves a Host entry of the request's header fields, which net/http
// would ignore, to req.Host.
func setHost(req *http.Request) {
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	req.Header.Del("Host")
}

// partialBody is a failed body read (over the cap, or cut short) with the
// bytes that did arrive, from which a listing can keep what is complete.
type partialBody struct {
	body []byte
	err  error
}

func (e *partialBody) Error() string { return e.err.Error() }
func (e *partialBody) Unwrap() error { return e.err }

// readSSEReply reads a streamable-HTTP event stream until it carries the
// response with wantID (server requests and notifications before it are
// kept), or until the stream ends or a cap is hit.
func (c *client) readSSEReply(body io.Reader, wantID string) ([]mcpwire.Message, error) {
	sr := mcpwire.NewSSEReader(body, int(min(c.p.opts.MaxBodyBytes, 1<<30)), c.p.opts.MaxBodyBytes)
	var msgs []mcpwire.Message
	for {
		ev, err := sr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && len(msgs) > 0 {
				return msgs, nil
			}
			return msgs, err
		}
		if ev.Type != "message" || len(bytes.TrimSpace(ev.Data)) == 0 {
			continue
		}
		ms, err := mcpwire.Decode(ev.Data)
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, ms...)
		for i := range ms {
			if ms[i].IsResponse() && trimQuotes(string(ms[i].ID)) == trimQuotes(wantID) {
				return msgs, nil
			}
		}
		if len(msgs) > 1000 {
			return msgs, fmt.Errorf("%w: over 1000 messages before the response", mcpwire.ErrTooLarge)
		}
	}
}

// classify turns a request error into an endpoint status and message.
func classify(err error) (result.Status, string) {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return result.StatusClosed, "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return result.StatusClosed, "unreachable"
	case errors.Is(err, errExcluded):
		return result.StatusClosed, "excluded"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return result.StatusTimeout, "no answer in time"
	case errors.Is(err, mcpwire.ErrTooLarge):
		return result.StatusError, "response too large: " + shortErr(err)
	case errors.Is(err, errRedirectLimit), errors.Is(err, errRedirectOffsite):
		return result.StatusError, shortErr(err)
	case strings.Contains(err.Error(), "readLoopPeekFailLocked"):
		// net/http's words for bytes that arrived on the connection
		// before any request was sent.
		return result.StatusError, "the server sent data before it received a request"
	}
	return result.StatusError, shortErr(err)
}

// errExcluded is what a guarded dialer returns for an excluded address.
var errExcluded = errors.New("address excluded")

// ErrExcluded is returned by dialers that refuse an excluded address; the
// prober reports such a service as closed with reason "excluded".
var ErrExcluded = errExcluded

func shortErr(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	s := err.Error()
	if len(s) > 200 {
		s = capText(s, 200) + "..."
	}
	return validText(s)
}

// looksLikeTLS reports whether a plaintext HTTP exchange failed in the way
// a TLS-only server makes it fail.
func looksLikeTLS(r *reply, err error) bool {
	if err != nil {
		s := err.Error()
		return strings.Contains(s, "malformed HTTP") || strings.Contains(s, "EOF") ||
			strings.Contains(s, "connection reset")
	}
	return r.status == http.StatusBadRequest && bytes.Contains(bytes.ToLower(r.body), []byte("https"))
}

// looksLikePlain reports whether a TLS handshake failed because the peer
// speaks plaintext.
func looksLikePlain(err error) bool {
	var rerr tls.RecordHeaderError
	if errors.As(err, &rerr) {
		return true
	}
	s := err.Error()
	// net/http turns a RecordHeaderError whose bytes look like an HTTP
	// response into an error of its own, without wrapping.
	return strings.Contains(s, "server gave HTTP response to HTTPS client") ||
		strings.Contains(s, "first record does not look like a TLS handshake") ||
		strings.Contains(s, "tls: ") && strings.Contains(s, "EOF")
}

func redactURL(u *url.URL) string {
	cp := *u
	cp.User = nil
	cp.RawQuery = ""
	return cp.String()
}
