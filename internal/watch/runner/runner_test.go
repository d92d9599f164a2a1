package runner

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	s, err := store.Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "w.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func record(url string, authRequired bool) *result.Endpoint {
	ep := &result.Endpoint{Schema: result.Schema, URL: url, Host: "127.0.0.1", Port: 1, Status: result.StatusMCP,
		MCP: &result.MCPInfo{Transport: result.TransportStreamable}, Auth: &result.AuthInfo{Required: authRequired},
		ScannedAt: time.Now(), Findings: []finding.Finding{}}
	if !authRequired {
		ep.Findings = append(ep.Findings, finding.Finding{Rule: "MCPW-001", Severity: finding.High})
	}
	return ep
}

func TestFailedScanIsDiscarded(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	fail := errors.New("network unreachable")
	g := config.Group{Name: "g", Schedule: config.Schedule{Interval: time.Minute}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Scan: func(_ context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			emit(record("http://127.0.0.1:1/mcp", false))
			return nil, fail
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Cycle(ctx, g); !errors.Is(err, fail) {
		t.Fatalf("Cycle = %v", err)
	}
	runs, _ := st.Runs(ctx, 0)
	if len(runs) != 1 || runs[0].Status != store.RunDiscarded {
		t.Errorf("runs = %+v", runs)
	}
	if evs, _ := st.Events(ctx, time.Time{}, 0); len(evs) != 0 {
		t.Errorf("a failed cycle stored events: %+v", evs)
	}
	if inv, _ := st.Inventory(ctx); len(inv) != 0 {
		t.Errorf("a failed cycle stored endpoints: %+v", inv)
	}
}

// Run cycles each group on its schedule, and stops cleanly: the cycle in
// progress is discarded, the metrics count what happened.
func TestRunScheduleStopAndMetrics(t *testing.T) {
	st := openSQLite(t)
	var cycles atomic.Int32
	block := make(chan struct{})
	g := config.Group{Name: "g", Schedule: config.Schedule{Interval: 50 * time.Millisecond}}
	r, err := New(Options{Store: st, Groups: []config.Group{g}, Retention: store.Retention{Events: time.Hour}, PruneEvery: 10 * time.Millisecond,
		Scan: func(ctx context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			n := cycles.Add(1)
			switch {
			case n == 1:
				emit(record("http://127.0.0.1:1/mcp", false))
			case n == 2 || n == 3:
				emit(record("http://127.0.0.1:1/mcp", true))
			case n >= 4:
				// Hang until stopped.
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-block:
				}
			}
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for cycles.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatal("schedule did not reach 4 cycles")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
	runs, _ := st.Runs(t.Context(), 0)
	statuses := map[string]int{}
	for _, rn := range runs {
		statuses[rn.Status]++
	}
	if statuses[store.RunComplete] != 3 || statuses[store.RunDiscarded] != 1 || statuses[store.RunRunning] != 0 {
		t.Errorf("run statuses %v", statuses)
	}
	evs, _ := st.Events(t.Context(), time.Time{}, 0)
	if got := strings.Join(evKeys(evs), "|"); got != "endpoint.new|finding.new MCPW-001|auth.added|finding.resolved MCPW-001" {
		t.Errorf("events %s", got)
	}

	rec := httptest.NewRecorder()
	r.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`mcpwarden_watch_endpoints{auth="required",severity="none"} 1`,
		`mcpwarden_watch_endpoints{auth="none",severity="high"} 0`,
		`mcpwarden_watch_events_total{type="endpoint.new"} 1`,
		`mcpwarden_watch_events_total{type="auth.added"} 1`,
		`mcpwarden_watch_events_total{type="tool.changed"} 0`,
		`mcpwarden_watch_runs_total{group="g",outcome="complete"} 3`,
		`mcpwarden_watch_runs_total{group="g",outcome="failed"} 1`,
		`mcpwarden_watch_scan_duration_seconds_count{group="g"} 4`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestCycleNotReentrant(t *testing.T) {
	st := openSQLite(t)
	in, release := make(chan struct{}), make(chan struct{})
	g := config.Group{Name: "g", Schedule: config.Schedule{Interval: time.Minute}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Scan: func(context.Context, config.Group, func(*result.Endpoint) error) (func(string) bool, error) {
			in <- struct{}{}
			<-release
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error)
	go func() { _, err := r.Cycle(t.Context(), g); errc <- err }()
	<-in
	if _, err := r.Cycle(t.Context(), g); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Cycle = %v", err)
	}
	close(release)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestAlertMetricsAndOnce(t *testing.T) {
	st := openSQLite(t)
	h := newHook(t)
	g := config.Group{Name: "g", Schedule: config.Schedule{Interval: time.Minute}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Routes: []config.Route{{Name: "ok", Kind: config.RouteWebhook, URL: h.srv.URL, Events: []model.Type{model.EndpointNew}},
			{Name: "broken", Kind: config.RouteCommand, Command: []string{"/bin/false"}, Events: []model.Type{model.EndpointNew}}},
		Scan: func(_ context.Context, _ config.Group, emit func(*result.Endpoint) error) (func(string) bool, error) {
			return nil, emit(record("http://127.0.0.1:1/mcp", false))
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Once(t.Context())
	if err != nil || len(res) != 1 || len(res[0].Events) != 2 {
		t.Fatalf("Once = %+v, %v", res, err)
	}
	if ps, _ := h.take(); len(ps) != 1 || ps[0].Type != model.EndpointNew {
		t.Errorf("webhook got %+v", ps)
	}
	rec := httptest.NewRecorder()
	r.Metrics().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`mcpwarden_watch_alert_attempts_total{result="ok",route="ok"} 1`,
		`mcpwarden_watch_alert_failures_total{route="broken"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	st := openSQLite(t)
	g := config.Group{Name: "g", Schedule: config.Schedule{Interval: time.Minute}}
	for name, o := range map[string]Options{
		"no store":    {Groups: []config.Group{g}},
		"no groups":   {Store: st},
		"twice":       {Store: st, Groups: []config.Group{g, g}},
		"no schedule": {Store: st, Groups: []config.Group{{Name: "x"}}},
		"bad route":   {Store: st, Groups: []config.Group{g}, Routes: []config.Route{{Name: "r", Kind: "pager"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
