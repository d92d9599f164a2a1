package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// WriterSink writes records as JSON Lines to an io.Writer such as stdout,
// one Write call per record. It does not buffer and does not close the
// writer.
type WriterSink struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
}

var _ Sink = (*WriterSink)(nil)

// NewWriterSink returns a sink writing to w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

func stdout() io.Writer { return os.Stdout }

// Write writes r as one line.
func (s *WriterSink) Write(ctx context.Context, r *Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if r == nil {
		return errNilRecord
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("audit: encode record: %w", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if _, err := s.w.Write(line); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// Close makes later Writes fail; the writer itself stays open.
func (s *WriterSink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}
