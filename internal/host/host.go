// Package host audits this machine for MCP servers that others can reach
// and MCP client configurations that trust open servers.
//
// Listeners: every listening TCP socket (package procfs) is probed with
// the scan engine through loopback only (a socket on 0.0.0.0 at 127.0.0.1,
// one on :: at ::1; one on a specific non-loopback address is not probed
// and is judged by its owner's command line, package mcpcmd). Each record
// names the owning process, and the verdict scales with the bind address
// and whether the machine has a public address.
//
// Client configurations (package clientcfg) become records of their own,
// optionally probed (Options.ProbeRemotes).
//
// Records are result.Endpoint values with Listen, Process and Config set;
// the findings come from the rules catalogue (MCPW-025 and up for this
// audit, plus every scan rule).
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/risk"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Options configures an audit. The zero value audits the listeners and the
// current user's client configurations of this machine.
type Options struct {
	// NoListeners skips the listening sockets; NoConfigs the client
	// configurations.
	NoListeners bool
	NoConfigs   bool
	// Proc reads the listening sockets. nil means this machine's: procfs on
	// Linux, gopsutil (internal/host/sysnet) on macOS, Windows and the BSDs.
	Proc *procfs.Reader
	// Ports, when non-empty, limits the listeners audited to these ports.
	Ports []int
	// ProbeAddr maps a listener's bound address to the loopback address it
	// is probed at; ok false means it is not probed. nil means
	// DefaultProbeAddr. Tests use it to stand a loopback server in for a
	// wildcard bind; whatever it returns, the probe refuses any address
	// that is not loopback.
	ProbeAddr func(bound netip.AddrPort) (probe netip.AddrPort, ok bool)
	// LocalAddrs lists the machine's interface addresses, to tell whether
	// it has a public one. nil means the addresses of net.InterfaceAddrs.
	LocalAddrs func() ([]netip.Addr, error)

	// Home is the home directory whose client configurations are read;
	// empty means os.UserHomeDir. Project is the project directory whose
	// per-project files (.mcp.json, .cursor/, .vscode/, .gemini/) are read;
	// empty means the working directory.
	Home    string
	Project string
	// AllUsers also reads the configurations of every user with a home
	// directory in Passwd (needs root to read them).
	AllUsers bool
	// Passwd is the passwd file AllUsers reads; empty means /etc/passwd.
	Passwd string
	// Configs are more configuration files to read (any client's format).
	Configs []string
	// ProbeRemotes scans the remote URLs of client configurations with the
	// scan engine (traffic leaves this machine: opt-in).
	ProbeRemotes bool

	// Scan configures the probes (timeouts, caps, concurrency). Excluded
	// is replaced for listener probes by a check that refuses every
	// non-loopback address.
	Scan scan.Options
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
}

// ErrInterrupted is returned (wrapped) when the context ended before the
// audit did; the records emitted so far are complete.
var ErrInterrupted = errors.New("host audit interrupted")

// Result sums up an audit.
type Result struct {
	Summary *result.Summary
	// Warnings are what the audit could not see or read (tables, config
	// files, other users' processes), one line each, for stderr.
	Warnings []string
}

// Audit runs the audit and calls emit, from the caller's goroutine, with
// each record. An error from emit stops the audit and is returned. Errors
// of one part (listeners unsupported on this OS, a config file that does
// not parse) do not stop the other: they are warnings or error records.
func Audit(ctx context.Context, opts Options, emit func(*result.Endpoint) error) (*Result, error) {
	start := time.Now()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &auditor{opts: opts, emit: emit, res: &Result{Summary: &result.Summary{
		Schema: result.SummarySchema, ByStatus: map[result.Status]int{}, Findings: map[string]int{},
	}}}
	var err error
	if !opts.NoListeners {
		err = a.listeners(ctx)
	}
	if err == nil && !opts.NoConfigs {
		err = a.configs(ctx)
	}
	a.res.Summary.ElapsedMS = time.Since(start).Milliseconds()
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	if errors.Is(err, scan.ErrInterrupted) {
		err = fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	if errors.Is(err, ErrInterrupted) {
		a.res.Summary.Interrupted = true
	}
	return a.res, err
}

type auditor struct {
	opts Options
	emit func(*result.Endpoint) error
	res  *Result
}

func (a *auditor) warn(format string, args ...any) {
	a.res.Warnings = append(a.res.Warnings, fmt.Sprintf(format, args...))
}

// put counts a record and emits it.
func (a *auditor) put(ep *result.Endpoint) error {
	s := a.res.Summary
	s.Targets++
	s.ByStatus[ep.Status]++
	s.Count(ep)
	return a.emit(ep)
}

// DefaultProbeAddr probes a loopback listener at its own address, one on
// 0.0.0.0 at 127.0.0.1 and one on :: at ::1, and no other.
func DefaultProbeAddr(bound netip.AddrPort) (netip.AddrPort, bool) {
	a := bound.Addr()
	switch {
	case a.IsLoopback():
		return bound, true
	case a == netip.IPv4Unspecified():
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), bound.Port()), true
	case a == netip.IPv6Unspecified():
		return netip.AddrPortFrom(netip.IPv6Loopback(), bound.Port()), true
	}
	return netip.AddrPort{}, false
}

// publicAddrs returns the machine's public (global unicast, not private)
// addresses.
func (a *auditor) publicAddrs() []netip.Addr {
	list := a.opts.LocalAddrs
	if list == nil {
		list = interfaceAddrs
	}
	addrs, err := list()
	if err != nil {
		a.warn("cannot list this machine's addresses (%v); severities assume no public address", err)
		return nil
	}
	var out []netip.Addr
	for _, ad := range addrs {
		if isPublic(ad) {
			out = append(out, ad)
		}
	}
	return out
}

func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && risk.ClassOf(a.String()) == risk.Public
}

func interfaceAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, ifa := range ifas {
		if p, err := netip.ParsePrefix(ifa.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// services is a scan.Source over a fixed list.
type services []target.Service

func (s services) Each(ctx context.Context, fn func(target.Service) error) error {
	for _, svc := range s {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(svc); err != nil {
			return err
		}
	}
	return nil
}

// loopbackOnly is the Excluded hook of listener probes: every address that
// is not loopback is refused at dial time.
func loopbackOnly(a netip.Addr) bool { return !a.Unmap().IsLoopback() }

func homeDir(opt string) string {
	if opt != "" {
		return opt
	}
	h, _ := os.UserHomeDir()
	return h
}

func projectDir(opt string) string {
	if opt != "" {
		return opt
	}
	d, _ := os.Getwd()
	return d
}

// userHomes reads the home directories of a passwd file, skipping system
// accounts whose home is / or does not exist.
func userHomes(path string) ([]string, error) {
	if path == "" {
		path = "/etc/passwd"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || strings.HasPrefix(f[0], "#") {
			continue
		}
		h := f[5]
		if h == "" || h == "/" || slices.Contains(out, h) {
			continue
		}
		if st, err := os.Stat(h); err != nil || !st.IsDir() {
			continue
		}
		out = append(out, h)
	}
	return out, nil
}
