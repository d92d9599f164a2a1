package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/store/pgtest"
)

func TestSQLiteWorkers(t *testing.T) { testWorkers(t, sqliteBackend()) }

func TestPostgresWorkers(t *testing.T) {
	srv := pgtest.Start(t)
	testWorkers(t, backend{name: "postgres", newAddr: func(t *testing.T) string { return srv.NewDB(t) }})
}

func workersOf(t *testing.T, s Store) Workers {
	t.Helper()
	if ss, ok := s.(*suiteStore); ok {
		s = ss.Store
	}
	w, ok := s.(Workers)
	if !ok {
		t.Fatalf("%T is not Workers", s)
	}
	return w
}

func urlsOf(eps []*result.Endpoint) string {
	var u []string
	for _, ep := range eps {
		u = append(u, ep.URL)
	}
	return strings.Join(u, " ")
}

func testWorkers(t *testing.T, b backend) {
	rec := func(i int) *result.Endpoint {
		return mcpEndpoint(fmt.Sprintf("http://127.0.0.%d:8080/mcp", i), newClock().Now(), false, tool("t", "d"))
	}
	t.Run("Lifecycle", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		sh := func(i int) Shard { return Shard{Batch: "scan-1", Group: "lab", Index: i, Count: 3, Probed: 10} }
		if err := w.PutShard(ctx, sh(0), []*result.Endpoint{rec(1), rec(2)}); err != nil {
			t.Fatal(err)
		}
		if err := w.PutShard(ctx, sh(2), nil); err != nil {
			t.Fatal(err)
		}
		if rb, err := w.ReadyBatches(ctx, "lab"); err != nil || len(rb) != 0 {
			t.Fatalf("ReadyBatches with a shard missing = %v, %v", rb, err)
		}
		run, err := s.BeginRun(ctx, "lab")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.ClaimBatch(ctx, "scan-1", run); !errors.Is(err, ErrBatchNotReady) {
			t.Fatalf("claim of an incomplete batch: %v", err)
		}
		// The first attempt of shard 1 is replaced by its retry.
		if err := w.PutShard(ctx, sh(1), []*result.Endpoint{rec(9)}); err != nil {
			t.Fatal(err)
		}
		s.clock.Add(1)
		if err := w.PutShard(ctx, sh(1), []*result.Endpoint{rec(3)}); err != nil {
			t.Fatal(err)
		}
		rb, err := w.ReadyBatches(ctx, "lab")
		if err != nil || len(rb) != 1 || rb[0].ID != "scan-1" || rb[0].Stored != 3 || rb[0].Probed != 30 || rb[0].Completed.IsZero() {
			t.Fatalf("ReadyBatches = %+v, %v", rb, err)
		}
		if rb, err := w.ReadyBatches(ctx, "other"); err != nil || len(rb) != 0 {
			t.Fatalf("ReadyBatches of another group = %v, %v", rb, err)
		}
		recs, err := w.ClaimBatch(ctx, "scan-1", run)
		if err != nil {
			t.Fatal(err)
		}
		want := "http://127.0.0.1:8080/mcp http://127.0.0.2:8080/mcp http://127.0.0.3:8080/mcp"
		if got := urlsOf(recs); got != want {
			t.Fatalf("claimed records %q, want %q", got, want)
		}
		if recs[0].Tools[0].Name != "t" || recs[0].Status != result.StatusMCP {
			t.Fatalf("record did not round-trip: %+v", recs[0])
		}
		// Held by a running run: not ready, not claimable, not writable.
		if rb, _ := w.ReadyBatches(ctx, "lab"); len(rb) != 0 {
			t.Fatalf("held batch still ready: %+v", rb)
		}
		run2, _ := s.BeginRun(ctx, "lab")
		if _, err := w.ClaimBatch(ctx, "scan-1", run2); !errors.Is(err, ErrBatchNotReady) {
			t.Fatalf("second claim: %v", err)
		}
		if err := w.PutShard(ctx, sh(1), nil); !errors.Is(err, ErrBatchConsumed) {
			t.Fatalf("write to a held batch: %v", err)
		}
		// Discarding the run frees the batch for the next claim.
		if err := s.DiscardRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if rb, _ := w.ReadyBatches(ctx, "lab"); len(rb) != 1 {
			t.Fatalf("batch of a discarded run not ready again: %+v", rb)
		}
		if _, err := w.ClaimBatch(ctx, "scan-1", run); !errors.Is(err, ErrRunNotRunning) {
			t.Fatalf("claim for a discarded run: %v", err)
		}
		recs, err = w.ClaimBatch(ctx, "scan-1", run2)
		if err != nil || len(recs) != 3 {
			t.Fatalf("claim after discard = %d records, %v", len(recs), err)
		}
		if _, err := s.CompleteRun(ctx, run2, recs, nil); err != nil {
			t.Fatal(err)
		}
		if rb, _ := w.ReadyBatches(ctx, "lab"); len(rb) != 0 {
			t.Fatalf("consumed batch still ready: %+v", rb)
		}
		if err := w.PutShard(ctx, sh(0), nil); !errors.Is(err, ErrBatchConsumed) {
			t.Fatalf("write to a consumed batch: %v", err)
		}
		n, err := w.DropConsumedRecords(ctx)
		if err != nil || n != 3 {
			t.Fatalf("DropConsumedRecords = %d, %v", n, err)
		}
		all, err := w.Batches(ctx, "", 0)
		if err != nil || len(all) != 1 || all[0].RunID != run2 || all[0].RunStatus != RunComplete {
			t.Fatalf("Batches = %+v, %v", all, err)
		}
	})
	t.Run("Order", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		for _, id := range []string{"b", "a"} {
			s.clock.Add(1)
			if err := w.PutShard(ctx, Shard{Batch: id, Group: "lab", Index: 0, Count: 1}, nil); err != nil {
				t.Fatal(err)
			}
		}
		rb, err := w.ReadyBatches(ctx, "lab")
		if err != nil || len(rb) != 2 || rb[0].ID != "b" || rb[1].ID != "a" {
			t.Fatalf("ReadyBatches = %+v, %v (want completion order b, a)", rb, err)
		}
	})
	t.Run("BadInput", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		if err := w.PutShard(ctx, Shard{Batch: "x", Group: "lab", Index: 0, Count: 2}, nil); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			sh   Shard
			recs []*result.Endpoint
			want string
		}{
			{"empty batch", Shard{Group: "lab", Count: 1}, nil, "batch id"},
			{"bad batch", Shard{Batch: "a b", Group: "lab", Count: 1}, nil, `batch id "a b"`},
			{"bad group", Shard{Batch: "y", Group: "", Count: 1}, nil, "group"},
			{"index out of range", Shard{Batch: "y", Group: "lab", Index: 2, Count: 2}, nil, "shard 2/2"},
			{"zero count", Shard{Batch: "y", Group: "lab"}, nil, "shard 0/0"},
			{"other count", Shard{Batch: "x", Group: "lab", Index: 0, Count: 3}, nil, "has 2 shards, not 3"},
			{"other group", Shard{Batch: "x", Group: "prod", Index: 1, Count: 2}, nil, `belongs to group "lab"`},
			{"nil record", Shard{Batch: "y", Group: "lab", Count: 1}, []*result.Endpoint{nil}, "record 0 is nil"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				err := w.PutShard(ctx, tc.sh, tc.recs)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("PutShard = %v, want an error containing %q", err, tc.want)
				}
			})
		}
	})
	t.Run("ManyRecords", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		const n = 2*recordsPerInsert + 51
		var recs []*result.Endpoint
		for i := range n {
			recs = append(recs, mcpEndpoint(fmt.Sprintf("http://127.0.%d.%d:8080/mcp", i/250, i%250+1), s.clock.Now(), true))
		}
		if err := w.PutShard(ctx, Shard{Batch: "big", Group: "lab", Index: 0, Count: 1}, recs); err != nil {
			t.Fatal(err)
		}
		run, _ := s.BeginRun(ctx, "lab")
		got, err := w.ClaimBatch(ctx, "big", run)
		if err != nil || len(got) != n {
			t.Fatalf("claimed %d records, %v; want %d", len(got), err, n)
		}
		for i := range got {
			if got[i].URL != recs[i].URL {
				t.Fatalf("record %d = %s, want %s", i, got[i].URL, recs[i].URL)
			}
		}
	})
	t.Run("Abandoned", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		start := s.clock.Now()
		for id, count := range map[string]int{"old-incomplete": 2, "old-complete": 1} {
			if err := w.PutShard(ctx, Shard{Batch: id, Group: "lab", Index: 0, Count: count}, []*result.Endpoint{rec(1)}); err != nil {
				t.Fatal(err)
			}
		}
		s.clock.Add(time.Hour)
		if err := w.PutShard(ctx, Shard{Batch: "new-incomplete", Group: "lab", Index: 0, Count: 2}, nil); err != nil {
			t.Fatal(err)
		}
		n, err := w.DropAbandoned(ctx, start.Add(time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("DropAbandoned = %d, %v", n, err)
		}
		all, _ := w.Batches(ctx, "lab", 0)
		var ids []string
		for _, b := range all {
			ids = append(ids, b.ID)
		}
		if got := strings.Join(ids, " "); got != "new-incomplete old-complete" {
			t.Fatalf("batches left: %s", got)
		}
	})
	t.Run("ConcurrentShards", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, b)
		w := workersOf(t, s)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = w.PutShard(ctx, Shard{Batch: "job-7", Group: "lab", Index: i, Count: n}, []*result.Endpoint{rec(10 + i)})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("shard %d: %v", i, err)
			}
		}
		rb, err := w.ReadyBatches(ctx, "lab")
		if err != nil || len(rb) != 1 || rb[0].Stored != n {
			t.Fatalf("ReadyBatches = %+v, %v", rb, err)
		}
	})
}
