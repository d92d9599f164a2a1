package feed

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"strings"
	"testing"
)

func collect(t *testing.T, in []byte, max int) ([]string, []error, error) {
	t.Helper()
	var recs []string
	var bad []error
	err := ReadRecords(context.Background(), bytes.NewReader(in), max, func(raw []byte) error {
		recs = append(recs, string(raw))
		return nil
	}, func(_ int, err error) { bad = append(bad, err) })
	return recs, bad, err
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestReadRecords(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    []string
		bad     int
		wantErr string
	}{
		{"jsonl", []byte("{\"a\":1}\n\n{\"b\":[1,2]}\r\n{\"c\":\"x\"}"), 0, []string{`{"a":1}`, `{"b":[1,2]}`, `{"c":"x"}`}, 0, ""},
		{"jsonl gzip", gz("{\"a\":1}\n{\"b\":2}\n"), 0, []string{`{"a":1}`, `{"b":2}`}, 0, ""},
		{"jsonl broken line passed on", []byte("{\"a\":1}\n{\"b\":\n{\"c\":3}\n"), 0, []string{`{"a":1}`, `{"b":`, `{"c":3}`}, 0, ""},
		{"jsonl oversized line skipped", []byte("{\"a\":1}\n{\"big\":\"" + strings.Repeat("x", 100) + "\"}\n{\"c\":3}\n"), 50, []string{`{"a":1}`, `{"c":3}`}, 1, ""},
		{"array", []byte("\xef\xbb\xbf [ {\"a\":\"]}\\\"[\"} , {\"b\":{\"c\":[1,{}]}},\n 7, \"s\", null ]"), 0, []string{`{"a":"]}\"["}`, `{"b":{"c":[1,{}]}}`, `7`, `"s"`, `null`}, 0, ""},
		{"array gzip", gz(`[{"a":1},{"b":2}]`), 0, []string{`{"a":1}`, `{"b":2}`}, 0, ""},
		{"array oversized element skipped", []byte(`[{"a":1},{"big":"` + strings.Repeat("y", 100) + `"},{"c":3}]`), 50, []string{`{"a":1}`, `{"c":3}`}, 1, ""},
		{"empty array", []byte(`[]`), 0, nil, 0, ""},
		{"empty file", []byte("  \n"), 0, nil, 0, ""},
		{"array cut short", []byte(`[{"a":1},{"b":`), 0, []string{`{"a":1}`}, 0, "record 2: cut short"},
		{"array without close", []byte(`[{"a":1}`), 0, []string{`{"a":1}`}, 0, "array cut short after record 1"},
		{"array missing comma", []byte(`[{"a":1} {"b":2}]`), 0, []string{`{"a":1}`}, 0, "record 2: missing comma"},
		{"array mismatched", []byte(`[{"a":1]]`), 0, nil, 0, "record 1: mismatched"},
		{"array double comma", []byte(`[{"a":1},,{"b":2}]`), 0, []string{`{"a":1}`}, 0, "missing value after comma"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0}, 0, nil, 0, "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, bad, err := collect(t, tt.in, tt.max)
			if strings.Join(recs, "|") != strings.Join(tt.want, "|") {
				t.Errorf("records %q, want %q", recs, tt.want)
			}
			if len(bad) != tt.bad {
				t.Errorf("bad %v, want %d", bad, tt.bad)
			}
			for _, e := range bad {
				if !errors.Is(e, ErrRecordTooLarge) {
					t.Errorf("bad error %v", e)
				}
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestReadRecordsStops(t *testing.T) {
	stop := errors.New("enough")
	n := 0
	err := ReadRecords(context.Background(), strings.NewReader("{}\n{}\n{}\n"), 0, func([]byte) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("err %v after %d records", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ReadRecords(ctx, strings.NewReader("[{},{}]"), 0, func([]byte) error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled read: %v", err)
	}
}

func FuzzReadRecords(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\n"))
	f.Add([]byte(`[{"a":"]"},{"b":[1,{"c":null}]}, 3, "x"]`))
	f.Add(gz(`[{"ip_str":"198.51.100.7","port":80}]`))
	f.Add([]byte(`[{"a":1},`))
	f.Add([]byte(`[[[[[[`))
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		err := ReadRecords(context.Background(), bytes.NewReader(in), 64, func(raw []byte) error {
			if len(raw) == 0 || len(raw) > 65 {
				t.Fatalf("record of %d bytes", len(raw))
			}
			total += len(raw)
			return nil
		}, nil)
		_ = err
		if total > len(in)*20+64 {
			t.Fatalf("records larger than the input allows: %d from %d bytes", total, len(in))
		}
	})
}
