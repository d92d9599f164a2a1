// Package report writes scan results: one result.Endpoint at a time, then a
// result.Summary when the run ends. Each output format is one Writer in its
// own file (table.go, jsonl.go, json.go, sarif.go, markdown.go); New picks
// one by Format and wraps it with what every format shares: endpoint
// normalisation, optional redaction, locking and the closed state.
//
// Streaming formats (jsonl) put each record on the output as soon as it is
// written, so that an interrupted scan keeps every result it produced;
// document formats (json, table, sarif, markdown) buffer until Close.
package report

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Format names an output format.
type Format string

// The formats.
const (
	// FormatTable is a human-readable table, findings list and summary,
	// written at Close.
	FormatTable Format = "table"
	// FormatJSONL is one result.Endpoint per line (schema mcpwarden.scan/v1),
	// written as results arrive.
	FormatJSONL Format = "jsonl"
	// FormatJSON is one document (schema mcpwarden.report/v1) holding every
	// endpoint and the summary, written at Close.
	FormatJSON Format = "json"
	// FormatSARIF is one SARIF 2.1.0 log for GitHub code scanning and other
	// SARIF consumers: the rules catalogue and one result per finding,
	// written at Close (docs/reports.md).
	FormatSARIF Format = "sarif"
	// FormatMarkdown is a report for people: summary, exposed endpoints,
	// tools by risk, Origin and Host verdicts and findings grouped by rule
	// with their remediation, written at Close (docs/reports.md).
	FormatMarkdown Format = "markdown"
)

// ReportSchema is the value of the "schema" member of a FormatJSON document.
const ReportSchema = "mcpwarden.report/v1"

// ErrClosed is returned by Write and Close on a Writer that is already closed.
var ErrClosed = errors.New("report: writer closed")

// Writer receives the endpoints of one run, then the summary.
//
// Writers returned by New are safe for concurrent use. They never close the
// io.Writer they were given.
type Writer interface {
	// Write records one endpoint. The writer does not keep e or anything it
	// points to: the caller may reuse it once Write returns.
	Write(e *result.Endpoint) error
	// Close writes whatever the format keeps for the end and marks the writer
	// closed. summary may be nil when the run produced none; formats that
	// print a summary then leave it out.
	Close(summary *result.Summary) error
}

// Options tune a Writer. The zero value is a usable default.
type Options struct {
	// All lists, in the table, the endpoints that are not MCP and have no
	// findings (not-mcp, closed, timeout, error); by default the table only
	// counts them. Other formats always carry every endpoint.
	All bool
	// Color enables ANSI colours for severities in the table. Set it only
	// when the output is a terminal (see AutoColor); zero means no colour.
	Color bool
	// Redact, when non-nil, is applied to every string of every endpoint
	// before any format sees it (URLs, errors, challenges, server and tool
	// text, evidence, and the string values inside raw JSON members).
	// nil leaves strings unchanged.
	Redact func(string) string
	// SummaryLine makes the jsonl writer append the summary (schema
	// mcpwarden.summary/v1) as a last line at Close. false (the default)
	// leaves the stream holding endpoint records only.
	SummaryLine bool
	// Version is the mcpwarden version that reports naming their producer
	// carry (sarif, markdown). Empty means the main module's version from
	// the build information, or "dev" when there is none.
	Version string
}

// constructors maps each format to its writer. A new format is one file with
// its constructor plus one line here.
var constructors = []struct {
	format Format
	new    func(w io.Writer, opts Options) Writer
}{
	{FormatTable, newTable},
	{FormatJSONL, newJSONL},
	{FormatJSON, newJSON},
	{FormatSARIF, newSARIF},
	{FormatMarkdown, newMarkdown},
}

// Formats returns the names of every format, in the order they are offered.
func Formats() []Format {
	out := make([]Format, len(constructors))
	for i, c := range constructors {
		out[i] = c.format
	}
	return out
}

func formatList() string {
	names := make([]string, len(constructors))
	for i, c := range constructors {
		names[i] = string(c.format)
	}
	return strings.Join(names, ", ")
}

// ParseFormat reads a format name (case-insensitive, surrounding space
// ignored).
func ParseFormat(s string) (Format, error) {
	name := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, c := range constructors {
		if c.format == name {
			return name, nil
		}
	}
	return "", fmt.Errorf("report: unknown format %q (valid: %s)", s, formatList())
}

// New returns a Writer of the given format that writes to w.
func New(format Format, w io.Writer, opts Options) (Writer, error) {
	if w == nil {
		return nil, errors.New("report: nil output writer")
	}
	for _, c := range constructors {
		if c.format == format {
			return &guard{inner: c.new(w, opts), redact: opts.Redact}, nil
		}
	}
	return nil, fmt.Errorf("report: unknown format %q (valid: %s)", format, formatList())
}

// guard is what New returns around every format writer: it serialises
// calls, refuses use after Close, and hands the format a normalised,
// possibly redacted copy of each record.
type guard struct {
	mu     sync.Mutex
	inner  Writer
	redact func(string) string
	closed bool
}

var _ Writer = (*guard)(nil)

func (g *guard) Write(e *result.Endpoint) error {
	if e == nil {
		return errors.New("report: nil endpoint")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	return g.inner.Write(normalize(e, g.redact))
}

func (g *guard) Close(s *result.Summary) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.closed = true
	return g.inner.Close(normalizeSummary(s))
}

// normalize returns a copy of e with the schema filled in and findings never
// null, redacted when redact is non-nil. e itself is not modified.
func normalize(e *result.Endpoint, redact func(string) string) *result.Endpoint {
	var c *result.Endpoint
	if redact != nil {
		c = redactEndpoint(e, redact)
	} else {
		cp := *e
		c = &cp
	}
	if c.Schema == "" {
		c.Schema = result.Schema
	}
	if c.Findings == nil {
		c.Findings = []finding.Finding{}
	}
	return c
}

// normalizeSummary returns a copy of s with the schema filled in and the
// count maps never null, or nil when s is nil.
func normalizeSummary(s *result.Summary) *result.Summary {
	if s == nil {
		return nil
	}
	c := *s
	if c.Schema == "" {
		c.Schema = result.SummarySchema
	}
	if c.ByStatus == nil {
		c.ByStatus = map[result.Status]int{}
	}
	if c.Findings == nil {
		c.Findings = map[string]int{}
	}
	return &c
}

// statusOrder is the order statuses are listed in counts.
var statusOrder = []result.Status{
	result.StatusMCP, result.StatusNotMCP, result.StatusClosed, result.StatusTimeout, result.StatusError,
}

// sortedStatuses returns the keys of m: the known statuses in statusOrder
// (all of them, present or not), then any others sorted.
func sortedStatuses(m map[result.Status]int) []result.Status {
	out := slices.Clone(statusOrder)
	var extra []result.Status
	for k := range m {
		if !slices.Contains(statusOrder, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return append(out, extra...)
}
