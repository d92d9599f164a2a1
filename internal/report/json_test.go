package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// report is the json document as a consumer would decode it.
type report struct {
	Schema    string            `json:"schema"`
	Endpoints []result.Endpoint `json:"endpoints"`
	Summary   *result.Summary   `json:"summary"`
}

func TestJSONDocument(t *testing.T) {
	out := render(t, FormatJSON, Options{}, summary())
	var got report
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decoding the document: %v", err)
	}
	if dec.More() {
		t.Fatal("more than one JSON value in the output")
	}
	if got.Schema != ReportSchema {
		t.Errorf("schema = %q, want %q", got.Schema, ReportSchema)
	}
	want := fixtures()
	if len(got.Endpoints) != len(want) {
		t.Fatalf("%d endpoints, want %d", len(got.Endpoints), len(want))
	}
	for i := range want {
		// Raw members come back indented: compare compact encodings.
		g, err1 := json.Marshal(&got.Endpoints[i])
		w, err2 := json.Marshal(normalize(want[i], nil))
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !bytes.Equal(g, w) {
			t.Errorf("endpoint %d:\n got %s\nwant %s", i, g, w)
		}
	}
	if !reflect.DeepEqual(got.Summary, summary()) {
		t.Errorf("summary = %+v, want %+v", got.Summary, summary())
	}
	var generic map[string]any
	if err := json.Unmarshal(out, &generic); err != nil {
		t.Fatal(err)
	}
	eps := generic["endpoints"].([]any)
	if m := missingPaths(eps[1], requiredPaths); len(m) > 0 {
		t.Errorf("open MCP endpoint lacks %v", m)
	}
}

func TestJSONEmpty(t *testing.T) {
	var buf bytes.Buffer
	w, _ := New(FormatJSON, &buf, Options{})
	if err := w.Close(nil); err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"schema\": \"mcpwarden.report/v1\",\n  \"endpoints\": []\n}\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

// TestJSONWritesAtClose checks that nothing reaches the output before Close.
func TestJSONWritesAtClose(t *testing.T) {
	rec := &lineRecorder{}
	w, _ := New(FormatJSON, rec, Options{})
	for _, e := range fixtures() {
		_ = w.Write(e)
	}
	if len(rec.writes) != 0 {
		t.Fatalf("%d writes before Close", len(rec.writes))
	}
	if err := w.Close(summary()); err != nil {
		t.Fatal(err)
	}
	if len(rec.writes) != 1 || !json.Valid(rec.writes[0]) {
		t.Fatalf("Close made %d writes, want one valid document", len(rec.writes))
	}
}
