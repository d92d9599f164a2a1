package gate

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzInspect: Inspect never panics, and what it accepts a plain JSON
// parser reads the same way (method and name), and passes CheckHeaders
// with the headers a 2026-07-28 client would send.
func FuzzInspect(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}`,
		`[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}]`,
		`{"jsonrpc":"2.0","id":"a","method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"file:///x"}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}`,
		`{"jsonrpc":"2.0","id":1,"result":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		calls, batch, err := Inspect(body)
		if err != nil {
			return
		}
		var generic []map[string]any
		if batch {
			if json.Unmarshal(body, &generic) != nil {
				t.Fatalf("accepted batch a JSON parser rejects: %q", body)
			}
		} else {
			var one map[string]any
			if json.Unmarshal(body, &one) != nil {
				t.Fatalf("accepted message a JSON parser rejects: %q", body)
			}
			generic = []map[string]any{one}
		}
		if len(generic) != len(calls) {
			t.Fatalf("%d calls, %d messages", len(calls), len(generic))
		}
		for i, c := range calls {
			m, _ := generic[i]["method"].(string)
			if m != c.Method {
				t.Fatalf("method %q, plain parser %q", c.Method, m)
			}
			if c.Kind == KindTool || (c.Kind == KindPrompt && c.Method == "prompts/get") {
				p, _ := generic[i]["params"].(map[string]any)
				if n, _ := p["name"].(string); n != c.Name {
					t.Fatalf("name %q, plain parser %q", c.Name, n)
				}
			}
		}
		if !batch && calls[0].Method != "" {
			h := http.Header{}
			h.Set("Mcp-Protocol-Version", "2026-07-28")
			h.Set("Mcp-Method", calls[0].Method)
			if calls[0].Kind != "" && calls[0].Method != "completion/complete" && !strings.HasPrefix(calls[0].Method, "resources/s") && !strings.HasPrefix(calls[0].Method, "resources/u") {
				h.Set("Mcp-Name", calls[0].Name)
			}
			if strings.ContainsAny(calls[0].Method+calls[0].Name, "\r\n\x00") {
				return
			}
			if err := CheckHeaders(h, calls); err != nil {
				t.Fatalf("matching headers refused: %v", err)
			}
		}
	})
}

// FuzzRewriteSSE: the rewriter never panics and every event it lets
// through is already filtered (filtering it again changes nothing).
func FuzzRewriteSSE(f *testing.F) {
	for _, s := range []string{
		"data: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}\n\n",
		": c\n\nevent: x\r\ndata: {\"result\":{\"prompts\":[{\"name\":\"b\"}]}}\r\n\r\n",
		"data: [{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resources\":[{\"uri\":\"a\"},{\"uri\":\"b\"}]}}]\n\ndata: x\n",
		"data: {\"result\":{\"t\\u006fols\":[{\"name\":\"b\"}]}}\rdata:\r\r",
	} {
		f.Add([]byte(s))
	}
	allow := allowOnly("a")
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		_, _ = rewriteSSE(&sseWriter{w: &out, flush: func() {}}, bytes.NewReader(in), 1<<16, filterSSE(allow))
		fr := newSSEFramer(bytes.NewReader(out.Bytes()), 1<<20)
		for {
			block, err := fr.next()
			if ev := parseEvent(block); ev.hasData {
				again, _, ferr := FilterLists(ev.data, allow)
				if ferr != nil || !bytes.Equal(again, ev.data) {
					t.Fatalf("unfiltered event passed: %q (err %v)", ev.data, ferr)
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}
