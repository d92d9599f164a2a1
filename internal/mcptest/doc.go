// Package mcptest holds test-only MCP servers: the official TypeScript
// reference server (@modelcontextprotocol/server-everything, pinned in
// testdata/npm and started on a loopback address) and in-repo fakes,
// well-behaved and hostile, for the prober, scanner and gateway tests.
// Nothing in this package may be imported by production code, and every
// server it starts binds only to 127.0.0.0/8 or ::1.
package mcptest
