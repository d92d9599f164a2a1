package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzQuery sends arbitrary query strings to every page and API: the
// answer is a success or a client error, never a server error, and an
// error page never echoes markup from the query.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"", "url=http%3A%2F%2F127.0.0.1%3A3002%2Fmcp", "type=tool.changed&since=24h", "since=2026-11-01T10:00:00Z",
		"after=3&limit=2", "limit=0", "severity=high", "runs=1", "observations=500&url=x", "url=%ff",
		"since=99999999999d", "since=-1h", "a=1&a=2", "%zz", "url=<script>alert(1)</script>", "type=<b>",
	} {
		f.Add(seed)
	}
	sc := newScenario(f)
	h := sc.handler(f)
	paths := []string{"/", "/endpoint", "/events", "/findings", "/history",
		"/api/inventory", "/api/endpoint", "/api/events", "/api/findings", "/api/history"}
	f.Fuzz(func(t *testing.T, q string) {
		for _, p := range paths {
			// The raw query as a server would receive it, whatever bytes.
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+p, nil)
			r.URL.RawQuery = q
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch w.Code {
			case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusRequestURITooLong:
			default:
				t.Fatalf("%s?%s: status %d: %s", p, q, w.Code, w.Body)
			}
			if w.Code != http.StatusOK && strings.Contains(w.Body.String(), "<script>alert") {
				t.Fatalf("%s?%s: error echoes markup", p, q)
			}
		}
	})
}
