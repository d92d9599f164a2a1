package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func TestExposureUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"exposure", "--shodan-export", "x.json"}, "no targets"},
		{[]string{"exposure", "127.0.0.0/24"}, "no index"},
		{[]string{"exposure", "--shodan-export", "/nonexistent/export.json.gz", "127.0.0.1"}, "/nonexistent/export.json.gz"},
		{[]string{"exposure", "--shodan", "127.0.0.1"}, "SHODAN_API_KEY"},
		{[]string{"exposure", "--censys", "127.0.0.1"}, "CENSYS_API_ID"},
		{[]string{"exposure", "--shodan", "--shodan-key", "k", "--shodan-url", "ftp://127.0.0.1", "127.0.0.1"}, "ftp://127.0.0.1"},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "127.0.0.0/33"}, `"127.0.0.0/33"`},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "intranet"}, "with a dot"},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "-o", "xml", "127.0.0.1"}, `"xml"`},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "--max-credits", "-1", "127.0.0.1"}, "--max-credits"},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "--max-pages", "0", "127.0.0.1"}, "-max-pages"},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "--fail-on", "severe", "127.0.0.1"}, "--fail-on"},
		{[]string{"exposure", "--shodan-export", "exposure_test.go", "-iL", "/nonexistent/list.txt"}, "/nonexistent/list.txt"},
		{[]string{"exposure", "--nope", "127.0.0.1"}, "-nope"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errb := run(t, context.Background(), "", tt.args...)
			if code != ExitError {
				t.Errorf("exit %d, want %d", code, ExitError)
			}
			if out != "" {
				t.Errorf("stdout %q", out)
			}
			if !strings.Contains(errb, tt.want) || !strings.Contains(errb, "mcpwarden exposure --help") {
				t.Errorf("stderr %q, want it to contain %q", errb, tt.want)
			}
		})
	}
	code, out, _ := run(t, context.Background(), "", "exposure", "--help")
	if code != ExitOK || !strings.Contains(out, "Usage: mcpwarden exposure") || !strings.Contains(out, "--max-credits") {
		t.Errorf("help: exit %d, %q", code, out)
	}
	code, out, _ = run(t, context.Background(), "", "--help")
	if code != ExitOK || !strings.Contains(out, "  exposure ") {
		t.Errorf("main help lacks exposure: %q", out)
	}
}

func expDecodeJSONL(t *testing.T, out string) []*result.Endpoint {
	t.Helper()
	var eps []*result.Endpoint
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ep := &result.Endpoint{}
		if err := json.Unmarshal(sc.Bytes(), ep); err != nil {
			t.Fatalf("bad JSONL line %q: %v", sc.Text(), err)
		}
		eps = append(eps, ep)
	}
	return eps
}

func expRules(ep *result.Endpoint) []string {
	var ids []string
	for _, f := range ep.Findings {
		ids = append(ids, f.Rule)
	}
	return ids
}

// expSSEBanner is a realistic Shodan banner of an MCP server's endpoint.
func expSSEBanner(ip string, port int, path, seen string) map[string]any {
	return map[string]any{
		"ip_str": ip, "port": port, "transport": "tcp", "timestamp": seen, "hostnames": []string{}, "domains": []string{},
		"data": "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\r\n",
		"http": map[string]any{"status": 200, "title": "", "location": path, "server": nil,
			"html": "event: endpoint\ndata: /message?sessionId=5c1f3a9e-1b2d-4e6f-8a7b-9c0d1e2f3a4b\n\n"},
		"_shodan": map[string]any{"module": "http"},
	}
}

// expFakeShodan replays Shodan's API for one search whose matches are given.
func expFakeShodan(t *testing.T, key string, matches []map[string]any, requests *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("key") != key {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error": "Please provide a valid API key"}`)
			return
		}
		switch r.URL.Path {
		case "/api-info":
			fmt.Fprint(w, `{"plan": "dev", "query_credits": 50, "scan_credits": 100, "usage_limits": {"query_credits": 100, "scan_credits": 100, "monitored_ips": 16}}`)
		case "/shodan/host/count":
			if !strings.HasPrefix(r.URL.Query().Get("query"), "net:127.0.0.") {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error": "Invalid search query"}`)
				return
			}
			fmt.Fprintf(w, `{"matches": [], "facets": {}, "total": %d}`, len(matches))
		case "/shodan/host/search":
			if r.URL.Query().Get("page") != "1" {
				fmt.Fprint(w, `{"matches": [], "total": 0}`)
				return
			}
			json.NewEncoder(w).Encode(map[string]any{"matches": matches, "facets": map[string]any{}, "total": len(matches)})
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error": "No information available for that IP."}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func expRun(t *testing.T, ctx context.Context, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb strings.Builder
	code := Run(ctx, args, &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return env[k] },
		IsTerminal: func(io.Writer) bool { return false },
	})
	return code, out.String(), errb.String()
}

// expClosedPort returns a loopback address:port where nothing listens.
func expClosedPort(t *testing.T, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestExposureShodanVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a lab server")
	}
	ctx := context.Background()
	srv, err := lab.Start(ctx, lab.KindOpenSSE, "127.0.0.61:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_, portStr, _ := net.SplitHostPort(srv.Addr)
	openPort, _ := strconv.Atoi(portStr)
	gonePort := expClosedPort(t, "127.0.0.62")

	const key = "c2hvZGFuLXRlc3Qta2V5LTAwMDE"
	var requests atomic.Int32
	shodanSrv := expFakeShodan(t, key, []map[string]any{
		expSSEBanner("127.0.0.61", openPort, lab.SSEPath, "2025-11-20T08:00:00.000000"),
		expSSEBanner("127.0.0.62", gonePort, "/sse", "2025-10-01T12:30:00.000000"),
		// Outside the targets: dropped and never scanned.
		expSSEBanner("192.0.2.10", 8000, "/sse", "2025-11-01T00:00:00.000000"),
		// Malformed: skipped and counted.
		{"ip_str": "127.0.0.63", "port": "http"},
	}, &requests)
	env := map[string]string{"SHODAN_API_KEY": key}

	// Without --max-credits the filtered search does not run.
	code, out, errb := expRun(t, ctx, env, "exposure", "--shodan", "--shodan-url", shodanSrv.URL, "--api-rate", "100", "127.0.0.60-127.0.0.63")
	if code != ExitError || out != "" || !strings.Contains(errb, "cost 1 query credits, above --max-credits 0") || !strings.Contains(errb, "--yes") {
		t.Fatalf("gate: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if strings.Contains(errb, key) {
		t.Fatalf("stderr shows the key: %q", errb)
	}
	if !strings.Contains(errb, "shodan: search \"net:127.0.0.60/30\": 4 results, 1 pages, 1 query credits") {
		t.Errorf("cost not shown before the gate: %q", errb)
	}

	code, out, errb = expRun(t, ctx, env, "exposure", "--shodan", "--shodan-url", shodanSrv.URL, "--api-rate", "100",
		"--max-credits", "1", "--verify", "-o", "jsonl", "--timeout", "3s", "127.0.0.60-127.0.0.63")
	if code != ExitFindings {
		t.Fatalf("exit %d, stderr %q", code, errb)
	}
	if strings.Contains(out+errb, key) {
		t.Fatal("output shows the key")
	}
	for _, want := range []string{"1 outside your targets dropped, 1 malformed skipped", "2 indexed services inside your targets: 2 likely-mcp", "now 1 open", "1 gone"} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q: %q", want, errb)
		}
	}
	var open, gone *result.Endpoint
	for _, ep := range expDecodeJSONL(t, out) {
		if strings.Contains(ep.URL, "192.0.2.10") || ep.Host == "192.0.2.10" {
			t.Errorf("out-of-scope service reported: %s", ep.URL)
		}
		if ep.Exposure == nil {
			continue
		}
		switch {
		case ep.Host == "127.0.0.61" && hasRule(ep, rules.IndexedStillOpen):
			open = ep
		case ep.Host == "127.0.0.62":
			gone = ep
		}
	}
	if open == nil {
		t.Fatalf("no still-open record in %q", out)
	}
	if open.Status != result.StatusMCP || open.Exposure.Now != "open" || open.Exposure.Class != "likely-mcp" ||
		open.Exposure.LastSeen.Format("2006-01-02") != "2025-11-20" || len(open.Exposure.Sources) != 1 || open.Exposure.Sources[0] != "shodan" ||
		!hasRule(open, rules.Unauthenticated) {
		t.Errorf("open record %+v exposure %+v findings %q", open, open.Exposure, expRules(open))
	}
	if gone == nil || gone.Exposure.Now != "gone" || !hasRule(gone, rules.IndexedNowClosed) {
		t.Fatalf("gone record %+v", gone)
	}
	for _, f := range gone.Findings {
		if f.Rule == rules.IndexedNowClosed && !strings.Contains(f.Evidence, "last seen as MCP on 2025-10-01") {
			t.Errorf("evidence %q", f.Evidence)
		}
	}
}

func TestExposureExportsOffline(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "targets.txt")
	os.WriteFile(list, []byte("# our ranges\n198.51.100.0/24, example.com\n"), 0o600)
	shodanExport := filepath.Join("..", "exposure", "shodan", "testdata", "export.json.gz")
	censysExport := filepath.Join("..", "exposure", "censys", "testdata", "export.json")
	code, out, errb := run(t, context.Background(), "", "exposure", "-iL", list,
		"--shodan-export", shodanExport, "--censys-export", censysExport, "-o", "jsonl")
	if code != ExitOK { // medium findings stay below --fail-on high
		t.Fatalf("exit %d, stderr %q", code, errb)
	}
	eps := expDecodeJSONL(t, out)
	byURL := map[string]*result.Endpoint{}
	for _, ep := range eps {
		byURL[ep.URL] = ep
		if ep.Status != result.StatusNotProbed || ep.Exposure == nil || ep.Exposure.Now != "" {
			t.Errorf("offline record %s: status %s exposure %+v", ep.URL, ep.Status, ep.Exposure)
		}
		if strings.Contains(ep.URL, "203.0.113.") {
			t.Errorf("out-of-scope record %s", ep.URL)
		}
	}
	sse := byURL["http://198.51.100.7:8000/sse"]
	if sse == nil || sse.Exposure.Class != "likely-mcp" || !hasRule(sse, rules.IndexedUnverified) || sse.Findings[0].Severity.String() != "medium" {
		t.Fatalf("sse record %+v in %q", sse, out)
	}
	if r := byURL["https://198.51.100.21:443/"]; r == nil || r.Exposure.Class != "likely-mcp" || r.Exposure.Sources[0] != "censys" {
		t.Errorf("censys https record %+v", r)
	}
	// Not MCP, not verified: left out without --all.
	if _, ok := byURL["http://198.51.100.12:80/"]; ok {
		t.Error("not-mcp service listed without --all")
	}
	for _, want := range []string{"shodan: 6 records, 1 outside your targets dropped, 2 malformed skipped", "censys: 5 records, 1 outside your targets dropped, 2 malformed skipped"} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q: %q", want, errb)
		}
	}

	code, out, _ = run(t, context.Background(), "", "exposure", "198.51.100.0/24", "--shodan-export", shodanExport, "--all", "-o", "markdown", "--fail-on", "medium")
	if code != ExitFindings || !strings.Contains(out, rules.IndexedUnverified) {
		t.Errorf("markdown: exit %d, %q", code, out)
	}
}

func TestExposureCensysAPI(t *testing.T) {
	const id, secret = "censys-id-7f3a", "censys-secret-9b2c4d"
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "exposure", "censys", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var views atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != id || p != secret {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"code": 401, "error": "You must authenticate with a valid API ID and secret."}`)
			return
		}
		switch {
		case r.URL.Path == "/api/v1/account":
			w.Write(read("account.json"))
		case r.URL.Path == "/api/v2/hosts/search" && r.URL.Query().Get("cursor") == "":
			if !strings.Contains(r.URL.Query().Get("q"), "ip: [198.51.100.0 to 198.51.100.255]") {
				w.WriteHeader(422)
				fmt.Fprint(w, `{"code": 422, "error": "unexpected query"}`)
				return
			}
			w.Write(read("search-page1.json"))
		case r.URL.Path == "/api/v2/hosts/search":
			w.Write(read("search-page2.json"))
		case r.URL.Path == "/api/v2/hosts/198.51.100.21":
			views.Add(1)
			w.Write(read("host-198.51.100.21.json"))
		case strings.HasPrefix(r.URL.Path, "/api/v2/hosts/192.0.2."):
			t.Errorf("looked up an out-of-scope host: %s", r.URL.Path)
			w.WriteHeader(404)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"code": 404, "error": "The requested host could not be found."}`)
		}
	}))
	defer srv.Close()
	env := map[string]string{"CENSYS_API_ID": id, "CENSYS_API_SECRET": secret}
	// Budget 3: both search pages and one host view; the second hit
	// host is classified from the search alone.
	code, out, errb := expRun(t, context.Background(), env, "exposure", "--censys", "--censys-url", srv.URL, "--api-rate", "100",
		"--max-credits", "3", "-o", "json", "198.51.100.0/24")
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, errb)
	}
	if strings.Contains(out+errb, secret) {
		t.Fatal("output shows the secret")
	}
	if views.Load() != 1 {
		t.Errorf("%d host views, want 1", views.Load())
	}
	for _, want := range []string{"censys: 12 of 250 queries used", "1 hosts classified from the search hit only", "1 outside your targets dropped"} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q: %q", want, errb)
		}
	}
	var doc struct {
		Endpoints []*result.Endpoint `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	classes := map[string]string{}
	for _, ep := range doc.Endpoints {
		classes[ep.URL] = ep.Exposure.Class
	}
	if classes["http://198.51.100.21:8080/mcp"] != "likely-mcp" || classes["http://198.51.100.22:8000/"] != "possibly-mcp" {
		t.Errorf("classes %v", classes)
	}
}
