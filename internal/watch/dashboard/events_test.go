package dashboard

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// manyEvents stores 150 tool.added events, then 120 finding.new events
// an hour later, then one tool.changed two hours later.
func manyEvents(t *testing.T) (store.Store, []model.Event) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "many.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var all []model.Event
	batch := func(at time.Time, typ model.Type, n int) {
		evs := make([]model.Event, n)
		for i := range evs {
			evs[i] = model.Event{Time: at, Type: typ, URL: urlA, Subject: fmt.Sprint(i),
				Detail: []byte(`{}`), Key: fmt.Sprintf("%s-%d", typ, i)}
		}
		run, err := s.BeginRun(ctx, "lab")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := s.CompleteRun(ctx, run, nil, evs)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, stored...)
	}
	batch(t0, model.ToolAdded, 150)
	batch(t0.Add(time.Hour), model.FindingNew, 120)
	batch(t0.Add(2*time.Hour), model.ToolChanged, 1)
	return s, all
}

func ids(evs []model.Event) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestNewestEvents(t *testing.T) {
	st, all := manyEvents(t)
	s, err := newServer(Options{Store: st, Now: func() time.Time { return t0.Add(3 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	s.eventPage = 100 // pages of 100 events: the 271 events span three
	h := s.chain(s.routes())
	ctx := t.Context()
	last, err := s.lastEventID(ctx, 0)
	if err != nil || last != all[len(all)-1].ID {
		t.Fatalf("lastEventID = %d, %v; want %d", last, err, all[len(all)-1].ID)
	}
	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)
	anything := func(model.Event) bool { return true }
	of := func(typ model.Type) func(model.Event) bool { return func(e model.Event) bool { return e.Type == typ } }
	var toolAdded []model.Event
	for _, e := range newestFirst {
		if e.Type == model.ToolAdded {
			toolAdded = append(toolAdded, e)
		}
	}
	for _, tc := range []struct {
		name      string
		since     time.Time
		keep      int
		match     func(model.Event) bool
		want      []int64
		truncated bool
		scanCap   int
	}{
		{"newest ten", time.Time{}, 10, anything, ids(newestFirst[:10]), false, 0},
		{"all of them", time.Time{}, 500, anything, ids(newestFirst), false, 0},
		{"type behind newer ones", time.Time{}, 5, of(model.ToolAdded), ids(toolAdded[:5]), false, 0},
		{"since", t0.Add(time.Hour), 500, anything, ids(newestFirst[:121]), false, 0},
		{"since excludes the type", t0.Add(time.Hour), 10, of(model.ToolAdded), []int64{}, false, 0},
		{"scan cap", time.Time{}, 5, of(model.ToolAdded), []int64{}, true, 100},
		{"found within the cap", time.Time{}, 5, of(model.ToolAdded), ids(toolAdded[:5]), false, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.maxEventScan = defaultMaxEventScan
			if tc.scanCap > 0 {
				s.maxEventScan = tc.scanCap
			}
			got, truncated, err := s.newestEvents(ctx, tc.since, tc.keep, tc.match)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) || truncated != tc.truncated {
				t.Errorf("got %d events (truncated %v), want %d (%v)", len(got), truncated, len(tc.want), tc.truncated)
			}
		})
	}
	s.maxEventScan = defaultMaxEventScan
	// The page shows the newest of a type even behind 121 newer events.
	body := get(t, h, "/events?type=tool.added&limit=3").Body.String()
	if n := strings.Count(body, `<tr class="ev ev-tool.added">`); n != 3 {
		t.Errorf("%d rows, want 3", n)
	}
	mustContain(t, body, "tool 149 added", "tool 147 added")
	mustNotContain(t, body, "tool 146 added")
	// The API pages through them oldest first.
	ans := decode[eventsAnswer](t, get(t, h, "/api/events?limit=200"))
	if len(ans.Events) != 200 || !ans.More || ans.NextAfter != all[199].ID {
		t.Errorf("api: %d events, more %v, next %d", len(ans.Events), ans.More, ans.NextAfter)
	}
	ans = decode[eventsAnswer](t, get(t, h, fmt.Sprintf("/api/events?limit=200&after=%d", ans.NextAfter)))
	if len(ans.Events) != 71 || ans.More {
		t.Errorf("api page 2: %d events, more %v", len(ans.Events), ans.More)
	}
}
