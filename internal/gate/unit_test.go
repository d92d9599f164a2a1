package gate

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/auth"
)

func TestInspect(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		calls []Call
		batch bool
		err   error
	}{
		{"tools/call", `{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"echo","arguments":{"x":1}}}`,
			[]Call{{ID: []byte(`"a"`), Method: "tools/call", Kind: KindTool, Name: "echo", Args: []byte(`{"x":1}`)}}, false, nil},
		{"resources/read", `{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///x"}}`,
			[]Call{{ID: []byte(`2`), Method: "resources/read", Kind: KindResource, Name: "file:///x"}}, false, nil},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
			[]Call{{Method: "notifications/initialized"}}, false, nil},
		{"response to the server", `{"jsonrpc":"2.0","id":5,"result":{}}`, []Call{{ID: []byte(`5`)}}, false, nil},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{"name":"p"}}]`,
			[]Call{{ID: []byte(`1`), Method: "ping"}, {ID: []byte(`2`), Method: "prompts/get", Kind: KindPrompt, Name: "p"}}, true, nil},
		{"empty", ``, nil, false, ErrParse},
		{"scalar", `42`, nil, false, ErrInvalidRequest},
		{"params string", `{"jsonrpc":"2.0","id":1,"method":"x","params":"s"}`, nil, false, ErrInvalidRequest},
		{"result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{}}`, nil, false, ErrInvalidRequest},
		{"empty method", `{"jsonrpc":"2.0","id":1,"method":""}`, nil, false, ErrInvalidRequest},
		{"duplicate in a small object", argsBody(3, "k1"), nil, false, ErrInvalidRequest},
		{"duplicate key case-folded", argsBody(3, "K1"), nil, false, ErrInvalidRequest},
		{"duplicate past the small-object slice", argsBody(40, "k39"), nil, false, ErrInvalidRequest},
		{"duplicate of an early key in a large object", argsBody(40, "k0"), nil, false, ErrInvalidRequest},
		{"large object without duplicates", argsBody(40, ""),
			[]Call{{ID: []byte(`1`), Method: "tools/call", Kind: KindTool, Name: "echo", Args: []byte(argsObject(40, ""))}}, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, batch, err := Inspect([]byte(tt.body))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if batch != tt.batch || len(calls) != len(tt.calls) {
				t.Fatalf("batch %v, %d calls; want %v, %d", batch, len(calls), tt.batch, len(tt.calls))
			}
			for i := range calls {
				g, w := calls[i], tt.calls[i]
				if string(g.ID) != string(w.ID) || g.Method != w.Method || g.Kind != w.Kind || g.Name != w.Name || string(g.Args) != string(w.Args) {
					t.Errorf("call %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestCheckHeaders(t *testing.T) {
	one := func(body string) []Call {
		c, _, err := Inspect([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	callEcho := one(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"échö"}}`)
	list := one(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	tests := []struct {
		name  string
		hdr   map[string]string
		calls []Call
		ok    bool
	}{
		{"old revision, no headers", nil, callEcho, true},
		{"2026 matching, base64 name", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "=?base64?w6ljaMO2?="}, callEcho, true},
		{"2026 matching raw name", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "échö"}, callEcho, true},
		{"2026 list", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}, list, true},
		{"2026 list with a name", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list", "Mcp-Name": "x"}, list, false},
		{"2026 bad base64", map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "=?base64?!!?="}, callEcho, false},
		{"later revision too", map[string]string{"Mcp-Protocol-Version": "2027-01-01", "Mcp-Method": "tools/list"}, list, true},
		{"later revision, missing method", map[string]string{"Mcp-Protocol-Version": "2027-01-01"}, list, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.hdr {
				h.Set(k, v)
			}
			err := CheckHeaders(h, tt.calls)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrHeaderMismatch)) {
				t.Errorf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPolicy(t *testing.T) {
	alice := &auth.Principal{Subject: "alice", Method: "apikey", KeyName: "ci"}
	bob := &auth.Principal{Subject: "bob", Method: "oauth", Groups: []string{"ops"}, Scopes: []string{"mcp:admin"}}
	pol, err := ParsePolicy([]byte(`{"rules":[
		{"effect":"deny","kinds":["tool"],"names":["drop_*"]},
		{"effect":"allow","kinds":["tool"],"names":["*"],"groups":["ops"]},
		{"effect":"allow","names":["search"],"keys":["ci"]},
		{"effect":"allow","kinds":["resource"],"names":["file:///pub/*"],"scopes":["mcp:admin"]}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p    *auth.Principal
		kind Kind
		name string
		ok   bool
	}{
		{bob, KindTool, "drop_table", false},
		{bob, KindTool, "anything", true},
		{alice, KindTool, "anything", false},
		{alice, KindTool, "search", true},
		{alice, KindPrompt, "search", true},
		{alice, KindTool, "Search", false},
		{bob, KindResource, "file:///pub/a", true},
		{bob, KindResource, "file:///private", false},
		{nil, KindTool, "search", false},
	}
	for _, tt := range tests {
		if ok, why := pol.Decide(tt.p, tt.kind, tt.name); ok != tt.ok {
			t.Errorf("Decide(%v, %s, %q) = %v (%s), want %v", tt.p, tt.kind, tt.name, ok, why, tt.ok)
		}
	}
	if ok, _ := (&Policy{}).Decide(alice, KindTool, "x"); !ok {
		t.Error("empty policy without default should allow")
	}
	if ok, _ := (&Policy{Default: Deny}).Decide(alice, KindTool, "x"); ok {
		t.Error("default deny allowed")
	}
	_, err = ParsePolicy([]byte(`{"default":"maybe","rules":[{"effect":"permit","kinds":["tools"],"names":["a*b",""]}]}`))
	for _, want := range []string{"default", "rules[0].effect", "rules[0].kinds", `"a*b"`, "empty name"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePolicy error %v does not name %s", err, want)
		}
	}
	if _, err := ParsePolicy([]byte(`{"rules":[],"extra":1}`)); err == nil {
		t.Error("unknown field accepted")
	}
}

func allowOnly(names ...string) func(Kind, string) bool {
	return func(_ Kind, n string) bool {
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
}

func TestFilterLists(t *testing.T) {
	tests := []struct {
		name, in, want string
		changed        bool
	}{
		{"tools", `{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"},{"name":"b"}],"nextCursor":"c"}}`,
			`{"id":1,"jsonrpc":"2.0","result":{"nextCursor":"c","tools":[{"name":"a"}]}}`, true},
		{"escaped key", `{"jsonrpc":"2.0","id":1,"result":{"t\u006fols":[{"name":"b"}]}}`,
			`{"id":1,"jsonrpc":"2.0","result":{"tools":[]}}`, true},
		{"templates and prompts", `[{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"a"},{"uriTemplate":"x"}]}},{"jsonrpc":"2.0","id":2,"result":{"prompts":[{"name":"a"},{"nom":"a"}]}}]`,
			`[{"id":1,"jsonrpc":"2.0","result":{"resourceTemplates":[{"uriTemplate":"a"}]}},{"id":2,"jsonrpc":"2.0","result":{"prompts":[{"name":"a"}]}}]`, true},
		{"no list", `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, `{"jsonrpc":"2.0","id":1,"result":{"content":[]}}`, false},
		{"tools not an array", `{"jsonrpc":"2.0","id":1,"result":{"tools":{"name":"b"}}}`, `{"id":1,"jsonrpc":"2.0","result":{}}`, true},
		{"case variants as a Go client reads them", `{"jsonrpc":"2.0","id":1,"Result":{"Tools":[{"Name":"a"},{"name":"b"},{"name":"a","NAME":"b"}]}}`,
			`{"Result":{"Tools":[{"Name":"a"}]},"id":1,"jsonrpc":"2.0"}`, true},
		{"notification untouched", `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, `{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed, err := FilterLists([]byte(tt.in), allowOnly("a"))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want || changed != tt.changed {
				t.Errorf("got %s (changed %v), want %s (%v)", out, changed, tt.want, tt.changed)
			}
		})
	}
	if _, _, err := FilterLists([]byte(`{"result":{"tools":[`), allowOnly()); err == nil {
		t.Error("truncated list accepted")
	}
}

func TestRewriteSSE(t *testing.T) {
	in := ": keepalive\n\n" +
		"retry: 1000\nid: 7\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\n" +
		"data: \"result\":{\"tools\":[{\"name\":\"a\"},{\"name\":\"secret\"}]}}\n\n" +
		"event: ping\r\ndata: hello\r\n\r\n" +
		"data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[\n\n" + // unreadable list: dropped
		"data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"tools\":[{\"name\":\"secret\"}]}}" // cut mid-event: dropped
	var out bytes.Buffer
	w := &sseWriter{w: &out, flush: func() {}}
	if _, err := rewriteSSE(w, strings.NewReader(in), 1<<20, filterSSE(allowOnly("a"))); err != nil {
		t.Fatal(err)
	}
	want := ": keepalive\n\n" +
		"retry: 1000\nid: 7\nevent: message\ndata: {\"id\":1,\"jsonrpc\":\"2.0\",\"result\":{\"tools\":[{\"name\":\"a\"}]}}\n\n" +
		"event: ping\r\ndata: hello\r\n\r\n"
	if out.String() != want {
		t.Errorf("rewritten stream:\n%q\nwant\n%q", out.String(), want)
	}
	var sink bytes.Buffer
	_, err := rewriteSSE(&sseWriter{w: &sink, flush: func() {}}, strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50, filterSSE(allowOnly()))
	if err == nil {
		t.Error("oversized event accepted")
	}
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://App.Example.com:443": "https://app.example.com",
		"http://[::1]:8080":           "http://[::1]:8080",
		"http://x.test/":              "http://x.test",
		"null":                        "",
		"http://u@x.test":             "",
		"ftp://x.test":                "",
		"http://x.test/path":          "",
	} {
		got, ok := normalizeOrigin(in)
		if got != want || ok != (want != "") {
			t.Errorf("normalizeOrigin(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
}

func TestNewReportsAllProblems(t *testing.T) {
	_, err := New(Options{
		Routes:         []Route{{Upstream: "ftp://x"}, {Upstream: "http://127.0.0.1:1/a", Path: "healthz"}, {Upstream: "http://127.0.0.1:1/a", Metadata: &ResourceMetadata{}}},
		AllowedOrigins: []string{"*"},
		TrustedProxies: []string{"not-a-cidr"},
		PublicNames:    []string{"a/b"},
	})
	for _, want := range []string{"route 0", "route 1: path", "no authorization server", `"*"`, "not-a-cidr", "a/b"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error %v does not mention %s", err, want)
		}
	}
}

func TestSessionsEviction(t *testing.T) {
	s := newSessions(DefaultSessionTTL, 2)
	s.bind("a", "p1")
	s.bind("b", "p1")
	s.bind("c", "p2")
	if s.len() != 2 || !s.check("c", "p2") {
		t.Errorf("bounded table: len %d", s.len())
	}
	s.bind("c", "p1") // an id already bound keeps its owner
	if s.check("c", "p1") || !s.check("c", "p2") {
		t.Error("session re-bound to another principal")
	}
}

func TestFoldKey(t *testing.T) {
	for _, pair := range [][2]string{{"params", "PARAM\u017f"}, {"k", "\u212a"}, {"Name", "nAME"}} {
		if foldKey(pair[0]) != foldKey(pair[1]) || !strings.EqualFold(pair[0], pair[1]) {
			t.Errorf("foldKey(%q) != foldKey(%q)", pair[0], pair[1])
		}
	}
	if foldKey("name") == foldKey("nam") {
		t.Error("different keys folded together")
	}
}

// argsObject is an arguments object with n members k0..k(n-1), and one more
// member named dup at the end when dup is not empty.
func argsObject(n int, dup string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	if dup != "" {
		fmt.Fprintf(&b, `,%q:0`, dup)
	}
	b.WriteByte('}')
	return b.String()
}

// argsBody is a tools/call of echo with argsObject(n, dup).
func argsBody(n int, dup string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":` + argsObject(n, dup) + `}}`
}
