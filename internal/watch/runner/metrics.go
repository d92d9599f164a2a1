package runner

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// Metrics are the watch's Prometheus collectors, on a registry of their
// own. Label values are bounded: groups and routes come from the config,
// event types and severities are fixed lists.
type Metrics struct {
	reg       *prometheus.Registry
	endpoints *prometheus.GaugeVec
	duration  *prometheus.HistogramVec
	runs      *prometheus.CounterVec
	events    *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	failures  *prometheus.CounterVec
}

// NewMetrics makes the collectors on a fresh registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		endpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "endpoints",
			Help: "Present MCP endpoints by authentication (required or none) and worst open finding severity (none when there is no finding).",
		}, []string{"auth", "severity"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "scan_duration_seconds",
			Help:    "Duration of one cycle's scan or host audit, by group.",
			Buckets: prometheus.ExponentialBuckets(0.1, 2, 14),
		}, []string{"group"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "runs_total",
			Help: "Cycles by group and outcome (complete or failed).",
		}, []string{"group", "outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "events_total",
			Help: "Events stored, by type.",
		}, []string{"type"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "alert_attempts_total",
			Help: "Alert delivery attempts by route and result (ok or failed).",
		}, []string{"route", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "mcpwarden", Subsystem: "watch", Name: "alert_failures_total",
			Help: "Failed alert delivery attempts by route.",
		}, []string{"route"}),
	}
	m.reg.MustRegister(m.endpoints, m.duration, m.runs, m.events, m.attempts, m.failures)
	for _, t := range model.Types {
		m.events.WithLabelValues(string(t))
	}
	return m
}

// Registry returns the registry the collectors are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// alertResult counts one delivery attempt.
func (m *Metrics) alertResult(route string, err error) {
	if err != nil {
		m.attempts.WithLabelValues(route, "failed").Inc()
		m.failures.WithLabelValues(route).Inc()
		return
	}
	m.attempts.WithLabelValues(route, "ok").Inc()
}

var severities = []string{"none", "info", "low", "medium", "high", "critical"}

// setInventory recomputes the endpoint gauge from the store's inventory.
func (m *Metrics) setInventory(items []store.InventoryItem) {
	counts := map[[2]string]int{}
	for _, it := range items {
		if !it.Present {
			continue
		}
		auth := "none"
		if it.AuthRequired {
			auth = "required"
		}
		worst := "none"
		for s := finding.Critical; s >= finding.Info; s-- {
			if it.Findings[s.String()] > 0 {
				worst = s.String()
				break
			}
		}
		counts[[2]string{auth, worst}]++
	}
	for _, a := range []string{"none", "required"} {
		for _, s := range severities {
			m.endpoints.WithLabelValues(a, s).Set(float64(counts[[2]string{a, s}]))
		}
	}
}
