//go:build !unix

package pgtest

import "testing"

// Server is a running private PostgreSQL server (Unix only).
type Server struct{}

// Start skips the test: the private server runs its programs under
// another user's credentials and on a Unix socket, which needs Unix.
func Start(t testing.TB) *Server {
	t.Helper()
	t.Skip("pgtest: a private PostgreSQL server needs Unix")
	return nil
}

// DSN is the address of database db.
func (s *Server) DSN(db string) string { return "" }

// Log is the server's log.
func (s *Server) Log() string { return "" }

// NewDB creates a fresh database and returns its address.
func (s *Server) NewDB(t testing.TB) string { t.Helper(); return "" }
