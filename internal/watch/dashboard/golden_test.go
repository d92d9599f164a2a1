package dashboard

import (
	"bytes"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden compares whole pages of the scenario with testdata/golden.
// After an intended change, run: go test ./internal/watch/dashboard -run TestGolden -update
func TestGolden(t *testing.T) {
	sc := newScenario(t)
	h := sc.handler(t)
	for name, target := range map[string]string{
		"inventory.html":  "/",
		"endpoint-b.html": "/endpoint?url=" + url.QueryEscape(urlB),
		"events.html":     "/events",
		"findings.html":   "/findings",
		"history.html":    "/history",
	} {
		t.Run(name, func(t *testing.T) {
			w := get(t, h, target)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			file := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, w.Body.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := w.Body.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s (run with -update after checking the change):\n%s", target, file, firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows where two pages start to differ.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-80)
	return "got:  ..." + string(got[lo:min(len(got), i+80)]) + "\nwant: ..." + string(want[lo:min(len(want), i+80)])
}
