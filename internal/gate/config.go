package gate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FileConfig is the gate's YAML configuration file (see
// docs/gate-config.md). Unknown keys are errors. Paths inside it are used
// as written (relative to the working directory).
type FileConfig struct {
	// Listen is host:port (default 127.0.0.1:8443).
	Listen string `yaml:"listen"`
	// PublicNames, AllowedOrigins, TrustedProxies and
	// AllowUnauthenticated are Options fields of the same names.
	PublicNames          []string `yaml:"public_names"`
	AllowedOrigins       []string `yaml:"allowed_origins"`
	TrustedProxies       []string `yaml:"trusted_proxies"`
	AllowUnauthenticated bool     `yaml:"allow_unauthenticated"`
	// TLS serves HTTPS; nil: plain HTTP.
	TLS *TLSFileConfig `yaml:"tls"`
	// Limits are shared by every route.
	Limits LimitsFileConfig `yaml:"limits"`
	// Audit is the audit trail; empty Sink: none.
	Audit AuditFileConfig `yaml:"audit"`
	// MetricsListen serves Prometheus metrics on this host:port; empty: off.
	MetricsListen string `yaml:"metrics_listen"`
	// Routes: at least one.
	Routes []RouteFileConfig `yaml:"routes"`
}

// TLSFileConfig is a certificate pair or a self-signed certificate, and
// optionally a CA bundle for client certificates (mTLS).
type TLSFileConfig struct {
	Cert       string `yaml:"cert"`
	Key        string `yaml:"key"`
	SelfSigned bool   `yaml:"self_signed"`
	ClientCA   string `yaml:"client_ca"`
}

// LimitsFileConfig are body, time and rate limits. Durations use Go
// syntax ("30s", "2m").
type LimitsFileConfig struct {
	MaxBody            int64   `yaml:"max_body"`
	UpstreamTimeout    string  `yaml:"upstream_timeout"`
	RequestsPerSecond  float64 `yaml:"requests_per_second"`
	ToolCallsPerSecond float64 `yaml:"tool_calls_per_second"`
	MaxConcurrent      int     `yaml:"max_concurrent"`
}

// AuditFileConfig names the audit sink (jsonl:PATH, sqlite:PATH or
// stdout) and its durability (none, batch or sync; default sync).
//
// Args records tool and prompt arguments (not only their digest), with the
// fields named in Redact (and the default credential names) redacted.
type AuditFileConfig struct {
	Sink       string   `yaml:"sink"`
	Durability string   `yaml:"durability"`
	Args       bool     `yaml:"args"`
	Redact     []string `yaml:"redact"`
}

// RouteFileConfig is one path prefix and its upstream: an HTTP URL or a
// stdio command (exactly one).
type RouteFileConfig struct {
	Path     string   `yaml:"path"`
	Upstream string   `yaml:"upstream"`
	Command  []string `yaml:"command"`
	// UpstreamHeaders are added to every upstream request.
	UpstreamHeaders map[string]string `yaml:"upstream_headers"`
	// Auth lists the accepted authentication methods; none at all means
	// unauthenticated.
	Auth RouteAuthFileConfig `yaml:"auth"`
	// Scopes must all be held by every principal.
	Scopes []string `yaml:"scopes"`
	// Policy is inline; PolicyFile names a JSON policy file. At most one.
	Policy     *Policy `yaml:"policy"`
	PolicyFile string  `yaml:"policy_file"`
}

// RouteAuthFileConfig are a route's authentication methods.
type RouteAuthFileConfig struct {
	// APIKeys is an API keys file (hashes only).
	APIKeys string `yaml:"api_keys"`
	// MTLS accepts client certificates (needs tls.client_ca).
	MTLS bool `yaml:"mtls"`
	// JWT accepts JWT access tokens from an issuer.
	JWT *JWTFileConfig `yaml:"jwt"`
	// Introspection accepts opaque tokens checked by RFC 7662.
	Introspection *IntrospectionFileConfig `yaml:"introspection"`
}

// JWTFileConfig configures JWT access tokens.
type JWTFileConfig struct {
	Issuer    string   `yaml:"issuer"`
	JWKSURL   string   `yaml:"jwks_url"`
	Audiences []string `yaml:"audiences"`
}

// IntrospectionFileConfig configures token introspection. The client
// secret is read from ClientSecretFile, never written in the config.
type IntrospectionFileConfig struct {
	URL              string   `yaml:"url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	Audiences        []string `yaml:"audiences"`
	// AuthorizationServer is the issuer advertised in the route's RFC 9728
	// metadata when the route has no jwt section.
	AuthorizationServer string `yaml:"authorization_server"`
}

// maxConfigSize bounds a config file.
const maxConfigSize = 1 << 20

// ParseConfig decodes a YAML config, rejecting unknown keys, more than
// one document and type mismatches (all such problems are reported
// together, one per line).
func ParseConfig(r io.Reader) (*FileConfig, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("gate: config: %w", err)
	}
	if len(b) > maxConfigSize {
		return nil, fmt.Errorf("gate: config: larger than %d bytes", maxConfigSize)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var c FileConfig
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("gate: config: empty")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("gate: config:\n  %s", strings.Join(te.Errors, "\n  "))
		}
		return nil, fmt.Errorf("gate: config: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("gate: config: more than one YAML document")
	}
	return &c, nil
}

// LoadConfig reads and decodes a config file.
func LoadConfig(path string) (*FileConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gate: config: %w", err)
	}
	defer f.Close()
	c, err := ParseConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return c, nil
}

// Problems checks the config without starting anything or using the
// network and returns every problem found (nil: none). Files it names
// (keys, policies, certificates, secrets) must exist and be readable;
// their contents are checked by the loaders when the gate starts.
func (c *FileConfig) Problems() []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, fmt.Sprintf(format, a...)) }
	fileOK := func(what, path string) {
		if path == "" {
			return
		}
		if st, err := os.Stat(path); err != nil {
			add("%s %q: %v", what, path, errors.Unwrap(err))
		} else if st.IsDir() {
			add("%s %q: is a directory", what, path)
		}
	}
	listen := c.Listen
	if listen == "" {
		listen = "127.0.0.1:8443"
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		add("listen %q: want host:port", c.Listen)
	} else if !IsLoopbackListen(listen) && len(c.PublicNames) == 0 {
		add("listen %q is not loopback: public_names is required (DNS rebinding protection)", listen)
	}
	for _, n := range c.PublicNames {
		if _, err := parseHostName(n); err != nil {
			add("public_names: %v", err)
		}
	}
	for _, o := range c.AllowedOrigins {
		if _, ok := normalizeOrigin(o); !ok || o == "*" {
			add("allowed_origins: %q: want scheme://host[:port] (no wildcard)", o)
		}
	}
	for _, tp := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(tp); err != nil {
			if _, err := netip.ParseAddr(tp); err != nil {
				add("trusted_proxies: %q: want a CIDR or an IP", tp)
			}
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			add("metrics_listen %q: want host:port", c.MetricsListen)
		}
	}
	if t := c.TLS; t != nil {
		switch {
		case (t.Cert == "") != (t.Key == ""):
			add("tls: cert and key go together")
		case t.SelfSigned && t.Cert != "":
			add("tls: self_signed and cert exclude each other")
		case !t.SelfSigned && t.Cert == "":
			add("tls: give cert and key, or self_signed: true")
		}
		fileOK("tls.cert", t.Cert)
		fileOK("tls.key", t.Key)
		fileOK("tls.client_ca", t.ClientCA)
	}
	l := c.Limits
	if l.MaxBody < 0 || l.RequestsPerSecond < 0 || l.ToolCallsPerSecond < 0 || l.MaxConcurrent < 0 {
		add("limits: max_body, requests_per_second, tool_calls_per_second and max_concurrent must not be negative")
	}
	if l.UpstreamTimeout != "" {
		if d, err := time.ParseDuration(l.UpstreamTimeout); err != nil || d <= 0 {
			add("limits.upstream_timeout %q: want a positive duration such as 30s", l.UpstreamTimeout)
		}
	}
	if a := c.Audit; a.Sink != "" || a.Durability != "" {
		kind, path, _ := strings.Cut(a.Sink, ":")
		switch {
		case a.Sink == "stdout":
		case (kind == "jsonl" || kind == "sqlite") && path != "":
		default:
			add("audit.sink %q: want jsonl:PATH, sqlite:PATH or stdout", a.Sink)
		}
		switch strings.ToLower(a.Durability) {
		case "", "none", "batch", "sync":
		default:
			add("audit.durability %q: want none, batch or sync", a.Durability)
		}
	}
	if a := c.Audit; (a.Args || len(a.Redact) > 0) && a.Sink == "" {
		add("audit.args and audit.redact need audit.sink")
	}
	for i, f := range c.Audit.Redact {
		if strings.TrimSpace(f) == "" {
			add("audit.redact[%d]: empty field name", i)
		}
	}
	if len(c.Routes) == 0 {
		add("routes: at least one route is required")
	}
	paths := map[string]int{}
	for i, r := range c.Routes {
		where := fmt.Sprintf("routes[%d]", i)
		path := r.Path
		switch {
		case r.Upstream != "" && len(r.Command) > 0:
			add("%s: upstream and command exclude each other", where)
		case r.Upstream == "" && len(r.Command) == 0:
			add("%s: give upstream (an http(s) URL) or command (a stdio server)", where)
		case r.Upstream != "":
			u, err := url.Parse(r.Upstream)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
				add("%s: upstream %q: want an http(s) URL without credentials", where, r.Upstream)
			} else if path == "" {
				path = u.Path
			}
		case len(r.Command) > 0:
			if r.Command[0] == "" {
				add("%s: command: empty program name", where)
			}
			if path == "" {
				path = "/mcp"
			}
		}
		if path == "" {
			path = "/"
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#{} ") || strings.HasPrefix(path, "/.well-known/") || path == "/healthz" || path == "/readyz" {
			add("%s: path %q: want an absolute path, not a reserved one", where, path)
		}
		if j, dup := paths[path]; dup {
			add("%s: path %q already used by routes[%d]", where, path, j)
		}
		paths[path] = i
		for k, v := range r.UpstreamHeaders {
			if k == "" || strings.ContainsAny(k, " :\r\n\x00") || strings.ContainsAny(v, "\r\n\x00") {
				add("%s: upstream_headers %q: bad header name or value", where, k)
			}
		}
		switch {
		case r.Policy != nil && r.PolicyFile != "":
			add("%s: policy and policy_file exclude each other", where)
		case r.Policy != nil:
			if err := r.Policy.Validate(); err != nil {
				add("%s: policy: %v", where, err)
			}
		}
		fileOK(where+".policy_file", r.PolicyFile)
		a := r.Auth
		fileOK(where+".auth.api_keys", a.APIKeys)
		if a.MTLS && (c.TLS == nil || c.TLS.ClientCA == "") {
			add("%s: auth.mtls needs tls.client_ca", where)
		}
		if j := a.JWT; j != nil {
			checkServerURL(add, where+".auth.jwt.issuer", j.Issuer, true)
			checkServerURL(add, where+".auth.jwt.jwks_url", j.JWKSURL, false)
		}
		if in := a.Introspection; in != nil {
			checkServerURL(add, where+".auth.introspection.url", in.URL, true)
			if in.ClientSecretFile != "" && in.ClientID == "" {
				add("%s: auth.introspection: client_secret_file needs client_id", where)
			}
			fileOK(where+".auth.introspection.client_secret_file", in.ClientSecretFile)
			if in.AuthorizationServer != "" {
				checkServerURL(add, where+".auth.introspection.authorization_server", in.AuthorizationServer, true)
			}
		}
		if a.APIKeys == "" && !a.MTLS && a.JWT == nil && a.Introspection == nil && !c.AllowUnauthenticated && !IsLoopbackListen(listen) {
			add("%s: no authentication method on a non-loopback listen address (set allow_unauthenticated: true to accept that)", where)
		}
	}
	return p
}

// checkServerURL reports a URL that is neither https nor http on a
// loopback host (the rule the authenticators enforce).
// CheckServerURL reports a problem with an authorization server URL given
// as a flag (what names it): it must be absolute and https, or http on
// loopback. nil when it is fine.
func CheckServerURL(what, raw string) error {
	var err error
	checkServerURL(func(f string, a ...any) { err = fmt.Errorf(f, a...) }, what, raw, true)
	return err
}

func checkServerURL(add func(string, ...any), what, raw string, required bool) {
	if raw == "" {
		if required {
			add("%s: required", what)
		}
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		add("%s %q: want an absolute URL", what, raw)
		return
	}
	if u.Scheme == "https" {
		return
	}
	if u.Scheme == "http" {
		if a, err := netip.ParseAddr(u.Hostname()); (err == nil && a.IsLoopback()) || u.Hostname() == "localhost" {
			return
		}
	}
	add("%s %q: want https (http only on loopback)", what, raw)
}
