package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/dashboard"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// The dashboard over a store that has seen one open MCP server.
func Example() {
	dir, err := os.MkdirTemp("", "dashboard")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "watch.db"), nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()

	rec := &result.Endpoint{URL: "http://127.0.0.1:3000/mcp", Status: result.StatusMCP,
		Auth: &result.AuthInfo{Scheme: result.AuthNone}, Tools: []result.Tool{{Name: "read_file"}}}
	prev, _ := s.LatestState(ctx, "lab")
	run, _ := s.BeginRun(ctx, "lab")
	now := time.Now()
	if _, err := s.CompleteRun(ctx, run, []*result.Endpoint{rec}, diff.Diff(prev, []*result.Endpoint{rec}, now, nil)); err != nil {
		panic(err)
	}

	h, err := dashboard.New(dashboard.Options{Store: s})
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1:8080/api/inventory", nil))
	fmt.Println(w.Code, w.Header().Get("Content-Type"))
	fmt.Println(strings.Contains(w.Body.String(), `"url":"http://127.0.0.1:3000/mcp"`), strings.Contains(w.Body.String(), `"exposed":true`))

	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "http://127.0.0.1:8080/", nil))
	fmt.Println(w.Code, w.Header().Get("Allow"))
	// Output:
	// 200 application/json; charset=utf-8
	// true true
	// 405 GET, HEAD
}
