// Package finding is the one finding model shared by scan, host, watch and
// gate: a severity scale and a Finding that names a rule of the catalogue
// (package rules) with the evidence that triggered it.
package finding

import (
	"fmt"
	"strings"
)

// Severity orders findings. The zero value is Info.
type Severity int

// The severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// String returns the lower-case name ("info" ... "critical").
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (case-insensitive). "none" is accepted
// and returns a severity above Critical, so that a --fail-on none threshold
// is never reached.
func ParseSeverity(s string) (Severity, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	if name == "none" {
		return Critical + 1, nil
	}
	return 0, fmt.Errorf("unknown severity %q (want info, low, medium, high, critical or none)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("finding: invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	if v > Critical {
		return fmt.Errorf("finding: %q is not a finding severity", b)
	}
	*s = v
	return nil
}

// Finding is one rule that fired on one subject (an endpoint, a listener, a
// client configuration, a gateway route).
type Finding struct {
	// Rule is the stable catalogue id, "MCPW-NNN".
	Rule string `json:"rule"`
	// Severity may differ from the rule's default where the rule says how it
	// scales (for instance with the address class of the target).
	Severity Severity `json:"severity"`
	// Title is the rule's title.
	Title string `json:"title"`
	// Evidence says what was observed, in one or two sentences. It never
	// holds a credential.
	Evidence string `json:"evidence,omitempty"`
	// Suppressed is set when a baseline accepts this finding; a suppressed
	// finding is reported but does not count towards --fail-on.
	Suppressed *Suppression `json:"suppressed,omitempty"`
}

// Suppression says why a finding is accepted.
type Suppression struct {
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
}

// Max returns the highest severity among the findings of fs that are not
// suppressed, and whether there was any.
func Max(fs []Finding) (Severity, bool) {
	m, any := Info, false
	for _, f := range fs {
		if f.Suppressed != nil {
			continue
		}
		if !any || f.Severity > m {
			m, any = f.Severity, true
		}
	}
	return m, any
}
