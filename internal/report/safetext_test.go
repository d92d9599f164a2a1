package report

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSafeText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"plain", "filesystem", 0, "filesystem"},
		{"unicode kept", "météo ✓ 天気", 0, "météo ✓ 天気"},
		{"sgr", "\x1b[1;31mred\x1b[0m", 0, "red"},
		{"clear screen", "\x1b[2J\x1b[Hx", 0, "x"},
		{"csi private", "\x1b[?25lhidden cursor\x1b[?25h", 0, "hidden cursor"},
		{"osc title bel", "\x1b]0;pwned\x07name", 0, "name"},
		{"osc hyperlink st", "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", 0, "click"},
		{"osc unterminated", "name\x1b]0;rest of it", 0, "name"},
		{"osc then escape", "\x1b]0;t\x1b[31mx", 0, "x"},
		{"dcs", "a\x1bPq#0;2;0;0;0\x1b\\b", 0, "ab"},
		{"apc", "a\x1b_payload\x1b\\b", 0, "ab"},
		{"two-byte escape", "a\x1bcb", 0, "ab"},
		{"charset escape", "a\x1b(Bb", 0, "ab"},
		{"lone esc at end", "ab\x1b", 0, "ab"},
		{"esc before utf8", "a\x1bé", 0, "aé"},
		{"c1 csi", "a\u009b31mb", 0, "ab"},
		{"c1 osc", "a\u009d0;t\u009cb", 0, "ab"},
		{"c1 other", "a\u0085b\u0080c", 0, "a bc"},
		{"newlines", "line1\r\nline2\nline3", 0, "line1 line2 line3"},
		{"tabs and runs", "\t a \t\t b  ", 0, "a b"},
		{"bell and nul", "a\x07b\x00c\x7fd", 0, "abcd"},
		{"bidi override", "\u202egnp.exe\u202c", 0, "gnp.exe"},
		{"zero width", "ad\u200bmin\ufeff", 0, "admin"},
		{"invalid utf8", "a\xffb", 0, "a\ufffdb"},
		{"cap", "abcdefghij", 5, "abcd…"},
		{"cap exact", "abcde", 5, "abcde"},
		{"cap one", "abc", 1, "…"},
		{"cap trims space", "abc def", 5, "abc…"},
		{"cap counts runes", "ééééé", 4, "ééé…"},
		{"cap after cleaning", "\x1b[31ma\x1b[0m\nb", 3, "a b"},
		{"negative max", "abc", -1, "abc"},
		{"only junk", "\x1b[0m\n\t\u200b", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SafeText(tt.in, tt.max); got != tt.want {
				t.Errorf("SafeText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
		})
	}
}

func TestSafeMiddle(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"http://127.0.0.1:8000/mcp", 30, "http://127.0.0.1:8000/mcp"},
		{"http://a-very-long-host-name.example.com:8443/api/mcp", 21, "http://a-v…43/api/mcp"},
		{"abcdef", 1, "…"},
		{"ab\x1b[2Jcdef", 5, "ab…ef"},
		{"abcdef", 0, "abcdef"},
	}
	for _, tt := range tests {
		got := safeMiddle(tt.in, tt.max)
		if got != tt.want {
			t.Errorf("safeMiddle(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
		if tt.max > 0 && utf8.RuneCountInString(got) > tt.max {
			t.Errorf("safeMiddle(%q, %d) is %d runes", tt.in, tt.max, utf8.RuneCountInString(got))
		}
	}
}

// TestSafeTextBounded checks that a huge input costs no more than the cap.
func TestSafeTextBounded(t *testing.T) {
	huge := strings.Repeat("x", 8<<20)
	allocs := testing.AllocsPerRun(3, func() { _ = SafeText(huge, 40) })
	if allocs > 10 {
		t.Errorf("%v allocations for a capped call", allocs)
	}
	if got := SafeText(huge, 40); utf8.RuneCountInString(got) != 40 {
		t.Errorf("got %d runes, want 40", utf8.RuneCountInString(got))
	}
}

func FuzzSafeText(f *testing.F) {
	for _, s := range []string{"", "plain", hostileName, "\x1b]8;;x\x1b\\y", "\u009b2J", "a\xffb", " a  b ", "ééé"} {
		f.Add(s, 0)
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 1000
		got := SafeText(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("SafeText(%q) = %q: invalid UTF-8", s, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("SafeText(%q) = %q holds %U", s, got, r)
			}
		}
		if strings.Contains(got, "  ") || strings.TrimSpace(got) != got {
			t.Fatalf("SafeText(%q) = %q: uncollapsed space", s, got)
		}
		if max > 0 && utf8.RuneCountInString(got) > max {
			t.Fatalf("SafeText(%q, %d) = %q: %d runes", s, max, got, utf8.RuneCountInString(got))
		}
		if again := SafeText(got, max); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, got, again)
		}
		if m := safeMiddle(s, max); max > 0 && utf8.RuneCountInString(m) > max {
			t.Fatalf("safeMiddle(%q, %d) = %q: too long", s, max, m)
		}
	})
}
