package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// Two scan workers store the shards of one batch; the watch claims the
// complete batch for a run and completes the run, which consumes it.
func ExampleWorkers() {
	dir, err := os.MkdirTemp("", "watch")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	s, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "watch.db"), &store.Options{NoRecover: true})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	w := s.(store.Workers)

	rec := func(url string) *result.Endpoint {
		return &result.Endpoint{Schema: result.Schema, URL: url, Host: "127.0.0.1", Port: 3000,
			Status: result.StatusMCP, ScannedAt: time.Now()}
	}
	for i, url := range []string{"http://127.0.0.1:3000/mcp", "http://127.0.0.2:3000/mcp"} {
		sh := store.Shard{Batch: "job-1", Group: "fleet", Index: i, Count: 2}
		if err := w.PutShard(ctx, sh, []*result.Endpoint{rec(url)}); err != nil {
			panic(err)
		}
	}
	ready, _ := w.ReadyBatches(ctx, "fleet")
	fmt.Println("ready:", len(ready), ready[0].ID, ready[0].Stored, "of", ready[0].Shards)

	run, _ := s.BeginRun(ctx, "fleet")
	recs, err := w.ClaimBatch(ctx, "job-1", run)
	if err != nil {
		panic(err)
	}
	if _, err := s.CompleteRun(ctx, run, recs, nil); err != nil {
		panic(err)
	}
	ready, _ = w.ReadyBatches(ctx, "fleet")
	fmt.Println("claimed:", len(recs), "records; ready now:", len(ready))
	// Output:
	// ready: 1 job-1 2 of 2
	// claimed: 2 records; ready now: 0
}
