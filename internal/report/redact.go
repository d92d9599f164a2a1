package report

import (
	"bytes"
	"encoding/json"
	"reflect"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
)

// redactEndpoint returns a deep copy of e in which f has been applied to
// every string. It walks the record by reflection so that a field added to
// result.Endpoint later is redacted without anyone remembering to list it.
func redactEndpoint(e *result.Endpoint, f func(string) string) *result.Endpoint {
	src := reflect.ValueOf(e).Elem()
	dst := reflect.New(src.Type()).Elem()
	copyRedacted(dst, src, f)
	return dst.Addr().Interface().(*result.Endpoint)
}

// copyRedacted sets dst (settable, same type as src) to a deep copy of src
// with f applied to every string.
func copyRedacted(dst, src reflect.Value, f func(string) string) {
	switch src.Type() {
	case rawMessageType:
		if !src.IsNil() {
			dst.Set(reflect.ValueOf(redactRaw(src.Interface().(json.RawMessage), f)))
		}
		return
	case timeType:
		dst.Set(src)
		return
	}
	switch src.Kind() {
	case reflect.String:
		dst.SetString(f(src.String()))
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Type().Elem())
		copyRedacted(n.Elem(), src.Elem(), f)
		dst.Set(n)
	case reflect.Interface:
		if src.IsNil() {
			return
		}
		n := reflect.New(src.Elem().Type()).Elem()
		copyRedacted(n, src.Elem(), f)
		dst.Set(n)
	case reflect.Struct:
		// Unexported fields cannot be set one by one: take them as they are,
		// then replace every exported field with its redacted copy.
		dst.Set(src)
		for i := range src.NumField() {
			if dst.Field(i).CanSet() {
				dst.Field(i).SetZero()
				copyRedacted(dst.Field(i), src.Field(i), f)
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		n := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			copyRedacted(n.Index(i), src.Index(i), f)
		}
		dst.Set(n)
	case reflect.Array:
		for i := range src.Len() {
			copyRedacted(dst.Index(i), src.Index(i), f)
		}
	case reflect.Map:
		if src.IsNil() {
			return
		}
		n := reflect.MakeMapWithSize(src.Type(), src.Len())
		it := src.MapRange()
		for it.Next() {
			v := reflect.New(src.Type().Elem()).Elem()
			copyRedacted(v, it.Value(), f)
			n.SetMapIndex(it.Key(), v)
		}
		dst.Set(n)
	default:
		dst.Set(src)
	}
}

// redactRaw applies f to the string values and member names inside a raw
// JSON value. When f changes nothing the bytes are returned as they were;
// otherwise the value is re-encoded (compact, members sorted). Text that is
// not JSON is redacted as a whole and returned as a JSON string.
func redactRaw(raw json.RawMessage, f func(string) string) json.RawMessage {
	if len(raw) == 0 || f(string(raw)) == string(raw) {
		return bytes.Clone(raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return mustMarshal(f(string(raw)))
	}
	return mustMarshal(redactAny(v, f))
}

func redactAny(v any, f func(string) string) any {
	switch t := v.(type) {
	case string:
		return f(t)
	case []any:
		for i := range t {
			t[i] = redactAny(t[i], f)
		}
		return t
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[f(k)] = redactAny(x, f)
		}
		return m
	default:
		return v
	}
}

// mustMarshal encodes a value built from decoded JSON and strings; that
// cannot fail, and if it ever did the member would become null rather than
// the record being lost.
func mustMarshal(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}
