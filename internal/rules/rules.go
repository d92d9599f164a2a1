// Package rules is the catalogue of every check mcpwarden reports: a stable
// id (MCPW-NNN), a default severity, a title, why it matters and how to fix
// it. Every subsystem builds its findings through New so that ids, titles
// and remediation text live in exactly one place.
package rules

import (
	"fmt"
	"sort"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

// Rule is one catalogue entry. Ids are never reused or renumbered.
type Rule struct {
	ID       string           `json:"id"`
	Severity finding.Severity `json:"severity"`
	Title    string           `json:"title"`
	Why      string           `json:"why"`
	Fix      string           `json:"fix"`
}

// The rule ids, as constants so that a typo is a compile error.
const (
	Unauthenticated       = "MCPW-001"
	ResourceMetadataBad   = "MCPW-002"
	PlaintextHTTP         = "MCPW-003"
	LegacySSE             = "MCPW-004"
	NonOAuthAuth          = "MCPW-005"
	ListingTruncated      = "MCPW-006"
	TLSCertificateInvalid = "MCPW-007"
	OriginNotValidated    = "MCPW-008"
	LocalWebReachable     = "MCPW-009"
	HostNotValidated      = "MCPW-010"
	CORSWildcard          = "MCPW-011"
	CORSCredentialed      = "MCPW-012"
	TLSExpired            = "MCPW-013"
	TLSNotYetValid        = "MCPW-014"
	TLSSelfSigned         = "MCPW-015"
	TLSNameMismatch       = "MCPW-016"
	TLSWeakVersion        = "MCPW-017"
	InspectorVulnerable   = "MCPW-018"
	InspectorProxyOpen    = "MCPW-019"
	InspectorExposed      = "MCPW-020"
	AuthServerUnreachable = "MCPW-021"
	PKCEMissing           = "MCPW-022"
	TokenEndpointPlain    = "MCPW-023"
	SensitiveResources    = "MCPW-024"

	// Rules of `mcpwarden host`: this machine's listeners and client configs.
	ListenerExposed        = "MCPW-025"
	ListenerMCPUnconfirmed = "MCPW-026"
	ListenerOwnerHidden    = "MCPW-027"
	ConfigPlaintextRemote  = "MCPW-028"
	ConfigRemoteNoAuth     = "MCPW-029"
	ConfigInlineSecret     = "MCPW-030"
	ConfigStdioExposed     = "MCPW-031"

	// Rules of `mcpwarden host --connections`: who is connected.
	InboundPublicOpen     = "MCPW-032"
	InboundLocalOnlyBreak = "MCPW-033"
	GateBypassed          = "MCPW-034"
)

// Rules of `mcpwarden exposure`: what internet scanning indexes hold.
const (
	IndexedStillOpen  = "MCPW-040"
	IndexedNowClosed  = "MCPW-041"
	IndexedUnverified = "MCPW-042"
)

var catalogue = []Rule{
	{
		ID: Unauthenticated, Severity: finding.High,
		Title: "MCP server reachable without authentication",
		Why: "Anyone who can reach this address can connect as an MCP client, list the tools and call them " +
			"with the server's privileges: no credential, no rate limit, no audit trail. Severity grows with " +
			"what the server exposes and with the address class (public > private > loopback).",
		Fix: "Bind the server to 127.0.0.1 if only local clients use it, or put an authenticating gateway " +
			"in front of it (mcpwarden gate, or another proxy that enforces OAuth 2.1 bearer tokens as the MCP " +
			"authorization specification describes) and make the server reachable only through it.",
	},
	{
		ID: ResourceMetadataBad, Severity: finding.Medium,
		Title: "OAuth-protected MCP server without valid protected resource metadata",
		Why: "MCP clients discover the authorization server through RFC 9728 protected resource metadata " +
			"(WWW-Authenticate resource_metadata or /.well-known/oauth-protected-resource). Without it, " +
			"compliant clients cannot authenticate, and operators are tempted to switch authentication off.",
		Fix: "Serve RFC 9728 metadata whose resource is the canonical URL of the MCP endpoint and whose " +
			"authorization_servers lists at least one issuer, and point to it from the 401 challenge with " +
			"resource_metadata=\"<absolute URL>\".",
	},
	{
		ID: PlaintextHTTP, Severity: finding.Medium,
		Title: "MCP endpoint served over plaintext HTTP on a non-loopback address",
		Why: "Requests, tool arguments, results and any bearer token cross the network unencrypted and " +
			"can be read or changed by anyone on the path.",
		Fix: "Serve the endpoint over HTTPS (terminate TLS in the server or in a gateway such as " +
			"mcpwarden gate), or bind it to loopback.",
	},
	{
		ID: LegacySSE, Severity: finding.Low,
		Title: "Deprecated HTTP+SSE transport (protocol 2024-11-05)",
		Why: "The legacy HTTP+SSE transport is deprecated; servers that still offer it are usually old " +
			"and predate the Origin validation and authorization requirements of later revisions.",
		Fix: "Upgrade the server to an SDK release that speaks streamable HTTP, and retire the /sse endpoint.",
	},
	{
		ID: NonOAuthAuth, Severity: finding.Info,
		Title: "MCP endpoint protected by a non-OAuth scheme",
		Why: "The endpoint demands credentials, but not the OAuth 2.1 bearer flow that the MCP " +
			"authorization specification describes; static secrets are rarely rotated or scoped.",
		Fix: "Prefer OAuth 2.1 bearer tokens with audience binding; keep static keys scoped, hashed and rotated.",
	},
	{
		ID: ListingTruncated, Severity: finding.Info,
		Title: "Listing incomplete: page, item or size cap reached",
		Why: "The server returned more pages or items than the scan's caps allow, or a cursor that never " +
			"advanced; what it exposes may be more than is listed here.",
		Fix: "Raise --max-pages / --max-items for this target if the listing is legitimate.",
	},
	{
		ID: TLSCertificateInvalid, Severity: finding.Medium,
		Title: "TLS certificate chain not trusted",
		Why: "Clients that verify certificates cannot connect safely; clients that skip verification can " +
			"be intercepted.",
		Fix: "Install a certificate from a trusted CA that covers the host name and is within its validity period.",
	},
	{
		ID: OriginNotValidated, Severity: finding.Medium,
		Title: "MCP endpoint does not validate the Origin header",
		Why: "The MCP transport specification requires servers to validate Origin and answer 403 to an invalid " +
			"one. Without it, any web page a user visits can send requests to the server through the user's " +
			"browser (DNS rebinding and cross-site requests).",
		Fix: "Reject requests whose Origin is present and not on an allowlist with 403 (the official SDKs " +
			"have options for this), or put mcpwarden gate in front, which does it by default.",
	},
	{
		ID: LocalWebReachable, Severity: finding.High,
		Title: "Local MCP server reachable from any web page (CVE-2025-49596 class)",
		Why: "The server listens on a loopback or private address, so its operators treat it as local, but it " +
			"answers requests from foreign web origins. A malicious page opened in the user's browser can " +
			"connect to it and call its tools, as CVE-2025-49596 showed for the MCP Inspector.",
		Fix: "Validate Origin (403 for foreign origins) and Host (only localhost names) on the server, or front " +
			"it with mcpwarden gate; upgrade SDKs that shipped rebinding protection off by default.",
	},
	{
		ID: HostNotValidated, Severity: finding.Medium,
		Title: "Host header not validated (DNS rebinding)",
		Why: "A loopback or private MCP server that accepts any Host header can be reached through DNS " +
			"rebinding: a hostile domain that resolves to the server's address turns the victim's browser " +
			"into a client.",
		Fix: "Accept only the expected host names (localhost, 127.0.0.1, the service's own name) and answer " +
			"others with 403 or 421; the official Go and TypeScript SDKs have this protection, keep it on.",
	},
	{
		ID: CORSWildcard, Severity: finding.Medium,
		Title: "Wildcard CORS on an MCP endpoint",
		Why: "Access-Control-Allow-Origin: * lets every web page read the endpoint's responses from a user's " +
			"browser.",
		Fix: "Remove the wildcard; allow only the web origins that need the endpoint and send Vary: Origin.",
	},
	{
		ID: CORSCredentialed, Severity: finding.High,
		Title: "CORS reflects a foreign Origin with credentials allowed",
		Why: "The endpoint echoes an arbitrary Origin and sets Access-Control-Allow-Credentials: true: any web " +
			"page can make authenticated requests with the user's cookies and read the answers.",
		Fix: "Allow credentials only for an explicit allowlist of origins, never by reflecting the request's Origin.",
	},
	{
		ID: TLSExpired, Severity: finding.High,
		Title: "TLS certificate expired",
		Why: "Clients that verify certificates refuse the connection; clients taught to ignore errors can be " +
			"intercepted.",
		Fix: "Renew the certificate and automate renewal (ACME).",
	},
	{
		ID: TLSNotYetValid, Severity: finding.Medium,
		Title: "TLS certificate not yet valid",
		Why: "The certificate's validity starts in the future: the clock of the server or of its CA is wrong, " +
			"or the wrong certificate is installed.",
		Fix: "Install a certificate that is valid now and check the server's clock.",
	},
	{
		ID: TLSSelfSigned, Severity: finding.Medium,
		Title: "Self-signed TLS certificate",
		Why: "No client can tell this certificate from an attacker's without pinning it; users learn to click " +
			"through warnings.",
		Fix: "Use a certificate from a CA the clients trust (a public CA, or the organisation's internal CA).",
	},
	{
		ID: TLSNameMismatch, Severity: finding.Medium,
		Title: "TLS certificate does not cover the host name",
		Why: "The certificate is for another name, so verifying clients refuse it and the rest cannot tell " +
			"the server from an impostor.",
		Fix: "Install a certificate whose subject alternative names include the name clients use.",
	},
	{
		ID: TLSWeakVersion, Severity: finding.Medium,
		Title: "Weak TLS protocol version accepted",
		Why:   "TLS 1.0 and 1.1 are deprecated (RFC 8996) and have known weaknesses.",
		Fix:   "Accept TLS 1.2 and 1.3 only.",
	},
	{
		ID: InspectorVulnerable, Severity: finding.Critical,
		Title: "MCP Inspector vulnerable to CVE-2025-49596",
		Why: "MCP Inspector before 0.14.1 runs a proxy without authentication or Origin checks that starts " +
			"arbitrary commands: any web page the developer visits can execute code on their machine.",
		Fix: "Upgrade @modelcontextprotocol/inspector to 0.14.1 or later, keep its session token on, and stop " +
			"the Inspector when not in use.",
	},
	{
		ID: InspectorProxyOpen, Severity: finding.Critical,
		Title: "MCP Inspector proxy answers without its session token",
		Why: "The Inspector's proxy starts MCP servers (that is, commands) on request. Without the session " +
			"token check, whoever reaches the port can run commands.",
		Fix: "Do not set DANGEROUSLY_OMIT_AUTH; keep the proxy bound to localhost; upgrade the Inspector.",
	},
	{
		ID: InspectorExposed, Severity: finding.Low,
		Title: "MCP Inspector running",
		Why:   "A developer tool that can start commands is listening; it is meant to be short-lived and local.",
		Fix:   "Stop the Inspector when not in use and keep it bound to 127.0.0.1.",
	},
	{
		ID: AuthServerUnreachable, Severity: finding.Medium,
		Title: "Authorization server metadata not reachable",
		Why: "Clients discover the authorization and token endpoints through RFC 8414 or OpenID Connect " +
			"discovery at the listed authorization server; if that fails, no compliant client can obtain a token.",
		Fix: "Serve /.well-known/oauth-authorization-server (or /.well-known/openid-configuration) at each " +
			"issuer listed in authorization_servers.",
	},
	{
		ID: PKCEMissing, Severity: finding.Medium,
		Title: "Authorization server does not advertise PKCE S256",
		Why: "The MCP authorization specification requires PKCE with S256; clients must refuse to proceed " +
			"when code_challenge_methods_supported does not list it.",
		Fix: "Enable PKCE with the S256 method and list it in code_challenge_methods_supported.",
	},
	{
		ID: TokenEndpointPlain, Severity: finding.High,
		Title: "Token endpoint not on HTTPS",
		Why:   "Authorization codes, refresh tokens and access tokens would cross the network in clear text.",
		Fix:   "Serve every authorization server endpoint over HTTPS.",
	},
	{
		ID: SensitiveResources, Severity: finding.High,
		Title: "Sensitive resources listed without authentication",
		Why: "The server advertises resources that look like secrets or system files (.env, SSH keys, cloud " +
			"credentials, /etc/passwd, whole file systems); anyone who connects can read them with resources/read.",
		Fix: "Stop exposing these resources, or require authentication (bind to loopback, or mcpwarden gate).",
	},
	{
		ID: ListenerExposed, Severity: finding.Critical,
		Title: "MCP server on this machine listens beyond loopback without authentication",
		Why: "A process on this machine listens on every interface (0.0.0.0 or ::) or on a network address, and " +
			"completed the MCP handshake without credentials when probed through loopback. Anyone who can reach " +
			"one of the machine's addresses can list and call its tools as the process's user. Critical when the " +
			"machine has a public address, high otherwise.",
		Fix: "Bind the server to 127.0.0.1 (the finding names the flag or environment variable for well-known " +
			"servers and the process to restart), or, if other machines need it, put mcpwarden gate in front and " +
			"firewall the server's own port.",
	},
	{
		ID: ListenerMCPUnconfirmed, Severity: finding.Medium,
		Title: "Process that runs an MCP server listens beyond loopback",
		Why: "The command line of the process names an MCP server package or SDK and its socket is bound to every " +
			"interface or to a network address, but no unauthenticated MCP handshake was seen: the server was busy, " +
			"protected, on a path the probe does not try, or not probed because probes stay on loopback. If it is " +
			"open, anyone who can reach the machine can use it.",
		Fix: "Check the server's authentication; bind it to 127.0.0.1 (the finding names the option for well-known " +
			"servers) or put mcpwarden gate in front of it.",
	},
	{
		ID: ListenerOwnerHidden, Severity: finding.Info,
		Title: "Listening socket whose owner is not visible",
		Why: "Without root, the process that owns another user's socket cannot be seen, so a listener on every " +
			"interface may be an MCP server nobody knows about; the audit reports it rather than skip it.",
		Fix: "Run mcpwarden host as root (sudo mcpwarden host) to name the process, or check it with the " +
			"machine's administrator.",
	},
	{
		ID: ConfigPlaintextRemote, Severity: finding.Medium,
		Title: "MCP client configured with a remote server over plaintext HTTP",
		Why: "The client sends every request, tool argument and result, and any credential the configuration holds, " +
			"unencrypted to a host that is not this machine; anyone on the path can read or change them.",
		Fix: "Use an https:// URL for the server (terminate TLS at the server or at a gateway such as mcpwarden gate).",
	},
	{
		ID: ConfigRemoteNoAuth, Severity: finding.Low,
		Title: "MCP client configured with a remote server and no credentials",
		Why: "The configuration of a remote server holds no Authorization header, other header or OAuth setting. " +
			"Unless the client negotiates OAuth with the server on its own, the server answers without " +
			"authentication, so anyone who can reach it can use it too and the client cannot tell it from an impostor.",
		Fix: "Require authentication on the server (OAuth 2.1 as the MCP authorization specification describes, or " +
			"mcpwarden gate in front) and configure the client with it; --probe-remotes checks the server itself.",
	},
	{
		ID: ConfigInlineSecret, Severity: finding.Medium,
		Title: "Secret written inline in an MCP client configuration",
		Why: "A token, key or password is stored in clear text in the client's configuration file, where backups, " +
			"dotfile repositories, screen shares and other programs running as the user can read it.",
		Fix: "Move the secret to the client's secret input or to an environment variable the configuration refers " +
			"to (${env:NAME}, ${input:id}, ${NAME} depending on the client), and rotate the exposed value.",
	},
	{
		ID: ConfigStdioExposed, Severity: finding.High,
		Title: "MCP client starts a local server that listens beyond loopback",
		Why: "The configured command starts a server bound to every interface (0.0.0.0, ::) or a network address, " +
			"or publishes a container port on all interfaces: while the client runs, anyone who can reach the " +
			"machine can connect to that server.",
		Fix: "Bind the server to 127.0.0.1 (--host 127.0.0.1, HOST=127.0.0.1, docker -p 127.0.0.1:PORT:PORT), or " +
			"use the stdio transport, which opens no port.",
	},
	{
		ID: InboundPublicOpen, Severity: finding.Critical,
		Title: "Connection from a public address to an MCP server without authentication",
		Why: "An established TCP connection comes from an internet address to an MCP server that completed the " +
			"handshake without any credential. Someone outside your networks is connected right now and can list " +
			"and call every tool with the server's privileges; nothing records who they are.",
		Fix: "Stop the exposure first: bind the server to 127.0.0.1 (or a private interface) or drop the port in the " +
			"firewall (nft/iptables rule accepting only trusted sources), then put mcpwarden gate in front so every " +
			"call is authenticated. Treat the peer as an intruder: check the server's logs and rotate any credential " +
			"its tools can reach.",
	},
	{
		ID: InboundLocalOnlyBreak, Severity: finding.High,
		Title: "Connection from the network to an MCP server meant to be local only",
		Why: "The server is bound to loopback, so only processes of this machine should reach it, yet a peer with a " +
			"non-loopback address is connected. Something forwards traffic to it: a DNAT or port-forward rule with " +
			"route_localnet (the kube-proxy CVE-2020-8558 pattern), an SSH or socat tunnel, or a proxy that does not " +
			"authenticate. Local MCP servers usually trust their callers completely.",
		Fix: "Find and remove the forwarding (iptables -t nat -S, sysctl net.ipv4.conf.*.route_localnet, ssh -R/-L, " +
			"socat), or replace it with mcpwarden gate so that remote callers authenticate.",
	},
	{
		ID: GateBypassed, Severity: finding.High,
		Title: "MCP server fronted by mcpwarden gate reached without the gate",
		Why: "The listener is the upstream of a mcpwarden gate (found from the running gate's --upstream or --config, " +
			"or declared with --gated), so the gate should be its only client. Another peer is connected to it " +
			"directly: its calls skip the gate's authentication, policy, rate limits and audit trail. Critical when " +
			"the peer is another machine, high when it is a local process.",
		Fix: "Bind the upstream to 127.0.0.1 (or a private interface only the gate can reach) and firewall its port " +
			"so that only the gate's address or user can connect (e.g. nft/iptables accepting the port from the " +
			"gate only, or -m owner --uid-owner for the gate's user on loopback); then point clients at the gate.",
	},
	{
		ID: IndexedStillOpen, Severity: finding.Critical,
		Title: "MCP server listed in an internet scanning index and still open",
		Why: "Shodan, Censys and similar indexes are where attackers look for targets first: this server is " +
			"listed there, and mcpwarden just completed an MCP handshake with it without any credential. Anyone " +
			"who searches the index can find it and use its tools now.",
		Fix: "Close it today: bind the server to 127.0.0.1 or firewall the port, or put an authenticating " +
			"gateway (mcpwarden gate) in front of it. Then review the server's logs for use by strangers since " +
			"the index first saw it, and rotate any credential its tools can reach.",
	},
	{
		ID: IndexedNowClosed, Severity: finding.Info,
		Title: "MCP server listed in an internet scanning index, now protected or gone",
		Why: "An index recorded an MCP server here (the evidence gives the date it was last seen); mcpwarden " +
			"now finds it protected, not MCP or not answering. While it was open, anyone reading the index " +
			"could have used it.",
		Fix: "Check the server's logs for the period it was open and rotate any credential its tools could reach; " +
			"the index entry ages out on its own once crawlers see the change.",
	},
	{
		ID: IndexedUnverified, Severity: finding.Medium,
		Title: "Internet scanning index lists an MCP server here (not verified)",
		Why: "An index's banner for this service carries MCP signals (an initialize result, an Mcp-Session-Id " +
			"header, an SSE endpoint event, an MCP authorization challenge or path). It was not checked now, so " +
			"it may still be open to anyone who searches the index. Medium for likely MCP, low for possibly MCP.",
		Fix: "Run mcpwarden exposure with --verify (or mcpwarden scan on the address) to see what is true now, " +
			"and close the server if it still answers without credentials.",
	},
}

var byID = func() map[string]Rule {
	m := make(map[string]Rule, len(catalogue))
	for _, r := range catalogue {
		if _, dup := m[r.ID]; dup {
			panic("rules: duplicate id " + r.ID)
		}
		m[r.ID] = r
	}
	return m
}()

// All returns the catalogue sorted by id.
func All() []Rule {
	out := append([]Rule(nil), catalogue...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Lookup returns the rule with the given id.
func Lookup(id string) (Rule, bool) {
	r, ok := byID[id]
	return r, ok
}

// New builds a finding of rule id at severity sev. It panics on an unknown
// id: that is a programming error, caught by every test that fires the rule.
func New(id string, sev finding.Severity, evidence string) finding.Finding {
	r, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("rules: unknown rule %q", id))
	}
	return finding.Finding{Rule: r.ID, Severity: sev, Title: r.Title, Evidence: evidence}
}

// Default builds a finding of rule id at the rule's default severity.
func Default(id, evidence string) finding.Finding {
	r, ok := byID[id]
	if !ok {
		panic(fmt.Sprintf("rules: unknown rule %q", id))
	}
	return New(id, r.Severity, evidence)
}
