package gate

import (
	"net/url"
	"sync"
)

// legacyQuery is the query parameter of the message endpoint the gate
// announces to legacy HTTP+SSE clients in place of the upstream's.
const legacyQuery = "mcpw_session"

// legacyStreams maps the tokens the gate hands legacy SSE clients to the
// upstream message endpoint and the principal whose stream received it.
// A token lives as long as its stream.
type legacyStreams struct {
	mu  sync.Mutex
	m   map[string]legacyStream
	max int
}

type legacyStream struct {
	endpoint  *url.URL
	principal string
	// out is the client's event stream, where the gate's own answers to
	// refused POSTs go (a legacy client reads responses only there).
	out *sseWriter
}

func newLegacyStreams(max int) *legacyStreams {
	return &legacyStreams{m: map[string]legacyStream{}, max: max}
}

// add registers a stream's endpoint; false when the table is full.
func (l *legacyStreams) add(token string, s legacyStream) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) >= l.max {
		return false
	}
	l.m[token] = s
	return true
}

func (l *legacyStreams) get(token, principal string) (legacyStream, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.m[token]
	if !ok || s.principal != principal {
		return legacyStream{}, false
	}
	return s, true
}

func (l *legacyStreams) remove(token string) {
	l.mu.Lock()
	delete(l.m, token)
	l.mu.Unlock()
}
