package risk

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// FuzzClassifyTool feeds arbitrary names, descriptions, schemas and
// annotations (what a hostile server may list) to the classifier: it must
// not panic, must return known categories in order, each with reasons, and
// must give the same answer twice.
func FuzzClassifyTool(f *testing.F) {
	f.Add("execute_command", "Execute a terminal command with timeout.",
		`{"type":"object","properties":{"command":{"type":"string"}}}`, `{"readOnlyHint":true}`)
	f.Add("read_file", "Read the complete contents of a file", `{"properties":{"path":{"type":"string"}}}`, `{}`)
	f.Add("", "", "", "")
	f.Add("\xff\xfe", "\x00\x01 delete", `{"properties":{"a":{"properties":{"b":{"enum":["run_workflow",1,null]}}}}}`, `{"destructiveHint":"x"}`)
	f.Add("aVeryLongCamelCaseNameWithHTTPAndS3", "ünïcode ✓ send email", `{"anyOf":[{"properties":{"url":{}}}],"items":[1,2]}`, `null`)
	f.Fuzz(func(t *testing.T, name, desc, schema, annotations string) {
		tool := result.Tool{Name: name, Description: desc, Title: desc}
		if json.Valid([]byte(schema)) {
			tool.InputSchema = json.RawMessage(schema)
		}
		if json.Valid([]byte(annotations)) {
			tool.Annotations = json.RawMessage(annotations)
		}
		ms := ClassifyTool(tool)
		for i, m := range ms {
			if !IsCategory(m.Category) {
				t.Fatalf("unknown category %q", m.Category)
			}
			if i > 0 && ms[i-1].Category >= m.Category {
				t.Fatalf("matches out of order: %v", ms)
			}
			if len(m.Reasons) == 0 || m.Score <= 0 {
				t.Fatalf("%s: score %d without reasons %q", m.Category, m.Score, m.Reasons)
			}
		}
		if again := ClassifyTool(tool); !reflect.DeepEqual(ms, again) {
			t.Fatalf("not deterministic: %v then %v", ms, again)
		}
		rc := ResourceCategories(name, desc)
		if !slices.IsSorted(rc) {
			t.Fatalf("resource categories out of order: %v", rc)
		}
		for _, c := range rc {
			if !IsCategory(c) {
				t.Fatalf("unknown resource category %q", c)
			}
		}
	})
}
