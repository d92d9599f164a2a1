package runner

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/model"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

func eventList(evs []model.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.Type)+" "+e.URL)
	}
	slices.Sort(out)
	return out
}

// A workers group derives one run per complete batch, in completion
// order, never scans, and derives no batch twice.
func TestWorkersCycle(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	ws := st.(store.Workers)
	g := config.Group{Name: "fleet", Source: config.SourceWorkers, Schedule: config.Schedule{Interval: time.Minute}}
	r, err := New(Options{Store: st, Groups: []config.Group{g},
		Scan: func(context.Context, config.Group, func(*result.Endpoint) error) (func(string) bool, error) {
			t.Error("a workers group scanned")
			return nil, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := "http://127.0.0.1:1/mcp", "http://127.0.0.2:1/mcp"
	put := func(batch string, i, n int, recs ...*result.Endpoint) {
		t.Helper()
		if err := ws.PutShard(ctx, store.Shard{Batch: batch, Group: "fleet", Index: i, Count: n}, recs); err != nil {
			t.Fatal(err)
		}
	}
	// No batch: nothing happens, no run is recorded.
	res, err := r.Cycle(ctx, g)
	if err != nil || res.RunID != 0 || len(res.Events) != 0 {
		t.Fatalf("empty cycle = %+v, %v", res, err)
	}
	put("j1", 0, 2, record(a, false))
	if res, err := r.Cycle(ctx, g); err != nil || res.RunID != 0 {
		t.Fatalf("cycle with an incomplete batch = %+v, %v", res, err)
	}
	put("j1", 1, 2, record(b, true))
	// A second sweep completes too: b loses its authentication, a is gone.
	put("j2", 1, 2, record(b, false))
	put("j2", 0, 2)
	res, err = r.Cycle(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"auth.dropped " + b, "endpoint.gone " + a, "endpoint.new " + a, "endpoint.new " + b,
		"finding.new " + a, "finding.new " + b, "finding.resolved " + a}
	if got := eventList(res.Events); !slices.Equal(got, want) {
		t.Fatalf("events = %q\nwant %q", got, want)
	}
	runs, _ := st.Runs(ctx, 0)
	if len(runs) != 2 || runs[0].Status != store.RunComplete || runs[1].Status != store.RunComplete || res.RunID != runs[0].ID {
		t.Fatalf("runs = %+v (result run %d)", runs, res.RunID)
	}
	res, err = r.Cycle(ctx, g)
	if err != nil || res.RunID != 0 || len(res.Events) != 0 {
		t.Fatalf("repeated cycle = %+v, %v", res, err)
	}
	// The records of consumed batches are dropped, the batches kept.
	bs, err := ws.Batches(ctx, "fleet", 0)
	if err != nil || len(bs) != 2 || bs[0].RunStatus != store.RunComplete {
		t.Fatalf("batches = %+v, %v", bs, err)
	}
	if n, err := ws.DropConsumedRecords(ctx); err != nil || n != 0 {
		t.Fatalf("records left after the cycle: %d, %v", n, err)
	}
}

// A batch another watcher claimed between ReadyBatches and ClaimBatch is
// skipped, and the run begun for it is discarded.
func TestWorkersCycleBatchTaken(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	g := config.Group{Name: "fleet", Source: config.SourceWorkers, Schedule: config.Schedule{Interval: time.Minute}}
	race := &racingStore{Store: st, Workers: st.(store.Workers)}
	r, err := New(Options{Store: race, Groups: []config.Group{g}})
	if err != nil {
		t.Fatal(err)
	}
	if err := race.PutShard(ctx, store.Shard{Batch: "j1", Group: "fleet", Index: 0, Count: 1}, []*result.Endpoint{record("http://127.0.0.1:1/mcp", false)}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Cycle(ctx, g)
	if err != nil || len(res.Events) != 0 || res.RunID != 0 {
		t.Fatalf("cycle = %+v, %v", res, err)
	}
	runs, _ := st.Runs(ctx, 0)
	if len(runs) != 2 || runs[0].Status != store.RunRunning || runs[1].Status != store.RunDiscarded {
		t.Fatalf("runs = %+v, want ours discarded and the other watcher's running", runs)
	}
}

// racingStore lets another watcher claim each batch just before us.
type racingStore struct {
	store.Store
	store.Workers
}

func (s *racingStore) ClaimBatch(ctx context.Context, batch string, runID int64) ([]*result.Endpoint, error) {
	other, err := s.Store.BeginRun(ctx, "fleet")
	if err != nil {
		return nil, err
	}
	if _, err := s.Workers.ClaimBatch(ctx, batch, other); err != nil {
		return nil, err
	}
	recs, err := s.Workers.ClaimBatch(ctx, batch, runID)
	if !errors.Is(err, store.ErrBatchNotReady) {
		return nil, errors.New("the second claim did not fail with ErrBatchNotReady")
	}
	return recs, err
}
