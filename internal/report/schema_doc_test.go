package report

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// jsonNames collects the JSON member names of t and of every struct it
// reaches, with the path where each was found.
func jsonNames(t reflect.Type, path string, out map[string]string) {
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		if t != rawMessageType {
			jsonNames(t.Elem(), path, out)
		}
		return
	case reflect.Struct:
	default:
		return
	}
	if t == timeType {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out[path+name] = name
		jsonNames(f.Type, path+name+".", out)
	}
}

// TestSchemaDocumented checks that docs/jsonl-schema.md names every member
// of the endpoint record and of the summary, so that a field added to
// package result cannot go undocumented.
func TestSchemaDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/jsonl-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, want := range []string{result.Schema, result.SummarySchema, ReportSchema} {
		if !strings.Contains(doc, want) {
			t.Errorf("docs/jsonl-schema.md does not mention %q", want)
		}
	}
	names := map[string]string{}
	jsonNames(reflect.TypeFor[result.Endpoint](), "", names)
	jsonNames(reflect.TypeFor[result.Summary](), "summary.", names)
	for path, name := range names {
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "."+name+"`") {
			t.Errorf("docs/jsonl-schema.md does not document %s", path)
		}
	}
	for _, st := range statusOrder {
		if !strings.Contains(doc, "`"+string(st)+"`") {
			t.Errorf("docs/jsonl-schema.md does not list status %q", st)
		}
	}
}
