package report

import (
	"io"
	"os"

	"github.com/mcpwarden/mcpwarden/internal/finding"
)

// AutoColor reports whether colour suits w: w is a terminal (an *os.File
// that is a character device), NO_COLOR is unset or empty and TERM is not
// "dumb". getenv is usually os.Getenv; nil reads no environment.
func AutoColor(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	if getenv != nil && (getenv("NO_COLOR") != "" || getenv("TERM") == "dumb") {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}

// The SGR sequences used for severities; reset ends each.
const (
	sgrReset    = "\x1b[0m"
	sgrCritical = "\x1b[1;35m" // bold magenta
	sgrHigh     = "\x1b[1;31m" // bold red
	sgrMedium   = "\x1b[33m"   // yellow
	sgrLow      = "\x1b[36m"   // cyan
	sgrInfo     = "\x1b[2m"    // dim
)

// paint wraps text in the colour of sev when on is true.
func paint(on bool, sev finding.Severity, text string) string {
	if !on {
		return text
	}
	var sgr string
	switch sev {
	case finding.Critical:
		sgr = sgrCritical
	case finding.High:
		sgr = sgrHigh
	case finding.Medium:
		sgr = sgrMedium
	case finding.Low:
		sgr = sgrLow
	default:
		sgr = sgrInfo
	}
	return sgr + text + sgrReset
}
