package gate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/mcpwarden/mcpwarden/internal/mcpwire"
)

// StdioOptions configure a stdio upstream.
type StdioOptions struct {
	// Command is the server's argv, e.g. ["npx", "some-server"]. Required.
	Command []string
	// Env is added to the gate's environment for the child.
	Env []string
	// Dir is the child's working directory (empty: the gate's).
	Dir string
	// MaxSessions bounds concurrent sessions, one child each (default 64;
	// 503 above).
	MaxSessions int
	// MaxMessage caps one line the child writes (default 16 MiB); a longer
	// line ends the session.
	MaxMessage int
	// Logger gets the child's stderr and lifecycle (nil: discard).
	Logger *slog.Logger
}

// StdioUpstreamURL is the upstream URL of a route served by a
// StdioUpstream (set Route.Transport to its Transport).
const StdioUpstreamURL = "http://stdio.invalid/mcp"

// StdioUpstream runs a stdio MCP server behind the gate: it speaks
// streamable HTTP (stateful) to the gate and JSON-RPC lines to child
// processes, one child per session, so that clients are isolated (their
// JSON-RPC ids never meet). A child that dies ends its session (the client
// gets 404 and initialises again, which starts a new child); children that
// die right after starting make the next start wait, with exponential
// backoff up to 30s (503 with Retry-After meanwhile). Its stderr is
// logged line by line.
type StdioUpstream struct {
	opts StdioOptions
	log  *slog.Logger

	mu       sync.Mutex
	sessions map[string]*child
	failures int
	notUntil time.Time
	closed   bool
	wg       sync.WaitGroup
}

// NewStdioUpstream checks opts and returns a StdioUpstream; children start
// with the sessions.
func NewStdioUpstream(opts StdioOptions) (*StdioUpstream, error) {
	if len(opts.Command) == 0 || opts.Command[0] == "" {
		return nil, errors.New("gate: stdio upstream: no command")
	}
	if _, err := exec.LookPath(opts.Command[0]); err != nil {
		return nil, fmt.Errorf("gate: stdio upstream: %w", err)
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 64
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = DefaultMaxResponseBody
	}
	s := &StdioUpstream{opts: opts, log: opts.Logger, sessions: map[string]*child{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Transport is the RoundTripper a route uses to reach s.
func (s *StdioUpstream) Transport() http.RoundTripper { return handlerTransport{s} }

// Close stops every child and waits for them.
func (s *StdioUpstream) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, c := range s.sessions {
		c.kill()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// child is one server process and the routing of its output.
type child struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	wmu     sync.Mutex
	mu      sync.Mutex
	pending map[string]chan<- []byte // request id -> the POST waiting for it
	streams map[chan []byte]struct{} // where server-initiated messages go
	done    chan struct{}
	started time.Time
}

func (c *child) kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
	}
}

func (c *child) send(line []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.stdin.Write(append(line, '\n'))
	return err
}

func (c *child) addStream() chan []byte {
	ch := make(chan []byte, 64)
	c.mu.Lock()
	c.streams[ch] = struct{}{}
	c.mu.Unlock()
	return ch
}

func (c *child) removeStream(ch chan []byte) {
	c.mu.Lock()
	delete(c.streams, ch)
	c.mu.Unlock()
}

// route delivers one line from the child.
func (c *child) route(line []byte) {
	var m map[string]json.RawMessage
	if json.Unmarshal(line, &m) != nil {
		return // not a JSON-RPC object: ignore (stdout noise)
	}
	_, hasMethod := m["method"]
	if id, ok := m["id"]; ok && !hasMethod {
		c.mu.Lock()
		ch := c.pending[string(bytes.TrimSpace(id))]
		delete(c.pending, string(bytes.TrimSpace(id)))
		c.mu.Unlock()
		if ch != nil {
			ch <- line
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch := range c.streams {
		select {
		case ch <- line:
		default: // a stream that does not keep up loses messages
		}
	}
}

func (s *StdioUpstream) spawn() (*child, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, "", errors.New("stdio upstream closed")
	}
	if len(s.sessions) >= s.opts.MaxSessions {
		return nil, "", errTooManySessions
	}
	if wait := time.Until(s.notUntil); wait > 0 {
		return nil, "", &backoffError{wait}
	}
	cmd := exec.Command(s.opts.Command[0], s.opts.Command[1:]...)
	cmd.Env = append(os.Environ(), s.opts.Env...)
	cmd.Dir = s.opts.Dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		s.failedLocked()
		return nil, "", err
	}
	c := &child{cmd: cmd, stdin: stdin, pending: map[string]chan<- []byte{}, streams: map[chan []byte]struct{}{},
		done: make(chan struct{}), started: time.Now()}
	id := newID() + newID()
	s.sessions[id] = c
	s.log.Info("gate: stdio server started", "pid", cmd.Process.Pid, "session", sessionDigest(id))
	s.wg.Add(2)
	go func() { // stderr -> log
		defer s.wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 4096), 64<<10)
		for sc.Scan() {
			s.log.Info("gate: stdio server stderr", "pid", cmd.Process.Pid, "line", sc.Text())
		}
	}()
	go func() { // stdout -> routing; then reap
		defer s.wg.Done()
		rd := bufio.NewReaderSize(stdout, 64<<10)
		for {
			line, err := readLine(rd, s.opts.MaxMessage)
			if len(bytes.TrimSpace(line)) > 0 {
				c.route(bytes.TrimSpace(line))
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					s.log.Warn("gate: stdio server output unreadable; stopping it", "pid", cmd.Process.Pid, "err", err)
				}
				break
			}
		}
		c.kill()
		werr := cmd.Wait()
		s.mu.Lock()
		delete(s.sessions, id)
		if time.Since(c.started) < 2*time.Second {
			s.failedLocked()
		} else {
			s.failures = 0
		}
		s.mu.Unlock()
		close(c.done)
		s.log.Info("gate: stdio server exited", "pid", cmd.Process.Pid, "err", werr)
	}()
	return c, id, nil
}

// failedLocked pushes the next start back after a quick failure.
func (s *StdioUpstream) failedLocked() {
	s.failures++
	d := 250 * time.Millisecond << min(s.failures-1, 7)
	s.notUntil = time.Now().Add(min(d, 30*time.Second))
}

var errTooManySessions = errors.New("too many stdio sessions")

type backoffError struct{ wait time.Duration }

func (e *backoffError) Error() string { return "stdio server restarting after failures" }

// readLine reads one line of at most max bytes.
func readLine(rd *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		frag, err := rd.ReadSlice('\n')
		if len(line)+len(frag) > max {
			return nil, fmt.Errorf("%w: line over %d bytes", mcpwire.ErrTooLarge, max)
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		return line, err
	}
}

func (s *StdioUpstream) lookup(id string) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// ServeHTTP speaks streamable HTTP to the gate.
func (s *StdioUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sid := r.Header.Get(headerSession)
	switch r.Method {
	case http.MethodPost:
		s.post(w, r, sid)
	case http.MethodGet:
		c := s.lookup(sid)
		if c == nil {
			writeRPCError(w, http.StatusNotFound, CodeSessionNotFound, "session not found")
			return
		}
		ch := c.addStream()
		defer c.removeStream(ch)
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for {
			select {
			case line := <-ch:
				if writeEvent(w, line) != nil {
					return
				}
			case <-c.done:
				return
			case <-r.Context().Done():
				return
			}
		}
	case http.MethodDelete:
		c := s.lookup(sid)
		if c == nil {
			writeRPCError(w, http.StatusNotFound, CodeSessionNotFound, "session not found")
			return
		}
		c.kill()
		<-c.done
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func writeEvent(w io.Writer, line []byte) error {
	_, err := w.Write(append(append([]byte("event: message\ndata: "), line...), '\n', '\n'))
	return err
}

func (s *StdioUpstream) post(w http.ResponseWriter, r *http.Request, sid string) {
	body, err := mcpwire.ReadAll(r.Body, int64(s.opts.MaxMessage))
	if err != nil {
		writeRPCError(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest, "body too large")
		return
	}
	calls, _, err := Inspect(body)
	if err != nil {
		writeRPCError(w, http.StatusBadRequest, CodeInvalidRequest, "invalid request")
		return
	}
	var c *child
	if sid == "" {
		if len(calls) != 1 || calls[0].Method != "initialize" {
			writeRPCError(w, http.StatusBadRequest, CodeInvalidRequest, "no session: initialize first")
			return
		}
		c, sid, err = s.spawn()
		var be *backoffError
		switch {
		case errors.As(err, &be):
			w.Header().Set("Retry-After", strconv.Itoa(int(be.wait/time.Second)+1))
			writeRPCError(w, http.StatusServiceUnavailable, -32603, "stdio server restarting")
			return
		case errors.Is(err, errTooManySessions):
			w.Header().Set("Retry-After", "5")
			writeRPCError(w, http.StatusServiceUnavailable, -32603, "too many sessions")
			return
		case err != nil:
			s.log.Error("gate: stdio server did not start", "err", err)
			writeRPCError(w, http.StatusBadGateway, -32603, "stdio server did not start")
			return
		}
		w.Header().Set(headerSession, sid)
	} else if c = s.lookup(sid); c == nil {
		writeRPCError(w, http.StatusNotFound, CodeSessionNotFound, "session not found")
		return
	}
	answers := make(chan []byte, len(calls))
	want := 0
	open := map[string]json.RawMessage{} // unanswered request ids
	c.mu.Lock()
	for _, call := range calls {
		if !call.IsRequest() {
			continue
		}
		if _, busy := c.pending[string(call.ID)]; busy {
			c.mu.Unlock()
			writeRPCError(w, http.StatusBadRequest, CodeInvalidRequest, "request id already in flight")
			return
		}
		c.pending[string(call.ID)] = answers
		open[string(call.ID)] = call.ID
		want++
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		for _, call := range calls {
			if c.pending[string(call.ID)] == answers {
				delete(c.pending, string(call.ID))
			}
		}
		c.mu.Unlock()
	}()
	var line bytes.Buffer
	if err := json.Compact(&line, body); err != nil || c.send(line.Bytes()) != nil {
		writeRPCError(w, http.StatusBadGateway, -32603, "stdio server not accepting input")
		return
	}
	if want == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	// Answer as an event stream: the responses, and whatever the server
	// says meanwhile (progress, logging), as it comes.
	stream := c.addStream()
	defer c.removeStream(stream)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	for want > 0 {
		select {
		case a := <-answers:
			want--
			var m struct {
				ID json.RawMessage `json:"id"`
			}
			if json.Unmarshal(a, &m) == nil {
				delete(open, string(bytes.TrimSpace(m.ID)))
			}
			if writeEvent(w, a) != nil {
				return
			}
		case m := <-stream:
			if writeEvent(w, m) != nil {
				return
			}
		case <-c.done:
			for _, id := range open {
				b, _ := json.Marshal(newRPCError(id, -32603, "stdio server exited", nil))
				_ = writeEvent(w, b)
			}
			return
		case <-r.Context().Done():
			return
		}
	}
}

var _ http.Handler = (*StdioUpstream)(nil)
