package probe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

func TestCapText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 10, "abc"},
		{"exact", "abcd", 4, "abcd"},
		{"ascii cut", "abcdef", 3, "abc"},
		{"cut inside a rune backs off", "aé", 2, "a"},        // é is 2 bytes
		{"cut after a rune", "aéb", 3, "aé"},                 // a + é
		{"cut inside a 4-byte rune", "x😀y", 3, "x"},          // 😀 is 4 bytes
		{"invalid bytes replaced", "a\xffb", 10, "a\uFFFDb"}, // one U+FFFD per run
		{"invalid run replaced once", "a\xff\xfeb", 10, "a\uFFFDb"},
		{"replacement then cut", "\xff\xffabc", 4, "\uFFFDa"}, // U+FFFD is 3 bytes
		{"zero", "abc", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capText(tt.in, tt.n)
			if got != tt.want || !utf8.ValidString(got) || len(got) > tt.n {
				t.Errorf("capText(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func FuzzCapText(f *testing.F) {
	for _, s := range []string{"", "abc", "aé😀", "\xff\xfe", "a\xc3", "\xed\xa0\x80"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		got := capText(s, n)
		if !utf8.ValidString(got) || len(got) > n {
			t.Fatalf("capText(%q, %d) = %q", s, n, got)
		}
		if utf8.ValidString(s) && !strings.HasPrefix(s, got) {
			t.Fatalf("capText(%q, %d) = %q is not a prefix of valid input", s, n, got)
		}
	})
}

// fillStrings sets every string field reachable from v to bad, and every
// json.RawMessage to a JSON string holding bad.
func fillStrings(v reflect.Value, bad string) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fillStrings(v.Elem(), bad)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillStrings(v.Field(i), bad)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes([]byte(`{"k":"` + bad + `"}`))
			return
		}
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		}
		for i := range v.Len() {
			fillStrings(v.Index(i), bad)
		}
	case reflect.String:
		v.SetString(bad)
	}
}

// collectInvalid returns the paths of strings that are not valid UTF-8.
func collectInvalid(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			collectInvalid(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				collectInvalid(v.Field(i), path+"."+v.Type().Field(i).Name, out)
			}
		}
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			if !utf8.Valid(v.Bytes()) {
				*out = append(*out, path)
			}
			return
		}
		for i := range v.Len() {
			collectInvalid(v.Index(i), path, out)
		}
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			*out = append(*out, path)
		}
	}
}

// TestSanitizeEveryField fills every string of a record with invalid UTF-8
// and checks that sanitize leaves none: a field added to result.Endpoint
// later and forgotten in sanitize makes this test fail.
func TestSanitizeEveryField(t *testing.T) {
	ep := &result.Endpoint{}
	const bad = "x\xff\xfey\xc3"
	fillStrings(reflect.ValueOf(ep), bad)
	ep.Findings = nil // set by the risk assessment, after the probe
	var before []string
	collectInvalid(reflect.ValueOf(ep), "ep", &before)
	if len(before) < 40 {
		t.Fatalf("only %d invalid fields planted: %q", len(before), before)
	}
	sanitize(ep)
	var after []string
	collectInvalid(reflect.ValueOf(ep), "ep", &after)
	if len(after) > 0 {
		t.Fatalf("fields still invalid after sanitize: %q", after)
	}
	if ep.Tools[0].Name != "x\uFFFDy\uFFFD" {
		t.Errorf("tool name %q, want each invalid run replaced by one U+FFFD", ep.Tools[0].Name)
	}
	if !json.Valid(ep.MCP.Capabilities) {
		t.Errorf("capabilities %q no longer JSON", ep.MCP.Capabilities)
	}
}
