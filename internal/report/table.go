package report

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/rules"
)

// Column caps of the table, in runes. With two spaces between columns the
// widest possible row is tableWidth runes.
const (
	tableWidth    = 120
	colSeverity   = 8
	colURL        = 28
	colStatus     = 7
	colAuth       = 6
	colTransport  = 10
	colServer     = 18
	colVersion    = 8 // of colServer
	colTools      = 18
	colFindings   = 11
	colGap        = 2
	indentFinding = colSeverity + colGap // where a finding's details start
	capRule       = 10
	capTitle      = tableWidth - indentFinding - capRule - colGap
	capURL        = 200
	capEvidence   = 600
)

// The widest row must fit in tableWidth: this fails to compile otherwise.
const _ = uint(tableWidth - (colSeverity + colURL + colStatus + colAuth + colTransport + colServer + colTools +
	colFindings + 7*colGap))

// tableWriter keeps one pre-rendered row per endpoint (no reference to the
// endpoint) and prints the table, the findings and the summary at Close.
type tableWriter struct {
	w      io.Writer
	all    bool
	color  bool
	rows   []tableRow
	hidden map[result.Status]int
	seq    int
}

var _ Writer = (*tableWriter)(nil)

func newTable(w io.Writer, opts Options) Writer {
	return &tableWriter{w: w, all: opts.All, color: opts.Color, hidden: map[result.Status]int{}}
}

// tableRow is one endpoint, already sanitised.
type tableRow struct {
	seq      int // arrival order, the last sort key
	sev      finding.Severity
	hasSev   bool
	url      string // sanitised, uncapped: sort key
	cells    []string
	findings []tableFinding
	risky    [][2]string // tool name, its risk categories
	web      string      // the Origin/Host verdicts, "" when not tested
}

type tableFinding struct {
	seq      int
	sev      finding.Severity
	rule     string
	title    string
	url      string
	evidence string
	accepted string // the baseline's reason, when suppressed
}

func (t *tableWriter) Write(e *result.Endpoint) error {
	if e.Status != result.StatusMCP && len(e.Findings) == 0 && !t.all {
		t.hidden[e.Status]++
		return nil
	}
	t.seq++
	row := tableRow{seq: t.seq, url: SafeText(endpointURL(e), 0)}
	row.sev, row.hasSev = finding.Max(e.Findings)
	row.cells = []string{
		safeMiddle(endpointURL(e), colURL),
		SafeText(string(e.Status), colStatus),
		authCell(e.Auth),
		transportCell(e.MCP),
		serverCell(e.MCP),
		toolsCell(e),
		findingsCell(e.Findings),
	}
	for _, tool := range e.Tools {
		if len(tool.Risk) > 0 && len(row.risky) < maxRiskyTools {
			row.risky = append(row.risky, [2]string{SafeText(tool.Name, 48), SafeText(strings.Join(tool.Risk, ", "), 80)})
		}
	}
	row.web = webCell(e)
	for _, f := range e.Findings {
		accepted := ""
		if f.Suppressed != nil {
			accepted = SafeText(f.Suppressed.Reason, 200)
		}
		row.findings = append(row.findings, tableFinding{
			accepted: accepted,
			seq:      t.seq,
			sev:      f.Severity,
			rule:     orDash(SafeText(f.Rule, capRule)),
			title:    SafeText(f.Title, capTitle),
			url:      safeMiddle(endpointURL(e), capURL),
			evidence: SafeText(f.Evidence, capEvidence),
		})
	}
	t.rows = append(t.rows, row)
	return nil
}

func (t *tableWriter) Close(s *result.Summary) error {
	var buf bytes.Buffer
	t.writeTable(&buf)
	buf.WriteByte('\n')
	t.writeRisk(&buf)
	t.writeFindings(&buf)
	t.writeRemediation(&buf)
	if s != nil {
		buf.WriteByte('\n')
		writeSummary(&buf, s)
	}
	t.rows = nil
	if _, err := t.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("report: table: %w", err)
	}
	return flush(t.w)
}

// writeTable prints the endpoint rows, highest severity first, and the
// count of endpoints left out.
func (t *tableWriter) writeTable(buf *bytes.Buffer) {
	slices.SortStableFunc(t.rows, func(a, b tableRow) int {
		if a.hasSev != b.hasSev {
			if a.hasSev {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.sev, a.sev), strings.Compare(a.url, b.url), cmp.Compare(a.seq, b.seq))
	})
	if len(t.rows) == 0 {
		buf.WriteString("No MCP endpoints found.\n")
	} else {
		// The severity column is written outside the tabwriter: its colour
		// codes would otherwise count as width.
		var body bytes.Buffer
		tw := tabwriter.NewWriter(&body, 0, 0, colGap, ' ', 0)
		fmt.Fprintln(tw, "URL\tSTATUS\tAUTH\tTRANSPORT\tSERVER\tTOOLS\tFINDINGS")
		for _, r := range t.rows {
			fmt.Fprintln(tw, strings.Join(r.cells, "\t"))
		}
		tw.Flush()
		lines := strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n")
		for i, line := range lines {
			if i == 0 {
				buf.WriteString(pad("SEVERITY", colSeverity+colGap))
			} else {
				r := t.rows[i-1]
				buf.WriteString(t.severityLabel(r.sev, r.hasSev, colSeverity+colGap))
			}
			buf.WriteString(line)
			buf.WriteByte('\n')
		}
	}
	if n := total(t.hidden); n > 0 {
		fmt.Fprintf(buf, "%d %s without MCP not listed (%s).\n", n, plural(n, "endpoint", "endpoints"),
			statusCounts(t.hidden, false))
	}
}

// writeFindings lists every finding of the listed endpoints, highest
// severity first.
func (t *tableWriter) writeFindings(buf *bytes.Buffer) {
	var all []tableFinding
	for _, r := range t.rows {
		all = append(all, r.findings...)
	}
	if len(all) == 0 {
		buf.WriteString("No findings.\n")
		return
	}
	slices.SortStableFunc(all, func(a, b tableFinding) int {
		return cmp.Or(cmp.Compare(b.sev, a.sev), strings.Compare(a.rule, b.rule),
			strings.Compare(a.url, b.url), cmp.Compare(a.seq, b.seq))
	})
	fmt.Fprintf(buf, "FINDINGS (%d)\n", len(all))
	indent := strings.Repeat(" ", indentFinding)
	const label = 10 // "evidence  "
	for _, f := range all {
		buf.WriteString(t.severityLabel(f.sev, true, indentFinding))
		buf.WriteString(f.rule)
		if f.title != "" {
			buf.WriteString("  ")
			buf.WriteString(f.title)
		}
		buf.WriteByte('\n')
		for _, l := range wrap(f.url, tableWidth-indentFinding-label) {
			buf.WriteString(indent + pad("url", label) + l + "\n")
		}
		if f.evidence != "" {
			for i, l := range wrap(f.evidence, tableWidth-indentFinding-label) {
				name := ""
				if i == 0 {
					name = "evidence"
				}
				buf.WriteString(indent + pad(name, label) + l + "\n")
			}
		}
		if f.accepted != "" {
			for i, l := range wrap("suppressed by the baseline: "+f.accepted, tableWidth-indentFinding-label) {
				name := ""
				if i == 0 {
					name = "accepted"
				}
				buf.WriteString(indent + pad(name, label) + l + "\n")
			}
		}
	}
}

// maxRiskyTools caps the tools listed per endpoint under TOOLS BY RISK.
const maxRiskyTools = 25

// webCell sums up the Origin and Host checks of an endpoint.
func webCell(e *result.Endpoint) string {
	verdict := func(v *bool, status int) string {
		switch {
		case v == nil:
			return "not tested"
		case *v:
			return fmt.Sprintf("validated (HTTP %d)", status)
		}
		return fmt.Sprintf("NOT validated (HTTP %d)", status)
	}
	var parts []string
	if o := e.Origin; o != nil {
		p := "origin " + verdict(o.Validated, o.Status)
		if o.AllowOrigin != "" {
			p += ", CORS allows " + SafeText(o.AllowOrigin, 60)
			if o.AllowCredentials {
				p += " with credentials"
			}
		}
		parts = append(parts, p)
	}
	if h := e.HostHeader; h != nil {
		parts = append(parts, "host "+verdict(h.Validated, h.Status))
	}
	return strings.Join(parts, "; ")
}

// writeRisk lists, per endpoint, the tools with risk categories and the
// verdicts on foreign Origin and Host headers.
func (t *tableWriter) writeRisk(buf *bytes.Buffer) {
	var any bool
	for _, r := range t.rows {
		if len(r.risky) == 0 && r.web == "" {
			continue
		}
		if !any {
			buf.WriteString("TOOLS BY RISK, ORIGIN AND HOST CHECKS\n")
			any = true
		}
		buf.WriteString(pad("", colGap) + safeMiddle(r.url, tableWidth-colGap) + "\n")
		if r.web != "" {
			for _, l := range wrap(r.web, tableWidth-indentFinding-10) {
				buf.WriteString(pad("", indentFinding) + pad("browser", 10) + l + "\n")
			}
		}
		for _, tr := range r.risky {
			buf.WriteString(pad("", indentFinding) + pad(tr[0], 30) + "  " + tr[1] + "\n")
		}
	}
	if any {
		buf.WriteByte('\n')
	}
}

// writeRemediation prints, once per rule that fired, how to fix it.
func (t *tableWriter) writeRemediation(buf *bytes.Buffer) {
	seen := map[string]finding.Severity{}
	for _, r := range t.rows {
		for _, f := range r.findings {
			if f.accepted != "" {
				continue
			}
			if s, ok := seen[f.rule]; !ok || f.sev > s {
				seen[f.rule] = f.sev
			}
		}
	}
	if len(seen) == 0 {
		return
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(seen[b], seen[a]), strings.Compare(a, b)) })
	buf.WriteString("\nHOW TO FIX\n")
	for _, id := range ids {
		r, ok := rules.Lookup(id)
		if !ok {
			continue
		}
		buf.WriteString(pad("", colGap) + id + "  " + r.Title + "\n")
		for _, l := range wrap(r.Fix, tableWidth-indentFinding) {
			buf.WriteString(pad("", indentFinding) + l + "\n")
		}
	}
}

// writeSummary prints the counts of the run.
func writeSummary(buf *bytes.Buffer, s *result.Summary) {
	buf.WriteString("SUMMARY\n")
	tw := tabwriter.NewWriter(buf, 0, 0, colGap, ' ', 0)
	fmt.Fprintf(tw, "  targets probed\t%d\n", s.Targets)
	fmt.Fprintf(tw, "  endpoints\t%s\n", statusCounts(s.ByStatus, true))
	fmt.Fprintf(tw, "  findings\t%s\n", severityCounts(s.Findings))
	fmt.Fprintf(tw, "  excluded\t%d\n", s.Excluded)
	fmt.Fprintf(tw, "  requests\t%d\n", s.Requests)
	fmt.Fprintf(tw, "  elapsed\t%s\n", (time.Duration(s.ElapsedMS) * time.Millisecond).String())
	if s.Interrupted {
		fmt.Fprintf(tw, "  interrupted\tyes, results are partial\n")
	}
	tw.Flush()
}

// severityLabel is the upper-case severity (or "-" when has is false),
// coloured when colour is on, padded to width.
func (t *tableWriter) severityLabel(sev finding.Severity, has bool, width int) string {
	if !has {
		return pad("-", width)
	}
	name := SafeText(strings.ToUpper(sev.String()), colSeverity)
	return paint(t.color, sev, name) + strings.Repeat(" ", max(width-utf8.RuneCountInString(name), 1))
}

func endpointURL(e *result.Endpoint) string {
	if e.URL != "" {
		return e.URL
	}
	return fmt.Sprintf("%s:%d", e.Host, e.Port)
}

func authCell(a *result.AuthInfo) string {
	if a == nil {
		return "-"
	}
	if s := SafeText(a.Scheme, colAuth); s != "" {
		return s
	}
	if a.Required {
		return "yes"
	}
	return "none"
}

func transportCell(m *result.MCPInfo) string {
	if m == nil {
		return "-"
	}
	switch m.Transport {
	case result.TransportStreamable:
		return "streamable"
	case result.TransportStateless:
		return "stateless"
	}
	return orDash(SafeText(m.Transport, colTransport))
}

// serverCell is "name/version", the name shortened first: the version is
// what tells a vulnerable release.
func serverCell(m *result.MCPInfo) string {
	if m == nil {
		return "-"
	}
	name := SafeText(cmp.Or(m.Server.Name, m.Server.Title), capURL)
	v := SafeText(m.Server.Version, colVersion)
	if v == "" {
		return orDash(cutEnd(name, colServer))
	}
	return cutEnd(cmp.Or(name, "?"), colServer-1-utf8.RuneCountInString(v)) + "/" + v
}

// toolsCell is the tool count ("+" when the listing was cut short) and the
// first names that fit.
func toolsCell(e *result.Endpoint) string {
	if len(e.Tools) == 0 && e.Listing == nil {
		return "-" // never listed (not MCP, or credentials required)
	}
	cell := fmt.Sprint(len(e.Tools))
	if e.Listing != nil && e.Listing.Truncated {
		cell += "+"
	}
	names := make([]string, 0, min(len(e.Tools), colTools))
	for _, tool := range e.Tools[:min(len(e.Tools), colTools)] {
		if n := SafeText(tool.Name, colTools); n != "" {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		cell += " " + strings.Join(names, ",")
	}
	return cutEnd(cell, colTools)
}

// findingsCell lists the distinct rule ids, most severe first; when they do
// not fit, the first id and how many more.
func findingsCell(fs []finding.Finding) string {
	if len(fs) == 0 {
		return "-"
	}
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(a, b finding.Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.Rule, b.Rule))
	})
	var ids []string
	for _, f := range sorted {
		id := orDash(SafeText(f.Rule, colFindings))
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if cell := strings.Join(ids, ","); utf8.RuneCountInString(cell) <= colFindings {
		return cell
	}
	more := fmt.Sprintf(" +%d", len(ids)-1)
	return cutEnd(ids[0], colFindings-len(more)) + more
}

// statusCounts renders "mcp 3, not-mcp 1, ..."; with all, every known
// status is listed even at zero.
func statusCounts(m map[result.Status]int, all bool) string {
	var parts []string
	for _, st := range sortedStatuses(m) {
		if n := m[st]; n > 0 || (all && slices.Contains(statusOrder, st)) {
			parts = append(parts, fmt.Sprintf("%s %d", SafeText(string(st), 20), n))
		}
	}
	return strings.Join(parts, ", ")
}

// severityCounts renders "critical 0, high 2, ..." from most to least
// severe, then any other keys sorted.
func severityCounts(m map[string]int) string {
	var parts []string
	var known []string
	for s := finding.Critical; s >= finding.Info; s-- {
		known = append(known, s.String())
		parts = append(parts, fmt.Sprintf("%s %d", s, m[s.String()]))
	}
	var extra []string
	for k := range m {
		if !slices.Contains(known, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		parts = append(parts, fmt.Sprintf("%s %d", SafeText(k, 20), m[k]))
	}
	return strings.Join(parts, ", ")
}

// wrap splits sanitised one-line text into lines of at most width runes,
// at spaces where it can.
func wrap(text string, width int) []string {
	var lines []string
	var line []rune
	for _, word := range strings.Split(text, " ") {
		w := []rune(word)
		for len(w) > width { // a word longer than a line is cut
			if len(line) > 0 {
				lines = append(lines, string(line))
				line = nil
			}
			lines = append(lines, string(w[:width]))
			w = w[width:]
		}
		switch {
		case len(line) == 0:
			line = w
		case len(line)+1+len(w) <= width:
			line = append(append(line, ' '), w...)
		default:
			lines = append(lines, string(line))
			line = w
		}
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}

func pad(s string, width int) string {
	return s + strings.Repeat(" ", max(width-utf8.RuneCountInString(s), 0))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func total(m map[result.Status]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
