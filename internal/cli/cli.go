// Package cli is mcpwarden's command line: subcommands, flags and wiring.
// It is the only package that prints results and picks exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	ExitOK       = 0 // nothing at or above --fail-on
	ExitFindings = 1 // findings at or above --fail-on
	ExitError    = 2 // usage or runtime error
)

// Version is set by the build (-ldflags "-X .../cli.Version=v1.2.3").
var Version = "dev"

// Env is what a command needs from the process, injected for tests.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// IsTerminal reports whether a writer is an interactive terminal.
	IsTerminal func(w io.Writer) bool
}

// usageError is a bad command line: printed with a hint, exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *Env, args []string) int
}

func commands() []command {
	return []command{
		{"scan", "find MCP endpoints on hosts, networks and URLs and tell which anyone can use", runScan},
		{"exposure", "what Shodan and Censys list of your own ranges and domains, classified and verified", runExposure},
		{"host", "audit this machine: MCP servers listening beyond loopback, client configs trusting open servers", runHost},
		{"report", "re-render a saved scan (JSON Lines) in another format, offline", runReport},
		{"gate", "an authenticating gateway in front of an MCP server (HTTP upstream or stdio command)", runGate},
		{"audit", "query the gate's audit trail (JSON Lines or SQLite)", runAudit},
		{"watch", "scan on a schedule, keep history, alert on changes (new servers, dropped auth, rug pulls)", runWatch},
		{"rules", "list the rules catalogue: ids, severities, why and how to fix", runRules},
		{"demo", "start a lab of MCP servers on loopback, scan it, print the report, stop it", runDemo},
		{"version", "print the version", func(_ context.Context, env *Env, _ []string) int {
			fmt.Fprintln(env.Stdout, "mcpwarden", Version)
			return ExitOK
		}},
	}
}

// Run runs the command line args (without the program name) and returns
// the process exit code.
func Run(ctx context.Context, args []string, env *Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.IsTerminal == nil {
		env.IsTerminal = isTerminal
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		mainUsage(env.Stdout)
		return ExitOK
	}
	if args[0] == "help" {
		args = []string{args[1], "--help"}
	}
	if args[0] == "--version" || args[0] == "-version" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "mcpwarden: unknown command %q\nRun 'mcpwarden --help' for the list of commands.\n", args[0])
	return ExitError
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `mcpwarden finds MCP servers that anyone on a network can use without
authentication, and tells you how to close them.

Usage:
  mcpwarden <command> [flags] [arguments]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Examples:
  mcpwarden demo                                  # a self-contained lab on loopback, scanned
  mcpwarden scan 127.0.0.1 -p 3000,8000-8100      # one host, some ports
  mcpwarden scan http://127.0.0.1:3000/mcp        # one URL
  mcpwarden scan -iL hosts.txt -o jsonl > out.jsonl

Run 'mcpwarden <command> --help' for the flags of a command.
Exit codes: 0 nothing at or above --fail-on, 1 findings at or above it, 2 usage or runtime error.
`)
}

// fail prints err as mcpwarden's error line and returns ExitError.
func fail(env *Env, err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(env.Stderr, "mcpwarden: %s\n", ue.msg)
		return ExitError
	}
	fmt.Fprintf(env.Stderr, "mcpwarden: %v\n", err)
	return ExitError
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
