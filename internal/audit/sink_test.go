package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// sample returns n varied records, one second apart.
func sample(n int) []*Record {
	principals := []string{"key:alice", "key:bob", "oauth:carol"}
	methods := []string{"tools/call", "tools/list", "tools/call", "resources/read"}
	decisions := []string{"allow", "allow", "deny", "error"}
	out := make([]*Record, n)
	for i := range out {
		m := methods[i%len(methods)]
		name := ""
		if m == "tools/call" {
			name = []string{"echo", "shell"}[i%2]
		} else if m == "resources/read" {
			name = "file:///etc/motd"
		}
		out[i] = &Record{
			Time: t0.Add(time.Duration(i) * time.Second), RequestID: fmt.Sprintf("req-%04d", i),
			RPCID: fmt.Sprint(i), Principal: principals[i%len(principals)], AuthMethod: "apikey",
			ClientAddr: "127.0.0.1:5555", Method: m, Name: name, Decision: decisions[i%len(decisions)],
			ArgsDigest: "sha256:00", LatencyMS: 1.5, BytesIn: int64(i), BytesOut: 2 * int64(i),
			Args: map[string]any{"text": "line\nbreak", "n": float64(i)},
		}
	}
	return out
}

func collect(t *testing.T, source string, f Filter) []*Record {
	t.Helper()
	var out []*Record
	for r, err := range Query(context.Background(), source, f) {
		if err != nil {
			t.Fatalf("Query(%s): %v", source, err)
		}
		out = append(out, r)
	}
	return out
}

func ids(rs []*Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RequestID
	}
	return out
}

// expect filters recs in memory, the reference Query must agree with.
func expect(recs []*Record, f Filter) []string {
	var out []string
	for _, r := range recs {
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
		if f.Match(r) {
			out = append(out, r.RequestID)
		}
	}
	return out
}

// TestSinksRoundTrip is one suite run against every readable sink and
// durability setting.
func TestSinksRoundTrip(t *testing.T) {
	recs := sample(40)
	filters := []struct {
		name string
		f    Filter
	}{
		{"all", Filter{}},
		{"principal", Filter{Principal: "key:bob"}},
		{"tool", Filter{Tool: "shell"}},
		{"method", Filter{Method: "tools/list"}},
		{"decision", Filter{Decision: "deny"}},
		{"since", Filter{Since: t0.Add(30 * time.Second)}},
		{"until", Filter{Until: t0.Add(5 * time.Second)}},
		{"window and principal", Filter{Principal: "key:alice", Since: t0.Add(3 * time.Second), Until: t0.Add(20 * time.Second)}},
		{"limit", Filter{Method: "tools/call", Limit: 3}},
		{"nothing", Filter{Principal: "nobody"}},
	}
	for _, kind := range []string{"jsonl", "sqlite"} {
		for _, d := range []Durability{DurabilityNone, DurabilityBatch, DurabilitySync} {
			t.Run(kind+"/"+string(d), func(t *testing.T) {
				spec := kind + ":" + filepath.Join(t.TempDir(), "audit."+kind)
				s, err := OpenWith(spec, &Options{Durability: d})
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if err := s.Write(context.Background(), r); err != nil {
						t.Fatal(err)
					}
				}
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if err := s.Close(); err != nil {
					t.Fatalf("second Close: %v", err)
				}
				if err := s.Write(context.Background(), nil); err == nil {
					t.Error("Write(nil) accepted")
				}
				if err := s.Write(context.Background(), recs[0]); !errors.Is(err, ErrClosed) {
					t.Errorf("Write after Close = %v, want ErrClosed", err)
				}
				all := collect(t, spec, Filter{})
				if len(all) != len(recs) {
					t.Fatalf("read %d records, want %d", len(all), len(recs))
				}
				for i := range recs {
					if !reflect.DeepEqual(all[i], recs[i]) {
						t.Fatalf("record %d =\n%+v\nwant\n%+v", i, all[i], recs[i])
					}
				}
				for _, tc := range filters {
					got, want := ids(collect(t, spec, tc.f)), expect(recs, tc.f)
					if strings.Join(got, ",") != strings.Join(want, ",") {
						t.Errorf("%s: got %v, want %v", tc.name, got, want)
					}
				}
				if tc := filters[1]; len(expect(recs, tc.f)) == 0 {
					t.Fatal("sample data does not exercise the filters")
				}
			})
		}
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	s := NewWriterSink(&buf)
	recs := sample(5)
	for _, r := range recs {
		if err := s.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	if err := s.Write(context.Background(), recs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if n := strings.Count(buf.String(), "\n"); n != 5 {
		t.Fatalf("%d lines, want 5", n)
	}
	var got []string
	for r, err := range ScanJSONL(context.Background(), &buf, "buf", Filter{Decision: "allow"}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RequestID)
	}
	if want := expect(recs, Filter{Decision: "allow"}); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestMulti(t *testing.T) {
	dir := t.TempDir()
	a, err := Open("jsonl:" + filepath.Join(dir, "a.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open("sqlite:" + filepath.Join(dir, "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m := Multi(a, b, NewWriterSink(&buf))
	for _, r := range sample(7) {
		if err := m.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{"jsonl:" + filepath.Join(dir, "a.jsonl"), "sqlite:" + filepath.Join(dir, "b.db")} {
		if n := len(collect(t, src, Filter{})); n != 7 {
			t.Errorf("%s: %d records, want 7", src, n)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != 7 {
		t.Errorf("writer: %d records, want 7", n)
	}
	if err := m.Write(context.Background(), sample(1)[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Multi Write after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []string{"", "jsonl", "jsonl:", "sqlite:", "csv:/tmp/x", "stdout:x", "/tmp/plain.jsonl",
		"jsonl:" + filepath.Join(dir, "missing", "a.jsonl")} {
		t.Run(spec, func(t *testing.T) {
			s, err := Open(spec)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded", spec)
			}
			if spec != "" && !strings.Contains(err.Error(), spec) && !strings.Contains(err.Error(), "missing") {
				t.Errorf("error %q does not name the input", err)
			}
		})
	}
	if _, err := OpenWith("jsonl:"+filepath.Join(dir, "a"), &Options{Durability: "always"}); err == nil || !strings.Contains(err.Error(), "always") {
		t.Errorf("bad durability: %v", err)
	}
	for _, src := range []string{"stdout", "jsonl:" + filepath.Join(dir, "nope.jsonl"), "sqlite:" + filepath.Join(dir, "nope.db"), "bogus"} {
		var gotErr error
		for _, err := range Query(context.Background(), src, Filter{}) {
			gotErr = err
		}
		if gotErr == nil {
			t.Errorf("Query(%q) gave no error", src)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("Query created the database it was asked to read")
	}
	// A SQLite file that is not an audit database.
	other := filepath.Join(dir, "other.jsonl")
	os.WriteFile(other, []byte("{}\n"), 0o600)
	var gotErr error
	for _, err := range Query(context.Background(), "sqlite:"+other, Filter{}) {
		gotErr = err
	}
	if gotErr == nil {
		t.Error("reading a non-database as sqlite gave no error")
	}
}

func TestJSONLFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	s, err := OpenJSONL(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

// TestSyncConcurrent writes from many goroutines in sync mode; every
// acknowledged record must be in the file after Close.
func TestSyncConcurrent(t *testing.T) {
	for _, kind := range []string{"jsonl", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			spec := kind + ":" + filepath.Join(t.TempDir(), "audit")
			s, err := OpenWith(spec, &Options{Durability: DurabilitySync})
			if err != nil {
				t.Fatal(err)
			}
			const workers, each = 32, 25
			var mu sync.Mutex
			acked := map[string]bool{}
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						r := &Record{Time: time.Now(), RequestID: fmt.Sprintf("w%d-%d", w, i), Principal: "p", Method: "tools/call", Decision: "allow"}
						if err := s.Write(context.Background(), r); err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						acked[r.RequestID] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, r := range collect(t, spec, Filter{}) {
				if seen[r.RequestID] {
					t.Errorf("record %s stored twice", r.RequestID)
				}
				seen[r.RequestID] = true
			}
			for id := range acked {
				if !seen[id] {
					t.Errorf("acknowledged record %s missing", id)
				}
			}
			if len(acked) != workers*each {
				t.Errorf("%d acknowledged, want %d", len(acked), workers*each)
			}
		})
	}
}

// TestBatchSyncsWithinInterval checks that batch mode makes records
// readable (in the OS) when Write returns, before Close.
func TestBatchVisibleBeforeClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	s, err := OpenJSONL(path, &Options{Durability: DurabilityBatch, BatchInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, r := range sample(3) {
		if err := s.Write(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(collect(t, "jsonl:"+path, Filter{})); n != 3 {
		t.Errorf("%d records visible after Write returned, want 3", n)
	}
}

// TestNoneFlushesPeriodically checks that none mode writes its buffer on
// the flush interval without Close.
func TestNoneFlushesPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	s, err := OpenJSONL(path, &Options{Durability: DurabilityNone, FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(context.Background(), sample(1)[0]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(collect(t, "jsonl:"+path, Filter{})) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("buffered record never flushed")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestWriteContextCanceled(t *testing.T) {
	s, err := OpenJSONL(filepath.Join(t.TempDir(), "a.jsonl"), &Options{Durability: DurabilitySync})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Either outcome is allowed for a canceled context, but it must not hang
	// and an error must wrap context.Canceled.
	if err := s.Write(ctx, sample(1)[0]); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Write = %v", err)
	}
}

func TestPartialTrailingLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.jsonl")
	var buf bytes.Buffer
	w := NewWriterSink(&buf)
	for _, r := range sample(3) {
		w.Write(context.Background(), r)
	}
	// A record cut short by a crash.
	full := buf.String()
	cut := full + `{"time":"2026-01-02T15:04:05Z","request_id":"req-cut","princ`
	if err := os.WriteFile(path, []byte(cut), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	var lineErrs []*LineError
	for r, err := range Query(context.Background(), "jsonl:"+path, Filter{}) {
		var le *LineError
		switch {
		case errors.As(err, &le):
			lineErrs = append(lineErrs, le)
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, r.RequestID)
		}
	}
	if strings.Join(got, ",") != "req-0000,req-0001,req-0002" {
		t.Errorf("records %v", got)
	}
	if len(lineErrs) != 1 || !lineErrs[0].Partial || lineErrs[0].Line != 4 || !errors.Is(lineErrs[0], ErrBadLine) {
		t.Fatalf("line errors %+v, want one partial at line 4", lineErrs)
	}
	// Reopening for append terminates the partial line so new records
	// stay readable.
	s, err := OpenJSONL(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Write(context.Background(), &Record{Time: t0, RequestID: "after", Principal: "p", Method: "ping", Decision: "allow"})
	s.Close()
	got, lineErrs = nil, nil
	for r, err := range Query(context.Background(), "jsonl:"+path, Filter{}) {
		var le *LineError
		if errors.As(err, &le) {
			lineErrs = append(lineErrs, le)
		} else if err == nil {
			got = append(got, r.RequestID)
		}
	}
	if strings.Join(got, ",") != "req-0000,req-0001,req-0002,after" {
		t.Errorf("after reopen: records %v", got)
	}
	if len(lineErrs) != 1 || lineErrs[0].Partial || lineErrs[0].Line != 4 {
		t.Errorf("after reopen: line errors %+v, want one non-final bad line 4", lineErrs)
	}
}

func TestScanJSONLOddLines(t *testing.T) {
	long := `{"request_id":"` + strings.Repeat("x", MaxLine) + `"}`
	in := "\n" + `{"request_id":"a","time":"2026-01-02T15:04:05Z"}` + "\n  \n[1,2]\nnot json\n" + long + "\n" +
		`{"request_id":"b"} {"request_id":"c"}` + "\n" + `{"request_id":"d","time":"2026-01-02T15:04:05Z"}`
	var got []string
	var bad []int
	for r, err := range ScanJSONL(context.Background(), strings.NewReader(in), "in", Filter{}) {
		var le *LineError
		if errors.As(err, &le) {
			bad = append(bad, le.Line)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.RequestID)
	}
	if strings.Join(got, ",") != "a,d" {
		t.Errorf("records %v, want a,d", got)
	}
	if fmt.Sprint(bad) != "[4 5 6 7]" {
		t.Errorf("bad lines %v, want [4 5 6 7]", bad)
	}
}
