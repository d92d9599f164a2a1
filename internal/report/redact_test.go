package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

const secret = "s3cr3t-t0ken"

func redactSecret(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }

// fillStrings sets every string, slice and pointer of v (reached by
// reflection) so that every string holds secret and every raw JSON member
// holds it in a string value and a member name.
func fillStrings(v reflect.Value) {
	switch v.Type() {
	case rawMessageType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"k":"` + secret + `","` + secret + `":[1,"x ` + secret + `"]}`)))
		return
	case timeType:
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("a " + secret + " b")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillStrings(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).CanSet() {
				fillStrings(v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillStrings(v.Index(i))
		}
	}
}

func secretEndpoint() *result.Endpoint {
	e := &result.Endpoint{}
	fillStrings(reflect.ValueOf(e).Elem())
	for i := range e.Findings {
		e.Findings[i].Severity = finding.High
	}
	e.Status = result.StatusMCP
	return e
}

func TestRedactEveryFormat(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			e := secretEndpoint()
			before := secretEndpoint()
			var buf bytes.Buffer
			w, _ := New(f, &buf, Options{Redact: redactSecret, All: true})
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(buf.Bytes(), []byte(secret)) {
				t.Errorf("output holds the secret:\n%s", buf.Bytes())
			}
			if !bytes.Contains(buf.Bytes(), []byte("[REDACTED]")) {
				t.Errorf("output shows no redaction:\n%s", buf.Bytes())
			}
			if !reflect.DeepEqual(e, before) {
				t.Error("redaction modified the caller's record")
			}
		})
	}
}

// TestRedactEndpointDeep checks the reflective copy itself: every string
// redacted, nothing shared with the original.
func TestRedactEndpointDeep(t *testing.T) {
	e := secretEndpoint()
	c := redactEndpoint(e, redactSecret)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secret)) {
		t.Fatalf("copy still holds the secret: %s", b)
	}
	c.Tools[0].Name = "x"
	c.MCP.Aliases[0] = "x"
	c.Tools[0].InputSchema[0] = '['
	if e.Tools[0].Name == "x" || e.MCP.Aliases[0] == "x" || e.Tools[0].InputSchema[0] == '[' {
		t.Error("the copy shares memory with the original")
	}
	if !c.ScannedAt.Equal(e.ScannedAt) || c.Port != e.Port || c.Findings[0].Severity != finding.High {
		t.Error("non-string members changed")
	}
}

func TestRedactRaw(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a": "keep"}`, `{"a": "keep"}`}, // unchanged bytes kept as they were
		{`{"b":"x ` + secret + `","a":[1.50,"` + secret + `"]}`, `{"a":[1.50,"[REDACTED]"],"b":"x [REDACTED]"}`},
		{`{"` + secret + `":true}`, `{"[REDACTED]":true}`},
		{`not json ` + secret, `"not json [REDACTED]"`},
		{``, ``},
	}
	for _, tt := range tests {
		got := string(redactRaw(json.RawMessage(tt.in), redactSecret))
		if got != tt.want {
			t.Errorf("redactRaw(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.want != "" && !json.Valid([]byte(got)) {
			t.Errorf("redactRaw(%q) is not JSON", tt.in)
		}
	}
}
