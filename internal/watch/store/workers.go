package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/result"
)

// Errors of the worker batches, checked with errors.Is.
var (
	// ErrBatchConsumed: a run is deriving or has derived the batch, so its
	// shards can no longer change.
	ErrBatchConsumed = errors.New("batch already consumed")
	// ErrBatchNotReady: the batch lacks shards, or another run holds it.
	ErrBatchNotReady = errors.New("batch not ready")
)

// Shard names one shard of a worker batch.
type Shard struct {
	// Batch identifies the batch (e.g. the Kubernetes Job name): every
	// shard of one sweep carries the same id.
	Batch string `json:"batch"`
	// Group is the watch target group the batch feeds.
	Group string `json:"group"`
	// Index is the shard's index in 0..Count-1, Count the number of shards.
	Index int `json:"index"`
	Count int `json:"count"`
	// Probed counts the services the shard probed (for the record).
	Probed int64 `json:"probed"`
}

// Batch is one sweep of a group by sharded workers.
type Batch struct {
	ID     string `json:"id"`
	Group  string `json:"group"`
	Shards int    `json:"shards"`
	// Stored counts the shards stored so far.
	Stored int `json:"stored"`
	// Probed sums the services probed by the stored shards.
	Probed  int64     `json:"probed"`
	Created time.Time `json:"created"`
	// Completed is when the last shard was stored (zero until all are).
	Completed time.Time `json:"completed,omitzero"`
	// RunID is the run deriving or having derived the batch (0: none).
	RunID int64 `json:"run_id,omitempty"`
	// RunStatus is the status of that run ("" without one).
	RunStatus string `json:"run_status,omitempty"`
}

// Workers keeps the results of sharded scan workers until a watch process
// derives a run from them. Both stores implement it.
type Workers interface {
	// PutShard stores the records of one shard of a batch in one
	// transaction, replacing what an earlier attempt of the same shard
	// stored (a retried worker). It fails with ErrBatchConsumed once a
	// run holds the batch, and when the batch is known with another
	// group or shard count.
	PutShard(ctx context.Context, s Shard, records []*result.Endpoint) error
	// ReadyBatches returns the batches of group whose shards are all
	// stored and that no run holds (or only a discarded one), in the
	// order they were completed.
	ReadyBatches(ctx context.Context, group string) ([]Batch, error)
	// ClaimBatch ties a ready batch to runID, a running run of the
	// batch's group, and returns its records in shard order. The batch is
	// consumed when the run completes and ready again when it is
	// discarded. It fails with ErrBatchNotReady when shards are missing or
	// another run holds the batch.
	ClaimBatch(ctx context.Context, batch string, runID int64) ([]*result.Endpoint, error)
	// Batches returns the batches of group ("" for all), newest first;
	// limit <= 0 means all.
	Batches(ctx context.Context, group string, limit int) ([]Batch, error)
	// DropConsumedRecords deletes the records of batches whose run is
	// complete, keeping the batch and shard rows, and returns how many
	// records it deleted.
	DropConsumedRecords(ctx context.Context) (int64, error)
	// DropAbandoned deletes the batches created before the cut-off that
	// still lack shards and that no run holds (their Job gave up), with
	// their shards and records, and returns how many it deleted.
	DropAbandoned(ctx context.Context, createdBefore time.Time) (int, error)
}

var (
	_ Workers = (*SQLite)(nil)
	_ Workers = (*Postgres)(nil)
)

// Limits of worker batches.
const (
	// MaxShards bounds the shard count of a batch.
	MaxShards = 10000
	// maxBatchID bounds the length of a batch id.
	maxBatchID = 128
	// recordsPerInsert is the number of records of one INSERT statement
	// (4 parameters each, well below the limits of both databases).
	recordsPerInsert = 200
)

var (
	batchIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`)
	groupRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// ValidBatchID checks a batch id: 1-128 letters, digits, '.', '_', ':'
// or '-', starting with a letter or digit.
func ValidBatchID(id string) error {
	if len(id) == 0 || len(id) > maxBatchID || !batchIDRE.MatchString(id) {
		return fmt.Errorf("batch id %q: want 1-%d letters, digits, '.', '_', ':' or '-', starting with a letter or digit", clip(id), maxBatchID)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func (s Shard) check() error {
	if err := ValidBatchID(s.Batch); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if !groupRE.MatchString(s.Group) {
		return fmt.Errorf("store: group %q: want 1-64 letters, digits, '.', '_' or '-'", clip(s.Group))
	}
	if s.Count < 1 || s.Count > MaxShards || s.Index < 0 || s.Index >= s.Count {
		return fmt.Errorf("store: shard %d/%d: want 0 <= index < count <= %d", s.Index, s.Count, MaxShards)
	}
	if s.Probed < 0 {
		return fmt.Errorf("store: shard %d/%d: negative probed count", s.Index, s.Count)
	}
	return nil
}

func (s *sqlStore) PutShard(ctx context.Context, sh Shard, records []*result.Endpoint) error {
	if err := sh.check(); err != nil {
		return err
	}
	rows := make([]string, len(records))
	for i, ep := range records {
		if ep == nil {
			return fmt.Errorf("store: shard %d/%d: record %d is nil", sh.Index, sh.Count, i)
		}
		b, err := json.Marshal(ep)
		if err != nil {
			return fmt.Errorf("store: shard %d/%d: record %s: %w", sh.Index, sh.Count, ep.URL, err)
		}
		rows[i] = string(b)
	}
	now := s.now().UnixNano()
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO worker_batches (batch, grp, shards, created)
VALUES (?, ?, ?, ?) ON CONFLICT (batch) DO NOTHING`), sh.Batch, sh.Group, sh.Count, now); err != nil {
			return err
		}
		lock := ""
		if s.dialect == dialectPostgres {
			// Serialises the shards of one batch with its claim.
			lock = " FOR UPDATE OF b"
		}
		var grp string
		var count int
		var runID sql.NullInt64
		var status sql.NullString
		err := tx.QueryRowContext(ctx, s.q(`SELECT b.grp, b.shards, b.run_id, r.status
FROM worker_batches b LEFT JOIN runs r ON r.id = b.run_id WHERE b.batch = ?`+lock), sh.Batch).
			Scan(&grp, &count, &runID, &status)
		if err != nil {
			return err
		}
		switch {
		case grp != sh.Group:
			return fmt.Errorf("store: batch %s belongs to group %q, not %q", sh.Batch, grp, sh.Group)
		case count != sh.Count:
			return fmt.Errorf("store: batch %s has %d shards, not %d", sh.Batch, count, sh.Count)
		case runID.Valid && status.String != RunDiscarded:
			return fmt.Errorf("store: batch %s (run %d): %w", sh.Batch, runID.Int64, ErrBatchConsumed)
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM worker_records WHERE batch = ? AND shard = ?`), sh.Batch, sh.Index); err != nil {
			return err
		}
		// Many rows per statement: a shard of a large sweep holds
		// thousands of records.
		for start := 0; start < len(rows); start += recordsPerInsert {
			end := min(start+recordsPerInsert, len(rows))
			args := make([]any, 0, 4*(end-start))
			for i := start; i < end; i++ {
				args = append(args, sh.Batch, sh.Index, i, rows[i])
			}
			query := `INSERT INTO worker_records (batch, shard, seq, record) VALUES ` +
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", end-start), ", ")
			if _, err := tx.ExecContext(ctx, s.q(query), args...); err != nil {
				return fmt.Errorf("records %d-%d: %w", start, end-1, err)
			}
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO worker_shards (batch, shard, probed, stored) VALUES (?, ?, ?, ?)
ON CONFLICT (batch, shard) DO UPDATE SET probed = excluded.probed, stored = excluded.stored`),
			sh.Batch, sh.Index, sh.Probed, now)
		return err
	})
}

// batchQuery selects batches with their shard counts; the caller adds the
// WHERE, HAVING and ORDER clauses around the GROUP BY.
const batchSelect = `SELECT b.batch, b.grp, b.shards, b.created, b.run_id, r.status,
	COUNT(s.shard), COALESCE(SUM(s.probed), 0), COALESCE(MAX(s.stored), 0)
FROM worker_batches b
LEFT JOIN worker_shards s ON s.batch = b.batch
LEFT JOIN runs r ON r.id = b.run_id`

const batchGroupBy = ` GROUP BY b.batch, b.grp, b.shards, b.created, b.run_id, r.status`

func (s *sqlStore) queryBatches(ctx context.Context, query string, args ...any) ([]Batch, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []Batch
	for rows.Next() {
		var b Batch
		var created, last int64
		var runID sql.NullInt64
		var status sql.NullString
		if err := rows.Scan(&b.ID, &b.Group, &b.Shards, &created, &runID, &status, &b.Stored, &b.Probed, &last); err != nil {
			return nil, s.wrap(err)
		}
		b.Created = fromNanos(created)
		if b.Stored == b.Shards {
			b.Completed = fromNanos(last)
		}
		b.RunID, b.RunStatus = runID.Int64, status.String
		out = append(out, b)
	}
	return out, s.wrap(rows.Err())
}

func (s *sqlStore) ReadyBatches(ctx context.Context, group string) ([]Batch, error) {
	return s.queryBatches(ctx, batchSelect+`
WHERE b.grp = ? AND (b.run_id IS NULL OR r.status = ?)`+batchGroupBy+`
HAVING COUNT(s.shard) = b.shards
ORDER BY MAX(s.stored), b.batch`, group, RunDiscarded)
}

func (s *sqlStore) Batches(ctx context.Context, group string, limit int) ([]Batch, error) {
	return s.queryBatches(ctx, batchSelect+`
WHERE b.grp = ? OR ? = ''`+batchGroupBy+`
ORDER BY b.created DESC, b.batch DESC LIMIT ?`, group, group, sqlLimit(limit))
}

func (s *sqlStore) ClaimBatch(ctx context.Context, batch string, runID int64) ([]*result.Endpoint, error) {
	var out []*result.Endpoint
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = nil
		var grp string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT grp FROM runs WHERE id = ? AND status = ?`), runID, RunRunning).Scan(&grp); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("store: run %d: %w", runID, ErrRunNotRunning)
			}
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE worker_batches SET run_id = ?
WHERE batch = ? AND grp = ?
	AND (run_id IS NULL OR run_id IN (SELECT id FROM runs WHERE status = ?))
	AND shards = (SELECT COUNT(*) FROM worker_shards s WHERE s.batch = worker_batches.batch)`),
			runID, batch, grp, RunDiscarded)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("store: batch %s of group %q: %w", batch, grp, ErrBatchNotReady)
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT shard, seq, record FROM worker_records WHERE batch = ? ORDER BY shard, seq`), batch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var shard, seq int
			var rec string
			if err := rows.Scan(&shard, &seq, &rec); err != nil {
				return err
			}
			ep := new(result.Endpoint)
			if err := json.Unmarshal([]byte(rec), ep); err != nil {
				return fmt.Errorf("store: batch %s shard %d record %d: %w", batch, shard, seq, err)
			}
			out = append(out, ep)
		}
		return rows.Err()
	})
	return out, err
}

func (s *sqlStore) DropConsumedRecords(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM worker_records WHERE batch IN (
	SELECT b.batch FROM worker_batches b JOIN runs r ON r.id = b.run_id WHERE r.status = ?)`), RunComplete)
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap(err)
}

func (s *sqlStore) DropAbandoned(ctx context.Context, createdBefore time.Time) (int, error) {
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, s.q(`SELECT b.batch FROM worker_batches b
WHERE b.created < ? AND b.run_id IS NULL
	AND b.shards > (SELECT COUNT(*) FROM worker_shards s WHERE s.batch = b.batch)`), createdBefore.UnixNano())
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			for _, table := range []string{"worker_records", "worker_shards", "worker_batches"} {
				if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE batch = ?`), id); err != nil {
					return fmt.Errorf("batch %s: %w", id, err)
				}
			}
			s.log.Warn("store: dropped an abandoned worker batch", "batch", id)
		}
		n = len(ids)
		return nil
	})
	return n, err
}
