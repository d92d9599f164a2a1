package shodan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

const testKey = "Qm9ndXNLZXlGb3JUZXN0czAxMjM0NTY3"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pageOf builds a realistic search page: n nginx banners on consecutive
// addresses starting at 198.51.100.<first>, the first one malformed when
// badFirst is set.
func pageOf(t testing.TB, first, n, total int, badFirst bool) []byte {
	var tmpl map[string]any
	if err := json.Unmarshal(readFile(t, "banner-nginx.json"), &tmpl); err != nil {
		t.Fatal(err)
	}
	matches := make([]any, 0, n)
	for i := range n {
		m := map[string]any{}
		for k, v := range tmpl {
			m[k] = v
		}
		a := netip.AddrFrom4([4]byte{198, 51, byte(100 + (first+i)/256), byte((first + i) % 256)})
		m["ip_str"] = a.String()
		if badFirst && i == 0 {
			m["port"] = "eighty"
		}
		matches = append(matches, m)
	}
	b, _ := json.Marshal(map[string]any{"matches": matches, "facets": map[string]any{}, "total": total})
	return b
}

type replay struct {
	calls   atomic.Int32
	handler func(w http.ResponseWriter, r *http.Request, call int32)
}

func newReplay(t *testing.T, h func(w http.ResponseWriter, r *http.Request, call int32)) (*Client, *replay) {
	t.Helper()
	rp := &replay{handler: h}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := rp.calls.Add(1)
		if r.URL.Query().Get("key") != testKey {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error": "Please provide a valid API key"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		rp.handler(w, r, n)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Options{BaseURL: srv.URL, Key: testKey, Rate: 1000, RetryBase: 5 * time.Millisecond, Timeout: 2 * time.Second, MaxBody: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return c, rp
}

func TestAPIInfoAndCount(t *testing.T) {
	c, _ := newReplay(t, func(w http.ResponseWriter, r *http.Request, _ int32) {
		switch r.URL.Path {
		case "/api-info":
			w.Write(readFile(t, "api-info.json"))
		case "/shodan/host/count":
			if r.URL.Query().Get("query") != "net:198.51.100.0/24" {
				w.WriteHeader(400)
				w.Write([]byte(`{"error": "Invalid search query"}`))
				return
			}
			w.Write([]byte(`{"matches": [], "facets": {}, "total": 217}`))
		}
	})
	info, err := c.APIInfo(context.Background())
	if err != nil || info.Plan != "dev" || info.QueryCredits != 87 || info.UsageLimits.QueryCredits != 100 {
		t.Fatalf("APIInfo = %+v, %v", info, err)
	}
	n, err := c.Count(context.Background(), "net:198.51.100.0/24")
	if err != nil || n != 217 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if _, err := c.Count(context.Background(), "net:bad"); err == nil || !strings.Contains(err.Error(), "Invalid search query") {
		t.Errorf("bad query: %v", err)
	}
	if Pages(217, 0) != 3 || Pages(217, 2) != 2 || Pages(0, 5) != 0 || Cost("net:x", 3) != 3 || Cost("nginx", 3) != 2 || Cost("nginx", 0) != 0 {
		t.Error("Pages/Cost arithmetic")
	}
}

func TestBadKey(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error": "Please provide a valid API key"}`))
	}))
	defer srv.Close()
	c, err := New(Options{BaseURL: srv.URL, Key: "wrong-key-123456", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.APIInfo(context.Background())
	if !errors.Is(err, feed.ErrUnauthorized) || strings.Contains(err.Error(), "wrong-key-123456") || !strings.Contains(err.Error(), "valid API key") {
		t.Errorf("err %v", err)
	}
	if _, err := New(Options{Key: " "}); err == nil || !strings.Contains(err.Error(), "SHODAN_API_KEY") {
		t.Errorf("New without key: %v", err)
	}
}

func TestSearchPaging(t *testing.T) {
	c, rp := newReplay(t, func(w http.ResponseWriter, r *http.Request, call int32) {
		q := r.URL.Query()
		if r.URL.Path != "/shodan/host/search" || q.Get("query") != "net:198.51.100.0/23" {
			w.WriteHeader(404)
			return
		}
		switch q.Get("page") {
		case "1":
			w.Write(pageOf(t, 0, 100, 217, true))
		case "2":
			if call == 2 { // the first try of page 2 is rate limited
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"error": "Request rate limit reached (1/second). Please wait a second."}`))
				return
			}
			w.Write(pageOf(t, 100, 100, 217, false))
		case "3":
			w.Write(pageOf(t, 200, 17, 217, false))
		default:
			w.Write([]byte(`{"matches": [], "total": 217}`))
		}
	})
	var got []*exposure.Service
	n, err := c.Search(context.Background(), "net:198.51.100.0/23", 10, func(s *exposure.Service) error {
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n.Records != 216 || n.Malformed != 1 || n.Queries != 3 || n.Credits != 3 || len(got) != 216 {
		t.Errorf("counts %+v, %d services", n, len(got))
	}
	if calls := rp.calls.Load(); calls != 4 {
		t.Errorf("%d requests, want 4 (3 pages and one retry)", calls)
	}
	if s := got[len(got)-1]; s.IP.String() != "198.51.100.216" || s.Port != 80 || s.HTTP == nil || s.HTTP.Title != "Welcome to nginx!" {
		t.Errorf("last service %+v", s)
	}

	// The page cap holds.
	rp.calls.Store(10)
	n, err = c.Search(context.Background(), "net:198.51.100.0/23", 2, func(*exposure.Service) error { return nil })
	if err != nil || n.Queries != 2 {
		t.Errorf("capped search: %+v, %v", n, err)
	}
}

func TestSearchFailures(t *testing.T) {
	tests := []struct {
		name string
		body func(t testing.TB, w http.ResponseWriter, page string)
		want string
	}{
		{"5xx", func(_ testing.TB, w http.ResponseWriter, _ string) {
			w.WriteHeader(503)
			w.Write([]byte(`{"error": "The search engine is temporarily unavailable."}`))
		}, "HTTP 503: The search engine is temporarily unavailable."},
		{"malformed json", func(_ testing.TB, w http.ResponseWriter, _ string) { w.Write([]byte(`{"matches": [{"ip_str": }]}`)) }, "malformed or truncated response"},
		{"truncated page 2", func(t testing.TB, w http.ResponseWriter, page string) {
			if page == "1" {
				w.Write(pageOf(t, 0, 100, 300, false))
				return
			}
			b := pageOf(t, 100, 100, 300, false)
			w.Write(b[:len(b)/2])
		}, "page 2"},
		{"oversized", func(_ testing.TB, w http.ResponseWriter, _ string) {
			w.Write([]byte(`{"matches": [], "total": 0, "pad": "` + strings.Repeat("A", 2<<20) + `"}`))
		}, "response too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newReplay(t, func(w http.ResponseWriter, r *http.Request, _ int32) { tt.body(t, w, r.URL.Query().Get("page")) })
			_, err := c.Search(context.Background(), "hostname:example.com", 5, func(*exposure.Service) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

func TestHost(t *testing.T) {
	c, _ := newReplay(t, func(w http.ResponseWriter, r *http.Request, _ int32) {
		switch r.URL.Path {
		case "/shodan/host/198.51.100.7":
			w.Write(readFile(t, "host-198.51.100.7.json"))
		default:
			w.WriteHeader(404)
			w.Write([]byte(`{"error": "No information available for that IP."}`))
		}
	})
	var got []*exposure.Service
	n, err := c.Host(context.Background(), netip.MustParseAddr("198.51.100.7"), func(s *exposure.Service) error {
		got = append(got, s)
		return nil
	})
	if err != nil || n.Records != 2 || n.Malformed != 1 || len(got) != 2 {
		t.Fatalf("Host: %+v, %v", n, err)
	}
	sse := got[1]
	if sse.Port != 8000 || sse.HTTP == nil || sse.HTTP.Path != "/sse" || len(sse.Hostnames) != 2 || sse.Hostnames[0] != "mcp.example.com" {
		t.Errorf("service %+v", sse)
	}
	if v := exposure.Classify(sse); v.Class != exposure.LikelyMCP {
		t.Errorf("class %s", v.Class)
	}
	n, err = c.Host(context.Background(), netip.MustParseAddr("198.51.100.8"), func(*exposure.Service) error { return nil })
	if err != nil || n.Records != 0 {
		t.Errorf("unknown host: %+v, %v", n, err)
	}
}

func TestParseBanners(t *testing.T) {
	tests := []struct {
		file  string
		ip    string
		port  int
		class exposure.Class
		tls   bool
		seen  string
	}{
		{"banner-fastmcp-sse.json", "198.51.100.7", 8000, exposure.LikelyMCP, false, "2025-10-14T06:12:44.512093Z"},
		{"banner-ts-streamable.json", "198.51.100.9", 3000, exposure.LikelyMCP, false, "2025-11-02T19:40:01.000412Z"},
		{"banner-oauth.json", "198.51.100.11", 443, exposure.LikelyMCP, true, "2025-09-30T11:02:17.77123Z"},
		{"banner-nginx.json", "198.51.100.12", 80, exposure.NotMCP, false, "2025-11-10T03:15:09.12Z"},
		{"banner-ssh.json", "198.51.100.12", 22, exposure.NotMCP, false, "2025-11-09T22:01:44.000001Z"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseBanner(readFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if s.IP.String() != tt.ip || s.Port != tt.port || s.TLS != tt.tls || s.Transport != "tcp" || s.Source != exposure.SourceShodan {
				t.Errorf("service %+v", s)
			}
			if got := s.Seen.Format(time.RFC3339Nano); got != tt.seen {
				t.Errorf("seen %s, want %s", got, tt.seen)
			}
			if v := exposure.Classify(s); v.Class != tt.class {
				t.Errorf("class %s (%q), want %s", v.Class, v.Signals, tt.class)
			}
		})
	}
	s, _ := ParseBanner(readFile(t, "banner-oauth.json"))
	if s.HTTP.Headers.Get("Www-Authenticate") == "" || s.HTTP.Status != 401 {
		t.Errorf("headers from the banner head: %+v", s.HTTP)
	}
	for _, bad := range []string{`{"port": 80}`, `{"ip_str": "198.51.100.1", "port": 0}`, `{"ip_str": "198.51.100.1", "port": 70000}`, `[1]`, `{"ip_str": "198.51.100.1", "port": "x"}`} {
		if _, err := ParseBanner([]byte(bad)); err == nil {
			t.Errorf("ParseBanner(%s): no error", bad)
		}
	}
}

func TestReadExport(t *testing.T) {
	for _, name := range []string{"export.jsonl", "export.json.gz"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var ips []string
			n, err := ReadExport(context.Background(), f, func(s *exposure.Service) error {
				ips = append(ips, s.IP.String()+":"+strconv.Itoa(s.Port))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := "198.51.100.7:8000 198.51.100.9:3000 198.51.100.11:443 198.51.100.12:80 198.51.100.12:22 203.0.113.40:8000"
			if strings.Join(ips, " ") != want || n.Records != 6 || n.Malformed != 2 {
				t.Errorf("got %q, counts %+v", ips, n)
			}
		})
	}
}

func FuzzParseBanner(f *testing.F) {
	for _, name := range []string{"banner-fastmcp-sse.json", "banner-oauth.json", "banner-ssh.json"} {
		f.Add(readFile(f, name))
	}
	f.Add([]byte(`{"ip_str":"::1","port":1,"http":{"status":"x"},"data":"HTTP/1.1 200\r\n:\r\n a: b\r\n"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := ParseBanner(raw)
		if err != nil {
			return
		}
		if s.Validate() != nil {
			t.Fatalf("invalid service returned: %+v", s)
		}
		exposure.Classify(s)
		_ = fmt.Sprint(s.Key())
	})
}
