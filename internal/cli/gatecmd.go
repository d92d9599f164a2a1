package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/gate"
	"github.com/mcpwarden/mcpwarden/internal/ratelimit"
)

// gateConfig is the parsed gate command line.
type gateConfig struct {
	listen          string
	upstream        string
	upstreamCmd     []string
	path            string
	apiKeys         string
	jwtIssuer       string
	jwksURL         string
	audiences       listFlag
	scopes          listFlag
	origins         listFlag
	publicNames     listFlag
	trustedProxies  listFlag
	tlsCert         string
	tlsKey          string
	clientCA        string
	maxConcurrent   int
	selfSigned      bool
	allowUnauth     bool
	upstreamHeaders headerFlag
	auditSpec       string
	policy          string
	rate            float64
	toolRate        float64
	maxBody         int64
	upstreamTO      time.Duration
	verbose         bool
}

func gateFlags(cfg *gateConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.listen = "127.0.0.1:8443"
	cfg.maxBody = gate.DefaultMaxBody
	cfg.upstreamTO = gate.DefaultUpstreamTimeout
	cfg.scopes.split, cfg.origins.split, cfg.publicNames.split, cfg.trustedProxies.split, cfg.audiences.split = true, true, true, true, true
	fs.StringVar(&cfg.listen, "listen", cfg.listen, "")
	fs.StringVar(&cfg.upstream, "upstream", "", "")
	fs.Func("upstream-cmd", "", func(v string) error {
		cfg.upstreamCmd = strings.Fields(v)
		if len(cfg.upstreamCmd) == 0 {
			return errors.New("empty command")
		}
		return nil
	})
	fs.StringVar(&cfg.path, "path", "", "")
	fs.StringVar(&cfg.apiKeys, "api-keys", "", "")
	fs.StringVar(&cfg.jwtIssuer, "jwt-issuer", "", "")
	fs.StringVar(&cfg.jwksURL, "jwks-url", "", "")
	fs.Var(&cfg.audiences, "audience", "")
	fs.Var(&cfg.scopes, "scope", "")
	fs.Var(&cfg.origins, "allow-origin", "")
	fs.Var(&cfg.publicNames, "public-name", "")
	fs.Var(&cfg.trustedProxies, "trusted-proxy", "")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "")
	fs.StringVar(&cfg.clientCA, "client-ca", "", "")
	fs.IntVar(&cfg.maxConcurrent, "max-concurrent", 0, "")
	fs.BoolVar(&cfg.selfSigned, "self-signed", false, "")
	fs.BoolVar(&cfg.allowUnauth, "allow-unauthenticated", false, "")
	fs.Var(&cfg.upstreamHeaders, "upstream-header", "")
	fs.StringVar(&cfg.auditSpec, "audit", "", "")
	fs.StringVar(&cfg.policy, "policy", "", "")
	fs.Float64Var(&cfg.rate, "rate", 0, "")
	fs.Float64Var(&cfg.toolRate, "tool-rate", 0, "")
	fs.Var(sizeFlag{&cfg.maxBody}, "max-body", "")
	fs.Var(durationFlag{&cfg.upstreamTO}, "upstream-timeout", "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.verbose, "verbose", false, "")
	return fs
}

func gateUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden gate --upstream URL [flags]
       mcpwarden gate [flags] -- COMMAND [ARG...]
       mcpwarden gate keys new NAME --keys-file FILE

Puts an authenticating gateway in front of an HTTP MCP server (streamable
HTTP, stateless, legacy HTTP+SSE or 2026-07-28). Every request is
authenticated; Origin and Host are checked; each JSON-RPC message is
inspected and checked against the per-tool policy (tools/list and the
resource and prompt lists are filtered with the same policy, also inside SSE
streams); sessions are bound to the principal that opened them; the client's
credential never reaches the upstream. Nothing changes in the server.

Upstream:
  --upstream URL          the MCP endpoint (or legacy SSE stream) to protect (required)
                          e.g. --upstream http://127.0.0.1:3000/mcp
  --upstream-cmd 'CMD ARGS'
  -- CMD ARGS...           or a stdio MCP server the gate starts, one process per client
                          session (isolated; restarted with backoff when it keeps dying;
                          its stderr logged); split on spaces, no shell
                          e.g. mcpwarden gate --api-keys keys.txt -- npx some-mcp-server
  --path P                serve it at P on the gate (default: the upstream's own path)
  --upstream-header 'Name: value'
                          add this header to every upstream request, e.g. the upstream's
                          own credential (repeatable); client credentials are never forwarded
  --upstream-timeout D    wait at most D for the upstream's response headers (default 2m)
  --max-body SIZE         largest client request body (default 4MiB; 413 above)

Authentication (at least one, or loopback only, or --allow-unauthenticated):
  --api-keys FILE         API keys file (hashes only; make keys with 'gate keys new');
                          clients send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'
  --jwt-issuer URL        accept JWT access tokens from this OAuth issuer (keys found by
                          RFC 8414 / OIDC discovery); the gate then serves RFC 9728
                          metadata at /.well-known/oauth-protected-resource<path>
  --jwks-url URL          the issuer's JWKS, when discovery does not find it
  --audience URL          accepted token audience (repeatable; default: the gate's canonical
                          URL, https://<first --public-name><path>)
  --client-ca FILE        accept client certificates chaining to these CAs (mTLS; the
                          identity is the certificate's SAN/CN); needs --tls-cert or --self-signed
  --scope S               scope every request must carry (repeatable; 403 insufficient_scope)
  --allow-unauthenticated allow a non-loopback --listen with no authentication (warns loudly,
                          also in /healthz)

Network:
  --listen ADDR           listen address (default 127.0.0.1:8443)
  --public-name HOST      a host name clients use to reach the gate (repeatable; Host is
                          checked against these; default localhost, 127.0.0.1, ::1 and the
                          --listen address).
                          Required when --listen is not loopback.
  --allow-origin ORIGIN   a browser origin allowed besides the gate's own (repeatable)
                          e.g. --allow-origin https://app.example.com
  --trusted-proxy CIDR    believe X-Forwarded-For/-Host/-Proto from these peers (repeatable)
  --tls-cert FILE --tls-key FILE
                          serve HTTPS with this certificate
  --self-signed           serve HTTPS with a throwaway self-signed certificate (development)

Policy, limits, audit:
  --policy FILE           per-tool policy (JSON): {"default":"deny","rules":[{"effect":"allow",
                          "kinds":["tool"],"names":["search","read_*"],"groups":["ops"]}]};
                          names match exactly (no case folding); first matching rule wins
  --rate N                requests per second per principal (default: no limit)
  --tool-rate N           tools/call per second per principal (default: no limit)
  --max-concurrent N      requests in flight per principal (default: no limit)
  --audit SPEC            audit trail: jsonl:PATH, sqlite:PATH or stdout
  -v, --verbose           debug logs on stderr

Endpoints besides the upstream's path: /healthz, /readyz.

Examples:
  mcpwarden gate keys new ci-bot --keys-file keys.txt   # prints the key once
  mcpwarden gate --upstream http://127.0.0.1:3000/mcp --api-keys keys.txt
  mcpwarden gate --api-keys keys.txt --policy policy.json -- python3 server.py   # stdio, at /mcp
  mcpwarden gate --listen 0.0.0.0:8443 --public-name mcp.example.com \
      --upstream http://127.0.0.1:3000/mcp --jwt-issuer https://auth.example.com \
      --tls-cert cert.pem --tls-key key.pem --policy policy.json --audit jsonl:audit.jsonl

Exit codes: 0 after a clean shutdown (Ctrl-C), 2 on bad input or a runtime error.
`)
}

func runGate(ctx context.Context, env *Env, args []string) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			gateUsage(env.Stdout)
			return ExitOK
		}
		if a == "--" {
			break
		}
	}
	if len(args) > 0 && args[0] == "keys" {
		return runGateKeys(env, args[1:])
	}
	cfg := &gateConfig{}
	fs := gateFlags(cfg)
	var cmd []string
	for i, a := range args {
		if a == "--" {
			args, cmd = args[:i], args[i+1:]
			if len(cmd) == 0 {
				fmt.Fprintln(env.Stderr, "mcpwarden gate: nothing after --: name the stdio server command")
				return ExitError
			}
			break
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(cmd) > 0 {
		if len(cfg.upstreamCmd) > 0 {
			err = errors.New("give the stdio command either with --upstream-cmd or after --, not both")
		}
		cfg.upstreamCmd = cmd
	}
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\nRun 'mcpwarden gate --help' for usage.\n", err)
		return ExitError
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	opts, tlsConf, cleanup, err := buildGate(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	defer cleanup()
	g, err := gate.New(*opts)
	if err != nil {
		closeAudit(opts)
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	if err := g.CheckListen(cfg.listen); err != nil {
		g.Close()
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		g.Close()
		fmt.Fprintf(env.Stderr, "mcpwarden gate: --listen %s: %v\n", cfg.listen, err)
		return ExitError
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	target := redactURL(cfg.upstream)
	if len(cfg.upstreamCmd) > 0 {
		target = "stdio: " + strings.Join(cfg.upstreamCmd, " ")
	}
	fmt.Fprintf(env.Stderr, "mcpwarden gate: listening on %s://%s%s -> %s\n", scheme, ln.Addr(), g.Paths()[0], target)
	if g.Unauthenticated() {
		fmt.Fprintln(env.Stderr, "mcpwarden gate: WARNING: NO AUTHENTICATION. Anyone who can reach this address can use the upstream.")
	}
	if err := g.Serve(ctx, ln, tlsConf); err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	fmt.Fprintln(env.Stderr, "mcpwarden gate: stopped")
	return ExitOK
}

func closeAudit(o *gate.Options) {
	if o.Audit != nil {
		o.Audit.Close()
	}
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// buildGate turns the flags into gate options, checking every input.
func buildGate(ctx context.Context, cfg *gateConfig, logger *slog.Logger) (_ *gate.Options, _ *tls.Config, cleanup func(), err error) {
	var stdio *gate.StdioUpstream
	cleanup = func() {
		if stdio != nil {
			stdio.Close()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	opts, tlsConf, err := buildGateOptions(ctx, cfg, logger, &stdio)
	return opts, tlsConf, cleanup, err
}

func buildGateOptions(ctx context.Context, cfg *gateConfig, logger *slog.Logger, stdio **gate.StdioUpstream) (*gate.Options, *tls.Config, error) {
	if len(cfg.upstreamCmd) > 0 {
		if cfg.upstream != "" {
			return nil, nil, usagef("--upstream and a stdio command exclude each other")
		}
		su, err := gate.NewStdioUpstream(gate.StdioOptions{Command: cfg.upstreamCmd, Logger: logger})
		if err != nil {
			return nil, nil, usagef("stdio command %q: %v", cfg.upstreamCmd[0], err)
		}
		*stdio = su
		cfg.upstream = gate.StdioUpstreamURL
	}
	if cfg.upstream == "" {
		return nil, nil, usagef("--upstream is required (the MCP server to protect, e.g. http://127.0.0.1:3000/mcp), or a stdio command after --")
	}
	up, err := url.Parse(cfg.upstream)
	if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
		return nil, nil, usagef("--upstream %q: want an http(s) URL", cfg.upstream)
	}
	if _, _, err := net.SplitHostPort(cfg.listen); err != nil {
		return nil, nil, usagef("--listen %q: want host:port, e.g. 127.0.0.1:8443", cfg.listen)
	}
	if !gate.IsLoopbackListen(cfg.listen) && len(cfg.publicNames.vals) == 0 {
		return nil, nil, usagef("--listen %s is not loopback: name the host clients use with --public-name (DNS rebinding protection)", cfg.listen)
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return nil, nil, usagef("--tls-cert and --tls-key go together")
	}
	if cfg.selfSigned && cfg.tlsCert != "" {
		return nil, nil, usagef("--self-signed and --tls-cert exclude each other")
	}
	if cfg.rate < 0 || cfg.toolRate < 0 || cfg.maxConcurrent < 0 {
		return nil, nil, usagef("--rate, --tool-rate and --max-concurrent must not be negative")
	}
	if cfg.clientCA != "" && cfg.tlsCert == "" && !cfg.selfSigned {
		return nil, nil, usagef("--client-ca needs TLS: add --tls-cert/--tls-key or --self-signed")
	}
	if cfg.jwtIssuer == "" && (len(cfg.audiences.vals) > 0 || cfg.jwksURL != "") {
		return nil, nil, usagef("--audience and --jwks-url need --jwt-issuer")
	}
	path := cfg.path
	if path == "" {
		path = up.Path
		if path == "" {
			path = "/"
		}
	}
	names := cfg.publicNames.vals
	if len(names) == 0 {
		// A loopback gate answers to the usual local names and to the
		// address it listens on (127.0.0.90:8443 is a fine local name).
		names = []string{"localhost", "127.0.0.1", "::1"}
		if h, _, err := net.SplitHostPort(cfg.listen); err == nil && !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	scheme := "http"
	if cfg.tlsCert != "" || cfg.selfSigned {
		scheme = "https"
	}
	route := gate.Route{
		Upstream:       cfg.upstream,
		Path:           cfg.path,
		UpstreamHeader: cfg.upstreamHeaders.h,
		RequiredScopes: cfg.scopes.vals,
	}
	if *stdio != nil {
		route.Transport = (*stdio).Transport()
	}
	opts := &gate.Options{
		PublicNames:          names,
		AllowedOrigins:       cfg.origins.vals,
		TrustedProxies:       cfg.trustedProxies.vals,
		AllowUnauthenticated: cfg.allowUnauth,
		MaxBody:              cfg.maxBody,
		UpstreamTimeout:      cfg.upstreamTO,
		Logger:               logger,
	}
	if cfg.policy != "" {
		p, err := gate.LoadPolicy(cfg.policy)
		if err != nil {
			return nil, nil, usagef("--policy: %v", err)
		}
		route.Policy = p
	}
	var clientCAs *x509.CertPool
	if cfg.clientCA != "" {
		pool, err := auth.LoadCertPool(cfg.clientCA)
		if err != nil {
			return nil, nil, usagef("--client-ca: %v", err)
		}
		m, err := auth.NewMTLS(pool)
		if err != nil {
			return nil, nil, usagef("--client-ca: %v", err)
		}
		clientCAs = pool
		route.Authenticators = append(route.Authenticators, m)
	}
	if cfg.apiKeys != "" {
		keys, err := auth.LoadAPIKeysFile(cfg.apiKeys)
		if err != nil {
			return nil, nil, usagef("--api-keys: %v", err)
		}
		route.Authenticators = append(route.Authenticators, keys)
	}
	if cfg.jwtIssuer != "" {
		host := names[0]
		if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
			if _, _, err := net.SplitHostPort(host); err != nil {
				host = "[" + host + "]"
			}
		}
		if len(cfg.publicNames.vals) == 0 {
			host = cfg.listen // loopback: the listen address is what clients use
		}
		resource := scheme + "://" + host + path
		auds := cfg.audiences.vals
		if len(auds) == 0 {
			auds = []string{resource}
		}
		jwt, err := auth.NewJWT(ctx, auth.JWTOptions{Issuer: cfg.jwtIssuer, Audiences: auds, JWKSURL: cfg.jwksURL, Logger: logger})
		if err != nil {
			return nil, nil, usagef("--jwt-issuer: %v", err)
		}
		route.Authenticators = append(route.Authenticators, jwt)
		route.Metadata = &gate.ResourceMetadata{Resource: resource, AuthorizationServers: []string{cfg.jwtIssuer}, ScopesSupported: cfg.scopes.vals}
	}
	opts.Routes = []gate.Route{route}
	if cfg.rate > 0 || cfg.toolRate > 0 || cfg.maxConcurrent > 0 {
		lim := ratelimit.Limits{RequestsPerSecond: cfg.rate, ToolCallsPerSecond: cfg.toolRate, MaxConcurrent: cfg.maxConcurrent}
		if err := lim.Validate(); err != nil {
			return nil, nil, usagef("--rate: %v", err)
		}
		opts.RateLimiter = ratelimit.New(lim)
	}
	var tlsConf *tls.Config
	switch {
	case cfg.tlsCert != "":
		tlsConf, err = auth.ServerTLSConfig(cfg.tlsCert, cfg.tlsKey, clientCAs)
		if err != nil {
			return nil, nil, usagef("--tls-cert/--tls-key: %v", err)
		}
	case cfg.selfSigned:
		tlsConf, err = gate.SelfSignedTLS(names)
		if err != nil {
			return nil, nil, err
		}
		if clientCAs != nil {
			tlsConf.ClientCAs = clientCAs
			tlsConf.ClientAuth = tls.VerifyClientCertIfGiven
		}
	}
	if cfg.auditSpec != "" {
		sink, err := audit.Open(cfg.auditSpec)
		if err != nil {
			return nil, nil, usagef("--audit: %v", err)
		}
		opts.Audit = sink
	}
	return opts, tlsConf, nil
}

// runGateKeys runs 'gate keys new NAME --keys-file FILE': it appends the new
// key's hash line to FILE and prints the key, alone, on stdout.
func runGateKeys(env *Env, args []string) int {
	fs := flag.NewFlagSet("gate keys", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var file string
	fs.StringVar(&file, "keys-file", "", "")
	pos, err := parseInterspersed(fs, args)
	if err == nil && (len(pos) != 2 || pos[0] != "new") {
		err = errors.New("usage: mcpwarden gate keys new NAME --keys-file FILE")
	}
	if err == nil && file == "" {
		err = errors.New("--keys-file is required")
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate keys: %v\n", err)
		return ExitError
	}
	key, line, err := auth.NewKey(pos[1])
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate keys: %v\n", err)
		return ExitError
	}
	if existing, err := auth.LoadAPIKeysFile(file); err == nil {
		for _, n := range existing.Names() {
			if n == pos[1] {
				fmt.Fprintf(env.Stderr, "mcpwarden gate keys: %s already has a key named %q\n", file, n)
				return ExitError
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stderr, "mcpwarden gate keys: %v\n", err)
		return ExitError
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate keys: %v\n", err)
		return ExitError
	}
	_, werr := fmt.Fprintln(f, line)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate keys: write %s: %v\n", file, werr)
		return ExitError
	}
	fmt.Fprintln(env.Stdout, key)
	fmt.Fprintf(env.Stderr, "mcpwarden gate keys: added %q to %s; the key above is shown only once\n", pos[1], file)
	return ExitOK
}
