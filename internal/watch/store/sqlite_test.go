package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func sqliteBackend() backend {
	return backend{name: "sqlite", newAddr: func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "watch.db")
	}}
}

func TestSQLite(t *testing.T) { runSuite(t, sqliteBackend()) }

func TestSQLiteScenario(t *testing.T) { scenario(t, sqliteBackend()) }

func TestSQLiteWAL(t *testing.T) {
	s := newStore(t, sqliteBackend())
	var mode string
	if err := s.Store.(*SQLite).db.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

func TestOpenAddress(t *testing.T) {
	ctx := context.Background()
	for _, addr := range []string{"", "sqlite:", "mysql://u:secret@h/db", "/tmp/x.db"} {
		_, err := Open(ctx, addr, nil)
		if err == nil {
			t.Errorf("Open(%q) succeeded", addr)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q) error shows the password: %v", addr, err)
		}
	}
	if got := redactDSN("postgres://u:secret@db.example:5432/w?sslmode=disable"); got != "postgres://u@db.example:5432/w" {
		t.Errorf("redactDSN = %q", got)
	}
}
