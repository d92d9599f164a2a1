package rules

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md from the catalogue")

// TestMarkdownUpToDate fails when docs/rules.md is not what Markdown
// renders; go generate ./internal/rules (or go test -update) rewrites it.
func TestMarkdownUpToDate(t *testing.T) {
	path := filepath.Join("..", "..", filepath.FromSlash(DocPath))
	got := Markdown()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go generate ./internal/rules to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./internal/rules (or go test ./internal/rules -update)", DocPath)
	}
}

// TestMarkdownCoversCatalogue checks that every rule is in the document
// with each of its parts, in id order.
func TestMarkdownCoversCatalogue(t *testing.T) {
	doc := string(Markdown())
	last := 0
	for _, r := range All() {
		t.Run(r.ID, func(t *testing.T) {
			heading := "\n## " + r.ID + "\n"
			i := strings.Index(doc, heading)
			if i < 0 {
				t.Fatalf("no section %q", heading)
			}
			if i < last {
				t.Errorf("section out of id order")
			}
			last = i
			section := doc[i+len(heading):]
			if j := strings.Index(section, "\n## "); j >= 0 {
				section = section[:j]
			}
			for _, want := range []string{
				"**" + escapeMarkdown(r.Title) + "**",
				"Default severity: " + r.Severity.String(),
				"**Why.** " + escapeMarkdown(r.Why),
				"**Fix.** " + escapeMarkdown(r.Fix),
			} {
				if !strings.Contains(section, want) {
					t.Errorf("section lacks %q", want)
				}
			}
			row := "| [" + r.ID + "](#" + r.Anchor() + ") | " + r.Severity.String() + " | " + escapeMarkdown(r.Title) + " |\n"
			if !strings.Contains(doc, row) {
				t.Errorf("index lacks row %q", row)
			}
		})
	}
	// The only HTML is the generated-file comment.
	if n := strings.Count(doc, "<") - strings.Count(doc, `\<`); n != 1 || !strings.Contains(doc, "<!-- Generated") {
		t.Errorf("%d unescaped '<' in the document", n)
	}
}

func TestEscapeMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, numbers 1.0 and (parens)", "plain text, numbers 1.0 and (parens)"},
		{`resource_metadata="<absolute URL>"`, `resource\_metadata="\<absolute URL\>"`},
		{"a | b", `a \| b`},
		{"*bold* `code` [link](x) ~strike~", `\*bold\* \` + "`" + `code\` + "`" + ` \[link\](x) \~strike\~`},
		{`back\slash & #hash !bang`, `back\\slash \& \#hash \!bang`},
		{"two\nlines\r", "two lines "},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := escapeMarkdown(tt.in); got != tt.want {
				t.Errorf("escapeMarkdown(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	r, ok := Lookup(ResourceMetadataBad)
	if !ok {
		t.Fatal("no rule", ResourceMetadataBad)
	}
	if got, want := r.HelpText(), "Why: "+r.Why+"\n\nFix: "+r.Fix; got != want {
		t.Errorf("HelpText = %q, want %q", got, want)
	}
	md := r.HelpMarkdown()
	if !strings.HasPrefix(md, "**Why.** ") || !strings.Contains(md, "\n\n**Fix.** ") {
		t.Errorf("HelpMarkdown = %q", md)
	}
	if strings.Contains(md, "<absolute URL>") || !strings.Contains(md, `\<absolute URL\>`) {
		t.Errorf("HelpMarkdown does not escape the fix's angle brackets: %q", md)
	}
	if r.Anchor() != "mcpw-002" {
		t.Errorf("Anchor = %q", r.Anchor())
	}
}

// TestCatalogueText checks what the report formats rely on: every rule has
// all its parts, fits GitHub's 1024-character description limit, and is
// one line of text.
func TestCatalogueText(t *testing.T) {
	for _, r := range All() {
		for name, s := range map[string]string{"title": r.Title, "why": r.Why, "fix": r.Fix} {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: empty %s", r.ID, name)
			}
			if len(s) > 1024 {
				t.Errorf("%s: %s is %d bytes (GitHub shows at most 1024)", r.ID, name, len(s))
			}
			if strings.ContainsAny(s, "\n\r\t") {
				t.Errorf("%s: %s holds a line break or tab", r.ID, name)
			}
		}
	}
}

func ExampleRule_HelpMarkdown() {
	r, _ := Lookup(TLSExpired)
	fmt.Println(r.ID, r.Anchor())
	fmt.Println(r.HelpMarkdown())
	// Output:
	// MCPW-013 mcpw-013
	// **Why.** Clients that verify certificates refuse the connection; clients taught to ignore errors can be intercepted.
	//
	// **Fix.** Renew the certificate and automate renewal (ACME).
}
