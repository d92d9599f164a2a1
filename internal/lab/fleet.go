package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// DefaultFirstIP is the address of the first server StartLab starts when
// LabOptions.FirstIP is empty.
const DefaultFirstIP = "127.0.0.10"

// LabOptions configures StartLab. nil or the zero value is valid.
type LabOptions struct {
	// Options apply to every server.
	Options
	// Kinds are the kinds to start, one server each. nil means [Kinds].
	Kinds []Kind
	// FirstIP is the loopback IPv4 address of the first server; each next
	// server gets the next address (127.0.0.10, 127.0.0.11, ...). Empty
	// means [DefaultFirstIP]. Linux routes all of 127.0.0.0/8 to the
	// loopback interface; other systems may need aliases.
	FirstIP string
	// Port is the port every server listens on (each has its own IP, so
	// they do not collide). Zero means a random free port per server.
	Port int
}

// Lab is a set of running servers, one per kind, each on its own loopback
// IP.
type Lab struct {
	// Servers are in the order of LabOptions.Kinds.
	Servers []*Server
}

// StartLab starts one server of each kind in opts.Kinds on distinct
// loopback addresses. On error every server already started is closed. The
// servers run until Close is called or ctx is cancelled.
func StartLab(ctx context.Context, opts *LabOptions) (*Lab, error) {
	var o LabOptions
	if opts != nil {
		o = *opts
	}
	kinds := o.Kinds
	if kinds == nil {
		kinds = Kinds()
	}
	seen := make(map[Kind]bool, len(kinds))
	for _, k := range kinds {
		if _, err := ParseKind(string(k)); err != nil {
			return nil, err
		}
		if seen[k] {
			return nil, fmt.Errorf("lab: kind %q listed twice", k)
		}
		seen[k] = true
	}
	if o.FirstIP == "" {
		o.FirstIP = DefaultFirstIP
	}
	ip, err := netip.ParseAddr(o.FirstIP)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return nil, fmt.Errorf("lab: first IP %q is not a loopback IPv4 address", o.FirstIP)
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("lab: port %d out of range 0..65535", o.Port)
	}

	l := &Lab{}
	for i, k := range kinds {
		if i > 0 {
			ip = ip.Next()
		}
		if !ip.IsValid() || !ip.IsLoopback() {
			l.Close()
			return nil, fmt.Errorf("lab: no loopback address left for kind %q after %s", k, o.FirstIP)
		}
		srvOpts := o.Options
		s, err := Start(ctx, k, net.JoinHostPort(ip.String(), strconv.Itoa(o.Port)), &srvOpts)
		if err != nil {
			l.Close()
			return nil, err
		}
		l.Servers = append(l.Servers, s)
	}
	return l, nil
}

// Server returns the lab's server of kind k, or nil.
func (l *Lab) Server(k Kind) *Server {
	for _, s := range l.Servers {
		if s.Kind == k {
			return s
		}
	}
	return nil
}

// Close closes every server and returns their errors joined.
func (l *Lab) Close() error {
	var errs []error
	for _, s := range l.Servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}
