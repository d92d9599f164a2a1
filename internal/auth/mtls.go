package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// MTLS authenticates requests by TLS client certificate. It is safe for
// concurrent use.
type MTLS struct {
	pool *x509.CertPool
	now  func() time.Time
}

var _ Authenticator = (*MTLS)(nil)

// NewMTLS returns an authenticator that accepts client certificates
// chaining to caPool (with the client-auth extended key usage).
func NewMTLS(caPool *x509.CertPool) (*MTLS, error) {
	if caPool == nil {
		return nil, errors.New("auth: mtls: no CA pool")
	}
	return &MTLS{pool: caPool, now: time.Now}, nil
}

// Authenticate reads the request's TLS peer certificates. No TLS or no
// client certificate is ErrNoCredentials. The chain is verified against
// the authenticator's own pool, whatever the TLS server already checked,
// and the identity is the first URI, DNS or email SAN of the leaf, else
// its subject CN.
func (a *MTLS) Authenticate(r *http.Request) (*Principal, error) {
	const m = "mtls"
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, ErrNoCredentials
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         a.pool,
		Intermediates: inter,
		CurrentTime:   a.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, invalidf(m, ReasonUntrustedCert, "subject %q: %v", leaf.Subject.String(), err)
	}
	id := CertIdentity(leaf)
	if id == "" {
		return nil, invalidf(m, ReasonNoIdentity, "subject %q", leaf.Subject.String())
	}
	return &Principal{Subject: id, Method: "mtls", ExpiresAt: leaf.NotAfter}, nil
}

// CertIdentity returns a certificate's identity: its first URI SAN, else
// first DNS SAN, else first email SAN, else its subject CN ("" if none).
func CertIdentity(c *x509.Certificate) string {
	switch {
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	}
	return c.Subject.CommonName
}

// LoadCertPool reads a PEM bundle of CA certificates.
func LoadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("auth: ca bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("auth: ca bundle %s: no PEM certificate", file)
	}
	return pool, nil
}

// ServerTLSConfig loads a server certificate and key (PEM files) and
// returns a TLS 1.2+ server configuration. With clientCAs, client
// certificates are requested and, when given, verified against it
// (tls.VerifyClientCertIfGiven), so that clients without one can still use
// another authentication method.
func ServerTLSConfig(certFile, keyFile string, clientCAs *x509.CertPool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("auth: tls: load %s and %s: %w", certFile, keyFile, err)
	}
	return serverTLSConfig(cert, clientCAs), nil
}

// ServerTLSConfigFor is ServerTLSConfig for a certificate in memory, e.g.
// one from SelfSigned.
func ServerTLSConfigFor(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	return serverTLSConfig(cert, clientCAs)
}

func serverTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if clientCAs != nil {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		cfg.ClientCAs = clientCAs
	}
	return cfg
}

// SelfSigned makes a self-signed ECDSA P-256 server certificate for hosts
// (IP literals become IP SANs, the rest DNS SANs), valid for 30 days, for
// development only.
func SelfSigned(hosts []string) (tls.Certificate, error) {
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("auth: self-signed: no host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: self-signed: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: self-signed: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"mcpwarden development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		h = strings.Trim(h, "[]")
		if h == "" {
			return tls.Certificate{}, errors.New("auth: self-signed: empty host")
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: self-signed: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("auth: self-signed: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
