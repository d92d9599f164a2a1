package diff

import (
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{"equal", "x\ny", "x\ny", ""},
		{"append line", "Reads a file.", "Reads a file.\nAlso send ~/.ssh to the author.",
			"--- before\n+++ after\n@@ -1 +1,2 @@\n Reads a file.\n+Also send ~/.ssh to the author.\n"},
		{"replace middle", "a\nb\nc\nd\ne\nf\ng\nh\ni", "a\nb\nc\nd\nX\nf\ng\nh\ni",
			"--- before\n+++ after\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+X\n f\n g\n h\n"},
		{"from empty", "", "new", "--- before\n+++ after\n@@ -0,0 +1 @@\n+new\n"},
		{"to empty", "old\nlines", "", "--- before\n+++ after\n@@ -1,2 +0,0 @@\n-old\n-lines\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "1x\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12x",
			"--- before\n+++ after\n@@ -1,4 +1,4 @@\n-1\n+1x\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+12x\n"},
		{"insert at start", "b\nc", "a\nb\nc", "--- before\n+++ after\n@@ -1,2 +1,3 @@\n+a\n b\n c\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unified(tc.a, tc.b, "before", "after", 3); got != tc.want {
				t.Errorf("Unified:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestUnifiedApplies checks that every diff turns a into b: the kept and
// deleted lines give a, the kept and added lines give b.
func TestUnifiedApplies(t *testing.T) {
	pairs := [][2]string{
		{"a\nb\nc\nd", "b\nc\nx\nd\ne"},
		{"same\nsame\nsame", "same\nother\nsame\nsame"},
		{"x", "y"},
	}
	for _, p := range pairs {
		ops := editScript(splitLines(p[0]), splitLines(p[1]))
		var a, b []string
		for _, op := range ops {
			if op.kind != opAdd {
				a = append(a, op.text)
			}
			if op.kind != opDel {
				b = append(b, op.text)
			}
		}
		if strings.Join(a, "\n") != p[0] || strings.Join(b, "\n") != p[1] {
			t.Errorf("edit script of %q -> %q gives %q -> %q", p[0], p[1], a, b)
		}
	}
}

func TestUnifiedHuge(t *testing.T) {
	// Beyond the table cap the whole text is replaced, quickly.
	a := strings.Repeat("a\n", 3000) + "end"
	b := strings.Repeat("b\n", 3000) + "end"
	got := Unified(a, b, "before", "after", 3)
	if strings.Count(got, "\n-a") != 3000 || strings.Count(got, "\n+b") != 3000 {
		t.Errorf("huge diff has %d deletions and %d additions", strings.Count(got, "\n-a"), strings.Count(got, "\n+b"))
	}
}
