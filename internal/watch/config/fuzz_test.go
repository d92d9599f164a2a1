package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParse: any input is parsed or rejected with an *Error naming
// problems; nothing panics, and a parsed config is complete.
func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("groups: [{name: a, targets: [127.0.0.1], cron: '@every 5m'}]\n"))
	f.Add([]byte("groups: [{name: h, host: true}]\nalerts: [{name: l, type: log, events: [tool.changed]}]\n"))
	f.Add([]byte("groups:\n  - name: x\n    targets: [127.0.0.1-5]\n    ports: '1-65535'\n    interval: 1d\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(bytes.NewReader(b), "fuzz.yaml", func(string) string { return "http://127.0.0.1/x" })
		if err != nil {
			var ce *Error
			if errors.As(err, &ce) && len(ce.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		if len(c.Groups) == 0 {
			t.Fatal("a config without groups was accepted")
		}
		for _, g := range c.Groups {
			if g.Name == "" || (g.Schedule.Cron == nil && g.Schedule.Interval < MinInterval) {
				t.Fatalf("bad group accepted: %+v", g)
			}
			if !g.Host && len(g.Targets) == 0 && len(g.TargetFiles) == 0 {
				t.Fatalf("group without targets accepted: %+v", g)
			}
		}
		for _, r := range c.Alerts {
			if r.Name == "" || r.Timeout <= 0 || r.MaxAttempts <= 0 || strings.TrimSpace(r.Kind) == "" {
				t.Fatalf("bad route accepted: %+v", r)
			}
		}
	})
}
