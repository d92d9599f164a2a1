package audit

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	in := map[string]any{
		"query":    "select 1",
		"Password": "hunter2",
		"nested": map[string]any{
			"API_KEY": "k-123",
			"list": []any{
				map[string]any{"token": "t-1", "keep": 1.0},
				"plain",
				[]any{map[string]any{"deeper": map[string]any{"SECRET": "s"}}},
			},
		},
	}
	orig := deepCopy(t, in)
	got := Redact(in, []string{"password", "api_key", "Token", "secret"})
	want := map[string]any{
		"query":    "select 1",
		"Password": Redacted,
		"nested": map[string]any{
			"API_KEY": Redacted,
			"list": []any{
				map[string]any{"token": Redacted, "keep": 1.0},
				"plain",
				[]any{map[string]any{"deeper": map[string]any{"SECRET": Redacted}}},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Redact =\n%#v\nwant\n%#v", got, want)
	}
	if !reflect.DeepEqual(in, orig) {
		t.Errorf("Redact modified its input: %#v", in)
	}
	b, _ := json.Marshal(got)
	for _, secret := range []string{"hunter2", "k-123", "t-1", `"s"`} {
		if strings.Contains(string(b), secret) {
			t.Errorf("redacted args still contain %s: %s", secret, b)
		}
	}
	if Redact(nil, []string{"x"}) != nil {
		t.Error("Redact(nil) != nil")
	}
	// A redacted field holding an object is replaced whole.
	got = Redact(map[string]any{"authorization": map[string]any{"scheme": "Bearer", "v": "x"}}, DefaultRedactFields)
	if got["authorization"] != Redacted {
		t.Errorf("object-valued field not redacted: %#v", got)
	}
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDigest(t *testing.T) {
	base := Digest(json.RawMessage(`{"a":1,"b":{"x":[1,2,{"z":true,"y":null}],"c":"<&>"}}`))
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("digest %q is not sha256:HEX", base)
	}
	same := []string{
		`{"b":{"c":"<&>","x":[1,2,{"y":null,"z":true}]},"a":1}`,
		" {\n  \"b\" : { \"x\" : [ 1 , 2 , { \"z\" : true , \"y\" : null } ] , \"c\" : \"<&>\" } ,\n \"a\" : 1 }\n",
		`{"a":1,"b":{"c":"\u003c\u0026\u003e","x":[1,2,{"y":null,"z":true}]}}`,
	}
	for i, s := range same {
		if got := Digest(json.RawMessage(s)); got != base {
			t.Errorf("variant %d: digest %s, want %s", i, got, base)
		}
	}
	differ := []string{
		`{"a":2,"b":{"c":"<&>","x":[1,2,{"y":null,"z":true}]}}`,
		`{"a":1,"b":{"c":"<&>","x":[2,1,{"y":null,"z":true}]}}`,
		`{"a":"1","b":{"c":"<&>","x":[1,2,{"y":null,"z":true}]}}`,
	}
	for i, s := range differ {
		if got := Digest(json.RawMessage(s)); got == base {
			t.Errorf("different value %d has the same digest", i)
		}
	}
	if Digest(nil) != "" || Digest(json.RawMessage("  ")) != "" {
		t.Error("empty args should give an empty digest")
	}
	bad := json.RawMessage(`{"a":`)
	if d := Digest(bad); d == "" || d != Digest(bad) {
		t.Errorf("invalid JSON digest %q not stable", d)
	}
	// Big numbers keep their digits.
	if Digest(json.RawMessage(`{"n":12345678901234567890}`)) == Digest(json.RawMessage(`{"n":12345678901234567891}`)) {
		t.Error("big integers collapsed to the same digest")
	}
}
