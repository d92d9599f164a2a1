package host

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/mcpwarden/mcpwarden/internal/gate"
	"github.com/mcpwarden/mcpwarden/internal/host/procfs"
)

// GateProcess is a running `mcpwarden gate` found by its command line.
type GateProcess struct {
	PID int
	// Upstreams are the addresses of the HTTP upstreams it fronts, from
	// --upstream and from the routes of its --config file.
	Upstreams []netip.AddrPort
	// Notes are what could not be read of its configuration, one line
	// each (a config file that cannot be read, an upstream given as a
	// host name).
	Notes []string
}

// GateArgs is what a gate's command line says about its upstreams.
type GateArgs struct {
	// Upstreams are the --upstream values, in order.
	Upstreams []string
	// Config is the --config file, as given (relative to the gate's
	// working directory when not absolute).
	Config string
}

// ParseGateArgs recognises the command line of `mcpwarden gate`: the
// program's base name starts with "mcpwarden" and its first argument that
// is not a flag is "gate". ok is false for any other command. Flags are
// read in both forms (--upstream URL, --upstream=URL, one or two dashes)
// up to a "--".
//
// Settings given to the gate through MCPW_GATE_* environment variables
// are not seen: another process's environment is not readable by a
// non-root user (/proc/<pid>/environ), and is not read here at all.
func ParseGateArgs(argv []string) (GateArgs, bool) {
	if len(argv) < 2 || !strings.HasPrefix(path.Base(argv[0]), "mcpwarden") {
		return GateArgs{}, false
	}
	i := 1
	for i < len(argv) && strings.HasPrefix(argv[i], "-") && argv[i] != "--" {
		i++
	}
	if i >= len(argv) || argv[i] != "gate" {
		return GateArgs{}, false
	}
	var g GateArgs
	args := argv[i+1:]
	for j := 0; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "upstream" && name != "config" {
			continue
		}
		if !hasVal {
			if j+1 >= len(args) {
				break
			}
			j++
			val = args[j]
		}
		if name == "upstream" {
			g.Upstreams = append(g.Upstreams, val)
		} else {
			g.Config = val
		}
	}
	return g, true
}

// UpstreamAddrs turns an upstream URL into the addresses it connects to:
// an IP literal as is, "localhost" as 127.0.0.1 and ::1, the port from
// the URL or the scheme's default. A host name is an error: it is not
// resolved (declare the listener with --gated instead).
func UpstreamAddrs(raw string) ([]netip.AddrPort, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", raw, err)
	}
	var port uint16
	switch p := u.Port(); {
	case p != "":
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("upstream %q: bad port %q", raw, p)
		}
		port = uint16(n)
	case u.Scheme == "http":
		port = 80
	case u.Scheme == "https":
		port = 443
	default:
		return nil, fmt.Errorf("upstream %q: not an http or https URL", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return []netip.AddrPort{
			netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port),
			netip.AddrPortFrom(netip.IPv6Loopback(), port),
		}, nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: host %q is a name, not resolved here", raw, host)
	}
	return []netip.AddrPort{netip.AddrPortFrom(a.Unmap().WithZone(""), port)}, nil
}

// FindGates lists the running `mcpwarden gate` processes of the tree and
// the upstreams each fronts (--upstream, and the routes of --config, read
// as the gate sees the file: under /proc/<pid>/root or /proc/<pid>/cwd).
func FindGates(ctx context.Context, rd *procfs.Reader) ([]GateProcess, error) {
	pids, err := rd.PIDs(ctx)
	if err != nil {
		return nil, err
	}
	var out []GateProcess
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		args, ok := ParseGateArgs(rd.Cmdline(pid))
		if !ok {
			continue
		}
		g := GateProcess{PID: pid}
		ups := args.Upstreams
		if args.Config != "" {
			b, err := rd.ProcessFile(pid, args.Config)
			var fc *gate.FileConfig
			if err == nil {
				fc, err = gate.ParseConfig(bytes.NewReader(b))
			}
			if err != nil {
				g.Notes = append(g.Notes, fmt.Sprintf("config %s: %v", args.Config, err))
			} else {
				for _, r := range fc.Routes {
					if r.Upstream != "" {
						ups = append(ups, r.Upstream)
					}
				}
			}
		}
		for _, u := range ups {
			addrs, err := UpstreamAddrs(u)
			if err != nil {
				g.Notes = append(g.Notes, err.Error()+"; declare it with --gated ADDR:PORT")
				continue
			}
			g.Upstreams = append(g.Upstreams, addrs...)
		}
		if len(ups) == 0 && len(g.Notes) == 0 {
			g.Notes = append(g.Notes, "no HTTP upstream in its command line or config file (a stdio upstream, or one set "+
				"in its environment, which other processes cannot read); declare what it fronts with --gated ADDR:PORT")
		}
		out = append(out, g)
	}
	return out, nil
}
