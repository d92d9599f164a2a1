package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/report"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/scan"
	"github.com/mcpwarden/mcpwarden/internal/target"
)

// Services is a scan source over a fixed list of services.
type Services []target.Service

var _ scan.Source = Services(nil)

// Each calls fn with every service in order, until fn fails or ctx ends.
func (s Services) Each(ctx context.Context, fn func(target.Service) error) error {
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

// ServicesOf turns endpoints into scan services. With knownPaths each
// service carries its endpoint's scheme and path, as a URL target would;
// otherwise it is a bare host:port and the prober detects the scheme and
// tries its path list, as in a discovery scan of addresses and ports.
func ServicesOf(eps []Endpoint, knownPaths bool) (Services, error) {
	out := make(Services, 0, len(eps))
	for _, e := range eps {
		h, p, err := e.HostPort()
		if err != nil {
			return nil, err
		}
		svc := target.Service{Host: h, Port: p, Source: "fleet"}
		if knownPaths {
			svc.Scheme, svc.Paths = "http", []string{e.Path}
		}
		out = append(out, svc)
	}
	return out, nil
}

// ScanConfig configures RunScan.
type ScanConfig struct {
	// Scan configures the pipeline. EmitClosed is forced on so that
	// every endpoint gets a record.
	Scan scan.Options
	// KnownPaths gives each service its endpoint's path; false probes
	// the prober's path list (Scan.Probe.Paths, by default
	// target.DefaultPaths) on every host:port.
	KnownPaths bool
	// Output receives the JSON Lines report, written by the same writer
	// as `mcpwarden scan -f jsonl`; nil discards the bytes (they are
	// still encoded).
	Output io.Writer
}

// ScanResult is what one scan of a fleet measured.
type ScanResult struct {
	Summary *result.Summary
	// Elapsed is the wall time of scan.Run.
	Elapsed time.Duration
	// Responsive is the time until the record of the last endpoint that
	// is not a tarpit arrived, and ResponsiveRequests the requests sent
	// by then. Tarpits end only when their timeout fires, whatever the
	// client, so rates over this window compare clients fairly.
	Responsive         time.Duration
	ResponsiveRequests int64
	// Observed holds the records of every endpoint, by Endpoint.Addr.
	Observed map[string][]Observation
}

// RunScan scans the fleet endpoints eps with the scan pipeline and writes
// the JSON Lines report to cfg.Output.
func RunScan(ctx context.Context, eps []Endpoint, cfg ScanConfig) (*ScanResult, error) {
	src, err := ServicesOf(eps, cfg.KnownPaths)
	if err != nil {
		return nil, err
	}
	kinds := make(map[string]Kind, len(eps))
	for _, e := range eps {
		kinds[e.Addr] = e.Kind
	}
	out := cfg.Output
	if out == nil {
		out = io.Discard
	}
	w, err := report.New(report.FormatJSONL, out, report.Options{})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	opts := cfg.Scan
	opts.EmitClosed = true
	var requests atomic.Int64
	prev := opts.Probe.OnRequest
	opts.Probe.OnRequest = func() {
		requests.Add(1)
		if prev != nil {
			prev()
		}
	}

	res := &ScanResult{Observed: make(map[string][]Observation, len(eps))}
	start := time.Now()
	sum, runErr := scan.Run(ctx, src, opts, func(ep *result.Endpoint) error {
		addr := net.JoinHostPort(ep.Host, strconv.Itoa(ep.Port))
		res.Observed[addr] = append(res.Observed[addr], Observe(ep))
		if k, ok := kinds[addr]; ok && k != KindTarpit {
			res.Responsive = time.Since(start)
			res.ResponsiveRequests = requests.Load()
		}
		return w.Write(ep)
	})
	res.Elapsed = time.Since(start)
	res.Summary = sum
	if err := w.Close(sum); err != nil && runErr == nil {
		runErr = fmt.Errorf("bench: write report: %w", err)
	}
	if runErr != nil {
		return res, fmt.Errorf("bench: scan: %w", runErr)
	}
	if sum == nil {
		return res, errors.New("bench: scan returned no summary")
	}
	if requests.Load() == 0 && sum.Requests > 0 {
		// The pipeline no longer passes OnRequest through: fall back to
		// the total, which also counts the requests to tarpits after the
		// window (at most one per tarpit).
		res.ResponsiveRequests = sum.Requests
	}
	return res, nil
}

// PerSecond returns n per second of d, or 0 for an empty duration.
func PerSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
