package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Errors returned by sinks and readers.
var (
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("audit: sink closed")
	// ErrBadLine marks one unreadable line of a JSON Lines log (a partial
	// final line after a crash, or a corrupt record); reading goes on after it.
	ErrBadLine = errors.New("audit: unreadable line")

	errTrailingData = errors.New("trailing data after JSON value")
	errNilRecord    = errors.New("audit: nil record")
)

// Durability says when Write returns relative to the record reaching
// stable storage.
type Durability string

// Durability settings.
const (
	// DurabilityNone buffers records in memory; they are written
	// periodically and on Close. A crash loses the buffer.
	DurabilityNone Durability = "none"
	// DurabilityBatch returns once the record is in the operating system;
	// the file is synced at most every Options.BatchInterval. A process
	// crash loses nothing, a power loss at most one interval.
	DurabilityBatch Durability = "batch"
	// DurabilitySync returns only after the record is on stable storage
	// (fsync, or a SQLite commit with synchronous=FULL). Concurrent writes
	// share one sync (group commit).
	DurabilitySync Durability = "sync"
)

// ParseDurability parses "none", "batch" or "sync".
func ParseDurability(s string) (Durability, error) {
	switch d := Durability(strings.ToLower(strings.TrimSpace(s))); d {
	case DurabilityNone, DurabilityBatch, DurabilitySync:
		return d, nil
	}
	return "", fmt.Errorf("audit: unknown durability %q (valid: none, batch, sync)", s)
}

// Options configure the file and SQLite sinks. A nil *Options means all
// defaults.
type Options struct {
	// Durability is when Write returns; "" means DurabilityBatch.
	Durability Durability
	// BatchInterval is the longest time between syncs in batch mode;
	// 0 means 100ms.
	BatchInterval time.Duration
	// FlushInterval is how often buffered records are written in none
	// mode; 0 means 1s.
	FlushInterval time.Duration
	// Logger receives warnings (a repaired partial line, failed syncs);
	// nil discards them.
	Logger *slog.Logger
}

func (o *Options) withDefaults() (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	if c.Durability == "" {
		c.Durability = DurabilityBatch
	}
	if _, err := ParseDurability(string(c.Durability)); err != nil {
		return c, err
	}
	if c.BatchInterval < 0 || c.FlushInterval < 0 {
		return c, fmt.Errorf("audit: negative interval (batch %v, flush %v)", c.BatchInterval, c.FlushInterval)
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = 100 * time.Millisecond
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Open opens the sink named by spec with default Options: "jsonl:PATH"
// (a JSON Lines file), "sqlite:PATH" (a SQLite database) or "stdout".
func Open(spec string) (Sink, error) { return OpenWith(spec, nil) }

// OpenWith is Open with options for the file and SQLite sinks.
func OpenWith(spec string, o *Options) (Sink, error) {
	kind, path, err := splitSpec(spec)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "stdout":
		return NewWriterSink(stdout()), nil
	case "jsonl":
		return OpenJSONL(path, o)
	default:
		return OpenSQLite(path, o)
	}
}

// splitSpec parses "jsonl:PATH", "sqlite:PATH" or "stdout".
func splitSpec(spec string) (kind, path string, err error) {
	if spec == "stdout" {
		return "stdout", "", nil
	}
	kind, path, ok := strings.Cut(spec, ":")
	if !ok || (kind != "jsonl" && kind != "sqlite") {
		return "", "", fmt.Errorf("audit: bad sink %q (want jsonl:PATH, sqlite:PATH or stdout)", spec)
	}
	if path == "" {
		return "", "", fmt.Errorf("audit: bad sink %q: empty path", spec)
	}
	return kind, path, nil
}

// Multi returns a sink that writes every record to each of sinks in turn
// and closes them all. Write returns the errors of all sinks joined.
func Multi(sinks ...Sink) Sink {
	return multi(append([]Sink(nil), sinks...))
}

type multi []Sink

func (m multi) Write(ctx context.Context, r *Record) error {
	var errs []error
	for _, s := range m {
		if err := s.Write(ctx, r); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m multi) Close() error {
	var errs []error
	for _, s := range m {
		if err := s.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// pending is one record on its way to the goroutine that owns the file.
type pending struct {
	line []byte // the encoded record, ending in '\n'
	rec  *Record
	done chan error // buffered; nil when the writer does not wait
}

// queue hands records from any number of writers to one owner goroutine.
// Close closes the channel only once no writer is sending on it.
type queue struct {
	mu     sync.RWMutex
	closed bool
	ch     chan *pending

	errMu sync.Mutex
	err   error // sticky failure: the sink is unusable after it
}

func newQueue() *queue { return &queue{ch: make(chan *pending, 4096)} }

// submit enqueues p and, when p.done is set, waits for the owner's answer.
func (q *queue) submit(ctx context.Context, p *pending) error {
	if err := q.failed(); err != nil {
		return err
	}
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return ErrClosed
	}
	select {
	case q.ch <- p:
	case <-ctx.Done():
		q.mu.RUnlock()
		return fmt.Errorf("audit: %w", ctx.Err())
	}
	q.mu.RUnlock()
	if p.done == nil {
		return nil
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: waiting for the record to be stored: %w", ctx.Err())
	}
}

// close stops new submissions and closes the channel; it reports whether
// this call did it.
func (q *queue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.ch)
	return true
}

func (q *queue) fail(err error) {
	q.errMu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.errMu.Unlock()
}

func (q *queue) failed() error {
	q.errMu.Lock()
	defer q.errMu.Unlock()
	return q.err
}

// drain appends to batch whatever is already queued, without waiting, up
// to maxBytes of encoded records. It reports false when the channel is
// closed.
func (q *queue) drain(batch []*pending, size, maxBytes int) ([]*pending, bool) {
	for size < maxBytes {
		select {
		case p, ok := <-q.ch:
			if !ok {
				return batch, false
			}
			batch = append(batch, p)
			size += len(p.line)
		default:
			return batch, true
		}
	}
	return batch, true
}

// ack answers every waiting writer in batch.
func ack(batch []*pending, err error) {
	for _, p := range batch {
		if p.done != nil {
			p.done <- err
		}
	}
}
