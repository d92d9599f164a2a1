// Package probe fingerprints one host:port: it finds the MCP endpoints on
// it over every transport and protocol revision (streamable HTTP stateful and
// stateless, legacy HTTP+SSE, the 2026-07-28 stateless protocol), tells
// whether they demand authentication, and lists what open ones expose. It
// never calls tools/call, resources/read or prompts/get. Every read is capped
// in bytes and time, redirects are bounded and same-origin, compressed
// bodies (never asked for) are never inflated, and every string a server
// sends reaches the record as valid UTF-8. A path that answers as a server
// already found on the port is recorded as an alias, without listing it
// again.
//
// On every MCP endpoint found it then repeats the handshake once with a
// foreign Origin and, on loopback and private addresses, once with a
// foreign Host (the CVE-2025-49596 and DNS-rebinding class; see
// [ForeignOrigin]), fetches the metadata of the authorization servers a
// protected endpoint lists (on the target's own host only, unless
// Options.FollowAuthServers is set), and on https ports tries one
// handshake each limited to TLS 1.0 and to TLS 1.1.
package probe

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Options configures a Prober. The zero value of every field means its
// documented default.
type Options struct {
	// Paths probed when a service names none. Default target.DefaultPaths.
	Paths []string
	// Headers are sent on a second attempt when an endpoint demands
	// authentication (an owner scanning their own servers). They are never
	// sent to another origin and never printed.
	Headers http.Header
	// UserAgent identifies the scanner. Default "mcpwarden/dev (+https://github.com/mcpwarden/mcpwarden)".
	UserAgent string
	// ConnectTimeout bounds one TCP connect and TLS handshake. Default 3s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one request from send to the last byte read.
	// Default 5s.
	RequestTimeout time.Duration
	// ServiceTimeout bounds all the work on one host:port. Default 30s.
	ServiceTimeout time.Duration
	// MaxBodyBytes caps one response body or one SSE stream. Default 4 MiB.
	MaxBodyBytes int64
	// MaxPages caps the list requests for one list method. Default 20.
	MaxPages int
	// MaxItems caps the items kept for one list method. Default 5000.
	MaxItems int
	// MaxRedirects caps same-origin redirects per request. Default 3.
	MaxRedirects int
	// FollowAuthServers lets the prober fetch the RFC 8414 / OpenID
	// Connect metadata of authorization servers on other hosts than the
	// target (the --follow-auth-servers flag). Default false: only issuers
	// on the target's own host (any port) are contacted; the others are
	// recorded with Fetched=false. Either way the fetches go through Dial,
	// so exclusions apply.
	FollowAuthServers bool
	// Dial opens TCP connections. The scan pipeline passes one that refuses
	// excluded addresses. Default: a net.Dialer with ConnectTimeout.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Resolve turns a host name into addresses. Default net.DefaultResolver.
	Resolve func(ctx context.Context, host string) ([]string, error)
	// Wait is called before every request (a rate limiter). Optional.
	Wait func(ctx context.Context) error
	// OnRequest is called once per request sent. Optional.
	OnRequest func()
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ClientName and Version are what the prober announces in clientInfo and
// the User-Agent.
var (
	ClientName = "mcpwarden"
	Version    = "dev"
)

func (o Options) withDefaults() Options {
	if o.Paths == nil {
		o.Paths = target.DefaultPaths
	}
	if o.UserAgent == "" {
		o.UserAgent = ClientName + "/" + Version + " (MCP exposure scanner; +https://github.com/mcpwarden/mcpwarden)"
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 5 * time.Second
	}
	if o.ServiceTimeout <= 0 {
		o.ServiceTimeout = 30 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 4 << 20
	}
	if o.MaxPages <= 0 {
		o.MaxPages = 20
	}
	if o.MaxItems <= 0 {
		o.MaxItems = 5000
	}
	if o.MaxRedirects <= 0 {
		o.MaxRedirects = 3
	}
	if o.Dial == nil {
		d := &net.Dialer{Timeout: o.ConnectTimeout}
		o.Dial = d.DialContext
	}
	if o.Resolve == nil {
		o.Resolve = net.DefaultResolver.LookupHost
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
