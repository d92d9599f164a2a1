package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

func TestSalvageItems(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"cut inside the third item", `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"},{"name":"b"},{"name":"c`, []string{`{"name":"a"}`, `{"name":"b"}`}},
		{"cut after a comma", `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"},`, []string{`{"name":"a"}`}},
		{"other members first", `{"id":3,"jsonrpc":"2.0","result":{"_meta":{"x":[1,2]},"nextCursor":"c","tools":[{"name":"a"},{"na`, []string{`{"name":"a"}`}},
		{"complete document", `{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"}]}}`, []string{`{"name":"a"}`}},
		{"cut before the array", `{"jsonrpc":"2.0","id":3,"result":{"tools"`, nil},
		{"field absent", `{"jsonrpc":"2.0","id":3,"result":{"prompts":[{"name":"a"}]}}`, nil},
		{"field is not an array", `{"jsonrpc":"2.0","id":3,"result":{"tools":{"name":"a"}}}`, nil},
		{"an error response", `{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"tools"}}`, nil},
		{"a batch", `[{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"}]}}]`, nil},
		{"nested result key is not the top one", `{"x":{"result":{"tools":[{"name":"evil"}]}},"result":{"tools":[{"name":"a"},`, []string{`{"name":"a"}`}},
		{"not JSON", "\x1f\x8b\x08\x00", nil},
		{"empty", "", nil},
		{"invalid UTF-8 kept decodable", "{\"result\":{\"tools\":[{\"name\":\"a\xffb\"},{", []string{"{\"name\":\"a\uFFFDb\"}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			n := salvageItems([]byte(tt.body), "tools", func(raw json.RawMessage) bool {
				got = append(got, string(raw))
				return true
			})
			if n != len(got) || !slices.Equal(got, tt.want) {
				t.Errorf("salvageItems = %d, %q; want %q", n, got, tt.want)
			}
		})
	}
	// fn can stop the walk.
	n := salvageItems([]byte(`{"result":{"tools":[1,2,3,4]}}`), "tools", func(raw json.RawMessage) bool { return string(raw) != "3" })
	if n != 2 {
		t.Errorf("stopped walk accepted %d items, want 2", n)
	}
}

func FuzzSalvageItems(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":3,"result":{"tools":[{"name":"a"},{"name":"b"},{"name":"c`,
		`{"result":{"tools":[1,2,`,
		`{"result":{"_meta":{},"tools":[{"name":"\u00e9"}]}}`,
		`{"result":[`, `[`, `{`, `"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		calls := 0
		n := salvageItems(b, "tools", func(raw json.RawMessage) bool {
			calls++
			if !json.Valid(raw) {
				t.Fatalf("item %q is not valid JSON", raw)
			}
			return true
		})
		if n != calls || n > len(b) {
			t.Fatalf("salvageItems = %d after %d calls on %d bytes", n, calls, len(b))
		}
	})
}

// pages is a fake server side of a list method: each call returns the next
// canned answer (a result object, an error, or a Go error).
type pages struct {
	answers []any
	calls   []map[string]any
}

func (p *pages) rpc(_ context.Context, method string, params map[string]any) (*mcpwire.Message, error) {
	p.calls = append(p.calls, params)
	if len(p.calls) > len(p.answers) {
		return nil, fmt.Errorf("unexpected call %d to %s", len(p.calls), method)
	}
	switch a := p.answers[len(p.calls)-1].(type) {
	case *mcpwire.Error: // before error, which it implements
		return &mcpwire.Message{JSONRPC: "2.0", ID: json.RawMessage("1"), Error: a}, nil
	case error:
		return nil, a
	case string:
		return &mcpwire.Message{JSONRPC: "2.0", ID: json.RawMessage("1"), Result: json.RawMessage(a)}, nil
	}
	panic("bad answer")
}

func toolPage(cursor string, names ...string) string {
	var items []string
	for _, n := range names {
		items = append(items, `{"name":"`+n+`","inputSchema":{"type":"object"}}`)
	}
	s := `{"tools":[` + strings.Join(items, ",") + `]`
	if cursor != "" {
		s += `,"nextCursor":"` + cursor + `"`
	}
	return s + "}"
}

func TestListToolsPagination(t *testing.T) {
	tooLarge := &partialBody{
		body: []byte(`{"jsonrpc":"2.0","id":9,"result":{"tools":[{"name":"p1"},{"name":"p2"},{"name":"p`),
		err:  fmt.Errorf("probe: read body: %w", mcpwire.ErrTooLarge),
	}
	tests := []struct {
		name      string
		opts      Options
		answers   []any
		wantTools []string
		wantTrunc bool
		wantErrs  []string
		wantCalls int
	}{
		{
			name:      "three pages",
			answers:   []any{toolPage("c1", "a", "b"), toolPage("c2", "c"), toolPage("", "d")},
			wantTools: []string{"a", "b", "c", "d"}, wantCalls: 3,
		},
		{
			name:      "stuck cursor",
			answers:   []any{toolPage("same", "stuck"), toolPage("same", "stuck")},
			wantTools: []string{"stuck"}, wantTrunc: true, wantCalls: 2,
			wantErrs: []string{"tools/list: the cursor did not advance", "tools/list: 1 repeated tool name dropped"},
		},
		{
			name:      "cursor cycle",
			answers:   []any{toolPage("c1", "a"), toolPage("c2", "b"), toolPage("c1", "a")},
			wantTools: []string{"a", "b"}, wantTrunc: true, wantCalls: 3,
			wantErrs: []string{"tools/list: the cursor did not advance", "tools/list: 1 repeated tool name dropped"},
		},
		{
			name:      "page cap",
			opts:      Options{MaxPages: 2},
			answers:   []any{toolPage("c1", "a"), toolPage("c2", "b")},
			wantTools: []string{"a", "b"}, wantTrunc: true, wantCalls: 2,
			wantErrs: []string{"tools/list: stopped after 2 pages"},
		},
		{
			name:      "item cap",
			opts:      Options{MaxItems: 3},
			answers:   []any{toolPage("c1", "a", "b"), toolPage("", "c", "d")},
			wantTools: []string{"a", "b", "c"}, wantTrunc: true, wantCalls: 2,
			wantErrs: []string{"tools/list: stopped at 3 items"},
		},
		{
			name:      "huge cursor",
			answers:   []any{toolPage(strings.Repeat("c", maxCursor+1), "a")},
			wantTools: []string{"a"}, wantTrunc: true, wantCalls: 1,
			wantErrs: []string{"tools/list: the cursor is over 4096 bytes; not followed"},
		},
		{
			name:      "json-rpc error on page two",
			answers:   []any{toolPage("c1", "a"), &mcpwire.Error{Code: -32602, Message: "invalid cursor"}},
			wantTools: []string{"a"}, wantCalls: 2,
			wantErrs: []string{"tools/list: error -32602: invalid cursor"},
		},
		{
			name:      "tools is not an array",
			answers:   []any{`{"tools":{"name":"a"}}`},
			wantCalls: 1, wantErrs: []string{"tools/list: tools is not an array"},
		},
		{
			name:      "result is not an object",
			answers:   []any{`[1]`},
			wantCalls: 1, wantErrs: []string{"tools/list: result is not an object"},
		},
		{
			name:      "transport error",
			answers:   []any{errors.New("HTTP 400 without a JSON-RPC response")},
			wantCalls: 1, wantErrs: []string{"tools/list: HTTP 400 without a JSON-RPC response"},
		},
		{
			name:      "page over the body cap keeps its complete items",
			opts:      Options{MaxBodyBytes: 1000},
			answers:   []any{toolPage("c1", "a"), tooLarge},
			wantTools: []string{"a", "p1", "p2"}, wantTrunc: true, wantCalls: 2,
			wantErrs: []string{"tools/list: response over 1000 bytes; kept the 2 complete items before the cap"},
		},
		{
			name:      "page over the body cap and the item cap",
			opts:      Options{MaxBodyBytes: 1000, MaxItems: 2},
			answers:   []any{toolPage("c1", "a"), tooLarge},
			wantTools: []string{"a", "p1"}, wantTrunc: true, wantCalls: 2,
			wantErrs: []string{"tools/list: stopped at 2 items (the response was also over 1000 bytes)"},
		},
		{
			name:      "items that are not objects are skipped",
			answers:   []any{`{"tools":[1,"x",{"name":"a"},null]}`},
			wantTools: []string{"a"}, wantCalls: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &svcProbe{p: New(tt.opts)}
			ep := &result.Endpoint{MCP: &result.MCPInfo{Capabilities: json.RawMessage(`{"tools":{}}`)}}
			fake := &pages{answers: tt.answers}
			s.list(t.Context(), ep, fake.rpc)
			var names []string
			for _, tool := range ep.Tools {
				names = append(names, tool.Name)
			}
			if !slices.Equal(names, tt.wantTools) {
				t.Errorf("tools %q, want %q", names, tt.wantTools)
			}
			if ep.Listing == nil {
				t.Fatal("no listing")
			}
			if ep.Listing.Truncated != tt.wantTrunc || !slices.Equal(ep.Listing.Errors, tt.wantErrs) || ep.Listing.Pages != tt.wantCalls {
				t.Errorf("listing %+v, want truncated %v, %d pages, errors %q", ep.Listing, tt.wantTrunc, tt.wantCalls, tt.wantErrs)
			}
			if len(fake.calls) != tt.wantCalls {
				t.Errorf("%d calls, want %d", len(fake.calls), tt.wantCalls)
			}
			if len(fake.calls) > 0 && fake.calls[0] != nil {
				t.Errorf("first page sent params %v, want none", fake.calls[0])
			}
			for i := 1; i < len(fake.calls); i++ {
				if fake.calls[i]["cursor"] == nil {
					t.Errorf("call %d carries no cursor: %v", i+1, fake.calls[i])
				}
			}
		})
	}
}

// TestListOnlyAdvertised checks that resources and prompts are listed only
// when the capabilities advertise them, and that duplicates are dropped in
// each list.
func TestListOnlyAdvertised(t *testing.T) {
	s := &svcProbe{p: New(Options{})}
	ep := &result.Endpoint{MCP: &result.MCPInfo{Capabilities: json.RawMessage(`{"tools":{},"prompts":{},"resources":null}`)}}
	fake := &pages{answers: []any{
		toolPage("", "t"),
		`{"prompts":[{"name":"p","arguments":[{"name":"x","required":true},{"name":"y","required":"yes"}]},{"name":"p"}]}`,
	}}
	s.list(t.Context(), ep, fake.rpc)
	if len(fake.calls) != 2 || len(ep.Resources) != 0 || len(ep.Prompts) != 1 {
		t.Fatalf("%d calls, resources %v, prompts %+v", len(fake.calls), ep.Resources, ep.Prompts)
	}
	args := ep.Prompts[0].Arguments
	if len(args) != 2 || !args[0].Required || args[1].Required {
		t.Errorf("arguments %+v: a non-boolean required is false, not a dropped prompt", args)
	}
	if want := []string{"prompts/list: 1 repeated prompt name dropped"}; !slices.Equal(ep.Listing.Errors, want) {
		t.Errorf("errors %q, want %q", ep.Listing.Errors, want)
	}
}
