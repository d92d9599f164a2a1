package store

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store/pgtest"
)

func TestSQLiteOutbox(t *testing.T) {
	testOutbox(t, sqliteBackend())
}

func TestPostgresOutbox(t *testing.T) {
	srv := pgtest.Start(t)
	testOutbox(t, backend{name: "postgres", newAddr: func(t *testing.T) string { return srv.NewDB(t) }})
}

func outboxOf(t *testing.T, s Store) Outbox {
	t.Helper()
	if ss, ok := s.(*suiteStore); ok {
		s = ss.Store
	}
	o, ok := s.(Outbox)
	if !ok {
		t.Fatalf("%T is not an Outbox", s)
	}
	return o
}

func testOutbox(t *testing.T, b backend) {
	t.Run("Lifecycle", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		o := outboxOf(t, s)
		now := s.clock.Now()
		url := "http://127.0.0.1:8080/mcp"
		_, evs := mustRun(t, s, "lab", []*result.Endpoint{mcpEndpoint(url, now, false)},
			[]model.Event{event(model.EndpointNew, url, "k1", now), event(model.AuthDropped, url, "k2", now)})
		if len(evs) != 2 {
			t.Fatalf("stored %d events", len(evs))
		}
		if c, err := o.AlertCursor(ctx); err != nil || c != 0 {
			t.Fatalf("fresh cursor = %d, %v", c, err)
		}
		alerts := []Alert{{Route: "hook", Group: "lab", Event: evs[0]}, {Route: "hook", Group: "lab", Event: evs[1]},
			{Route: "chat", Group: "lab", Event: evs[1]}}
		n, err := o.EnqueueAlerts(ctx, alerts, evs[1].ID)
		if err != nil || n != 3 {
			t.Fatalf("EnqueueAlerts = %d, %v", n, err)
		}
		// Enqueuing again (a restart before the cursor moved) adds nothing.
		if n, err := o.EnqueueAlerts(ctx, alerts, evs[0].ID); err != nil || n != 0 {
			t.Fatalf("second EnqueueAlerts = %d, %v", n, err)
		}
		if c, _ := o.AlertCursor(ctx); c != evs[1].ID {
			t.Errorf("cursor = %d, want %d (never moves back)", c, evs[1].ID)
		}
		// Only configured routes are claimed; a claim holds alerts for its lease.
		got, err := o.ClaimAlerts(ctx, []string{"hook"}, now, time.Minute, 10)
		if err != nil || len(got) != 2 || got[0].Event.Key != "k1" || got[1].Event.Key != "k2" || got[0].Attempts != 1 || got[0].Group != "lab" {
			t.Fatalf("claim = %+v, %v", got, err)
		}
		if string(got[0].Event.Detail) != `{"k":1}` || got[0].Event.ID != evs[0].ID {
			t.Errorf("payload = %+v", got[0].Event)
		}
		if again, _ := o.ClaimAlerts(ctx, []string{"hook"}, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Errorf("claimed during lease: %+v", again)
		}
		if err := o.AlertDelivered(ctx, got[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := o.AlertFailed(ctx, got[1].ID, "503 from receiver", now.Add(2*time.Minute), false); err != nil {
			t.Fatal(err)
		}
		if due, _ := o.ClaimAlerts(ctx, []string{"hook"}, now.Add(90*time.Second), time.Minute, 10); len(due) != 0 {
			t.Errorf("claimed before its retry time: %+v", due)
		}
		due, err := o.ClaimAlerts(ctx, []string{"hook", "chat"}, now.Add(2*time.Minute), time.Minute, 10)
		if err != nil || len(due) != 2 || due[0].ID != got[1].ID || due[0].Attempts != 2 || due[0].LastError != "503 from receiver" {
			t.Fatalf("retry claim = %+v, %v", due, err)
		}
		if err := o.AlertFailed(ctx, due[0].ID, "gave up", now, true); err != nil {
			t.Fatal(err)
		}
		if err := o.AlertFailed(ctx, due[0].ID, "again", now, true); !errors.Is(err, ErrNotFound) {
			t.Errorf("failing a failed alert: %v", err)
		}
		if err := o.AlertDelivered(ctx, 99999); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown alert: %v", err)
		}
		for status, want := range map[string]int{"": 3, AlertDelivered: 1, AlertFailed: 1, AlertPending: 1} {
			if as, err := o.Alerts(ctx, status, 0); err != nil || len(as) != want {
				t.Errorf("Alerts(%q) = %d, %v; want %d", status, len(as), err, want)
			}
		}
		// Retention drops settled alerts, never pending ones.
		s.clock.Add(48 * time.Hour)
		st, err := s.Prune(ctx, Retention{Events: 24 * time.Hour})
		if err != nil || st.Alerts != 2 {
			t.Errorf("Prune = %+v, %v; want 2 alerts", st, err)
		}
		if as, _ := o.Alerts(ctx, "", 0); len(as) != 1 || as[0].Status != AlertPending {
			t.Errorf("after prune: %+v", as)
		}
	})
	t.Run("ConcurrentClaims", func(t *testing.T) {
		ctx := t.Context()
		addr := b.newAddr(t)
		c := newClock()
		s1 := openStore(t, addr, c, nil)
		s2 := openStore(t, addr, c, &Options{NoRecover: true})
		url := "http://127.0.0.1:8080/mcp"
		var evs []model.Event
		for i := range 20 {
			evs = append(evs, event(model.ToolAdded, url, "t"+string(rune('a'+i)), c.Now()))
		}
		_, stored := mustRun(t, s1, "g", []*result.Endpoint{mcpEndpoint(url, c.Now(), false)}, evs)
		var alerts []Alert
		for _, e := range stored {
			alerts = append(alerts, Alert{Route: "r", Group: "g", Event: e})
		}
		if _, err := outboxOf(t, s1).EnqueueAlerts(ctx, alerts, stored[len(stored)-1].ID); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for _, s := range []Store{s1, s2} {
			o := outboxOf(t, s)
			wg.Go(func() {
				for range 10 {
					got, err := o.ClaimAlerts(ctx, []string{"r"}, c.Now(), time.Hour, 3)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, a := range got {
						seen[a.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != 20 {
			t.Errorf("claimed %d distinct alerts, want 20", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("alert %d claimed %d times", id, n)
			}
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		s := newStore(t, b)
		o := outboxOf(t, s)
		if _, err := o.EnqueueAlerts(t.Context(), []Alert{{Route: "", Event: model.Event{ID: 1}}}, 1); err == nil {
			t.Error("alert without route accepted")
		}
		if _, err := o.EnqueueAlerts(t.Context(), []Alert{{Route: "r"}}, 1); err == nil {
			t.Error("alert without event id accepted")
		}
		if _, err := o.ClaimAlerts(t.Context(), []string{"r"}, time.Now(), 0, 1); err == nil {
			t.Error("zero lease accepted")
		}
	})
}

// An existing database gets the outbox with its cursor past its events:
// upgrading does not alert the history.
func TestOutboxMigrationStartsPastHistory(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	s, err := OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mustRun(t, s, "g", []*result.Endpoint{mcpEndpoint("http://127.0.0.1:1/mcp", now, false)},
		[]model.Event{event(model.EndpointNew, "http://127.0.0.1:1/mcp", "old", now)})
	// Roll the database back to version 1 as an old program left it.
	// Every table that a later migration created goes.
	for _, q := range append(laterTables(t, s), `DELETE FROM schema_version WHERE version >= 2`) {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = OpenSQLite(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, _ := s.EventsAfter(ctx, 0, 0)
	if c, err := s.AlertCursor(ctx); err != nil || c != evs[len(evs)-1].ID {
		t.Errorf("cursor after upgrade = %d, %v; want %d", c, err, evs[len(evs)-1].ID)
	}
}

// laterTables returns a DROP TABLE statement for every table of the SQLite
// store s that migration 1 did not create.
func laterTables(t *testing.T, s *SQLite) []string {
	t.Helper()
	b, err := migrations.ReadFile("migrations/sqlite/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]bool{"schema_version": true}
	for _, m := range regexp.MustCompile(`(?i)CREATE TABLE (\w+)`).FindAllStringSubmatch(string(b), -1) {
		first[m[1]] = true
	}
	rows, err := s.db.QueryContext(t.Context(), `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !first[name] && !strings.HasPrefix(name, "sqlite_") {
			out = append(out, "DROP TABLE "+name)
		}
	}
	return out
}
