package censys

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/exposure"
	"github.com/mcpwarden/mcpwarden/internal/exposure/feed"
)

const (
	testID     = "3f1b9c2e-7a44-4c1e-9d3b-aa00bb11cc22"
	testSecret = "Zm9vYmFyU2VjcmV0Rm9yVGVzdHM"
)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newReplay(t *testing.T, h func(w http.ResponseWriter, r *http.Request, call int32)) (*Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		id, secret, ok := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != testID || secret != testSecret {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"code": 401, "status": "Unauthorized", "error_type": "unauthorized", "error": "You must authenticate with a valid API ID and secret."}`))
			return
		}
		h(w, r, n)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, ID: testID, Secret: testSecret, Rate: 1000, RetryBase: 5 * time.Millisecond, Timeout: 2 * time.Second, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return c, &calls
}

func TestAccount(t *testing.T) {
	c, _ := newReplay(t, func(w http.ResponseWriter, r *http.Request, _ int32) {
		if r.URL.Path == "/api/v1/account" {
			w.Write(readFile(t, "account.json"))
		}
	})
	q, err := c.Account(context.Background())
	if err != nil || q.Used != 12 || q.Allowance != 250 || q.Left() != 238 {
		t.Fatalf("Account = %+v, %v", q, err)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"code": 401, "status": "Unauthorized", "error": "You must authenticate with a valid API ID and secret."}`))
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, ID: "wrong-id-0000", Secret: "wrong-secret-1111", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Account(context.Background())
	if !errors.Is(err, feed.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-secret-1111") || !strings.Contains(err.Error(), "valid API ID") {
		t.Errorf("err %v", err)
	}
	if _, err := New(Options{ID: "x"}); err == nil || !strings.Contains(err.Error(), "CENSYS_API_SECRET") {
		t.Errorf("New without secret: %v", err)
	}
}

func TestSearchPagingAndHost(t *testing.T) {
	c, calls := newReplay(t, func(w http.ResponseWriter, r *http.Request, call int32) {
		q := r.URL.Query()
		switch {
		case r.URL.Path == "/api/v2/hosts/search" && q.Get("per_page") == "100" && q.Get("cursor") == "":
			w.Write(readFile(t, "search-page1.json"))
		case r.URL.Path == "/api/v2/hosts/search" && q.Get("cursor") == "eyJBZnRlciI6WzEuMCwiMTk4LjUxLjEwMC4yMSJdLCJSZXZlcnNlZCI6ZmFsc2V9":
			if call == 2 {
				w.Header().Set("Retry-After", "0")
				w.Header().Set("X-RateLimit-Limit", "10")
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"code": 429, "status": "Too Many Requests", "error_type": "rate_limit_exceeded", "error": "Rate limit exceeded"}`))
				return
			}
			w.Write(readFile(t, "search-page2.json"))
		case r.URL.Path == "/api/v2/hosts/198.51.100.21":
			w.Write(readFile(t, "host-198.51.100.21.json"))
		case strings.HasPrefix(r.URL.Path, "/api/v2/hosts/"):
			w.WriteHeader(404)
			w.Write([]byte(`{"code": 404, "status": "Not Found", "error": "The requested host could not be found."}`))
		default:
			w.WriteHeader(400)
		}
	})
	var hits []*Host
	n, err := c.Search(context.Background(), "ip: [198.51.100.0 to 198.51.100.255]", 5, nil, func(h *Host) error {
		hits = append(hits, h)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.Records != 3 || n.Malformed != 1 || n.Queries != 2 || n.Credits != 2 || calls.Load() != 3 {
		t.Errorf("counts %+v after %d calls", n, calls.Load())
	}
	svcs, bad := hits[0].ServicesOf(true, "query")
	if bad != 0 || len(svcs) != 1 || svcs[0].Port != 8080 || svcs[0].QueryMatch != "query" || svcs[0].Hostnames[0] != "mcp-gw.example.com" {
		t.Errorf("matched services %+v", svcs)
	}
	if v := exposure.Classify(svcs[0]); v.Class != exposure.PossiblyMCP {
		t.Errorf("hit class %s", v.Class)
	}

	// The credit gate stops paging.
	n, err = c.Search(context.Background(), "q", 5, func(page, total int) bool { return total > 100 }, func(*Host) error { return nil })
	if err != nil || n.Queries != 1 {
		t.Errorf("gated search %+v, %v", n, err)
	}

	h, err := c.Host(context.Background(), netip.MustParseAddr("198.51.100.21"))
	if err != nil {
		t.Fatal(err)
	}
	svcs, _ = h.ServicesOf(false, "")
	if len(svcs) != 3 {
		t.Fatalf("%d services", len(svcs))
	}
	classes := map[int]exposure.Class{}
	for _, s := range svcs {
		classes[s.Port] = exposure.Classify(s).Class
	}
	if classes[22] != exposure.NotMCP || classes[8080] != exposure.LikelyMCP || classes[443] != exposure.LikelyMCP {
		t.Errorf("classes %v", classes)
	}
	web := svcs[1]
	if web.HTTP.Path != "/mcp" || web.HTTP.Headers.Get("Content-Type") != "application/json" || web.HTTP.Status != 400 ||
		web.Seen.Format(time.RFC3339) != "2025-11-18T04:51:12Z" {
		t.Errorf("http %+v seen %s", web.HTTP, web.Seen)
	}
	if !svcs[2].TLS || svcs[2].HTTP.Server != "envoy" {
		t.Errorf("https service %+v", svcs[2])
	}
	if h, err := c.Host(context.Background(), netip.MustParseAddr("198.51.100.99")); h != nil || err != nil {
		t.Errorf("unknown host: %v, %v", h, err)
	}
}

func TestSearchFailures(t *testing.T) {
	tests := []struct {
		name string
		h    func(w http.ResponseWriter)
		want string
	}{
		{"5xx", func(w http.ResponseWriter) {
			w.WriteHeader(500)
			w.Write([]byte(`{"code": 500, "status": "Internal Server Error", "error": "An unexpected error occurred."}`))
		}, "HTTP 500: An unexpected error occurred."},
		{"malformed", func(w http.ResponseWriter) { w.Write([]byte(`{"code": 200, "result": {"hits": [}`)) }, "malformed or truncated"},
		{"truncated", func(w http.ResponseWriter) {
			b := readFile(t, "search-page1.json")
			w.Write(b[:len(b)-40])
		}, "malformed or truncated"},
		{"no result", func(w http.ResponseWriter) { w.Write([]byte(`{"code": 200, "status": "OK"}`)) }, "without a result"},
		{"oversized", func(w http.ResponseWriter) { w.Write([]byte(strings.Repeat(" ", 2<<20))) }, "response too large"},
		{"429 for good", func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
			w.Write([]byte(`{"code": 429, "error": "Rate limit exceeded"}`))
		}, "HTTP 429: Rate limit exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newReplay(t, func(w http.ResponseWriter, _ *http.Request, _ int32) { tt.h(w) })
			_, err := c.Search(context.Background(), "q", 3, nil, func(*Host) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
			if err != nil && (strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), testID)) {
				t.Errorf("error leaks credentials: %v", err)
			}
		})
	}
}

func TestReadExport(t *testing.T) {
	tests := []struct {
		file      string
		malformed int
	}{{"export.json", 2}, {"export.jsonl.gz", 3}}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got []string
			n, err := ReadExport(context.Background(), f, func(s *exposure.Service) error {
				got = append(got, s.IP.String()+":"+strconv.Itoa(s.Port)+"="+string(exposure.Classify(s).Class))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := "198.51.100.21:22=not-mcp 198.51.100.21:8080=likely-mcp 198.51.100.21:443=likely-mcp 198.51.100.30:8000=likely-mcp 203.0.113.77:8000=possibly-mcp"
			if strings.Join(got, " ") != want || n.Records != 5 || n.Malformed != tt.malformed {
				t.Errorf("got %q, counts %+v", got, n)
			}
		})
	}
	// A saved search response page is unwrapped.
	n, err := ReadExport(context.Background(), strings.NewReader(string(readFile(t, "search-page2.json"))), func(*exposure.Service) error { return nil })
	if err != nil || n.Records != 2 {
		t.Errorf("page export: %+v, %v", n, err)
	}
}

func FuzzParseHost(f *testing.F) {
	f.Add(readFile(f, "host-198.51.100.21.json"))
	f.Add([]byte(`{"ip":"198.51.100.1","services":[{"port":80,"http":{"response":{"headers":{"A_B":"x","C":["y"],"_e":{}}}}}]}`))
	f.Add([]byte(`{"ip":"::1","services":[{"port":"1e9"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := ParseHost(raw)
		if err != nil {
			return
		}
		svcs, _ := h.ServicesOf(false, "")
		for _, s := range svcs {
			if s.Validate() != nil {
				t.Fatalf("invalid service %+v", s)
			}
			exposure.Classify(s)
		}
	})
}
