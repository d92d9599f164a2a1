package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseWorkersSource(t *testing.T) {
	c, err := Parse(strings.NewReader(`
db: postgres://watch@db.internal/watch
groups:
  - name: fleet
    source: workers
    interval: 30s
  - name: local
    host: true
`), "t.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Groups[0]; g.Source != SourceWorkers || g.Schedule.Interval != 30*time.Second || len(g.Targets) != 0 {
		t.Errorf("workers group = %+v", g)
	}
	if g := c.Groups[1]; g.Source != "" || !g.Host {
		t.Errorf("host group = %+v", g)
	}

	_, err = Parse(strings.NewReader(`
groups:
  - name: a
    source: workerz
  - name: b
    source: workers
    targets: [127.0.0.1]
    ports: "80"
  - name: c
    source: workers
    host: true
`), "t.yaml", nil)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	for _, w := range []string{`group "a": unknown source "workerz"`, `group "b": source: workers takes its records`,
		`group "c": source: workers takes its records`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "no targets") {
		t.Errorf("a workers group needs no targets:\n%v", err)
	}
}
