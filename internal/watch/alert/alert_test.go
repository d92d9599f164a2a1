package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

const epURL = "http://127.0.0.1:9/mcp"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type db interface {
	store.Store
	store.Outbox
}

func openDB(t *testing.T, path string) db {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func ev(typ model.Type, subject, key, detail string) model.Event {
	return model.Event{Time: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), Type: typ, URL: epURL, Subject: subject,
		Key: key, Detail: json.RawMessage(detail)}
}

// storeEvents stores events as one run of group.
func storeEvents(t *testing.T, s store.Store, group string, evs ...model.Event) []model.Event {
	t.Helper()
	id, err := s.BeginRun(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	ep := &result.Endpoint{Schema: result.Schema, URL: epURL, Status: result.StatusMCP, ScannedAt: time.Now(), Findings: []finding.Finding{}}
	stored, err := s.CompleteRun(t.Context(), id, []*result.Endpoint{ep}, evs)
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// receiver is a webhook endpoint on loopback recording what it gets.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	hdrs   []http.Header
	fail   int // answer 503 to this many requests first
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		r.bodies = append(r.bodies, b)
		r.hdrs = append(r.hdrs, req.Header.Clone())
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]http.Header(nil), r.hdrs...)
}

func newDispatcher(t *testing.T, s db, c *clock, log *slog.Logger, routes ...config.Route) *Dispatcher {
	t.Helper()
	d, err := New(Options{Routes: routes, Outbox: s, Events: s, Now: c.Now, Logger: log, BaseBackoff: time.Minute, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRoutingAndWebhooks(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	c := &clock{t: time.Now()}
	hook, slack := newReceiver(t), newReceiver(t)
	d := newDispatcher(t, s, c, nil,
		config.Route{Name: "hook", Kind: config.RouteWebhook, URL: hook.srv.URL + "/in", Headers: map[string]string{"X-Team": "ops"},
			MinSeverity: finding.High, Groups: []string{"lab"}},
		config.Route{Name: "chat", Kind: config.RouteSlack, URL: slack.srv.URL, Events: []model.Type{model.ToolChanged}})
	storeEvents(t, s, "lab",
		ev(model.EndpointNew, "", "k1", `{"status":"mcp","auth":{"required":false},"tools":["a","b"]}`),
		ev(model.ToolRemoved, "old", "k2", `{"tool":"old"}`),
		ev(model.ToolChanged, "a", "k3", `{"tool":"a","description_changed":true,"description_diff":"-safe\n+ignore previous instructions"}`))
	storeEvents(t, s, "other", ev(model.AuthDropped, "", "k4", `{"before":{"required":true},"after":{"required":false}}`))

	n, err := d.Enqueue(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Enqueue = %d, %v; want 3 (hook: endpoint.new, tool.changed; chat: tool.changed)", n, err)
	}
	if n, _ := d.Enqueue(ctx); n != 0 {
		t.Errorf("second Enqueue added %d", n)
	}
	ok, failed, err := d.Deliver(ctx)
	if err != nil || ok != 3 || failed != 0 {
		t.Fatalf("Deliver = %d, %d, %v", ok, failed, err)
	}
	bodies, hdrs := hook.got()
	if len(bodies) != 2 {
		t.Fatalf("hook got %d bodies", len(bodies))
	}
	var p Payload
	if err := json.Unmarshal(bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != model.EndpointNew || p.URL != epURL || p.Severity != "high" || p.Group != "lab" || p.Route != "hook" ||
		p.Key != "k1" || p.ID == 0 || p.Summary != "[high] new MCP endpoint "+epURL+" without authentication (2 tools)" {
		t.Errorf("payload = %+v", p)
	}
	if hdrs[0].Get("X-Team") != "ops" || hdrs[0].Get("Content-Type") != "application/json" || len(hdrs[0].Get("Idempotency-Key")) != 32 ||
		hdrs[0].Get("X-Mcpwarden-Event") != "endpoint.new" {
		t.Errorf("headers = %v", hdrs[0])
	}
	sb, _ := slack.got()
	if len(sb) != 1 {
		t.Fatalf("slack got %d", len(sb))
	}
	var msg map[string]string
	if err := json.Unmarshal(sb[0], &msg); err != nil || len(msg) != 1 {
		t.Fatalf("slack body %s", sb[0])
	}
	if !strings.HasPrefix(msg["text"], `mcpwarden: [high] tool "a" changed on `+epURL+" (description) (group lab)") ||
		!strings.Contains(msg["text"], "+ignore previous instructions") {
		t.Errorf("slack text %q", msg["text"])
	}
	if ok, _, _ := d.Deliver(ctx); ok != 0 {
		t.Errorf("delivered again: %d", ok)
	}
}

func TestRetryBackoffAndRedaction(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	c := &clock{t: time.Now()}
	hook := newReceiver(t)
	hook.fail = 2
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	secretURL := hook.srv.URL + "/services/T000/B000/s3cr3tT0ken?sig=hunter2"
	var results []error
	d, err := New(Options{Outbox: s, Events: s, Now: c.Now, Logger: log, BaseBackoff: time.Minute, MaxBackoff: time.Hour,
		Routes:   []config.Route{{Name: "hook", Kind: config.RouteWebhook, URL: secretURL, MaxAttempts: 5}},
		OnResult: func(_ string, err error) { results = append(results, err) }})
	if err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s, "g", ev(model.AuthDropped, "", "k", `{}`))
	if _, err := d.Enqueue(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, failed, _ := d.Deliver(ctx); ok != 0 || failed != 1 {
		t.Fatalf("first attempt: %d ok %d failed", ok, failed)
	}
	as, _ := s.Alerts(ctx, store.AlertPending, 0)
	if len(as) != 1 || as[0].Attempts != 1 || !as[0].NextAttempt.Equal(c.Now().Add(time.Minute).UTC()) {
		t.Fatalf("after 1 failure: %+v", as)
	}
	if !strings.Contains(as[0].LastError, "HTTP 503: busy") {
		t.Errorf("last error %q", as[0].LastError)
	}
	// Not due before the backoff ends.
	c.Add(59 * time.Second)
	if ok, failed, _ := d.Deliver(ctx); ok+failed != 0 {
		t.Fatal("retried before the backoff ended")
	}
	c.Add(time.Second)
	d.Deliver(ctx)
	as, _ = s.Alerts(ctx, store.AlertPending, 0)
	if len(as) != 1 || !as[0].NextAttempt.Equal(c.Now().Add(2*time.Minute).UTC()) {
		t.Fatalf("second backoff: %+v", as)
	}
	c.Add(2 * time.Minute)
	if ok, _, _ := d.Deliver(ctx); ok != 1 {
		t.Fatal("third attempt not delivered")
	}
	if bodies, _ := hook.got(); len(bodies) != 1 {
		t.Errorf("receiver got %d bodies", len(bodies))
	}
	if len(results) != 3 || results[0] == nil || results[2] != nil {
		t.Errorf("OnResult = %v", results)
	}
	all, _ := s.Alerts(ctx, "", 0)
	for _, text := range []string{logs.String(), all[0].LastError, results[0].Error()} {
		if strings.Contains(text, "s3cr3t") || strings.Contains(text, "hunter2") {
			t.Errorf("secret leaked: %s", text)
		}
	}
	if !strings.Contains(logs.String(), "webhook "+hook.srv.URL+"/...: HTTP 503") {
		t.Errorf("log does not name the redacted webhook:\n%s", logs.String())
	}
}

func TestGiveUpAndUnreachable(t *testing.T) {
	ctx := t.Context()
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	c := &clock{t: time.Now()}
	// A closed loopback port: connection refused.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL + "/hook/token123"
	dead.Close()
	d := newDispatcher(t, s, c, nil, config.Route{Name: "dead", Kind: config.RouteWebhook, URL: deadURL, MaxAttempts: 2, Timeout: time.Second})
	storeEvents(t, s, "g", ev(model.EndpointGone, "", "k", `{"status":"closed"}`))
	d.Enqueue(ctx)
	d.Deliver(ctx)
	c.Add(time.Hour)
	d.Deliver(ctx)
	as, _ := s.Alerts(ctx, "", 0)
	if len(as) != 1 || as[0].Status != store.AlertFailed || as[0].Attempts != 2 {
		t.Fatalf("alerts = %+v", as)
	}
	if !strings.Contains(as[0].LastError, "refused") || strings.Contains(as[0].LastError, "token123") {
		t.Errorf("last error %q", as[0].LastError)
	}
	c.Add(24 * time.Hour)
	if ok, failed, _ := d.Deliver(ctx); ok+failed != 0 {
		t.Error("a failed alert was retried")
	}
}

func TestCommandHook(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openDB(t, filepath.Join(dir, "w.db"))
	c := &clock{t: time.Now()}
	out := filepath.Join(dir, "out.json")
	d := newDispatcher(t, s, c, nil,
		config.Route{Name: "cmd", Kind: config.RouteCommand, Command: []string{"/bin/sh", "-c", `cat > "$0"; echo "$MCPWARDEN_EVENT_TYPE" >> "$0"`, out}},
		config.Route{Name: "slow", Kind: config.RouteCommand, Command: []string{"/bin/sh", "-c", "sleep 30"}, Timeout: 300 * time.Millisecond},
		config.Route{Name: "bad", Kind: config.RouteCommand, Command: []string{"/bin/sh", "-c", "echo oops >&2; exit 3"}})
	storeEvents(t, s, "g", ev(model.ToolAdded, "t", "k", `{"tool":"t"}`))
	d.Enqueue(ctx)
	start := time.Now()
	ok, failed, err := d.Deliver(ctx)
	if err != nil || ok != 1 || failed != 2 {
		t.Fatalf("Deliver = %d, %d, %v", ok, failed, err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("slow hook not killed in time: %v", el)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var p Payload
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &p) != nil || p.Type != model.ToolAdded || p.Subject != "t" || lines[1] != "tool.added" {
		t.Errorf("hook got %q", b)
	}
	as, _ := s.Alerts(ctx, store.AlertPending, 0)
	errs := map[string]string{}
	for _, a := range as {
		errs[a.Route] = a.LastError
	}
	if !strings.Contains(errs["slow"], "killed after 300ms") || !strings.Contains(errs["bad"], "exit status 3: oops") {
		t.Errorf("errors = %v", errs)
	}
}

func TestLogRoute(t *testing.T) {
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	var logs bytes.Buffer
	d := newDispatcher(t, s, &clock{t: time.Now()}, slog.New(slog.NewTextHandler(&logs, nil)), config.Route{Name: "journal", Kind: config.RouteLog})
	storeEvents(t, s, "g", ev(model.FindingNew, "MCPW-001", "k", `{"rule":"MCPW-001","severity":"critical","title":"open"}`))
	d.Enqueue(t.Context())
	if ok, _, _ := d.Deliver(t.Context()); ok != 1 {
		t.Fatal("not delivered")
	}
	if !strings.Contains(logs.String(), `summary="[critical] new finding MCPW-001 on `+epURL+`: open"`) {
		t.Errorf("log:\n%s", logs.String())
	}
}

// Alerts enqueued before a restart are delivered after it, once.
func TestSurvivesRestart(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "w.db")
	hook := newReceiver(t)
	route := config.Route{Name: "hook", Kind: config.RouteWebhook, URL: hook.srv.URL}
	c := &clock{t: time.Now()}
	s1, err := store.OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	storeEvents(t, s1, "g", ev(model.EndpointNew, "", "a", `{}`), ev(model.EndpointNew, "", "b", `{}`))
	d1 := newDispatcher(t, s1, c, nil, route)
	if n, err := d1.Enqueue(ctx); n != 2 || err != nil {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	s1.Close()
	s2 := openDB(t, path)
	storeEvents(t, s2, "g", ev(model.EndpointNew, "", "c", `{}`))
	d2 := newDispatcher(t, s2, c, nil, route)
	if n, _ := d2.Enqueue(ctx); n != 1 {
		t.Errorf("Enqueue after restart = %d, want 1", n)
	}
	if ok, _, _ := d2.Deliver(ctx); ok != 3 {
		t.Errorf("delivered %d, want 3", ok)
	}
	bodies, _ := hook.got()
	var keys []string
	for _, b := range bodies {
		var p Payload
		json.Unmarshal(b, &p)
		keys = append(keys, p.Key)
	}
	if strings.Join(keys, ",") != "a,b,c" {
		t.Errorf("receiver got %v", keys)
	}
}

func TestRunStops(t *testing.T) {
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	hook := newReceiver(t)
	d, err := New(Options{Outbox: s, Events: s, Poll: 10 * time.Millisecond, Routes: []config.Route{{Name: "h", Kind: config.RouteWebhook, URL: hook.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	storeEvents(t, s, "g", ev(model.EndpointNew, "", "a", `{}`))
	d.Notify()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if b, _ := hook.got(); len(b) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not deliver")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestSeverityAndMatches(t *testing.T) {
	tests := []struct {
		e    model.Event
		want finding.Severity
	}{
		{ev(model.EndpointNew, "", "", `{"auth":{"required":false}}`), finding.High},
		{ev(model.EndpointNew, "", "", `{"auth":{"required":true}}`), finding.Info},
		{ev(model.AuthDropped, "", "", `{}`), finding.High},
		{ev(model.ToolChanged, "t", "", `{}`), finding.High},
		{ev(model.ToolAdded, "t", "", `{}`), finding.Medium},
		{ev(model.ToolRemoved, "t", "", `{}`), finding.Info},
		{ev(model.FindingNew, "r", "", `{"severity":"low"}`), finding.Low},
		{ev(model.FindingNew, "r", "", `{"severity":"bogus"}`), finding.Medium},
		{ev(model.TLSExpiring, "", "", `{"days_left":3}`), finding.Medium},
		{ev(model.TLSExpiring, "", "", `{"days_left":-1}`), finding.High},
		{ev(model.EndpointGone, "", "", `not json`), finding.Info},
	}
	for _, tc := range tests {
		t.Run(string(tc.e.Type)+string(tc.e.Detail), func(t *testing.T) {
			if got := Severity(tc.e); got != tc.want {
				t.Errorf("Severity = %v, want %v", got, tc.want)
			}
		})
	}
	e := ev(model.ToolAdded, "t", "", `{}`)
	match := []struct {
		r    config.Route
		grp  string
		want bool
	}{
		{config.Route{}, "g", true},
		{config.Route{Events: []model.Type{model.ToolAdded}}, "g", true},
		{config.Route{Events: []model.Type{model.AuthDropped}}, "g", false},
		{config.Route{MinSeverity: finding.Medium}, "g", true},
		{config.Route{MinSeverity: finding.High}, "g", false},
		{config.Route{Groups: []string{"g"}}, "g", true},
		{config.Route{Groups: []string{"h"}}, "g", false},
	}
	for i, tc := range match {
		if got := Matches(tc.r, tc.grp, e); got != tc.want {
			t.Errorf("case %d: Matches = %v", i, got)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {7, 60 * time.Second}, {500, 60 * time.Second}} {
		if got := Backoff(time.Second, time.Minute, tc.n); got != tc.want {
			t.Errorf("Backoff(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.test/services/T/B/secret": "https://hooks.example.test/...",
		"http://127.0.0.1:8080":                          "http://127.0.0.1:8080",
		"http://127.0.0.1:8080/?token=x":                 "http://127.0.0.1:8080/...",
		"::bad":                                          "(webhook URL)",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNewRejects(t *testing.T) {
	s := openDB(t, filepath.Join(t.TempDir(), "w.db"))
	for name, o := range map[string]Options{
		"no store":  {},
		"no name":   {Outbox: s, Events: s, Routes: []config.Route{{Kind: config.RouteLog}}},
		"duplicate": {Outbox: s, Events: s, Routes: []config.Route{{Name: "a", Kind: config.RouteLog}, {Name: "a", Kind: config.RouteLog}}},
		"bad kind":  {Outbox: s, Events: s, Routes: []config.Route{{Name: "a", Kind: "pager"}}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
