package baseline

import (
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

const good = `version: 1
accepted:
  - rule: MCPW-001
    url: http://127.0.0.1:3000/mcp
    reason: lab server
  - rule: "*"
    url: http://127.0.0.2:*/sse
    reason: legacy box, retired in January
    expires: 2027-01-31
`

func endpoint(url string, ids ...string) *result.Endpoint {
	ep := &result.Endpoint{URL: url}
	for _, id := range ids {
		ep.Findings = append(ep.Findings, rules.Default(id, "x"))
	}
	return ep
}

func TestApply(t *testing.T) {
	b, err := Read("b.yaml", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Date(2027, 1, 31, 23, 0, 0, 0, time.UTC)
	after := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ep   *result.Endpoint
		now  time.Time
		want []bool // suppressed, per finding
	}{
		{"exact rule and url", endpoint("http://127.0.0.1:3000/mcp", rules.Unauthenticated, rules.PlaintextHTTP), before, []bool{true, false}},
		{"other url", endpoint("http://127.0.0.1:3001/mcp", rules.Unauthenticated), before, []bool{false}},
		{"wildcard rule and glob url", endpoint("http://127.0.0.2:8080/sse", rules.LegacySSE, rules.Unauthenticated), before, []bool{true, true}},
		{"expired entry no longer applies", endpoint("http://127.0.0.2:8080/sse", rules.LegacySSE), after, []bool{false}},
		{"glob does not match a longer path", endpoint("http://127.0.0.2:8080/sse/x", rules.LegacySSE), before, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.Apply(tt.ep, tt.now)
			for i, f := range tt.ep.Findings {
				if got := f.Suppressed != nil; got != tt.want[i] {
					t.Errorf("finding %s suppressed = %v, want %v", f.Rule, got, tt.want[i])
				}
			}
		})
	}
	if exp := b.Expired(after); len(exp) != 1 || exp[0].Expires != "2027-01-31" {
		t.Errorf("Expired = %+v", exp)
	}
	if exp := b.Expired(before); len(exp) != 0 {
		t.Errorf("Expired before the day = %+v", exp)
	}
}

func TestSuppressedDoNotCountForMax(t *testing.T) {
	fs := []finding.Finding{rules.New(rules.Unauthenticated, finding.Critical, ""), rules.New(rules.LegacySSE, finding.Low, "")}
	fs[0].Suppressed = &finding.Suppression{Reason: "ok"}
	if m, ok := finding.Max(fs); !ok || m != finding.Low {
		t.Fatalf("Max = %v, %v; want low", m, ok)
	}
	fs[1].Suppressed = &finding.Suppression{Reason: "ok"}
	if _, ok := finding.Max(fs); ok {
		t.Fatal("Max found a finding among suppressed ones")
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"version: 2\naccepted: []\n", "version is 2"},
		{"version: 1\naccepted:\n  - rule: MCPW-999\n    url: x\n    reason: r\n", `unknown rule "MCPW-999"`},
		{"version: 1\naccepted:\n  - rule: MCPW-001\n    url: x\n", "reason is missing"},
		{"version: 1\naccepted:\n  - rule: MCPW-001\n    reason: r\n", "url is missing"},
		{"version: 1\naccepted:\n  - url: x\n    reason: r\n", "rule is missing"},
		{"version: 1\naccepted:\n  - rule: MCPW-001\n    url: x\n    reason: r\n    expires: soon\n", `expires "soon"`},
		{"version: 1\naccepted:\n  - rule: MCPW-001\n    url: x\n    reason: r\n    typo: 1\n", "typo"},
		{"version: [\n", "baseline b.yaml"},
	}
	for _, tt := range tests {
		_, err := Read("b.yaml", strings.NewReader(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Read(%q) error = %v, want it to mention %q", tt.in, err, tt.want)
		}
	}
	// Every problem at once.
	_, err := Read("b.yaml", strings.NewReader("version: 1\naccepted:\n  - rule: MCPW-999\n  - url: x\n"))
	if err == nil || strings.Count(err.Error(), "accepted[") < 3 {
		t.Errorf("not every problem reported: %v", err)
	}
}
