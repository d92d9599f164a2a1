package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// parseInterspersed parses fs over args, allowing flags after positional
// arguments (mcpwarden scan 127.0.0.1 -p 3000) as operators expect of a
// scanner. "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at the first non-flag, or after "--".
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// listFlag collects a repeatable flag; each use may hold comma-separated values.
type listFlag struct {
	vals  []string
	split bool
}

func (l *listFlag) String() string { return strings.Join(l.vals, ",") }
func (l *listFlag) Set(v string) error {
	if !l.split {
		l.vals = append(l.vals, v)
		return nil
	}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l.vals = append(l.vals, p)
		}
	}
	return nil
}

// headerFlag collects --header 'Name: value'. Values are secrets: String
// never shows them.
type headerFlag struct{ h http.Header }

func (h *headerFlag) String() string {
	if h == nil || len(h.h) == 0 {
		return ""
	}
	names := make([]string, 0, len(h.h))
	for k := range h.h {
		names = append(names, k+": [redacted]")
	}
	return strings.Join(names, ", ")
}

func (h *headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	name = strings.TrimSpace(name)
	value = strings.TrimSpace(value)
	if !ok || name == "" {
		return errors.New(`want "Name: value"`)
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return fmt.Errorf("invalid header name %q", name)
		}
	}
	if strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %s: value contains a line break or NUL", name)
	}
	if h.h == nil {
		h.h = http.Header{}
	}
	h.h.Add(name, value)
	return nil
}

// durationFlag rejects negative durations.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.String()
}
func (f durationFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration (try 5s, 2m): %q", v)
	}
	if d < 0 {
		return fmt.Errorf("negative duration %q", v)
	}
	*f.d = d
	return nil
}

// sizeFlag reads byte sizes like 4MiB, 512KiB, 1048576.
type sizeFlag struct{ n *int64 }

func (f sizeFlag) String() string {
	if f.n == nil {
		return ""
	}
	return fmt.Sprint(*f.n)
}
func (f sizeFlag) Set(v string) error {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n <= 0 {
		return fmt.Errorf("not a positive size (try 4MiB): %q", v)
	}
	*f.n = n * mult
	return nil
}

// positiveInt is an int flag that must be >= 1.
type positiveInt struct{ n *int }

func (f positiveInt) String() string {
	if f.n == nil {
		return ""
	}
	return fmt.Sprint(*f.n)
}
func (f positiveInt) Set(v string) error {
	var n int
	if _, err := fmt.Sscan(v, &n); err != nil || n < 1 || fmt.Sprint(n) != strings.TrimSpace(v) {
		return fmt.Errorf("want a whole number >= 1, got %q", v)
	}
	*f.n = n
	return nil
}
