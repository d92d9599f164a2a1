package cli

import (
	"os"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// badFunc collects one usage problem (commands report every problem at once).
type badFunc func(format string, args ...any)

// reportFormat picks a report format the way every reporting command
// does: the format flag when given (named flagName in errors), else a table
// on a terminal and JSON Lines otherwise (a pipe or --output-file).
func reportFormat(env *Env, flagName, format, outputFile string, bad badFunc) report.Format {
	switch {
	case format != "":
		f, err := report.ParseFormat(format)
		if err != nil {
			bad("%s: %v", flagName, err)
		}
		return f
	case outputFile == "" && env.IsTerminal(env.Stdout):
		return report.FormatTable
	default:
		return report.FormatJSONL
	}
}

// failOnSeverity parses --fail-on.
func failOnSeverity(s string, bad badFunc) finding.Severity {
	sev, err := finding.ParseSeverity(s)
	if err != nil {
		bad("--fail-on: %v", err)
	}
	return sev
}

// exclusions reads --exclude values and --exclude-file files into one set.
func exclusions(specs, files []string, bad badFunc) *target.Exclusions {
	excl, err := target.ParseExclusions(specs)
	if err != nil {
		bad("--exclude: %v", err)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			bad("--exclude-file: %v", err)
			continue
		}
		more, err := target.ReadExclusions(name, f)
		f.Close()
		if err != nil {
			bad("--exclude-file: %v", err)
			continue
		}
		excl = excl.Union(more)
	}
	return excl
}
