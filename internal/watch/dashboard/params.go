package dashboard

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
)

// params reads the query parameters of one request: each is allowed once,
// unknown ones are refused, and values are bounded.
type params struct {
	q    url.Values
	errs []string
}

// badRequest is a client error with a message safe to show.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func parseParams(raw string, allowed ...string) (*params, error) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, &badRequest{"malformed query string"}
	}
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			return nil, &badRequest{fmt.Sprintf("unknown parameter %q (allowed: %s)", truncate(k, 40), strings.Join(allowed, ", "))}
		}
		if len(vs) > 1 {
			return nil, &badRequest{fmt.Sprintf("parameter %q given %d times", k, len(vs))}
		}
	}
	return &params{q: q}, nil
}

func (p *params) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Sprintf(format, args...))
}

// err returns every problem found so far, or nil.
func (p *params) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return &badRequest{strings.Join(p.errs, "; ")}
}

func (p *params) str(name string, max int) string {
	v := p.q.Get(name)
	if len(v) > max {
		p.fail("%s: longer than %d bytes", name, max)
		return ""
	}
	if !utf8.ValidString(v) {
		p.fail("%s: not valid UTF-8", name)
		return ""
	}
	return v
}

// intIn returns the parameter as an integer in [min, max], def when absent.
func (p *params) intIn(name string, def, min, max int) int {
	v := p.q.Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail("%s: %q is not an integer from %d to %d", name, truncate(v, 20), min, max)
		return def
	}
	return n
}

func (p *params) int64Min(name string, min int64) int64 {
	v := p.q.Get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < min {
		p.fail("%s: %q is not an integer >= %d", name, truncate(v, 20), min)
		return 0
	}
	return n
}

// time reads an RFC 3339 time or a duration back from now ("24h", "7d").
func (p *params) time(name string, now time.Time) time.Time {
	v := p.q.Get(name)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if d, ok := parseAgo(v); ok {
		return now.Add(-d)
	}
	p.fail("%s: %q is neither an RFC 3339 time nor a duration such as 24h or 7d", name, truncate(v, 40))
	return time.Time{}
}

// parseAgo reads a positive duration of at most ten years, with "d" for days.
func parseAgo(v string) (time.Duration, bool) {
	const max = 10 * 365 * 24 * time.Hour
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3650 {
			return 0, false
		}
		return time.Duration(days) * 24 * time.Hour, true
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > max {
		return 0, false
	}
	return d, true
}

func (p *params) eventType(name string) model.Type {
	v := p.q.Get(name)
	if v == "" {
		return ""
	}
	t := model.Type(v)
	if !t.Valid() {
		p.fail("%s: unknown event type %q", name, truncate(v, 40))
		return ""
	}
	return t
}

// severity reads a severity name; ok is false when absent.
func (p *params) severity(name string) (finding.Severity, bool) {
	v := p.q.Get(name)
	if v == "" {
		return finding.Info, false
	}
	s, err := finding.ParseSeverity(v)
	if err != nil || s > finding.Critical {
		p.fail("%s: unknown severity %q (want info, low, medium, high or critical)", name, truncate(v, 40))
		return finding.Info, false
	}
	return s, true
}
