package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzScanJSONL feeds arbitrary bytes to the JSON Lines reader: it must not
// panic or hang, every error must be a per-line error, and every record it
// returns must read back the same after re-encoding.
func FuzzScanJSONL(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T15:04:05Z","request_id":"a","principal":"p","method":"tools/call","decision":"allow"}` + "\n"))
	f.Add([]byte(`{"request_id":"a"}` + "\n" + `{"request_id":"b","args":{"x":[1,{"y":null}]}}` + "\n" + `{"request_id":"c","pri`))
	f.Add([]byte("\n\n  \r\n[1]\nnull\n\"x\"\n{}"))
	f.Add([]byte(`{"time":"not a time"}` + "\n" + `{"latency_ms":"x"}` + "\n" + `{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []*Record
		lines := 0
		for r, err := range ScanJSONL(context.Background(), bytes.NewReader(data), "fuzz", Filter{}) {
			if err != nil {
				if !errors.Is(err, ErrBadLine) {
					t.Fatalf("non-line error %v", err)
				}
				lines++
				continue
			}
			recs = append(recs, r)
		}
		if len(recs)+lines > bytes.Count(data, []byte{'\n'})+1 {
			t.Fatalf("%d results from %d lines", len(recs)+lines, bytes.Count(data, []byte{'\n'})+1)
		}
		var buf bytes.Buffer
		for _, r := range recs {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			buf.Write(append(b, '\n'))
		}
		i := 0
		for r, err := range ScanJSONL(context.Background(), &buf, "again", Filter{}) {
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if !reflect.DeepEqual(normalize(t, r), normalize(t, recs[i])) {
				t.Fatalf("record %d changed on round trip:\n%+v\n%+v", i, r, recs[i])
			}
			i++
		}
		if i != len(recs) {
			t.Fatalf("re-read %d records, want %d", i, len(recs))
		}
	})
}

// normalize compares records by their encoding (times with different
// locations but the same instant and text are equal).
func normalize(t *testing.T, r *Record) string {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
