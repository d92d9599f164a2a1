package risk

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"read_text_file", []string{"read", "text", "file"}},
		{"get-library-docs", []string{"get", "library", "docs"}},
		{"readFile", []string{"read", "file"}},
		{"getHTTPResponse", []string{"get", "http", "response"}},
		{"API-post-database-query", []string{"api", "post", "database", "query"}},
		{"aws.ec2.describeInstances", []string{"aws", "ec2", "describe", "instances"}},
		{"github/create_or_update_file", []string{"github", "create", "or", "update", "file"}},
		{"s3Bucket v2beta", []string{"s3", "bucket", "v2", "beta"}},
		{"mcp__desktop-commander__start_process", []string{"mcp", "desktop", "commander", "start", "process"}},
		{"Ünïcödé_Nâme", []string{"ünïcödé", "nâme"}},
		{"", nil},
		{"___", nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := tokens(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("tokens(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func mkTool(name, desc, schema, annotations string) result.Tool {
	t := result.Tool{Name: name, Description: desc}
	if schema != "" {
		t.InputSchema = json.RawMessage(schema)
	}
	if annotations != "" {
		t.Annotations = json.RawMessage(annotations)
	}
	return t
}

// TestAnnotationPolicy pins how the classifier weighs annotations: they
// are claims, not proof.
func TestAnnotationPolicy(t *testing.T) {
	pathSchema := `{"type":"object","properties":{"path":{"type":"string"}}}`
	cmdSchema := `{"type":"object","properties":{"command":{"type":"string"}}}`
	tests := []struct {
		name      string
		tool      result.Tool
		has, lack []string
	}{
		{"read-only claim does not remove command-exec",
			mkTool("execute_command", "Execute a shell command", cmdSchema, `{"readOnlyHint":true}`),
			[]string{CommandExec}, nil},
		{"read-only claim does not clear a delete tool",
			mkTool("delete_file", "Delete a file", pathSchema, `{"readOnlyHint":true}`),
			[]string{Destructive, FileWrite}, nil},
		{"read-only claim lowers weak write evidence",
			mkTool("save_file", "", pathSchema, `{"readOnlyHint":true}`),
			nil, []string{FileWrite}},
		{"the same weak evidence without the claim",
			mkTool("save_file", "", pathSchema, ""),
			[]string{FileWrite}, nil},
		{"destructive claim alone adds nothing",
			mkTool("create_issue", "Create a new issue with a title.", `{"type":"object","properties":{"title":{"type":"string"}}}`, `{"destructiveHint":true}`),
			nil, []string{Destructive}},
		{"destructive claim on a tool that changes state",
			mkTool("update_record", "Update a record.", `{"type":"object","properties":{"id":{"type":"string"}}}`, `{"destructiveHint":true}`),
			[]string{Destructive}, nil},
		{"the same tool without the claim",
			mkTool("update_record", "Update a record.", `{"type":"object","properties":{"id":{"type":"string"}}}`, ""),
			nil, []string{Destructive}},
		{"destructiveHint false does not clear a delete tool",
			mkTool("delete_branch", "Deletes a development branch.", `{"type":"object","properties":{"branch_id":{"type":"string"}}}`, `{"destructiveHint":false}`),
			[]string{Destructive}, nil},
		{"non-boolean hints are ignored",
			mkTool("update_record", "Update a record.", "", `{"destructiveHint":"yes","readOnlyHint":1}`),
			nil, []string{Destructive}},
		{"annotations that are not an object are ignored",
			mkTool("delete_file", "Delete a file", pathSchema, `[true]`),
			[]string{Destructive, FileWrite}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ToolCategories(tt.tool)
			for _, c := range tt.has {
				if !slices.Contains(got, c) {
					t.Errorf("categories %v lack %s; matches %+v", got, c, ClassifyTool(tt.tool))
				}
			}
			for _, c := range tt.lack {
				if slices.Contains(got, c) {
					t.Errorf("categories %v hold %s; matches %+v", got, c, ClassifyTool(tt.tool))
				}
			}
		})
	}
}

func TestClassifyToolExplains(t *testing.T) {
	tool := mkTool("execute_command", "Execute a terminal command with timeout.",
		`{"type":"object","properties":{"command":{"type":"string"},"timeout_ms":{"type":"number"}}}`, "")
	ms := ClassifyTool(tool)
	if len(ms) != 1 || ms[0].Category != CommandExec {
		t.Fatalf("matches %+v, want command-exec only", ms)
	}
	m := ms[0]
	if m.Score < 3 || len(m.Reasons) < 2 {
		t.Fatalf("score %d, reasons %q", m.Score, m.Reasons)
	}
	joined := strings.Join(m.Reasons, "\n")
	for _, want := range []string{`run-code-in-name: name "execute", name "command" (+3)`, `command-parameter: param_names "command" (+2)`} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons %q lack %q", m.Reasons, want)
		}
	}
}

func TestToolCategoriesSortedAndNil(t *testing.T) {
	if got := ToolCategories(mkTool("echo", "Echoes back the input string", "", "")); got != nil {
		t.Errorf("echo: %v, want nil", got)
	}
	got := ToolCategories(mkTool("delete_file", "Delete a file from the disk", `{"type":"object","properties":{"path":{"type":"string"}}}`, ""))
	if !slices.IsSorted(got) || len(got) < 2 {
		t.Errorf("categories %v not sorted or too few", got)
	}
}

// TestBounds checks that oversized or deeply nested input is cut, not
// followed, and still classifies what is within the bounds.
func TestBounds(t *testing.T) {
	long := strings.Repeat("lorem ipsum ", maxTextLen) + " execute a shell command"
	if got := ToolCategories(mkTool("tool", long, "", "")); slices.Contains(got, CommandExec) {
		t.Errorf("text past the description bound was read: %v", got)
	}
	deep := `{"type":"object","properties":{"a":` + strings.Repeat(`{"type":"object","properties":{"a":`, 50) +
		`{"type":"string","description":"command to run"}` + strings.Repeat(`}}`, 50) + `}}`
	if got := ToolCategories(mkTool("tool", "", deep, "")); slices.Contains(got, CommandExec) {
		t.Errorf("schema past the depth bound was read: %v", got)
	}
	big := `{"type":"object","properties":{"path":{"type":"string","description":"` + strings.Repeat("x", maxSchemaBytes) + `"}}}`
	if got := ToolCategories(mkTool("read_file", "", big, "")); slices.Contains(got, FileRead) {
		t.Errorf("a schema over the byte bound was parsed: %v", got)
	}
	if got := ToolCategories(mkTool("read_file", "", `{"type":"object","properties":{"path":{}}}`, "")); !slices.Contains(got, FileRead) {
		t.Errorf("read_file with a path parameter: %v, want file-read", got)
	}
}

func TestClassifyEndpoint(t *testing.T) {
	ep := &result.Endpoint{
		Tools: []result.Tool{
			mkTool("echo", "Echoes back the input string", "", ""),
			mkTool("read_query", "Execute a SELECT query on the SQLite database", `{"type":"object","properties":{"query":{"type":"string"}}}`, ""),
		},
		Resources: []result.Resource{
			{URI: "file:///srv/app/.env", Name: ".env"},
			{URI: "memo://insights"},
		},
		ResourceTemplates: []result.ResourceTemplate{{URITemplate: "file:///{path}"}},
	}
	Classify(ep)
	if ep.Tools[0].Risk != nil {
		t.Errorf("echo risk %v", ep.Tools[0].Risk)
	}
	if !slices.Equal(ep.Tools[1].Risk, []string{DBQuery}) {
		t.Errorf("read_query risk %v", ep.Tools[1].Risk)
	}
	if !slices.Equal(ep.Resources[0].Risk, []string{FileRead, Secrets}) || ep.Resources[1].Risk != nil {
		t.Errorf("resource risks %v, %v", ep.Resources[0].Risk, ep.Resources[1].Risk)
	}
	if ep.Risk == nil || !slices.Equal(ep.Risk.Categories, []string{DBQuery, FileRead, Secrets}) {
		t.Errorf("endpoint risk %+v", ep.Risk)
	}

	quiet := &result.Endpoint{Tools: []result.Tool{mkTool("get_current_time", "Get current time", "", "")},
		Risk: &result.RiskSummary{Categories: []string{"stale"}}}
	Classify(quiet)
	if quiet.Risk != nil {
		t.Errorf("endpoint without risky tools: risk %+v, want nil", quiet.Risk)
	}
	Classify(&result.Endpoint{}) // nothing listed: no panic
}

func TestEmbeddedRulesParse(t *testing.T) {
	if _, err := ParseToolRules(toolRulesJSON); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResourceRules(resourceRulesJSON); err != nil {
		t.Fatal(err)
	}
}

// TestParseToolRulesRejects checks that every kind of bad rule file is
// refused with an error that names the bad input.
func TestParseToolRulesRejects(t *testing.T) {
	// base returns a valid document with the given signals in command-exec.
	base := func(threshold int, signals string) string {
		var b strings.Builder
		b.WriteString(`{"version":1,"categories":[`)
		for i, c := range Categories() {
			if i > 0 {
				b.WriteString(",")
			}
			sig := `{"id":"s","weight":3,"when":[{"in":"name","any":[" x "]}]}`
			th := 3
			if c.ID == CommandExec {
				sig, th = signals, threshold
			}
			b.WriteString(`{"id":"` + c.ID + `","threshold":` + itoa(th) + `,"signals":[` + sig + `]}`)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	if _, err := ParseToolRules([]byte(base(3, `{"id":"ok","weight":3,"when":[{"in":"text+params","any":["run"]}]}`))); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"not json", `{`, "risk rules:"},
		{"unknown key", `{"version":1,"categories":[],"weights":{}}`, `unknown field "weights"`},
		{"version", `{"version":3,"categories":[]}`, "version 3"},
		{"missing category", `{"version":1,"categories":[]}`, `no rule for category "command-exec"`},
		{"unknown category", `{"version":1,"categories":[{"id":"rce","threshold":1,"signals":[]}]}`, `unknown category "rce"`},
		{"threshold", base(0, `{"id":"a","weight":1,"when":[{"in":"name","any":["x"]}]}`), "threshold 0"},
		{"bad regexp", base(3, `{"id":"a","weight":3,"when":[{"in":"name","any":["(x"]}]}`), `pattern "(x"`},
		{"unknown field", base(3, `{"id":"a","weight":3,"when":[{"in":"body","any":["x"]}]}`), `unknown field "body"`},
		{"unknown joined field", base(3, `{"id":"a","weight":3,"when":[{"in":"name+body","any":["x"]}]}`), `unknown field "name+body"`},
		{"no patterns", base(3, `{"id":"a","weight":3,"when":[{"in":"name"}]}`), "without patterns"},
		{"zero weight", base(3, `{"id":"a","weight":0,"when":[{"in":"name","any":["x"]}]}`), "weight 0"},
		{"no conditions", base(3, `{"id":"a","weight":1,"when":[]}`), "no conditions"},
		{"duplicate id", base(3, `{"id":"a","weight":1,"when":[{"in":"name","any":["x"]}]},{"id":"a","weight":1,"when":[{"in":"name","any":["y"]}]}`), "duplicate signal id"},
		{"unknown hint", base(3, `{"id":"a","weight":1,"when":[{"in":"annotation","hint":"safeHint","is":true}]}`), `unknown annotation hint "safeHint"`},
		{"hint without is", base(3, `{"id":"a","weight":1,"when":[{"in":"annotation","hint":"readOnlyHint"}]}`), `without "is"`},
		{"annotation alone reaches threshold", base(3, `{"id":"a","weight":3,"when":[{"in":"annotation","hint":"destructiveHint","is":true}]}`), "claims are not proof"},
		{"read-only claim lowers command-exec", base(3, `{"id":"a","weight":-1,"when":[{"in":"annotation","hint":"readOnlyHint","is":true}]}`), "readOnlyHint may only lower"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseToolRules([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestUnparsedRulesClassifyNothing(t *testing.T) {
	var zero ToolRules
	if ms := zero.ClassifyTool(mkTool("execute_command", "Execute a shell command", "", "")); ms != nil {
		t.Errorf("zero ToolRules: %v", ms)
	}
	var nilRules *ToolRules
	if ms := nilRules.ClassifyTool(mkTool("delete_file", "", "", "")); ms != nil {
		t.Errorf("nil ToolRules: %v", ms)
	}
	var zr ResourceRules
	if got := zr.Categories("file:///etc/shadow", ""); got != nil {
		t.Errorf("zero ResourceRules: %v", got)
	}
}
