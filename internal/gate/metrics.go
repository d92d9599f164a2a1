package gate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpwarden/mcpwarden/internal/audit"
)

// Metrics counts the gate's traffic for Prometheus. It is an audit sink:
// the gate writes one audit record per JSON-RPC message (and per request
// refused before its body was read), and Metrics turns each record into
// counters, so it sees exactly what the audit trail sees. Pass it as
// Options.Audit, combined with a real sink through audit.Multi. Its
// registry is its own (not the global one). Safe for concurrent use.
//
// Label values are bounded: route is a configured path, method is a known
// MCP method or "other" (clients choose method names), decision is allow,
// deny, error or other.
type Metrics struct {
	reg             *prometheus.Registry
	requests        *prometheus.CounterVec
	decisions       *prometheus.CounterVec
	latency         *prometheus.HistogramVec
	upstreamErrors  *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
	upstreamHealthy *prometheus.GaugeVec
}

var _ audit.Sink = (*Metrics)(nil)

// knownMethods are the MCP methods that get their own label value.
var knownMethods = map[string]bool{
	"initialize": true, "ping": true,
	"tools/list": true, "tools/call": true,
	"resources/list": true, "resources/read": true, "resources/templates/list": true,
	"resources/subscribe": true, "resources/unsubscribe": true,
	"prompts/list": true, "prompts/get": true,
	"completion/complete": true, "logging/setLevel": true,
	"notifications/initialized": true, "notifications/cancelled": true,
	"notifications/progress": true, "notifications/roots/list_changed": true,
}

// NewMetrics makes the collectors, registered on a fresh registry with the
// Go runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "requests_total",
			Help: "JSON-RPC messages (and HTTP requests refused before their body was read, method \"http\") by route, method and decision.",
		}, []string{"route", "method", "decision"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "decisions_total",
			Help: "Gate decisions: allow, deny or error.",
		}, []string{"decision"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "request_duration_seconds",
			Help:    "Time from the request's arrival to its audit record, by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "upstream_errors_total",
			Help: "Messages that failed at the upstream: unreachable, error status or unreadable response.",
		}, []string{"route", "kind"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "rate_limited_total",
			Help: "Messages refused by a rate or concurrency limit.",
		}, []string{"route", "limit"}),
		upstreamHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "mcpwarden", Subsystem: "gate", Name: "upstream_healthy",
			Help: "1 when the route's last upstream exchange got an answer, 0 when the upstream could not be reached.",
		}, []string{"route"}),
	}
	up := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "mcpwarden", Subsystem: "gate", Name: "up", Help: "1 while the gate runs."})
	up.Set(1)
	m.reg.MustRegister(m.requests, m.decisions, m.latency, m.upstreamErrors, m.rateLimited, m.upstreamHealthy, up,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Write counts one audit record. It never fails on a non-nil record.
func (m *Metrics) Write(_ context.Context, r *audit.Record) error {
	if r == nil {
		return errors.New("gate: metrics: nil record")
	}
	method := r.Method
	switch {
	case method == "":
		method = "http"
	case !knownMethods[method]:
		method = "other"
	}
	decision := r.Decision
	if decision != "allow" && decision != "deny" && decision != "error" {
		decision = "other"
	}
	m.requests.WithLabelValues(r.Route, method, decision).Inc()
	m.decisions.WithLabelValues(decision).Inc()
	m.latency.WithLabelValues(r.Route, method).Observe(r.LatencyMS / 1000)
	reason := strings.TrimPrefix(r.Reason, "batch refused: ")
	switch {
	case strings.HasPrefix(reason, "rate limit"):
		m.rateLimited.WithLabelValues(r.Route, "rate").Inc()
	case strings.HasPrefix(reason, "concurrency limit"):
		m.rateLimited.WithLabelValues(r.Route, "concurrency").Inc()
	}
	if decision == "error" {
		switch {
		case reason == "upstream unavailable":
			m.upstreamErrors.WithLabelValues(r.Route, "unreachable").Inc()
			m.upstreamHealthy.WithLabelValues(r.Route).Set(0)
		case strings.HasPrefix(reason, "upstream status"):
			m.upstreamErrors.WithLabelValues(r.Route, "status").Inc()
		case strings.HasPrefix(reason, "upstream"):
			m.upstreamErrors.WithLabelValues(r.Route, "response").Inc()
		}
	}
	if r.Upstream > 0 {
		m.upstreamHealthy.WithLabelValues(r.Route).Set(1)
	}
	return nil
}

// Close does nothing: the counters stay readable until the process ends.
func (m *Metrics) Close() error { return nil }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ServeMetrics serves GET /metrics on ln until ctx is cancelled.
func (m *Metrics) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gate: metrics: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	if err != nil {
		return fmt.Errorf("gate: metrics: shutdown: %w", err)
	}
	return nil
}
