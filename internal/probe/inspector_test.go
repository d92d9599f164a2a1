package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcptest"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Every fake here listens on a 127.0.0.x address; nothing else is dialled.
// The fakes reproduce what the real Inspector 0.14.0 and 0.15.0 answered
// (status, headers, bodies), and what 1.x does with authentication off.

// inspectorPage014 is the UI's index.html as 0.14.0 serves it.
const inspectorPage014 = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <link rel="icon" type="image/svg+xml" href="/mcp.svg" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>MCP Inspector</title>
    <script type="module" crossorigin src="/assets/index-CfNcvwpX.js"></script>
    <link rel="stylesheet" crossorigin href="/assets/index-1IEtev7A.css">
  </head>
  <body>
    <div id="root"></div>
  </body>
</html>
`

const inspectorBundlePath = "/assets/index-CfNcvwpX.js"

// inspectorVersionSnippet is how the bundle defines the client version.
func inspectorVersionSnippet(v string) string {
	return "const version$1 = \"" + v + "\";\nconst packageJson = {\n  version: version$1\n};\n"
}

// fakeBundle is size bytes of JavaScript with snippet starting at offset
// (no snippet when offset < 0).
func fakeBundle(size, offset int, snippet string) []byte {
	filler := []byte("  react_production_min.version = \"18.3.1\"; const version = compute(x);\n")
	var b bytes.Buffer
	for b.Len() < size {
		if offset >= 0 && b.Len() >= offset {
			b.Truncate(offset)
			b.WriteString(snippet)
			offset = -1
			continue
		}
		b.Write(filler)
	}
	return b.Bytes()
}

// inspectorRecorder keeps every request a fake received.
type inspectorRecorder struct {
	mu   sync.Mutex
	reqs []string
}

func (r *inspectorRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		line := req.Method + " " + req.RequestURI
		if o := req.Header.Get("Origin"); o != "" {
			line += " Origin=" + o
		}
		if req.Header.Get("X-MCP-Proxy-Auth") != "" {
			line += " with-token"
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, line)
		r.mu.Unlock()
		h.ServeHTTP(w, req)
	})
}

func (r *inspectorRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// fakeInspectorUI serves page for every path and method, as serve-handler
// with the Inspector's rewrite does, and bundle at inspectorBundlePath.
func fakeInspectorUI(page string, bundle []byte, encoding string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == inspectorBundlePath && bundle != nil {
			w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			if encoding != "" {
				w.Header().Set("Content-Encoding", encoding)
			}
			w.Write(bundle)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Disposition", `inline; filename="index.html"`)
		w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0")
		io.WriteString(w, page)
	})
}

// Proxy modes of fakeInspectorProxy.
const (
	proxyOld        = "before 0.14.1"           // no token, no Origin check
	proxyTokenMode  = "0.14.1+"                 // token and Origin check
	proxyOmitAuth   = "0.14.1+ omit auth"       // DANGEROUSLY_OMIT_AUTH
	proxyOmitStrict = "1.x omit auth"           // omit auth, Origin required
	proxyNoConfig   = "0.14.1+ without /config" // a later layout
)

const fakeProxyToken = "0123456789abcdef"

// fakeInspectorProxy answers as the Inspector's Express proxy does.
func fakeInspectorProxy(mode string) http.Handler {
	jsonReply := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	guarded := func(w http.ResponseWriter, r *http.Request) bool {
		if mode == proxyOld {
			return true
		}
		origin := r.Header.Get("Origin")
		if origin != "" && origin != "http://localhost:6274" && origin != "http://127.0.0.1:6274" || origin == "" && mode == proxyOmitStrict {
			jsonReply(w, http.StatusForbidden, `{"error":"Forbidden - invalid origin","message":"Request blocked to prevent DNS rebinding attacks. Configure allowed origins via environment variable."}`)
			return false
		}
		if mode == proxyOmitAuth || mode == proxyOmitStrict || r.Header.Get("X-MCP-Proxy-Auth") == "Bearer "+fakeProxyToken {
			return true
		}
		jsonReply(w, http.StatusUnauthorized, `{"error":"Unauthorized","message":"Authentication required. Use the session token shown in the console when starting the server."}`)
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "Express")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Expose-Headers", "mcp-session-id")
		switch {
		case r.URL.Path == "/health" && r.Method == http.MethodGet:
			jsonReply(w, http.StatusOK, `{"status":"ok"}`)
		case r.URL.Path == "/config" && r.Method == http.MethodGet && mode != proxyNoConfig:
			if guarded(w, r) {
				jsonReply(w, http.StatusOK, `{"defaultEnvironment":{"HOME":"/home/u","PATH":"/usr/bin","SECRET":"do-not-record"},"defaultCommand":"","defaultArgs":""}`)
			}
		case r.URL.Path == "/mcp" && r.Method == http.MethodPost:
			if guarded(w, r) {
				jsonReply(w, http.StatusInternalServerError, `{}`) // no transportType
			}
		case r.URL.Path == "/mcp" && r.Method == http.MethodGet:
			if guarded(w, r) {
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, "Session not found")
			}
		default:
			w.Header().Set("Content-Security-Policy", "default-src 'none'")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot %s %s</pre>\n</body>\n</html>\n", r.Method, r.URL.Path)
		}
	})
}

// inspectorListen serves h on ip:0 and returns the port.
func inspectorListen(t *testing.T, ip string, h http.Handler) int {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Listener.Close()
	ts.Listener = ln
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Start()
	t.Cleanup(ts.Close)
	return ln.Addr().(*net.TCPAddr).Port
}

// newInspectorTestProbe builds the probe of one service as Probe does: the
// client dials ip:port, while svcPort is the port the service is known by
// (so that the default-port gates can be tested without binding 6274/6277).
func newInspectorTestProbe(t *testing.T, opts Options, ip string, port, svcPort int) (*Prober, *svcProbe) {
	t.Helper()
	p := New(opts)
	s := &svcProbe{p: p, svc: target.Service{Host: ip, Port: svcPort, Scheme: "http"}, schemeFixed: true}
	s.c = newClient(p, ip, ip, port, "http")
	t.Cleanup(s.c.close)
	return p, s
}

// forbiddenInspectorRequest reports a request that could make a proxy start
// something.
var forbiddenInspectorRequest = regexp.MustCompile(`(?i)stdio|transportType|command=|args=|^\S+ /sse|^\S+ /message`)

func checkInspectorRequests(t *testing.T, reqs []string) {
	t.Helper()
	for _, r := range reqs {
		if forbiddenInspectorRequest.MatchString(r) {
			t.Errorf("the Inspector probe sent %q", r)
		}
	}
}

func TestInspectorFakes(t *testing.T) {
	const ip = "127.0.0.81"
	bundle := fakeBundle(1_400_000, 868_681, inspectorVersionSnippet("0.14.0"))
	// The snippet straddles the scanner's 64 KiB chunk boundary.
	boundary := fakeBundle(200_000, 64<<10-20, inspectorVersionSnippet("1.0.3"))
	inlined := fakeBundle(300_000, 100_000, `const client = new Client({ name: "mcp-inspector", version: "0.13.0" });`)
	placeholder := fakeBundle(300_000, 100_000, "rJ={name:`mcp-inspector`,version:`0.0.0`},iJ=5")
	noVersion := fakeBundle(300_000, -1, "")
	hostile := func(src string) string {
		return strings.Replace(inspectorPage014, inspectorBundlePath, src, 1)
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	uiOnGetRoot := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == inspectorBundlePath) {
			fakeInspectorUI(inspectorPage014, bundle, "").ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
	jsonAPI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"defaultCommand":"x"}`)
	})
	otherPage := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>Welcome to nginx!</title><script src=\"/x.js\"></script></head></html>")
	})
	express500 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Powered-By", "Express")
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{}`)
	})
	other401 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"Unauthorized","message":"bad api key"}`)
	})

	bundleReq := "GET " + inspectorBundlePath
	tests := []struct {
		name    string
		h       http.Handler
		svcPort int // 0: the real port
		maxBody int64
		want    *result.InspectorInfo
		// evidence lists substrings of the evidence.
		evidence []string
		// reqs are the requests the inspector step sends, exactly.
		reqs []string
	}{
		{"ui 0.14.0", fakeInspectorUI(inspectorPage014, bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui", Version: "0.14.0"},
			[]string{`the page at /mcp is titled "MCP Inspector"`, "version 0.14.0 in " + inspectorBundlePath}, []string{bundleReq}},
		{"ui version across a chunk boundary", fakeInspectorUI(inspectorPage014, boundary, ""), 0, 0,
			&result.InspectorInfo{Component: "ui", Version: "1.0.3"}, nil, []string{bundleReq}},
		{"ui inlined clientInfo", fakeInspectorUI(inspectorPage014, inlined, ""), 0, 0,
			&result.InspectorInfo{Component: "ui", Version: "0.13.0"}, nil, []string{bundleReq}},
		{"ui placeholder version", fakeInspectorUI(inspectorPage014, placeholder, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, []string{"no version found in " + inspectorBundlePath}, []string{bundleReq}},
		{"ui without version", fakeInspectorUI(inspectorPage014, noVersion, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, []string{"no version found"}, []string{bundleReq}},
		{"ui version past the byte cap", fakeInspectorUI(inspectorPage014, bundle, ""), 0, 256 << 10,
			&result.InspectorInfo{Component: "ui"}, []string{"no version found"}, []string{bundleReq}},
		{"ui gzip bundle", fakeInspectorUI(inspectorPage014, bundle, "gzip"), 0, 0,
			&result.InspectorInfo{Component: "ui"}, []string{"could not be read"}, []string{bundleReq}},
		{"ui bundle missing", fakeInspectorUI(inspectorPage014, nil, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, []string{"no version found"}, []string{bundleReq}},
		{"ui script on another host", fakeInspectorUI(hostile("//evil.example/x.js"), bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, []string{"names no same-origin script"}, nil},
		{"ui script absolute URL", fakeInspectorUI(hostile("http://127.0.0.1:1/x.js"), bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, nil, nil},
		{"ui script with a query", fakeInspectorUI(hostile("/stdio?transportType=stdio&command=id&x=.js"), bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, nil, nil},
		{"ui script climbing", fakeInspectorUI(hostile("/assets/../x.js"), bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui"}, nil, nil},
		{"ui relative script", fakeInspectorUI(hostile("./assets/index-CfNcvwpX.js"), bundle, ""), 0, 0,
			&result.InspectorInfo{Component: "ui", Version: "0.14.0"}, nil, []string{bundleReq}},
		{"ui only on GET / at 6274", uiOnGetRoot, inspectorUIPort, 0,
			&result.InspectorInfo{Component: "ui", Version: "0.14.0"}, []string{`the page at / is titled`}, []string{"GET /", bundleReq}},

		{"proxy before 0.14.1", fakeInspectorProxy(proxyOld), 0, 0,
			&result.InspectorInfo{Component: "proxy", TokenRequired: new(false)},
			[]string{"GET /config answered 200", "no DNS-rebinding check"},
			[]string{"GET /config", "GET /config Origin=" + inspectorForeignOrigin}},
		{"proxy with token", fakeInspectorProxy(proxyTokenMode), 0, 0,
			&result.InspectorInfo{Component: "proxy", TokenRequired: new(true)},
			[]string{`GET /config without a session token got 401 "Authentication required"`}, []string{"GET /config"}},
		{"proxy with auth omitted", fakeInspectorProxy(proxyOmitAuth), 0, 0,
			&result.InspectorInfo{Component: "proxy", TokenRequired: new(false)},
			[]string{"GET /config answered 200", "was refused (0.14.1 or later"},
			[]string{"GET /config", "GET /config Origin=" + inspectorForeignOrigin}},
		{"proxy 1.x auth omitted, Origin required", fakeInspectorProxy(proxyOmitStrict), 0, 0,
			&result.InspectorInfo{Component: "proxy"}, []string{`without an Origin got 403`}, []string{"GET /config"}},
		{"proxy without /config", fakeInspectorProxy(proxyNoConfig), 0, 0,
			&result.InspectorInfo{Component: "proxy", TokenRequired: new(true)},
			[]string{`/mcp without a session token got 401`}, []string{"GET /config"}},
		{"proxy before 0.14.1 at 6277", fakeInspectorProxy(proxyOld), inspectorProxyPort, 0,
			&result.InspectorInfo{Component: "proxy", TokenRequired: new(false)}, nil,
			[]string{"GET /config", "GET /config Origin=" + inspectorForeignOrigin}},

		{"404 everywhere", notFound, 0, 0, nil, nil, nil},
		{"json api", jsonAPI, 0, 0, nil, nil, nil},
		{"other page", otherPage, 0, 0, nil, nil, nil},
		{"express 500 without the exposure header", express500, 0, 0, nil, nil, nil},
		{"another 401", other401, 0, 0, nil, nil, nil},
		{"404 at 6277", notFound, inspectorProxyPort, 0, nil, nil, []string{"GET /config"}},
		{"json api at 6277", jsonAPI, inspectorProxyPort, 0, nil, nil, []string{"GET /config"}},
		{"404 at 6274", notFound, inspectorUIPort, 0, nil, nil, []string{"GET /"}},
		{"other page at 6274", otherPage, inspectorUIPort, 0, nil, nil, []string{"GET /"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &inspectorRecorder{}
			port := inspectorListen(t, ip, rec.wrap(tt.h))
			svcPort := tt.svcPort
			if svcPort == 0 {
				svcPort = port
			}
			p, s := newInspectorTestProbe(t, Options{MaxBodyBytes: tt.maxBody}, ip, port, svcPort)
			ctx := t.Context()
			out := s.probePath(ctx, "/mcp")
			if out.first == nil {
				t.Fatalf("the path probing got no reply (err %v)", out.err)
			}
			checkInspectorRequests(t, rec.take())
			before := p.Requests()
			got := s.inspector(ctx, out.first)
			reqs := rec.take()
			checkInspectorRequests(t, reqs)
			if n := p.Requests() - before; n != int64(len(reqs)) {
				t.Errorf("counted %d requests, the server saw %d: %q", n, len(reqs), reqs)
			}
			if !slices.Equal(reqs, tt.reqs) {
				t.Errorf("requests = %q, want %q", reqs, tt.reqs)
			}
			if (got == nil) != (tt.want == nil) {
				t.Fatalf("inspector = %+v, want %+v", got, tt.want)
			}
			if got == nil {
				return
			}
			if got.Component != tt.want.Component || got.Version != tt.want.Version || !sameBoolPtr(got.TokenRequired, tt.want.TokenRequired) {
				t.Errorf("inspector = {%s %q %s}, want {%s %q %s}", got.Component, got.Version, boolPtrText(got.TokenRequired),
					tt.want.Component, tt.want.Version, boolPtrText(tt.want.TokenRequired))
			}
			for _, e := range tt.evidence {
				if !strings.Contains(got.Evidence, e) {
					t.Errorf("evidence %q lacks %q", got.Evidence, e)
				}
			}
			if strings.Contains(got.Evidence, "do-not-record") {
				t.Errorf("evidence %q holds the proxy's environment", got.Evidence)
			}
		})
	}
}

func sameBoolPtr(a, b *bool) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

func boolPtrText(b *bool) string {
	if b == nil {
		return "null"
	}
	return strconv.FormatBool(*b)
}

// TestInspectorNoFirst: a service that gave no HTTP reply at all gets no
// request on an ordinary port.
func TestInspectorNoFirst(t *testing.T) {
	rec := &inspectorRecorder{}
	port := inspectorListen(t, "127.0.0.82", rec.wrap(fakeInspectorProxy(proxyOld)))
	p, s := newInspectorTestProbe(t, Options{}, "127.0.0.82", port, port)
	if got := s.inspector(t.Context(), nil); got != nil {
		t.Errorf("inspector(nil) = %+v, want nil", got)
	}
	if n := p.Requests(); n != 0 {
		t.Errorf("sent %d requests (%q), want 0", n, rec.take())
	}
}

// TestInspectorEndlessBundle: a bundle that never ends is read up to the
// byte cap and the request timeout, not forever.
func TestInspectorEndlessBundle(t *testing.T) {
	endless := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != inspectorBundlePath {
			fakeInspectorUI(inspectorPage014, nil, "").ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/javascript")
		chunk := bytes.Repeat([]byte("var a = 1;\n"), 1000)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	port := inspectorListen(t, "127.0.0.83", endless)
	_, s := newInspectorTestProbe(t, Options{MaxBodyBytes: 1 << 20, RequestTimeout: 2 * time.Second}, "127.0.0.83", port, port)
	r, err := s.c.send(t.Context(), http.MethodGet, s.c.urlFor("/"), nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got := s.inspector(t.Context(), r)
	if got == nil || got.Component != "ui" || got.Version != "" {
		t.Errorf("inspector = %+v, want the UI without a version", got)
	}
	// The byte cap ends the read; on a slow machine the request timeout
	// may come first. Either way it ends.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v, want at most the request timeout and some slack", d)
	}
}

func TestInspectorBundle(t *testing.T) {
	tests := []struct {
		page, want string
		ok         bool
	}{
		{inspectorPage014, inspectorBundlePath, true},
		{`<script type="module" crossorigin src="./assets/index-qtX15-Bz.js"></script>`, "/assets/index-qtX15-Bz.js", true},
		{`<SCRIPT SRC='main.js'>`, "/main.js", true},
		{`<script src="//cdn.example/x.js"></script><script src="/a.js"></script>`, "/a.js", true},
		{`<script src="https://cdn.example/x.js"></script>`, "", false},
		{`<script src="/x.js?v=1"></script>`, "", false},
		{`<script src="/a/../b.js"></script>`, "", false},
		{`<script src="/a/.../b.js"></script>`, "", false},
		{`<script src="/a//b.js"></script>`, "", false},
		{`<script src="/a b.js"></script>`, "", false},
		{`<script src="/a.css"></script>`, "", false},
		{`<script>var src="/a.js"</script>`, "", false},
		{`<link href="/a.js">`, "", false},
		{``, "", false},
	}
	for _, tt := range tests {
		got, ok := inspectorBundle([]byte(tt.page))
		if got != tt.want || ok != tt.ok {
			t.Errorf("inspectorBundle(%q) = %q, %v; want %q, %v", tt.page, got, ok, tt.want, tt.ok)
		}
	}
}

func TestFindBundleVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{inspectorVersionSnippet("0.14.0"), "0.14.0"},
		{"const version$12 = \"1.0.3-beta.2\"; const packageJson = { version: version$12 }", "1.0.3-beta.2"},
		{"let version=\"0.9.0\";let packageJson={version:version}", "0.9.0"},
		{`{ name: "mcp-inspector", version: "0.13.0" }`, "0.13.0"},
		{"{name:`mcp-inspector`,version:`0.0.0`}", ""},
		{`const version = "18.3.1"; const other = {`, ""},
		{`react_production_min.version = "18.3.1";`, ""},
		{`const version$1 = "x.y.z"; const packageJson = { version: version$1 }`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := findBundleVersion([]byte(tt.in)); got != tt.want {
			t.Errorf("findBundleVersion(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestScanBundle(t *testing.T) {
	snippet := inspectorVersionSnippet("0.15.0")
	for _, off := range []int{0, 100, 64<<10 - len(snippet)/2, 64<<10 - 1, 64 << 10, 3*64<<10 - 7} {
		data := fakeBundle(4*64<<10, off, snippet)
		for name, r := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"halves":   iotest.HalfReader(bytes.NewReader(data)),
		} {
			if v, err := scanBundle(r); v != "0.15.0" || err != nil {
				t.Errorf("offset %d, %s reads: %q, %v; want 0.15.0", off, name, v, err)
			}
		}
	}
	if v, err := scanBundle(io.MultiReader(strings.NewReader("const a = 1;"), iotest.ErrReader(errors.New("connection reset")))); v != "" || err == nil {
		t.Errorf("failing reader: %q, %v; want an error", v, err)
	}
	if v, err := scanBundle(bytes.NewReader(fakeBundle(200_000, -1, ""))); v != "" || err != nil {
		t.Errorf("no version: %q, %v", v, err)
	}
}

var versionShape = regexp.MustCompile(`^\d{1,4}\.\d{1,4}\.\d{1,6}(-[0-9A-Za-z.]{1,40})?$`)

func FuzzInspectorParsers(f *testing.F) {
	f.Add([]byte(inspectorPage014))
	f.Add([]byte(inspectorVersionSnippet("0.14.0")))
	f.Add([]byte(`<script src="./a/b.js"></script>{ name: "mcp-inspector", version: "1.2.3" }`))
	f.Add([]byte("const version$1 = \"0.0.0\"; const packageJson = {version: x}"))
	f.Add([]byte(`<script src="/a/../stdio?command=x.js">`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if src, ok := inspectorBundle(data); ok {
			if !strings.HasPrefix(src, "/") || strings.HasPrefix(src, "//") || strings.ContainsAny(src, "?#:\\ ") ||
				strings.Contains(src, "..") || !strings.HasSuffix(src, ".js") {
				t.Errorf("unsafe bundle path %q", src)
			}
		} else if src != "" {
			t.Errorf("path %q without ok", src)
		}
		v := findBundleVersion(data)
		if v != "" && (!versionShape.MatchString(v) || !bytes.Contains(data, []byte(v))) {
			t.Errorf("version %q", v)
		}
		if len(data) <= 64<<10 {
			if got, err := scanBundle(bytes.NewReader(data)); got != v || err != nil {
				t.Errorf("scanBundle = %q, %v; findBundleVersion = %q", got, err, v)
			}
		}
		if got, err := scanBundle(iotest.OneByteReader(bytes.NewReader(data))); err != nil || got != "" && !versionShape.MatchString(got) {
			t.Errorf("scanBundle by bytes = %q, %v", got, err)
		}
	})
}

// TestInspectorLive runs the real Inspector (testdata/npm-inspector-*) on
// 127.0.0.x and checks the verdicts on both of its services after the
// path probing of /mcp, as Probe runs it.
func TestInspectorLive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir, host, version string
		opts                     []mcptest.InspectorOption
		token                    *bool
		proxyEvidence            string
		proxyReqs                int64
	}{
		{"vulnerable", mcptest.InspectorVulnDir, "127.0.0.84", mcptest.InspectorVulnVersion, nil,
			new(false), "no DNS-rebinding check, as before 0.14.1", 2},
		{"fixed", mcptest.InspectorFixedDir, "127.0.0.85", mcptest.InspectorFixedVersion, nil,
			new(true), `GET /config without a session token got 401 "Authentication required"`, 1},
		{"fixed without auth", mcptest.InspectorFixedDir, "127.0.0.86", mcptest.InspectorFixedVersion,
			[]mcptest.InspectorOption{mcptest.WithoutProxyAuth()},
			new(false), "was refused (0.14.1 or later, with authentication turned off)", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := mcptest.StartInspector(t, tt.dir, tt.host, tt.opts...)
			if in.Version != tt.version {
				t.Fatalf("installed Inspector %s, want %s", in.Version, tt.version)
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			// The UI.
			p, s := newInspectorTestProbe(t, Options{}, in.Host, in.UIPort, in.UIPort)
			out := s.probePath(ctx, "/mcp")
			if out.ep != nil || out.first == nil {
				t.Fatalf("UI path probing: ep %+v, first %v, err %v", out.ep, out.first, out.err)
			}
			before := p.Requests()
			ui := s.inspector(ctx, out.first)
			if n := p.Requests() - before; n != 1 {
				t.Errorf("UI: %d requests, want 1 (the bundle)", n)
			}
			if ui == nil || ui.Component != "ui" || ui.Version != tt.version || ui.TokenRequired != nil ||
				!strings.Contains(ui.Evidence, "version "+tt.version+" in /assets/index-") {
				t.Errorf("UI = %+v, want ui %s with evidence of the bundle", ui, tt.version)
			}

			// The proxy.
			p, s = newInspectorTestProbe(t, Options{}, in.Host, in.ProxyPort, in.ProxyPort)
			out = s.probePath(ctx, "/mcp")
			if out.first == nil {
				t.Fatalf("proxy path probing: no reply (err %v)", out.err)
			}
			before = p.Requests()
			proxy := s.inspector(ctx, out.first)
			if n := p.Requests() - before; n != tt.proxyReqs {
				t.Errorf("proxy: %d requests, want %d", n, tt.proxyReqs)
			}
			if proxy == nil || proxy.Component != "proxy" || proxy.Version != "" || !sameBoolPtr(proxy.TokenRequired, tt.token) ||
				!strings.Contains(proxy.Evidence, tt.proxyEvidence) {
				t.Errorf("proxy = %+v (token %s), want proxy with token required %s and evidence %q",
					proxy, boolPtrText(inspectorTokenOf(proxy)), boolPtrText(tt.token), tt.proxyEvidence)
			}
			t.Logf("UI: %+v", *ui)
			t.Logf("proxy: %s %q token_required=%s evidence=%q", proxy.Component, proxy.Version, boolPtrText(proxy.TokenRequired), proxy.Evidence)
			if strings.Contains(proxy.Evidence, "PATH") || strings.Contains(proxy.Evidence, "HOME") {
				t.Errorf("proxy evidence %q holds its environment", proxy.Evidence)
			}
			if o := in.Output(); strings.Contains(strings.ToLower(o), "stdio transport") || strings.Contains(o, "New connection") {
				t.Errorf("the proxy was asked to start something:\n%s", o)
			}
		})
	}
}

func inspectorTokenOf(in *result.InspectorInfo) *bool {
	if in == nil {
		return nil
	}
	return in.TokenRequired
}
