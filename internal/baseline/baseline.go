// Package baseline reads a file of accepted findings (each with a reason
// and an optional expiry date) and marks matching findings as suppressed,
// so that CI gates on what is new. The format is YAML:
//
//	version: 1
//	accepted:
//	  - rule: MCPW-001                       # a rule id, or "*"
//	    url: http://127.0.0.1:3000/mcp       # an endpoint URL; * matches any run of characters
//	    reason: lab server, loopback only    # required
//	    expires: 2027-01-31                  # optional; after this day the entry no longer applies
package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Entry is one accepted finding.
type Entry struct {
	Rule    string `yaml:"rule"`
	URL     string `yaml:"url"`
	Reason  string `yaml:"reason"`
	Expires string `yaml:"expires,omitempty"`

	urlRE   *regexp.Regexp
	expires time.Time // zero: never; otherwise the first instant no longer covered
}

// Baseline is a parsed baseline file.
type Baseline struct {
	Version  int     `yaml:"version"`
	Accepted []Entry `yaml:"accepted"`
}

// maxSize caps a baseline file.
const maxSize = 8 << 20

// Read parses a baseline. Unknown keys, a missing reason, an unknown rule
// id, a bad date: every problem is reported at once, each with its entry.
func Read(name string, r io.Reader) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("baseline %s: larger than %d bytes", name, maxSize)
	}
	var b Baseline
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	var problems []string
	if b.Version != 1 {
		problems = append(problems, fmt.Sprintf("version is %d, want 1", b.Version))
	}
	for i := range b.Accepted {
		e := &b.Accepted[i]
		where := fmt.Sprintf("accepted[%d]", i)
		if e.Rule == "" {
			problems = append(problems, where+": rule is missing (a rule id, or *)")
		} else if _, ok := rules.Lookup(e.Rule); !ok && e.Rule != "*" {
			problems = append(problems, fmt.Sprintf("%s: unknown rule %q", where, e.Rule))
		}
		if strings.TrimSpace(e.URL) == "" {
			problems = append(problems, where+": url is missing (an endpoint URL, * for any run of characters)")
		} else {
			e.urlRE = globRE(e.URL)
		}
		if strings.TrimSpace(e.Reason) == "" {
			problems = append(problems, where+": reason is missing: say why this finding is accepted")
		}
		if e.Expires != "" {
			d, err := time.Parse(time.DateOnly, e.Expires)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: expires %q is not a date like 2027-01-31", where, e.Expires))
			} else {
				e.expires = d.AddDate(0, 0, 1) // the whole expiry day is covered
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("baseline %s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	return &b, nil
}

func globRE(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
}

// Expired returns the entries whose expiry date has passed at now.
func (b *Baseline) Expired(now time.Time) []Entry {
	var out []Entry
	for _, e := range b.Accepted {
		if !e.expires.IsZero() && !now.Before(e.expires) {
			out = append(out, e)
		}
	}
	return out
}

// Apply marks the findings of ep that an entry in force at now accepts.
// It returns how many it marked.
func (b *Baseline) Apply(ep *result.Endpoint, now time.Time) int {
	if b == nil {
		return 0
	}
	n := 0
	for i := range ep.Findings {
		f := &ep.Findings[i]
		for _, e := range b.Accepted {
			if !e.expires.IsZero() && !now.Before(e.expires) {
				continue
			}
			if (e.Rule == "*" || e.Rule == f.Rule) && e.urlRE.MatchString(ep.URL) {
				f.Suppressed = &finding.Suppression{Reason: e.Reason, Expires: e.Expires}
				n++
				break
			}
		}
	}
	return n
}
