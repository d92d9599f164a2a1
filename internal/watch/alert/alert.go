// Package alert routes watch events to their destinations and delivers
// them: webhooks (generic JSON or Slack-compatible), a command hook and
// the log. Delivery goes through the store's outbox: every event is
// enqueued once per matching route, in a transaction that also moves the
// outbox cursor, and an alert stays there until it is delivered or has
// used all its attempts, across restarts. A delivery interrupted by a
// crash is retried when its lease ends, so a receiver may see the same
// alert again in that one case; the Idempotency-Key header (the same for
// every attempt) lets it drop the repeat.
package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/finding"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// Defaults of Options.
const (
	DefaultBaseBackoff = 5 * time.Second
	DefaultMaxBackoff  = time.Hour
	DefaultPoll        = 2 * time.Second
	// leaseMargin is added to a route's timeout to make its lease.
	leaseMargin = 5 * time.Second
	batch       = 200
)

// Events is what the dispatcher reads from the store to route events.
type Events interface {
	EventsAfter(ctx context.Context, afterID int64, limit int) ([]model.Event, error)
	Run(ctx context.Context, runID int64) (store.Run, error)
}

// Options configures New.
type Options struct {
	Routes []config.Route
	Outbox store.Outbox
	Events Events
	// Logger receives delivery messages and the alerts of log routes; nil
	// discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Client sends webhooks; nil means a client without cookies whose
	// requests are bounded by each route's timeout.
	Client *http.Client
	// BaseBackoff is the wait after the first failed attempt, doubled
	// after each next one up to MaxBackoff.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Poll is how often Run looks for due alerts.
	Poll time.Duration
	// OnResult, when set, is called after every attempt.
	OnResult func(route string, err error)
}

// Dispatcher enqueues and delivers alerts.
type Dispatcher struct {
	o      Options
	log    *slog.Logger
	routes map[string]config.Route
	names  []string
	lease  time.Duration
	wake   chan struct{}
	mu     sync.Mutex // one Enqueue at a time
}

// New checks the routes and returns a dispatcher.
func New(opts Options) (*Dispatcher, error) {
	if opts.Outbox == nil || opts.Events == nil {
		return nil, errors.New("alert: Outbox and Events are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.BaseBackoff <= 0 {
		opts.BaseBackoff = DefaultBaseBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	d := &Dispatcher{o: opts, log: opts.Logger, routes: map[string]config.Route{}, wake: make(chan struct{}, 1)}
	for _, r := range opts.Routes {
		if r.Name == "" {
			return nil, errors.New("alert: a route has no name")
		}
		if _, dup := d.routes[r.Name]; dup {
			return nil, fmt.Errorf("alert: route %q given twice", r.Name)
		}
		switch r.Kind {
		case config.RouteWebhook, config.RouteSlack, config.RouteCommand, config.RouteLog:
		default:
			return nil, fmt.Errorf("alert: route %q: unknown type %q", r.Name, r.Kind)
		}
		if r.Timeout <= 0 {
			r.Timeout = config.DefaultAlertTimeout
		}
		if r.MaxAttempts <= 0 {
			r.MaxAttempts = config.DefaultAlertAttempts
		}
		d.routes[r.Name] = r
		d.names = append(d.names, r.Name)
		d.lease = max(d.lease, r.Timeout+leaseMargin)
	}
	return d, nil
}

// Severity returns how much an event matters, for route filters and
// messages: an endpoint that answers without authentication, dropped
// authentication and a changed tool definition (a rug pull) are high; a
// finding has its own severity; what closes exposure is info.
func Severity(e model.Event) finding.Severity {
	switch e.Type {
	case model.AuthDropped, model.ToolChanged:
		return finding.High
	case model.EndpointNew:
		var d struct {
			Auth struct {
				Required bool `json:"required"`
			} `json:"auth"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && d.Auth.Required {
			return finding.Info
		}
		return finding.High
	case model.ToolAdded:
		return finding.Medium
	case model.FindingNew, model.ConnectionExternal, model.ConnectionBypass, model.IndexNew:
		// These events carry their severity in the detail.
		var d struct {
			Severity string `json:"severity"`
		}
		if json.Unmarshal(e.Detail, &d) == nil {
			if s, err := finding.ParseSeverity(d.Severity); err == nil && s <= finding.Critical {
				return s
			}
		}
		return finding.Medium
	case model.TLSExpiring:
		var d struct {
			DaysLeft int `json:"days_left"`
		}
		if json.Unmarshal(e.Detail, &d) == nil && d.DaysLeft <= 0 {
			return finding.High
		}
		return finding.Medium
	}
	return finding.Info
}

// Matches reports whether route r takes event e of group.
func Matches(r config.Route, group string, e model.Event) bool {
	if len(r.Events) > 0 && !slices.Contains(r.Events, e.Type) {
		return false
	}
	if len(r.Groups) > 0 && !slices.Contains(r.Groups, group) {
		return false
	}
	return Severity(e) >= r.MinSeverity
}

// Backoff returns the wait after the given number of failed attempts
// (1 or more): base doubled per attempt, capped at maxWait.
func Backoff(base, maxWait time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= maxWait || d <= 0 {
			return maxWait
		}
	}
	return min(d, maxWait)
}

// Notify asks Run to enqueue and deliver now (a run stored events).
func (d *Dispatcher) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Enqueue routes the events stored since the outbox cursor and returns
// how many alerts it added.
func (d *Dispatcher) Enqueue(ctx context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	total := 0
	groups := map[int64]string{}
	for {
		cur, err := d.o.Outbox.AlertCursor(ctx)
		if err != nil {
			return total, fmt.Errorf("alert: %w", err)
		}
		evs, err := d.o.Events.EventsAfter(ctx, cur, batch)
		if err != nil {
			return total, fmt.Errorf("alert: %w", err)
		}
		if len(evs) == 0 {
			return total, nil
		}
		var alerts []store.Alert
		for _, e := range evs {
			g, ok := groups[e.RunID]
			if !ok {
				r, err := d.o.Events.Run(ctx, e.RunID)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return total, fmt.Errorf("alert: %w", err)
				}
				g = r.Group
				groups[e.RunID] = g
			}
			for _, name := range d.names {
				if Matches(d.routes[name], g, e) {
					alerts = append(alerts, store.Alert{Route: name, Group: g, Event: e})
				}
			}
		}
		n, err := d.o.Outbox.EnqueueAlerts(ctx, alerts, evs[len(evs)-1].ID)
		total += n
		if err != nil {
			return total, fmt.Errorf("alert: %w", err)
		}
	}
}

// Deliver makes one attempt at every due alert and returns how many were
// delivered and how many attempts failed. Alerts of one route are sent in
// order, routes in parallel.
func (d *Dispatcher) Deliver(ctx context.Context) (delivered, failed int, err error) {
	if len(d.names) == 0 {
		return 0, 0, nil
	}
	for {
		due, err := d.o.Outbox.ClaimAlerts(ctx, d.names, d.o.Now(), d.lease, batch)
		if err != nil {
			return delivered, failed, fmt.Errorf("alert: %w", err)
		}
		if len(due) == 0 {
			return delivered, failed, nil
		}
		byRoute := map[string][]store.Alert{}
		for _, a := range due {
			byRoute[a.Route] = append(byRoute[a.Route], a)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var firstErr error
		for name, as := range byRoute {
			r := d.routes[name]
			wg.Go(func() {
				for _, a := range as {
					ok, err := d.attempt(ctx, r, a)
					mu.Lock()
					if ok {
						delivered++
					} else {
						failed++
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return delivered, failed, firstErr
		}
		if ctx.Err() != nil {
			return delivered, failed, ctx.Err()
		}
	}
}

// attempt sends one alert and settles it in the outbox. The error is a
// store error; a failed send is recorded, not returned.
func (d *Dispatcher) attempt(ctx context.Context, r config.Route, a store.Alert) (bool, error) {
	sendCtx, cancel := context.WithTimeout(ctx, r.Timeout)
	err := d.send(sendCtx, r, a)
	cancel()
	if d.o.OnResult != nil {
		d.o.OnResult(r.Name, err)
	}
	// Settle even when ctx ended: a stop must not leave a sent alert
	// looking undelivered.
	settle, done := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer done()
	if err == nil {
		d.log.Debug("alert delivered", "route", r.Name, "event", a.Event.ID, "type", a.Event.Type, "url", a.Event.URL)
		if serr := d.o.Outbox.AlertDelivered(settle, a.ID); serr != nil {
			return true, fmt.Errorf("alert: %w", serr)
		}
		return true, nil
	}
	final := a.Attempts >= r.MaxAttempts
	next := d.o.Now().Add(Backoff(d.o.BaseBackoff, d.o.MaxBackoff, a.Attempts))
	msg := err.Error()
	if final {
		d.log.Error("alert not delivered: giving up", "route", r.Name, "event", a.Event.ID, "attempts", a.Attempts, "error", msg)
	} else {
		d.log.Warn("alert not delivered: will retry", "route", r.Name, "event", a.Event.ID, "attempts", a.Attempts,
			"retry_at", next.UTC().Format(time.RFC3339), "error", msg)
	}
	if serr := d.o.Outbox.AlertFailed(settle, a.ID, msg, next, final); serr != nil {
		return false, fmt.Errorf("alert: %w", serr)
	}
	return false, nil
}

// Run enqueues and delivers until ctx ends: at every Poll and after each
// Notify.
func (d *Dispatcher) Run(ctx context.Context) error {
	t := time.NewTicker(d.o.Poll)
	defer t.Stop()
	for {
		if _, err := d.Enqueue(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("alert: enqueue", "error", err)
		}
		if _, _, err := d.Deliver(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("alert: deliver", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-d.wake:
		}
	}
}
