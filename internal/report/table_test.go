package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// ourSGR matches the colour sequences the table itself emits.
var ourSGR = regexp.MustCompile(`\x1b\[(0|1;35|1;31|33|36|2)m`)

// checkTerminalSafe fails when out holds a control or format character
// other than newline, once the table's own colour codes are removed, or a
// line wider than tableWidth runes.
func checkTerminalSafe(t *testing.T, out []byte) {
	t.Helper()
	text := ourSGR.ReplaceAllString(string(out), "")
	if !utf8.ValidString(text) {
		t.Fatal("output is not valid UTF-8")
	}
	for i, line := range strings.Split(text, "\n") {
		for _, r := range line {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("line %d holds %U: %q", i+1, r, line)
			}
		}
		if n := utf8.RuneCountInString(line); n > tableWidth {
			t.Errorf("line %d is %d runes wide (max %d): %q", i+1, n, tableWidth, line)
		}
	}
}

func TestTableTerminalSafe(t *testing.T) {
	for _, opts := range []Options{{}, {All: true}, {Color: true}, {All: true, Color: true}} {
		out := render(t, FormatTable, opts, summary())
		checkTerminalSafe(t, out)
		if !opts.Color && bytes.ContainsRune(out, 0x1b) {
			t.Error("escape character in a table without colour")
		}
		if opts.Color && !ourSGR.Match(out) {
			t.Error("no colour in a table with Color set")
		}
		if bytes.Contains(out, []byte("pwned")) {
			t.Error("the hostile OSC title string reached the table")
		}
	}
}

// tableRows returns the endpoint rows of a rendered table (header excluded).
func tableRows(out []byte) []string {
	lines := strings.Split(string(out), "\n")
	var rows []string
	for _, l := range lines[1:] {
		if l == "" || !strings.Contains(l, "://") {
			break
		}
		rows = append(rows, l)
	}
	return rows
}

func TestTableRowsAndOrder(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // URL of each row, in order
		foot string
	}{
		{"default", Options{}, []string{
			"http://10.20.0.7:8000/mcp", "http://192.168.1.50:3000/sse", "http://127.0.0.1:9999/mcp",
			"http://127.0.0.1:3001/mcp", "https://mcp.example.com/mcp",
		}, "2 endpoints without MCP not listed (not-mcp 1, timeout 1).\n"},
		{"all", Options{All: true}, []string{
			"http://10.20.0.7:8000/mcp", "http://192.168.1.50:3000/sse", "http://127.0.0.1:9999/mcp",
			"http://127.0.0.1:3001/mcp", "http://10.0.0.9:8080/mcp", "http://192.168.1.50/",
			"https://mcp.example.com/mcp",
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, FormatTable, tt.opts, nil)
			rows := tableRows(out)
			if len(rows) != len(tt.want) {
				t.Fatalf("%d rows, want %d:\n%s", len(rows), len(tt.want), out)
			}
			for i, r := range rows {
				if strings.Fields(r)[1] != tt.want[i] {
					t.Errorf("row %d = %q, want URL %s", i, r, tt.want[i])
				}
			}
			if got := bytes.Contains(out, []byte("not listed")); got != (tt.foot != "") {
				t.Errorf("hidden-count line present = %v", got)
			}
			if tt.foot != "" && !bytes.Contains(out, []byte(tt.foot)) {
				t.Errorf("missing %q", tt.foot)
			}
		})
	}
}

// TestTableKeepsFindingsOfNonMCP checks that an endpoint with findings is
// listed whatever its status.
func TestTableKeepsFindingsOfNonMCP(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatTable, &buf, Options{})
	e := notMCP()
	e.Findings = append(e.Findings, rules.Default(rules.TLSCertificateInvalid, "certificate expired"))
	_ = w.Write(e)
	_ = w.Write(timedOut())
	_ = w.Close(nil)
	out := buf.String()
	if !strings.Contains(out, "http://192.168.1.50/") || !strings.Contains(out, "MCPW-007") {
		t.Errorf("not-mcp endpoint with a finding not listed:\n%s", out)
	}
	if !strings.Contains(out, "1 endpoint without MCP not listed (timeout 1).") {
		t.Errorf("hidden count wrong:\n%s", out)
	}
}

func TestTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatTable, &buf, Options{})
	_ = w.Write(timedOut())
	if err := w.Close(&result.Summary{Targets: 1, ByStatus: map[result.Status]int{result.StatusTimeout: 1}, Interrupted: true}); err != nil {
		t.Fatal(err)
	}
	want := `No MCP endpoints found.
1 endpoint without MCP not listed (timeout 1).

No findings.

SUMMARY
  targets probed  1
  endpoints       mcp 0, not-mcp 0, closed 0, timeout 1, error 0
  findings        critical 0, high 0, medium 0, low 0, info 0
  excluded        0
  requests        0
  elapsed         0s
  interrupted     yes, results are partial
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestCells(t *testing.T) {
	f := func(rule string, sev finding.Severity) finding.Finding {
		return finding.Finding{Rule: rule, Severity: sev}
	}
	tests := []struct{ name, got, want string }{
		{"findings none", findingsCell(nil), "-"},
		{"findings two fit", findingsCell([]finding.Finding{f("MCPW-002", finding.Low), f("MCPW-001", finding.High)}), "MCPW-001 +1"},
		{"findings one", findingsCell([]finding.Finding{f("MCPW-004", finding.Low)}), "MCPW-004"},
		{"findings dedup", findingsCell([]finding.Finding{f("MCPW-001", finding.High), f("MCPW-001", finding.High)}), "MCPW-001"},
		{"findings most severe first", findingsCell([]finding.Finding{
			f("MCPW-004", finding.Low), f("MCPW-003", finding.Medium), f("MCPW-001", finding.Critical),
		}), "MCPW-001 +2"},
		{"findings hostile id", findingsCell([]finding.Finding{f("\x1b[31mX\nY", finding.Low)}), "X Y"},
		{"auth nil", authCell(nil), "-"},
		{"auth required no scheme", authCell(&result.AuthInfo{Required: true}), "yes"},
		{"auth open", authCell(&result.AuthInfo{}), "none"},
		{"auth long", authCell(&result.AuthInfo{Scheme: "negotiate"}), "negot…"},
		{"transport stateless", transportCell(&result.MCPInfo{Transport: result.TransportStateless}), "stateless"},
		{"transport unknown", transportCell(&result.MCPInfo{Transport: "websocket-x"}), "websocket…"},
		{"transport empty", transportCell(&result.MCPInfo{}), "-"},
		{"server name only", serverCell(&result.MCPInfo{Server: result.ServerInfo{Name: "a-very-long-server-name"}}), "a-very-long-serve…"},
		{"server title", serverCell(&result.MCPInfo{Server: result.ServerInfo{Title: "T", Version: "2"}}), "T/2"},
		{"server version only", serverCell(&result.MCPInfo{Server: result.ServerInfo{Version: "0.14.0"}}), "?/0.14.0"},
		{"server long both", serverCell(&result.MCPInfo{Server: result.ServerInfo{Name: "mcp-inspector-proxy", Version: "0.13.0-beta.7"}}), "mcp-insp…/0.13.0-…"},
		{"tools never listed", toolsCell(&result.Endpoint{}), "-"},
		{"tools listed none", toolsCell(&result.Endpoint{Listing: &result.Listing{}}), "0"},
		{"tools truncated", toolsCell(&result.Endpoint{
			Tools: []result.Tool{{Name: "a"}, {Name: "b"}}, Listing: &result.Listing{Truncated: true},
		}), "2+ a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, nil},
		{"one two three", 7, []string{"one two", "three"}},
		{"abcdefghij kl", 4, []string{"abcd", "efgh", "ij", "kl"}},
		{"é é é", 3, []string{"é é", "é"}},
	}
	for _, tt := range tests {
		got := wrap(tt.in, tt.width)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("wrap(%q, %d) = %q, want %q", tt.in, tt.width, got, tt.want)
		}
	}
}

// FuzzTable feeds hostile strings to every server-controlled member and
// checks that the table stays terminal-safe and within tableWidth.
func FuzzTable(f *testing.F) {
	f.Add("http://127.0.0.1:1/mcp", hostileName, "1.0\x1b[31m", "tool\nname", "evidence\x1b]0;x\x07", "MCPW-001")
	f.Add(strings.Repeat("ü", 300), strings.Repeat("\u202e", 50), "", "", strings.Repeat("word ", 200), "")
	f.Fuzz(func(t *testing.T, url, name, version, tool, evidence, rule string) {
		e := &result.Endpoint{
			URL:    url,
			Status: result.StatusMCP,
			MCP:    &result.MCPInfo{Transport: tool, Server: result.ServerInfo{Name: name, Version: version}},
			Auth:   &result.AuthInfo{Scheme: version},
			Tools:  []result.Tool{{Name: tool}, {Name: name}},
			Findings: []finding.Finding{
				{Rule: rule, Severity: finding.High, Title: name, Evidence: evidence},
				{Rule: tool, Severity: finding.Low, Title: evidence, Evidence: url},
			},
		}
		for _, color := range []bool{false, true} {
			var buf bytes.Buffer
			w, _ := New(FormatTable, &buf, Options{Color: color})
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			checkTerminalSafe(t, buf.Bytes())
		}
	})
}
