package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// sarifSchemaFile is the official SARIF 2.1.0 JSON schema (OASIS,
// errata 01), as published in the oasis-tcs/sarif-spec repository.
const sarifSchemaFile = "sarif-schema-2.1.0.json"

var sarifSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open(filepath.Join("testdata", sarifSchemaFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	id, _ := doc.(map[string]any)["id"].(string)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		return nil, err
	}
	return c.Compile(id)
})

// validateSARIF fails the test when out is not a SARIF 2.1.0 log.
func validateSARIF(t testing.TB, out []byte) {
	t.Helper()
	sch, err := sarifSchema()
	if err != nil {
		t.Fatalf("SARIF schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("output is not valid SARIF 2.1.0: %v", err)
	}
}

func TestSARIFGolden(t *testing.T) {
	tests := []struct {
		file    string
		opts    Options
		summary *result.Summary
	}{
		{"sarif.golden", Options{Version: "v0.3.0"}, richSummary()},
		{"sarif_nosummary.golden", Options{Version: "dev"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := renderRich(FormatSARIF, tt.opts, tt.summary)
			if err != nil {
				t.Fatal(err)
			}
			validateSARIF(t, out)
			golden(t, tt.file, out)
		})
	}
}

// TestSARIFSchemaCatchesErrors checks that the validation is real: a log
// that breaks the schema is refused.
func TestSARIFSchemaCatchesErrors(t *testing.T) {
	sch, err := sarifSchema()
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderRich(FormatSARIF, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	breakers := map[string]func(run map[string]any){
		"level":      func(run map[string]any) { result0(run)["level"] = "fatal" },
		"no message": func(run map[string]any) { delete(result0(run), "message") },
		"ruleIndex":  func(run map[string]any) { result0(run)["ruleIndex"] = -2 },
		"no driver":  func(run map[string]any) { run["tool"] = map[string]any{} },
		"unknown":    func(run map[string]any) { result0(run)["severity"] = "high" },
		"uri":        func(run map[string]any) { location0(run)["uri"] = "http://[::1" },
	}
	for name, breakIt := range breakers {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			breakIt(doc["runs"].([]any)[0].(map[string]any))
			b, _ := json.Marshal(doc)
			inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if sch.Validate(inst) == nil {
				t.Error("a broken log passed validation")
			}
		})
	}
}

func result0(run map[string]any) map[string]any {
	return run["results"].([]any)[0].(map[string]any)
}

func location0(run map[string]any) map[string]any {
	loc := result0(run)["locations"].([]any)[0].(map[string]any)
	return loc["physicalLocation"].(map[string]any)["artifactLocation"].(map[string]any)
}

// sarifDoc is the part of the log the tests read.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name            string `json:"name"`
				Version         string `json:"version"`
				SemanticVersion string `json:"semanticVersion"`
				InformationURI  string `json:"informationUri"`
				Rules           []struct {
					ID               string `json:"id"`
					Name             string `json:"name"`
					ShortDescription struct{ Text string }
					FullDescription  struct{ Text string }
					HelpURI          string `json:"helpUri"`
					Help             struct {
						Text     string `json:"text"`
						Markdown string `json:"markdown"`
					}
					DefaultConfiguration struct{ Level string }
					Properties           map[string]any
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful bool `json:"executionSuccessful"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string `json:"ruleId"`
			RuleIndex int    `json:"ruleIndex"`
			Level     string `json:"level"`
			Message   struct{ Text string }
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string }
					Region           struct{ StartLine int }
				}
				LogicalLocations []struct {
					Name               string `json:"name"`
					FullyQualifiedName string `json:"fullyQualifiedName"`
					Kind               string `json:"kind"`
				}
			}
			PartialFingerprints map[string]string
			Suppressions        []struct{ Kind, Status, Justification string }
			Properties          map[string]any
		} `json:"results"`
	} `json:"runs"`
}

func decodeSARIF(t *testing.T, out []byte) sarifDoc {
	t.Helper()
	var doc sarifDoc
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(doc.Runs))
	}
	return doc
}

func TestSARIFContent(t *testing.T) {
	out, err := renderRich(FormatSARIF, Options{Version: "v1.2.3-rc.1"}, richSummary())
	if err != nil {
		t.Fatal(err)
	}
	doc := decodeSARIF(t, out)
	if doc.Version != "2.1.0" || doc.Schema == "" {
		t.Errorf("version %q, $schema %q", doc.Version, doc.Schema)
	}
	run := doc.Runs[0]
	d := run.Tool.Driver
	if d.Name != "mcpwarden" || d.Version != "v1.2.3-rc.1" || d.SemanticVersion != "1.2.3-rc.1" ||
		!strings.HasPrefix(d.InformationURI, "https://") {
		t.Errorf("driver = %s %s %s %s", d.Name, d.Version, d.SemanticVersion, d.InformationURI)
	}
	if len(run.Invocations) != 1 || !run.Invocations[0].ExecutionSuccessful {
		t.Errorf("invocations = %+v", run.Invocations)
	}

	// The whole catalogue, in order, then the one unknown id of the hostile fixture.
	all := rules.All()
	if len(d.Rules) != len(all)+1 {
		t.Fatalf("%d rules, want the %d of the catalogue and one unknown", len(d.Rules), len(all))
	}
	for i, r := range all {
		got := d.Rules[i]
		if got.ID != r.ID || got.ShortDescription.Text != r.Title || got.FullDescription.Text != r.Why ||
			got.Help.Text != r.HelpText() || got.Help.Markdown != r.HelpMarkdown() ||
			!strings.HasSuffix(got.HelpURI, "/docs/rules.md#"+r.Anchor()) {
			t.Errorf("rule %d = %+v, want %s", i, got, r.ID)
		}
		if got.Name == "" || strings.ContainsAny(got.Name, " -:()+") {
			t.Errorf("%s: name %q is not CamelCase", r.ID, got.Name)
		}
		if got.DefaultConfiguration.Level != sarifLevel(r.Severity) {
			t.Errorf("%s: default level %q", r.ID, got.DefaultConfiguration.Level)
		}
		p := got.Properties
		if p["security-severity"] != SecuritySeverity(r.Severity) || p["problem.severity"] != problemSeverity(r.Severity) ||
			p["precision"] == "" {
			t.Errorf("%s: properties %v", r.ID, p)
		}
		if tags, _ := p["tags"].([]any); len(tags) != 2 || tags[0] != "security" || tags[1] != "mcp" {
			t.Errorf("%s: tags %v", r.ID, p["tags"])
		}
	}
	if u := d.Rules[len(all)]; u.ID != "XYZ-9|<b>" || u.ShortDescription.Text == "" || u.Help.Text == "" {
		t.Errorf("unknown rule descriptor = %+v", u)
	}

	// One result per finding.
	want := 0
	for _, e := range richFixtures() {
		want += len(e.Findings)
	}
	if len(run.Results) != want {
		t.Fatalf("%d results, want %d", len(run.Results), want)
	}
	seen := map[string]bool{}
	suppressed := 0
	for _, r := range run.Results {
		if r.RuleIndex < 0 || r.RuleIndex >= len(d.Rules) || d.Rules[r.RuleIndex].ID != r.RuleID {
			t.Errorf("result %s has ruleIndex %d", r.RuleID, r.RuleIndex)
		}
		if len(r.Locations) != 1 {
			t.Fatalf("result %s: %d locations", r.RuleID, len(r.Locations))
		}
		loc := r.Locations[0]
		u, err := url.Parse(loc.PhysicalLocation.ArtifactLocation.URI)
		if err != nil || u.IsAbs() || u.Host != "" || strings.HasPrefix(u.Path, "/") || u.Path == "" {
			t.Errorf("artifact URI %q is not a relative path (%v)", loc.PhysicalLocation.ArtifactLocation.URI, err)
		}
		if loc.PhysicalLocation.Region.StartLine != 1 {
			t.Errorf("region = %+v", loc.PhysicalLocation.Region)
		}
		if len(loc.LogicalLocations) != 1 || loc.LogicalLocations[0].Kind != "endpoint" ||
			!strings.Contains(loc.LogicalLocations[0].FullyQualifiedName, "://"+loc.LogicalLocations[0].Name+"/") {
			t.Errorf("logical locations = %+v", loc.LogicalLocations)
		}
		fp := r.PartialFingerprints[FingerprintKey]
		if len(fp) != 64 || r.PartialFingerprints["primaryLocationLineHash"] != fp[:16]+":1" {
			t.Errorf("fingerprints = %v", r.PartialFingerprints)
		}
		if seen[fp] {
			t.Errorf("fingerprint %s twice", fp)
		}
		seen[fp] = true
		if r.Properties["endpoint"] == "" || r.Properties["status"] == "" || r.Properties["severity"] == "" {
			t.Errorf("properties = %v", r.Properties)
		}
		if len(r.Suppressions) > 0 {
			suppressed++
			if s := r.Suppressions[0]; s.Kind != "external" || s.Status != "accepted" || s.Justification == "" {
				t.Errorf("suppression = %+v", s)
			}
		}
		if strings.Contains(r.Message.Text, "[link]") || strings.Contains(r.Message.Text, "[x]") {
			t.Errorf("message holds an unescaped embedded link: %q", r.Message.Text)
		}
	}
	if suppressed != 1 {
		t.Errorf("%d suppressed results, want 1", suppressed)
	}
	first := run.Results[0]
	if first.Level != "error" || first.Properties["severity"] != "critical" {
		t.Errorf("results not sorted most severe first: %s %s", first.RuleID, first.Level)
	}
}

func TestSARIFEmpty(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatSARIF, &buf, Options{})
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, buf.Bytes())
	doc := decodeSARIF(t, buf.Bytes())
	if !strings.Contains(buf.String(), `"results": []`) || len(doc.Runs[0].Tool.Driver.Rules) != len(rules.All()) {
		t.Errorf("empty log:\n%s", buf.String())
	}
	if doc.Runs[0].Tool.Driver.Version == "" {
		t.Error("no driver version")
	}
}

// TestSARIFWritesAtClose checks that nothing reaches the output before
// Close, and that Close writes the log in one piece.
func TestSARIFWritesAtClose(t *testing.T) {
	rec := &lineRecorder{}
	w, _ := New(FormatSARIF, rec, Options{})
	for _, e := range richFixtures() {
		_ = w.Write(e)
	}
	if len(rec.writes) != 0 {
		t.Fatalf("%d writes before Close", len(rec.writes))
	}
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || !json.Valid(rec.writes[0]) {
		t.Fatalf("Close made %d writes, want one valid document", len(rec.writes))
	}
}

// fingerprints maps "rule endpoint-url" to the fingerprint of each result.
func fingerprints(t *testing.T, out []byte) map[string]string {
	t.Helper()
	doc := decodeSARIF(t, out)
	m := map[string]string{}
	for _, r := range doc.Runs[0].Results {
		key := r.RuleID + " " + r.Locations[0].LogicalLocations[0].FullyQualifiedName
		if _, dup := m[key]; dup {
			key += " again"
		}
		m[key] = r.PartialFingerprints[FingerprintKey]
	}
	return m
}

// TestSARIFFingerprintStable checks that a second scan of the same
// endpoints, with other evidence (counts, names), findings and endpoints
// in another order, another scan time and the URL spelt differently,
// yields the same fingerprints: code scanning then matches the alerts
// instead of opening new ones.
func TestSARIFFingerprintStable(t *testing.T) {
	first := func() []*result.Endpoint {
		a := openMCP()
		b := legacySSE()
		return []*result.Endpoint{a, b}
	}
	second := func() []*result.Endpoint {
		a := openMCP()
		a.URL = "HTTP://10.20.0.7:8000/mcp#tools" // same endpoint, spelt differently
		a.ScannedAt = a.ScannedAt.AddDate(0, 0, 7)
		a.Findings = []finding.Finding{
			rules.Default(rules.PlaintextHTTP, "served over http:// on private address 10.20.0.7 (seen 3 times)."),
			rules.New(rules.Unauthenticated, finding.Critical,
				"initialize and tools/list succeeded without credentials; 7 tools listed, including run_command, delete_file."),
		}
		b := legacySSE()
		b.Findings[0].Evidence = "GET /sse answered with event: endpoint after 1.2s."
		b.Findings[1], b.Findings[2] = b.Findings[2], b.Findings[1]
		return []*result.Endpoint{b, a} // the other endpoint first
	}
	render := func(eps []*result.Endpoint) []byte {
		var buf bytes.Buffer
		w, _ := New(FormatSARIF, &buf, Options{})
		for _, e := range eps {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(nil); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a, b := fingerprints(t, render(first())), fingerprints(t, render(second()))
	if len(a) != 5 {
		t.Fatalf("%d results in the first run, want 5: %v", len(a), a)
	}
	for key, fp := range a {
		if b[key] != fp {
			t.Errorf("%s: fingerprint %s in the first run, %s in the second", key, fp, b[key])
		}
	}
	if len(a) != len(b) {
		t.Errorf("%d results then %d", len(a), len(b))
	}

	// What must change the identity does.
	base := fingerprint(rules.Unauthenticated, "http://10.20.0.7:8000/mcp", 0)
	for name, other := range map[string]string{
		"rule":       fingerprint(rules.PlaintextHTTP, "http://10.20.0.7:8000/mcp", 0),
		"port":       fingerprint(rules.Unauthenticated, "http://10.20.0.7:8001/mcp", 0),
		"path":       fingerprint(rules.Unauthenticated, "http://10.20.0.7:8000/sse", 0),
		"scheme":     fingerprint(rules.Unauthenticated, "https://10.20.0.7:8000/mcp", 0),
		"occurrence": fingerprint(rules.Unauthenticated, "http://10.20.0.7:8000/mcp", 1),
	} {
		if other == base {
			t.Errorf("another %s gives the same fingerprint", name)
		}
	}
}

func TestIdentify(t *testing.T) {
	tests := []struct {
		name                    string
		e                       result.Endpoint
		url, hostPort, artifact string
	}{
		{"plain", result.Endpoint{URL: "http://10.20.0.7:8000/mcp"},
			"http://10.20.0.7:8000/mcp", "10.20.0.7:8000", "http/10.20.0.7:8000/mcp"},
		{"case, fragment, query, user", result.Endpoint{URL: "HTTPS://user:secret@MCP.Example.COM/MCP/?session=1#x"},
			"https://mcp.example.com:443/MCP/", "mcp.example.com:443", "https/mcp.example.com:443/MCP"},
		{"default port from the record", result.Endpoint{URL: "http://h/", Port: 8080},
			"http://h:8080/", "h:8080", "http/h:8080"},
		{"default http port", result.Endpoint{URL: "http://h"}, "http://h:80/", "h:80", "http/h:80"},
		{"ipv6", result.Endpoint{URL: "http://[::1]:3001/sse"},
			"http://[::1]:3001/sse", "[::1]:3001", "http/%5B::1%5D:3001/sse"},
		{"escaped path", result.Endpoint{URL: "http://h:1/a%20b/c d"},
			"http://h:1/a%20b/c%20d", "h:1", "http/h:1/a%20b/c%20d"},
		{"no URL", result.Endpoint{Host: "10.0.0.9", Port: 8080},
			"10.0.0.9:8080", "10.0.0.9:8080", "endpoint/10.0.0.9:8080"},
		{"unparsable URL", result.Endpoint{URL: "http://[::1/mcp", Host: "::1", Port: 1},
			"[::1]:1 http://[::1/mcp", "[::1]:1", "endpoint/%5B::1%5D:1"},
		{"hostile URL", result.Endpoint{URL: "http://h:2/\x1b[31m\n<x>"},
			"http://h:2/%20%3Cx%3E", "h:2", "http/h:2/%20%3Cx%3E"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := identify(&tt.e)
			if got.url != tt.url || got.hostPort != tt.hostPort || got.artifact != tt.artifact {
				t.Errorf("identify = %+v, want {%s %s %s}", got, tt.url, tt.hostPort, tt.artifact)
			}
			if u, err := url.Parse(got.artifact); err != nil || u.IsAbs() {
				t.Errorf("artifact %q is not a relative reference: %v", got.artifact, err)
			}
		})
	}
}

func TestSeverityMappings(t *testing.T) {
	tests := []struct {
		sev                   finding.Severity
		score, level, problem string
	}{
		{finding.Critical, "9.5", "error", "error"},
		{finding.High, "8.0", "error", "error"},
		{finding.Medium, "5.5", "warning", "warning"},
		{finding.Low, "3.0", "note", "recommendation"},
		{finding.Info, "0.0", "note", "recommendation"},
		{finding.Critical + 3, "9.5", "error", "error"},
		{-1, "0.0", "note", "recommendation"},
	}
	for _, tt := range tests {
		t.Run(tt.sev.String(), func(t *testing.T) {
			if got := SecuritySeverity(tt.sev); got != tt.score {
				t.Errorf("SecuritySeverity = %s, want %s", got, tt.score)
			}
			if got := sarifLevel(tt.sev); got != tt.level {
				t.Errorf("level = %s, want %s", got, tt.level)
			}
			if got := problemSeverity(tt.sev); got != tt.problem {
				t.Errorf("problem.severity = %s, want %s", got, tt.problem)
			}
		})
	}
}

func TestRuleName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MCP server reachable without authentication", "MCPServerReachableWithoutAuthentication"},
		{"Deprecated HTTP+SSE transport (protocol 2024-11-05)", "DeprecatedHTTPSSETransportProtocol20241105"},
		{"OAuth-protected MCP server", "OAuthProtectedMCPServer"},
		{"Listing incomplete: page, item or size cap reached", "ListingIncompletePageItemOrSizeCapReached"},
		{"[link](http://x/)", "LinkHttpX"},
		{"", ""},
		{strings.Repeat("a ", 300), strings.Repeat("A", 255)},
	}
	for _, tt := range tests {
		if got := ruleName(tt.in); got != tt.want {
			t.Errorf("ruleName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSemanticVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"v1.2.3", "1.2.3"},
		{"0.3.0", "0.3.0"},
		{"v1.0.0-rc.1+build.5", "1.0.0-rc.1+build.5"},
		{"dev", ""},
		{"v1.2", ""},
		{"v01.2.3", ""},
		{"(devel)", ""},
	}
	for _, tt := range tests {
		if got := semanticVersion(tt.in); got != tt.want {
			t.Errorf("semanticVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if toolVersion(" v2.0.0\n") != "v2.0.0" || toolVersion("") == "" {
		t.Errorf("toolVersion: %q, %q", toolVersion(" v2.0.0\n"), toolVersion(""))
	}
}

func TestSARIFMessage(t *testing.T) {
	tests := []struct{ title, where, evidence, want string }{
		{"T", "http://h/", "e", "T at http://h/: e"},
		{"T", "http://h/", "", "T at http://h/."},
		{"[a](1)", "u", "see [x](http://evil/) \\[", `\[a\](1) at u: see \[x\](http://evil/) \\[`},
	}
	for _, tt := range tests {
		if got := sarifMessage(tt.title, tt.where, tt.evidence); got != tt.want {
			t.Errorf("sarifMessage = %q, want %q", got, tt.want)
		}
	}
}

// FuzzSARIF feeds hostile strings to the members SARIF carries and checks
// that the log stays valid SARIF with a relative artifact URI.
func FuzzSARIF(f *testing.F) {
	f.Add("http://127.0.0.1:1/mcp", "127.0.0.1", hostileName, "MCPW-001", "evidence [x](y)", "cat\x00")
	f.Add("http://[::1/", "::1", "", "", "", "")
	f.Add("HTTP://User@Host:65535/a%2Fb/../c?x#y", "h\u202e", "`", "\x9b31m", strings.Repeat("[", 50), "")
	f.Fuzz(func(t *testing.T, rawURL, host, name, rule, evidence, category string) {
		e := &result.Endpoint{
			URL: rawURL, Host: host, Port: 1, Status: result.StatusMCP,
			MCP:  &result.MCPInfo{Transport: name, Server: result.ServerInfo{Name: name, Version: evidence}},
			Auth: &result.AuthInfo{Scheme: category},
			Risk: &result.RiskSummary{Categories: []string{category, name}},
			Findings: []finding.Finding{
				{Rule: rule, Severity: finding.High, Title: name, Evidence: evidence},
				{Rule: rules.Unauthenticated, Severity: finding.Critical, Evidence: rawURL,
					Suppressed: &finding.Suppression{Reason: evidence}},
			},
		}
		// Build the log as Close does, but leave out the rule descriptors
		// (the same in every log, validated by TestSARIFGolden) and the
		// indentation, which would make each run slow.
		w := newSARIF(io.Discard, Options{Version: name}).(*sarifWriter)
		if err := w.Write(normalize(e, nil)); err != nil {
			t.Fatal(err)
		}
		log := w.build(nil)
		results := log.Runs[0].Results
		for _, r := range results {
			if r.RuleIndex < 0 || r.RuleIndex >= len(log.Runs[0].Tool.Driver.Rules) ||
				log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
				t.Fatalf("result %q has rule index %d", r.RuleID, r.RuleIndex)
			}
		}
		log.Runs[0].Tool.Driver.Rules = []sarifRule{}
		b, err := marshal(log)
		if err != nil {
			t.Fatal(err)
		}
		validateSARIF(t, b)
		id := identify(e)
		if u, err := url.Parse(id.artifact); err != nil || u.IsAbs() || id.artifact == "" {
			t.Fatalf("artifact %q: %v", id.artifact, err)
		}
	})
}

func ExampleSecuritySeverity() {
	for s := finding.Critical; s >= finding.Info; s-- {
		fmt.Printf("%-8s %s %s\n", s, SecuritySeverity(s), sarifLevel(s))
	}
	// Output:
	// critical 9.5 error
	// high     8.0 error
	// medium   5.5 warning
	// low      3.0 note
	// info     0.0 note
}
