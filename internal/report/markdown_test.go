package report

import (
	"bytes"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func TestMarkdownGolden(t *testing.T) {
	tests := []struct {
		file    string
		opts    Options
		summary *result.Summary
	}{
		{"markdown.golden", Options{Version: "v0.3.0"}, richSummary()},
		{"markdown_all_nosummary.golden", Options{Version: "v0.3.0", All: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := renderRich(FormatMarkdown, tt.opts, tt.summary)
			if err != nil {
				t.Fatal(err)
			}
			checkMarkdownSafe(t, out)
			golden(t, tt.file, out)
		})
	}
}

// stripCodeSpans removes the inline code spans of one line, as CommonMark
// reads them: a run of n backticks not escaped by a backslash opens a span
// that the next run of exactly n backticks closes. It also drops the
// backslash escapes outside spans, and reports whether a span was left
// open.
func stripCodeSpans(line string) (rest string, open bool) {
	var b strings.Builder
	for i := 0; i < len(line); {
		c := line[i]
		if c == '\\' && i+1 < len(line) && line[i+1] < utf8.RuneSelf && unicode.IsPunct(rune(line[i+1])) ||
			c == '\\' && i+1 < len(line) && strings.ContainsRune("`<>|$+^=~", rune(line[i+1])) {
			i += 2 // an escaped character is literal text, not markup
			b.WriteByte('_')
			continue
		}
		if c != '`' {
			b.WriteByte(c)
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		// Find the closing run of exactly n backticks.
		j := i + n
		closed := -1
		for j < len(line) {
			if line[j] != '`' {
				j++
				continue
			}
			m := 0
			for j+m < len(line) && line[j+m] == '`' {
				m++
			}
			if m == n {
				closed = j
				break
			}
			j += m
		}
		if closed < 0 {
			return b.String(), true
		}
		b.WriteString("CODE")
		i = closed + n
	}
	return b.String(), false
}

// tableCells counts the cells of a table row: the pipes that no backslash
// escapes, less one.
func tableCells(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n - 1
}

// checkMarkdownSafe fails when server-controlled text could act as
// Markdown in out: a control or format character, a code span left open,
// a table row with more or fewer cells than its header, or, outside code
// spans, an HTML tag, a link, an image or a bare URL that GitHub would
// turn into a link.
func checkMarkdownSafe(t testing.TB, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatal("output is not valid UTF-8")
	}
	header := 0
	for i, line := range strings.Split(string(out), "\n") {
		for _, r := range line {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("line %d holds %U: %q", i+1, r, line)
			}
		}
		if strings.HasPrefix(line, "|") {
			n := tableCells(line)
			switch {
			case header == 0:
				header = n
			case n != header:
				t.Fatalf("line %d has %d cells, the table %d: %q", i+1, n, header, line)
			}
		} else {
			header = 0
		}
		rest, open := stripCodeSpans(line)
		if open {
			t.Fatalf("line %d leaves a code span open: %q", i+1, line)
		}
		for _, bad := range []string{"<", "](", "://", "www.", "@"} {
			if strings.Contains(rest, bad) {
				t.Fatalf("line %d has %q outside code: %q (stripped %q)", i+1, bad, line, rest)
			}
		}
	}
}

func TestMarkdownContent(t *testing.T) {
	out, err := renderRich(FormatMarkdown, Options{Version: "v0.3.0"}, richSummary())
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
	for _, want := range []string{
		"# mcpwarden scan report",
		"| Targets probed | 9 |",
		"| Findings by severity | critical 3, high 3, medium 10, low 1, info 3 |",
		"| Suppressed by a baseline | 1 |",
		// The exposed endpoints, most severe first.
		"| **critical** | `http://10.20.0.7:8000/mcp` | mcp | none | streamable-http `2025-06-18` | `filesystem 0.6.2` | 4 | command-exec, destructive, secrets, file-write, file-read | MCPW-001 MCP server reachable without authentication |",
		"| command-exec | `run_command` | `http://10.20.0.7:8000/mcp` |",
		"| secrets | `file:///home/dev/.ssh/id_ed25519` | `http://10.20.0.7:8000/mcp` |",
		"| `http://10.20.0.7:8000/mcp` | **not validated** (HTTP 200, sent `http://rebind.invalid`); Access-Control-Allow-Origin `*` | **not validated** (HTTP 200, sent `rebind.invalid`) |",
		"| `http://192.168.1.50:3000/sse` | validated (HTTP 403, sent `http://rebind.invalid`) | validated (HTTP 421, sent `rebind.invalid`) |",
		"| `http://127.0.0.1:6277/` | proxy | `0.13.0` | **not required** |",
		"2 endpoints without MCP and without findings not listed (not-mcp 1, timeout 1).",
		"### MCPW-013: TLS certificate expired",
		"| low (suppressed: `vendor appliance, replaced in Q3`) | `http://192.168.1.50:3000/sse` |",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Every rule that fired has its section with the catalogue's fix.
	for _, e := range richFixtures() {
		for _, f := range e.Findings {
			if r, ok := rules.Lookup(f.Rule); ok {
				if !strings.Contains(doc, "### "+r.ID+": ") || !strings.Contains(doc, r.HelpMarkdown()) {
					t.Errorf("no section with why and fix for %s", r.ID)
				}
			}
		}
	}
	// Sections come in order, and rules most severe first.
	order := []string{"## Summary", "## Exposed endpoints", "## Tools by risk", "## Resources by risk",
		"## Origin and Host checks", "## MCP Inspector", "## Findings by rule",
		"### MCPW-001:", "### MCPW-018:", "### MCPW-012:", "### MCPW-003:", "### MCPW-004:", "### `XYZ-9|<b>`", "### MCPW-005:"}
	last := -1
	for _, h := range order {
		i := strings.Index(doc, h)
		if i < 0 {
			if h == "### MCPW-012:" { // did not fire
				continue
			}
			t.Errorf("no %q", h)
			continue
		}
		if i < last {
			t.Errorf("%q out of order", h)
		}
		last = i
	}
}

func TestMarkdownEmpty(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatMarkdown, &buf, Options{Version: "1.0.0"})
	_ = w.Write(timedOut())
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	checkMarkdownSafe(t, buf.Bytes())
	for _, want := range []string{
		"| Endpoints reported | 1 |",
		"No MCP endpoint found.",
		"1 endpoint without MCP and without findings not listed (timeout 1).",
		"No listed tool carries a risk category.",
		"No endpoint was tested with a foreign Origin or Host header.",
		"No findings.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("empty report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "## MCP Inspector") || strings.Contains(out, "## Resources by risk") {
		t.Errorf("empty sections:\n%s", out)
	}
}

func TestMdCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "-"},
		{"plain", "`plain`"},
		{"a`b", "``a`b``"},
		{"`start", "`` `start ``"},
		{"end``", "``` end`` ```"},
		{"```", "```` ``` ````"},
		{"<b>|[x](y)", "`<b>|[x](y)`"},
	}
	for _, tt := range tests {
		if got := mdCode(tt.in); got != tt.want {
			t.Errorf("mdCode(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if rest, open := stripCodeSpans(mdCode(tt.in)); open || (tt.in != "" && rest != "CODE") {
			t.Errorf("mdCode(%q) = %q does not read as one code span (%q)", tt.in, mdCode(tt.in), rest)
		}
	}
	for in, want := range map[string]string{
		"mcp": "mcp", "streamable-http": "streamable-http", "www.evil.example": "`www.evil.example`",
		"MCP": "`MCP`", "a b": "`a b`", "": "-", "-x": "`-x`",
	} {
		if got := mdWord(in); got != want {
			t.Errorf("mdWord(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMarkdown feeds hostile strings to every server-controlled member the
// report shows and checks that none can act as Markdown.
func FuzzMarkdown(f *testing.F) {
	f.Add("http://127.0.0.1:1/mcp", hostileName, "evil|name`<img src=x>[c](http://e/)", "see <a href=x>", "x|y", "MCPW-001")
	f.Add("``", "`", "```", "\\`", "\\|", "\\")
	f.Add("www.example.com", "a@b.example", "](", "<!--", "&amp;", "![i](x)")
	f.Fuzz(func(t *testing.T, url, name, tool, evidence, category, rule string) {
		no := false
		e := &result.Endpoint{
			URL:    url,
			Status: result.StatusMCP,
			MCP: &result.MCPInfo{
				Transport: category, ProtocolVersion: name, Server: result.ServerInfo{Name: name, Version: tool},
			},
			Auth:       &result.AuthInfo{Scheme: category},
			Tools:      []result.Tool{{Name: tool, Risk: []string{category, name}}, {Name: name}},
			Resources:  []result.Resource{{URI: url, Risk: []string{category}}},
			Risk:       &result.RiskSummary{Categories: []string{category}},
			Origin:     &result.OriginCheck{Validated: &no, TestedWith: evidence, AllowOrigin: tool},
			HostHeader: &result.HostCheck{Validated: &no, TestedWith: name},
			Inspector:  &result.InspectorInfo{Component: category, Version: tool, Evidence: evidence},
			Findings: []finding.Finding{
				{Rule: rule, Severity: finding.High, Title: name, Evidence: evidence,
					Suppressed: &finding.Suppression{Reason: tool}},
				{Rule: rules.Unauthenticated, Severity: finding.Critical, Title: tool, Evidence: url},
			},
		}
		var buf bytes.Buffer
		w, _ := New(FormatMarkdown, &buf, Options{Version: name})
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		s := summary()
		s.ByStatus[result.Status(category)] = 1
		s.Findings[evidence] = 2
		if err := w.Close(s); err != nil {
			t.Fatal(err)
		}
		checkMarkdownSafe(t, buf.Bytes())
	})
}

func TestMdHighest(t *testing.T) {
	accepted := &finding.Suppression{Reason: "accepted"}
	tests := []struct {
		name string
		fs   []finding.Finding
		want string
	}{
		{"none", nil, "-"},
		{"most severe", []finding.Finding{
			rules.Default(rules.LegacySSE, ""), rules.New(rules.Unauthenticated, finding.Critical, ""),
		}, "MCPW-001 MCP server reachable without authentication"},
		{"suppressed skipped", []finding.Finding{
			{Rule: rules.Unauthenticated, Severity: finding.High, Suppressed: accepted}, rules.Default(rules.LegacySSE, ""),
		}, "MCPW-004 Deprecated HTTP+SSE transport (protocol 2024-11-05)"},
		{"all suppressed", []finding.Finding{{Rule: rules.LegacySSE, Suppressed: accepted}}, "-"},
		{"tie by id", []finding.Finding{rules.Default(rules.TLSSelfSigned, ""), rules.Default(rules.PlaintextHTTP, "")},
			"MCPW-003 MCP endpoint served over plaintext HTTP on a non-loopback address"},
		{"unknown rule", []finding.Finding{{Rule: "X`1", Title: "<t>", Severity: finding.Low}}, "``X`1`` `<t>`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mdHighest(tt.fs); got != tt.want {
				t.Errorf("mdHighest = %q, want %q", got, tt.want)
			}
		})
	}
}
