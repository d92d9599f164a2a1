package model

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

func TestCanonicalJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `null`},
		{`  `, `null`},
		{`{"b": 1, "a": [1.50, {"d": true, "c": null}]}`, `{"a":[1.50,{"c":null,"d":true}],"b":1}`},
		{`"x"`, `"x"`},
		{`{"a":1}{"b":2}`, `{"invalid_json":"{\"a\":1}{\"b\":2}"}`},
		{`{bad`, `{"invalid_json":"{bad"}`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(CanonicalJSON([]byte(tc.in))); got != tc.want {
				t.Errorf("CanonicalJSON(%q) = %s, want %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestToolHash(t *testing.T) {
	base := ToolDef{Name: "read", Description: "Reads.", InputSchema: json.RawMessage(`{"type":"object","properties":{}}`)}
	same := ToolDef{Name: "read", Description: "Reads.", InputSchema: json.RawMessage("{ \"properties\": {},\n \"type\": \"object\" }"), Hash: "ignored"}
	if ToolHash(base) != ToolHash(same) {
		t.Error("formatting and key order change the hash")
	}
	if h := ToolHash(base); len(h) != 64 {
		t.Errorf("hash %q is not hex sha256", h)
	}
	for name, d := range map[string]ToolDef{
		"name":        {Name: "read2", Description: base.Description, InputSchema: base.InputSchema},
		"description": {Name: "read", Description: "Reads. ", InputSchema: base.InputSchema},
		"schema":      {Name: "read", Description: base.Description, InputSchema: json.RawMessage(`{"type":"object"}`)},
		"annotations": {Name: "read", Description: base.Description, InputSchema: base.InputSchema, Annotations: json.RawMessage(`{"readOnlyHint":true}`)},
	} {
		if ToolHash(d) == ToolHash(base) {
			t.Errorf("a different %s gives the same hash", name)
		}
	}
	// Fields are delimited: moving text between them changes the hash.
	if ToolHash(ToolDef{Name: "ab", Description: "c"}) == ToolHash(ToolDef{Name: "a", Description: "bc"}) {
		t.Error("name and description run together")
	}
}

func TestKey(t *testing.T) {
	k := Key(ToolChanged, "u", "t", "h1>h2", "b")
	if k != Key(ToolChanged, "u", "t", "h1>h2", "b") || len(k) != len("tool.changed:")+64 {
		t.Errorf("Key = %q", k)
	}
	for _, other := range []string{
		Key(ToolAdded, "u", "t", "h1>h2", "b"), Key(ToolChanged, "u2", "t", "h1>h2", "b"),
		Key(ToolChanged, "u", "t2", "h1>h2", "b"), Key(ToolChanged, "u", "t", "h1>h3", "b"),
		Key(ToolChanged, "u", "t", "h1>h2", "c"), Key(ToolChanged, "ut", "", "h1>h2", "b"),
	} {
		if other == k {
			t.Errorf("distinct inputs share key %q", k)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name                           string
		ep                             *result.Endpoint
		answered, conclusive, listable bool
	}{
		{"open mcp", &result.Endpoint{Status: result.StatusMCP}, true, true, true},
		{"mcp behind auth", &result.Endpoint{Status: result.StatusMCP, Auth: &result.AuthInfo{Required: true}}, true, true, false},
		{"mcp with credentials", &result.Endpoint{Status: result.StatusMCP, Auth: &result.AuthInfo{Required: true, WithCredentials: true}}, true, true, true},
		{"tools/list failed", &result.Endpoint{Status: result.StatusMCP, Listing: &result.Listing{Errors: []string{"tools/list: eof"}}}, true, true, false},
		{"prompts/list failed", &result.Endpoint{Status: result.StatusMCP, Listing: &result.Listing{Errors: []string{"prompts/list: eof"}}}, true, true, true},
		{"not mcp", &result.Endpoint{Status: result.StatusNotMCP}, true, true, false},
		{"not probed", &result.Endpoint{Status: result.StatusNotProbed}, true, true, false},
		{"closed", &result.Endpoint{Status: result.StatusClosed}, false, true, false},
		{"timeout", &result.Endpoint{Status: result.StatusTimeout}, false, false, false},
		{"error", &result.Endpoint{Status: result.StatusError}, false, false, false},
		{"unknown", &result.Endpoint{Status: "weird"}, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Answered(tc.ep.Status); got != tc.answered {
				t.Errorf("Answered = %v", got)
			}
			if got := Conclusive(tc.ep.Status); got != tc.conclusive {
				t.Errorf("Conclusive = %v", got)
			}
			if got := ToolsListed(tc.ep); got != tc.listable {
				t.Errorf("ToolsListed = %v", got)
			}
		})
	}
	if ToolsListed(nil) {
		t.Error("ToolsListed(nil) = true")
	}
}

func TestDedupe(t *testing.T) {
	a1 := &result.Endpoint{URL: "a", Status: result.StatusTimeout}
	a2 := &result.Endpoint{URL: "a", Status: result.StatusMCP}
	a3 := &result.Endpoint{URL: "a", Status: result.StatusMCP, Port: 3}
	b := &result.Endpoint{URL: "b", Status: result.StatusClosed}
	got := Dedupe([]*result.Endpoint{a1, nil, b, {URL: ""}, a2, a3})
	if len(got) != 2 || got[0] != a2 || got[1] != b {
		t.Errorf("Dedupe = %+v", got)
	}
}

func TestObservationOf(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ep := &result.Endpoint{URL: "u", Status: result.StatusMCP, ScannedAt: at,
		Auth:  &result.AuthInfo{Required: true, Scheme: result.AuthOAuth},
		Tools: []result.Tool{{Name: "x", Description: "d"}}}
	o := ObservationOf(ep, time.Time{})
	if !o.Observed.Equal(at) || !o.AuthRequired || o.AuthScheme != "oauth" || len(o.Tools) != 1 || o.Tools[0].Hash != ToolHash(o.Tools[0]) {
		t.Errorf("ObservationOf = %+v", o)
	}
	if !Type("tool.changed").Valid() || Type("tool.renamed").Valid() || len(Types) != 13 {
		t.Error("Types / Valid disagree")
	}
	if CertHash(nil) != "" || CertHash(&result.TLSInfo{Subject: "a"}) == CertHash(&result.TLSInfo{Subject: "b"}) {
		t.Error("CertHash")
	}
}
