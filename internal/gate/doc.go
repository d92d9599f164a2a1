// Package gate is mcpwarden's authenticating gateway in front of an MCP
// server, over HTTP (streamable HTTP stateful or stateless, legacy
// HTTP+SSE, 2026-07-28) or over stdio (StdioUpstream, one child process
// per session): it authenticates every request, checks Origin and Host, binds
// sessions to the principal that opened them, inspects each JSON-RPC
// message, enforces a per-tool policy (and filters the list responses with
// the same policy, also inside SSE streams), rate limits, audits, and
// forwards what is allowed to the upstream without ever passing the
// client's credentials on.
//
// The request chain, outermost first, is built in one place (Gate.Handler)
// and reads top to bottom: request id and client address, Host, Origin and
// CORS, authentication, session binding, JSON-RPC inspection, header/body
// consistency (2026-07-28), policy, rate limit, forward, filter, audit.
//
// The gate reads client JSON itself (Inspect) rather than with
// mcpwire.Decode: struct decoding matches member names case-insensitively,
// and a gate that reads {"name":"a","Name":"b"} differently from its
// upstream can be talked past. Duplicate keys, case-folded, are refused.
// List responses are filtered by their shape (any response whose result
// has tools, resources, resourceTemplates or prompts), not by request id,
// so replayed and resumed streams are filtered too.
//
// Names are matched exactly: a tool, resource URI or prompt name in a
// policy rule matches only the identical byte string. "Run_Shell_Command",
// " run_shell_command" and a name spelled with a Cyrillic "е" are different
// names. An allow list (the default when rules exist is deny) is therefore
// safe whatever the upstream does with names; a deny list is only as
// strong as the upstream's own exact matching.
//
// A call the policy denies is answered by the gate itself, with HTTP 200
// and a JSON-RPC error of code CodeForbidden (-32001, data.reason
// "forbidden"), and never reaches the upstream; on a legacy HTTP+SSE
// session the error goes down the client's event stream and the POST gets
// 202. MCP defines no forbidden code; -32001 is in the
// implementation-defined server error range. A batch with one denied
// member is refused whole: every request in it gets an error.
//
// What the gate answers itself, never forwarding the request:
//
//	400 -32700  malformed JSON, invalid UTF-8, trailing data
//	400 -32600  not JSON-RPC 2.0, duplicate (case-folded) keys, nesting over 128
//	400 -32020  Mcp-Method/Mcp-Name disagree with the body (or are missing
//	            on a 2026-07-28 request)
//	400         a credential in the query string (access_token, api_key, ...)
//	401         no credential or a bad one; WWW-Authenticate: Bearer
//	            resource_metadata="..." when the route has OAuth metadata
//	403         foreign Host or Origin; insufficient_scope
//	404 -32004  a session id unknown to the gate or bound to another principal
//	413         a body over Options.MaxBody
//	429 -32003  a rate or concurrency limit, with Retry-After
//	502         the upstream is unreachable, refused the gate's own
//	            credential (401/403), or sent a list the gate cannot read
package gate
