package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// jsonWriter keeps each endpoint as encoded JSON and writes one indented
// document of schema ReportSchema at Close.
type jsonWriter struct {
	w         io.Writer
	endpoints []json.RawMessage
}

var _ Writer = (*jsonWriter)(nil)

func newJSON(w io.Writer, _ Options) Writer {
	return &jsonWriter{w: w, endpoints: []json.RawMessage{}}
}

// document is the shape of the json output.
type document struct {
	Schema    string            `json:"schema"`
	Endpoints []json.RawMessage `json:"endpoints"`
	Summary   *result.Summary   `json:"summary,omitempty"`
}

func (j *jsonWriter) Write(e *result.Endpoint) error {
	b, err := marshal(e)
	if err != nil {
		return fmt.Errorf("report: json record for %q: %w", e.URL, err)
	}
	j.endpoints = append(j.endpoints, b)
	return nil
}

func (j *jsonWriter) Close(s *result.Summary) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(document{Schema: ReportSchema, Endpoints: j.endpoints, Summary: s}); err != nil {
		return fmt.Errorf("report: json document: %w", err)
	}
	j.endpoints = nil
	if _, err := j.w.Write(escapeInvisible(buf.Bytes())); err != nil {
		return fmt.Errorf("report: json document: %w", err)
	}
	return flush(j.w)
}

// marshal encodes v compactly, without HTML escaping, with invisible runes
// escaped (escapeInvisible) and without the trailing newline.
func marshal(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return escapeInvisible(bytes.TrimRight(buf.Bytes(), "\n")), nil
}
