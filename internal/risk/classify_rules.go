package risk

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// The rules are data: rules/tools.json holds, per category, weighted
// signals over the parts of a tool definition and a threshold. See
// ParseToolRules for the format and the invariants the loader enforces.
//
//go:embed rules/tools.json
var toolRulesJSON []byte

// Fields a condition can look at. Every text field is lower case with runs
// of white space folded to one space; token fields are padded with spaces
// so that a pattern can anchor on " word ".
const (
	fieldName       = "name"        // tokens of the tool name
	fieldDesc       = "description" // title and description
	fieldText       = "text"        // name tokens, then title and description
	fieldParams     = "params"      // tokens of every input property name
	fieldParamNames = "param_names" // input property names as written
	fieldParamText  = "param_text"  // descriptions of the input properties
	fieldEnums      = "enums"       // tokens of string enum values in the schema
	fieldAnnotation = "annotation"  // a boolean annotation hint
)

var textFields = map[string]bool{
	fieldName: true, fieldDesc: true, fieldText: true, fieldParams: true,
	fieldParamNames: true, fieldParamText: true, fieldEnums: true,
}

// The annotation hints a condition may test.
var knownHints = map[string]bool{
	"readOnlyHint": true, "destructiveHint": true, "idempotentHint": true, "openWorldHint": true,
}

// Categories whose score a safety claim (readOnlyHint: true) may lower.
// A claim never lowers command-exec, secrets, network-fetch or any other
// category: annotations are claims, not proof.
var claimLowerable = map[string]bool{FileWrite: true, DBWrite: true, Destructive: true}

// ToolRules is a parsed, validated rule set; build it with
// ParseToolRules.
type ToolRules struct {
	Version    int            `json:"version"`
	Categories []CategoryRule `json:"categories"`

	parsed bool
}

// CategoryRule is the rule of one category: the category applies when the
// weights of the matching signals add up to at least Threshold.
type CategoryRule struct {
	ID        string   `json:"id"`
	Threshold int      `json:"threshold"`
	Signals   []Signal `json:"signals"`
}

// Signal adds Weight (negative weights are counter-evidence) when all of
// its conditions hold.
type Signal struct {
	ID     string      `json:"id"`
	Weight int         `json:"weight"`
	When   []Condition `json:"when"`

	order []int // indexes of When, cheapest field first
}

// Condition tests one field. A text condition holds when one of Any
// matches (or Any is empty) and none of None matches; an annotation
// condition holds when the hint is present with the value Is.
type Condition struct {
	In   string   `json:"in"`
	Any  []string `json:"any,omitempty"`
	None []string `json:"none,omitempty"`
	Hint string   `json:"hint,omitempty"`
	Is   *bool    `json:"is,omitempty"`

	anyRE  []*regexp.Regexp
	noneRE []*regexp.Regexp
}

// ParseToolRules reads and validates a rules document. It rejects unknown
// keys, unknown categories and fields, bad regular expressions, duplicate
// ids, categories without a rule, and two policies:
//   - a signal made only of annotation conditions must weigh less than the
//     threshold (a claim alone never adds a category);
//   - a negative signal that tests readOnlyHint may only lower
//     file-write, db-write or destructive, by at most 2.
//
// All problems are reported at once.
func ParseToolRules(data []byte) (*ToolRules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rs ToolRules
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("risk rules: %w", err)
	}
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("risk rules: "+format, a...)) }
	if rs.Version != 1 {
		bad("version %d, want 1", rs.Version)
	}
	seen := map[string]bool{}
	for ci := range rs.Categories {
		cr := &rs.Categories[ci]
		if !IsCategory(cr.ID) {
			bad("unknown category %q", cr.ID)
		}
		if seen[cr.ID] {
			bad("category %q listed twice", cr.ID)
		}
		seen[cr.ID] = true
		if cr.Threshold <= 0 {
			bad("%s: threshold %d must be positive", cr.ID, cr.Threshold)
		}
		ids := map[string]bool{}
		for si := range cr.Signals {
			s := &cr.Signals[si]
			where := fmt.Sprintf("%s/%s", cr.ID, s.ID)
			if s.ID == "" {
				bad("%s: signal %d has no id", cr.ID, si)
			}
			if ids[s.ID] {
				bad("%s: duplicate signal id", where)
			}
			ids[s.ID] = true
			if s.Weight == 0 {
				bad("%s: weight 0", where)
			}
			if len(s.When) == 0 {
				bad("%s: no conditions", where)
			}
			onlyAnnotations, readOnlyClaim := true, false
			for k := range s.When {
				c := &s.When[k]
				if c.In != fieldAnnotation {
					onlyAnnotations = false
				}
				if err := c.compile(); err != nil {
					bad("%s: condition %d: %v", where, k, err)
				}
				if c.In == fieldAnnotation && c.Hint == "readOnlyHint" && c.Is != nil && *c.Is {
					readOnlyClaim = true
				}
			}
			s.order = evalOrder(s.When)
			if onlyAnnotations && s.Weight >= cr.Threshold {
				bad("%s: an annotation alone weighs %d, at least the threshold %d (claims are not proof)", where, s.Weight, cr.Threshold)
			}
			if readOnlyClaim && s.Weight < 0 && (!claimLowerable[cr.ID] || s.Weight < -2) {
				bad("%s: readOnlyHint may only lower file-write, db-write or destructive, by at most 2 (weight %d)", where, s.Weight)
			}
		}
	}
	for _, c := range categories {
		if !seen[c.ID] {
			bad("no rule for category %q", c.ID)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rs.parsed = true
	return &rs, nil
}

// fieldCost ranks fields by how much text they usually hold, so that a
// signal tests its cheap conditions first and skips the long descriptions
// when a name condition already fails.
func fieldCost(in string) int {
	switch in {
	case fieldAnnotation:
		return 0
	case fieldName:
		return 1
	case fieldParams, fieldParamNames, fieldEnums:
		return 2
	case fieldParamText:
		return 3
	case fieldDesc:
		return 4
	case fieldText:
		return 5
	}
	return 6 // joined fields
}

func evalOrder(when []Condition) []int {
	order := make([]int, len(when))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return fieldCost(when[order[a]].In) < fieldCost(when[order[b]].In) })
	return order
}

// isTextField accepts a text field or several joined with "+".
func isTextField(in string) bool {
	for _, p := range strings.Split(in, "+") {
		if !textFields[p] {
			return false
		}
	}
	return in != ""
}

func (c *Condition) compile() error {
	switch {
	case c.In == fieldAnnotation:
		if !knownHints[c.Hint] {
			return fmt.Errorf("unknown annotation hint %q", c.Hint)
		}
		if c.Is == nil {
			return errors.New("annotation condition without \"is\"")
		}
		if len(c.Any)+len(c.None) > 0 {
			return errors.New("annotation condition with patterns")
		}
		return nil
	case isTextField(c.In):
		if c.Hint != "" || c.Is != nil {
			return fmt.Errorf("field %q with hint or is", c.In)
		}
		if len(c.Any)+len(c.None) == 0 {
			return fmt.Errorf("field %q without patterns", c.In)
		}
	default:
		return fmt.Errorf("unknown field %q", c.In)
	}
	compile := func(pats []string) ([]*regexp.Regexp, error) {
		out := make([]*regexp.Regexp, 0, len(pats))
		for _, p := range pats {
			re, err := regexp.Compile(p)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", p, err)
			}
			out = append(out, re)
		}
		return out, nil
	}
	var err error
	if c.anyRE, err = compile(c.Any); err != nil {
		return err
	}
	c.noneRE, err = compile(c.None)
	return err
}

// defaultToolRules is the embedded rule set, parsed once. The file is part
// of the binary and a test parses it, so a failure here is a build defect.
var defaultToolRules = sync.OnceValue(func() *ToolRules {
	rs, err := ParseToolRules(toolRulesJSON)
	if err != nil {
		panic("risk: embedded rules/tools.json: " + err.Error())
	}
	return rs
})
