package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// BaselineOptions configures RunBaseline. Zero fields take the defaults
// of the scanner's matching options.
type BaselineOptions struct {
	// Concurrency is the number of requests in flight. Default 256.
	Concurrency int
	// ConnectTimeout bounds one TCP connect. Default 3s.
	ConnectTimeout time.Duration
	// RequestTimeout bounds one request from send to the last body byte.
	// Default 5s.
	RequestTimeout time.Duration
	// MaxBodyBytes caps the body read. Default 4 MiB.
	MaxBodyBytes int64
}

// Outcome is what the baseline's one request to an endpoint got.
type Outcome struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Failure is "" when a response arrived, else "refused", "timeout" or
	// "error: <message>".
	Failure string
}

// BaselineResult is what one baseline pass measured.
type BaselineResult struct {
	// Requests sent (one per endpoint).
	Requests int64
	// Elapsed is the wall time of the pass.
	Elapsed time.Duration
	// Responsive is the time until the last endpoint that is not a tarpit
	// was done, and ResponsiveRequests the requests sent by then (see
	// ScanResult.Responsive).
	Responsive         time.Duration
	ResponsiveRequests int64
	// Outcomes are in the order of the endpoints.
	Outcomes []Outcome
}

// initializeBody is the one request of the baseline: a JSON-RPC
// initialize like the scanner's.
var initializeBody = []byte(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcpwarden-baseline","version":"dev"}}}`)

// RunBaseline sends one plain HTTP POST (a JSON-RPC initialize) to the URL
// of every endpoint, at the given concurrency, reads each response body
// (capped) and nothing else: no MCP logic, no second request. It is the
// yardstick for the scanner's request rate on the same fleet.
func RunBaseline(ctx context.Context, eps []Endpoint, opts BaselineOptions) (*BaselineResult, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 3 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	for _, e := range eps {
		if _, _, err := e.HostPort(); err != nil {
			return nil, err
		}
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout}
	// One request per endpoint: no connection is ever reused, so none is
	// kept (the scanner likewise drops a service's connections when done).
	tr := &http.Transport{
		DialContext:            dialer.DialContext,
		DisableKeepAlives:      true,
		DisableCompression:     true,
		ResponseHeaderTimeout:  opts.RequestTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	res := &BaselineResult{Outcomes: make([]Outcome, len(eps))}
	var requests atomic.Int64
	var mu sync.Mutex // guards the responsive window
	next := make(chan int)
	start := time.Now()
	var wg sync.WaitGroup
	for range min(opts.Concurrency, max(len(eps), 1)) {
		wg.Go(func() {
			for i := range next {
				requests.Add(1)
				res.Outcomes[i] = post(ctx, hc, eps[i].URL(), opts)
				if eps[i].Kind != KindTarpit {
					d, n := time.Since(start), requests.Load()
					mu.Lock()
					if d > res.Responsive {
						res.Responsive, res.ResponsiveRequests = d, n
					}
					mu.Unlock()
				}
			}
		})
	}
	var ctxErr error
feed:
	for i := range eps {
		select {
		case next <- i:
		case <-ctx.Done():
			ctxErr = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Requests = requests.Load()
	if ctxErr != nil {
		return res, fmt.Errorf("bench: baseline interrupted: %w", ctxErr)
	}
	return res, nil
}

// post sends the one request and reads the body.
func post(ctx context.Context, hc *http.Client, url string, opts BaselineOptions) Outcome {
	ctx, cancel := context.WithTimeout(ctx, opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(initializeBody))
	if err != nil {
		return Outcome{Failure: "error: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return Outcome{Failure: failure(err)}
	}
	defer resp.Body.Close()
	out := Outcome{Status: resp.StatusCode}
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, opts.MaxBodyBytes)); err != nil {
		out.Failure = failure(err)
	}
	return out
}

func failure(err error) string {
	var nerr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &nerr) && nerr.Timeout():
		return "timeout"
	}
	return "error: " + err.Error()
}

// CheckBaseline returns one error per endpoint whose outcome is not what
// its kind must give: a response from every server, "refused" from closed
// ports and "timeout" from tarpits.
func CheckBaseline(eps []Endpoint, outcomes []Outcome) []error {
	if len(outcomes) != len(eps) {
		return []error{fmt.Errorf("bench: %d baseline outcomes for %d endpoints", len(outcomes), len(eps))}
	}
	var errs []error
	for i, e := range eps {
		o := outcomes[i]
		want := ""
		switch e.Kind {
		case KindClosed:
			want = "refused"
		case KindTarpit:
			want = "timeout"
		}
		if o.Failure != want || (want == "" && o.Status == 0) {
			errs = append(errs, fmt.Errorf("baseline %s %s: got status %d failure %q, want failure %q", e.Kind, e.Addr, o.Status, o.Failure, want))
		}
	}
	return errs
}
