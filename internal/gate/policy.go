package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/auth"
)

// Effects of a policy rule.
const (
	Allow = "allow"
	Deny  = "deny"
)

// Rule is one policy rule. A rule applies to a call when every selector
// that is set matches (a selector matches when any of its values does);
// unset selectors match everything.
type Rule struct {
	// Effect is Allow or Deny.
	Effect string `json:"effect"`
	// Kinds restricts the rule to "tool", "resource" or "prompt" (empty:
	// all three).
	Kinds []Kind `json:"kinds,omitempty"`
	// Names are exact tool names, resource URIs (or URI templates in
	// resources/templates/list) and prompt names. "*" matches every name
	// and a value ending in "*" matches the names it is a byte prefix of;
	// there is no other wildcard and no case or Unicode folding.
	Names []string `json:"names,omitempty"`
	// Subjects, Keys, Groups and Scopes select principals by
	// Principal.Subject, Principal.KeyName, any of Principal.Groups and any
	// of Principal.Scopes.
	Subjects []string `json:"subjects,omitempty"`
	Keys     []string `json:"keys,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
}

// Policy decides which principal may use which tool, resource and prompt.
// The first rule that applies wins; when none does, Default decides. A nil
// *Policy allows everything.
type Policy struct {
	Rules []Rule `json:"rules"`
	// Default is Allow or Deny; empty means Deny when there are rules and
	// Allow when there are none.
	Default string `json:"default,omitempty"`
}

// LoadPolicy reads a policy from a JSON file; unknown fields are errors.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses and validates a JSON policy, reporting every problem.
func ParsePolicy(b []byte) (*Policy, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("policy: data after the JSON object")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Validate reports every problem of p at once.
func (p *Policy) Validate() error {
	var probs []string
	if p.Default != "" && p.Default != Allow && p.Default != Deny {
		probs = append(probs, fmt.Sprintf("default: want %q or %q, got %q", Allow, Deny, p.Default))
	}
	for i, r := range p.Rules {
		if r.Effect != Allow && r.Effect != Deny {
			probs = append(probs, fmt.Sprintf("rules[%d].effect: want %q or %q, got %q", i, Allow, Deny, r.Effect))
		}
		for _, k := range r.Kinds {
			if k != KindTool && k != KindResource && k != KindPrompt {
				probs = append(probs, fmt.Sprintf("rules[%d].kinds: unknown kind %q (tool, resource, prompt)", i, k))
			}
		}
		for _, n := range r.Names {
			if n == "" {
				probs = append(probs, fmt.Sprintf("rules[%d].names: empty name", i))
			} else if strings.Contains(strings.TrimSuffix(n, "*"), "*") {
				probs = append(probs, fmt.Sprintf("rules[%d].names: %q: '*' only at the end", i, n))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("policy: %s", strings.Join(probs, "; "))
	}
	return nil
}

// Decide says whether principal p may use the kind of thing named name,
// and why (the rule index or "default").
func (pol *Policy) Decide(p *auth.Principal, kind Kind, name string) (bool, string) {
	if pol == nil {
		return true, "no policy"
	}
	for i := range pol.Rules {
		r := &pol.Rules[i]
		if r.applies(p, kind, name) {
			return r.Effect == Allow, fmt.Sprintf("rule %d (%s)", i, r.Effect)
		}
	}
	def := pol.Default
	if def == "" {
		def = Allow
		if len(pol.Rules) > 0 {
			def = Deny
		}
	}
	return def == Allow, "default " + def
}

func (r *Rule) applies(p *auth.Principal, kind Kind, name string) bool {
	if len(r.Kinds) > 0 && !slices.Contains(r.Kinds, kind) {
		return false
	}
	if len(r.Names) > 0 && !slices.ContainsFunc(r.Names, func(n string) bool { return nameMatches(n, name) }) {
		return false
	}
	if p == nil {
		p = &auth.Principal{}
	}
	if len(r.Subjects) > 0 && !slices.Contains(r.Subjects, p.Subject) {
		return false
	}
	if len(r.Keys) > 0 && (p.KeyName == "" || !slices.Contains(r.Keys, p.KeyName)) {
		return false
	}
	if len(r.Groups) > 0 && !slices.ContainsFunc(p.Groups, func(g string) bool { return slices.Contains(r.Groups, g) }) {
		return false
	}
	if len(r.Scopes) > 0 && !slices.ContainsFunc(p.Scopes, func(s string) bool { return slices.Contains(r.Scopes, s) }) {
		return false
	}
	return true
}

func nameMatches(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return pattern == name
}
