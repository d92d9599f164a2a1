package mcpwire

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Event is one Server-Sent Event.
type Event struct {
	// Type is the "event:" field, "message" when absent.
	Type string
	ID   string
	Data []byte
}

// SSEReader splits a text/event-stream into events (WHATWG HTML, "Parsing
// an event stream"), capping the length of a line, of an event and of the
// whole stream.
type SSEReader struct {
	r        *bufio.Reader
	maxEvent int
	maxTotal int64
	total    int64
}

// NewSSEReader reads events of at most maxEvent bytes from r and at most
// maxTotal bytes in all. Both caps must be positive.
func NewSSEReader(r io.Reader, maxEvent int, maxTotal int64) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, 4096), maxEvent: maxEvent, maxTotal: maxTotal}
}

// Next returns the next event that carries data (comment-only and empty
// events are skipped). It returns io.EOF at the end of the stream, and
// ErrTooLarge when a cap is exceeded.
func (s *SSEReader) Next() (Event, error) {
	var ev Event
	var data bytes.Buffer
	hasData := false
	size := 0
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				// An event must end with a blank line; a stream cut
				// mid-event discards it, as browsers do.
				return Event{}, io.EOF
			}
			return Event{}, err
		}
		if len(line) == 0 { // dispatch
			if !hasData {
				ev = Event{}
				size = 0
				continue
			}
			if ev.Type == "" {
				ev.Type = "message"
			}
			b := data.Bytes()
			if len(b) > 0 && b[len(b)-1] == '\n' {
				b = b[:len(b)-1]
			}
			ev.Data = append([]byte(nil), b...)
			return ev, nil
		}
		size += len(line)
		if size > s.maxEvent {
			return Event{}, fmt.Errorf("%w: event over %d bytes", ErrTooLarge, s.maxEvent)
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "event":
			ev.Type = string(value)
		case "data":
			data.Write(value)
			data.WriteByte('\n')
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		}
	}
}

// readLine returns one line without its terminator (CRLF, LF or CR).
func (s *SSEReader) readLine() ([]byte, error) {
	var line []byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				return line, nil
			}
			return nil, err
		}
		s.total++
		if s.total > s.maxTotal {
			return nil, fmt.Errorf("%w: stream over %d bytes", ErrTooLarge, s.maxTotal)
		}
		switch b {
		case '\n':
			return line, nil
		case '\r':
			if next, err := s.r.Peek(1); err == nil && next[0] == '\n' {
				s.r.ReadByte()
				s.total++
			}
			return line, nil
		}
		if len(line) >= s.maxEvent {
			return nil, fmt.Errorf("%w: line over %d bytes", ErrTooLarge, s.maxEvent)
		}
		line = append(line, b)
	}
}
