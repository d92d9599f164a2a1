package gate

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// sessions binds each upstream session id to the principal whose request
// received it. The map is bounded: idle bindings expire after ttl and,
// when full, the least recently used binding is dropped (its client then
// gets 404 and re-initialises, as the MCP spec prescribes).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*binding
	ttl time.Duration
	max int
	now func() time.Time
}

type binding struct {
	principal string
	lastUsed  time.Time
}

func newSessions(ttl time.Duration, max int) *sessions {
	return &sessions{m: map[string]*binding{}, ttl: ttl, max: max, now: time.Now}
}

// bind records that principal opened session id. A session id already
// bound to someone else keeps its owner (an upstream reusing an id for
// another principal is refused later instead of silently re-bound).
func (s *sessions) bind(id, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if b, ok := s.m[id]; ok {
		if b.principal == principal {
			b.lastUsed = now
		}
		return
	}
	if len(s.m) >= s.max {
		s.evictLocked(now)
	}
	s.m[id] = &binding{principal: principal, lastUsed: now}
}

// check reports whether principal may use session id: it must be bound,
// to that principal, and not expired.
func (s *sessions) check(id, principal string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[id]
	if !ok {
		return false
	}
	now := s.now()
	if now.Sub(b.lastUsed) > s.ttl {
		delete(s.m, id)
		return false
	}
	if b.principal != principal {
		return false
	}
	b.lastUsed = now
	return true
}

func (s *sessions) remove(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// evictLocked drops expired bindings, then the oldest one if still full.
func (s *sessions) evictLocked(now time.Time) {
	var oldest string
	var oldestT time.Time
	for id, b := range s.m {
		if now.Sub(b.lastUsed) > s.ttl {
			delete(s.m, id)
			continue
		}
		if oldest == "" || b.lastUsed.Before(oldestT) {
			oldest, oldestT = id, b.lastUsed
		}
	}
	if len(s.m) >= s.max && oldest != "" {
		delete(s.m, oldest)
	}
}

// sessionDigest is what the audit trail records instead of a session id.
func sessionDigest(id string) string {
	if id == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:8])
}
