package probe

import (
	"context"
	"crypto/tls"
	"net"
	"slices"
	"strconv"
)

// weakVersions are the deprecated protocol versions (RFC 8996) tried on
// every https endpoint, oldest first.
var weakVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11}

// allCipherSuites offers every suite crypto/tls implements, the insecure
// ones included: a server that speaks TLS 1.0 only with RSA key exchange or
// 3DES (which Go no longer offers by default) still counts as accepting
// TLS 1.0.
var allCipherSuites = func() []uint16 {
	var ids []uint16
	for _, cs := range slices.Concat(tls.CipherSuites(), tls.InsecureCipherSuites()) {
		ids = append(ids, cs.ID)
	}
	return ids
}()

// weakTLS tries one TLS handshake limited to each of weakVersions against
// the scanned address and returns the names of the versions the server
// accepted ("TLS 1.0", "TLS 1.1"), nil when none.
//
// Go's crypto/tls client still implements TLS 1.0 and 1.1: a Config whose
// MinVersion is set explicitly offers them with no GODEBUG setting
// (GODEBUG tls10server only restores the old server-side default, and the
// client default of TLS 1.2 only applies when MinVersion is zero). In FIPS
// 140-3 mode they are unavailable and every handshake here fails, so no
// version is reported.
//
// Only a handshake is made, no HTTP request: it goes through the prober's
// dialler (exclusions apply) but is neither counted as a request nor
// subject to the request rate limit. Each is bounded by ConnectTimeout.
func (s *svcProbe) weakTLS(ctx context.Context) []string {
	addr := net.JoinHostPort(s.c.ip, strconv.Itoa(s.c.port))
	var out []string
	for _, v := range weakVersions {
		if ctx.Err() != nil {
			break
		}
		if s.handshake(ctx, addr, v) {
			out = append(out, tls.VersionName(v))
		}
	}
	return out
}

// handshake reports whether a TLS handshake limited to version v succeeds.
func (s *svcProbe) handshake(ctx context.Context, addr string, v uint16) bool {
	ctx, cancel := context.WithTimeout(ctx, s.p.opts.ConnectTimeout)
	defer cancel()
	conn, err := s.p.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	cfg := &tls.Config{
		// Only the protocol version is judged here; the certificate is
		// recorded from the main connection.
		InsecureSkipVerify: true,
		MinVersion:         v,
		MaxVersion:         v,
		CipherSuites:       allCipherSuites,
	}
	if net.ParseIP(s.c.host) == nil {
		cfg.ServerName = s.c.host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return false
	}
	return tc.ConnectionState().Version == v
}
