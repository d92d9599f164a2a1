package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

func TestAutoColor(t *testing.T) {
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	// os.DevNull is a character device, the same file type as a terminal.
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	tests := []struct {
		name string
		w    any
		env  func(string) string
		want bool
	}{
		{"buffer", &bytes.Buffer{}, nil, false},
		{"regular file", file, nil, false},
		{"nil file", (*os.File)(nil), nil, false},
		{"char device", dev, nil, true},
		{"char device, empty env", dev, env(nil), true},
		{"NO_COLOR", dev, env(map[string]string{"NO_COLOR": "1"}), false},
		{"TERM=dumb", dev, env(map[string]string{"TERM": "dumb"}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := tt.w.(interface{ Write([]byte) (int, error) })
			if got := AutoColor(w, tt.env); got != tt.want {
				t.Errorf("AutoColor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPaint(t *testing.T) {
	if got := paint(false, finding.High, "HIGH"); got != "HIGH" {
		t.Errorf("paint off = %q", got)
	}
	seen := map[string]bool{}
	for s := finding.Info; s <= finding.Critical; s++ {
		got := paint(true, s, "X")
		if !ourSGR.MatchString(got) || ourSGR.ReplaceAllString(got, "") != "X" {
			t.Errorf("paint(%v) = %q", s, got)
		}
		seen[got] = true
	}
	if len(seen) != 5 {
		t.Errorf("%d distinct colours for 5 severities", len(seen))
	}
}
