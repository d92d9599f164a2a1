// Package clientcfg reads the MCP server entries of MCP client
// configuration files (Claude Desktop, Claude Code, Cursor, VS Code,
// Windsurf, Gemini CLI, Zed, Continue, and any file given by path) and
// judges them: remote servers over plaintext HTTP or without credentials,
// secrets written inline (reported redacted, never printed), and stdio
// commands that start a server bound beyond loopback.
//
// The home directory and the project directory are parameters, so that
// tests run on captured files. A file that cannot be parsed is an error
// for that file only; the rest are still read.
package clientcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Client names, in result.ConfigInfo.Client.
const (
	ClaudeDesktop = "claude-desktop"
	ClaudeCode    = "claude-code"
	Cursor        = "cursor"
	VSCode        = "vscode"
	Windsurf      = "windsurf"
	GeminiCLI     = "gemini-cli"
	Zed           = "zed"
	Continue      = "continue"
	Custom        = "custom"
)

// Transports of Server.Transport.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
)

// maxFileSize caps one configuration file (~/.claude.json keeps history
// and grows large).
const maxFileSize = 32 << 20

// Server is one MCP server entry of a configuration file. Env and Headers
// hold the values as written, secrets included: never print them; use
// Findings and Display, which redact.
type Server struct {
	Client string
	Path   string
	// Project is the project directory of a per-project entry.
	Project string
	Name    string
	// Transport is TransportStdio, TransportHTTP, TransportSSE or "".
	Transport string
	// URL is the remote server's URL (also for an mcp-remote bridge).
	URL     string
	Command string
	Args    []string
	Env     map[string]string
	Headers map[string]string
	// OAuth is true when the entry configures OAuth or another
	// authentication provider.
	OAuth bool
}

// Remote reports whether the entry talks to a server by URL.
func (s *Server) Remote() bool { return s.URL != "" }

// Location is one configuration file to read.
type Location struct {
	Client string
	Path   string
	// Project is set for per-project files.
	Project string
}

// FileError is a configuration file that exists but could not be read or
// parsed.
type FileError struct {
	Client string
	Path   string
	Err    error
}

func (e *FileError) Error() string { return fmt.Sprintf("%s config %s: %v", e.Client, e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Result is what Read found.
type Result struct {
	// Files lists the files read successfully (with or without servers).
	Files   []Location
	Servers []Server
	Errors  []*FileError
}

// appDirs are the per-user application data directories of Linux, macOS
// and Windows, relative to the home directory; all are tried.
var appDirs = []string{".config", filepath.Join("Library", "Application Support"), filepath.Join("AppData", "Roaming")}

// Locations lists the configuration files of every supported client for
// the user whose home directory is home, and the per-project files of the
// project directory project (skipped when empty). Files need not exist.
func Locations(home, project string) []Location {
	var out []Location
	add := func(client, p, proj string) { out = append(out, Location{Client: client, Path: p, Project: proj}) }
	if home != "" {
		for _, d := range appDirs {
			add(ClaudeDesktop, filepath.Join(home, d, "Claude", "claude_desktop_config.json"), "")
		}
		add(ClaudeCode, filepath.Join(home, ".claude.json"), "")
		add(Cursor, filepath.Join(home, ".cursor", "mcp.json"), "")
		for _, d := range appDirs {
			for _, code := range []string{"Code", "Code - Insiders", "VSCodium"} {
				add(VSCode, filepath.Join(home, d, code, "User", "mcp.json"), "")
				add(VSCode, filepath.Join(home, d, code, "User", "settings.json"), "")
			}
		}
		add(Windsurf, filepath.Join(home, ".codeium", "windsurf", "mcp_config.json"), "")
		add(GeminiCLI, filepath.Join(home, ".gemini", "settings.json"), "")
		add(Zed, filepath.Join(home, ".config", "zed", "settings.json"), "")
		add(Continue, filepath.Join(home, ".continue", "config.json"), "")
		add(Continue, filepath.Join(home, ".continue", "config.yaml"), "")
		if ents, err := os.ReadDir(filepath.Join(home, ".continue", "mcpServers")); err == nil {
			for _, e := range ents {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".json" || ext == ".yaml" || ext == ".yml") {
					add(Continue, filepath.Join(home, ".continue", "mcpServers", e.Name()), "")
				}
			}
		}
	}
	if project != "" {
		out = append(out, projectLocations(project)...)
	}
	return out
}

func projectLocations(dir string) []Location {
	return []Location{
		{Client: ClaudeCode, Path: filepath.Join(dir, ".mcp.json"), Project: dir},
		{Client: Cursor, Path: filepath.Join(dir, ".cursor", "mcp.json"), Project: dir},
		{Client: VSCode, Path: filepath.Join(dir, ".vscode", "mcp.json"), Project: dir},
		{Client: GeminiCLI, Path: filepath.Join(dir, ".gemini", "settings.json"), Project: dir},
	}
}

// Read reads every location that exists. Projects named in Claude Code's
// ~/.claude.json add their project files. Missing files are skipped
// silently; unreadable or malformed ones become FileErrors.
func Read(locs []Location) *Result {
	res := &Result{}
	seen := map[string]bool{}
	for i := 0; i < len(locs); i++ {
		loc := locs[i]
		key := loc.Client + "\x00" + filepath.Clean(loc.Path)
		if seen[key] {
			continue
		}
		seen[key] = true
		b, err := readCapped(loc.Path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			res.Errors = append(res.Errors, &FileError{Client: loc.Client, Path: loc.Path, Err: err})
			continue
		}
		servers, projects, err := Parse(loc, b)
		if err != nil {
			res.Errors = append(res.Errors, &FileError{Client: loc.Client, Path: loc.Path, Err: err})
			continue
		}
		res.Files = append(res.Files, loc)
		res.Servers = append(res.Servers, servers...)
		for _, p := range projects {
			locs = append(locs, projectLocations(p)...)
		}
	}
	return res
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// Parse reads one file's content. It returns the server entries and, for
// Claude Code's ~/.claude.json, the project directories it lists (whose
// .mcp.json files Read then reads as well).
func Parse(loc Location, b []byte) (servers []Server, projects []string, err error) {
	ext := strings.ToLower(filepath.Ext(loc.Path))
	if ext == ".yaml" || ext == ".yml" {
		s, err := parseContinueYAML(loc, b)
		return s, nil, err
	}
	var doc map[string]json.RawMessage
	if err := decodeJSONC(b, &doc); err != nil {
		return nil, nil, err
	}
	if doc == nil {
		return nil, nil, errors.New("not a JSON object")
	}
	switch loc.Client {
	case VSCode:
		if filepath.Base(loc.Path) == "settings.json" {
			return parseVSCodeSettings(loc, doc)
		}
		s, err := entries(loc, doc, "servers")
		return s, nil, err
	case Zed:
		s, err := entries(loc, doc, "context_servers")
		return s, nil, err
	case Continue:
		s, err := parseContinueJSON(loc, doc)
		return s, nil, err
	case ClaudeCode:
		return parseClaudeCode(loc, doc)
	case Custom:
		return parseAny(loc, doc)
	}
	s, err := entries(loc, doc, "mcpServers")
	return s, nil, err
}

// entries reads doc[key], a map of server name to entry.
func entries(loc Location, doc map[string]json.RawMessage, key string) ([]Server, error) {
	raw, ok := doc[key]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%q: want an object of servers: %w", key, err)
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Server
	for _, n := range names {
		var e map[string]any
		if err := json.Unmarshal(m[n], &e); err != nil {
			return nil, fmt.Errorf("%s.%s: want an object: %w", key, n, err)
		}
		s := entryServer(loc, n, e)
		out = append(out, s)
	}
	return out, nil
}

func parseClaudeCode(loc Location, doc map[string]json.RawMessage) ([]Server, []string, error) {
	out, err := entries(loc, doc, "mcpServers")
	if err != nil {
		return nil, nil, err
	}
	raw, ok := doc["projects"]
	if !ok {
		return out, nil, nil
	}
	var projects map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &projects); err != nil {
		return nil, nil, fmt.Errorf("projects: %w", err)
	}
	dirs := make([]string, 0, len(projects))
	for d := range projects {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		s, err := entries(Location{Client: loc.Client, Path: loc.Path, Project: d}, projects[d], "mcpServers")
		if err != nil {
			return nil, nil, fmt.Errorf("projects[%q]: %w", d, err)
		}
		out = append(out, s...)
	}
	return out, dirs, nil
}

// parseVSCodeSettings reads "mcp": {"servers": ...} or "mcp.servers".
func parseVSCodeSettings(loc Location, doc map[string]json.RawMessage) ([]Server, []string, error) {
	if raw, ok := doc["mcp"]; ok {
		var mcp map[string]json.RawMessage
		if err := json.Unmarshal(raw, &mcp); err != nil {
			return nil, nil, fmt.Errorf("mcp: %w", err)
		}
		s, err := entries(loc, mcp, "servers")
		return s, nil, err
	}
	s, err := entries(loc, doc, "mcp.servers")
	return s, nil, err
}

// parseAny reads a file of an unknown client: every key any client uses.
func parseAny(loc Location, doc map[string]json.RawMessage) ([]Server, []string, error) {
	var out []Server
	for _, key := range []string{"mcpServers", "servers", "context_servers", "mcp.servers"} {
		s, err := entries(loc, doc, key)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s...)
	}
	if _, ok := doc["mcp"]; ok {
		s, _, err := parseVSCodeSettings(loc, doc)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, s...)
	}
	return out, nil, nil
}

// entryServer reads one entry, accepting the field variants in use.
func entryServer(loc Location, name string, e map[string]any) Server {
	s := Server{Client: loc.Client, Path: loc.Path, Project: loc.Project, Name: name}
	typ := strings.ToLower(str(e["type"]))
	if typ == "" {
		typ = strings.ToLower(str(e["transport"]))
	}
	switch typ {
	case "stdio":
		s.Transport = TransportStdio
	case "http", "streamable-http", "streamablehttp", "streamable_http", "streamable":
		s.Transport = TransportHTTP
	case "sse":
		s.Transport = TransportSSE
	}
	switch {
	case str(e["httpUrl"]) != "":
		s.URL, s.Transport = str(e["httpUrl"]), TransportHTTP
	case str(e["serverUrl"]) != "":
		s.URL = str(e["serverUrl"])
	case str(e["url"]) != "":
		s.URL = str(e["url"])
		if s.Transport == "" && loc.Client == GeminiCLI {
			s.Transport = TransportSSE
		}
	}
	switch c := e["command"].(type) {
	case string:
		s.Command = c
	case map[string]any: // Zed's older {"command": {"path", "args", "env"}}
		s.Command = str(c["path"])
		s.Args = strs(c["args"])
		s.Env = strMap(c["env"])
	}
	if a := strs(e["args"]); a != nil {
		s.Args = a
	}
	if env := strMap(e["env"]); env != nil {
		s.Env = env
	}
	s.Headers = strMap(e["headers"])
	if ri, ok := e["requestInit"].(map[string]any); ok && s.Headers == nil {
		s.Headers = strMap(ri["headers"])
	}
	if ro, ok := e["requestOptions"].(map[string]any); ok && s.Headers == nil {
		s.Headers = strMap(ro["headers"])
	}
	for _, k := range []string{"oauth", "auth", "authProviderType", "authorization", "authorization_token"} {
		if v, ok := e[k]; ok && v != nil && v != false && v != "" {
			s.OAuth = true
		}
	}
	if s.Command != "" && s.URL == "" {
		bridge(&s)
		if s.Transport == "" && s.URL == "" {
			s.Transport = TransportStdio
		}
	}
	if s.URL != "" && s.Transport == "" {
		s.Transport = TransportHTTP
		if strings.HasSuffix(strings.TrimRight(s.URL, "/"), "/sse") {
			s.Transport = TransportSSE
		}
	}
	return s
}

// bridge recognises mcp-remote (npx mcp-remote URL --header "K: V"): a
// stdio command that talks to a remote server. The URL and headers are
// taken from its arguments.
func bridge(s *Server) {
	for i, a := range s.Args {
		if stripVer(a) != "mcp-remote" || i+1 >= len(s.Args) {
			continue
		}
		u := s.Args[i+1]
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return
		}
		s.URL = u
		for j := i + 2; j+1 < len(s.Args); j++ {
			if s.Args[j] == "--header" {
				k, v, ok := strings.Cut(s.Args[j+1], ":")
				if ok {
					if s.Headers == nil {
						s.Headers = map[string]string{}
					}
					s.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
				j++
			}
		}
		return
	}
}

func stripVer(s string) string {
	if at := strings.LastIndex(s, "@"); at > 0 && at > strings.LastIndex(s, "/") {
		return s[:at]
	}
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(a))
	for _, x := range a {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case float64, bool:
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}

func strMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		switch x := x.(type) {
		case string:
			out[k] = x
		case float64, bool:
			out[k] = fmt.Sprint(x)
		}
	}
	return out
}
