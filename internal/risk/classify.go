package risk

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Bounds on what the classifier reads of one (possibly hostile) tool
// definition. Past them the rest is ignored: the verdict stays bounded in
// time and memory whatever a server lists.
const (
	maxNameLen     = 256
	maxTextLen     = 16 << 10 // description, title, one property description
	maxSchemaBytes = 256 << 10
	maxSchemaDepth = 8
	maxProperties  = 256
	maxSnippet     = 40
)

// Match is one category a tool falls in, with the evidence.
type Match struct {
	Category string `json:"category"`
	// Score is the sum of the weights of the signals that fired; the
	// category applies at or above its threshold.
	Score int `json:"score"`
	// Reasons names each signal that fired, the text it matched and its
	// weight, counter-evidence included, e.g.
	// `run-code-in-name: name "execute", name "command" (+3)`.
	Reasons []string `json:"reasons"`
}

// ClassifyTool tags a tool with what it lets a caller do, using the
// embedded rules. Matches are sorted by category id.
//
// Annotations are claims, not proof, and are weighed so:
//   - destructiveHint: true is evidence for destructive; it adds the
//     category only together with a sign that the tool changes state or
//     runs code (a tool that only creates, reads or navigates stays out);
//   - readOnlyHint: true is counter-evidence for file-write, db-write and
//     destructive (at most 2 points), never for command-exec, secrets,
//     network-fetch or the others; a tool named delete_file stays
//     destructive whatever it claims;
//   - no annotation alone ever adds a category (the rules loader enforces
//     both limits).
func ClassifyTool(t result.Tool) []Match { return defaultToolRules().ClassifyTool(t) }

// ToolCategories returns the sorted category ids of a tool, nil when none.
func ToolCategories(t result.Tool) []string { return ids(ClassifyTool(t)) }

// ClassifyTool applies the rule set to a tool. A ToolRules that did not
// come from ParseToolRules classifies nothing.
func (rs *ToolRules) ClassifyTool(t result.Tool) []Match {
	if rs == nil || !rs.parsed {
		return nil
	}
	f := extract(t)
	var out []Match
	for i := range rs.Categories {
		cr := &rs.Categories[i]
		if m := cr.score(f); m.Score >= cr.Threshold && m.Score > 0 {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Category < out[j].Category })
	return out
}

// score adds up the signals of one category that fire on f, whether or
// not the sum reaches the threshold.
func (cr *CategoryRule) score(f *features) Match {
	m := Match{Category: cr.ID}
	for i := range cr.Signals {
		s := &cr.Signals[i]
		ev, ok := s.eval(f)
		if !ok {
			continue
		}
		m.Score += s.Weight
		m.Reasons = append(m.Reasons, fmt.Sprintf("%s: %s (%+d)", s.ID, strings.Join(ev, ", "), s.Weight))
	}
	return m
}

func ids(ms []Match) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Category
	}
	return out
}

// eval reports whether every condition holds and, if so, the evidence in
// the order the conditions are written. Conditions are tested cheapest
// first; the first that fails ends the test.
func (s *Signal) eval(f *features) ([]string, bool) {
	ev := make([]string, len(s.When))
	for _, i := range s.order {
		c := &s.When[i]
		if c.In == fieldAnnotation {
			v, ok := f.hints[c.Hint]
			if !ok || v != *c.Is {
				return nil, false
			}
			ev[i] = fmt.Sprintf("annotation %s=%t", c.Hint, v)
			continue
		}
		text := f.field(c.In)
		for _, re := range c.noneRE {
			if re.MatchString(text) {
				return nil, false
			}
		}
		if len(c.anyRE) == 0 {
			ev[i] = "no " + c.In + " match"
			continue
		}
		hit := false
		for _, re := range c.anyRE {
			if loc := re.FindStringIndex(text); loc != nil {
				ev[i] = fmt.Sprintf("%s %q", c.In, snippet(text[loc[0]:loc[1]]))
				hit = true
				break
			}
		}
		if !hit {
			return nil, false
		}
	}
	return ev, true
}

func snippet(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxSnippet {
		return s
	}
	cut := maxSnippet
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// features are the normalised parts of a tool definition the rules see.
type features struct {
	name, desc, text, params, paramNames, paramText, enums string
	hints                                                  map[string]bool
	joined                                                 map[string]string // cache of "a+b" fields
}

// field returns the text of a field, or of several joined with "+"
// ("text+param_text"), separated by " | ".
func (f *features) field(in string) string {
	if strings.Contains(in, "+") {
		if v, ok := f.joined[in]; ok {
			return v
		}
		parts := strings.Split(in, "+")
		for i, p := range parts {
			parts[i] = f.field(p)
		}
		v := strings.Join(parts, " | ")
		f.joined[in] = v
		return v
	}
	switch in {
	case fieldName:
		return f.name
	case fieldDesc:
		return f.desc
	case fieldText:
		return f.text
	case fieldParams:
		return f.params
	case fieldParamNames:
		return f.paramNames
	case fieldParamText:
		return f.paramText
	case fieldEnums:
		return f.enums
	}
	return ""
}

func extract(t result.Tool) *features {
	f := &features{hints: map[string]bool{}, joined: map[string]string{}}
	f.name = " " + strings.Join(tokens(clip(t.Name, maxNameLen)), " ") + " "

	title := t.Title
	if len(t.Annotations) > 0 && len(t.Annotations) <= maxSchemaBytes {
		var raw map[string]json.RawMessage
		if json.Unmarshal(t.Annotations, &raw) == nil {
			for h := range knownHints {
				var b bool
				if v, ok := raw[h]; ok && json.Unmarshal(v, &b) == nil {
					f.hints[h] = b
				}
			}
			var annTitle string
			if v, ok := raw["title"]; ok && title == "" && json.Unmarshal(v, &annTitle) == nil {
				title = annTitle
			}
		}
	}
	desc := normText(clip(t.Description, maxTextLen))
	if title = normText(clip(title, maxNameLen)); title != "" {
		desc = title + ". " + desc
	}
	f.desc = desc
	f.text = f.name + desc

	var w schemaWalk
	if len(t.InputSchema) > 0 && len(t.InputSchema) <= maxSchemaBytes {
		var schema any
		if json.Unmarshal(t.InputSchema, &schema) == nil {
			w.walk(schema, 0)
		}
	}
	f.params = " " + strings.Join(w.tokens, " ") + " "
	f.paramNames = " " + strings.Join(w.names, " ") + " "
	f.paramText = strings.Join(w.texts, " | ")
	f.enums = " " + strings.Join(w.enums, " ") + " "
	return f
}

// schemaWalk collects property names, their descriptions and string enum
// values from a JSON Schema, depth-first, keys in sorted order.
type schemaWalk struct {
	names, tokens, texts, enums []string
	seen                        int
}

func (w *schemaWalk) walk(node any, depth int) {
	m, ok := node.(map[string]any)
	if !ok || depth > maxSchemaDepth || w.seen >= maxProperties {
		return
	}
	if e, ok := m["enum"].([]any); ok {
		for _, v := range e {
			if s, ok := v.(string); ok && len(w.enums) < maxProperties {
				w.enums = append(w.enums, tokens(clip(s, maxNameLen))...)
			}
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if w.seen >= maxProperties {
				return
			}
			w.seen++
			name := clip(k, maxNameLen)
			w.names = append(w.names, strings.ToLower(name))
			w.tokens = append(w.tokens, tokens(name)...)
			if pm, ok := props[k].(map[string]any); ok {
				if d, ok := pm["description"].(string); ok {
					w.texts = append(w.texts, normText(clip(d, maxTextLen)))
				}
			}
			w.walk(props[k], depth+1)
		}
	}
	for _, key := range []string{"items", "additionalProperties"} {
		w.walk(m[key], depth+1)
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if alts, ok := m[key].([]any); ok {
			for _, a := range alts {
				w.walk(a, depth+1)
			}
		}
	}
}

// clip cuts s to at most n bytes without splitting a rune.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// normText lower-cases s and folds every run of white space (and control
// characters) to a single space.
func normText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// tokens splits an identifier into lower-case words: at anything that is
// not a letter or digit (snake_case, kebab-case, dots, slashes, spaces) and
// at camelCase boundaries ("getHTTPResponse" -> get, http, response).
// Digits stay with the letters before them ("ec2", "s3").
func tokens(s string) []string {
	var out []string
	rs := []rune(s)
	start := -1
	flush := func(end int) {
		if start >= 0 && end > start {
			out = append(out, strings.ToLower(string(rs[start:end])))
		}
		start = -1
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			continue
		}
		if start < 0 {
			start = i
			continue
		}
		prev := rs[i-1]
		switch {
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush(i) // fooBar
			start = i
		case unicode.IsUpper(r) && unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1]):
			flush(i) // HTTPServer -> HTTP, Server
			start = i
		case unicode.IsLetter(r) && unicode.IsDigit(prev):
			flush(i) // v2beta -> v2, beta
			start = i
		}
	}
	flush(len(rs))
	return out
}

// Classify sets the risk categories of every tool and resource of an
// endpoint, and the endpoint's summary: the sorted union over tools,
// resources and resource templates, or nil when there is none.
func Classify(ep *result.Endpoint) {
	union := map[string]bool{}
	for i := range ep.Tools {
		ep.Tools[i].Risk = cachedToolCategories(ep.Tools[i])
		for _, c := range ep.Tools[i].Risk {
			union[c] = true
		}
	}
	for i := range ep.Resources {
		r := &ep.Resources[i]
		r.Risk = ResourceCategories(r.URI, r.Name)
		for _, c := range r.Risk {
			union[c] = true
		}
	}
	for i := range ep.ResourceTemplates {
		rt := &ep.ResourceTemplates[i]
		rt.Risk = ResourceCategories(rt.URITemplate, rt.Name)
		for _, c := range rt.Risk {
			union[c] = true
		}
	}
	if len(union) == 0 {
		ep.Risk = nil
		return
	}
	cats := make([]string, 0, len(union))
	for c := range union {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	ep.Risk = &result.RiskSummary{Categories: cats}
}
