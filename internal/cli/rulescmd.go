package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mcpwarden/mcpwarden/internal/rules"
)

func rulesUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden rules [flags] [RULE-ID]

Lists the rules catalogue: every check mcpwarden reports, with its stable id,
default severity, title, why it matters and how to fix it. docs/rules.md is
generated from the same source.

Flags:
  -o, --output FORMAT   table or json (default table)

Examples:
  mcpwarden rules
  mcpwarden rules MCPW-001
  mcpwarden rules -o json | jq -r '.[].id'
`)
}

func runRules(_ context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var format string
	fs.StringVar(&format, "o", "table", "")
	fs.StringVar(&format, "output", "table", "")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			rulesUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && format != "table" && format != "json" {
		err = fmt.Errorf("-o: unknown format %q (valid: table, json)", format)
	}
	if err == nil && len(pos) > 1 {
		err = fmt.Errorf("at most one rule id, got %d arguments", len(pos))
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden rules: %v\nRun 'mcpwarden rules --help' for usage.\n", err)
		return ExitError
	}
	list := rules.All()
	if len(pos) == 1 {
		r, ok := rules.Lookup(pos[0])
		if !ok {
			fmt.Fprintf(env.Stderr, "mcpwarden rules: unknown rule %q (run 'mcpwarden rules' for the list)\n", pos[0])
			return ExitError
		}
		list = []rules.Rule{r}
	}
	if format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return fail(env, err)
		}
		return ExitOK
	}
	if len(list) == 1 {
		r := list[0]
		fmt.Fprintf(env.Stdout, "%s  %s  %s\n\nWhy: %s\n\nFix: %s\n", r.ID, r.Severity, r.Title, r.Why, r.Fix)
		return ExitOK
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tTITLE")
	for _, r := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, r.Severity, r.Title)
	}
	tw.Flush()
	fmt.Fprintln(env.Stdout, "\nRun 'mcpwarden rules MCPW-NNN' for why it matters and how to fix it.")
	return ExitOK
}
