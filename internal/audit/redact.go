package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// Redacted replaces the value of a redacted argument field.
const Redacted = "[redacted]"

// DefaultRedactFields are argument field names that commonly hold
// credentials; the gate redacts them even when the operator lists none.
var DefaultRedactFields = []string{
	"password", "passwd", "secret", "token", "access_token", "refresh_token",
	"id_token", "api_key", "apikey", "authorization", "client_secret", "cookie",
	"private_key",
}

// Redact returns a deep copy of args in which the value of every field whose
// name equals one of fields (case-insensitively), at any depth of nested
// objects and arrays, is replaced by Redacted. args itself is not modified.
// A nil args gives nil.
func Redact(args map[string]any, fields []string) map[string]any {
	if args == nil {
		return nil
	}
	return redactValue(args, fields).(map[string]any)
}

func redactValue(v any, fields []string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			if matchField(k, fields) {
				out[k] = Redacted
				continue
			}
			out[k] = redactValue(x, fields)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = redactValue(x, fields)
		}
		return out
	default:
		return v
	}
}

func matchField(k string, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(k, f) {
			return true
		}
	}
	return false
}

// Digest returns "sha256:" and the hex SHA-256 of the canonical form of the
// JSON value args: objects with their keys sorted, no insignificant
// whitespace, no HTML escaping, numbers kept as written. Two encodings of
// the same value that differ only in key order or spacing have the same
// digest. Empty args give "". Bytes that are not valid JSON are hashed as
// they are (after trimming surrounding whitespace), so the digest is still
// stable.
func Digest(args json.RawMessage) string {
	b := bytes.TrimSpace(args)
	if len(b) == 0 {
		return ""
	}
	if c, err := canonicalJSON(b); err == nil {
		b = c
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// canonicalJSON re-encodes b with sorted object keys (encoding/json sorts
// map keys) and numbers preserved literally.
func canonicalJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailingData
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}
