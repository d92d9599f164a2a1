package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// maxBatchBytes caps the bytes of records written in one write(2) call.
const maxBatchBytes = 1 << 20

// JSONLSink appends records as JSON Lines to a file. One goroutine owns
// the file; every record is a whole line and a batch of whole lines goes
// to the file in one write(2) call, so a crash of the process never leaves
// a torn record (a power loss may leave a partial final line, which
// readers skip). See Durability for when Write returns.
type JSONLSink struct {
	path string
	o    Options
	f    *os.File
	q    *queue
	done chan struct{} // closed when the owner goroutine has finished
	cerr error         // the owner's final error, read after done
}

var _ Sink = (*JSONLSink)(nil)

// OpenJSONL opens (creating with mode 0600 if needed) the JSON Lines file
// at path for appending. If the file ends in a partial line, a newline is
// appended first so that the next record starts on a line of its own.
func OpenJSONL(path string, o *Options) (*JSONLSink, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if err := repairTail(path, f, opts); err != nil {
		f.Close()
		return nil, err
	}
	if created && opts.Durability != DurabilityNone {
		// Make the new directory entry durable too.
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	s := &JSONLSink{path: path, o: opts, f: f, q: newQueue(), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// repairTail terminates a partial final line left by an earlier crash.
func repairTail(path string, w *os.File, o Options) error {
	r, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer r.Close()
	st, err := r.Stat()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() == 0 {
		return nil
	}
	var last [1]byte
	if _, err := r.ReadAt(last[:], st.Size()-1); err != nil && err != io.EOF {
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	if last[0] == '\n' {
		return nil
	}
	o.Logger.Warn("audit log ends in a partial record; terminating it", "path", path)
	if _, err := w.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	return nil
}

// Write encodes r and hands it to the file's owner goroutine. In sync mode
// it returns after the record is on stable storage, in batch mode after it
// is in the operating system, in none mode at once. If ctx ends first,
// Write returns its error and the record may still be stored. After a
// failed write or sync every Write fails: the file's state is unknown.
func (s *JSONLSink) Write(ctx context.Context, r *Record) error {
	if r == nil {
		return errNilRecord
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	p := &pending{line: append(line, '\n')}
	if s.o.Durability != DurabilityNone {
		p.done = make(chan error, 1)
	}
	return s.q.submit(ctx, p)
}

// Close writes and syncs everything queued, then closes the file. It is
// safe to call more than once.
func (s *JSONLSink) Close() error {
	s.q.close()
	<-s.done
	return s.cerr
}

// run owns the file: it gathers queued records into batches, writes each
// batch with one call and syncs according to the durability setting.
func (s *JSONLSink) run() {
	defer close(s.done)
	var (
		buf      []byte // none mode: records not yet written
		dirty    bool   // written since the last sync
		lastSync = time.Now()
		timer    = time.NewTimer(time.Hour)
		armed    bool
	)
	timer.Stop()
	arm := func(d time.Duration) {
		if !armed {
			timer.Reset(d)
			armed = true
		}
	}
	write := func(b []byte) error {
		if len(b) == 0 {
			return nil
		}
		if err := s.q.failed(); err != nil {
			return err
		}
		if _, err := s.f.Write(b); err != nil {
			err = fmt.Errorf("audit: write %s: %w", s.path, err)
			s.q.fail(err)
			return err
		}
		dirty = true
		return nil
	}
	sync := func() error {
		if !dirty {
			return nil
		}
		if err := s.q.failed(); err != nil {
			return err
		}
		lastSync = time.Now()
		dirty = false
		if err := s.f.Sync(); err != nil {
			// After a failed fsync the file's state is unknown: stop.
			err = fmt.Errorf("audit: sync %s: %w", s.path, err)
			s.q.fail(err)
			s.o.Logger.Error("audit log sync failed; the sink is disabled", "path", s.path, "err", err)
			return err
		}
		return nil
	}
	finish := func() {
		err := write(buf)
		if err2 := sync(); err == nil {
			err = err2
		}
		if err2 := s.f.Close(); err == nil && err2 != nil {
			err = fmt.Errorf("audit: close %s: %w", s.path, err2)
		}
		s.cerr = err
	}
	var batch []*pending
	var scratch []byte // batch and sync modes: the lines of one batch
	for {
		select {
		case p, ok := <-s.q.ch:
			if !ok {
				finish()
				return
			}
			var open bool
			batch, open = s.q.drain(append(batch[:0], p), len(p.line), maxBatchBytes)
			switch s.o.Durability {
			case DurabilityNone:
				buf = appendLines(buf, batch)
				if len(buf) >= maxBatchBytes {
					if write(buf) != nil {
						s.o.Logger.Error("audit log write failed", "path", s.path, "err", s.q.failed())
					}
					buf = buf[:0]
				}
				arm(s.o.FlushInterval)
			case DurabilityBatch:
				scratch = appendLines(scratch[:0], batch)
				err := write(scratch)
				ack(batch, err)
				if time.Since(lastSync) >= s.o.BatchInterval {
					_ = sync()
				} else {
					arm(s.o.BatchInterval - time.Since(lastSync))
				}
			case DurabilitySync:
				scratch = appendLines(scratch[:0], batch)
				err := write(scratch)
				if err == nil {
					err = sync()
				}
				ack(batch, err)
			}
			clear(batch)
			if !open {
				finish()
				return
			}
		case <-timer.C:
			armed = false
			if s.o.Durability == DurabilityNone {
				if write(buf) != nil {
					s.o.Logger.Error("audit log write failed", "path", s.path, "err", s.q.failed())
				}
				buf = buf[:0]
			} else {
				_ = sync()
			}
		}
	}
}

// appendLines appends the batch's encoded records to buf.
func appendLines(buf []byte, batch []*pending) []byte {
	for _, p := range batch {
		buf = append(buf, p.line...)
	}
	return buf
}
