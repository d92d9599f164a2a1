// client.mjs drives the official TypeScript MCP SDK client
// (@modelcontextprotocol/sdk, pinned in ../package.json) through an
// mcpwarden gate for the Go tests in internal/gate (tsclient_test.go).
//
//   node client.mjs --url http://127.0.0.1:PORT/mcp --mode apikey|oauth \
//        [--transport streamable|sse] [--allowed echo] [--denied run_shell_command]
//
// Mode apikey sends the key from the MCPW_API_KEY environment variable in an
// X-API-Key header (requestInit). Mode oauth runs the SDK's own OAuth flow
// with the in-memory provider below: the first connect gets the gate's 401,
// the SDK discovers the protected resource metadata (RFC 9728) and the
// authorization server (RFC 8414), registers a client (RFC 7591), and sends
// the user to the authorization endpoint with PKCE and the resource
// parameter (RFC 8707); redirectToAuthorization follows that step without a
// browser and keeps the code, then finishAuth exchanges it and a second
// transport connects with the access token.
//
// It prints exactly one JSON line on stdout with what it saw, and exits 0
// unless the run itself broke (bad arguments, a step that threw where it
// must not); every network request is refused unless it goes to a loopback
// address (127.0.0.0/8 or ::1).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { isIP } from 'node:net';

const REDIRECT_URL = 'http://127.0.0.1/mcpwarden-tsclient/callback';

function parseArgs(argv) {
  const opts = { transport: 'streamable', allowed: 'echo', denied: 'run_shell_command' };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const name = flag.startsWith('--') ? flag.slice(2) : '';
    if (!['url', 'mode', 'transport', 'allowed', 'denied'].includes(name) || i + 1 >= argv.length) {
      throw new Error(`tsclient: bad argument ${JSON.stringify(flag)} (want --url, --mode, --transport, --allowed, --denied, each with a value)`);
    }
    opts[name] = argv[++i];
  }
  if (!opts.url) throw new Error('tsclient: --url is required');
  if (!['apikey', 'oauth'].includes(opts.mode)) throw new Error(`tsclient: --mode ${JSON.stringify(opts.mode)}: want apikey or oauth`);
  if (!['streamable', 'sse'].includes(opts.transport)) throw new Error(`tsclient: --transport ${JSON.stringify(opts.transport)}: want streamable or sse`);
  assertLoopback(opts.url);
  return opts;
}

// assertLoopback throws unless u is an http(s) URL whose host is an IP
// literal in 127.0.0.0/8 or ::1.
function assertLoopback(u) {
  const url = new URL(String(u));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`tsclient: refusing ${url.protocol} URL ${url.href}`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ok = (isIP(host) === 4 && host.split('.')[0] === '127') || (isIP(host) === 6 && host === '::1');
  if (!ok) throw new Error(`tsclient: refusing non-loopback address ${url.href}`);
}

// The log of every HTTP request the SDK (or this script) made.
const requests = [];
const realFetch = globalThis.fetch;

// guardedFetch is the only way out: loopback only, and logged.
async function guardedFetch(input, init) {
  const url = typeof input === 'string' || input instanceof URL ? String(input) : input.url;
  assertLoopback(url);
  const method = (init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET')).toUpperCase();
  const entry = { method, url };
  requests.push(entry);
  try {
    const res = await realFetch(input, init);
    entry.status = res.status;
    return res;
  } catch (err) {
    entry.error = String(err?.message ?? err);
    throw err;
  }
}
// Anything in the SDK (or its dependencies) that uses the global fetch goes
// through the guard too.
globalThis.fetch = guardedFetch;

// MemoryOAuthProvider is an OAuthClientProvider that keeps everything in
// memory and "redirects the user" by fetching the authorization URL itself.
class MemoryOAuthProvider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
    this._state = 'st-' + Math.random().toString(36).slice(2);
    this.authorizationUrl = undefined;
    this.authorizationCode = undefined;
    this.callback = undefined;
    this.savedTokens = 0;
  }
  get redirectUrl() { return REDIRECT_URL; }
  get clientMetadata() {
    return {
      client_name: 'mcpwarden-tsclient',
      redirect_uris: [REDIRECT_URL],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return this._state; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; }
  tokens() { return this._tokens; }
  saveTokens(tokens) { this._tokens = tokens; this.savedTokens++; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() {
    if (!this._verifier) throw new Error('tsclient: no PKCE code verifier saved');
    return this._verifier;
  }
  async redirectToAuthorization(authorizationUrl) {
    this.authorizationUrl = new URL(String(authorizationUrl));
    const res = await guardedFetch(this.authorizationUrl, { redirect: 'manual' });
    const location = res.headers.get('location');
    await res.body?.cancel();
    if (res.status < 300 || res.status > 399 || !location) {
      throw new Error(`tsclient: authorization endpoint answered ${res.status} without a redirect`);
    }
    const cb = new URL(location, this.authorizationUrl);
    this.callback = cb;
    if (cb.origin + cb.pathname !== new URL(REDIRECT_URL).origin + new URL(REDIRECT_URL).pathname) {
      throw new Error(`tsclient: redirected to ${cb.href}, not the registered redirect URI`);
    }
    if (cb.searchParams.get('state') !== this._state) {
      throw new Error(`tsclient: state mismatch in ${cb.href}`);
    }
    const code = cb.searchParams.get('code');
    if (!code) {
      throw new Error(`tsclient: no code in redirect: error=${cb.searchParams.get('error')} ${cb.searchParams.get('error_description') ?? ''}`);
    }
    this.authorizationCode = code;
  }
}

function newTransport(opts, extra) {
  const url = new URL(opts.url);
  const common = { fetch: guardedFetch, ...extra };
  return opts.transport === 'sse' ? new SSEClientTransport(url, common) : new StreamableHTTPClientTransport(url, common);
}

function newClient() {
  return new Client({ name: 'mcpwarden-tsclient', version: '1.0.0' });
}

function errInfo(err) {
  return { name: err?.constructor?.name ?? typeof err, code: err?.code, message: String(err?.message ?? err) };
}

// exercise lists tools, calls the allowed and the denied tool, and
// returns what it saw.
async function exercise(client, opts) {
  const out = {};
  const listed = await client.listTools();
  out.tools = listed.tools.map((t) => t.name);
  const ok = await client.callTool({ name: opts.allowed, arguments: { text: 'hello from ts' } });
  out.allowed = { isError: ok.isError === true, text: ok.content?.map((c) => c.text).join('') };
  try {
    const res = await client.callTool({ name: opts.denied, arguments: { text: 'id' } });
    out.denied = { result: { isError: res.isError === true, text: res.content?.map((c) => c.text).join('') } };
  } catch (err) {
    out.denied = { error: errInfo(err) };
  }
  return out;
}

async function runAPIKey(opts, out) {
  const key = process.env.MCPW_API_KEY;
  if (!key) throw new Error('tsclient: MCPW_API_KEY is not set');
  const client = newClient();
  const transport = newTransport(opts, { requestInit: { headers: { 'X-API-Key': key } } });
  await client.connect(transport);
  Object.assign(out, await exercise(client, opts));
  await client.close();
}

async function runOAuth(opts, out) {
  const provider = new MemoryOAuthProvider();
  const first = newTransport(opts, { authProvider: provider });
  const client1 = newClient();
  try {
    await client1.connect(first);
    throw new Error('tsclient: the first connect succeeded without a token');
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
    out.firstConnect = errInfo(err);
  }
  if (!provider.authorizationCode) throw new Error('tsclient: UnauthorizedError but no authorization code');
  const au = provider.authorizationUrl;
  out.authorization = {
    origin: au.origin,
    path: au.pathname,
    clientId: au.searchParams.get('client_id'),
    codeChallengeMethod: au.searchParams.get('code_challenge_method'),
    hasCodeChallenge: (au.searchParams.get('code_challenge') ?? '').length >= 43,
    resource: au.searchParams.get('resource'),
    scope: au.searchParams.get('scope'),
    callbackIss: provider.callback.searchParams.get('iss'),
  };
  await first.finishAuth(provider.authorizationCode);
  await first.close().catch(() => {});
  const tokens = provider.tokens();
  const info = provider.clientInformation();
  out.client = { clientId: info?.client_id, authMethod: info?.token_endpoint_auth_method, hasSecret: Boolean(info?.client_secret) };
  out.token = {
    accessToken: tokens?.access_token,
    tokenType: tokens?.token_type,
    hasRefreshToken: Boolean(tokens?.refresh_token),
    scope: tokens?.scope,
    saved: provider.savedTokens,
  };

  const second = newTransport(opts, { authProvider: provider });
  const client2 = newClient();
  await client2.connect(second);
  Object.assign(out, await exercise(client2, opts));
  await client2.close();
}

async function main() {
  const out = {};
  let code = 0;
  try {
    const opts = parseArgs(process.argv.slice(2));
    out.mode = opts.mode;
    out.transport = opts.transport;
    if (opts.mode === 'apikey') await runAPIKey(opts, out);
    else await runOAuth(opts, out);
  } catch (err) {
    out.fatal = errInfo(err);
    code = 1;
  }
  out.requests = requests;
  // Exit once the line is written: open keep-alive sockets or SSE streams
  // must not keep node alive.
  process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(code));
}

await main();
