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
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/audit"
	"github.com/mcpwarden/mcpwarden/internal/auth"
	"github.com/mcpwarden/mcpwarden/internal/gate"
	"github.com/mcpwarden/mcpwarden/internal/ratelimit"
	"github.com/redis/go-redis/v9"
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
	auditArgs       bool
	auditRedact     listFlag
	policy          string
	rate            float64
	toolRate        float64
	maxBody         int64
	upstreamTO      time.Duration
	verbose         bool

	introspectionURL        string
	authServer              string
	introspectionClientID   string
	introspectionSecretFile string
	// introspectionSecret comes from the secret file or the environment
	// (MCPW_INTROSPECTION_SECRET), never from a flag value.
	introspectionSecret string
	auditDurability     string
	metricsListen       string
	// metrics is built from metricsListen by buildGateOptions.
	metrics *gate.Metrics
	// configFile is --config; routes are its routes (nil: the route
	// flags describe the one route).
	configFile string
	routes     []routeSpec
	// redisURL is --redis; redisClient is opened from it by
	// buildGateOptions and closed by runGate.
	redisURL    string
	redisClient *redis.Client
}

// envIntrospectionSecret names the environment variable holding the
// introspection client secret.
const envIntrospectionSecret = "MCPW_INTROSPECTION_SECRET"

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
	fs.BoolVar(&cfg.auditArgs, "audit-args", false, "")
	cfg.auditRedact.split = true
	fs.Var(&cfg.auditRedact, "audit-redact", "")
	// batch survives a crash of the gate (the record is in the kernel
	// before the response leaves) at a fraction of sync's cost, as
	// auditd's default flush mode does; sync is one flag away.
	cfg.auditDurability = string(audit.DurabilityBatch)
	fs.Func("audit-durability", "", func(v string) error {
		d, err := audit.ParseDurability(v)
		if err != nil {
			return err
		}
		cfg.auditDurability = string(d)
		return nil
	})
	fs.StringVar(&cfg.introspectionURL, "introspection-url", "", "")
	fs.StringVar(&cfg.authServer, "authorization-server", "", "")
	fs.StringVar(&cfg.introspectionClientID, "introspection-client-id", "", "")
	fs.StringVar(&cfg.introspectionSecretFile, "introspection-client-secret-file", "", "")
	fs.StringVar(&cfg.metricsListen, "metrics-listen", "", "")
	fs.StringVar(&cfg.configFile, "config", "", "")
	fs.StringVar(&cfg.redisURL, "redis", "", "")
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
       mcpwarden gate check CONFIG.yaml

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
                          metadata at /.well-known/oauth-protected-resource<path>;
                          a verified token is remembered for 30s (never past its exp)
  --jwks-url URL          the issuer's JWKS, when discovery does not find it
  --audience URL          accepted token audience (repeatable; default for JWTs: the gate's
                          canonical URL, https://<first --public-name><path>; introspected
                          tokens are checked against it only when it is given)
  --introspection-url URL accept opaque OAuth tokens, checked at this RFC 7662 introspection
                          endpoint (answers cached briefly); with --jwt-issuer, JWTs too
  --introspection-client-id ID
                          the gate's client id at the introspection endpoint (HTTP Basic)
  --introspection-client-secret-file FILE
                          its client secret, read from FILE (or from the environment variable
                          MCPW_INTROSPECTION_SECRET); never given on the command line
  --authorization-server URL
                          with --introspection-url alone: the issuer to advertise in the RFC 9728
                          protected resource metadata and the 401 challenge, so that MCP clients
                          find where to get a token
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
  --redis URL             share the --rate, --tool-rate and --max-concurrent limits of every gate
                          replica in this Redis (redis://[:PASSWORD@]HOST:PORT/DB or
                          rediss://...); when Redis cannot be asked, requests are refused
                          (429), not let through; an in-flight slot is leased for 30 s and
                          renewed while its request runs, so a dead replica's slots expire
  --audit SPEC            audit trail: jsonl:PATH, sqlite:PATH or stdout
  --audit-durability none|batch|sync
                          when a file or SQLite audit record counts as written. batch (default):
                          written to the kernel before the response is sent, so a crash or
                          kill -9 of the gate loses nothing, and synced to disk every 100ms
                          (a power loss can lose that much); sync: on stable storage before
                          the response is sent (slower); none: buffered, a gate crash loses
                          up to a second
  --audit-args            also record tool and prompt arguments (default: only their SHA-256
                          digest); credential-like fields (password, token, api_key, ...) are
                          always replaced by "[redacted]"
  --audit-redact F,F      more argument field names to redact, at any depth (case-insensitive)
  --metrics-listen ADDR   serve Prometheus metrics at http://ADDR/metrics on a separate
                          listener (default: off), e.g. --metrics-listen 127.0.0.1:9464
  -v, --verbose           debug logs on stderr

Config file and environment:
  --config FILE           read settings and routes from a YAML file (docs/gate-config.md);
                          route flags (--upstream, --api-keys, --policy, ...) are then not
                          allowed; global flags override the file
  MCPW_GATE_LISTEN, MCPW_GATE_PUBLIC_NAMES (comma-separated), MCPW_GATE_AUDIT,
  MCPW_GATE_METRICS_LISTEN override the file and are overridden by flags

Endpoints besides the upstream's path: /healthz, /readyz.

Config file: 'mcpwarden gate check CONFIG.yaml' checks a YAML config (several
routes, each with its own upstream, authentication and policy; see
docs/gate-config.md) and lists every problem at once, without starting
anything or using the network (exit 0 and "ok", or exit 2).

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

// jwtCacheTTL is how long a verified JWT is remembered. A key removed from
// the issuer's JWKS stops working for tokens already seen after at most
// this long.
const jwtCacheTTL = 30 * time.Second

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
	if len(args) > 0 && args[0] == "check" {
		return runGateCheck(env, args[1:])
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(cmd) > 0 {
		set["upstream-cmd"] = true
	}
	if err := layerSettings(cfg, set, env.Getenv); err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	if err := readIntrospectionSecret(cfg, env.Getenv); err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	opts, tlsConf, cleanup, err := buildGate(ctx, cfg, logger)
	if err != nil {
		if cfg.redisClient != nil {
			cfg.redisClient.Close()
		}
		fmt.Fprintf(env.Stderr, "mcpwarden gate: %v\n", err)
		return ExitError
	}
	defer cleanup()
	if cfg.redisClient != nil {
		defer cfg.redisClient.Close()
	}
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
	if cfg.metrics != nil {
		mln, err := net.Listen("tcp", cfg.metricsListen)
		if err != nil {
			ln.Close()
			g.Close()
			fmt.Fprintf(env.Stderr, "mcpwarden gate: --metrics-listen %s: %v\n", cfg.metricsListen, err)
			return ExitError
		}
		mctx, stopMetrics := context.WithCancel(ctx)
		mdone := make(chan struct{})
		go func() {
			defer close(mdone)
			if err := cfg.metrics.ServeMetrics(mctx, mln); err != nil {
				logger.Error("gate: metrics listener failed", "err", err)
			}
		}()
		defer func() { stopMetrics(); <-mdone }()
		fmt.Fprintf(env.Stderr, "mcpwarden gate: metrics on http://%s/metrics\n", mln.Addr())
	}
	scheme := "http"
	if tlsConf != nil {
		scheme = "https"
	}
	target := redactURL(cfg.upstream)
	if len(cfg.upstreamCmd) > 0 {
		target = "stdio: " + strings.Join(cfg.upstreamCmd, " ")
	}
	if cfg.routes != nil {
		target = fmt.Sprintf("%d routes from %s (%s)", len(cfg.routes), cfg.configFile, strings.Join(g.Paths(), ", "))
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
	var stdios []*gate.StdioUpstream
	cleanup = func() {
		for _, s := range stdios {
			s.Close()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	opts, tlsConf, err := buildGateOptions(ctx, cfg, logger, &stdios)
	return opts, tlsConf, cleanup, err
}

// routeSpec is one route as the flags or a config file describe it.
type routeSpec struct {
	name        string // how errors name it: "" for the flags, "routes[i]" for a config file
	upstream    string
	upstreamCmd []string
	path        string
	headers     map[string][]string
	apiKeys     string
	mtls        bool
	jwtIssuer   string
	jwksURL     string
	audiences   []string
	introURL    string
	introID     string
	introSecret string
	introAuds   []string
	authServer  string
	scopes      []string
	policyFile  string
	policy      *gate.Policy
}

// flagName names a setting in errors: the flag, or the config key.
func (rs *routeSpec) flagName(flag, key string) string {
	if rs.name == "" {
		return flag
	}
	return rs.name + "." + key
}

func buildGateOptions(ctx context.Context, cfg *gateConfig, logger *slog.Logger, stdios *[]*gate.StdioUpstream) (*gate.Options, *tls.Config, error) {
	specs := cfg.routes
	if specs == nil {
		rs := routeSpec{
			upstream: cfg.upstream, upstreamCmd: cfg.upstreamCmd, path: cfg.path, headers: cfg.upstreamHeaders.h,
			apiKeys: cfg.apiKeys, mtls: cfg.clientCA != "", jwtIssuer: cfg.jwtIssuer, jwksURL: cfg.jwksURL,
			audiences: cfg.audiences.vals, introURL: cfg.introspectionURL, introID: cfg.introspectionClientID,
			introSecret: cfg.introspectionSecret, introAuds: cfg.audiences.vals, scopes: cfg.scopes.vals, policyFile: cfg.policy,
			authServer: cfg.authServer,
		}
		if len(rs.upstreamCmd) > 0 && rs.upstream != "" {
			return nil, nil, usagef("--upstream and a stdio command exclude each other")
		}
		if rs.upstream == "" && len(rs.upstreamCmd) == 0 {
			return nil, nil, usagef("--upstream is required (the MCP server to protect, e.g. http://127.0.0.1:3000/mcp), or a stdio command after --")
		}
		if rs.upstream != "" {
			up, err := url.Parse(rs.upstream)
			if err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "" {
				return nil, nil, usagef("--upstream %q: want an http(s) URL", rs.upstream)
			}
		}
		specs = []routeSpec{rs}
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
	if cfg.routes == nil {
		if cfg.jwtIssuer == "" && cfg.jwksURL != "" {
			return nil, nil, usagef("--jwks-url needs --jwt-issuer")
		}
		if cfg.jwtIssuer == "" && cfg.introspectionURL == "" && len(cfg.audiences.vals) > 0 {
			return nil, nil, usagef("--audience needs --jwt-issuer or --introspection-url")
		}
		if cfg.introspectionURL == "" && (cfg.introspectionClientID != "" || cfg.introspectionSecret != "") {
			return nil, nil, usagef("--introspection-client-id and its secret need --introspection-url")
		}
		if cfg.authServer != "" && (cfg.introspectionURL == "" || cfg.jwtIssuer != "") {
			return nil, nil, usagef("--authorization-server is for --introspection-url without --jwt-issuer (the JWT issuer is advertised already)")
		}
		if cfg.authServer != "" {
			if err := gate.CheckServerURL("--authorization-server", cfg.authServer); err != nil {
				return nil, nil, usagef("%v", err)
			}
		}
		if cfg.introspectionSecret != "" && cfg.introspectionClientID == "" {
			return nil, nil, usagef("an introspection client secret needs --introspection-client-id")
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
	opts := &gate.Options{
		PublicNames:          names,
		AllowedOrigins:       cfg.origins.vals,
		TrustedProxies:       cfg.trustedProxies.vals,
		AllowUnauthenticated: cfg.allowUnauth,
		MaxBody:              cfg.maxBody,
		UpstreamTimeout:      cfg.upstreamTO,
		Logger:               logger,
	}
	var clientCAs *x509.CertPool
	if cfg.clientCA != "" {
		pool, err := auth.LoadCertPool(cfg.clientCA)
		if err != nil {
			return nil, nil, usagef("--client-ca: %v", err)
		}
		clientCAs = pool
	}
	for i := range specs {
		rt, err := buildRoute(ctx, cfg, &specs[i], names, scheme, clientCAs, logger, stdios)
		if err != nil {
			return nil, nil, err
		}
		opts.Routes = append(opts.Routes, rt)
	}
	if cfg.redisURL != "" && cfg.rate == 0 && cfg.toolRate == 0 && cfg.maxConcurrent == 0 {
		return nil, nil, usagef("--redis shares limits: add --rate, --tool-rate or --max-concurrent")
	}
	if cfg.rate > 0 || cfg.toolRate > 0 || cfg.maxConcurrent > 0 {
		lim := ratelimit.Limits{RequestsPerSecond: cfg.rate, ToolCallsPerSecond: cfg.toolRate, MaxConcurrent: cfg.maxConcurrent}
		if err := lim.Validate(); err != nil {
			return nil, nil, usagef("--rate: %v", err)
		}
		local := ratelimit.New(lim)
		opts.RateLimiter = local
		if cfg.redisURL != "" {
			ro, err := redis.ParseURL(cfg.redisURL)
			if err != nil {
				return nil, nil, usagef("--redis %s: want redis://[:PASSWORD@]HOST:PORT/DB or rediss://...", redactURL(cfg.redisURL))
			}
			cfg.redisClient = redis.NewClient(ro)
			opts.RateLimiter = &sharedLimiter{shared: ratelimit.NewRedis(cfg.redisClient, "", lim), log: logger}
		}
	}
	var tlsConf *tls.Config
	var err error
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
	if (cfg.auditArgs || len(cfg.auditRedact.vals) > 0) && cfg.auditSpec == "" {
		return nil, nil, usagef("--audit-args and --audit-redact need --audit")
	}
	opts.AuditArgs, opts.AuditRedact = cfg.auditArgs, cfg.auditRedact.vals
	if cfg.auditSpec != "" {
		d, err := audit.ParseDurability(cfg.auditDurability)
		if err != nil {
			return nil, nil, usagef("--audit-durability: %v", err)
		}
		sink, err := audit.OpenWith(cfg.auditSpec, &audit.Options{Durability: d, Logger: logger})
		if err != nil {
			return nil, nil, usagef("--audit: %v", err)
		}
		opts.Audit = sink
	}
	if cfg.metricsListen != "" {
		if _, _, err := net.SplitHostPort(cfg.metricsListen); err != nil {
			if opts.Audit != nil {
				opts.Audit.Close()
			}
			return nil, nil, usagef("--metrics-listen %q: want host:port, e.g. 127.0.0.1:9464", cfg.metricsListen)
		}
		cfg.metrics = gate.NewMetrics()
		if opts.Audit != nil {
			opts.Audit = audit.Multi(opts.Audit, cfg.metrics)
		} else {
			opts.Audit = cfg.metrics
		}
	}
	return opts, tlsConf, nil
}

// buildRoute turns one route's settings into a gate.Route, starting its
// stdio server when it has one (appended to stdios for cleanup).
func buildRoute(ctx context.Context, cfg *gateConfig, rs *routeSpec, names []string, scheme string, clientCAs *x509.CertPool, logger *slog.Logger, stdios *[]*gate.StdioUpstream) (gate.Route, error) {
	upstream := rs.upstream
	var transport http.RoundTripper
	if len(rs.upstreamCmd) > 0 {
		su, err := gate.NewStdioUpstream(gate.StdioOptions{Command: rs.upstreamCmd, Logger: logger})
		if err != nil {
			return gate.Route{}, usagef("%s %q: %v", rs.flagName("stdio command", "command"), rs.upstreamCmd[0], err)
		}
		*stdios = append(*stdios, su)
		upstream = gate.StdioUpstreamURL
		transport = su.Transport()
	}
	up, err := url.Parse(upstream)
	if err != nil {
		return gate.Route{}, usagef("%s %q: want an http(s) URL", rs.flagName("--upstream", "upstream"), upstream)
	}
	path := rs.path
	if path == "" {
		path = up.Path
		if path == "" {
			path = "/"
		}
	}
	route := gate.Route{
		Upstream:       upstream,
		Path:           rs.path,
		UpstreamHeader: rs.headers,
		RequiredScopes: rs.scopes,
		Transport:      transport,
		Policy:         rs.policy,
	}
	if rs.policyFile != "" {
		p, err := gate.LoadPolicy(rs.policyFile)
		if err != nil {
			return gate.Route{}, usagef("%s: %v", rs.flagName("--policy", "policy_file"), err)
		}
		route.Policy = p
	}
	if rs.mtls {
		if clientCAs == nil {
			return gate.Route{}, usagef("%s needs tls.client_ca", rs.flagName("--client-ca", "auth.mtls"))
		}
		m, err := auth.NewMTLS(clientCAs)
		if err != nil {
			return gate.Route{}, usagef("%s: %v", rs.flagName("--client-ca", "auth.mtls"), err)
		}
		route.Authenticators = append(route.Authenticators, m)
	}
	if rs.apiKeys != "" {
		keys, err := auth.LoadAPIKeysFile(rs.apiKeys)
		if err != nil {
			return gate.Route{}, usagef("%s: %v", rs.flagName("--api-keys", "auth.api_keys"), err)
		}
		route.Authenticators = append(route.Authenticators, keys)
	}
	// resource is the canonical URL of this route (RFC 8707, RFC 9728).
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
	if rs.jwtIssuer != "" {
		auds := rs.audiences
		if len(auds) == 0 {
			auds = []string{resource}
		}
		jwt, err := auth.NewJWT(ctx, auth.JWTOptions{Issuer: rs.jwtIssuer, Audiences: auds, JWKSURL: rs.jwksURL, Logger: logger,
			// A client repeats its token on every request: a verified
			// token is remembered for jwtCacheTTL (never past its exp),
			// so a repeat costs a hash, not a signature check.
			VerifiedCacheTTL: jwtCacheTTL})
		if err != nil {
			return gate.Route{}, usagef("%s: %v", rs.flagName("--jwt-issuer", "auth.jwt"), err)
		}
		route.Authenticators = append(route.Authenticators, jwt)
		route.Metadata = &gate.ResourceMetadata{Resource: resource, AuthorizationServers: []string{rs.jwtIssuer}, ScopesSupported: rs.scopes}
	}
	if rs.introURL != "" {
		in, err := auth.NewIntrospection(auth.IntrospectionOptions{
			Endpoint:     rs.introURL,
			ClientID:     rs.introID,
			ClientSecret: rs.introSecret,
			Audiences:    rs.introAuds,
			Issuer:       rs.jwtIssuer,
			Logger:       logger,
		})
		if err != nil {
			return gate.Route{}, usagef("%s: %v", rs.flagName("--introspection-url", "auth.introspection"), err)
		}
		route.Authenticators = append(route.Authenticators, in)
		if rs.jwtIssuer == "" && rs.authServer != "" {
			// Opaque tokens only: clients still need RFC 9728 metadata to
			// find where to get one.
			route.Metadata = &gate.ResourceMetadata{Resource: resource, AuthorizationServers: []string{rs.authServer}, ScopesSupported: rs.scopes}
		}
	}
	return route, nil
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

// readIntrospectionSecret fills cfg.introspectionSecret from
// --introspection-client-secret-file or, failing that, the environment.
// The secret is never taken from a flag value, so it does not show in ps.
func readIntrospectionSecret(cfg *gateConfig, getenv func(string) string) error {
	if cfg.introspectionURL == "" && cfg.introspectionSecretFile == "" {
		return nil
	}
	if cfg.introspectionSecretFile != "" {
		b, err := os.ReadFile(cfg.introspectionSecretFile)
		if err != nil {
			return usagef("--introspection-client-secret-file: %v", err)
		}
		sec := strings.TrimSpace(string(b))
		if sec == "" || strings.ContainsAny(sec, "\r\n") {
			return usagef("--introspection-client-secret-file %s: want the secret alone on one line", cfg.introspectionSecretFile)
		}
		cfg.introspectionSecret = sec
		return nil
	}
	if getenv != nil {
		cfg.introspectionSecret = strings.TrimSpace(getenv(envIntrospectionSecret))
	}
	return nil
}

// runGateCheck runs 'gate check FILE': it decodes and checks a gate config
// without starting anything or using the network, and lists every problem.
func runGateCheck(env *Env, args []string) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(env.Stderr, "mcpwarden gate check: usage: mcpwarden gate check CONFIG.yaml")
		return ExitError
	}
	c, err := gate.LoadConfig(args[0])
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden gate check: %v\n", err)
		return ExitError
	}
	if probs := c.Problems(); len(probs) > 0 {
		fmt.Fprintf(env.Stderr, "mcpwarden gate check: %s: %d problem(s):\n", args[0], len(probs))
		for _, p := range probs {
			fmt.Fprintf(env.Stderr, "  - %s\n", p)
		}
		return ExitError
	}
	fmt.Fprintln(env.Stdout, "ok")
	return ExitOK
}

// routeFlags are the flags that describe the single route; with --config
// the routes come from the file only.
var routeFlags = []string{"upstream", "upstream-cmd", "path", "api-keys", "jwt-issuer", "jwks-url", "audience", "scope",
	"policy", "upstream-header", "introspection-url", "introspection-client-id", "introspection-client-secret-file"}

// layerSettings applies the config file (when --config is given), then the
// MCPW_GATE_* environment variables, to every setting not given as a flag.
func layerSettings(cfg *gateConfig, set map[string]bool, getenv func(string) string) error {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if cfg.configFile != "" {
		fc, err := gate.LoadConfig(cfg.configFile)
		if err != nil {
			return err
		}
		if probs := fc.Problems(); len(probs) > 0 {
			return usagef("%s: %d problem(s):\n  - %s", cfg.configFile, len(probs), strings.Join(probs, "\n  - "))
		}
		for _, f := range routeFlags {
			if set[f] {
				return usagef("--%s: with --config the routes are set in the config file only", f)
			}
		}
		applyFileConfig(cfg, fc, set)
		routes, err := fileRoutes(fc)
		if err != nil {
			return err
		}
		cfg.routes = routes
	}
	envs := []struct {
		flag, env string
		apply     func(string)
	}{
		{"listen", "MCPW_GATE_LISTEN", func(v string) { cfg.listen = v }},
		{"public-name", "MCPW_GATE_PUBLIC_NAMES", func(v string) { cfg.publicNames.vals = splitList(v) }},
		{"audit", "MCPW_GATE_AUDIT", func(v string) { cfg.auditSpec = v }},
		{"metrics-listen", "MCPW_GATE_METRICS_LISTEN", func(v string) { cfg.metricsListen = v }},
	}
	for _, e := range envs {
		if v := strings.TrimSpace(getenv(e.env)); v != "" && !set[e.flag] {
			e.apply(v)
		}
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// applyFileConfig copies the file's global settings into cfg, except those
// given as flags.
func applyFileConfig(cfg *gateConfig, fc *gate.FileConfig, set map[string]bool) {
	str := func(flag string, dst *string, v string) {
		if v != "" && !set[flag] {
			*dst = v
		}
	}
	list := func(flag string, dst *listFlag, v []string) {
		if len(v) > 0 && !set[flag] {
			dst.vals = append([]string(nil), v...)
		}
	}
	str("listen", &cfg.listen, fc.Listen)
	list("public-name", &cfg.publicNames, fc.PublicNames)
	list("allow-origin", &cfg.origins, fc.AllowedOrigins)
	list("trusted-proxy", &cfg.trustedProxies, fc.TrustedProxies)
	if fc.AllowUnauthenticated && !set["allow-unauthenticated"] {
		cfg.allowUnauth = true
	}
	if t := fc.TLS; t != nil && !set["tls-cert"] && !set["tls-key"] && !set["self-signed"] {
		cfg.tlsCert, cfg.tlsKey, cfg.selfSigned = t.Cert, t.Key, t.SelfSigned
	}
	if t := fc.TLS; t != nil {
		str("client-ca", &cfg.clientCA, t.ClientCA)
	}
	l := fc.Limits
	if l.MaxBody > 0 && !set["max-body"] {
		cfg.maxBody = l.MaxBody
	}
	if d, err := time.ParseDuration(l.UpstreamTimeout); err == nil && d > 0 && !set["upstream-timeout"] {
		cfg.upstreamTO = d
	}
	if l.RequestsPerSecond > 0 && !set["rate"] {
		cfg.rate = l.RequestsPerSecond
	}
	if l.ToolCallsPerSecond > 0 && !set["tool-rate"] {
		cfg.toolRate = l.ToolCallsPerSecond
	}
	if l.MaxConcurrent > 0 && !set["max-concurrent"] {
		cfg.maxConcurrent = l.MaxConcurrent
	}
	str("audit", &cfg.auditSpec, fc.Audit.Sink)
	str("audit-durability", &cfg.auditDurability, strings.ToLower(fc.Audit.Durability))
	if fc.Audit.Args && !set["audit-args"] {
		cfg.auditArgs = true
	}
	list("audit-redact", &cfg.auditRedact, fc.Audit.Redact)
	str("metrics-listen", &cfg.metricsListen, fc.MetricsListen)
}

// fileRoutes turns the file's routes into route specs, reading each
// introspection client secret from its file.
func fileRoutes(fc *gate.FileConfig) ([]routeSpec, error) {
	var specs []routeSpec
	for i, r := range fc.Routes {
		rs := routeSpec{
			name: fmt.Sprintf("routes[%d]", i), upstream: r.Upstream, upstreamCmd: r.Command, path: r.Path,
			apiKeys: r.Auth.APIKeys, mtls: r.Auth.MTLS, scopes: r.Scopes, policyFile: r.PolicyFile, policy: r.Policy,
		}
		if rs.path == "" && len(rs.upstreamCmd) > 0 {
			rs.path = "/mcp"
		}
		if len(r.UpstreamHeaders) > 0 {
			rs.headers = map[string][]string{}
			for k, v := range r.UpstreamHeaders {
				rs.headers[k] = []string{v}
			}
		}
		if j := r.Auth.JWT; j != nil {
			rs.jwtIssuer, rs.jwksURL, rs.audiences = j.Issuer, j.JWKSURL, j.Audiences
		}
		if in := r.Auth.Introspection; in != nil {
			rs.introURL, rs.introID, rs.introAuds, rs.authServer = in.URL, in.ClientID, in.Audiences, in.AuthorizationServer
			if in.ClientSecretFile != "" {
				c := &gateConfig{introspectionURL: in.URL, introspectionSecretFile: in.ClientSecretFile}
				if err := readIntrospectionSecret(c, nil); err != nil {
					return nil, usagef("%s.auth.introspection: %v", rs.name, err)
				}
				rs.introSecret = c.introspectionSecret
			}
		}
		specs = append(specs, rs)
	}
	return specs, nil
}

// redisTimeout bounds one shared rate-limit decision.
const redisTimeout = 2 * time.Second

// sharedLimiter asks Redis for the rate limits shared by every replica and
// keeps the concurrency limit local. It fails closed: when Redis cannot be
// asked, the request is refused.
type sharedLimiter struct {
	shared *ratelimit.RedisLimiter
	log    *slog.Logger
}

// Allow implements gate.RateLimiter.
func (s *sharedLimiter) Allow(key, method, tool string) (bool, time.Duration, string) {
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	ok, retry, which, err := s.shared.AllowContext(ctx, key, method, tool)
	if err != nil {
		s.log.Error("gate: shared rate limiter unavailable; refusing", "err", err)
		return false, time.Second, "shared limiter unavailable"
	}
	return ok, retry, which
}

// Acquire implements gate.ConcurrencyLimiter with slots leased in Redis,
// shared by every replica. When Redis cannot be asked the request is
// refused, as for the rates.
func (s *sharedLimiter) Acquire(key string) (func(), bool) {
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	release, ok, err := s.shared.AcquireContext(ctx, key, 0)
	if err != nil {
		s.log.Error("gate: shared concurrency limiter unavailable; refusing", "err", err)
		return nil, false
	}
	return release, ok
}
