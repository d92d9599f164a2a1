package probe

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// capText returns s as valid UTF-8 (each invalid byte sequence becomes
// U+FFFD) cut to at most n bytes on a rune boundary. Every piece of server
// text goes through it before it enters a record: encoding/json would
// otherwise replace invalid bytes silently, and a byte cut could split a
// rune.
func capText(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// validText is capText without a length cap.
func validText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// sanitize is the last step of every probe: it guarantees that every string
// of the record is valid UTF-8, whatever path the text took to get there
// (server fields, headers, URLs from redirects, error messages, TLS
// certificate names). It walks the record by reflection, so that a field
// added to the record later is covered without anyone remembering to.
func sanitize(ep *result.Endpoint) {
	validValue(reflect.ValueOf(ep).Elem())
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// validValue makes every string and json.RawMessage reachable from the
// addressable value v valid UTF-8.
func validValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			validValue(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		cp := reflect.New(v.Elem().Type()).Elem()
		cp.Set(v.Elem())
		validValue(cp)
		v.Set(cp)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				validValue(f)
			}
		}
	case reflect.Slice:
		if v.Type() == rawMessageType {
			if b := v.Bytes(); b != nil && !utf8.Valid(b) && v.CanSet() {
				// Invalid bytes can only sit inside string literals of
				// a syntactically valid document: replacing them keeps
				// it valid JSON.
				v.SetBytes(bytes.ToValidUTF8(b, []byte("\uFFFD")))
			}
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // other bytes are not text
		}
		for i := range v.Len() {
			validValue(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			validValue(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		fixed := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			validValue(k)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			validValue(e)
			fixed.SetMapIndex(k, e)
		}
		v.Set(fixed)
	case reflect.String:
		if s := v.String(); !utf8.ValidString(s) && v.CanSet() {
			v.SetString(strings.ToValidUTF8(s, "\uFFFD"))
		}
	}
}
