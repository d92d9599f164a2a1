package scan_test

import (
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
	"github.com/mcpwarden/mcpwarden/internal/scan"
)

// TestInspectorLive scans the real MCP Inspector from npm, as 'mcpwarden
// scan host:port' would (default paths), at the vulnerable 0.14.0, at a
// fixed version, and at the fixed version with its proxy token turned off.
func TestInspectorLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	type want struct {
		component, version string
		token              *bool
		rules              []string
	}
	yes, no := true, false
	tests := []struct {
		name      string
		dir       string
		opts      []mcptest.InspectorOption
		ui, proxy want
	}{
		{"0.14.0", mcptest.InspectorVulnDir, nil,
			want{"ui", mcptest.InspectorVulnVersion, nil, []string{rules.InspectorVulnerable}},
			want{"proxy", "", &no, []string{rules.InspectorVulnerable, rules.InspectorProxyOpen}}},
		{"fixed", mcptest.InspectorFixedDir, nil,
			want{"ui", mcptest.InspectorFixedVersion, nil, []string{rules.InspectorExposed}},
			want{"proxy", "", &yes, []string{rules.InspectorExposed}}},
		{"fixed without auth", mcptest.InspectorFixedDir, []mcptest.InspectorOption{mcptest.WithoutProxyAuth()},
			want{"ui", mcptest.InspectorFixedVersion, nil, []string{rules.InspectorExposed}},
			want{"proxy", "", &no, []string{rules.InspectorProxyOpen}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := mcptest.StartInspector(t, tt.dir, nextIP(), tt.opts...)
			ui, proxy := mustURL(t, in.UIURL), mustURL(t, in.ProxyURL)
			eps, _ := scanAll(t, scan.Options{Concurrency: 2},
				service(t, ui.Host), service(t, proxy.Host))
			if len(eps) != 2 {
				t.Fatalf("got %d records, want 2: %v", len(eps), urls(eps))
			}
			for _, ep := range eps {
				w := tt.ui
				if ep.Port == portOf(t, proxy) {
					w = tt.proxy
				}
				if ep.Status != result.StatusNotMCP || ep.Inspector == nil {
					t.Fatalf("%s: status %s, inspector %+v; want not-mcp with an inspector record", ep.URL, ep.Status, ep.Inspector)
				}
				in := ep.Inspector
				if in.Component != w.component || in.Version != w.version || fmt.Sprint(deref(in.TokenRequired)) != fmt.Sprint(deref(w.token)) {
					t.Errorf("%s: inspector = {%s %q token=%v}, want {%s %q token=%v} (evidence: %s)",
						ep.URL, in.Component, in.Version, deref(in.TokenRequired), w.component, w.version, deref(w.token), in.Evidence)
				}
				var got []string
				for _, f := range ep.Findings {
					got = append(got, f.Rule)
				}
				if !slices.Equal(got, w.rules) {
					t.Errorf("%s (%s): findings %v, want %v", ep.URL, in.Component, got, w.rules)
				}
			}
		})
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func portOf(t *testing.T, u *url.URL) int {
	_, p := hostPort(t, u.Host)
	return p
}

func urls(eps []*result.Endpoint) []string {
	var out []string
	for _, ep := range eps {
		out = append(out, ep.URL+" "+string(ep.Status))
	}
	return out
}
