package rules

import (
	"bytes"
	"fmt"
	"strings"
)

//go:generate go test -run TestMarkdownUpToDate . -update

// DocPath is where Markdown is kept, relative to the repository root.
const DocPath = "docs/rules.md"

// HelpText is the rule's why and fix as plain text, one paragraph each.
func (r Rule) HelpText() string {
	return "Why: " + r.Why + "\n\nFix: " + r.Fix
}

// HelpMarkdown is the rule's why and fix as Markdown, one paragraph each,
// with the catalogue's text escaped so that it renders as written.
func (r Rule) HelpMarkdown() string {
	return "**Why.** " + escapeMarkdown(r.Why) + "\n\n**Fix.** " + escapeMarkdown(r.Fix)
}

// TitleMarkdown is the rule's title escaped for Markdown (a heading, a
// table cell or running text).
func (r Rule) TitleMarkdown() string {
	return escapeMarkdown(r.Title)
}

// Anchor is the fragment that links to the rule's section of DocPath
// ("mcpw-001" for MCPW-001): GitHub derives it from the section heading.
func (r Rule) Anchor() string {
	return strings.ToLower(r.ID)
}

// Markdown renders the whole catalogue (All) as the document kept at
// DocPath: an index table, then one section per rule with its id, default
// severity, title, why and fix. The output depends on the catalogue only.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("# Rules\n\n")
	b.WriteString("<!-- Generated from internal/rules/rules.go by `go generate ./internal/rules`. Do not edit. -->\n\n")
	b.WriteString("Every finding mcpwarden reports names one rule of this catalogue. A rule id\n")
	b.WriteString("(`MCPW-NNN`) is stable: it is never renumbered or reused, and a retired rule\n")
	b.WriteString("stops firing. The severity below is the rule's default; a finding may be\n")
	b.WriteString("reported higher or lower where the rule says how it scales (for instance with\n")
	b.WriteString("the address class of the target). `mcpwarden rules MCPW-NNN` prints the same\n")
	b.WriteString("text.\n\n")
	b.WriteString("| Id | Severity | Title |\n|---|---|---|\n")
	all := All()
	for _, r := range all {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s |\n", r.ID, r.Anchor(), r.Severity, r.TitleMarkdown())
	}
	for _, r := range all {
		fmt.Fprintf(&b, "\n## %s\n\n", r.ID)
		fmt.Fprintf(&b, "**%s**\n\n", r.TitleMarkdown())
		fmt.Fprintf(&b, "Default severity: %s\n\n", r.Severity)
		b.WriteString(r.HelpMarkdown())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// escapeMarkdown backslash-escapes the characters that would make Markdown
// (CommonMark with the GitHub table, strikethrough and autolink
// extensions) read catalogue text as markup: emphasis, code, links,
// HTML, entities, @mentions and table cell separators. Newlines become
// spaces: every
// use is one paragraph or one table cell.
func escapeMarkdown(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '~', '&', '#', '!', '@':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
