package clientcfg

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// copyHome copies testdata/home into a temporary directory and points the
// project entry of .claude.json at testdata/project.
func copyHome(t *testing.T) (home, project string) {
	t.Helper()
	project, err := filepath.Abs(filepath.Join("testdata", "project"))
	if err != nil {
		t.Fatal(err)
	}
	home = t.TempDir()
	src := filepath.Join("testdata", "home")
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(home, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == ".claude.json" {
			q, _ := json.Marshal(project)
			b = []byte(strings.ReplaceAll(string(b), `"PROJECT_DIR"`, string(q)))
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return home, project
}

func rulesOf(s *Server) []string {
	var ids []string
	for _, f := range s.Findings() {
		ids = append(ids, f.Rule)
	}
	slices.Sort(ids)
	return ids
}

func TestReadEveryClient(t *testing.T) {
	home, project := copyHome(t)
	// The project is given both directly and through ~/.claude.json: it is
	// read once.
	res := Read(Locations(home, project))

	type want struct {
		transport string
		url       string
		project   bool
		rules     []string
	}
	wants := map[string]want{
		"claude-desktop/filesystem":               {transport: "stdio"},
		"claude-desktop/github":                   {transport: "stdio", rules: []string{"MCPW-030"}},
		"claude-code/linear":                      {transport: "sse", url: "https://mcp.linear.example.test/sse", rules: []string{"MCPW-029"}},
		"claude-code/local-tools":                 {transport: "http", url: "http://127.0.0.1:8000/mcp"},
		"claude-code/team-db":                     {transport: "http", url: "http://10.20.0.7:8000/mcp", project: true, rules: []string{"MCPW-028", "MCPW-030"}},
		"claude-code/fastmcp-dev":                 {transport: "stdio", project: true, rules: []string{"MCPW-031"}},
		"claude-code/sentry":                      {transport: "http", project: true},
		"cursor/remote-bridge":                    {transport: "http", url: "http://mcp.corp.example.test/mcp", rules: []string{"MCPW-028", "MCPW-030"}},
		"cursor/everything":                       {transport: "stdio", rules: []string{"MCPW-031"}},
		"cursor/docs":                             {transport: "http", project: true, rules: []string{"MCPW-030"}},
		"vscode/github":                           {transport: "http"},
		"vscode/playwright":                       {transport: "stdio", rules: []string{"MCPW-031"}},
		"vscode/open-remote":                      {transport: "sse", url: "http://192.168.1.50:3001/sse", rules: []string{"MCPW-028", "MCPW-029"}},
		"windsurf/stripe":                         {transport: "http", url: "https://mcp.stripe.example.test", rules: []string{"MCPW-030"}},
		"gemini-cli/legacy-sse":                   {transport: "sse", url: "http://203.0.113.9:8080/sse", rules: []string{"MCPW-028", "MCPW-029"}},
		"gemini-cli/streamable":                   {transport: "http", url: "https://mcp.example.test/mcp"},
		"zed/postgres":                            {transport: "stdio", rules: []string{"MCPW-030"}},
		"zed/remote-zed":                          {transport: "http"},
		"continue/SQLite":                         {transport: "stdio"},
		"continue/Remote":                         {transport: "http", url: "http://mcp.team.example.test:8080/mcp", rules: []string{"MCPW-028", "MCPW-029"}},
		"continue/modelContextProtocolServers[0]": {transport: "stdio", rules: []string{"MCPW-030"}},
		"continue/fetch":                          {transport: "stdio"},
	}
	got := map[string]*Server{}
	for i := range res.Servers {
		s := &res.Servers[i]
		got[s.Client+"/"+s.Name] = s
	}
	for key, w := range wants {
		t.Run(key, func(t *testing.T) {
			s, ok := got[key]
			if !ok {
				t.Fatalf("entry not found; have %v", keys(got))
			}
			if s.Transport != w.transport {
				t.Errorf("transport %q, want %q", s.Transport, w.transport)
			}
			if w.url != "" && s.URL != w.url {
				t.Errorf("url %q, want %q", s.URL, w.url)
			}
			if (s.Project != "") != w.project {
				t.Errorf("project %q, want set=%v", s.Project, w.project)
			}
			if r := rulesOf(s); !slices.Equal(r, w.rules) {
				t.Errorf("rules %v, want %v", r, w.rules)
			}
		})
	}
	if len(got) != len(wants) {
		t.Errorf("got %d entries %v, want %d", len(got), keys(got), len(wants))
	}
	// Malformed files: a clear error naming the file and the line, the rest read.
	var errs []string
	for _, e := range res.Errors {
		errs = append(errs, e.Error())
	}
	if len(res.Errors) != 2 {
		t.Fatalf("errors %q, want 2", errs)
	}
	joined := strings.Join(errs, "\n")
	for _, want := range []string{"vscode config " + filepath.Join(project, ".vscode", "mcp.json") + ": line 1",
		"continue config " + filepath.Join(home, ".continue", "mcpServers", "broken.yaml")} {
		if !strings.Contains(joined, want) {
			t.Errorf("errors %q lack %q", joined, want)
		}
	}
}

// TestSecretsNeverPrinted checks that no finding, display URL or command
// holds a secret of the test configurations.
func TestSecretsNeverPrinted(t *testing.T) {
	home, project := copyHome(t)
	res := Read(append(Locations(home, project), Location{Client: Custom, Path: filepath.Join("testdata", "custom", "other-client.json")}))
	secrets := []string{"ghp_0123456789abcdefghijABCDEFGHIJ012345", "s3cr3t-team-token-value", "abcdef123456789",
		"AAAA1111bbbb2222", "rk_live_abcdefghijkl", "hunter2pass", "abcd1234efgh5678", "sk-abcdefghijklmnopqrstuvwxyz0123"}
	var out strings.Builder
	for i := range res.Servers {
		s := &res.Servers[i]
		out.WriteString(s.Display() + "\n" + s.DisplayCommand() + "\n")
		for _, f := range s.Findings() {
			out.WriteString(f.Evidence + "\n")
		}
	}
	for _, sec := range secrets {
		if strings.Contains(out.String(), sec) {
			t.Errorf("secret %q printed in:\n%s", sec, out.String())
		}
	}
	for _, want := range []string{"env GITHUB_PERSONAL_ACCESS_TOKEN (40 characters)", "header Authorization", "a credential in the URL",
		"api_key=REDACTED", "app:REDACTED@db.internal", "--api-key " + Redacted, "Authorization: " + Redacted, "env OPENAI_API_KEY"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestCustomConfig(t *testing.T) {
	res := Read([]Location{
		{Client: Custom, Path: filepath.Join("testdata", "custom", "other-client.json")},
		{Client: Custom, Path: filepath.Join("testdata", "custom", "truncated.json")},
		{Client: Custom, Path: filepath.Join("testdata", "custom", "missing.json")},
		{Client: Custom, Path: "testdata"},
	})
	if len(res.Servers) != 2 || res.Servers[0].Name != "b" || res.Servers[1].Name != "a" {
		t.Errorf("servers %+v", res.Servers)
	}
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[0].Error(), "truncated.json") ||
		!strings.Contains(res.Errors[1].Error(), "is a directory") {
		t.Errorf("errors %v", res.Errors)
	}
}

func TestStripJSONC(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`{"a": 1, // c` + "\n" + `"b": "x//y", /* z */ "c": [1,2,],}`, `{"a":1,"b":"x//y","c":[1,2]}`, ""},
		{`{"s": "a \"/*\" b"}`, `{"s":"a \"/*\" b"}`, ""},
		{"{\n/* open", "", "line 2: unterminated"},
		{`{"a": "x,}"}`, `{"a":"x,}"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var v any
			err := decodeJSONC([]byte(tt.in), &v)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			if string(b) != tt.want {
				t.Errorf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestLiteralSecret(t *testing.T) {
	tests := []struct {
		name, value string
		want        bool
	}{
		{"GITHUB_TOKEN", "abcdef123456", true},
		{"GITHUB_TOKEN", "${env:GITHUB_TOKEN}", false},
		{"GITHUB_TOKEN", "$GITHUB_TOKEN", false},
		{"Authorization", "Bearer ${input:tok}", false},
		{"Authorization", "Bearer abcdefghijkl", true},
		{"API_KEY", "${{ secrets.KEY }}", false},
		{"PORT", "3000", false},
		{"HOST", "0.0.0.0", false},
		{"NOTES", "ghp_0123456789abcdefghijABCDEFGHIJ012345", true},
		{"USE_AUTH", "true", false},
		{"PASSWORD", "abc", false},
	}
	for _, tt := range tests {
		if got := literalSecret(tt.name, tt.value); got != tt.want {
			t.Errorf("literalSecret(%q, %q) = %v, want %v", tt.name, tt.value, got, tt.want)
		}
	}
}

func keys(m map[string]*Server) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
