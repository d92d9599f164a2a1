package report

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis marks text that SafeText shortened.
const Ellipsis = "…"

// SafeText makes s, which may come from a hostile server, safe and compact
// for one line of terminal output:
//
//   - terminal escape sequences (ESC and 8-bit C1 introducers with their
//     parameters and strings: CSI, OSC, DCS, SOS, PM, APC) are removed whole;
//   - other control characters and Unicode format characters (bidi
//     overrides, zero-width characters) are removed;
//   - newlines, tabs and other white space become one space; leading and
//     trailing space is dropped;
//   - invalid UTF-8 becomes U+FFFD;
//   - when max > 0 and the result is longer than max runes, it is cut to
//     max runes, the last of which is Ellipsis. max <= 0 means no cap.
//
// SafeText(SafeText(s, n), n) == SafeText(s, n) for every s and n.
func SafeText(s string, max int) string {
	clean, long := sanitize(s, max)
	if !long {
		return clean
	}
	return cutEnd(clean, max)
}

// safeMiddle is SafeText that shortens by cutting out the middle, for text
// whose both ends matter (URLs: scheme and host on the left, port and path
// on the right).
func safeMiddle(s string, max int) string {
	clean, _ := sanitize(s, 0)
	if max <= 0 || utf8.RuneCountInString(clean) <= max {
		return clean
	}
	if max == 1 {
		return Ellipsis
	}
	r := []rune(clean)
	tail := (max - 1) / 2
	head := max - 1 - tail
	return strings.TrimRight(string(r[:head]), " ") + Ellipsis + strings.TrimLeft(string(r[len(r)-tail:]), " ")
}

// cutEnd shortens clean (already sanitised) to max runes ending in Ellipsis.
func cutEnd(clean string, max int) string {
	if max <= 1 {
		return Ellipsis
	}
	r := []rune(clean)
	if len(r) <= max {
		return clean
	}
	return strings.TrimRight(string(r[:max-1]), " ") + Ellipsis
}

// sanitize applies every rule of SafeText but the cap. When max > 0 it stops
// once the output holds more than max runes and reports long = true, so that
// a huge input costs no more than the cap.
func sanitize(s string, max int) (out string, long bool) {
	var b strings.Builder
	if max > 0 {
		b.Grow(min(len(s), 4*max+4))
	} else {
		b.Grow(len(s))
	}
	n := 0
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case 0x1b: // ESC
			i = skipEscape(s, i)
			continue
		case 0x9b: // 8-bit CSI
			i = skipCSI(s, i)
			continue
		case 0x90, 0x98, 0x9d, 0x9e, 0x9f: // 8-bit DCS, SOS, OSC, PM, APC
			i = skipControlString(s, i)
			continue
		}
		if unicode.IsSpace(r) {
			space = n > 0
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		b.WriteRune(r) // an invalid byte arrives as utf8.RuneError, U+FFFD
		n++
		if max > 0 && n > max {
			return b.String(), true
		}
	}
	return b.String(), false
}

// skipEscape returns the index just past the escape sequence whose ESC
// ended at i (ECMA-48: CSI, control strings, or intermediates and a final
// byte). A malformed sequence ends where it stops matching, and the byte
// that broke it is read as text again.
func skipEscape(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch c := s[i]; {
	case c == '[':
		return skipCSI(s, i+1)
	case c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_':
		return skipControlString(s, i+1)
	case c >= 0x20 && c <= 0x2f: // intermediates, then one final byte
		for i < len(s) && s[i] >= 0x20 && s[i] <= 0x2f {
			i++
		}
		if i < len(s) && s[i] >= 0x30 && s[i] <= 0x7e {
			i++
		}
		return i
	case c >= 0x30 && c <= 0x7e: // a two-byte sequence such as ESC c
		return i + 1
	default:
		return i
	}
}

// skipCSI returns the index just past the parameters, intermediates and
// final byte of a control sequence that starts at i.
func skipCSI(s string, i int) int {
	for i < len(s) && s[i] >= 0x20 && s[i] <= 0x3f {
		i++
	}
	if i < len(s) && s[i] >= 0x40 && s[i] <= 0x7e {
		i++
	}
	return i
}

// skipControlString returns the index just past the string terminator (BEL,
// ESC \ or the 8-bit ST) of a control string that starts at i, or len(s)
// when the string is not terminated: a terminal would swallow it all too.
func skipControlString(s string, i int) int {
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == 0x07 || r == 0x9c:
			return i + size
		case r == 0x1b:
			if i+1 < len(s) && s[i+1] == '\\' {
				return i + 2
			}
			return i // a new escape sequence starts: let the caller read it
		}
		i += size
	}
	return i
}
