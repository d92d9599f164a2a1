package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEExample parses the watch.yaml example of the README, so the
// documented config never drifts from what watch accepts.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n# watch.yaml\n")
	if !ok {
		t.Fatal("README has no ```yaml block starting with # watch.yaml")
	}
	src, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("unterminated yaml block")
	}
	getenv := func(k string) string {
		if k == "SLACK_WEBHOOK_URL" {
			return "https://hooks.example.invalid/services/x"
		}
		return ""
	}
	c, err := Parse(strings.NewReader(src), "README.md", getenv)
	if err != nil {
		t.Fatalf("the README's watch.yaml: %v", err)
	}
	if len(c.Groups) != 2 || c.Groups[0].Name != "demo-lab" || len(c.Groups[0].Ports) != 1 || c.Groups[0].Ports[0] != 3000 {
		t.Errorf("groups = %+v", c.Groups)
	}
}
