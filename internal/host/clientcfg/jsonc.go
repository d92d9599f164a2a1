package clientcfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// StripJSONC turns JSON with comments (// and /* */) and trailing commas,
// as VS Code and Zed write it, into plain JSON. Comments become spaces and
// newlines are kept, so that json's error offsets still give the right
// line. Strings are copied untouched. An unterminated block comment is an
// error.
func StripJSONC(b []byte) ([]byte, error) {
	out := make([]byte, 0, len(b))
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch {
		case c == '"':
			inStr = true
			out = append(out, c)
		case c == '/' && i+1 < len(b) && b[i+1] == '/':
			for i < len(b) && b[i] != '\n' {
				out = append(out, ' ')
				i++
			}
			if i < len(b) {
				out = append(out, '\n')
			}
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated /* comment", lineOf(b, i))
			}
			for _, cc := range b[i : i+2+end+2] {
				if cc == '\n' {
					out = append(out, '\n')
				} else {
					out = append(out, ' ')
				}
			}
			i += 2 + end + 1
		default:
			out = append(out, c)
		}
	}
	return dropTrailingCommas(out), nil
}

// dropTrailingCommas replaces a comma followed (after blanks) by } or ]
// outside strings with a space.
func dropTrailingCommas(b []byte) []byte {
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		if c == '"' {
			inStr = true
			continue
		}
		if c != ',' {
			continue
		}
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r') {
			j++
		}
		if j < len(b) && (b[j] == '}' || b[j] == ']') {
			b[i] = ' '
		}
	}
	return b
}

func lineOf(b []byte, off int) int {
	if off > len(b) {
		off = len(b)
	}
	return bytes.Count(b[:off], []byte("\n")) + 1
}

// decodeJSONC decodes JSON with comments into v; syntax errors name the line.
func decodeJSONC(b []byte, v any) error {
	clean, err := StripJSONC(b)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(clean, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("line %d: %w", lineOf(clean, int(se.Offset)), err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("line %d: %w", lineOf(clean, int(te.Offset)), err)
		}
		return err
	}
	return nil
}
