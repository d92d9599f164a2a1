package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

func auditUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden audit --log SOURCE [flags]

Queries the audit trail written by 'mcpwarden gate': one record per JSON-RPC
request with its principal, method, tool, decision, latency and a digest of
the arguments. Records are printed oldest first. Filters combine with AND.

Flags:
  --log SOURCE          the audit log to read (required):
                          jsonl:PATH    a JSON Lines file (jsonl:- reads stdin)
                          sqlite:PATH   a SQLite database
  --principal P         only requests by this principal key (e.g. key:ci-bot)
  --tool NAME           only requests for this tool, resource URI or prompt name
  --method M            only this JSON-RPC method (e.g. tools/call, tools/list)
  --decision D          only allow, deny or error
  --since TIME          only records at or after TIME: RFC 3339
                        (2026-01-02T15:04:05Z), a date (2026-01-02, UTC) or a
                        duration back from now (90s, 15m, 1h, 36h)
  --until TIME          only records before TIME (same forms as --since)
  --limit N             print at most N records (default 0: all)
  -o, --output FORMAT   table or jsonl (default table)

A partial last line (a write cut short by a crash) or any other unreadable
line is skipped with a warning on stderr.

Examples:
  mcpwarden audit --log jsonl:/var/log/mcpwarden/audit.jsonl --since 1h
  mcpwarden audit --log sqlite:audit.db --decision deny --tool shell
  mcpwarden audit --log sqlite:audit.db --principal key:ci-bot --since 2026-01-02 --until 2026-01-03 -o jsonl
  mcpwarden audit --log jsonl:audit.jsonl --method tools/call --limit 20

Exit codes: 0 success (also when nothing matches), 2 bad flags or an
unreadable log.
`)
}

func runAudit(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var source, format, since, until string
	var f audit.Filter
	fs.StringVar(&source, "log", "", "")
	fs.StringVar(&f.Principal, "principal", "", "")
	fs.StringVar(&f.Tool, "tool", "", "")
	fs.StringVar(&f.Method, "method", "", "")
	fs.StringVar(&f.Decision, "decision", "", "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&until, "until", "", "")
	fs.IntVar(&f.Limit, "limit", 0, "")
	fs.StringVar(&format, "o", "table", "")
	fs.StringVar(&format, "output", "table", "")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			auditUsage(env.Stdout)
			return ExitOK
		}
	}
	now := time.Now()
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q (the log is given with --log)", pos[0])
	}
	if err == nil {
		err = checkAuditSource(source)
	}
	if err == nil && f.Decision != "" && f.Decision != "allow" && f.Decision != "deny" && f.Decision != "error" {
		err = fmt.Errorf("--decision: %q is not allow, deny or error", f.Decision)
	}
	if err == nil && f.Limit < 0 {
		err = fmt.Errorf("--limit: %d is negative", f.Limit)
	}
	if err == nil && format != "table" && format != "jsonl" {
		err = fmt.Errorf("-o: unknown format %q (valid: table, jsonl)", format)
	}
	if err == nil && since != "" {
		f.Since, err = parseAuditTime("--since", since, now)
	}
	if err == nil && until != "" {
		f.Until, err = parseAuditTime("--until", until, now)
	}
	if err == nil && !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		err = fmt.Errorf("--since %s is not before --until %s", since, until)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden audit: %v\nRun 'mcpwarden audit --help' for usage.\n", err)
		return ExitError
	}
	var recs iter.Seq2[*audit.Record, error]
	if source == "jsonl:-" {
		recs = audit.ScanJSONL(ctx, env.Stdin, "stdin", f)
	} else {
		recs = audit.Query(ctx, source, f)
	}
	var out auditWriter
	if format == "jsonl" {
		out = &auditJSONL{enc: json.NewEncoder(env.Stdout)}
	} else {
		out = &auditTable{tw: tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)}
	}
	for r, err := range recs {
		if errors.Is(err, audit.ErrBadLine) {
			fmt.Fprintf(env.Stderr, "mcpwarden audit: warning: %v\n", err)
			continue
		}
		if err != nil {
			out.flush()
			return fail(env, err)
		}
		if err := out.write(r); err != nil {
			return fail(env, err)
		}
	}
	if err := out.flush(); err != nil {
		return fail(env, err)
	}
	return ExitOK
}

// checkAuditSource accepts jsonl:PATH and sqlite:PATH.
func checkAuditSource(s string) error {
	if s == "" {
		return errors.New("--log is required (jsonl:PATH or sqlite:PATH)")
	}
	kind, path, ok := strings.Cut(s, ":")
	if !ok || (kind != "jsonl" && kind != "sqlite") || path == "" || (kind == "sqlite" && path == "-") {
		return fmt.Errorf("--log: %q is not jsonl:PATH or sqlite:PATH", s)
	}
	return nil
}

// parseAuditTime reads RFC 3339, a date (UTC) or a duration before now.
func parseAuditTime(flagName, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%s: duration %q must be positive (it means that long ago)", flagName, s)
		}
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration (1h)", flagName, s)
}

type auditWriter interface {
	write(*audit.Record) error
	flush() error
}

type auditJSONL struct{ enc *json.Encoder }

func (w *auditJSONL) write(r *audit.Record) error { return w.enc.Encode(r) }
func (w *auditJSONL) flush() error                { return nil }

type auditTable struct {
	tw   *tabwriter.Writer
	rows int
}

func (w *auditTable) write(r *audit.Record) error {
	if w.rows == 0 {
		fmt.Fprintln(w.tw, "TIME\tPRINCIPAL\tAUTH\tMETHOD\tNAME\tDECISION\tREASON\tUPSTREAM\tLATENCY\tCLIENT")
	}
	w.rows++
	up := "-"
	if r.Upstream != 0 {
		up = strconv.Itoa(r.Upstream)
	}
	_, err := fmt.Fprintf(w.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1fms\t%s\n",
		r.Time.UTC().Format("2006-01-02T15:04:05.000Z"), cell(r.Principal), cell(r.AuthMethod), cell(r.Method),
		cell(r.Name), cell(r.Decision), cell(r.Reason), up, r.LatencyMS, cell(r.ClientAddr))
	return err
}

func (w *auditTable) flush() error {
	if w.rows == 0 {
		fmt.Fprintln(w.tw, "no matching records")
	}
	return w.tw.Flush()
}

// cell makes a client-supplied string safe for a terminal table: control
// characters (escape sequences, tabs, newlines) are shown escaped, and an
// empty value is a dash.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	clean := true
	for _, c := range s {
		if !unicode.IsGraphic(c) || c == '\t' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}
