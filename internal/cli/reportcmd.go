package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/baseline"
	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/risk"
)

func reportUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden report [flags] FILE.jsonl

Re-renders a saved scan (JSON Lines from 'mcpwarden scan -o jsonl') in another
format, offline: nothing is sent on the network. Findings are assessed again
with this version's rules, so a saved scan can be re-judged after an upgrade,
and a baseline can be applied. FILE may be - for stdin.

Flags:
  -o, --output FORMAT   table, jsonl, json, sarif or markdown (default table)
  --output-file FILE    write the report to FILE instead of stdout
  --baseline FILE       accepted findings (see 'mcpwarden scan --help')
  --fail-on SEVERITY    exit 1 when an unsuppressed finding is at or above it (default high)
  --all                 also list non-MCP and closed records

Examples:
  mcpwarden scan 127.0.0.0/24 -o jsonl > scan.jsonl
  mcpwarden report scan.jsonl -o sarif --output-file mcpwarden.sarif
  mcpwarden report scan.jsonl -o markdown --baseline accepted.yaml
`)
}

// maxRecordLine caps one JSONL record when reading a saved scan.
const maxRecordLine = 64 << 20

func runReport(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var format, outFile, basePath, failOn string
	var all bool
	fs.StringVar(&format, "o", "table", "")
	fs.StringVar(&format, "output", "table", "")
	fs.StringVar(&outFile, "output-file", "", "")
	fs.StringVar(&basePath, "baseline", "", "")
	fs.StringVar(&failOn, "fail-on", "high", "")
	fs.BoolVar(&all, "all", false, "")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			reportUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) != 1 {
		err = fmt.Errorf("want exactly one saved scan (FILE.jsonl or -), got %d arguments", len(pos))
	}
	var f report.Format
	var threshold finding.Severity
	var base *baseline.Baseline
	if err == nil {
		f, err = report.ParseFormat(format)
	}
	if err == nil {
		threshold, err = finding.ParseSeverity(failOn)
	}
	if err == nil && basePath != "" {
		base, err = readBaseline(basePath)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden report: %v\nRun 'mcpwarden report --help' for usage.\n", err)
		return ExitError
	}
	in := env.Stdin
	name := "stdin"
	if pos[0] != "-" {
		file, err := os.Open(pos[0])
		if err != nil {
			return fail(env, err)
		}
		defer file.Close()
		in, name = file, pos[0]
	}
	out := env.Stdout
	if outFile != "" {
		file, err := os.OpenFile(outFile, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fail(env, fmt.Errorf("--output-file: %w", err))
		}
		defer file.Close()
		out = file
	}
	w, err := report.New(f, out, report.Options{Version: Version, All: all, Color: outFile == "" && report.AutoColor(env.Stdout, env.Getenv)})
	if err != nil {
		return fail(env, err)
	}
	warnExpired(env.Stderr, base)
	now := time.Now()
	sum := &result.Summary{Schema: result.SummarySchema, ByStatus: map[result.Status]int{}, Findings: map[string]int{}}
	worst := finding.Severity(-1)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxRecordLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var head struct {
			Schema string `json:"schema"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return fail(env, fmt.Errorf("%s:%d: not a JSON object: %w", name, line, err))
		}
		switch head.Schema {
		case result.SummarySchema:
			var s result.Summary
			if json.Unmarshal(b, &s) == nil {
				sum.Targets, sum.Excluded, sum.Requests, sum.ElapsedMS = s.Targets, s.Excluded, s.Requests, s.ElapsedMS
			}
			continue
		case result.Schema:
		default:
			return fail(env, fmt.Errorf("%s:%d: schema %q is not %q (is this a mcpwarden scan?)", name, line, head.Schema, result.Schema))
		}
		var ep result.Endpoint
		if err := json.Unmarshal(b, &ep); err != nil {
			return fail(env, fmt.Errorf("%s:%d: %w", name, line, err))
		}
		risk.Assess(&ep)
		base.Apply(&ep, now)
		sum.ByStatus[ep.Status]++
		sum.Count(&ep)
		if s, ok := finding.Max(ep.Findings); ok && s > worst {
			worst = s
		}
		if err := w.Write(&ep); err != nil {
			return fail(env, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fail(env, fmt.Errorf("%s:%d: %w", name, line+1, err))
	}
	if sum.Targets == 0 {
		sum.Targets = int64(line)
	}
	if err := w.Close(sum); err != nil {
		return fail(env, err)
	}
	if worst >= threshold {
		return ExitFindings
	}
	return ExitOK
}

func readBaseline(path string) (*baseline.Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return baseline.Read(path, f)
}

func warnExpired(w io.Writer, b *baseline.Baseline) {
	if b == nil {
		return
	}
	for _, e := range b.Expired(time.Now()) {
		fmt.Fprintf(w, "mcpwarden: baseline entry for %s at %s expired on %s and no longer suppresses anything\n", e.Rule, e.URL, e.Expires)
	}
}
