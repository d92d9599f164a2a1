package gate

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends one raw request to the gate and returns status, headers and body.
func send(t *testing.T, method, url string, hdr map[string]string, host string, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func call(id int, tool string) string {
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": "tools/call",
		"params": map[string]any{"name": tool, "arguments": map[string]any{"text": "x"}}})
	return string(b)
}

// rpcCodes returns the JSON-RPC error codes in a response body (object or batch).
func rpcCodes(b []byte) []int {
	var many []struct {
		Error *struct{ Code int } `json:"error"`
	}
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		_ = json.Unmarshal(b, &many)
	} else {
		var one struct {
			Error *struct{ Code int } `json:"error"`
		}
		if json.Unmarshal(b, &one) == nil {
			many = append(many, one)
		}
	}
	var codes []int
	for _, m := range many {
		if m.Error != nil {
			codes = append(codes, m.Error.Code)
		}
	}
	return codes
}

// TestAttackCorpus sends hostile requests through the gate to a stateless
// upstream and asserts the exact status, the JSON-RPC error code where
// there is one, and that the upstream saw nothing.
func TestAttackCorpus(t *testing.T) {
	u := startUpstream(t, upStateless)
	tg := startGate(t, u, nil)
	alice := map[string]string{"Authorization": "Bearer alice-token"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{"Authorization": "Bearer alice-token"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	modern := func(method, name string) map[string]string {
		m := with(map[string]string{"Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": method})
		if name != "" {
			m["Mcp-Name"] = name
		}
		return m
	}
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"` + strings.Repeat("a", DefaultMaxBody) + `"}}}`
	tests := []struct {
		name   string
		method string
		query  string
		hdr    map[string]string
		host   string
		body   string
		status int
		code   int // expected JSON-RPC error code (0: none checked)
	}{
		{"no credentials", "POST", "", nil, "", call(1, "echo"), 401, 0},
		{"wrong bearer token", "POST", "", map[string]string{"Authorization": "Bearer nope"}, "", call(1, "echo"), 401, 0},
		{"empty bearer", "POST", "", map[string]string{"Authorization": "Bearer "}, "", call(1, "echo"), 401, 0},
		{"basic scheme", "POST", "", map[string]string{"Authorization": "Basic YWxpY2U6eA=="}, "", call(1, "echo"), 401, 0},
		{"wrong api key", "POST", "", map[string]string{"X-API-Key": "nope"}, "", call(1, "echo"), 401, 0},
		{"token in query string only", "POST", "?access_token=alice-token", nil, "", call(1, "echo"), 400, 0},
		{"token in query with a header", "POST", "?access_token=alice-token", alice, "", call(1, "echo"), 400, 0},
		{"foreign origin", "POST", "", with(map[string]string{"Origin": "http://evil.example"}), "", call(1, "echo"), 403, 0},
		{"null origin", "POST", "", with(map[string]string{"Origin": "null"}), "", call(1, "echo"), 403, 0},
		{"wildcard origin", "POST", "", with(map[string]string{"Origin": "*"}), "", call(1, "echo"), 403, 0},
		{"foreign origin unauthenticated", "POST", "", map[string]string{"Origin": "http://evil.example"}, "", call(1, "echo"), 403, 0},
		{"foreign host (dns rebinding)", "POST", "", alice, "evil.example", call(1, "echo"), 403, 0},
		{"foreign host with loopback port", "POST", "", alice, "rebind.invalid:80", call(1, "echo"), 403, 0},
		{"x-forwarded-host from an untrusted peer", "POST", "", with(map[string]string{"X-Forwarded-Host": "localhost"}), "evil.example", call(1, "echo"), 403, 0},
		{"2026 Mcp-Name smuggles a denied call", "POST", "", modern("tools/call", "echo"), "", call(1, "run_shell_command"), 400, CodeHeaderMismatch},
		{"2026 Mcp-Method mismatch", "POST", "", modern("tools/list", ""), "", call(1, "echo"), 400, CodeHeaderMismatch},
		{"2026 missing Mcp-Name", "POST", "", modern("tools/call", ""), "", call(1, "echo"), 400, CodeHeaderMismatch},
		{"2026 missing Mcp-Method", "POST", "", with(map[string]string{"Mcp-Protocol-Version": "2026-07-28"}), "", call(1, "echo"), 400, CodeHeaderMismatch},
		{"Mcp-Name on an old revision must match too", "POST", "", with(map[string]string{"Mcp-Method": "tools/call", "Mcp-Name": "echo"}), "", call(1, "run_shell_command"), 400, CodeHeaderMismatch},
		{"denied tool", "POST", "", alice, "", call(1, "run_shell_command"), 200, CodeForbidden},
		{"denied tool: case variant of an allowed one", "POST", "", alice, "", call(1, "Echo"), 200, CodeForbidden},
		{"denied tool: upper case", "POST", "", alice, "", call(1, "ECHO"), 200, CodeForbidden},
		{"denied tool: leading space", "POST", "", alice, "", call(1, " echo"), 200, CodeForbidden},
		{"denied tool: trailing space", "POST", "", alice, "", call(1, "echo "), 200, CodeForbidden},
		{"denied tool: cyrillic e lookalike", "POST", "", alice, "", call(1, "\u0435cho"), 200, CodeForbidden},
		{"denied tool: trailing NUL", "POST", "", alice, "", call(1, "echo\x00"), 200, CodeForbidden},
		{"denied tool: escaped name", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_shell_comm\u0061nd"}}`, 200, CodeForbidden},
		{"denied tool: group-only tool", "POST", "", alice, "", call(1, "read_file"), 200, CodeForbidden},
		{"denied resource", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///secret.txt"}}`, 200, CodeForbidden},
		{"denied resource subscribe", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"file:///secret.txt"}}`, 200, CodeForbidden},
		{"denied prompt", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"admin_prompt"}}`, 200, CodeForbidden},
		{"denied prompt completion", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"admin_prompt"},"argument":{"name":"a","value":"b"}}}`, 200, CodeForbidden},
		{"batch smuggling a denied call", "POST", "", alice, "", "[" + call(1, "echo") + "," + call(2, "run_shell_command") + "]", 200, CodeForbidden},
		{"batch smuggling a denied notification", "POST", "", alice, "", `[` + call(1, "echo") + `,{"jsonrpc":"2.0","method":"tools/call","params":{"name":"run_shell_command"}}]`, 200, CodeForbidden},
		{"denied notification alone", "POST", "", alice, "", `{"jsonrpc":"2.0","method":"tools/call","params":{"name":"run_shell_command"}}`, 403, CodeForbidden},
		{"duplicate key smuggling", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"run_shell_command"}}`, 400, CodeInvalidRequest},
		{"case-folded key smuggling", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"run_shell_command"}}`, 400, CodeInvalidRequest},
		{"long-s params smuggling", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"paramſ":{"name":"run_shell_command"}}`, 400, CodeInvalidRequest},
		{"kelvin-sign key smuggling", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"k":1,"K":2}}}`, 400, CodeInvalidRequest},
		{"method key case smuggling", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/list","Method":"tools/call","params":{"name":"run_shell_command"}}`, 400, CodeInvalidRequest},
		{"tools/call without a name", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}`, 400, CodeInvalidRequest},
		{"tool name not a string", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["echo"]}}`, 400, CodeInvalidRequest},
		{"object id", "POST", "", alice, "", `{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}`, 400, CodeInvalidRequest},
		{"malformed JSON", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":`, 400, CodeParseError},
		{"trailing garbage", "POST", "", alice, "", call(1, "echo") + ` {"x":1}`, 400, CodeParseError},
		{"invalid UTF-8", "POST", "", alice, "", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"ec\xffho\"}}", 400, CodeParseError},
		{"not JSON-RPC 2.0", "POST", "", alice, "", `{"jsonrpc":"1.0","id":1,"method":"tools/list"}`, 400, CodeInvalidRequest},
		{"empty batch", "POST", "", alice, "", `[]`, 400, CodeInvalidRequest},
		{"deeply nested", "POST", "", alice, "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}}`, 400, CodeInvalidRequest},
		{"oversized body", "POST", "", alice, "", big, 413, CodeInvalidRequest},
		{"unknown session id", "POST", "", with(map[string]string{"Mcp-Session-Id": "made-up"}), "", call(1, "echo"), 404, CodeSessionNotFound},
		{"PUT", "PUT", "", alice, "", call(1, "echo"), 405, 0},
		{"preflight from a foreign origin", "OPTIONS", "", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, "", "", 403, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := u.requests.Load()
			status, hdr, body := send(t, tt.method, tg.url+tt.query, tt.hdr, tt.host, tt.body)
			if status != tt.status {
				t.Errorf("status = %d, want %d; body %.300s", status, tt.status, body)
			}
			if tt.code != 0 {
				codes := rpcCodes(body)
				if len(codes) == 0 || !contains(codes, tt.code) {
					t.Errorf("JSON-RPC codes = %v, want %d; body %.300s", codes, tt.code, body)
				}
			}
			if status == 401 {
				want := `resource_metadata="` + tg.srv.URL + `/.well-known/oauth-protected-resource/mcp"`
				if wa := hdr.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, want) || !strings.Contains(wa, `scope="mcp"`) {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge with %s", wa, want)
				}
			}
			if hdr.Get("Access-Control-Allow-Origin") == "*" {
				t.Error("wildcard CORS")
			}
			if n := u.requests.Load() - before; n != 0 {
				t.Errorf("the upstream saw %d requests", n)
			}
		})
	}
	// The same gate forwards a good request (the corpus is not passing
	// because nothing gets through).
	before := u.requests.Load()
	status, _, body := send(t, "POST", tg.url, alice, "", call(7, "echo"))
	if status != 200 || len(rpcCodes(body)) != 0 || !strings.Contains(string(body), "echo:x") {
		t.Fatalf("allowed call: status %d body %s", status, body)
	}
	if u.requests.Load() == before || u.toolCalls("echo") != 1 {
		t.Fatal("the allowed call did not reach the upstream")
	}
	for _, name := range []string{"Echo", "run_shell_command", "read_file"} {
		if n := u.toolCalls(name); n != 0 {
			t.Errorf("upstream ran %s %d times", name, n)
		}
	}
	if n := u.leaks.Load(); n != 0 {
		t.Errorf("%d upstream requests carried client credentials", n)
	}
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
