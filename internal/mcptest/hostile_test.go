package mcptest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// hostileNextIP hands each server its own 127.0.0.x address (x in 10..250).
var hostileNextIP atomic.Int32

func hostileAddr() string {
	return fmt.Sprintf("127.0.0.%d:0", 10+hostileNextIP.Add(1)%240)
}

// hostileStart starts kind on a fresh loopback address and closes it at the
// end of the test, failing the test if Close fails.
func hostileStart(t *testing.T, kind Hostile) *HostileServer {
	t.Helper()
	h, err := StartHostile(kind, hostileAddr())
	if err != nil {
		t.Fatalf("StartHostile(%s): %v", kind, err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// hostileClient returns a client that never follows redirects, never
// decompresses and gives up after timeout.
func hostileClient(t *testing.T, timeout time.Duration) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// hostilePost sends one JSON-RPC message as a Streamable HTTP client does.
func hostilePost(t *testing.T, c *http.Client, u, session, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("MCP-Protocol-Version", HostileProtocolVersion)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

const hostileInitBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// hostileInit runs initialize and notifications/initialized and returns the
// session id and the raw initialize reply.
func hostileInit(t *testing.T, c *http.Client, u string) (string, []byte) {
	t.Helper()
	resp := hostilePost(t, c, u, "", hostileInitBody)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read initialize reply: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("initialize: %s %q: %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	var reply struct {
		JSONRPC string `json:"jsonrpc"`
		ID      int    `json:"id"`
		Result  struct {
			ProtocolVersion string                     `json:"protocolVersion"`
			Capabilities    map[string]json.RawMessage `json:"capabilities"`
			ServerInfo      struct{ Name, Version string }
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		t.Fatalf("initialize reply %s: %v", body, err)
	}
	if reply.JSONRPC != "2.0" || reply.ID != 1 || reply.Result.ProtocolVersion != HostileProtocolVersion ||
		reply.Result.ServerInfo.Name == "" || reply.Result.Capabilities["tools"] == nil {
		t.Fatalf("initialize reply does not look like MCP: %s", body)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	if sid == "" {
		t.Fatal("initialize reply has no Mcp-Session-Id")
	}
	n := hostilePost(t, c, u, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if n.StatusCode != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %s, want 202", n.Status)
	}
	return sid, body
}

type hostileToolsPage struct {
	Result struct {
		Tools []struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		} `json:"tools"`
		NextCursor string `json:"nextCursor"`
	} `json:"result"`
	Error *struct {
		Code int `json:"code"`
	} `json:"error"`
}

func hostileListTools(t *testing.T, c *http.Client, u, sid, cursor string) (hostileToolsPage, []byte) {
	t.Helper()
	params := "{}"
	if cursor != "" {
		params = `{"cursor":"` + cursor + `"}`
	}
	resp := hostilePost(t, c, u, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list","params":`+params+`}`)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read tools/list reply: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("tools/list: %s: %.200s", resp.Status, body)
	}
	var page hostileToolsPage
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("tools/list reply %.200s: %v", body, err)
	}
	return page, body
}

// hostileGet starts a GET and returns the response with headers read.
func hostileGet(t *testing.T, ctx context.Context, c *http.Client, u string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream, application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// hostileReadEvent reads one SSE event (lines up to a blank line).
func hostileReadEvent(t *testing.T, r *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read SSE event: %v (so far %q)", err, lines)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

func TestHostileLoopbackAddr(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "127.0.0.5:0", want: "127.0.0.5:0"},
		{in: "127.255.1.2:8080", want: "127.255.1.2:8080"},
		{in: "[::1]:0", want: "[::1]:0"},
		{in: "localhost:0", want: "127.0.0.1:0"},
		{in: "0.0.0.0:0", wantErr: "not a loopback"},
		{in: "[::]:0", wantErr: "not a loopback"},
		{in: "10.1.2.3:80", wantErr: "not a loopback"},
		{in: ":0", wantErr: "loopback IP literal"},
		{in: "example.com:80", wantErr: "loopback IP literal"},
		{in: "127.0.0.1", wantErr: "missing port"},
		{in: "127.0.0.1:http", wantErr: "bad port"},
		{in: "127.0.0.1:70000", wantErr: "bad port"},
		{in: "[::1%lo]:0", wantErr: "loopback IP literal"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := hostileLoopbackAddr(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.in) {
					t.Fatalf("hostileLoopbackAddr(%q) = %q, %v; want error containing %q and the input", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("hostileLoopbackAddr(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestStartHostileRefuses(t *testing.T) {
	// 192.0.2.1 is TEST-NET-1: refused before anything listens or connects.
	if h, err := StartHostile(Tarpit, "192.0.2.1:0"); err == nil {
		h.Close()
		t.Fatal("StartHostile on a non-loopback address succeeded")
	}
	if h, err := StartHostile("nonsense", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), `"nonsense"`) {
		if h != nil {
			h.Close()
		}
		t.Fatalf("StartHostile(unknown kind) = %v, want an error naming it", err)
	}
}

func TestHostileGzipBombBuilder(t *testing.T) {
	const chunk, n = 64 << 10, 7
	bomb, err := hostileGzipBomb('x', chunk, n)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(bomb))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr) // verifies the CRC-32 and size trailer
	if err != nil {
		t.Fatalf("inflate: %v", err)
	}
	if want := bytes.Repeat([]byte{'x'}, chunk*n); !bytes.Equal(got, want) {
		t.Fatalf("inflated %d bytes, want %d bytes of 'x'", len(got), len(want))
	}
	if _, err := hostileGzipBomb(' ', 0, 1); err == nil {
		t.Fatal("chunk 0 accepted")
	}
}

// TestHostileKinds checks that each kind misbehaves as documented.
func TestHostileKinds(t *testing.T) {
	t.Parallel()
	checks := map[Hostile]func(t *testing.T, h *HostileServer){
		Tarpit: func(t *testing.T, h *HostileServer) {
			c, err := net.DialTimeout("tcp", h.Addr, time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatalf("write: %v", err)
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Read(make([]byte, 1))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("read = %d, %v; want a timeout", n, err)
			}
		},
		SlowDrip: func(t *testing.T, h *HostileServer) {
			resp := hostileGet(t, t.Context(), hostileClient(t, 0), h.URL+"/mcp")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %s %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			b := make([]byte, 1)
			if _, err := io.ReadFull(resp.Body, b); err != nil || b[0] != '{' {
				t.Fatalf("first byte %q, %v", b, err)
			}
			start := time.Now()
			if _, err := io.ReadFull(resp.Body, b); err != nil || b[0] != '"' {
				t.Fatalf("second byte %q, %v", b, err)
			}
			if d := time.Since(start); d < HostileDripInterval/2 {
				t.Fatalf("second byte after %v, want about %v", d, HostileDripInterval)
			}
		},
		HeaderDrip: func(t *testing.T, h *HostileServer) {
			c, err := net.DialTimeout("tcp", h.Addr, time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			b := make([]byte, 1)
			if _, err := io.ReadFull(c, b); err != nil || b[0] != 'H' {
				t.Fatalf("first byte %q, %v", b, err)
			}
			start := time.Now()
			if _, err := io.ReadFull(c, b); err != nil || b[0] != 'T' {
				t.Fatalf("second byte %q, %v", b, err)
			}
			if d := time.Since(start); d < HostileDripInterval/2 {
				t.Fatalf("second byte after %v, want about %v", d, HostileDripInterval)
			}
			// A real client never gets past the headers.
			if resp, err := hostileClient(t, 1200*time.Millisecond).Get(h.URL); err == nil {
				resp.Body.Close()
				t.Fatalf("GET finished with %s", resp.Status)
			}
		},
		EndlessSSE: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 0)
			check := func(resp *http.Response) {
				t.Helper()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
					t.Fatalf("got %s %q", resp.Status, resp.Header.Get("Content-Type"))
				}
				r := bufio.NewReader(resp.Body)
				for range 4 {
					for _, line := range hostileReadEvent(t, r) {
						if line == "event: endpoint" || strings.Contains(line, `"id"`) {
							t.Fatalf("stream carries %q", line)
						}
					}
				}
			}
			check(hostileGet(t, t.Context(), c, h.URL+"/sse"))
			check(hostilePost(t, c, h.URL+"/mcp", "", hostileInitBody))
		},
		HugeBody: func(t *testing.T, h *HostileServer) {
			resp := hostileGet(t, t.Context(), hostileClient(t, 0), h.URL+"/mcp")
			if resp.StatusCode != http.StatusOK || resp.ContentLength != HostileHugeBodySize {
				t.Fatalf("got %s, Content-Length %d", resp.Status, resp.ContentLength)
			}
			got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil || len(got) != 1<<20 || bytes.Count(got, []byte{'['}) != len(got) {
				t.Fatalf("read %d bytes (%q...), %v; want 1 MiB of '['", len(got), got[:min(len(got), 16)], err)
			}
		},
		GzipBomb: func(t *testing.T, h *HostileServer) {
			resp := hostileGet(t, t.Context(), hostileClient(t, 5*time.Second), h.URL+"/mcp")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("got %s, Content-Encoding %q", resp.Status, resp.Header.Get("Content-Encoding"))
			}
			compressed, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
			if err != nil || len(compressed) >= 4<<20 || int64(len(compressed)) != resp.ContentLength {
				t.Fatalf("compressed body: %d bytes (Content-Length %d), %v; want under 4 MiB", len(compressed), resp.ContentLength, err)
			}
			if size := binary.LittleEndian.Uint32(compressed[len(compressed)-4:]); size != uint32(HostileGzipBombSize) {
				t.Fatalf("gzip trailer size %d, want %d", size, uint32(HostileGzipBombSize))
			}
			zr, err := gzip.NewReader(bytes.NewReader(compressed))
			if err != nil {
				t.Fatal(err)
			}
			const want = 10 << 20
			buf := make([]byte, want)
			if _, err := io.ReadFull(zr, buf); err != nil {
				t.Fatalf("inflate first 10 MB: %v", err)
			}
			if bytes.Count(buf, []byte{' '}) != want {
				t.Fatal("inflated bytes are not all spaces")
			}
		},
		InvalidJSON: func(t *testing.T, h *HostileServer) {
			resp := hostilePost(t, hostileClient(t, 2*time.Second), h.URL+"/mcp", "", hostileInitBody)
			body, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %s %q, %v", resp.Status, resp.Header.Get("Content-Type"), err)
			}
			if json.Valid(body) || !bytes.HasPrefix(body, []byte(`{"jsonrpc":"2.0","id":1,"result":{`)) {
				t.Fatalf("body %s: want a truncated JSON-RPC reply", body)
			}
			var v any
			if err := json.Unmarshal(body, &v); err == nil {
				t.Fatal("truncated body decoded")
			}
		},
		InvalidUTF8: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 2*time.Second)
			u := h.URL + "/mcp"
			sid, body := hostileInit(t, c, u)
			if !json.Valid(body) || utf8.Valid(body) {
				t.Fatalf("initialize reply: want valid JSON with invalid UTF-8: %q", body)
			}
			var reply struct {
				Result struct{ ServerInfo struct{ Name string } } `json:"result"`
			}
			json.Unmarshal(body, &reply)
			if name := reply.Result.ServerInfo.Name; !strings.Contains(name, "\x1b[") || !strings.Contains(name, "\u009b") || !strings.Contains(name, "\u202e") {
				t.Fatalf("serverInfo.name %q lacks escapes", name)
			}
			page, raw := hostileListTools(t, c, u, sid, "")
			if utf8.Valid(raw) || len(page.Result.Tools) != 2 {
				t.Fatalf("tools/list: want 2 tools and invalid UTF-8: %q", raw)
			}
			desc := page.Result.Tools[0].Description
			if !strings.Contains(desc, "\x1b]8;;") || !strings.Contains(desc, "\x00") || !strings.ContainsRune(desc, utf8.RuneError) {
				t.Fatalf("tool description %q lacks OSC, NUL or invalid bytes", desc)
			}
		},
		RedirectLoop: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 2*time.Second)
			loc := "/mcp"
			for i := 1; i <= 3; i++ {
				resp, err := c.Get(h.URL + loc)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				loc = resp.Header.Get("Location")
				if resp.StatusCode != http.StatusTemporaryRedirect || loc != fmt.Sprintf("/redirect/%d", i) {
					t.Fatalf("hop %d: %s to %q", i, resp.Status, loc)
				}
			}
			// A client that follows redirects gives up; the server never does.
			following := &http.Client{Transport: c.Transport, Timeout: 2 * time.Second}
			_, err := following.Get(h.URL + "/mcp")
			if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
				t.Fatalf("following client: %v", err)
			}
			if got := h.Requests(); got != 3+10 {
				t.Fatalf("Requests() = %d, want 13", got)
			}
		},
		RedirectOffsite: func(t *testing.T, h *HostileServer) {
			resp, err := hostileClient(t, 2*time.Second).Post(h.URL+"/mcp", "application/json", strings.NewReader(hostileInitBody))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != HostileOffsiteOrigin+"/mcp" {
				t.Fatalf("got %s to %q", resp.Status, resp.Header.Get("Location"))
			}
		},
		StuckCursor: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 2*time.Second)
			u := h.URL + "/mcp"
			sid, _ := hostileInit(t, c, u)
			first, _ := hostileListTools(t, c, u, sid, "")
			second, _ := hostileListTools(t, c, u, sid, first.Result.NextCursor)
			if first.Result.NextCursor != HostileStuckCursor || second.Result.NextCursor != HostileStuckCursor ||
				len(second.Result.Tools) != 1 || second.Result.Tools[0].Name != first.Result.Tools[0].Name {
				t.Fatalf("pages %+v and %+v: want the same page and cursor twice", first.Result, second.Result)
			}
		},
		ManyTools: func(t *testing.T, h *HostileServer) {
			// The reply is about 12 MB: compare it as it streams in with
			// the expected bytes, without holding the body or decoding
			// 100,000 objects (too slow under -race). A context bounds
			// the whole read, not a client timeout that -race and
			// parallel tests make tight.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			u := h.URL + "/mcp"
			sid, _ := hostileInit(t, hostileClient(t, 5*time.Second), u)
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(`{"jsonrpc":"2.0","id":"list-1","method":"tools/list"}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			req.Header.Set("Mcp-Session-Id", sid)
			req.Header.Set("MCP-Protocol-Version", HostileProtocolVersion)
			resp, err := hostileClient(t, 0).Do(req)
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("tools/list: %s %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			// The expected reply, generated piece by piece as the body is
			// read: the JSON-RPC framing written out here, every tool
			// exactly as the server documents it, in order.
			const head, sep, tail = `{"jsonrpc":"2.0","id":"list-1","result":{"tools":[`, ",", `]}}`
			small := head + string(hostileAppendManyTool(nil, 0)) + sep + string(hostileAppendManyTool(nil, 1)) + tail
			if !json.Valid([]byte(small)) {
				t.Fatalf("the expected framing is not JSON: %s", small)
			}
			want := []byte(head)
			next, done := 0, false
			var read int64
			buf := make([]byte, 64<<10)
			for {
				n, err := resp.Body.Read(buf)
				for got := buf[:n]; len(got) > 0; {
					if len(want) == 0 {
						switch {
						case next < HostileManyToolsCount:
							if next > 0 {
								want = append(want, sep...)
							}
							want = hostileAppendManyTool(want, next)
							next++
						case !done:
							want, done = append(want, tail...), true
						default:
							t.Fatalf("%d bytes after the end of the reply: %.80q", len(got), got)
						}
					}
					k := min(len(got), len(want))
					if !bytes.Equal(got[:k], want[:k]) {
						t.Fatalf("at byte %d (tool %d): got %.80q, want %.80q", read, next-1, got[:k], want[:k])
					}
					got, want, read = got[k:], want[k:], read+int64(k)
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", read, err)
				}
			}
			if next != HostileManyToolsCount || !done || len(want) != 0 {
				t.Fatalf("reply ended after %d bytes, %d of %d tools", read, next, HostileManyToolsCount)
			}
		},
		ManyToolsPaged: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 5*time.Second)
			u := h.URL + "/mcp"
			sid, _ := hostileInit(t, c, u)
			// Walk the first pages by their cursors, then check the last two.
			seen := make(map[string]bool)
			cursor := ""
			for pageNo := range 5 {
				page, _ := hostileListTools(t, c, u, sid, cursor)
				if len(page.Result.Tools) != HostileToolsPageSize || page.Result.NextCursor == "" || page.Result.NextCursor == cursor {
					t.Fatalf("page %d: %d tools, cursor %q after %q", pageNo, len(page.Result.Tools), page.Result.NextCursor, cursor)
				}
				for _, tool := range page.Result.Tools {
					seen[tool.Name] = true
				}
				cursor = page.Result.NextCursor
			}
			if len(seen) != 5*HostileToolsPageSize {
				t.Fatalf("%d distinct tools on 5 pages", len(seen))
			}
			pages := HostileManyToolsCount / HostileToolsPageSize
			if pages != 1000 {
				t.Fatalf("%d pages, want 1000", pages)
			}
			before, _ := hostileListTools(t, c, u, sid, fmt.Sprintf("page-%d", pages-2))
			last, _ := hostileListTools(t, c, u, sid, before.Result.NextCursor)
			if len(last.Result.Tools) != HostileToolsPageSize || last.Result.NextCursor != "" ||
				last.Result.Tools[HostileToolsPageSize-1].Name != "tool_099999" {
				t.Fatalf("last page (cursor %q): %d tools, cursor %q", before.Result.NextCursor, len(last.Result.Tools), last.Result.NextCursor)
			}
			if page, raw := hostileListTools(t, c, u, sid, fmt.Sprintf("page-%d", pages)); page.Error == nil || page.Error.Code != -32602 {
				t.Fatalf("bad cursor: %s", raw)
			}
		},
		LyingSSE: func(t *testing.T, h *HostileServer) {
			c := hostileClient(t, 0)
			resp := hostileGet(t, t.Context(), c, h.URL+"/sse")
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("got %s %q", resp.Status, resp.Header.Get("Content-Type"))
			}
			ev := hostileReadEvent(t, bufio.NewReader(resp.Body))
			if len(ev) != 2 || ev[0] != "event: endpoint" {
				t.Fatalf("first event %q, want an endpoint event", ev)
			}
			ep, err := url.Parse(strings.TrimPrefix(ev[1], "data: "))
			if err != nil || ep.Scheme+"://"+ep.Host != HostileOffsiteOrigin || ep.Path != "/message" || ep.Query().Get("sessionId") == "" {
				t.Fatalf("endpoint %q, %v", ev[1], err)
			}
			if ep.Host == h.Addr {
				t.Fatal("endpoint is same-origin")
			}
			post := hostilePost(t, c, h.URL+"/sse", "", hostileInitBody)
			if post.StatusCode != http.StatusMethodNotAllowed {
				t.Fatalf("POST: %s, want 405", post.Status)
			}
		},
	}
	for _, kind := range HostileKinds() {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			check, ok := checks[kind]
			if !ok {
				t.Fatalf("no check for %s", kind)
			}
			h := hostileStart(t, kind)
			if h.Kind != kind || h.URL != "http://"+h.Addr || !strings.HasPrefix(h.Addr, "127.0.0.") {
				t.Fatalf("server %+v", h)
			}
			check(t, h)
		})
	}
}

func TestHostileMCPWireErrors(t *testing.T) {
	t.Parallel()
	h := hostileStart(t, StuckCursor)
	c := hostileClient(t, 2*time.Second)
	u := h.URL + "/mcp"
	sid, _ := hostileInit(t, c, u)
	post := func(accept, session, body string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	both := "application/json, text/event-stream"
	list := `{"jsonrpc":"2.0","id":3,"method":"tools/list"}`
	tests := []struct {
		name                  string
		accept, session, body string
		want                  int
	}{
		{"json only accept", "application/json", sid, list, http.StatusNotAcceptable},
		{"no session", both, "", list, http.StatusBadRequest},
		{"unknown session", both, "nope", list, http.StatusNotFound},
		{"batch", both, sid, "[" + list + "]", http.StatusBadRequest},
		{"not json", both, sid, "{", http.StatusBadRequest},
		{"null id", both, sid, `{"jsonrpc":"2.0","id":null,"method":"tools/list"}`, http.StatusBadRequest},
		{"response from client", both, sid, `{"jsonrpc":"2.0","id":9,"result":{}}`, http.StatusAccepted},
		{"ping", both, sid, `{"jsonrpc":"2.0","id":4,"method":"ping"}`, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := post(tt.accept, tt.session, tt.body).StatusCode; got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %s, want 405", resp.Status)
	}
}

// hostileOpenStream opens whatever "mid-stream" means for kind and returns a
// reader that is blocked or still streaming.
func hostileOpenStream(t *testing.T, h *HostileServer) io.Reader {
	t.Helper()
	switch h.Kind {
	case Tarpit, HeaderDrip:
		c, err := net.DialTimeout("tcp", h.Addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if h.Kind == HeaderDrip {
			io.ReadFull(c, make([]byte, 1))
		} else {
			// Wait until the tarpit has accepted the connection.
			for deadline := time.Now().Add(2 * time.Second); h.Requests() == 0 && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
		}
		return c
	}
	c := hostileClient(t, 0)
	var resp *http.Response
	switch h.Kind {
	case ManyTools:
		sid, _ := hostileInit(t, c, h.URL+"/mcp")
		resp = hostilePost(t, c, h.URL+"/mcp", sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		resp = hostileGet(t, ctx, c, h.URL+"/sse")
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 1)); err != nil {
		t.Fatalf("first byte: %v", err)
	}
	return resp.Body
}

var hostileStreaming = []Hostile{Tarpit, SlowDrip, HeaderDrip, EndlessSSE, HugeBody, GzipBomb, ManyTools, LyingSSE}

// TestHostileCloseMidStream checks that Close returns promptly while a
// client is stuck mid-stream, and that the client then sees the end.
func TestHostileCloseMidStream(t *testing.T) {
	t.Parallel()
	for _, kind := range hostileStreaming {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			h, err := StartHostile(kind, hostileAddr())
			if err != nil {
				t.Fatal(err)
			}
			r := hostileOpenStream(t, h)
			start := time.Now()
			if err := h.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("Close took %v", d)
			}
			if n := h.inflight.Load(); n != 0 {
				t.Fatalf("%d handlers still running after Close", n)
			}
			// The client's stream ends (EOF or an error, not a deadline).
			done := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, r)
				done <- err
			}()
			select {
			case err := <-done:
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("client stream hit its deadline instead of ending: %v", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("client stream still open 2s after Close")
			}
			if err := h.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
		})
	}
}

// TestHostileClientGone checks that endless handlers stop when the client
// disconnects, without Close.
func TestHostileClientGone(t *testing.T) {
	t.Parallel()
	for _, kind := range hostileStreaming {
		if kind == Tarpit {
			continue // holds the connection by design, without a goroutine
		}
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			h := hostileStart(t, kind)
			r := hostileOpenStream(t, h)
			if h.inflight.Load() == 0 && kind != GzipBomb { // GzipBomb may have finished writing already
				t.Fatal("no handler running mid-stream")
			}
			r.(io.Closer).Close()
			deadline := time.Now().Add(3 * time.Second)
			for h.inflight.Load() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d handlers still running 3s after the client left", h.inflight.Load())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestHostileNoGoroutineLeak runs alone (not parallel): every server, each
// with a client mid-stream, leaves no goroutine behind after Close.
func TestHostileNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	var servers []*HostileServer
	for _, kind := range HostileKinds() {
		h, err := StartHostile(kind, hostileAddr())
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, h)
	}
	t.Run("streams", func(t *testing.T) {
		for _, h := range servers {
			switch h.Kind {
			case Tarpit, SlowDrip, HeaderDrip, EndlessSSE, HugeBody, ManyTools, LyingSSE:
				hostileOpenStream(t, h)
			}
		}
		for _, h := range servers {
			if err := h.Close(); err != nil {
				t.Errorf("Close %s: %v", h.Kind, err)
			}
		}
	}) // the subtest's cleanups close the clients
	deadline := time.Now().Add(2 * time.Second)
	for {
		after := runtime.NumGoroutine()
		if after <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
