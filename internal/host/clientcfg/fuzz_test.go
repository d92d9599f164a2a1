package clientcfg

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to every client's parser, as JSON(C) and
// as YAML: no panic, and every entry it returns can be judged and shown.
func FuzzParse(f *testing.F) {
	for _, p := range []string{
		"home/.claude.json", "home/.config/zed/settings.json", "home/.continue/config.yaml", "home/.continue/config.json",
		"home/.config/Code/User/mcp.json", "custom/other-client.json", "custom/truncated.json",
	} {
		b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(p)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"mcpServers": {"x": {"command": {"path": 1}, "args": [1, true, null], "env": {"A": 2}}}}`))
	f.Add([]byte("// c\n{/* x */\"servers\": {\"a\": {\"url\": \"http://u:p@h/?token=abcdefgh\",},},}"))
	clients := []string{ClaudeDesktop, ClaudeCode, Cursor, VSCode, Windsurf, GeminiCLI, Zed, Continue, Custom}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, c := range clients {
			for _, name := range []string{"settings.json", "config.yaml"} {
				servers, _, err := Parse(Location{Client: c, Path: name}, b)
				if err != nil {
					continue
				}
				for i := range servers {
					_ = servers[i].Findings()
					_ = servers[i].Display()
				}
			}
		}
	})
}
