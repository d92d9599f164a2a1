package mcpwire

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr error
	}{
		{"response", `{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}`, 1, nil},
		{"error response", `{"jsonrpc":"2.0","id":"a","error":{"code":-32601,"message":"nope"}}`, 1, nil},
		{"notification", `{"jsonrpc":"2.0","method":"notifications/message","params":{}}`, 1, nil},
		{"batch", `[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"x"}]`, 2, nil},
		{"whitespace and null result", " \n{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":null}\n", 1, nil},
		{"empty", "", 0, ErrNotJSONRPC},
		{"empty batch", "[]", 0, ErrNotJSONRPC},
		{"wrong version", `{"jsonrpc":"1.0","id":1,"result":{}}`, 0, ErrNotJSONRPC},
		{"no version", `{"id":1,"result":{}}`, 0, ErrNotJSONRPC},
		{"both result and error", `{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}`, 0, ErrNotJSONRPC},
		{"html", `<html>hello</html>`, 0, ErrNotJSONRPC},
		{"truncated", `{"jsonrpc":"2.0","id":1,"result":{"a":"`, 0, ErrNotJSONRPC},
		{"scalar", `42`, 0, ErrNotJSONRPC},
		{"batch with bad member", `[{"jsonrpc":"2.0","id":1,"result":{}},{"id":2}]`, 0, ErrNotJSONRPC},
		{"invalid utf-8 kept decodable", "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"name\":\"a\xffb\"}}", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Decode([]byte(tt.in))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Decode(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if len(ms) != tt.want {
				t.Fatalf("Decode(%q) gave %d messages, want %d", tt.in, len(ms), tt.want)
			}
		})
	}
}

func TestNullResultIsAResponse(t *testing.T) {
	// JSON-RPC 2.0 lets a method's result be null; it is still a response.
	ms, err := Decode([]byte(`{"jsonrpc":"2.0","id":1,"result":null}`))
	if err != nil || !ms[0].IsResponse() {
		t.Fatalf("Decode = %+v, %v; want one response", ms, err)
	}
}

func TestIsResponseAndHasID(t *testing.T) {
	ms, err := Decode([]byte(`[{"jsonrpc":"2.0","id":7,"result":{}},{"jsonrpc":"2.0","id":8,"method":"ping"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if !ms[0].IsResponse() || ms[1].IsResponse() {
		t.Fatalf("IsResponse = %v, %v; want true, false", ms[0].IsResponse(), ms[1].IsResponse())
	}
	if !ms[0].HasID([]byte(" 7 ")) || ms[0].HasID([]byte("8")) {
		t.Fatal("HasID compares the wrong way")
	}
}

func TestReadAll(t *testing.T) {
	b, err := ReadAll(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("ReadAll at the cap = %q, %v", b, err)
	}
	b, err = ReadAll(strings.NewReader("123456"), 5)
	if !errors.Is(err, ErrTooLarge) || len(b) != 5 {
		t.Fatalf("ReadAll over the cap = %q, %v; want 5 bytes and ErrTooLarge", b, err)
	}
	// A reader that never ends is cut at the cap.
	_, err = ReadAll(endless{}, 1<<20)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless reader: %v", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

func TestRequest(t *testing.T) {
	got := string(Request(1, "tools/list", map[string]any{"cursor": "c"}))
	want := `{"id":1,"jsonrpc":"2.0","method":"tools/list","params":{"cursor":"c"}}`
	if got != want {
		t.Fatalf("Request = %s, want %s", got, want)
	}
	if n := string(Request(nil, "notifications/initialized", nil)); strings.Contains(n, `"id"`) {
		t.Fatalf("a notification carries an id: %s", n)
	}
	ms, err := Decode(Request(3, "ping", nil))
	if err != nil || ms[0].Method != "ping" || !bytes.Equal(ms[0].ID, []byte("3")) {
		t.Fatalf("Request does not round-trip: %v %+v", err, ms)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","serverInfo":{"name":"x"}}}`,
		`[{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","method":"x"}]`,
		`{"jsonrpc":"2.0","id":"1","error":{"code":-32022,"message":"unsupported","data":{"supported":["2025-06-18"]}}}`,
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"n\":\"\xff\xfe\"}}",
		`[`, `{`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := Decode(b)
		if err != nil {
			if len(ms) != 0 {
				t.Fatalf("messages returned with an error")
			}
			return
		}
		if len(ms) == 0 {
			t.Fatal("no messages and no error")
		}
		for _, m := range ms {
			if m.JSONRPC != "2.0" {
				t.Fatalf("accepted jsonrpc %q", m.JSONRPC)
			}
			if m.Result != nil && m.Error != nil {
				t.Fatal("accepted both result and error")
			}
		}
	})
}
