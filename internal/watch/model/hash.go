package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// CanonicalJSON re-encodes raw so that equal JSON values give equal bytes:
// object keys sorted, insignificant white space dropped, numbers kept as
// written. Empty input gives "null"; input that is not JSON is kept as a
// JSON object {"invalid_json": "<text>"} so that it still hashes stably.
func CanonicalJSON(raw []byte) []byte {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		b, _ := json.Marshal(map[string]string{"invalid_json": string(raw)})
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"invalid_json": string(raw)})
	}
	return b
}

// ToolHash is the hex sha256 of the canonical JSON of the name,
// description, input schema and annotations of d (d.Hash is ignored).
func ToolHash(d ToolDef) string {
	var buf bytes.Buffer
	buf.WriteString(`{"annotations":`)
	buf.Write(CanonicalJSON(d.Annotations))
	buf.WriteString(`,"description":`)
	desc, _ := json.Marshal(d.Description)
	buf.Write(desc)
	buf.WriteString(`,"input_schema":`)
	buf.Write(CanonicalJSON(d.InputSchema))
	buf.WriteString(`,"name":`)
	name, _ := json.Marshal(d.Name)
	buf.Write(name)
	buf.WriteString(`}`)
	sum := sha256.Sum256(buf.Bytes())
	return hex.EncodeToString(sum[:])
}

// CertHash identifies a certificate by what the scan records of it:
// subject, issuer, validity and names. Nil gives "".
func CertHash(t *result.TLSInfo) string {
	if t == nil {
		return ""
	}
	parts := []string{t.Subject, t.Issuer, t.NotBefore.UTC().Format(time.RFC3339Nano),
		t.NotAfter.UTC().Format(time.RFC3339Nano), strings.Join(t.DNSNames, ",")}
	return hashParts(parts...)
}

// Key is the deduplication key of an event: the type followed by the hex
// sha256 of the URL, the subject, the content (what changed, as hashes)
// and the base (what the change is relative to, taken from the previous
// state, never from the run). Equal inputs give equal keys, so a run
// repeated from the same state produces the same keys.
func Key(t Type, url, subject, content, base string) string {
	return string(t) + ":" + hashParts(url, subject, content, base)
}

// hashParts hashes parts with their lengths, so that no two different
// lists of parts hash the same input.
func hashParts(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := uint64(len(p))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Marker is the text form of an observation used as a key base: its time
// in Unix nanoseconds, or "" for nil.
func Marker(o *Observation) string {
	if o == nil {
		return ""
	}
	return TimeMarker(o.Observed)
}

// TimeMarker is the text form of t used as a key base ("" for zero).
func TimeMarker(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
