package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update after checking):\n--- got\n%s\n--- want\n%s",
			path, got, want)
	}
}

// render writes every fixture through a new writer and closes it.
func render(t *testing.T, f Format, opts Options, s *result.Summary) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(f, &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range fixtures() {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	tests := []struct {
		file    string
		format  Format
		opts    Options
		summary *result.Summary
	}{
		{"table.golden", FormatTable, Options{}, summary()},
		{"table_all.golden", FormatTable, Options{All: true}, summary()},
		{"table_color.golden", FormatTable, Options{Color: true}, summary()},
		{"table_nosummary.golden", FormatTable, Options{}, nil},
		{"jsonl.golden", FormatJSONL, Options{}, summary()},
		{"jsonl_summary.golden", FormatJSONL, Options{SummaryLine: true}, summary()},
		{"json.golden", FormatJSON, Options{}, summary()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			golden(t, tt.file, render(t, tt.format, tt.opts, tt.summary))
		})
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		err  string
	}{
		{"table", FormatTable, ""},
		{"jsonl", FormatJSONL, ""},
		{"json", FormatJSON, ""},
		{"sarif", FormatSARIF, ""},
		{"Markdown", FormatMarkdown, ""},
		{" JSONL\n", FormatJSONL, ""},
		{"Table", FormatTable, ""},
		{"", "", `unknown format "" (valid: table, jsonl, json, sarif, markdown)`},
		{"xml", "", `unknown format "xml" (valid: table, jsonl, json, sarif, markdown)`},
		{"json lines", "", `unknown format "json lines"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFormat(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseFormat(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFormat(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFormats(t *testing.T) {
	got := Formats()
	want := []Format{FormatTable, FormatJSONL, FormatJSON, FormatSARIF, FormatMarkdown}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
	for _, f := range got {
		if _, err := New(f, &bytes.Buffer{}, Options{}); err != nil {
			t.Errorf("New(%q): %v", f, err)
		}
		if p, err := ParseFormat(string(f)); err != nil || p != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, p, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New("xml", &bytes.Buffer{}, Options{}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("New(xml) error = %v, want one naming the format", err)
	}
	if _, err := New(FormatJSONL, nil, Options{}); err == nil {
		t.Error("New with a nil io.Writer: no error")
	}
}

func TestLifecycle(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			w, err := New(f, &bytes.Buffer{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Write(nil); err == nil {
				t.Error("Write(nil): no error")
			}
			if err := w.Close(nil); err != nil {
				t.Fatalf("Close(nil): %v", err)
			}
			if err := w.Write(openMCP()); !errors.Is(err, ErrClosed) {
				t.Errorf("Write after Close = %v, want ErrClosed", err)
			}
			if err := w.Close(summary()); !errors.Is(err, ErrClosed) {
				t.Errorf("second Close = %v, want ErrClosed", err)
			}
		})
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			w, _ := New(f, failWriter{}, Options{SummaryLine: true})
			werr := w.Write(openMCP())
			cerr := w.Close(summary())
			err := errors.Join(werr, cerr)
			if err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Fatalf("errors = %v, want the output's error", err)
			}
			if werr != nil && !strings.Contains(werr.Error(), "http://10.20.0.7:8000/mcp") {
				t.Errorf("Write error %q does not name the endpoint", werr)
			}
		})
	}
}

// TestInputUntouched checks that writers neither modify the endpoints they
// are given nor keep them: the caller may reuse a record after Write.
func TestInputUntouched(t *testing.T) {
	for _, f := range Formats() {
		for _, redact := range []bool{false, true} {
			name := string(f)
			opts := Options{All: true}
			if redact {
				name += "/redact"
				opts.Redact = func(s string) string { return strings.ReplaceAll(s, "10.20.0.7", "[host]") }
			}
			t.Run(name, func(t *testing.T) {
				var want bytes.Buffer
				w, _ := New(f, &want, opts)
				e := openMCP()
				e.Schema, e.Findings = "", nil
				_ = w.Write(e)
				_ = w.Close(nil)

				var got bytes.Buffer
				w, _ = New(f, &got, opts)
				e = openMCP()
				e.Schema, e.Findings = "", nil
				pristine := openMCP()
				pristine.Schema, pristine.Findings = "", nil
				if err := w.Write(e); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(e, pristine) {
					t.Fatal("Write modified its argument")
				}
				// Reuse the record as a scanner reusing a buffer would.
				e.URL = "http://zz-changed-zz/"
				e.Tools[0].Name = "zz-changed-zz"
				e.MCP.Server.Name = "zz-changed-zz"
				e.Findings = append(e.Findings, finding.Finding{Rule: "MCPW-999", Title: "zz-changed-zz"})
				if err := w.Close(nil); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("output changed when the record was reused after Write:\n%s\nwant\n%s", got.Bytes(), want.Bytes())
				}
				if bytes.Contains(got.Bytes(), []byte("zz-changed-zz")) {
					t.Error("output holds a value set after Write")
				}
			})
		}
	}
}

// TestConcurrentWrites checks that writers may be shared by workers: every
// record arrives whole.
func TestConcurrentWrites(t *testing.T) {
	for _, f := range Formats() {
		t.Run(string(f), func(t *testing.T) {
			var buf bytes.Buffer
			w, _ := New(f, &buf, Options{All: true})
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for _, e := range fixtures() {
						if err := w.Write(e); err != nil {
							t.Error(err)
						}
					}
				})
			}
			wg.Wait()
			if err := w.Close(summary()); err != nil {
				t.Fatal(err)
			}
			want := 8 * strings.Count(string(render(t, f, Options{All: true}, nil)), "http://10.20.0.7:8000/mcp")
			if got := strings.Count(buf.String(), "http://10.20.0.7:8000/mcp"); got != want {
				t.Errorf("%d mentions of one endpoint, want %d", got, want)
			}
			if f == FormatJSONL {
				for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
					if !json.Valid([]byte(line)) {
						t.Fatalf("interleaved line %q", line)
					}
				}
			}
		})
	}
}
