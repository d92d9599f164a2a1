package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func TestReportReRendersOfflineWithBaseline(t *testing.T) {
	s := startLab(t, lab.KindOpenStreamable, "127.0.0.66")
	dir := t.TempDir()
	saved := filepath.Join(dir, "scan.jsonl")
	if code, _, errs := run(t, context.Background(), "", "scan", s.URL, "--output-file", saved, "--summary-line"); code != ExitFindings {
		t.Fatalf("scan exit %d: %s", code, errs)
	}
	// The saved scan is re-rendered with the server gone: report is offline.
	s.Close()
	code, out, errs := run(t, context.Background(), "", "report", saved, "-o", "table", "--fail-on", "medium")
	if code != ExitFindings || !strings.Contains(out, lab.OpenServerName) || !strings.Contains(out, rules.Unauthenticated) {
		t.Fatalf("report: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	base := filepath.Join(dir, "accepted.yaml")
	os.WriteFile(base, []byte("version: 1\naccepted:\n  - rule: \"*\"\n    url: "+s.URL+"\n    reason: lab server on loopback\n"), 0o600)
	code, out, errs = run(t, context.Background(), "", "report", saved, "-o", "json", "--fail-on", "low", "--baseline", base)
	if code != ExitOK {
		t.Fatalf("with the baseline: exit %d, stderr %q", code, errs)
	}
	var doc struct {
		Endpoints []struct {
			Findings []struct {
				Rule       string         `json:"rule"`
				Suppressed map[string]any `json:"suppressed"`
			} `json:"findings"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Endpoints) != 1 || len(doc.Endpoints[0].Findings) == 0 {
		t.Fatalf("json report %s: %v", out, err)
	}
	for _, f := range doc.Endpoints[0].Findings {
		if f.Suppressed["reason"] != "lab server on loopback" {
			t.Errorf("finding %s not suppressed by the baseline: %v", f.Rule, f.Suppressed)
		}
	}
	// The same baseline applies to a live scan.
	s2 := startLab(t, lab.KindOpenStreamable, "127.0.0.67")
	os.WriteFile(base, []byte("version: 1\naccepted:\n  - rule: \"*\"\n    url: http://127.0.0.67:*\n    reason: lab\n"), 0o600)
	if code, _, errs := run(t, context.Background(), "", "scan", s2.URL, "--fail-on", "low", "--baseline", base); code != ExitOK || !strings.Contains(errs, "suppressed") {
		t.Fatalf("scan with baseline: exit %d, stderr %q", code, errs)
	}
}

func TestReportBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte("{\"schema\":\"mcpwarden.scan/v1\",\"url\":\"http://127.0.0.1:1/mcp\",\"status\":\"mcp\"}\nnot json\n"), 0o600)
	other := filepath.Join(dir, "other.jsonl")
	os.WriteFile(other, []byte("{\"schema\":\"something/v9\"}\n"), 0o600)
	badBase := filepath.Join(dir, "base.yaml")
	os.WriteFile(badBase, []byte("version: 1\naccepted:\n  - rule: MCPW-001\n"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"report"}, "exactly one saved scan"},
		{[]string{"report", bad}, "bad.jsonl:2"},
		{[]string{"report", other}, `"something/v9"`},
		{[]string{"report", filepath.Join(dir, "missing.jsonl")}, "missing.jsonl"},
		{[]string{"report", "-o", "pdf", bad}, `"pdf"`},
		{[]string{"report", "--baseline", badBase, bad}, "reason is missing"},
		{[]string{"rules", "MCPW-999"}, `unknown rule "MCPW-999"`},
		{[]string{"rules", "-o", "xml"}, `"xml"`},
	}
	for _, tt := range tests {
		code, _, errs := run(t, context.Background(), "", tt.args...)
		if code != ExitError || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, errs, tt.want)
		}
	}
}

func TestRulesCommand(t *testing.T) {
	code, out, _ := run(t, context.Background(), "", "rules")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, r := range rules.All() {
		if !strings.Contains(out, r.ID) || !strings.Contains(out, r.Title) {
			t.Errorf("rules does not list %s %q", r.ID, r.Title)
		}
	}
	code, out, _ = run(t, context.Background(), "", "rules", "MCPW-001")
	r, _ := rules.Lookup("MCPW-001")
	if code != ExitOK || !strings.Contains(out, r.Fix) || !strings.Contains(out, r.Why) {
		t.Fatalf("rules MCPW-001: %q", out)
	}
	code, out, _ = run(t, context.Background(), "", "rules", "-o", "json")
	var list []map[string]any
	if code != ExitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != len(rules.All()) {
		t.Fatalf("rules -o json: %q", out)
	}
}
