// Package mcpcmd recognises MCP servers by their command line (node, npx,
// uvx, python, docker and friends running a known MCP server package or
// SDK) and knows, for the well-known ones, the flag or environment
// variable that binds them to 127.0.0.1. It also reads the bind address a
// command line asks for (--host 0.0.0.0, HOST=0.0.0.0, docker -p 8080:80).
//
// Recognition is a heuristic on untrusted text: it never runs anything.
package mcpcmd

import (
	"net/netip"
	"path"
	"strings"
)

// GateFix is the fix for a server without a known bind option.
const GateFix = "bind the server to 127.0.0.1 if it has an option for it (HOST=127.0.0.1 for most Node " +
	"servers, --host 127.0.0.1 for most Python ones), otherwise keep the port firewalled and put " +
	"mcpwarden gate in front of it"

// Match is what a command line says about a process.
type Match struct {
	// MCP is true when the command runs a known MCP server package, an
	// MCP SDK CLI or a program whose name says MCP.
	MCP bool
	// Server names what was recognised ("@modelcontextprotocol/server-everything",
	// "fastmcp", "mcp_server_time", "docker-proxy").
	Server string
	// Known is true for well-known servers whose Fix names their own
	// bind option; false means Fix is GateFix.
	Known bool
	// Fix is the exact remediation for a server that listens beyond
	// loopback.
	Fix string
}

// known lists well-known programs by name (an npm package without version,
// a Python module, an executable's base name).
var known = []struct {
	names []string
	mcp   bool
	fix   string
}{
	{[]string{"@modelcontextprotocol/server-everything", "mcp-server-everything"}, true,
		"server-everything has no bind-address option: run it over stdio (the default transport), or keep its port " +
			"firewalled and reach it only through mcpwarden gate"},
	{[]string{"@modelcontextprotocol/inspector", "mcp-inspector", "@modelcontextprotocol/inspector-server"}, true,
		"start the Inspector with HOST=127.0.0.1 (the default since 0.14.1; do not set HOST=0.0.0.0 or " +
			"DANGEROUSLY_OMIT_AUTH), upgrade to 0.14.1 or later, and stop it when not in use"},
	{[]string{"fastmcp"}, true,
		"run it with --host 127.0.0.1 (fastmcp run ... --transport http --host 127.0.0.1), or set FASTMCP_HOST=127.0.0.1 " +
			"or host=\"127.0.0.1\" in mcp.run(...)"},
	{[]string{"mcp"}, true, // the Python SDK CLI: mcp run server.py
		"set FASTMCP_HOST=127.0.0.1 (or FastMCP(..., host=\"127.0.0.1\")); the Python SDK binds 127.0.0.1 unless told otherwise"},
	{[]string{"mcp-proxy"}, true,
		"run mcp-proxy with --host 127.0.0.1 (older releases: --sse-host 127.0.0.1)"},
	{[]string{"@playwright/mcp", "mcp-server-playwright"}, true,
		"run it with --host localhost (its default) instead of --host 0.0.0.0"},
	{[]string{"supergateway"}, true, ""},
	{[]string{"docker-proxy", "rootlessport"}, false,
		"publish the container port on loopback only: docker run -p 127.0.0.1:HOSTPORT:CONTAINERPORT " +
			"(compose: ports: [\"127.0.0.1:HOSTPORT:CONTAINERPORT\"]), or put mcpwarden gate in front"},
}

// launchers run the program named by their first non-flag argument.
var launchers = map[string]bool{
	"node": true, "nodejs": true, "npx": true, "bunx": true, "bun": true, "deno": true, "pnpm": true, "yarn": true,
	"uvx": true, "uv": true, "pipx": true, "python": true, "python3": true, "py": true, "docker": true, "podman": true,
	"npm": true, "tsx": true, "ts-node": true,
}

// launcherWords are sub-commands and words skipped after a launcher.
var launcherWords = map[string]bool{
	"run": true, "exec": true, "dlx": true, "x": true, "tool": true, "start": true,
}

// Recognize reads an argument vector. ok is false when nothing is known
// about the command (not MCP, no specific fix).
func Recognize(argv []string) (m Match, ok bool) {
	if len(argv) == 0 {
		return Match{}, false
	}
	cands := candidates(argv)
	for _, c := range cands {
		for _, k := range known {
			for _, n := range k.names {
				if c == n {
					m = Match{MCP: k.mcp, Server: n, Known: k.fix != "", Fix: k.fix}
					if m.Fix == "" {
						m.Fix = GateFix
					}
					return m, true
				}
			}
		}
	}
	for _, c := range cands {
		if mcpName(c) {
			return Match{MCP: true, Server: c, Fix: GateFix}, true
		}
	}
	return Match{}, false
}

// candidates returns the names worth matching: the program's base name,
// and for launchers the package, module, script or image they run. npm
// versions (@1.2.3) and script extensions are stripped.
func candidates(argv []string) []string {
	var out []string
	add := func(s string) {
		s = stripVersion(s)
		if s == "" {
			return
		}
		out = append(out, s)
		if pkg := nodeModulesPackage(s); pkg != "" {
			out = append(out, pkg)
		}
		base := path.Base(strings.ReplaceAll(s, "\\", "/"))
		for _, ext := range []string{".js", ".mjs", ".cjs", ".ts", ".py", ".exe"} {
			base = strings.TrimSuffix(base, ext)
		}
		if base != s && base != "." && base != "/" {
			out = append(out, base)
		}
	}
	add(argv[0])
	prog := progName(argv[0])
	if !launchers[prog] && !strings.HasPrefix(prog, "python") {
		return out
	}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-m" && i+1 < len(argv): // python -m module
			add(argv[i+1])
			return out
		case a == "--from" || a == "-p" || a == "--package" || a == "--with": // uvx --from pkg, npx -p pkg
			if i+1 < len(argv) {
				add(argv[i+1])
				i++
			}
		case strings.HasPrefix(a, "--from=") || strings.HasPrefix(a, "--package="):
			add(a[strings.Index(a, "=")+1:])
		case strings.HasPrefix(a, "-"):
			if (prog == "docker" || prog == "podman") && dockerValueFlag(a) && i+1 < len(argv) {
				i++
			}
			if runtimeValueFlags[a] && i+1 < len(argv) {
				i++
			}
		case launcherWords[a] || a == "--":
		default:
			add(a)
			// A launcher of a launcher (uv run python -m x, npx tsx f).
			if p := progName(a); launchers[p] || strings.HasPrefix(p, "python") {
				continue
			}
			// The word after the package may be its sub-command (fastmcp run).
			return out
		}
	}
	return out
}

// nodeModulesPackage returns the npm package a path inside node_modules
// belongs to (".../node_modules/@scope/pkg/dist/index.js" -> "@scope/pkg").
func nodeModulesPackage(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	i := strings.LastIndex(p, "node_modules/")
	if i < 0 {
		return ""
	}
	parts := strings.Split(p[i+len("node_modules/"):], "/")
	switch {
	case len(parts) >= 2 && strings.HasPrefix(parts[0], "@"):
		return parts[0] + "/" + parts[1]
	case len(parts) >= 1 && parts[0] != ".bin":
		return parts[0]
	}
	return ""
}

// runtimeValueFlags are node, deno, bun and python flags whose value is a
// separate argument (node --require preload.js server.js).
var runtimeValueFlags = map[string]bool{
	"-r": true, "--require": true, "--import": true, "--loader": true, "--experimental-loader": true,
	"--env-file": true, "--conditions": true, "-C": true, "--title": true, "-W": true, "-X": true,
}

// dockerValueFlag reports whether a docker run flag takes a separate value.
func dockerValueFlag(f string) bool {
	if strings.Contains(f, "=") {
		return false
	}
	switch f {
	case "-p", "--publish", "-e", "--env", "-v", "--volume", "--name", "--network", "--env-file", "-w", "--workdir",
		"-u", "--user", "--entrypoint", "--mount", "-l", "--label", "--platform", "--pull", "-h", "--hostname", "--add-host":
		return true
	}
	return false
}

func progName(s string) string {
	b := path.Base(strings.ReplaceAll(s, "\\", "/"))
	b = strings.TrimSuffix(b, ".exe")
	// python3.12 -> python3.12 stays; callers use HasPrefix("python").
	return b
}

// stripVersion removes an npm "@version" or pip "==version" suffix.
func stripVersion(s string) string {
	if i := strings.Index(s, "=="); i > 0 {
		s = s[:i]
	}
	at := strings.LastIndex(s, "@")
	if at > 0 && at > strings.LastIndex(s, "/") {
		s = s[:at]
	}
	return s
}

// mcpName reports whether a program, package, module or image name says
// MCP: a token "mcp" or "fastmcp" between separators (mcp-server-x,
// x-mcp-server, mcp_server_x, @scope/mcp, mcp/fetch, ghcr.io/o/x-mcp).
func mcpName(s string) bool {
	tokens := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || r == '/' || r == '@' || r == ':' || r == '\\'
	})
	for _, t := range tokens {
		if t == "mcp" || t == "fastmcp" || t == "modelcontextprotocol" {
			return true
		}
	}
	return false
}

// BindAddress returns the address a command line (and, when known, its
// environment) asks the server to listen on, as written ("0.0.0.0",
// "[::]:8000", "127.0.0.1"), or "" when it says nothing. It reads --host,
// --bind, --listen, --address and similar flags, docker -p/--publish
// (a mapping without an address publishes on every interface), and the
// HOST, BIND, BIND_ADDRESS, LISTEN_ADDR, FASTMCP_HOST and MCP_HOST
// variables.
func BindAddress(argv []string, env map[string]string) string {
	prog := ""
	if len(argv) > 0 {
		prog = progName(argv[0])
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		name, val, hasVal := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "-") {
			continue
		}
		if !hasVal {
			if i+1 >= len(argv) {
				break
			}
			val = argv[i+1]
		}
		switch strings.TrimLeft(name, "-") {
		case "host", "bind", "listen", "address", "addr", "sse-host", "http-host", "host-ip", "listen-address", "bind-address", "b":
			if name == "-b" && !strings.Contains(val, ":") && !strings.Contains(val, ".") {
				continue
			}
			return val
		case "p", "publish":
			if prog == "docker" || prog == "podman" || prog == "nerdctl" {
				if b := publishBind(val); b != "" {
					return b
				}
			}
		}
	}
	for _, k := range []string{"FASTMCP_HOST", "MCP_HOST", "HOST", "BIND", "BIND_ADDRESS", "LISTEN_ADDR", "LISTEN_ADDRESS"} {
		if v := strings.TrimSpace(env[k]); v != "" {
			return v
		}
	}
	return ""
}

// publishBind reads a docker -p value: "8080:80" and "8080" publish on
// 0.0.0.0; "127.0.0.1:8080:80" and "[::1]:8080:80" on that address.
func publishBind(v string) string {
	v, _, _ = strings.Cut(v, "/") // 8080:80/tcp
	if strings.HasPrefix(v, "[") {
		if i := strings.Index(v, "]"); i > 0 {
			return v[1:i]
		}
		return ""
	}
	parts := strings.Split(v, ":")
	if len(parts) == 3 {
		if parts[0] == "" {
			return "0.0.0.0"
		}
		return parts[0]
	}
	return "0.0.0.0"
}

// Exposed reports whether a bind address from BindAddress reaches beyond
// loopback: a wildcard (0.0.0.0, ::, *, empty host) or a non-loopback IP.
// Host names other than localhost count as exposed.
func Exposed(bind string) bool {
	h := strings.TrimSpace(bind)
	if h == "" {
		return false
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return !ap.Addr().Unmap().IsLoopback()
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			h = h[1:i]
		}
	} else if strings.Count(h, ":") == 1 {
		h, _, _ = strings.Cut(h, ":")
	}
	if h == "" || h == "*" {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return !a.Unmap().IsLoopback()
	}
	h = strings.ToLower(h)
	return h != "localhost" && !strings.HasSuffix(h, ".localhost")
}
