package gate

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
)

// sseFramer splits a text/event-stream into raw event blocks, each with its
// terminating blank line, so that events the gate does not change are
// passed on byte for byte (comments and retry fields included). A line and
// an event are capped at maxEvent bytes.
type sseFramer struct {
	r        *bufio.Reader
	maxEvent int
}

func newSSEFramer(r io.Reader, maxEvent int) *sseFramer {
	return &sseFramer{r: bufio.NewReaderSize(r, 32<<10), maxEvent: maxEvent}
}

// next returns the next raw block: the lines up to and including the first
// empty line. At the end of the stream it returns what is left (maybe an
// unterminated block) with io.EOF.
func (f *sseFramer) next() ([]byte, error) {
	var block []byte
	lineStart := 0
	for {
		b, err := f.r.ReadByte()
		if err != nil {
			return block, err
		}
		block = append(block, b)
		if len(block) > f.maxEvent {
			return nil, fmt.Errorf("gate: upstream SSE %w: event over %d bytes", mcpwire.ErrTooLarge, f.maxEvent)
		}
		switch b {
		case '\r':
			if nb, err := f.r.Peek(1); err == nil && nb[0] == '\n' {
				f.r.ReadByte()
				block = append(block, '\n')
			}
			fallthrough
		case '\n':
			line := bytes.TrimRight(block[lineStart:], "\r\n")
			if len(line) == 0 {
				return block, nil
			}
			lineStart = len(block)
		}
	}
}

// sseEvent is the parsed view of a raw block.
type sseEvent struct {
	typ     string // "message" when absent
	data    []byte
	hasData bool
}

// splitLines splits a block into lines without terminators.
func splitLines(block []byte) [][]byte {
	var lines [][]byte
	for len(block) > 0 {
		i := bytes.IndexAny(block, "\r\n")
		if i < 0 {
			lines = append(lines, block)
			break
		}
		lines = append(lines, block[:i])
		if block[i] == '\r' && i+1 < len(block) && block[i+1] == '\n' {
			i++
		}
		block = block[i+1:]
	}
	return lines
}

func fieldOf(line []byte) (field, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	field, value = line[:i], line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return field, value
}

func parseEvent(block []byte) sseEvent {
	var ev sseEvent
	var data bytes.Buffer
	for _, line := range splitLines(block) {
		if len(line) == 0 || line[0] == ':' {
			continue
		}
		field, value := fieldOf(line)
		switch string(field) {
		case "event":
			ev.typ = string(value)
		case "data":
			if ev.hasData {
				data.WriteByte('\n')
			}
			data.Write(value)
			ev.hasData = true
		}
	}
	if ev.typ == "" {
		ev.typ = "message"
	}
	ev.data = data.Bytes()
	return ev
}

// replaceData returns block with its data lines replaced by one data line
// holding data (which must not contain a line break), at the place of the
// first; every other line is kept.
func replaceData(block, data []byte) []byte {
	var out bytes.Buffer
	done := false
	for _, line := range splitLines(block) {
		if len(line) == 0 {
			continue
		}
		if field, _ := fieldOf(line); line[0] != ':' && string(field) == "data" {
			if !done {
				out.WriteString("data: ")
				out.Write(data)
				out.WriteByte('\n')
				done = true
			}
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// rewriteFunc may change the data of one event; it returns the new data
// (no line breaks), whether it changed, and false in keep to drop the event.
type rewriteFunc func(ev sseEvent) (data []byte, changed, keep bool)

// sseWriter serialises the writes to one client event stream: the
// upstream's events and, on a legacy stream, the gate's own answers.
type sseWriter struct {
	mu     sync.Mutex
	w      io.Writer
	flush  func()
	closed bool
}

// write writes b and flushes.
func (s *sseWriter) write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, errStreamClosed
	}
	n, err := s.w.Write(b)
	if err == nil {
		s.flush()
	}
	return n, err
}

// message sends one JSON-RPC message as an SSE "message" event.
func (s *sseWriter) message(data []byte) error {
	_, err := s.write(append(append([]byte("event: message\ndata: "), data...), '\n', '\n'))
	return err
}

func (s *sseWriter) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

var errStreamClosed = errors.New("gate: event stream closed")

// rewriteSSE copies an event stream from r to w event by event, calling
// rewrite on every event with data and flushing after each event.
func rewriteSSE(w *sseWriter, r io.Reader, maxEvent int, rewrite rewriteFunc) (int64, error) {
	f := newSSEFramer(r, maxEvent)
	var n int64
	for {
		block, err := f.next()
		if len(block) > 0 {
			out := block
			if ev := parseEvent(block); ev.hasData && err != nil {
				// Cut mid-event: a client discards it; so does the gate
				// rather than pass on bytes it has not checked.
				out = nil
			} else if ev.hasData {
				data, changed, keep := rewrite(ev)
				switch {
				case !keep:
					out = nil
				case changed:
					out = replaceData(block, data)
				}
			}
			if len(out) > 0 {
				m, werr := w.write(out)
				n += int64(m)
				if werr != nil {
					return n, werr
				}
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// filterSSE is the rewrite that filters list responses with allow and
// drops an event whose list cannot be read. Events of every type are
// filtered (a client might read any of them as a message).
func filterSSE(allow func(Kind, string) bool) rewriteFunc {
	return func(ev sseEvent) ([]byte, bool, bool) {
		out, changed, err := FilterLists(ev.data, allow)
		if err != nil {
			return nil, false, false
		}
		return out, changed, true
	}
}
