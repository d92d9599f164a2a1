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
	"github.com/mcpwarden/mcpwarden/internal/risk"
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

Who uses a credential from where:
  --clients             instead of records, one row per principal and client address:
                        first and last use, requests, refusals, the address class
                        (loopback, private, public) and NEW when the principal's first
                        request from that network (/24, /64) came after --new-since
                        while it had used the gate from elsewhere before: a credential
                        used from a new network stands out
  --new-since TIME      the cutoff for NEW (default 24h; same forms as --since)

A partial last line (a write cut short by a crash) or any other unreadable
line is skipped with a warning on stderr.

Examples:
  mcpwarden audit --log jsonl:/var/log/mcpwarden/audit.jsonl --since 1h
  mcpwarden audit --log sqlite:audit.db --decision deny --tool shell
  mcpwarden audit --log sqlite:audit.db --principal key:ci-bot --since 2026-01-02 --until 2026-01-03 -o jsonl
  mcpwarden audit --log jsonl:audit.jsonl --method tools/call --limit 20
  mcpwarden audit --log sqlite:audit.db --clients --new-since 2h

Exit codes: 0 success (also when nothing matches), 2 bad flags or an
unreadable log.
`)
}

func runAudit(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var source, format, since, until, newSince string
	var clients bool
	var f audit.Filter
	fs.StringVar(&source, "log", "", "")
	fs.StringVar(&f.Principal, "principal", "", "")
	fs.StringVar(&f.Tool, "tool", "", "")
	fs.StringVar(&f.Method, "method", "", "")
	fs.StringVar(&f.Decision, "decision", "", "")
	fs.StringVar(&since, "since", "", "")
	fs.StringVar(&until, "until", "", "")
	fs.IntVar(&f.Limit, "limit", 0, "")
	fs.BoolVar(&clients, "clients", false, "")
	fs.StringVar(&newSince, "new-since", "", "")
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
	var cutoff time.Time
	if err == nil && newSince != "" && !clients {
		err = errors.New("--new-since needs --clients")
	}
	if err == nil && clients {
		if newSince == "" {
			newSince = "24h"
		}
		cutoff, err = parseAuditTime("--new-since", newSince, now)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden audit: %v\nRun 'mcpwarden audit --help' for usage.\n", err)
		return ExitError
	}
	limit := f.Limit
	if clients {
		f.Limit = 0 // the limit counts output rows, not records read
	}
	var recs iter.Seq2[*audit.Record, error]
	if source == "jsonl:-" {
		recs = audit.ScanJSONL(ctx, env.Stdin, "stdin", f)
	} else {
		recs = audit.Query(ctx, source, f)
	}
	if clients {
		return writeClients(ctx, env, recs, cutoff, limit, format)
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

// writeClients prints audit.Clients of recs as a table or JSON Lines.
func writeClients(ctx context.Context, env *Env, recs iter.Seq2[*audit.Record, error], cutoff time.Time, limit int, format string) int {
	uses, err := audit.Clients(ctx, recs, audit.ClientsOptions{
		NewSince: cutoff,
		Warn:     func(err error) { fmt.Fprintf(env.Stderr, "mcpwarden audit: warning: %v\n", err) },
	})
	if err != nil {
		return fail(env, err)
	}
	if limit > 0 && len(uses) > limit {
		uses = uses[:limit]
	}
	if format == "jsonl" {
		enc := json.NewEncoder(env.Stdout)
		for _, u := range uses {
			row := struct {
				audit.ClientUse
				Class string `json:"class"`
			}{u, string(risk.ClassOf(u.Client))}
			if err := enc.Encode(row); err != nil {
				return fail(env, err)
			}
		}
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	if len(uses) == 0 {
		fmt.Fprintln(tw, "no matching records")
		return flushOrFail(env, tw)
	}
	fmt.Fprintln(tw, "PRINCIPAL\tCLIENT\tNETWORK\tCLASS\tFIRST SEEN\tLAST SEEN\tREQUESTS\tDENIED\tNEW")
	const ts = "2006-01-02T15:04:05Z"
	for _, u := range uses {
		mark := ""
		if u.NewNetwork {
			mark = "NEW"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", cell(u.Principal), cell(u.Client), cell(u.Network),
			risk.ClassOf(u.Client), u.FirstSeen.UTC().Format(ts), u.LastSeen.UTC().Format(ts), u.Requests, u.Denied, mark)
	}
	return flushOrFail(env, tw)
}

func flushOrFail(env *Env, tw *tabwriter.Writer) int {
	if err := tw.Flush(); err != nil {
		return fail(env, err)
	}
	return ExitOK
}
