package gate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/auth"
)

// ErrUnauthenticatedExposure: a gate without authentication would listen
// on an address other machines can reach.
var ErrUnauthenticatedExposure = errors.New("gate: refusing to listen on a non-loopback address without authentication")

// IsLoopbackListen reports whether addr (host:port) listens only on
// loopback: a loopback IP or "localhost". An empty host, 0.0.0.0, :: and
// any other name or address are not.
func IsLoopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// CheckListen refuses a non-loopback listen address when some route has
// no authentication, unless opts.AllowUnauthenticated.
func (g *Gate) CheckListen(addr string) error {
	if g.Unauthenticated() && !g.opts.AllowUnauthenticated && !IsLoopbackListen(addr) {
		return fmt.Errorf("%w (%s): configure an authentication method, or pass --allow-unauthenticated", ErrUnauthenticatedExposure, addr)
	}
	return nil
}

// DrainTimeout is how long Serve waits for in-flight requests on shutdown.
const DrainTimeout = 15 * time.Second

// Serve serves the gate on ln (with TLS when tlsConf is set) until ctx is
// cancelled, then stops accepting, ends open streams, drains in-flight
// requests for up to DrainTimeout and closes the audit sink. It checks the
// listen address first (CheckListen).
func (g *Gate) Serve(ctx context.Context, ln net.Listener, tlsConf *tls.Config) error {
	if err := g.CheckListen(ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	if g.Unauthenticated() && !IsLoopbackListen(ln.Addr().String()) {
		g.log.Warn("gate: UNAUTHENTICATED on a non-loopback address: anyone who can reach " + ln.Addr().String() + " can use the upstream")
	}
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// No ReadTimeout: it would also end long-lived SSE streams; the
		// body of a POST gets its own deadline (Options.BodyTimeout).
		IdleTimeout:    120 * time.Second,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       nil,
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		g.Close()
		return fmt.Errorf("gate: serve: %w", err)
	case <-ctx.Done():
	}
	g.draining.Store(true)
	g.stopStreams()
	dctx, cancel := context.WithTimeout(context.Background(), DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	<-errc
	if cerr := g.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gate: shutdown: %w", err)
	}
	return nil
}

// Close ends open streams and closes the audit sink (once).
func (g *Gate) Close() error {
	var err error
	g.closeOnce.Do(func() {
		g.stopStreams()
		if g.opts.Audit != nil {
			if cerr := g.opts.Audit.Close(); cerr != nil {
				err = fmt.Errorf("gate: close audit: %w", cerr)
			}
		}
	})
	return err
}

// SelfSignedTLS makes an in-memory self-signed certificate (see
// auth.SelfSigned) for names (host names, IPs, or host:port), for
// development only.
func SelfSignedTLS(names []string) (*tls.Config, error) {
	var hosts []string
	for _, n := range names {
		h := n
		if hh, _, err := net.SplitHostPort(n); err == nil {
			h = hh
		}
		if h = strings.Trim(h, "[]"); h != "" {
			hosts = append(hosts, h)
		}
	}
	cert, err := auth.SelfSigned(hosts)
	if err != nil {
		return nil, fmt.Errorf("gate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
