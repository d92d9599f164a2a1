package host

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/host/clientcfg"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// configs reads and judges the client configurations.
func (a *auditor) configs(ctx context.Context) error {
	home := homeDir(a.opts.Home)
	locs := clientcfg.Locations(home, projectDir(a.opts.Project))
	if a.opts.AllUsers {
		if os.Geteuid() != 0 {
			a.warn("configs: --all-users without root: other users' configuration files are not readable and are reported as errors")
		}
		homes, err := userHomes(a.opts.Passwd)
		if err != nil {
			a.warn("configs: --all-users: %v", err)
		}
		for _, h := range homes {
			if h != home {
				locs = append(locs, clientcfg.Locations(h, "")...)
			}
		}
	}
	for _, p := range a.opts.Configs {
		locs = append(locs, clientcfg.Location{Client: clientcfg.Custom, Path: p})
	}
	res := clientcfg.Read(locs)
	// A --config file that does not exist is an error, not a skip.
	for _, p := range a.opts.Configs {
		if _, err := os.Stat(p); err != nil {
			res.Errors = append(res.Errors, &clientcfg.FileError{Client: clientcfg.Custom, Path: p, Err: err})
		}
	}
	for _, fe := range res.Errors {
		a.warn("configs: %v", fe)
		ep := &result.Endpoint{
			Schema: result.Schema, URL: "file://" + fe.Path, Status: result.StatusError, Error: fe.Err.Error(),
			Config: &result.ConfigInfo{Client: fe.Client, Path: fe.Path}, Findings: []finding.Finding{}, ScannedAt: time.Now().UTC(),
		}
		if err := a.put(ep); err != nil {
			return err
		}
	}
	for i := range res.Servers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		if err := a.configServer(ctx, &res.Servers[i]); err != nil {
			return err
		}
	}
	return nil
}

// configServer emits the record of one entry: not probed, or, with
// ProbeRemotes, the scan records of its URL with the entry's findings.
func (a *auditor) configServer(ctx context.Context, s *clientcfg.Server) error {
	info := &result.ConfigInfo{Client: s.Client, Path: s.Path, ServerName: s.Name, Transport: s.Transport, Project: s.Project}
	fs := s.Findings()
	if a.opts.ProbeRemotes && s.Remote() {
		svc, err := urlService(s.URL)
		if err != nil {
			a.warn("configs: %s server %q: %v", s.Path, s.Name, err)
		} else {
			so := a.opts.Scan
			so.EmitClosed = true
			if so.Logger == nil {
				so.Logger = a.opts.Logger
			}
			display := s.Display()
			sum, err := scan.Run(ctx, services{svc}, so, func(ep *result.Endpoint) error {
				ep.Config = info
				if ep.URL == s.URL || strings.HasPrefix(ep.URL, s.URL) {
					ep.URL = display
				}
				ep.Findings = append(ep.Findings, fs...)
				return a.put(ep)
			})
			if sum != nil {
				a.res.Summary.Requests += sum.Requests
			}
			return err
		}
	}
	ep := &result.Endpoint{
		Schema: result.Schema, URL: s.Display(), Status: result.StatusNotProbed, Config: info,
		Findings: fs, ScannedAt: time.Now().UTC(),
	}
	if s.Remote() {
		if u, err := url.Parse(s.URL); err == nil {
			ep.Host = u.Hostname()
			ep.Port = urlPort(u)
		}
	}
	if ep.Findings == nil {
		ep.Findings = []finding.Finding{}
	}
	return a.put(ep)
}

func urlPort(u *url.URL) int {
	if p, err := strconv.Atoi(u.Port()); err == nil {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return 443
	}
	return 80
}

// urlService turns a configured URL into the one service to probe: its
// scheme, host, port and path only.
func urlService(raw string) (target.Service, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target.Service{}, fmt.Errorf("bad URL: %w", err)
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme != "http" && scheme != "https") || u.Hostname() == "" {
		return target.Service{}, fmt.Errorf("URL %q is not http(s)://host/...", clientcfg.RedactURL(raw))
	}
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	host := u.Hostname()
	if ad, err := netip.ParseAddr(host); err == nil {
		host = ad.String()
	}
	return target.Service{Host: host, Port: urlPort(u), Scheme: scheme, Paths: []string{p}, Source: "config"}, nil
}
