package risk

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type resourceEntry struct {
	URI      string   `json:"uri"`
	Name     string   `json:"name"`
	Template bool     `json:"template"`
	Expected []string `json:"expected"`
	Source   string   `json:"source"`
}

func TestResourceCorpus(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "resources_corpus.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Comment   string          `json:"comment"`
		Resources []resourceEntry `json:"resources"`
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var sensitive, ordinary int
	for _, e := range doc.Resources {
		t.Run(e.URI, func(t *testing.T) {
			if e.Template != strings.Contains(e.URI, "{") {
				t.Fatalf("template flag %t disagrees with the URI", e.Template)
			}
			got := ResourceCategories(e.URI, e.Name)
			want := e.Expected
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("ResourceCategories(%q, %q) = %v, want %v", e.URI, e.Name, got, want)
			}
		})
		if len(e.Expected) > 0 {
			sensitive++
		} else {
			ordinary++
		}
	}
	t.Logf("resource corpus: %d sensitive, %d ordinary", sensitive, ordinary)
	if sensitive < 10 || ordinary < 10 {
		t.Errorf("resource corpus too small: %d sensitive, %d ordinary", sensitive, ordinary)
	}
}

func TestLocalPath(t *testing.T) {
	tests := []struct {
		uri  string
		want string
		ok   bool
	}{
		{"file:///etc/passwd", "/etc/passwd", true},
		{"FILE:///Home/Alice/.ENV", "/home/alice/.env", true},
		{"file://localhost/etc/shadow", "/etc/shadow", true},
		{"file:///C:/Users/alice/", "/c:/users/alice/", true},
		{"file:///home/a%20b/.ssh/id_rsa", "/home/a b/.ssh/id_rsa", true},
		{"file:///srv/.env?x=1#frag", "/srv/.env", true},
		{"file:", "/", true},
		{"file://server", "/", true},
		{"/etc/passwd", "/etc/passwd", true},
		{`file:///C:\Users\bob\.aws\credentials`, "/c:/users/bob/.aws/credentials", true},
		{"file:///bad%zzescape/.env", "/bad%zzescape/.env", true},
		{"https://example.com/.env", "", false},
		{"postgres://h/db", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			got, ok := localPath(tt.uri)
			if got != tt.want || ok != tt.ok {
				t.Errorf("localPath(%q) = %q, %t; want %q, %t", tt.uri, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestParseResourceRulesRejects(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"unknown key", `{"version":1,"rules":[],"extra":1}`, `unknown field "extra"`},
		{"version", `{"version":2,"rules":[]}`, "version 2"},
		{"scope", `{"version":1,"rules":[{"id":"a","scope":"host","any":["x"],"categories":["secrets"]}]}`, `unknown scope "host"`},
		{"category", `{"version":1,"rules":[{"id":"a","scope":"uri","any":["x"],"categories":["keys"]}]}`, `unknown category "keys"`},
		{"regexp", `{"version":1,"rules":[{"id":"a","scope":"uri","any":["("],"categories":["secrets"]}]}`, `pattern "("`},
		{"duplicate", `{"version":1,"rules":[{"id":"a","scope":"uri","any":["x"],"categories":["secrets"]},{"id":"a","scope":"uri","any":["y"],"categories":["secrets"]}]}`, `duplicate id "a"`},
		{"empty", `{"version":1,"rules":[{"id":"a","scope":"uri","any":[],"categories":[]}]}`, "no categories"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseResourceRules([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
