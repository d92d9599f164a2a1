package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/lab"
	"github.com/mcpwarden/mcpwarden/internal/report"
)

func demoUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: mcpwarden demo [flags]

Starts a lab of realistic MCP servers (built with the official MCP Go SDK)
on loopback addresses 127.0.0.10 and up, scans them exactly as 'mcpwarden
scan' would, prints the report and stops them. Nothing leaves this machine.

The lab: an open server with database and shell tools (streamable HTTP), an
open stateless one, a legacy HTTP+SSE one, a 2026-07-28 stateless-protocol
one, an OAuth-protected one with RFC 9728 metadata, one with a bare Bearer
challenge, one behind Basic auth, and a non-MCP web app.

Flags:
  -o, --output FORMAT  table, jsonl or json (default table)
  --first-ip IP        loopback address of the first lab server (default 127.0.0.10)
  --keep               keep the lab running after the scan until Ctrl-C, to poke at it
                       e.g. mcpwarden demo --keep, then mcpwarden scan 127.0.0.10-17 -p PORT

Example:
  mcpwarden demo
`)
}

func runDemo(ctx context.Context, env *Env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var format, firstIP string
	var keep bool
	fs.StringVar(&format, "o", "table", "")
	fs.StringVar(&format, "output", "table", "")
	fs.StringVar(&firstIP, "first-ip", lab.DefaultFirstIP, "")
	fs.BoolVar(&keep, "keep", false, "")
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			demoUsage(env.Stdout)
			return ExitOK
		}
	}
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) > 0 {
		err = fmt.Errorf("unexpected argument %q", pos[0])
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden demo: %v\nRun 'mcpwarden demo --help' for usage.\n", err)
		return ExitError
	}
	f, err := report.ParseFormat(format)
	if err != nil {
		fmt.Fprintf(env.Stderr, "mcpwarden demo: -o: %v\n", err)
		return ExitError
	}
	labCtx, stopLab := context.WithCancel(context.Background())
	defer stopLab()
	l, err := lab.StartLab(labCtx, &lab.LabOptions{FirstIP: firstIP})
	if err != nil {
		return fail(env, fmt.Errorf("demo: start the lab: %w", err))
	}
	defer l.Close()
	fmt.Fprintf(env.Stderr, "mcpwarden demo: started %d lab servers on loopback:\n", len(l.Servers))
	var specs []string
	for _, s := range l.Servers {
		fmt.Fprintf(env.Stderr, "  %-18s %s\n", s.Kind, s.URL)
		specs = append(specs, s.Addr)
	}
	fmt.Fprintf(env.Stderr, "mcpwarden demo: scanning %s (every default path on each)\n\n", strings.Join(specs, " "))

	cfg := &scanConfig{}
	_ = scanFlags(cfg) // the scan defaults
	cfg.targets = specs
	cfg.format = string(f)
	cfg.noProgress = true
	plan, err := planScan(cfg, env)
	if err != nil {
		return fail(env, err)
	}
	plan.opts.Concurrency = 16
	code := executeScan(ctx, env, cfg, plan)
	if code == ExitError {
		return code
	}
	if keep {
		fmt.Fprintln(env.Stderr, "\nmcpwarden demo: the lab keeps running; press Ctrl-C to stop it.")
		<-ctx.Done()
	}
	fmt.Fprintln(env.Stderr, "\nmcpwarden demo: the lab is stopped. Close an open server with 'mcpwarden gate --upstream URL --api-keys FILE', then scan the gate to verify.")
	return ExitOK
}
