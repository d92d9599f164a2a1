package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// requiredPaths are the members every consumer of mcpwarden.scan/v1 may rely
// on for a confirmed MCP endpoint. "[]" walks every element of an array.
var requiredPaths = []string{
	"schema", "url", "host", "port", "status",
	"mcp.transport", "mcp.protocol_version", "mcp.server.name", "mcp.server.version",
	"auth.required", "auth.scheme",
	"tools[].name", "tools[].description",
	"resources[].uri",
	"prompts[].name",
	"findings[].rule", "findings[].severity", "findings[].title",
	"elapsed_ms",
}

// alwaysPaths are present on every record, whatever its status.
var alwaysPaths = []string{"schema", "url", "host", "port", "status", "findings", "scanned_at", "elapsed_ms"}

// missingPaths returns the paths absent from v.
func missingPaths(v any, paths []string) []string {
	var missing []string
	for _, p := range paths {
		if !hasPath(v, strings.Split(p, ".")) {
			missing = append(missing, p)
		}
	}
	return missing
}

func hasPath(v any, parts []string) bool {
	if len(parts) == 0 {
		return true
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return false
	}
	key, each := strings.CutSuffix(parts[0], "[]")
	child, ok := obj[key]
	if !ok {
		return false
	}
	if !each {
		return hasPath(child, parts[1:])
	}
	arr, ok := child.([]any)
	if !ok || len(arr) == 0 {
		return false
	}
	for _, el := range arr {
		if !hasPath(el, parts[1:]) {
			return false
		}
	}
	return true
}

func TestHasPath(t *testing.T) {
	var v any
	if err := json.Unmarshal([]byte(`{"a":{"b":1},"l":[{"n":1},{"n":2}],"m":[{"n":1},{}],"e":[]}`), &v); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"a": true, "a.b": true, "a.c": false, "l[].n": true, "m[].n": false, "e[].n": false, "x": false, "a.b.c": false,
	} {
		if got := hasPath(v, strings.Split(p, ".")); got != want {
			t.Errorf("hasPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestJSONLRoundTrip(t *testing.T) {
	out := render(t, FormatJSONL, Options{}, summary())
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := fixtures()
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want one per endpoint (%d)", len(lines), len(want))
	}
	for i, line := range lines {
		t.Run(want[i].URL, func(t *testing.T) {
			if !utf8.ValidString(line) {
				t.Fatal("line is not valid UTF-8")
			}
			for _, r := range line {
				if r < 0x20 || invisible(r) {
					t.Fatalf("raw control or format character %U in the line", r)
				}
			}
			var got result.Endpoint
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("decoding into result.Endpoint: %v", err)
			}
			// The writer only adds an empty findings list where there was none.
			if w := normalize(want[i], nil); !reflect.DeepEqual(&got, w) {
				t.Errorf("round trip changed the record:\n got %+v\nwant %+v", got, *w)
			}

			var generic any
			if err := json.Unmarshal([]byte(line), &generic); err != nil {
				t.Fatal(err)
			}
			if m := missingPaths(generic, alwaysPaths); len(m) > 0 {
				t.Errorf("missing members %v", m)
			}
			if want[i].URL == openMCP().URL {
				if m := missingPaths(generic, requiredPaths); len(m) > 0 {
					t.Errorf("missing required members %v", m)
				}
			}
		})
	}
}

// TestJSONLDefaults checks that a record without schema or findings still
// carries both.
func TestJSONLDefaults(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatJSONL, &buf, Options{})
	e := notMCP()
	e.Schema, e.Findings = "", nil
	if err := w.Write(e); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["schema"] != result.Schema {
		t.Errorf("schema = %v, want %q", got["schema"], result.Schema)
	}
	if f, ok := got["findings"].([]any); !ok || len(f) != 0 {
		t.Errorf("findings = %#v, want []", got["findings"])
	}
}

// lineRecorder records what each Write call carried.
type lineRecorder struct{ writes [][]byte }

func (r *lineRecorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, bytes.Clone(p))
	return len(p), nil
}

// TestJSONLStreams checks that each record reaches the output, whole and in
// one write, before the next is given, and that Close adds nothing unless
// SummaryLine is set: an interrupted scan keeps every line written.
func TestJSONLStreams(t *testing.T) {
	for _, summaryLine := range []bool{false, true} {
		rec := &lineRecorder{}
		w, _ := New(FormatJSONL, rec, Options{SummaryLine: summaryLine})
		for i, e := range fixtures() {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
			if len(rec.writes) != i+1 {
				t.Fatalf("after %d records, %d writes reached the output", i+1, len(rec.writes))
			}
			last := rec.writes[i]
			if bytes.Count(last, []byte("\n")) != 1 || last[len(last)-1] != '\n' || !json.Valid(last) {
				t.Fatalf("write %d is not one whole JSON line: %q", i, last)
			}
		}
		n := len(rec.writes)
		if err := w.Close(summary()); err != nil {
			t.Fatal(err)
		}
		switch {
		case !summaryLine && len(rec.writes) != n:
			t.Errorf("Close wrote %q without SummaryLine", rec.writes[n:])
		case summaryLine && len(rec.writes) != n+1:
			t.Errorf("Close made %d writes with SummaryLine, want 1", len(rec.writes)-n)
		case summaryLine:
			var s result.Summary
			dec := json.NewDecoder(bytes.NewReader(rec.writes[n]))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&s); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&s, summary()) {
				t.Errorf("summary line = %+v, want %+v", s, *summary())
			}
		}
	}
}

func TestJSONLSummaryDefaults(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatJSONL, &buf, Options{SummaryLine: true})
	if err := w.Close(&result.Summary{Targets: 3}); err != nil {
		t.Fatal(err)
	}
	want := `{"schema":"mcpwarden.summary/v1","targets":3,"by_status":{},"findings_by_severity":{},"excluded":0,"requests":0,"elapsed_ms":0}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}

	buf.Reset()
	w, _ = New(FormatJSONL, &buf, Options{SummaryLine: true})
	if err := w.Close(nil); err != nil || buf.Len() != 0 {
		t.Errorf("Close(nil) wrote %q, %v; want nothing", buf.String(), err)
	}
}

// TestJSONLFlushes checks that a buffered output is flushed after each line.
func TestJSONLFlushes(t *testing.T) {
	var sink bytes.Buffer
	bw := bufio.NewWriterSize(&sink, 1<<16)
	w, _ := New(FormatJSONL, bw, Options{})
	if err := w.Write(openMCP()); err != nil {
		t.Fatal(err)
	}
	if bw.Buffered() != 0 || !bytes.HasSuffix(sink.Bytes(), []byte("\n")) {
		t.Fatalf("line still buffered: %d bytes buffered, %d written", bw.Buffered(), sink.Len())
	}
}

func TestEscapeInvisible(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"plain"}`, `{"a":"plain"}`},
		{`{"a":"é ✓ 日本"}`, `{"a":"é ✓ 日本"}`},
		{"{\"a\":\"x\x7fy\"}", `{"a":"x\u007fy"}`},
		{"{\"a\":\"\u009b31m\"}", `{"a":"\u009b31m"}`},
		{"{\"a\":\"\u202eabc\u2066\u200b\ufeff\"}", `{"a":"\u202eabc\u2066\u200b\ufeff"}`},
		{"{\"a\":\"flag\U000E0067\"}", `{"a":"flag\udb40\udc67"}`},
	}
	for _, tt := range tests {
		got := string(escapeInvisible([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("escapeInvisible(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(got), &b); err != nil {
			t.Fatalf("escaped JSON does not decode: %v", err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("escaping changed the value: %v -> %v", a, b)
		}
	}
}

// FuzzEscapeInvisible checks that escaping never changes what a JSON
// string decodes to and leaves no invisible rune raw.
func FuzzEscapeInvisible(f *testing.F) {
	for _, s := range []string{"plain", hostileName, "a\x7fb\u0085c\u202e\U000E0041", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc, err := marshal(finding.Finding{Rule: s, Evidence: s})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range string(enc) {
			if invisible(r) || r < 0x20 {
				t.Fatalf("raw %U in %q", r, enc)
			}
		}
		var plain bytes.Buffer
		if err := json.NewEncoder(&plain).Encode(finding.Finding{Rule: s, Evidence: s}); err != nil {
			t.Fatal(err)
		}
		var a, b finding.Finding
		if err := json.Unmarshal(plain.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(enc, &b); err != nil {
			t.Fatalf("escaped output does not decode: %v\n%s", err, enc)
		}
		if a != b {
			t.Fatalf("escaping changed the value: %q -> %q", a.Rule, b.Rule)
		}
	})
}
