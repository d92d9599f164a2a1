package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue makes a client certificate; edit adjusts the template.
func (ca *testCA) issue(t *testing.T, edit func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "client-cn"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestMTLSAuthenticate(t *testing.T) {
	ca := newTestCA(t, "good CA")
	other := newTestCA(t, "other CA")
	m, err := NewMTLS(ca.pool())
	if err != nil {
		t.Fatal(err)
	}
	spiffe, _ := url.Parse("spiffe://example.org/agent")
	withTLS := func(c tls.Certificate) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:9/mcp", nil)
		r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c.Leaf}}
		return r
	}
	tests := []struct {
		name    string
		req     *http.Request
		subject string
		reason  Reason
		wantErr error
	}{
		{"uri san", withTLS(ca.issue(t, func(c *x509.Certificate) {
			c.URIs = []*url.URL{spiffe}
			c.DNSNames = []string{"dns.example"}
		})), "spiffe://example.org/agent", "", nil},
		{"dns san", withTLS(ca.issue(t, func(c *x509.Certificate) {
			c.DNSNames = []string{"dns.example"}
			c.EmailAddresses = []string{"a@example.org"}
		})), "dns.example", "", nil},
		{"email san", withTLS(ca.issue(t, func(c *x509.Certificate) { c.EmailAddresses = []string{"a@example.org"} })), "a@example.org", "", nil},
		{"cn", withTLS(ca.issue(t, nil)), "client-cn", "", nil},
		{"no tls", httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9/", nil), "", "", ErrNoCredentials},
		{"tls without cert", func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:9/", nil)
			r.TLS = &tls.ConnectionState{}
			return r
		}(), "", "", ErrNoCredentials},
		{"other CA", withTLS(other.issue(t, nil)), "", ReasonUntrustedCert, ErrInvalidCredentials},
		{"expired", withTLS(ca.issue(t, func(c *x509.Certificate) { c.NotAfter = time.Now().Add(-time.Minute) })), "", ReasonUntrustedCert, ErrInvalidCredentials},
		{"server-only usage", withTLS(ca.issue(t, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })), "", ReasonUntrustedCert, ErrInvalidCredentials},
		{"no identity", withTLS(ca.issue(t, func(c *x509.Certificate) { c.Subject = pkix.Name{} })), "", ReasonNoIdentity, ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := m.Authenticate(tt.req)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if p.Subject != tt.subject || p.Method != "mtls" || p.ExpiresAt.IsZero() {
					t.Errorf("principal %+v", p)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || ReasonOf(err) != tt.reason {
				t.Fatalf("err %v, want %v / %q", err, tt.wantErr, tt.reason)
			}
		})
	}
	if _, err := NewMTLS(nil); err == nil {
		t.Error("NewMTLS(nil) accepted")
	}
}

// TestMTLSOverTLS runs a real TLS server built by ServerTLSConfig on
// loopback: a client certificate is optional, and when sent it is checked.
func TestMTLSOverTLS(t *testing.T) {
	ca := newTestCA(t, "client CA")
	server, err := SelfSigned([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(server.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, "CERTIFICATE", server.Certificate[0])
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	caFile := filepath.Join(dir, "ca.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.cert.Raw)
	pool, err := LoadCertPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerTLSConfig(certFile, keyFile, pool)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.MinVersion < tls.VersionTLS12 {
		t.Fatalf("config %v %v", cfg.ClientAuth, cfg.MinVersion)
	}
	m, _ := NewMTLS(pool)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := m.Authenticate(r)
		switch {
		case errors.Is(err, ErrNoCredentials):
			w.WriteHeader(http.StatusUnauthorized)
		case err != nil:
			w.WriteHeader(http.StatusForbidden)
		default:
			_, _ = io.WriteString(w, p.Subject)
		}
	}))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the rogue handshake below fails on purpose
	srv.StartTLS()
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(server.Leaf)
	get := func(certs ...tls.Certificate) (int, string, error) {
		tc := &tls.Config{RootCAs: roots}
		if len(certs) > 0 {
			// Send the certificate even when the server's CA list does not
			// name its issuer (the client would otherwise stay silent).
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
		defer c.CloseIdleConnections()
		resp, err := c.Get(srv.URL)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if code, body, err := get(ca.issue(t, func(c *x509.Certificate) { c.DNSNames = []string{"agent.internal"} })); err != nil || code != 200 || body != "agent.internal" {
		t.Errorf("with client cert: %d %q %v", code, body, err)
	}
	if code, _, err := get(); err != nil || code != http.StatusUnauthorized {
		t.Errorf("without client cert: %d %v", code, err)
	}
	if _, _, err := get(newTestCA(t, "rogue").issue(t, nil)); err == nil {
		t.Error("TLS handshake accepted a certificate of an unknown CA")
	}

	if _, err := ServerTLSConfig(certFile, certFile, nil); err == nil {
		t.Error("cert as key accepted")
	}
	if _, err := LoadCertPool(keyFile); err == nil {
		t.Error("key file accepted as CA bundle")
	}
	if c := ServerTLSConfigFor(server, nil); c.ClientAuth != tls.NoClientCert {
		t.Error("client certs requested without a pool")
	}
	if _, err := SelfSigned(nil); err == nil {
		t.Error("SelfSigned(nil) accepted")
	}
	if !strings.Contains(server.Leaf.IPAddresses[0].String(), "127.0.0.1") || server.Leaf.DNSNames[0] != "localhost" {
		t.Errorf("SANs %v %v", server.Leaf.IPAddresses, server.Leaf.DNSNames)
	}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
