package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// jsonlWriter writes one compact result.Endpoint per line as soon as it is
// given one, in a single Write call, and flushes w when w can be flushed.
type jsonlWriter struct {
	w           io.Writer
	summaryLine bool
	buf         bytes.Buffer
	enc         *json.Encoder
}

var _ Writer = (*jsonlWriter)(nil)

func newJSONL(w io.Writer, opts Options) Writer {
	j := &jsonlWriter{w: w, summaryLine: opts.SummaryLine}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	return j
}

func (j *jsonlWriter) Write(e *result.Endpoint) error {
	if err := j.line(e); err != nil {
		return fmt.Errorf("report: jsonl record for %q: %w", e.URL, err)
	}
	return nil
}

func (j *jsonlWriter) Close(s *result.Summary) error {
	if !j.summaryLine || s == nil {
		return nil
	}
	if err := j.line(s); err != nil {
		return fmt.Errorf("report: jsonl summary: %w", err)
	}
	return nil
}

// line encodes v with its newline and hands it to w in one piece, so that a
// reader never sees half a record unless the process dies mid-write.
func (j *jsonlWriter) line(v any) error {
	j.buf.Reset()
	if err := j.enc.Encode(v); err != nil {
		return err
	}
	if _, err := j.w.Write(escapeInvisible(j.buf.Bytes())); err != nil {
		return err
	}
	return flush(j.w)
}

// flush pushes buffered output on: writers such as *bufio.Writer implement
// Flush() error, http.ResponseWriter-like ones Flush().
func flush(w io.Writer) error {
	switch f := w.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}
