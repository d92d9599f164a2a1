package gate

import (
	"encoding/json"
	"fmt"
)

// scanJSON checks in one pass that b is exactly one JSON value (RFC 8259,
// as encoding/json accepts it), nested at most maxDepth deep, in which no
// object repeats a member name when names are compared after decoding
// escapes and case folding (foldKey). Syntax errors wrap ErrParse; depth
// and duplicate names wrap ErrInvalidRequest. UTF-8 validity is checked
// by the caller.
//
// It replaces a token-by-token walk with encoding/json's Decoder, which
// allocated for every token and was the largest part of the gate's own
// cost per request.
func scanJSON(b []byte) error {
	s := jsonScanner{b: b}
	s.space()
	if err := s.value(0); err != nil {
		return err
	}
	s.space()
	if s.i != len(s.b) {
		return s.syntax("after the top-level value")
	}
	return nil
}

type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) syntax(what string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: unexpected end of JSON input", ErrParse)
	}
	return fmt.Errorf("%w: invalid character %q %s (offset %d)", ErrParse, s.b[s.i], what, s.i)
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value scans one value at nesting depth d (the number of enclosing
// objects and arrays).
func (s *jsonScanner) value(d int) error {
	if s.i >= len(s.b) {
		return s.syntax("looking for a value")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		if d >= maxDepth {
			return fmt.Errorf("%w: nested deeper than %d", ErrInvalidRequest, maxDepth)
		}
		return s.object(d + 1)
	case c == '[':
		if d >= maxDepth {
			return fmt.Errorf("%w: nested deeper than %d", ErrInvalidRequest, maxDepth)
		}
		return s.array(d + 1)
	case c == '"':
		_, _, err := s.str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	default:
		return s.syntax("looking for the beginning of a value")
	}
}

func (s *jsonScanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		// Point at the first byte that differs.
		for k := 0; k < len(lit) && s.i < len(s.b) && s.b[s.i] == lit[k]; k++ {
			s.i++
		}
		return s.syntax("in literal " + lit)
	}
	s.i += len(lit)
	return nil
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *jsonScanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return s.syntax("in numeric literal")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntax("after decimal point in numeric literal")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntax("in exponent of numeric literal")
		}
	}
	return nil
}

// str scans a string starting at its opening quote and returns its raw
// contents (between the quotes) and whether they hold an escape.
func (s *jsonScanner) str() (raw []byte, escaped bool, err error) {
	s.i++ // the opening quote
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			return raw, escaped, nil
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return nil, false, s.syntax("in string escape code")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for k := 0; k < 4; k++ {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return nil, false, s.syntax("in \\u hexadecimal character escape")
					}
					s.i++
				}
			default:
				return nil, false, s.syntax("in string escape code")
			}
		case c < 0x20:
			return nil, false, s.syntax("in string literal")
		default:
			s.i++
		}
	}
	return nil, false, s.syntax("in string literal")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *jsonScanner) array(d int) error {
	s.i++ // [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		return nil
	}
	for {
		s.space()
		if err := s.value(d); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return s.syntax("after array element")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.syntax("after array element")
		}
	}
}

func (s *jsonScanner) object(d int) error {
	s.i++ // {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	var keys keySet
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntax("looking for beginning of object key string")
		}
		raw, escaped, err := s.str()
		if err != nil {
			return err
		}
		k, err := memberName(raw, escaped)
		if err != nil {
			return err
		}
		if !keys.add(k) {
			return fmt.Errorf("%w: duplicate key %q", ErrInvalidRequest, k)
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntax("after object key")
		}
		s.i++
		s.space()
		if err := s.value(d); err != nil {
			return err
		}
		s.space()
		if s.i >= len(s.b) {
			return s.syntax("after object key:value pair")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.syntax("after object key:value pair")
		}
	}
}

// memberName is the folded name of a member whose raw (still escaped)
// text is raw: the way a case-insensitive decoder would see it.
func memberName(raw []byte, escaped bool) (string, error) {
	if !escaped {
		ascii := true
		for _, c := range raw {
			if c >= 0x80 {
				ascii = false
				break
			}
		}
		if ascii {
			// For ASCII, foldKey maps each letter to its upper case
			// (the least rune of its fold orbit: 'K' < 'k' < U+212A).
			out := make([]byte, len(raw))
			for i, c := range raw {
				if c >= 'a' && c <= 'z' {
					c -= 'a' - 'A'
				}
				out[i] = c
			}
			return string(out), nil
		}
		return foldKey(string(raw)), nil
	}
	// Escapes (rare in member names): decode exactly as encoding/json does,
	// invalid surrogates included.
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var k string
	if err := json.Unmarshal(quoted, &k); err != nil {
		return "", fmt.Errorf("%w: %v", ErrParse, err)
	}
	return foldKey(k), nil
}

// noDepth starts a scan whose nesting is not limited again (the input
// passed scanJSON already).
const noDepth = -1 << 30

// objectMembers splits an object that scanJSON accepted into its members,
// keyed by their decoded names (exactly, not folded), each value as its
// raw text. It reports false when raw is not an object. It does not
// validate again: that is what makes it cheaper than json.Unmarshal.
func objectMembers(raw []byte) (map[string]json.RawMessage, bool) {
	s := jsonScanner{b: raw}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, false
	}
	s.i++
	m := make(map[string]json.RawMessage, 8)
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		return m, true
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return nil, false
		}
		start := s.i
		_, _, err := s.str()
		if err != nil {
			return nil, false
		}
		name, ok := decodeString(s.b[start:s.i])
		if !ok {
			return nil, false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return nil, false
		}
		s.i++
		s.space()
		vstart := s.i
		if s.value(noDepth) != nil {
			return nil, false
		}
		m[name] = raw[vstart:s.i]
		s.space()
		if s.i >= len(s.b) {
			return nil, false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			return m, true
		default:
			return nil, false
		}
	}
}

// arrayElements splits an array that scanJSON accepted into the raw text
// of its elements; false when raw is not an array.
func arrayElements(raw []byte) ([]json.RawMessage, bool) {
	s := jsonScanner{b: raw}
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return nil, false
	}
	s.i++
	var out []json.RawMessage
	s.space()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		return out, true
	}
	for {
		s.space()
		start := s.i
		if s.value(noDepth) != nil {
			return nil, false
		}
		out = append(out, raw[start:s.i])
		s.space()
		if s.i >= len(s.b) {
			return nil, false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case ']':
			return out, true
		default:
			return nil, false
		}
	}
}

// decodeString decodes a JSON string literal (quotes included) that
// scanJSON accepted; false when v is not a string. Without escapes the
// bytes are taken as they are; with them, encoding/json decodes it (so
// invalid surrogates become U+FFFD exactly as an upstream would see them).
func decodeString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}
