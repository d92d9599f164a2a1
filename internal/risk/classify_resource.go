package risk

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// rules/resources.json lists the patterns of sensitive resource URIs:
// credential files, whole file systems, URLs that carry a password, URI
// templates that expand to any path.
//
//go:embed rules/resources.json
var resourceRulesJSON []byte

// Where a resource rule looks.
const (
	scopeFile     = "file"     // the decoded, lower-case path of a local file URI
	scopeURI      = "uri"      // the whole URI, lower case
	scopeName     = "name"     // the resource name, lower case
	scopeTemplate = "template" // the whole URI, lower case, when it is a URI template
)

// ResourceRules is a parsed, validated set of resource rules; build it with
// ParseResourceRules.
type ResourceRules struct {
	Version int            `json:"version"`
	Rules   []ResourceRule `json:"rules"`

	parsed bool
}

// ResourceRule gives Categories to a resource when one of Any matches in
// Scope.
type ResourceRule struct {
	ID         string   `json:"id"`
	Scope      string   `json:"scope"`
	Any        []string `json:"any"`
	Categories []string `json:"categories"`

	re []*regexp.Regexp
}

// ParseResourceRules reads and validates a resource rules document,
// reporting every problem at once.
func ParseResourceRules(data []byte) (*ResourceRules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rs ResourceRules
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("risk resource rules: %w", err)
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("risk resource rules: "+format, a...))
	}
	if rs.Version != 1 {
		bad("version %d, want 1", rs.Version)
	}
	ids := map[string]bool{}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.ID == "" || ids[r.ID] {
			bad("rule %d: missing or duplicate id %q", i, r.ID)
		}
		ids[r.ID] = true
		switch r.Scope {
		case scopeFile, scopeURI, scopeName, scopeTemplate:
		default:
			bad("%s: unknown scope %q", r.ID, r.Scope)
		}
		if len(r.Categories) == 0 {
			bad("%s: no categories", r.ID)
		}
		for _, c := range r.Categories {
			if !IsCategory(c) {
				bad("%s: unknown category %q", r.ID, c)
			}
		}
		if len(r.Any) == 0 {
			bad("%s: no patterns", r.ID)
		}
		for _, p := range r.Any {
			re, err := regexp.Compile(p)
			if err != nil {
				bad("%s: pattern %q: %v", r.ID, p, err)
				continue
			}
			r.re = append(r.re, re)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rs.parsed = true
	return &rs, nil
}

var defaultResourceRules = sync.OnceValue(func() *ResourceRules {
	rs, err := ParseResourceRules(resourceRulesJSON)
	if err != nil {
		panic("risk: embedded rules/resources.json: " + err.Error())
	}
	return rs
})

// ResourceCategories returns the sorted risk categories of a resource or
// resource template, nil for an ordinary one. Sensitive local files
// (.env, SSH and cloud credentials, private keys, /etc/shadow) are
// file-read and secrets; whole file systems, home directories and
// /etc/passwd are file-read; a URL with a password in it is secrets; a
// template that expands to any path (file:///{path}) is file-read.
func ResourceCategories(uri, name string) []string {
	return defaultResourceRules().Categories(uri, name)
}

// Categories applies the rules to one resource URI (or URI template) and
// its name. A ResourceRules that did not come from ParseResourceRules
// finds nothing.
func (rs *ResourceRules) Categories(uri, name string) []string {
	if rs == nil || !rs.parsed {
		return nil
	}
	uri = clip(strings.TrimSpace(uri), maxTextLen)
	lower := strings.ToLower(uri)
	in := map[string]string{
		scopeURI:  lower,
		scopeName: normText(clip(name, maxNameLen)),
	}
	if p, ok := localPath(uri); ok {
		in[scopeFile] = p
	}
	if strings.Contains(uri, "{") {
		in[scopeTemplate] = lower
	}
	set := map[string]bool{}
	for _, r := range rs.Rules {
		text, ok := in[r.Scope]
		if !ok || text == "" {
			continue
		}
		for _, re := range r.re {
			if re.MatchString(text) {
				for _, c := range r.Categories {
					set[c] = true
				}
				break
			}
		}
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// localPath returns the lower-case, percent-decoded path of a file: URI
// (or of a bare absolute path), with Windows drive paths turned into
// "/c:/...". ok is false for any other URI.
func localPath(uri string) (string, bool) {
	var p string
	switch {
	case len(uri) >= 5 && strings.EqualFold(uri[:5], "file:"):
		p = uri[5:]
		if strings.HasPrefix(p, "//") {
			p = p[2:]
			// file://host/path: the host part ends at the next slash; an
			// empty host (file:///path) or "localhost" is the local machine.
			if i := strings.IndexByte(p, '/'); i >= 0 {
				p = p[i:]
			} else {
				p = "/"
			}
		}
	case strings.HasPrefix(uri, "/"), strings.HasPrefix(uri, "~"):
		p = uri
	default:
		return "", false
	}
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	if dec, err := url.PathUnescape(p); err == nil {
		p = dec
	}
	p = strings.ReplaceAll(p, `\`, "/")
	if len(p) >= 2 && p[1] == ':' && p[0] != '/' { // "C:/Users" after a bare drive letter
		p = "/" + p
	}
	if p == "" {
		p = "/"
	}
	return strings.ToLower(p), true
}
