package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/watch/config"
	"github.com/mcpwarden/mcpwarden/internal/watch/diff"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// BatchExpiry is how long a worker batch may wait for its missing shards:
// older incomplete batches (their Job gave up) are deleted.
const BatchExpiry = 24 * time.Hour

// workersCycle is the cycle of a group whose source is the workers: it
// derives one run from each batch whose shards are all stored, oldest
// first, exactly as a cycle derives one from its own scan. A batch is
// claimed by the run that derives it; if the process dies before the run
// completes, the run is discarded (by Recover) and the batch derived again
// later, so a batch is never derived twice nor lost. The result sums up
// the runs; RunID is the last one (0 when no batch was ready).
func (r *Runner) workersCycle(ctx context.Context, g config.Group) (CycleResult, error) {
	res := CycleResult{Group: g.Name}
	ws, ok := r.o.Store.(store.Workers)
	if !ok {
		return res, r.failed(g, fmt.Errorf("the store %T keeps no worker batches", r.o.Store))
	}
	batches, err := ws.ReadyBatches(ctx, g.Name)
	if err != nil {
		return res, r.failed(g, err)
	}
	if n, err := ws.DropAbandoned(ctx, r.o.Now().Add(-BatchExpiry)); err != nil {
		r.log.Warn("watch: drop abandoned batches", "error", err)
	} else if n > 0 {
		r.log.Warn("watch: dropped worker batches that never completed", "batches", n, "older_than", BatchExpiry)
	}
	for _, b := range batches {
		one, err := r.deriveBatch(ctx, g, ws, b)
		if errors.Is(err, store.ErrBatchNotReady) {
			// Another watch process claimed it between the two calls.
			r.log.Info("watch: batch taken by another run", "group", g.Name, "batch", b.ID)
			continue
		}
		if err != nil {
			return res, r.failed(g, fmt.Errorf("batch %s: %w", b.ID, err))
		}
		res.RunID = one.RunID
		res.Records += one.Records
		res.Events = append(res.Events, one.Events...)
		res.Duration += one.Duration
	}
	if len(batches) == 0 {
		r.log.Debug("watch: no complete worker batch", "group", g.Name)
		return res, nil
	}
	if n, err := ws.DropConsumedRecords(ctx); err != nil {
		r.log.Warn("watch: drop records of consumed batches", "error", err)
	} else if n > 0 {
		r.log.Debug("watch: dropped records of consumed batches", "records", n)
	}
	if items, err := r.o.Store.Inventory(ctx); err == nil {
		r.metrics.setInventory(items)
	} else {
		r.log.Warn("watch: inventory for metrics", "error", err)
	}
	if r.alerts != nil && len(res.Events) > 0 {
		r.alerts.Notify()
	}
	return res, nil
}

// deriveBatch derives one run from a complete batch. The batch covers the
// whole group: its shards together are every target of the sweep, so an
// endpoint of the group that no shard reported is closed.
func (r *Runner) deriveBatch(ctx context.Context, g config.Group, ws store.Workers, b store.Batch) (CycleResult, error) {
	res := CycleResult{Group: g.Name}
	st := r.o.Store
	prev, err := st.LatestState(ctx, g.Name)
	if err != nil {
		return res, err
	}
	runID, err := st.BeginRun(ctx, g.Name)
	if err != nil {
		return res, err
	}
	res.RunID = runID
	discard := func(cause error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := st.DiscardRun(dctx, runID); err != nil && !errors.Is(err, store.ErrRunNotRunning) {
			r.log.Error("watch: discard run", "group", g.Name, "run", runID, "error", err)
		}
		return cause
	}
	start := time.Now()
	recs, err := ws.ClaimBatch(ctx, b.ID, runID)
	if err != nil {
		return res, discard(err)
	}
	now := r.o.Now()
	dopts := &diff.Options{GoneGrace: r.o.GoneGrace, TLSExpiryDays: r.o.TLSExpiryDays}
	filled := diff.Fill(prev, recs, now, dopts)
	events := diff.Diff(prev, recs, now, dopts)
	stored, err := st.CompleteRun(ctx, runID, filled, events)
	if err != nil {
		return res, discard(err)
	}
	res.Duration = time.Since(start)
	res.Records, res.Events = len(recs), stored
	r.metrics.duration.WithLabelValues(g.Name).Observe(res.Duration.Seconds())
	r.metrics.runs.WithLabelValues(g.Name, "complete").Inc()
	for _, e := range stored {
		r.metrics.events.WithLabelValues(string(e.Type)).Inc()
	}
	r.log.Info("watch: batch derived", "group", g.Name, "batch", b.ID, "shards", b.Shards, "run", runID,
		"records", len(recs), "events", len(stored))
	return res, nil
}
