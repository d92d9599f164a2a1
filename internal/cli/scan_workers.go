package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
	"github.com/mcpwarden/mcpwarden/internal/target"
	"github.com/mcpwarden/mcpwarden/internal/watch/store"
)

// workerPlan is where a scan worker (scan --db) stores its shard.
type workerPlan struct {
	db    string
	shard store.Shard
}

// planWorker validates --db, --batch and --group; nil without --db.
func planWorker(cfg *scanConfig, shard target.Shard, bad func(string, ...any)) *workerPlan {
	if cfg.db == "" {
		if cfg.batch != "" {
			bad("--batch: needs --db (the database the shard is stored in)")
		}
		if cfg.group != defaultGroupName {
			bad("--group: needs --db (the database the shard is stored in)")
		}
		return nil
	}
	if !strings.HasPrefix(cfg.db, "sqlite:") && !strings.HasPrefix(cfg.db, "postgres://") && !strings.HasPrefix(cfg.db, "postgresql://") {
		bad("--db: want postgres://... or sqlite:PATH")
	}
	if cfg.batch == "" {
		bad("--batch: required with --db: every shard of one sweep gives the same id (e.g. the Kubernetes Job uid)")
	} else if err := store.ValidBatchID(cfg.batch); err != nil {
		bad("--batch: %v", err)
	}
	if !regexpName(cfg.group) {
		bad("--group %q: want 1-64 letters, digits, '.', '_' or '-'", cfg.group)
	}
	if shard.Count == 0 {
		shard = target.Shard{Index: 0, Count: 1}
	}
	if shard.Count > store.MaxShards {
		bad("--shard: at most %d shards with --db", store.MaxShards)
	}
	return &workerPlan{db: cfg.db, shard: store.Shard{Batch: cfg.batch, Group: cfg.group, Index: shard.Index, Count: shard.Count}}
}

// workerSink collects the records of a shard and stores them when the
// scan is complete, all in one transaction.
type workerSink struct {
	plan *workerPlan
	st   store.Store
	ws   store.Workers
	recs []*result.Endpoint
}

// openWorkerSink opens the database before the scan, so that a bad
// address fails before any probe. Workers never recover runs: the watch
// process owns them.
func openWorkerSink(ctx context.Context, p *workerPlan, logger *slog.Logger) (*workerSink, error) {
	st, err := store.Open(ctx, p.db, &store.Options{Logger: logger, NoRecover: true})
	if err != nil {
		return nil, fmt.Errorf("--db: %w", err)
	}
	ws, ok := st.(store.Workers)
	if !ok {
		st.Close()
		return nil, fmt.Errorf("--db: the store %T keeps no worker batches", st)
	}
	return &workerSink{plan: p, st: st, ws: ws}, nil
}

// add keeps one record; a nil sink keeps nothing.
func (s *workerSink) add(ep *result.Endpoint) {
	if s != nil {
		s.recs = append(s.recs, ep)
	}
}

// commit stores the shard and says so on w.
func (s *workerSink) commit(ctx context.Context, w io.Writer, sum *result.Summary) error {
	sh := s.plan.shard
	if sum != nil {
		sh.Probed = sum.Targets
	}
	// A scan that was not interrupted is stored even if the signal
	// arrives now: the transaction is short and all-or-nothing.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := s.ws.PutShard(sctx, sh, s.recs); err != nil {
		return fmt.Errorf("--db: shard %d/%d of batch %s: %w", sh.Index, sh.Count, sh.Batch, err)
	}
	fmt.Fprintf(w, "mcpwarden scan: stored shard %d/%d of batch %s for group %s (%d records)\n",
		sh.Index, sh.Count, sh.Batch, sh.Group, len(s.recs))
	return nil
}

func (s *workerSink) close() { s.st.Close() }
