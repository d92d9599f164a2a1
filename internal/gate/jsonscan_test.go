package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestScanJSON(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		name string
		in   string
		err  error // nil, ErrParse or ErrInvalidRequest
	}{
		{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, nil},
		{"whitespace everywhere", " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", nil},
		{"numbers", `[0,-0,1.5,-1.5e10,2E-3,1e+2,123456789012345678901234567890]`, nil},
		{"escapes", `["\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"]`, nil},
		{"empty containers", `[{},[],""]`, nil},
		{"scalar", `42`, nil},
		{"depth at the limit", deep(maxDepth), nil},

		{"empty", ``, ErrParse},
		{"leading zero", `[01]`, ErrParse},
		{"lone minus", `[-]`, ErrParse},
		{"dot without digits", `[1.]`, ErrParse},
		{"leading dot", `[.5]`, ErrParse},
		{"exponent without digits", `[1e]`, ErrParse},
		{"plus sign", `[+1]`, ErrParse},
		{"bad escape", `["\x"]`, ErrParse},
		{"short unicode escape", `["\u12"]`, ErrParse},
		{"control character", "[\"a\x01b\"]", ErrParse},
		{"unterminated string", `["abc`, ErrParse},
		{"trailing comma in array", `[1,]`, ErrParse},
		{"trailing comma in object", `{"a":1,}`, ErrParse},
		{"missing colon", `{"a" 1}`, ErrParse},
		{"unquoted key", `{a:1}`, ErrParse},
		{"two values", `{} {}`, ErrParse},
		{"garbage after", `{}x`, ErrParse},
		{"bad literal", `[tru]`, ErrParse},
		{"capital literal", `[True]`, ErrParse},
		{"unclosed", `{"a":[1,2}`, ErrParse},

		{"too deep", deep(maxDepth + 1), ErrInvalidRequest},
		{"duplicate key", `{"a":1,"a":2}`, ErrInvalidRequest},
		{"duplicate key by case", `{"name":"echo","NAME":"shell"}`, ErrInvalidRequest},
		{"duplicate key by escape", `{"name":"echo","\u006eame":"shell"}`, ErrInvalidRequest},
		{"duplicate key by Kelvin sign", `{"kind":1,"\u212aind":2}`, ErrInvalidRequest},
		{"duplicate key by long s", `{"params":1,"param\u017f":2}`, ErrInvalidRequest},
		{"duplicate key raw Unicode", "{\"\u212aey\":1,\"key\":2}", ErrInvalidRequest},
		{"duplicate nested", `{"a":{"x":1,"x":2}}`, ErrInvalidRequest},
		{"same key in sibling objects is fine", `[{"a":1},{"a":2}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := scanJSON([]byte(tt.in))
			if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("scanJSON(%q) = %v, want %v", tt.in, err, tt.err)
			}
			// Syntax verdicts agree with encoding/json.
			if parseErr := errors.Is(err, ErrParse); parseErr == json.Valid([]byte(tt.in)) {
				t.Errorf("scanJSON parse error %v but json.Valid = %v", err, json.Valid([]byte(tt.in)))
			}
		})
	}
}

// FuzzScanJSON checks scanJSON against encoding/json: it reports a syntax
// error exactly when json.Valid rejects the input, and on valid JSON it
// gives the same verdict (accept, too deep, duplicate member) as a
// token-by-token walk with encoding/json's Decoder, the implementation it
// replaced.
func FuzzScanJSON(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}`,
		`{"a":1,"A":2}`, `{"\u0041":1,"a":2}`, `[1,2.5e3,-0,"x\u00e9"]`, `{"a":{"b":[{"c":null}]}}`,
		`[01]`, `"\ud800"`, `{"k":1,"\u212a":2}`, "\"\xff\"", `{"\ud800":1,"\udbff":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := scanJSON(b)
		if !json.Valid(b) {
			if err == nil {
				t.Fatalf("scanJSON accepted %q, json.Valid rejects it", b)
			}
			return
		}
		if errors.Is(err, ErrParse) {
			t.Fatalf("scanJSON(%q) = %v, json.Valid accepts it", b, err)
		}
		want := tokenWalk(b)
		if errors.Is(err, ErrInvalidRequest) != errors.Is(want, ErrInvalidRequest) || (err == nil) != (want == nil) {
			t.Fatalf("scanJSON(%q) = %v, token walk = %v", b, err, want)
		}
	})
}

// tokenWalk is the reference: encoding/json's Decoder token by token, with
// the same depth limit and folded duplicate check.
func tokenWalk(b []byte) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	type frame struct {
		obj, wantKey bool
		keys         map[string]bool
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return fmt.Errorf("%w: %v", ErrParse, err)
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.obj && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].wantKey = true
				}
				continue
			}
			k := foldKey(tok.(string))
			if top.keys[k] {
				return ErrInvalidRequest
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) >= maxDepth {
					return ErrInvalidRequest
				}
				stack = append(stack, frame{obj: d == '{', wantKey: d == '{', keys: map[string]bool{}})
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].obj {
			stack[len(stack)-1].wantKey = true
		}
	}
}
